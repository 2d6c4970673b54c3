"""Measure what the middleware costs per request, side by side in one run.

Every figure is measured against its own baseline in the same run:

1. Real servers on 127.0.0.1, loaded by ``wrk``: Starlette under uvicorn
   and Flask under gunicorn, bare and wrapped, on a path that no route
   matches (target: the wrapped server within 2 % of the bare one's
   requests per second) and on a matched product path.
2. In-process calls (a WSGI environ, an ASGI scope, no sockets): the
   middleware's own cost in microseconds per request, unmatched and
   matched.
3. Concurrency: a page whose render takes 100 ms and a provider that takes
   150 ms, through the middleware (the provider starts when the request
   arrives) against doing the two one after the other. Target: at most
   0.65 of the sequential time. The cache is off here, so every request
   calls the provider.

Run: python benchmarks/bench_middleware.py [--quick] [--skip-servers]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

from edge_personalize import Recommendation, RecommendationRequest, RequestView
from edge_personalize.asgi import PersonalizeMiddleware as ASGIMiddleware
from edge_personalize.wsgi import PersonalizeMiddleware as WSGIMiddleware

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_apps  # noqa: E402
from bench_apps import BROWSER, PRODUCT, load_page, personalizer  # noqa: E402

HERE = Path(__file__).resolve().parent


# In-process calls


def call_wsgi(app: Callable[..., Any], environ: dict[str, Any]) -> bytes:
    status: list[str] = []

    def start_response(s: str, headers: Any, exc_info: Any = None) -> Any:
        status.append(s)
        return lambda data: None

    iterable = app(dict(environ), start_response)
    try:
        body = b"".join(iterable)
    finally:
        getattr(iterable, "close", lambda: None)()
    assert status and status[0].startswith("200"), status
    return body


def asgi_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"accept-language", b"en-US,en;q=0.8"),
            (b"user-agent", BROWSER),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


async def call_asgi(app: Any, scope: dict[str, Any]) -> bytes:
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(dict(scope), receive, send)
    return b"".join(body)


def per_call(call: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) / count


async def aper_call(app: Any, scope: dict[str, Any], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await call_asgi(app, scope)
    return (time.perf_counter() - started) / count


def bench_in_process(count: int, rounds: int) -> list[tuple[str, float, float]]:
    """Median seconds per call, bare and wrapped, in alternating rounds."""
    page = load_page()
    rows = []
    flask = bench_apps.flask_app(page)
    wsgi = WSGIMiddleware(flask.wsgi_app, personalizer())
    starlette = bench_apps.starlette_app(page)
    asgi = ASGIMiddleware(starlette, personalizer())

    for label, path in (("unmatched", "/about"), ("matched", PRODUCT)):
        environ = EnvironBuilder(
            path=path, headers={"User-Agent": BROWSER.decode()}
        ).get_environ()
        if label == "matched":
            assert call_wsgi(wsgi, environ) != page, "not personalized"
        bare_times, wrapped_times = [], []
        for _ in range(rounds):
            bare_times.append(
                per_call(
                    lambda environ=environ: call_wsgi(flask.wsgi_app, environ), count
                )
            )
            wrapped_times.append(
                per_call(lambda environ=environ: call_wsgi(wsgi, environ), count)
            )
        rows.append(
            (
                f"WSGI Flask {label}",
                statistics.median(bare_times),
                statistics.median(wrapped_times),
            )
        )

        scope = asgi_scope(path)
        bare_times, wrapped_times = [], []
        for _ in range(rounds):
            bare_times.append(asyncio.run(aper_call(starlette, scope, count)))
            wrapped_times.append(asyncio.run(aper_call(asgi, scope, count)))
        rows.append(
            (
                f"ASGI Starlette {label}",
                statistics.median(bare_times),
                statistics.median(wrapped_times),
            )
        )
    return rows


# Real servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def start_server(kind: str, factory: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    if kind == "uvicorn":
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"bench_apps:{factory}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            f"bench_apps:{factory}()",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ]
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    process = subprocess.Popen(command, cwd=HERE, env=env)
    wait_ready(port, process)
    return process, port


def wrk_rps(port: int, path: str, seconds: float) -> float:
    output = subprocess.run(
        [
            "wrk",
            "-t1",
            "-c8",
            f"-d{round(seconds)}s",
            "-H",
            f"User-Agent: {BROWSER.decode()}",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def bench_servers(
    rounds: int, seconds: float
) -> list[tuple[str, float, float, list[float]]]:
    """Median requests per second, bare and wrapped, and each round's ratio.

    Each round measures both servers, and the order flips from round to
    round, so that neither always runs first. The ratio of a round compares
    two measurements taken seconds apart, which cancels slow drifts of the
    machine's speed that would bias the medians.
    """
    rows = []
    for kind, bare_factory, wrapped_factory, name in (
        ("uvicorn", "starlette_bare", "starlette_wrapped", "uvicorn Starlette"),
        ("gunicorn", "flask_bare", "flask_wrapped", "gunicorn Flask"),
    ):
        bare, bare_port = start_server(kind, bare_factory)
        wrapped, wrapped_port = start_server(kind, wrapped_factory)
        try:
            for label, path in (("unmatched", "/about"), ("matched", PRODUCT)):
                wrk_rps(bare_port, path, 1)  # warm up both
                wrk_rps(wrapped_port, path, 1)
                bare_rps: list[float] = []
                wrapped_rps: list[float] = []
                for number in range(rounds):
                    if number % 2:
                        wrapped_rps.append(wrk_rps(wrapped_port, path, seconds))
                        bare_rps.append(wrk_rps(bare_port, path, seconds))
                    else:
                        bare_rps.append(wrk_rps(bare_port, path, seconds))
                        wrapped_rps.append(wrk_rps(wrapped_port, path, seconds))
                rows.append(
                    (
                        f"{name} {label}",
                        statistics.median(bare_rps),
                        statistics.median(wrapped_rps),
                        [w / b for w, b in zip(wrapped_rps, bare_rps, strict=True)],
                    )
                )
        finally:
            for process in (bare, wrapped):
                process.terminate()
                process.wait(10)
    return rows


# Concurrency


class SlowProvider:
    """A provider that takes ``delay`` seconds, like a remote model would."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        await asyncio.sleep(self.delay)
        return [Recommendation(id="1", title="Slow pick", url="/products/slow-pick")]


async def bench_concurrency(repeats: int) -> list[tuple[str, float, float]]:
    page = load_page()
    render, recommend = 0.100, 0.150
    provider = SlowProvider(recommend)
    p = personalizer(deadline=1.0, providers=[provider], cache=None)
    plan = p.plan(RequestView("GET", PRODUCT, headers=[(b"user-agent", BROWSER)]))
    assert plan is not None
    request = RecommendationRequest(plan.context, "recommendations", 4)
    rows = []

    starlette = bench_apps.starlette_app(page, render_delay=render)
    asgi = ASGIMiddleware(starlette, p)
    together, apart = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        body = await call_asgi(asgi, asgi_scope(PRODUCT))
        together.append(time.perf_counter() - started)
        assert b"Slow pick" in body
        started = time.perf_counter()
        await call_asgi(starlette, asgi_scope(PRODUCT))
        await provider.recommend(request)
        apart.append(time.perf_counter() - started)
    rows.append(("ASGI", statistics.median(apart), statistics.median(together)))

    # The render blocks the request thread; the provider runs on the loop thread.
    flask = bench_apps.flask_app(page, render_delay=render)
    wsgi = WSGIMiddleware(flask.wsgi_app, p)
    environ = EnvironBuilder(
        path=PRODUCT, headers={"User-Agent": BROWSER.decode()}
    ).get_environ()
    together, apart = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        body = await asyncio.to_thread(call_wsgi, wsgi, environ)
        together.append(time.perf_counter() - started)
        assert b"Slow pick" in body
        started = time.perf_counter()
        await asyncio.to_thread(call_wsgi, flask.wsgi_app, environ)
        await provider.recommend(request)
        apart.append(time.perf_counter() - started)
    rows.append(("WSGI", statistics.median(apart), statistics.median(together)))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter rounds")
    parser.add_argument(
        "--skip-servers", action="store_true", help="skip the real-server rounds"
    )
    args = parser.parse_args(argv)
    count, rounds, repeats, seconds = (
        (200, 5, 5, 1.0) if args.quick else (2000, 9, 15, 3.0)
    )

    print(f"python {platform.python_version()} on {platform.machine()}, {_cpu()}")
    print(f"page: {len(load_page())} bytes, one placeholder before </body>\n")

    if args.skip_servers or shutil.which("wrk") is None:
        print("real servers: skipped (wrk not installed or --skip-servers)\n")
    else:
        print(f"Real servers on 127.0.0.1, wrk -c8, {rounds} x {seconds:g} s rounds")
        print("ratio: the median of the rounds' wrapped/bare ratios, and their range")
        print(
            f"{'case':26} {'bare req/s':>11} {'wrapped req/s':>14} {'ratio':>7}"
            f" {'range':>13}  target"
        )
        for label, bare, wrapped, ratios in bench_servers(rounds, seconds):
            ratio = statistics.median(ratios)
            spread = f"{min(ratios):.3f}-{max(ratios):.3f}"
            target = ""
            if "unmatched" in label:
                target = f">= 0.98 {'PASS' if ratio >= 0.98 else 'MISS'}"
            print(
                f"{label:26} {bare:11.0f} {wrapped:14.0f} {ratio:7.3f}"
                f" {spread:>13}  {target}"
            )
        print()

    print(f"In-process calls, {count} calls x {rounds} rounds, median round")
    print(f"{'case':32} {'bare us':>11} {'wrapped us':>14} {'added us':>9}")
    for label, bare, wrapped in bench_in_process(count, rounds):
        print(
            f"{label:32} {bare * 1e6:11.1f} {wrapped * 1e6:14.1f} "
            f"{(wrapped - bare) * 1e6:9.1f}"
        )

    print("\nRender 100 ms + provider 150 ms, median of", repeats)
    print(
        f"{'adapter':32} {'one after other ms':>19} {'middleware ms':>14} {'ratio':>7}"
    )
    for label, apart, together in asyncio.run(bench_concurrency(repeats)):
        ratio = together / apart
        verdict = "PASS" if ratio <= 0.65 else "MISS"
        print(
            f"{label:32} {apart * 1e3:19.1f} {together * 1e3:14.1f} {ratio:7.3f}"
            f"  <= 0.65 {verdict}"
        )
    return 0


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
