"""Small checks of configuration values, shared by the public classes."""

from __future__ import annotations

from .exceptions import ConfigurationError


def require_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is a bool; raise ConfigurationError otherwise.

    ``bool()`` would turn ``"no"`` or ``0.0`` into a setting the user did
    not mean, so a switch accepts only ``True`` and ``False``.
    """
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}.")
    return value
