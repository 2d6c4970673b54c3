"""Helpers shared by the tests of the remote providers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from edge_personalize import Catalog, Context, Recommendation, RecommendationRequest
from edge_personalize.providers import CatalogProvider

REPO = Path(__file__).resolve().parents[2]
CATALOG = Catalog.from_file(REPO / "examples" / "catalog" / "products.json")

# A visitor of a product page with an interest and a viewed product.
PRODUCT = CATALOG.get("1")
assert PRODUCT is not None
CONTEXT = Context(
    path=f"/products/{PRODUCT.slug}",
    params={"slug": PRODUCT.slug},
    interests=("beauty",),
    viewed=("2",),
    languages=("en-GB",),
    country="GB",
    device="desktop",
)


def make_request(
    context: Context = CONTEXT, limit: int = 4, deadline: float | None = None
) -> RecommendationRequest:
    """Return a request of slot ``recommendations``, ``deadline`` s from now."""
    at = None if deadline is None else time.monotonic() + deadline
    return RecommendationRequest(context, "recommendations", limit, deadline=at)


def run(provider: Any, request: RecommendationRequest | None = None) -> Any:
    """Run ``provider.recommend`` in a new loop, closing its client after."""

    async def scenario() -> Any:
        try:
            return await provider.recommend(request or make_request())
        finally:
            await provider.aclose()

    return asyncio.run(scenario())


def fallback_ids(request: RecommendationRequest | None = None) -> list[str]:
    """Return the ids the embedded recommender gives for ``request``."""
    items = asyncio.run(CatalogProvider(CATALOG).recommend(request or make_request()))
    return ids(items)


def ids(items: list[Recommendation]) -> list[str]:
    return [item.id for item in items]


class Recorder:
    """An httpx.MockTransport handler that records requests and replays responses."""

    def __init__(
        self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]
    ):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def payload(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)
