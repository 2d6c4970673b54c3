"""Measure what the recommendation cache costs and what it saves.

1. Throughput. A Starlette app serving a real page of about 50-100 KB runs
   under uvicorn (one worker, in a subprocess) on 127.0.0.1. This process
   sends GET requests for the personalized route over 32 keep-alive
   connections for a fixed time and counts the responses. The rows compare
   the bare app with the middleware: no cache, a warm MemoryCache and a
   warm RedisCache, each with the embedded catalog recommender and with a
   provider that takes 50 ms, as a remote model would. Warm means every
   visitor profile the load cycles through was requested before the
   measurement started. The rows run in turn, several rounds, and each
   shows the median round with the lowest and highest.
2. The cost of one cache hit, measured in this process: a warm key read
   through the cache in a loop, per cache.
3. Provider calls per 1,000 requests. A simulated stream of visitors
   (popular products, a few interests, some viewed-history cookies, mixed
   devices and languages) goes through the personalizer in this process,
   with a fake clock moving 50 ms per request, so 20 requests per second.
   The rows count provider calls without a cache, with a cache whose
   providers declare their features, and with one whose providers do not.

Run: python benchmarks/bench_cache.py [--quick] [--redis-url URL]

RedisCache rows need a Redis server (redis://127.0.0.1:6379/0 by default);
they are skipped when it does not reply. Keys are written under a prefix
unique to the run and deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from edge_personalize import (
    Catalog,
    CatalogProvider,
    Personalizer,
    Recommendation,
    RecommendationRequest,
    RequestView,
    Slot,
)
from edge_personalize.asgi import PersonalizeMiddleware
from edge_personalize.cache import CacheBackend, MemoryCache, RedisCache
from edge_personalize.cache.flight import CachedChain

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_apps import load_page  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CATALOG_PATH = REPO / "examples" / "catalog" / "products.json"
MARK = b"<!-- personalize:recommendations -->"
FRAGMENT_MARK = b'data-slot="recommendations"'
HOST = "127.0.0.1"
CONNECTIONS = 32
REMOTE_LATENCY = 0.050  # seconds, the simulated remote provider
PROFILES = 24  # visitor profiles the throughput load cycles through
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"

# The features the embedded recommender reads: interests, the product of
# the page (a route parameter) and the viewed history it leaves out.
CATALOG_FEATURES = frozenset({"interests", "params", "viewed"})


def load_catalog() -> Catalog:
    """Load the example catalog with the shops' URL templates."""
    return Catalog.from_file(
        CATALOG_PATH, url_template="/products/{slug}", image_template="/t/{id}.svg"
    )


class RemoteLikeProvider:
    """The catalog recommender behind a fixed delay, like a model over HTTP."""

    features = CATALOG_FEATURES

    def __init__(self, inner: CatalogProvider, latency: float) -> None:
        self.inner = inner
        self.latency = latency

    def __repr__(self) -> str:
        return f"RemoteLikeProvider(latency={self.latency!r})"

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        await asyncio.sleep(self.latency)
        return await self.inner.recommend(request)


class DeclaredCatalogProvider(CatalogProvider):
    """The catalog recommender with its features declared, for the cache key."""

    features = CATALOG_FEATURES


# The server side: the app that uvicorn imports in the subprocess.


def create_app() -> Any:
    """Build the app for the mode in ``BENCH_MODE`` (see ``MODES``)."""
    mode = os.environ["BENCH_MODE"]
    page = load_page()

    async def product(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    app: Any = Starlette(routes=[Route("/products/{slug}", product)])
    if mode == "bare":
        return app

    provider_kind, cache_kind = mode.split("-")
    catalog_provider = DeclaredCatalogProvider(load_catalog())
    provider: Any = catalog_provider
    if provider_kind == "remote":
        provider = RemoteLikeProvider(catalog_provider, REMOTE_LATENCY)
    personalizer = Personalizer(
        routes=["/products/:slug"],
        providers=[provider],
        deadline=0.5,
        cache=_server_cache(cache_kind),
    )
    return PersonalizeMiddleware(app, personalizer)


def _server_cache(kind: str) -> CacheBackend | None:
    if kind == "none":
        return None
    if kind == "memory":
        return MemoryCache()
    return RedisCache(os.environ["BENCH_REDIS_URL"], prefix=os.environ["BENCH_PREFIX"])


# The client side: a load generator over raw keep-alive connections.


@dataclass(frozen=True)
class Mode:
    """One throughput row: the server's mode and its label."""

    name: str
    label: str
    needs_redis: bool = False


MODES = (
    Mode("bare", "bare app (no middleware)"),
    Mode("catalog-none", "catalog provider, no cache"),
    Mode("catalog-memory", "catalog provider, warm MemoryCache"),
    Mode("catalog-redis", "catalog provider, warm RedisCache", needs_redis=True),
    Mode("remote-none", "50 ms provider, no cache"),
    Mode("remote-memory", "50 ms provider, warm MemoryCache"),
    Mode("remote-redis", "50 ms provider, warm RedisCache", needs_redis=True),
)


@dataclass
class Measurement:
    """The result of one throughput round: counts, latencies, a check."""

    requests: int
    seconds: float
    latencies: list[float]
    personalized: bool

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def profile_requests(catalog: Catalog) -> list[bytes]:
    """Return the raw requests of the visitor profiles the load cycles through."""
    rng = random.Random(7)
    products = [product.slug for product in catalog][:PROFILES]
    categories = sorted({product.category for product in catalog})
    raw = []
    for index, slug in enumerate(products):
        query = f"?interest={rng.choice(categories)}" if index % 2 else ""
        raw.append(
            (
                f"GET /products/{slug}{query} HTTP/1.1\r\n"
                f"Host: {HOST}\r\nUser-Agent: {BROWSER_UA}\r\n"
                "Accept-Language: en-US,en;q=0.8\r\n\r\n"
            ).encode("ascii")
        )
    return raw


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> bytes:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise RuntimeError(f"The server responded {head[:200]!r}")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return await reader.readexactly(length)


async def _connection(
    port: int, requests: Sequence[bytes], stop_at: float, offset: int
) -> tuple[int, list[float]]:
    reader, writer = await asyncio.open_connection(HOST, port)
    latencies: list[float] = []
    index = offset
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            await _exchange(reader, writer, requests[index % len(requests)])
            latencies.append(time.perf_counter() - started)
            index += 1
    finally:
        writer.close()
        await writer.wait_closed()
    return len(latencies), latencies


async def load(port: int, requests: Sequence[bytes], seconds: float) -> Measurement:
    """Send ``requests`` in turn over ``CONNECTIONS`` connections for ``seconds``."""
    started = time.perf_counter()
    stop_at = started + seconds
    results = await asyncio.gather(
        *(_connection(port, requests, stop_at, offset) for offset in range(CONNECTIONS))
    )
    elapsed = time.perf_counter() - started
    latencies = [latency for _, batch in results for latency in batch]
    return Measurement(sum(count for count, _ in results), elapsed, latencies, False)


async def warm_up(port: int, requests: Sequence[bytes]) -> bool:
    """Request every profile twice; return whether the pages were personalized."""
    reader, writer = await asyncio.open_connection(HOST, port)
    personalized = True
    try:
        for _ in range(2):
            for raw in requests:
                body = await _exchange(reader, writer, raw)
                personalized = personalized and FRAGMENT_MARK in body
            # A fill stores its entry after the page is sent.
            await asyncio.sleep(0.2)
    finally:
        writer.close()
        await writer.wait_closed()
    return personalized


def free_port() -> int:
    """Return a port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def serve(
    mode: Mode, redis_url: str, prefix: str
) -> tuple[subprocess.Popen[bytes], int]:
    """Start uvicorn with the app of ``mode``; return the process and its port."""
    port = free_port()
    env = {
        **os.environ,
        "BENCH_MODE": mode.name,
        "BENCH_REDIS_URL": redis_url,
        "BENCH_PREFIX": prefix,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench_cache:create_app",
            "--app-dir",
            str(Path(__file__).resolve().parent),
            "--host",
            HOST,
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--lifespan",
            "off",
        ],
        env=env,
    )
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with code {process.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
        else:
            return process, port
    process.kill()
    raise RuntimeError("uvicorn did not start within 30 s")


def measure_rounds(
    modes: Sequence[Mode], redis_url: str, prefix: str, seconds: float, rounds: int
) -> dict[str, list[Measurement]]:
    """Measure every mode once per round, in turn; return the rounds by mode."""
    results: dict[str, list[Measurement]] = {mode.name: [] for mode in modes}
    for _ in range(rounds):
        for mode in modes:
            results[mode.name].append(measure(mode, redis_url, prefix, seconds))
    return results


def measure(mode: Mode, redis_url: str, prefix: str, seconds: float) -> Measurement:
    """Serve ``mode``, warm it up and load it for ``seconds``."""
    requests = profile_requests(load_catalog())
    process, port = serve(mode, redis_url, prefix)
    try:
        personalized = asyncio.run(warm_up(port, requests))
        result = asyncio.run(load(port, requests, seconds))
        result.personalized = personalized
        return result
    finally:
        process.terminate()
        process.wait(timeout=30)


def redis_replies(url: str) -> bool:
    """Return whether the Redis at ``url`` replies to a PING."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def delete_prefix(url: str, prefix: str) -> None:
    """Delete the keys this run wrote."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# The cost of one cache hit.


async def hit_cost(cache: CacheBackend, count: int) -> float:
    """Return the median seconds of one hit of a warm key, over 5 batches."""
    from edge_personalize import Context, ProviderChain

    provider = DeclaredCatalogProvider(load_catalog())
    chain = ProviderChain([provider], name="recommendations")
    source = CachedChain(chain, cache, slot="recommendations", limit=4)
    request = RecommendationRequest(
        Context(
            params={"slug": "essence-mascara-lash-princess"}, interests=("beauty",)
        ),
        "recommendations",
        4,
    )
    await source.recommend(request)
    for flight in list(cache.runtime.flights().values()):
        await flight.task

    batches = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(count):
            await source.recommend(request)
        batches.append((time.perf_counter() - started) / count)
    await cache.aclose()
    return statistics.median(batches)


async def compute_cost(count: int) -> float:
    """Return the median seconds of one call of the catalog recommender."""
    from edge_personalize import Context

    provider = DeclaredCatalogProvider(load_catalog())
    request = RecommendationRequest(
        Context(
            params={"slug": "essence-mascara-lash-princess"}, interests=("beauty",)
        ),
        "recommendations",
        4,
    )
    batches = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(count):
            await provider.recommend(request)
        batches.append((time.perf_counter() - started) / count)
    return statistics.median(batches)


# Provider calls for a simulated visitor mix.


class FakeClock:
    """The wall clock of the simulation, moved by the request loop."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingProvider:
    """Count calls to ``inner``; declare ``features`` only when given."""

    def __init__(self, inner: CatalogProvider, features: frozenset[str] | None) -> None:
        self.inner = inner
        self.calls = 0
        if features is not None:
            self.features = features

    def __repr__(self) -> str:
        return "CountingProvider()"

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        self.calls += 1
        return await self.inner.recommend(request)


def visitor_stream(catalog: Catalog, count: int, seed: int = 11) -> list[RequestView]:
    """Return ``count`` product-page requests of a simulated visitor mix.

    Products are picked with a Zipf-like weight (rank ** -1.1), so a few
    pages get most views. 40 % of visitors carry one interest (a category,
    Zipf-like too), 25 % a viewed-history cookie of one to three products,
    and the rest nothing. Devices and languages vary independently, which
    is what splits a cache whose providers do not declare their features.
    """
    rng = random.Random(seed)
    products = [product.slug for product in catalog]
    product_weights = [(rank + 1) ** -1.1 for rank in range(len(products))]
    categories = sorted({product.category for product in catalog})
    category_weights = [(rank + 1) ** -1.1 for rank in range(len(categories))]
    agents = [
        BROWSER_UA,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/120.0 Mobile Safari/537.36",
    ]
    languages = ["en-US,en;q=0.9", "de-DE,de;q=0.9", "fr-FR,fr;q=0.8", "es-ES"]

    views = []
    for _ in range(count):
        slug = rng.choices(products, product_weights)[0]
        query = b""
        if rng.random() < 0.40:
            interest = rng.choices(categories, category_weights)[0]
            query = f"interest={interest}".encode()
        headers = [
            (b"user-agent", rng.choice(agents).encode()),
            (b"accept-language", rng.choice(languages).encode()),
        ]
        if rng.random() < 0.25:
            viewed = rng.choices(products, product_weights, k=rng.randint(1, 3))
            ids = ",".join(catalog.by_slug(s).id for s in viewed)  # type: ignore[union-attr]
            headers.append((b"cookie", f"ep_viewed={ids}".encode()))
        views.append(RequestView("GET", f"/products/{slug}", query, headers))
    return views


async def count_calls(
    views: Sequence[RequestView], cache_kind: str, features: frozenset[str] | None
) -> int:
    """Serve ``views`` through a personalizer; return the provider calls made."""
    catalog = load_catalog()
    provider = CountingProvider(CatalogProvider(catalog), features)
    clock = FakeClock()
    cache = None if cache_kind == "none" else MemoryCache(clock=clock)
    personalizer = Personalizer(
        routes=["/products/:slug"],
        slots={"recommendations": Slot([provider])},
        deadline=5.0,
        cache=cache,
    )
    for view in views:
        plan = personalizer.plan(view)
        assert plan is not None
        plan.start()
        await plan.fragments(["recommendations"])
        # Let background refreshes run before the next request.
        await asyncio.sleep(0)
        clock.now += 0.05
    await personalizer.aclose()
    return provider.calls


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 round of 2 s per row, 2,000 visits"
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/0",
        help="the Redis of the RedisCache rows (default redis://127.0.0.1:6379/0)",
    )
    args = parser.parse_args(argv)
    seconds, rounds, visits, hits = (
        (2.0, 1, 2_000, 500) if args.quick else (6.0, 3, 10_000, 3_000)
    )

    load_average = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"python {platform.python_version()} on {platform.machine()}, {_cpu()}")
    print(f"{os.cpu_count()} CPUs, load average {load_average} at the start")
    print(f"page {len(load_page())} bytes\n")
    have_redis = redis_replies(args.redis_url)
    prefix = f"ep-bench:{uuid.uuid4().hex[:12]}:"
    modes = [mode for mode in MODES if have_redis or not mode.needs_redis]

    print(
        f"Throughput: uvicorn, 1 worker, {CONNECTIONS} keep-alive connections, "
        f"{rounds} round{'s' if rounds != 1 else ''} of {seconds:g} s per row"
    )
    print(
        f"{'case':38} {'req/s':>7} {'(min-max)':>13} {'mean ms':>8} {'p99 ms':>7}"
        f" {'vs bare':>8}"
    )
    try:
        results = measure_rounds(modes, args.redis_url, prefix, seconds, rounds)
    finally:
        if have_redis:
            delete_prefix(args.redis_url, prefix)
    bare_rate = _median_round(results["bare"]).per_second
    for mode in MODES:
        if mode.name not in results:
            print(f"{mode.label:38} skipped: no Redis at {args.redis_url}")
            continue
        _print_row(mode, results[mode.name], bare_rate)

    print(f"\nOne cache hit, in this process (median of 5 batches of {hits})")
    compute = asyncio.run(compute_cost(hits))
    print(f"{'catalog recommender call, no cache':38} {compute * 1e6:8.1f} us")
    memory = asyncio.run(hit_cost(MemoryCache(), hits))
    print(f"{'MemoryCache hit':38} {memory * 1e6:8.1f} us")
    if have_redis:
        try:
            redis_hit = asyncio.run(
                hit_cost(RedisCache(args.redis_url, prefix=prefix), hits)
            )
        finally:
            delete_prefix(args.redis_url, prefix)
        print(f"{'RedisCache hit (loopback)':38} {redis_hit * 1e6:8.1f} us")

    views = visitor_stream(load_catalog(), visits)
    print(f"\nProvider calls per 1,000 requests ({visits} simulated visits, 20/s)")
    for label, cache_kind, features in (
        ("no cache", "none", CATALOG_FEATURES),
        ("MemoryCache, features declared", "memory", CATALOG_FEATURES),
        ("MemoryCache, features not declared", "memory", None),
    ):
        calls = asyncio.run(count_calls(views, cache_kind, features))
        print(f"{label:38} {calls * 1000 / len(views):8.1f}")
    return 0


def _median_round(rounds: Sequence[Measurement]) -> Measurement:
    ordered = sorted(rounds, key=lambda result: result.per_second)
    return ordered[len(ordered) // 2]


def _print_row(mode: Mode, rounds: Sequence[Measurement], bare_rate: float) -> None:
    median = _median_round(rounds)
    rates = [result.per_second for result in rounds]
    latencies = sorted(median.latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    mean = statistics.fmean(latencies)
    # Every middleware row must have personalized the pages, and the bare
    # app must not have.
    checked = all(result.personalized != (mode.name == "bare") for result in rounds)
    note = "" if checked else "  (personalization check failed)"
    spread = f"({min(rates):.0f}-{max(rates):.0f})"
    print(
        f"{mode.label:38} {median.per_second:7.0f} {spread:>13} {mean * 1e3:8.2f} "
        f"{p99 * 1e3:7.2f} {median.per_second / bare_rate:8.2f}{note}"
    )


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
