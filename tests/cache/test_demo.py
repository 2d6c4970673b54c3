"""The multi-worker demo: two worker processes of an example shop share Redis.

Each shop runs the way docs/caching.md shows, with ``EP_REDIS_URL`` set: the
FastAPI shop under uvicorn with two workers, the Flask shop under gunicorn
with two workers. The servers log the process id of the worker that
served each request. The test sends the same visitor's request until both
workers have served it, and checks that every page was personalized while
the cache entries in Redis were written once and never recomputed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cache_support
import httpx
import pytest
from cache_support import RedisTarget

from edge_personalize.cache._codec import decode_entry

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
PRODUCT_PATH = "/products/essence-mascara-lash-princess"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"}

# Bounds that only a broken run reaches.
STARTUP_TIMEOUT = 60.0  # seconds
MAX_REQUESTS = 400
MIN_REQUESTS = 20

# Access log lines start with the worker's process id.
PID_LINE_RE = re.compile(r"^<?(\d+)>?\s.*" + re.escape(PRODUCT_PATH))

UVICORN_LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"pid": {"format": "%(process)d %(message)s"}},
    "handlers": {
        "out": {
            "class": "logging.StreamHandler",
            "formatter": "pid",
            "stream": "ext://sys.stdout",
        }
    },
    "loggers": {
        "uvicorn.access": {"handlers": ["out"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["out"], "level": "INFO", "propagate": False},
    },
}


@pytest.fixture
def redis_target() -> Iterator[RedisTarget]:
    """A unique key prefix on the test Redis; its keys are deleted afterwards."""
    yield from cache_support.redis_target()


@pytest.fixture
def sync_redis() -> Iterator[Any]:
    """A synchronous client of the test Redis."""
    yield from cache_support.sync_redis()


def _uvicorn(port: int, log: Path) -> list[str]:
    config = log.with_name("log-config.json")
    config.write_text(json.dumps(UVICORN_LOG_CONFIG))
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "examples.fastapi_app.app:create_app",
        "--workers",
        "2",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-config",
        str(config),
    ]


def _gunicorn(port: int, log: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "2",
        "--bind",
        f"{HOST}:{port}",
        "--access-logfile",
        "-",
        "--access-logformat",
        "%(p)s %(r)s %(s)s",
        "examples.flask_app.app:create_app()",
    ]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(_uvicorn, id="fastapi-uvicorn"),
        pytest.param(_gunicorn, id="flask-gunicorn"),
    ],
)
def test_two_workers_share_redis(
    command: Callable[[int, Path], list[str]],
    redis_target: RedisTarget,
    sync_redis: Any,
    tmp_path: Path,
) -> None:
    port = cache_support.free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "EP_REDIS_URL": redis_target.url,
        "EP_REDIS_PREFIX": redis_target.prefix,
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as output:
        server = subprocess.Popen(
            command(port, log), cwd=REPO, env=env, stdout=output, stderr=output
        )
    try:
        base = f"http://{HOST}:{port}"
        _wait_until_ready(base + "/static/shop.css", server, log)
        pages, pids, first, last = _serve_until_both_workers(
            base, log, sync_redis, redis_target
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=STARTUP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    assert len(pids) == 2, log.read_text(errors="replace")
    assert all(b'data-slot="recommendations"' in page for page in pages)
    assert all(b'data-slot="trending"' in page for page in pages)
    # One entry per slot for this visitor, written by the first request and
    # never recomputed, whichever worker served.
    assert sorted(key.split(":")[2] for key in first) == ["recommendations", "trending"]
    assert last == first


def _wait_until_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    give_up = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < give_up:
        if server.poll() is not None:
            pytest.fail(f"The server exited:\n{log.read_text(errors='replace')}")
        try:
            httpx.get(url, timeout=2.0)
        except httpx.TransportError:
            time.sleep(0.05)
        else:
            return
    pytest.fail(f"The server did not start:\n{log.read_text(errors='replace')}")


def _serve_until_both_workers(
    base: str, log: Path, client: Any, target: RedisTarget
) -> tuple[list[bytes], set[str], dict[str, float], dict[str, float]]:
    """Request the product page until two workers have served it.

    Returns the pages, the worker process ids seen in the access log, and
    the ``created`` time of each cache entry after the first request and
    after the last. Each request opens a new connection, so the kernel may
    hand it to either worker.
    """
    pages = [_get_page(base)]
    first = _wait_for_entries(client, target, count=2)
    pids: set[str] = set()
    while len(pages) < MAX_REQUESTS:
        pages.append(_get_page(base))
        pids = _worker_pids(log)
        if len(pids) >= 2 and len(pages) >= MIN_REQUESTS:
            break
    return pages, pids, first, _created_times(client, target)


def _get_page(base: str) -> bytes:
    response = httpx.get(base + PRODUCT_PATH, headers=BROWSER, timeout=10.0)
    assert response.status_code == 200
    return response.content


def _wait_for_entries(client: Any, target: RedisTarget, count: int) -> dict[str, float]:
    # The page is sent before the fill has written its entry.
    give_up = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < give_up:
        times = _created_times(client, target)
        if len(times) >= count:
            return times
        time.sleep(0.01)
    pytest.fail(f"Redis holds {_created_times(client, target)!r}, not {count} entries.")


def _created_times(client: Any, target: RedisTarget) -> dict[str, float]:
    """Return the ``created`` time of each cache entry, by key; locks are skipped."""
    times: dict[str, float] = {}
    for raw_key in client.scan_iter(match=target.prefix + "*"):
        key = raw_key.decode()
        if key.endswith(":lock"):
            continue
        value = client.get(raw_key)
        if value is not None:
            times[key] = decode_entry(value).created
    return times


def _worker_pids(log: Path) -> set[str]:
    pids = set()
    for line in log.read_text(errors="replace").splitlines():
        match = PID_LINE_RE.match(line)
        if match:
            pids.add(match.group(1))
    return pids
