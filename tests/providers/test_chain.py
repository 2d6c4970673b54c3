from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import pytest

from edge_personalize.context import Context
from edge_personalize.exceptions import (
    ConfigurationError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailable,
)
from edge_personalize.providers import (
    CircuitBreaker,
    Provider,
    ProviderChain,
    RetryPolicy,
    StaticProvider,
)
from edge_personalize.recommendation import Recommendation, RecommendationRequest

LOGGER = "edge_personalize.providers.chain"
SECRET_INTEREST = "secret-interest-value"


def make(*ids: str) -> list[Recommendation]:
    return [Recommendation(id=i, title=f"Item {i}", url=f"/p/{i}") for i in ids]


def request(limit: int = 4, slot: str = "recommendations") -> RecommendationRequest:
    context = Context(interests=(SECRET_INTEREST,), viewed=("viewed-id",))
    return RecommendationRequest(context, slot, limit)


def run(chain: ProviderChain, limit: int = 4) -> list[Recommendation]:
    return asyncio.run(chain.recommend(request(limit)))


def ids(items: Sequence[Recommendation]) -> list[str]:
    return [item.id for item in items]


class Returns:
    """Return a fixed result, whatever it is, and count the calls."""

    def __init__(self, result: Any, name: str = "returns") -> None:
        self.result = result
        self.name = name
        self.calls: list[RecommendationRequest] = []

    def __repr__(self) -> str:
        return f"<Returns {self.name}>"

    async def recommend(self, request: RecommendationRequest) -> Any:
        self.calls.append(request)
        await asyncio.sleep(0)
        return self.result


class Raises:
    """Raise an exception from recommend()."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"<Raises {type(self.error).__name__}>"

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        await asyncio.sleep(0)
        raise self.error


class SyncProvider:
    def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        return []


# --- ordering and filling ---------------------------------------------------


def test_chain_first_fills() -> None:
    second = Returns(make("x"))
    chain = ProviderChain([Returns(make("1", "2", "3", "4")), second])
    assert ids(run(chain)) == ["1", "2", "3", "4"]
    assert second.calls == []


def test_chain_next_fills_rest() -> None:
    chain = ProviderChain([Returns(make("1", "2")), Returns(make("3", "4", "5"))])
    assert ids(run(chain)) == ["1", "2", "3", "4"]


def test_chain_duplicates_dropped() -> None:
    chain = ProviderChain(
        [Returns(make("1", "2", "1")), Returns(make("2", "3", "4", "5"))]
    )
    assert ids(run(chain)) == ["1", "2", "3", "4"]


def test_chain_same_request_passed() -> None:
    first = Returns(make("1"))
    second = Returns(make("2"))
    chain = ProviderChain([first, second])
    sent = request(4)
    asyncio.run(chain.recommend(sent))
    assert first.calls == [sent]
    assert second.calls == [sent]


def test_chain_truncates_to_limit() -> None:
    chain = ProviderChain([Returns(make(*"abcdefgh"))])
    assert ids(run(chain, limit=3)) == ["a", "b", "c"]


def test_chain_fewer_than_limit() -> None:
    chain = ProviderChain([Returns(make("1")), Returns([])])
    assert ids(run(chain)) == ["1"]


@pytest.mark.parametrize("limit", [0, -1])
def test_chain_no_limit(limit: int) -> None:
    provider = Returns(make("1"))
    assert run(ProviderChain([provider]), limit=limit) == []
    assert provider.calls == []


def test_chain_tuple_result() -> None:
    chain = ProviderChain([Returns(tuple(make("1", "2")))])
    assert ids(run(chain)) == ["1", "2"]


def test_chain_nested() -> None:
    inner = ProviderChain(
        [Raises(RuntimeError("inner")), Returns(make("1"))], name="inner"
    )
    chain = ProviderChain([inner, StaticProvider(make("2", "3"))])
    assert ids(run(chain)) == ["1", "2", "3"]


def test_chain_is_provider() -> None:
    assert isinstance(ProviderChain([Returns([])]), Provider)


# --- failures ----------------------------------------------------------------


def test_chain_failure_skipped() -> None:
    chain = ProviderChain([Raises(RuntimeError("boom")), Returns(make("1"))])
    assert ids(run(chain)) == ["1"]


def test_chain_failure_logged(caplog: pytest.LogCaptureFixture) -> None:
    chain = ProviderChain(
        [Raises(RuntimeError("boom")), Returns(make("1"))], name="recs"
    )
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(chain)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "<Raises RuntimeError>" in warnings[0].getMessage()
    assert "'recommendations'" in warnings[0].getMessage()
    assert "'recs'" in warnings[0].getMessage()
    assert warnings[0].exc_info is not None


def test_chain_log_no_context(caplog: pytest.LogCaptureFixture) -> None:
    chain = ProviderChain(
        [
            Raises(RuntimeError("boom")),
            Raises(ProviderUnavailable("off")),
            Returns([1, "x"]),
            Returns(None),
        ]
    )
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(chain)
    assert caplog.records
    assert SECRET_INTEREST not in caplog.text
    assert "viewed-id" not in caplog.text


def test_chain_unavailable_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    chain = ProviderChain([Raises(ProviderUnavailable("no key")), Returns(make("1"))])
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        items = run(chain)
    assert ids(items) == ["1"]
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "declined" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ValueError("bad"), id="value-error"),
        pytest.param(asyncio.TimeoutError(), id="timeout"),
        pytest.param(KeyError("k"), id="key-error"),
        pytest.param(ConfigurationError("late"), id="library-error"),
    ],
)
def test_chain_any_exception_skipped(error: Exception) -> None:
    chain = ProviderChain([Raises(error), Returns(make("1"))])
    assert ids(run(chain)) == ["1"]


def test_chain_all_fail() -> None:
    chain = ProviderChain([Raises(RuntimeError("a")), Raises(ProviderUnavailable("b"))])
    assert run(chain) == []


def test_chain_cancellation_propagates() -> None:
    after = Returns(make("1"))
    chain = ProviderChain([Raises(asyncio.CancelledError()), after])
    with pytest.raises(asyncio.CancelledError):
        run(chain)
    assert after.calls == []


def test_chain_task_cancel_propagates() -> None:
    class Slow:
        async def recommend(
            self, request: RecommendationRequest
        ) -> list[Recommendation]:
            await asyncio.sleep(3600)
            return []

    async def scenario() -> bool:
        task = asyncio.ensure_future(ProviderChain([Slow()]).recommend(request()))
        await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(scenario())


def test_chain_keyboard_interrupt_contained(caplog: pytest.LogCaptureFixture) -> None:
    # Escaping a task, KeyboardInterrupt would stop the event loop that
    # serves every request, so a provider raising it only fails.
    chain = ProviderChain([Raises(KeyboardInterrupt()), StaticProvider(make("2"))])
    items = run(chain)
    assert [item.id for item in items] == ["2"]
    assert "KeyboardInterrupt" in caplog.text


# --- bad output -----------------------------------------------------------------


def test_chain_garbage_items_dropped(caplog: pytest.LogCaptureFixture) -> None:
    garbage = [1, "x", None, {"id": "2"}, *make("3")]
    chain = ProviderChain([Returns(garbage, "garbage"), Returns(make("4"))])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        items = run(chain)
    assert ids(items) == ["3", "4"]
    assert len(caplog.records) == 1
    assert "returned 4 items that are not Recommendation" in caplog.text


@pytest.mark.parametrize(
    ("result", "type_name"),
    [
        pytest.param(None, "NoneType", id="none"),
        pytest.param("abc", "str", id="string"),
        pytest.param(42, "int", id="number"),
        pytest.param((r for r in make("9")), "generator", id="generator"),
        pytest.param({"id": "1"}, "dict", id="dict"),
    ],
)
def test_chain_non_sequence_skipped(
    caplog: pytest.LogCaptureFixture, result: Any, type_name: str
) -> None:
    chain = ProviderChain([Returns(result), Returns(make("1"))])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        items = run(chain)
    assert ids(items) == ["1"]
    assert f"returned {type_name}" in caplog.text


# --- construction -------------------------------------------------------------


@pytest.mark.parametrize(
    ("providers", "fragment"),
    [
        pytest.param([], "is empty", id="empty"),
        pytest.param(None, "must be a list", id="none"),
        pytest.param("catalog", "must be a list", id="string"),
        pytest.param([object()], "no async recommend()", id="no-method"),
        pytest.param([SyncProvider()], "no async recommend()", id="sync-method"),
        pytest.param([Returns([]), 42], "42 at position 1", id="names-position"),
    ],
)
def test_chain_rejects(providers: Any, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ProviderChain(providers)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    "name", [pytest.param("", id="empty"), pytest.param(3, id="int")]
)
def test_chain_rejects_name(name: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ProviderChain([Returns([])], name=name)
    assert "name" in str(caught.value)


def test_chain_repr() -> None:
    chain = ProviderChain([Returns([], "a")], name="trending")
    assert repr(chain) == "ProviderChain([<Returns a>], name='trending')"


# --- timeouts and the deadline ------------------------------------------------


class Sleeps:
    """Sleep before returning items; record each request and cancellation."""

    def __init__(
        self, seconds: float, items: list[Recommendation], timeout: float | None = None
    ) -> None:
        self.seconds = seconds
        self.items = items
        if timeout is not None:
            self.timeout = timeout
        self.calls: list[RecommendationRequest] = []
        self.cancelled = 0

    def __repr__(self) -> str:
        return f"<Sleeps {self.seconds}>"

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        self.calls.append(request)
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return self.items


def deadline_request(seconds: float, limit: int = 4) -> RecommendationRequest:
    context = Context(interests=(SECRET_INTEREST,))
    return RecommendationRequest(
        context, "recommendations", limit, deadline=time.monotonic() + seconds
    )


def test_chain_provider_timeout_attribute() -> None:
    slow = Sleeps(3600, make("slow"), timeout=0.05)
    chain = ProviderChain([slow, Returns(make("1"))])
    assert ids(run(chain)) == ["1"]
    assert slow.cancelled == 1


def test_chain_default_timeout() -> None:
    slow = Sleeps(3600, make("slow"))
    chain = ProviderChain([slow, Returns(make("1"))], default_timeout=0.05)
    assert ids(run(chain)) == ["1"]
    assert slow.cancelled == 1


def test_chain_own_timeout_wins() -> None:
    fast_enough = Sleeps(0.01, make("a"), timeout=5.0)
    chain = ProviderChain([fast_enough], default_timeout=0.001)
    assert ids(run(chain)) == ["a"]


def test_chain_timeout_logged(caplog: pytest.LogCaptureFixture) -> None:
    chain = ProviderChain([Sleeps(3600, [], timeout=0.02), Returns(make("1"))])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        run(chain)
    assert "did not respond within" in caplog.text
    assert caplog.records[0].exc_info is None


def test_chain_deadline_bounds_provider() -> None:
    slow = Sleeps(3600, make("slow"))
    after = Returns(make("1"))
    items = asyncio.run(ProviderChain([slow, after]).recommend(deadline_request(0.1)))
    assert ids(items) == ["1"]
    assert slow.cancelled == 1


def test_chain_reserve_before_deadline() -> None:
    slow = Sleeps(3600, make("slow"))
    chain = ProviderChain([slow, Returns(make("1"))], reserve=0.05)
    sent = deadline_request(0.2)
    asyncio.run(chain.recommend(sent))
    assert sent.deadline is not None
    given = slow.calls[0].deadline
    assert given is not None
    assert given <= sent.deadline - 0.05


def test_chain_last_gets_whole_deadline() -> None:
    last = Sleeps(0, make("1"))
    chain = ProviderChain([Returns([]), last], reserve=0.05)
    sent = deadline_request(10)
    asyncio.run(chain.recommend(sent))
    assert last.calls[0].deadline == sent.deadline


def test_chain_attempt_deadline_from_timeout() -> None:
    provider = Sleeps(0, make("1"), timeout=0.5)
    sent = deadline_request(60)
    asyncio.run(ProviderChain([provider]).recommend(sent))
    assert sent.deadline is not None
    given = provider.calls[0].deadline
    assert given is not None
    assert given < sent.deadline - 50


def test_chain_past_deadline_not_called() -> None:
    provider = Returns(make("1"))
    asyncio.run(ProviderChain([provider]).recommend(deadline_request(-1)))
    assert provider.calls == []


def test_chain_cancel_cancels_provider() -> None:
    slow = Sleeps(3600, make("slow"))

    async def scenario() -> None:
        task = asyncio.ensure_future(ProviderChain([slow]).recommend(request()))
        while not slow.calls:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert slow.cancelled == 1


# --- retries ----------------------------------------------------------------------


class Flaky:
    """Raise ``errors`` one per call, then return items."""

    def __init__(self, *errors: Exception, items: list[Recommendation] | None = None):
        self.errors = list(errors)
        self.items = items if items is not None else make("ok")
        self.calls = 0
        self.breaker = None

    def __repr__(self) -> str:
        return "<Flaky>"

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        self.calls += 1
        await asyncio.sleep(0)
        if self.errors:
            raise self.errors.pop(0)
        return self.items


def retryable(retry_after: float | None = 0.0) -> ProviderError:
    return ProviderResponseError(
        "busy", status=503, retryable=True, retry_after=retry_after
    )


def test_chain_retries_retryable() -> None:
    flaky = Flaky(retryable())
    assert ids(run(ProviderChain([flaky, Returns(make("x"))]))) == ["ok", "x"]
    assert flaky.calls == 2


def test_chain_retry_logged_info(caplog: pytest.LogCaptureFixture) -> None:
    chain = ProviderChain([Flaky(retryable())])
    with caplog.at_level(logging.INFO, logger=LOGGER):
        run(chain)
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "retrying in" in caplog.text


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ProviderResponseError("bad", status=400), id="not-retryable"),
        pytest.param(RuntimeError("bug"), id="not-provider-error"),
        pytest.param(retryable(retry_after=5.0), id="hint-over-max-delay"),
    ],
)
def test_chain_no_retry(error: Exception) -> None:
    flaky = Flaky(error)
    run(ProviderChain([flaky]))
    assert flaky.calls == 1


def test_chain_no_retry_past_deadline() -> None:
    flaky = Flaky(retryable(retry_after=0.5))
    chain = ProviderChain([flaky], retry=RetryPolicy(max_delay=2.0))
    asyncio.run(chain.recommend(deadline_request(0.3)))
    assert flaky.calls == 1


def test_chain_retry_fits_deadline() -> None:
    flaky = Flaky(retryable(retry_after=0.01))
    items = asyncio.run(ProviderChain([flaky]).recommend(deadline_request(5)))
    assert ids(items) == ["ok"]
    assert flaky.calls == 2


def test_chain_retry_attempts_bounded() -> None:
    flaky = Flaky(*[retryable() for _ in range(10)])
    chain = ProviderChain([flaky], retry=RetryPolicy(attempts=3, backoff=0))
    assert run(chain) == []
    assert flaky.calls == 3


def test_chain_retry_off() -> None:
    flaky = Flaky(retryable())
    run(ProviderChain([flaky], retry=None))
    assert flaky.calls == 1


def test_chain_retry_on_timeout_not_done() -> None:
    provider = Sleeps(3600, [], timeout=0.02)
    run(ProviderChain([provider]))
    assert len(provider.calls) == 1


def test_retry_delay_hint_used() -> None:
    assert RetryPolicy().delay(1, 0.3) == 0.3


def test_retry_delay_backoff_jitter() -> None:
    policy = RetryPolicy(attempts=4, backoff=0.1)
    delays = [policy.delay(2, None) for _ in range(50)]
    assert all(d is not None and 0.1 <= d <= 0.2 for d in delays)


def test_retry_delay_attempts_used_up() -> None:
    assert RetryPolicy(attempts=2).delay(2, 0.0) is None


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"attempts": 0}, id="attempts-zero"),
        pytest.param({"attempts": True}, id="attempts-bool"),
        pytest.param({"backoff": -1}, id="backoff-negative"),
        pytest.param({"max_delay": float("inf")}, id="max-delay-inf"),
        pytest.param({"min_attempt_time": "1"}, id="min-time-str"),
    ],
)
def test_retry_policy_rejects(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RetryPolicy(**options)
    assert "RetryPolicy" in str(caught.value)


# --- circuit breaker -------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_failures() -> None:
    breaker = CircuitBreaker(failures=3, clock=Clock())
    opened = [breaker.failed() for _ in range(3)]
    assert opened == [False, False, True]
    assert breaker.state == "open"
    assert not breaker.allow()


def test_breaker_success_resets_count() -> None:
    breaker = CircuitBreaker(failures=2, clock=Clock())
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    assert breaker.state == "closed"


def test_breaker_half_open_one_trial() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, recovery=10, clock=clock)
    breaker.failed()
    clock.now += 10
    assert breaker.state == "half-open"
    assert breaker.allow()
    assert not breaker.allow()


def test_breaker_trial_success_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, recovery=10, clock=clock)
    breaker.failed()
    clock.now += 10
    breaker.allow()
    assert breaker.succeeded()
    assert breaker.state == "closed"


def test_breaker_trial_failure_reopens() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, recovery=10, clock=clock)
    breaker.failed()
    clock.now += 10
    breaker.allow()
    breaker.failed()
    clock.now += 9
    assert breaker.state == "open"


def test_breaker_released_trial_frees() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, recovery=10, clock=clock)
    breaker.failed()
    clock.now += 10
    breaker.allow()
    breaker.released()
    assert breaker.allow()


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"failures": 0}, id="failures-zero"),
        pytest.param({"failures": 1.5}, id="failures-float"),
        pytest.param({"recovery": 0}, id="recovery-zero"),
        pytest.param({"recovery": float("nan")}, id="recovery-nan"),
    ],
)
def test_breaker_rejects(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        CircuitBreaker(**options)


class Failing:
    """Fail every call and count the calls; breaker set by the test."""

    def __init__(self, breaker: Any = "unset") -> None:
        if breaker != "unset":
            self.breaker = breaker
        self.calls = 0

    def __repr__(self) -> str:
        return "<Failing>"

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        self.calls += 1
        await asyncio.sleep(0)
        raise ProviderResponseError("down", status=500)


def test_chain_breaker_skips_provider(caplog: pytest.LogCaptureFixture) -> None:
    failing = Failing()
    chain = ProviderChain([failing, Returns(make("1"))])
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        results = [ids(run(chain)) for _ in range(8)]
    assert results == [["1"]] * 8
    assert failing.calls == 5
    assert "failed 5 times in a row" in caplog.text
    assert "its circuit is open" in caplog.text


def test_chain_breakers_off() -> None:
    failing = Failing()
    chain = ProviderChain([failing], breakers=False)
    for _ in range(8):
        run(chain)
    assert failing.calls == 8


def test_chain_provider_breaker_none() -> None:
    failing = Failing(breaker=None)
    chain = ProviderChain([failing])
    for _ in range(8):
        run(chain)
    assert failing.calls == 8


def test_chain_provider_breaker_shared() -> None:
    failing = Failing(breaker=CircuitBreaker(failures=2))
    first = ProviderChain([failing], name="first")
    second = ProviderChain([failing], name="second")
    run(first)
    run(second)
    run(first)
    run(second)
    assert failing.calls == 2


def test_chain_declined_not_failure() -> None:
    breaker = CircuitBreaker(failures=1)

    class Declines:
        def __init__(self) -> None:
            self.breaker = breaker

        async def recommend(
            self, request: RecommendationRequest
        ) -> list[Recommendation]:
            raise ProviderUnavailable("not for this visitor")

    run(ProviderChain([Declines()]))
    assert breaker.state == "closed"


def test_chain_bad_result_is_failure() -> None:
    breaker = CircuitBreaker(failures=1)
    provider = Returns("not a list")
    provider.breaker = breaker  # type: ignore[attr-defined]
    run(ProviderChain([provider]))
    assert breaker.state == "open"


def test_chain_cancel_releases_trial() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, recovery=1, clock=clock)
    breaker.failed()
    clock.now += 1
    slow = Sleeps(3600, [])
    slow.breaker = breaker  # type: ignore[attr-defined]

    async def scenario() -> None:
        task = asyncio.ensure_future(ProviderChain([slow]).recommend(request()))
        while not slow.calls:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert breaker.allow()


@pytest.mark.parametrize(
    ("attribute", "value", "fragment"),
    [
        pytest.param("timeout", 0, "finite number of seconds > 0", id="timeout-zero"),
        pytest.param("timeout", "1", "finite number of seconds", id="timeout-str"),
        pytest.param("breaker", "on", "must be a CircuitBreaker", id="breaker-str"),
    ],
)
def test_chain_rejects_provider_settings(
    attribute: str, value: Any, fragment: str
) -> None:
    provider = Returns([])
    setattr(provider, attribute, value)
    with pytest.raises(ConfigurationError) as caught:
        ProviderChain([provider])
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"default_timeout": -1}, id="timeout"),
        pytest.param({"reserve": -0.1}, id="reserve"),
        pytest.param({"retry": 3}, id="retry"),
    ],
)
def test_chain_rejects_options(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        ProviderChain([Returns([])], **options)


def test_chain_aclose_closes_providers() -> None:
    closed: list[str] = []

    class Closable(Returns):
        async def aclose(self) -> None:
            closed.append(self.name)

    inner = ProviderChain([Closable([], "inner")])
    chain = ProviderChain([Closable([], "outer"), inner, Returns([])])
    asyncio.run(chain.aclose())
    assert closed == ["outer", "inner"]
