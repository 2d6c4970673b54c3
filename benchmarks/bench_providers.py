"""Measure page latency with a remote provider, over real sockets on 127.0.0.1.

Every remote call goes to the test emulator (``tests/emulators``), served
by uvicorn on 127.0.0.1, through ``OpenAIProvider`` and the shared HTTP
client, with the embedded recommender after it in the chain. The cache is
off, so every page calls the provider.

1. Render 100 ms, provider 150 ms (the emulator's latency): the page
   through the middleware, which starts the provider when the request
   arrives, against an app that renders and then asks the provider, one
   after the other. Both ASGI (uvicorn) and WSGI (Werkzeug's threaded
   server). Target: the middleware's median at most 0.65 of the other's.
2. A provider that never answers, deadline 200 ms, render 100 ms, 8
   clients at once: p50, p99 and max page latency against the deadline,
   with the circuit breaker off (every page waits for the timeout) and on
   (after five timeouts the provider is skipped). Target: p99 at most the
   deadline plus 50 ms.

Run: python benchmarks/bench_providers.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import statistics
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from werkzeug.serving import make_server

from edge_personalize import Catalog, CatalogProvider, Context, RecommendationRequest
from edge_personalize._loop import shared_loop_thread
from edge_personalize.asgi import PersonalizeMiddleware as ASGIMiddleware
from edge_personalize.providers import OpenAIProvider
from edge_personalize.rendering import render_recommendations
from edge_personalize.wsgi import PersonalizeMiddleware as WSGIMiddleware

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_apps import BROWSER, CATALOG, MARK, PRODUCT, load_page, personalizer  # noqa: E402

from emulators.app import API_KEY  # noqa: E402
from emulators.fixtures import ServedEmulator  # noqa: E402
from emulators.servers import HOST, serve_asgi  # noqa: E402

RENDER = 0.100
PROVIDER_LATENCY = 0.150
HUNG_DEADLINE = 0.200
CLIENTS = 8


def remote_provider(emulator: ServedEmulator, catalog: Catalog, **options: Any) -> Any:
    return OpenAIProvider(
        base_url=emulator.openai_base_url,
        model="bench-model",
        api_key=API_KEY,
        catalog=catalog,
        **options,
    )


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(share * (len(ordered) - 1)))
    return ordered[index]


# Servers


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    # Werkzeug's server logs every request; the benchmark prints a table.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(HOST, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def sequential_starlette(page: bytes, provider: Any) -> Starlette:
    """Render, then ask the provider, then insert its fragment: no overlap."""

    async def product(request: Request) -> HTMLResponse:
        await asyncio.sleep(RENDER)
        fragment = await _fragment(provider, request.url.path)
        return HTMLResponse(page.replace(MARK, fragment.encode(), 1))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # The provider's client belongs to this server's loop.
        await provider.aclose()

    return Starlette(routes=[Route("/products/{slug}", product)], lifespan=lifespan)


def sequential_flask(page: bytes, provider: Any) -> Flask:
    app = Flask("sequential")
    loop = shared_loop_thread()

    @app.get("/products/<slug>")
    def product(slug: str) -> tuple[bytes, int, dict[str, str]]:
        time.sleep(RENDER)
        fragment = loop.run(_fragment(provider, f"/products/{slug}"), 5.0) or ""
        body = page.replace(MARK, fragment.encode(), 1)
        return body, 200, {"Content-Type": "text/html; charset=utf-8"}

    return app


async def _fragment(provider: Any, path: str) -> str:
    slug = path.rsplit("/", 1)[-1]
    context = Context(path=path, params={"slug": slug})
    items = await provider.recommend(RecommendationRequest(context, "recs", 4))
    return render_recommendations("recommendations", items, context)


def flask_page(page: bytes) -> Any:
    app = Flask("bench")

    @app.get("/products/<slug>")
    def product(slug: str) -> tuple[bytes, int, dict[str, str]]:
        time.sleep(RENDER)
        return page, 200, {"Content-Type": "text/html; charset=utf-8"}

    return app.wsgi_app


def starlette_page(page: bytes) -> Starlette:
    async def product(request: Request) -> HTMLResponse:
        await asyncio.sleep(RENDER)
        return HTMLResponse(page)

    return Starlette(routes=[Route("/products/{slug}", product)])


# Measurements


def time_pages(base_url: str, count: int) -> list[float]:
    """GET the product page ``count`` times, one after another; seconds each."""
    timings = []
    with httpx.Client(headers={"User-Agent": BROWSER.decode()}) as client:
        client.get(base_url + PRODUCT)  # warm up connections and caches
        for _ in range(count):
            started = time.perf_counter()
            response = client.get(base_url + PRODUCT)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200
    return timings


async def time_pages_concurrently(base_url: str, count: int) -> list[float]:
    """GET the product page ``count`` times from CLIENTS clients at once."""
    timings: list[float] = []
    queue = list(range(count))
    headers = {"User-Agent": BROWSER.decode()}

    async def client_loop(client: httpx.AsyncClient) -> None:
        while queue:
            queue.pop()
            started = time.perf_counter()
            response = await client.get(base_url + PRODUCT)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200

    async with httpx.AsyncClient(headers=headers, timeout=10) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(CLIENTS)))
    return timings


def bench_overlap(
    emulator: ServedEmulator, catalog: Catalog, page: bytes, count: int
) -> list[tuple[str, list[float], list[float]]]:
    emulator.reset()
    emulator.latency = PROVIDER_LATENCY
    remote = remote_provider(emulator, catalog, timeout=2.0)
    chain = [remote, CatalogProvider(catalog)]
    rows = []

    wrapped = ASGIMiddleware(
        starlette_page(page), personalizer(deadline=1.0, providers=chain, cache=None)
    )
    with serve_asgi(wrapped) as together_url:
        with serve_asgi(sequential_starlette(page, remote)) as apart_url:
            together, apart = _alternate(together_url, apart_url, count)
    rows.append(("ASGI, uvicorn", apart, together))

    wrapped_wsgi = WSGIMiddleware(
        flask_page(page), personalizer(deadline=1.0, providers=chain, cache=None)
    )
    with serve_wsgi(wrapped_wsgi) as together_url:
        with serve_wsgi(sequential_flask(page, remote)) as apart_url:
            together, apart = _alternate(together_url, apart_url, count)
    rows.append(("WSGI, Werkzeug threaded", apart, together))
    return rows


def _alternate(first: str, second: str, count: int) -> tuple[list[float], list[float]]:
    firsts: list[float] = []
    seconds: list[float] = []
    for _ in range(count // 5):
        firsts += time_pages(first, 5)
        seconds += time_pages(second, 5)
    return firsts, seconds


def bench_hung(
    emulator: ServedEmulator, catalog: Catalog, page: bytes, count: int
) -> list[tuple[str, list[float]]]:
    rows = []
    for label, breaker in (("breaker off", None), ("breaker on", "default")):
        emulator.reset()
        emulator.fault = "hang"
        options = {} if breaker == "default" else {"breaker": None}
        remote = remote_provider(emulator, catalog, **options)
        p = personalizer(
            deadline=HUNG_DEADLINE,
            providers=[remote, CatalogProvider(catalog)],
            cache=None,
        )
        with serve_asgi(ASGIMiddleware(starlette_page(page), p)) as base_url:
            timings = asyncio.run(time_pages_concurrently(base_url, count))
        rows.append((f"ASGI, {label}", timings))
    emulator.reset()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    args = parser.parse_args(argv)
    # Every hung call logs a warning; the figures are the output here.
    logging.getLogger("edge_personalize").setLevel(logging.ERROR)
    overlap_count, hung_count = (20, 80) if args.quick else (60, 400)

    catalog = Catalog.from_file(
        CATALOG, url_template="/products/{slug}", image_template="/thumbs/{id}.svg"
    )
    page = load_page()
    emulator = ServedEmulator()
    print(f"python {platform.python_version()} on {platform.machine()}, {_cpu()}")
    print(f"page: {len(page)} bytes; provider: OpenAIProvider -> emulator\n")

    with serve_asgi(emulator) as base_url:
        emulator.base_url = base_url
        _report_overlap(bench_overlap(emulator, catalog, page, overlap_count))
        _report_hung(bench_hung(emulator, catalog, page, hung_count))
    return 0


def _report_overlap(rows: list[tuple[str, list[float], list[float]]]) -> None:
    print(
        f"Render {RENDER * 1e3:.0f} ms + provider {PROVIDER_LATENCY * 1e3:.0f} ms, "
        f"{len(rows[0][1])} pages each, one client"
    )
    print(
        f"{'server':26} {'one after other':>16} {'middleware':>11} "
        f"{'p99 mw':>7} {'ratio':>6}"
    )
    for label, apart, together in rows:
        ratio = statistics.median(together) / statistics.median(apart)
        verdict = "PASS" if ratio <= 0.65 else "MISS"
        print(
            f"{label:26} {statistics.median(apart) * 1e3:13.1f} ms "
            f"{statistics.median(together) * 1e3:8.1f} ms "
            f"{percentile(together, 0.99) * 1e3:5.0f}ms {ratio:6.3f}  <= 0.65 {verdict}"
        )
    print()


def _report_hung(rows: list[tuple[str, list[float]]]) -> None:
    limit = HUNG_DEADLINE + 0.050
    print(
        f"Provider hung, deadline {HUNG_DEADLINE * 1e3:.0f} ms, render "
        f"{RENDER * 1e3:.0f} ms, {CLIENTS} clients, {len(rows[0][1])} pages"
    )
    print(f"{'case':26} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, timings in rows:
        p99 = percentile(timings, 0.99)
        verdict = "PASS" if p99 <= limit else "MISS"
        print(
            f"{label:26} {statistics.median(timings) * 1e3:8.1f} "
            f"{p99 * 1e3:8.1f} {max(timings) * 1e3:8.1f}  "
            f"p99 <= {limit * 1e3:.0f} {verdict}"
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
