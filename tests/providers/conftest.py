"""Fixtures of the provider tests: the emulators of remote services."""

from __future__ import annotations

from emulators.fixtures import emulator, resetter, served_emulator

__all__ = ["emulator", "resetter", "served_emulator"]
