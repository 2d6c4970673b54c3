"""A provider that returns a fixed list of recommendations."""

from __future__ import annotations

from collections.abc import Sequence

from ..exceptions import ConfigurationError
from ..recommendation import Recommendation, RecommendationRequest

__all__ = ["StaticProvider"]


class StaticProvider:
    """Recommend the same items to everyone, in the given order.

    Useful as the last provider of a chain (editors' picks when the
    recommender has nothing), in demos and in tests. The items are copied
    at construction, so later changes to the caller's list do not leak in.

    :raises ConfigurationError: if ``items`` is not a sequence of
        :class:`~edge_personalize.recommendation.Recommendation`.
    """

    #: It reads no context field, so every visitor shares one cache entry.
    features: frozenset[str] = frozenset()

    def __init__(self, items: Sequence[Recommendation]) -> None:
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise ConfigurationError(
                f"StaticProvider items must be a list of Recommendation, got {items!r}."
            )
        for index, item in enumerate(items):
            if not isinstance(item, Recommendation):
                raise ConfigurationError(
                    f"StaticProvider items[{index}] must be a Recommendation, "
                    f"got {item!r}; build it as Recommendation(id=..., "
                    "title=..., url=...)."
                )
        self.items: tuple[Recommendation, ...] = tuple(items)

    def __repr__(self) -> str:
        return f"StaticProvider(<{len(self.items)} items>)"

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        """Return the first ``request.limit`` items."""
        return list(self.items[: max(request.limit, 0)])
