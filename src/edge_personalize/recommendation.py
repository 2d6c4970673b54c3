"""The records that pass between providers, the chain and the renderer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .context import Context

__all__ = ["ABANDONED", "Recommendation", "RecommendationRequest"]

# The message of the CancelledError that stops a provider call because its
# request was abandoned (client gone, or the page does not need the slot),
# as opposed to a request that stopped waiting at its deadline. Work that
# may serve other requests, such as a cache fill, stops only on this one.
ABANDONED = "edge_personalize: request abandoned"


@dataclass(frozen=True)
class Recommendation:
    """One recommended item, as a provider returns it.

    Every field is plain data. The renderer escapes each text and checks
    each URL, so a provider may pass through whatever its source contains.
    ``html`` is an optional snippet of markup from the provider. It is
    rendered only after an allow-list sanitizer (nh3) has cleaned it.
    """

    id: str
    title: str
    url: str
    image_url: str | None = None
    price: float | None = None
    currency: str | None = None
    reason: str | None = None
    html: str | None = None

    def __post_init__(self) -> None:
        for name in ("id", "title", "url"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"Recommendation.{name} must be a str, got {value!r}.")
        for name in ("image_url", "currency", "reason", "html"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(
                    f"Recommendation.{name} must be a str or None, got {value!r}."
                )
        price = self.price
        if price is not None:
            if isinstance(price, bool) or not isinstance(price, (int, float)):
                raise TypeError(
                    f"Recommendation.price must be a number or None, got {price!r}."
                )
            if not math.isfinite(price) or price < 0:
                raise ValueError(
                    f"Recommendation.price must be a finite number >= 0, got {price!r}."
                )


@dataclass(frozen=True)
class RecommendationRequest:
    """The request a provider receives: which slot, how many items, for whom.

    ``deadline`` is the :func:`time.monotonic` time by which the slot needs
    its items, or ``None`` when there is none. Providers may use it to size
    their own timeouts and retries, but the caller cancels them at the
    deadline either way.
    """

    context: Context
    slot: str
    limit: int
    deadline: float | None = None
