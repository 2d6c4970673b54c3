"""Personalizer and Slot: configuration checks and the per-request plan."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from edge_personalize import (
    ConfigurationError,
    Context,
    Personalizer,
    Recommendation,
    RecommendationRequest,
    RequestView,
    RoutePatternError,
    Slot,
    StaticProvider,
)

ITEM = Recommendation(id="1", title="Mug", url="/products/mug")
UA = (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")


def view(path: str = "/products/mug", method: str = "GET", **kw: Any) -> RequestView:
    return RequestView(method=method, path=path, headers=[UA], **kw)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"routes": "/products/:slug"}, "Wrap the pattern", id="bare-string"
        ),
        pytest.param({"routes": []}, "never personalize", id="empty-routes"),
        pytest.param({"deadline": 0}, "deadline", id="zero-deadline"),
        pytest.param({"deadline": float("nan")}, "deadline", id="nan-deadline"),
        pytest.param({"deadline": "fast"}, "deadline", id="text-deadline"),
        pytest.param({"max_body_size": 0}, "max_body_size", id="zero-cap"),
        pytest.param({"max_body_size": True}, "max_body_size", id="bool-cap"),
        pytest.param({"renderer": "nope"}, "renderer", id="renderer"),
        pytest.param({"interest_param": "x"}, "interest_param", id="unknown-kwarg"),
    ],
)
def test_invalid_options(kwargs: dict[str, Any], message: str) -> None:
    options: dict[str, Any] = {
        "routes": ["/products/:slug"],
        "providers": [StaticProvider([ITEM])],
        **kwargs,
    }
    with pytest.raises(ConfigurationError, match=message):
        Personalizer(**options)


def test_invalid_route_names_pattern() -> None:
    with pytest.raises(RoutePatternError, match="/products/:"):
        Personalizer(routes=["/products/:"], providers=[StaticProvider([ITEM])])


def test_providers_or_slots_required() -> None:
    with pytest.raises(ConfigurationError, match="either providers"):
        Personalizer(routes=["/"])


def test_providers_and_slots_exclusive() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        Personalizer(
            routes=["/"],
            providers=[StaticProvider([ITEM])],
            slots={"x": Slot([StaticProvider([ITEM])])},
        )


@pytest.mark.parametrize("name", ["Recs", "-recs", "recs!", "", "a" * 65, 3], ids=repr)
def test_invalid_slot_name(name: Any) -> None:
    with pytest.raises(ConfigurationError, match="Slot name"):
        Personalizer(routes=["/"], slots={name: Slot([StaticProvider([ITEM])])})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"limit": 0}, "limit", id="zero-limit"),
        pytest.param({"limit": 51}, "limit", id="big-limit"),
        pytest.param({"limit": 2.5}, "limit", id="float-limit"),
        pytest.param({"heading": 3}, "heading", id="heading"),
        pytest.param({"renderer": 3}, "renderer", id="renderer"),
    ],
)
def test_invalid_slot(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Slot([StaticProvider([ITEM])], **kwargs)


def test_slot_providers_must_be_list() -> None:
    with pytest.raises(ConfigurationError, match="list of providers"):
        Slot(StaticProvider([ITEM]))  # type: ignore[arg-type]


def test_slot_provider_without_recommend() -> None:
    with pytest.raises(ConfigurationError):
        Personalizer(routes=["/"], slots={"recs": Slot([object()])})  # type: ignore[list-item]


def test_context_options_both_ways_rejected() -> None:
    from edge_personalize import ContextOptions

    with pytest.raises(ConfigurationError, match="not both"):
        Personalizer(
            routes=["/"],
            providers=[StaticProvider([ITEM])],
            context_options=ContextOptions(),
            viewed_cookie="seen",
        )


def test_plan_for_matched_get() -> None:
    personalizer = Personalizer(
        routes=["/products/:slug"], providers=[StaticProvider([ITEM])]
    )
    plan = personalizer.plan(view())
    assert plan is not None
    assert plan.context.params["slug"] == "mug"


@pytest.mark.parametrize(
    "request_view",
    [
        pytest.param(view(method="POST"), id="post"),
        pytest.param(view(method="HEAD"), id="head"),
        pytest.param(view(path="/about"), id="unmatched"),
    ],
)
def test_no_plan(request_view: RequestView) -> None:
    personalizer = Personalizer(
        routes=["/products/:slug"], providers=[StaticProvider([ITEM])]
    )
    assert personalizer.plan(request_view) is None


def test_crawler_plan_runs_nothing() -> None:
    provider = StaticProvider([ITEM])
    personalizer = Personalizer(routes=["/products/:slug"], providers=[provider])
    crawler = RequestView(
        "GET", "/products/mug", headers=[(b"user-agent", b"Googlebot/2.1")]
    )
    plan = personalizer.plan(crawler)

    assert plan is not None
    assert plan.personalized is False

    async def start_and_wait() -> dict[str, str | None]:
        plan.start()
        return await plan.fragments(["recommendations"])

    assert asyncio.run(start_and_wait()) == {"recommendations": None}


def test_crawler_planned_when_allowed() -> None:
    personalizer = Personalizer(
        routes=["/products/:slug"],
        providers=[StaticProvider([ITEM])],
        personalize_bots=True,
    )
    crawler = RequestView(
        "GET", "/products/mug", headers=[(b"user-agent", b"Googlebot/2.1")]
    )
    plan = personalizer.plan(crawler)
    assert plan is not None
    assert plan.personalized is True


def test_may_personalize() -> None:
    personalizer = Personalizer(
        routes=["/products/:slug"], providers=[StaticProvider([ITEM])]
    )
    assert personalizer.may_personalize("GET", "/products/mug")
    assert not personalizer.may_personalize("GET", "/about")
    assert not personalizer.may_personalize("POST", "/products/mug")


class Failing:
    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        raise RuntimeError("down")


def bad_renderer(slot: str, items: Sequence[Recommendation], context: Context) -> str:
    raise ValueError("template bug")


def bytes_renderer(slot: str, items: Sequence[Recommendation], context: Context) -> Any:
    return b"<p>bytes</p>"


@pytest.mark.parametrize(
    "slot",
    [
        pytest.param(Slot([Failing()]), id="provider-error"),
        pytest.param(Slot([StaticProvider([])]), id="no-items"),
        pytest.param(
            Slot(
                [
                    StaticProvider(
                        [Recommendation(id="1", title="x", url="javascript:x")]
                    )
                ]
            ),
            id="all-items-unsafe",
        ),
        pytest.param(
            Slot([StaticProvider([ITEM])], renderer=bad_renderer), id="renderer-error"
        ),
        pytest.param(
            Slot([StaticProvider([ITEM])], renderer=bytes_renderer), id="renderer-bytes"
        ),
    ],
)
def test_fragment_none_on_failure(slot: Slot) -> None:
    personalizer = Personalizer(routes=["/products/:slug"], slots={"recs": slot})

    async def main() -> str | None:
        plan = personalizer.plan(view())
        assert plan is not None
        plan.start()
        return await plan.fragment("recs")

    assert asyncio.run(main()) is None


def test_fragment_renders_default() -> None:
    personalizer = Personalizer(
        routes=["/products/:slug"], providers=[StaticProvider([ITEM])]
    )

    async def main() -> dict[str, str | None]:
        plan = personalizer.plan(view())
        assert plan is not None
        plan.start()
        return await plan.fragments(["recommendations", "unknown"])

    fragments = asyncio.run(main())
    assert fragments["unknown"] is None
    html = fragments["recommendations"]
    assert html is not None
    assert 'href="/products/mug"' in html
    assert "Recommended for you" in html


def test_repr_names_routes_and_slots() -> None:
    personalizer = Personalizer(
        routes=["/products/:slug"], providers=[StaticProvider([ITEM])]
    )
    assert repr(personalizer) == (
        "<Personalizer routes=['/products/:slug'] slots=['recommendations'] "
        "deadline=0.2>"
    )


class Sleeper:
    """A provider that sleeps; it records whether it finished or was cancelled."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.finished = 0
        self.cancelled = 0

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.finished += 1
        return [ITEM]


def test_deadline_lets_cache_fill_finish() -> None:
    provider = Sleeper(0.1)
    personalizer = Personalizer(
        routes=["/products/:slug"], providers=[provider], deadline=0.02
    )

    async def main() -> str | None:
        plan = personalizer.plan(view())
        assert plan is not None
        plan.start()
        html = await plan.fragment("recommendations")
        await asyncio.sleep(0.2)
        return html

    assert asyncio.run(main()) is None
    assert provider.finished == 1
    assert provider.cancelled == 0


def test_abandoned_plan_cancels_cache_fill() -> None:
    provider = Sleeper(0.1)
    personalizer = Personalizer(routes=["/products/:slug"], providers=[provider])

    async def main() -> None:
        plan = personalizer.plan(view())
        assert plan is not None
        plan.start()
        await asyncio.sleep(0.01)
        plan.cancel()
        await asyncio.sleep(0.2)

    asyncio.run(main())
    assert provider.finished == 0
    assert provider.cancelled == 1


def test_provider_class_rejected() -> None:
    with pytest.raises(ConfigurationError, match="pass an instance"):
        Personalizer(routes=["/"], providers=[StaticProvider])  # type: ignore[list-item]


@pytest.mark.parametrize("value", ["no", 0, 1, None], ids=repr)
def test_personalize_bots_must_be_bool(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="personalize_bots"):
        Personalizer(
            routes=["/"], providers=[StaticProvider([ITEM])], personalize_bots=value
        )
