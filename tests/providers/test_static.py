from __future__ import annotations

import asyncio
from typing import Any

import pytest

from edge_personalize.context import Context
from edge_personalize.exceptions import ConfigurationError
from edge_personalize.providers import Provider, StaticProvider
from edge_personalize.recommendation import Recommendation, RecommendationRequest

ITEMS = [Recommendation(id=str(i), title=f"Item {i}", url=f"/p/{i}") for i in range(5)]


def recommend(provider: StaticProvider, limit: int) -> list[Recommendation]:
    request = RecommendationRequest(Context(), "recommendations", limit)
    return asyncio.run(provider.recommend(request))


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        pytest.param(3, ITEMS[:3], id="fewer"),
        pytest.param(5, ITEMS, id="exact"),
        pytest.param(9, ITEMS, id="more-than-items"),
        pytest.param(0, [], id="zero"),
        pytest.param(-2, [], id="negative"),
    ],
)
def test_static_limit(limit: int, expected: list[Recommendation]) -> None:
    assert recommend(StaticProvider(ITEMS), limit) == expected


def test_static_copies_items() -> None:
    items = list(ITEMS)
    provider = StaticProvider(items)
    items.clear()
    assert recommend(provider, 5) == ITEMS


def test_static_result_is_fresh_list() -> None:
    provider = StaticProvider(ITEMS)
    recommend(provider, 5).clear()
    assert recommend(provider, 5) == ITEMS


def test_static_tuple_accepted() -> None:
    assert recommend(StaticProvider(tuple(ITEMS)), 2) == ITEMS[:2]


def test_static_empty() -> None:
    assert recommend(StaticProvider([]), 3) == []


def test_static_is_provider() -> None:
    assert isinstance(StaticProvider(ITEMS), Provider)


def test_static_repr() -> None:
    assert repr(StaticProvider(ITEMS)) == "StaticProvider(<5 items>)"


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        pytest.param("items", "must be a list", id="string"),
        pytest.param(None, "must be a list", id="none"),
        pytest.param({ITEMS[0]}, "must be a list", id="set"),
        pytest.param(
            [ITEMS[0], {"id": "1"}], "items[1] must be a Recommendation", id="dict"
        ),
        pytest.param([None], "items[0] must be a Recommendation", id="none-item"),
    ],
)
def test_static_rejects(items: Any, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        StaticProvider(items)
    assert fragment in str(caught.value)
