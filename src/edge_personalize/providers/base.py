"""The provider interface that every recommender implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..recommendation import Recommendation, RecommendationRequest

__all__ = ["Provider"]


@runtime_checkable
class Provider(Protocol):
    """Anything that can recommend items for one request.

    ``recommend`` may return fewer items than ``request.limit`` (the chain
    then asks the next provider for the rest) and may raise any exception:
    the chain logs it and falls back, so a provider never breaks a page.
    Raise ``ProviderUnavailable`` to decline a request without it counting
    as a failure.
    """

    async def recommend(
        self, request: RecommendationRequest
    ) -> Sequence[Recommendation]: ...
