"""Django adapter end to end: real servers on 127.0.0.1 over real sockets.

The example shop in ``examples/django_app`` runs in a subprocess, started
with the commands of ``docs/django.md``: Django's runserver and gunicorn
(WSGI, the middleware in sync mode) and uvicorn (ASGI, async mode). A request with a
crawler's User-Agent is never personalized, so it returns the page as
Django rendered it, which is the baseline for the bytes outside the
placeholder regions.

Streaming is checked on the test project, served in threads of this
process by Werkzeug's server (WSGI) and uvicorn (ASGI): the first chunk of
a streamed page must reach the socket while the view still waits.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import testproject
import uvicorn
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, StreamingHttpResponse
from django.test.utils import override_settings
from django.urls import path
from testproject.helpers import (
    BROWSER_UA,
    EVENT_TIMEOUT,
    FRAGMENT,
    HEAD,
    HTML,
    MARK,
    TAIL,
    make_personalizer,
)
from werkzeug.serving import make_server

pytestmark = pytest.mark.e2e

testproject.setup()

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0  # seconds
READY_PATH = "/static/shop.css"

# httpx requests compressed responses by default, and the shop compresses,
# so the tests request identity unless they test compression.
BROWSER_HEADERS = {
    "User-Agent": BROWSER_UA,
    "Accept": "text/html",
    "Accept-Encoding": "identity",
}
BOT_HEADERS = {
    "User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Accept": "text/html",
    "Accept-Encoding": "identity",
}

# A placeholder region: a single marker, or a pair with its fallback.
REGION_RE = re.compile(
    rb"<!-- personalize:(?P<slot>[a-z0-9][a-z0-9_-]*) -->"
    rb"(?:.*?<!-- /personalize:(?P=slot) -->)?",
    re.DOTALL,
)
SECTION_RE = re.compile(
    rb'<section class="ep-recs" data-slot="(?P<slot>[a-z-]+)".*?</section>', re.DOTALL
)
HREF_RE = re.compile(rb'href="/products/(?P<slug>[^"]+)"')
REASON_RE = re.compile(rb'class="ep-recs__reason" dir="auto">(?P<reason>[^<]*)<')


def load_catalog() -> Any:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from examples import shop

    return shop.load_catalog()


CATALOG = load_catalog()
# A product of a large category, so that four products of it can be found.
PRODUCT = next(product for product in CATALOG if product.category == "smartphones")
LAPTOP = next(product for product in CATALOG if product.category == "laptops")


# --- Servers -------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` until it responds; fail when the process exits first."""
    give_up = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < give_up:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            pytest.fail(f"The server exited with code {process.returncode}:\n{output}")
        try:
            httpx.get(url, timeout=2.0)
        except httpx.TransportError:
            time.sleep(0.05)
        else:
            return
    pytest.fail(f"The server at {url} did not respond within {STARTUP_TIMEOUT} s.")


@contextmanager
def serve_example(args: Callable[[int], Sequence[str]], log: Path) -> Iterator[str]:
    """Run the example shop with the command ``args(port)``; yield its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "examples.django_app.settings",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            list(args(port)),
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://{HOST}:{port}"
    try:
        wait_until_ready(base_url + READY_PATH, process, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


COMMANDS: dict[str, Callable[[int], list[str]]] = {
    "runserver": lambda port: [
        sys.executable,
        "-m",
        "examples.django_app",
        "runserver",
        f"{HOST}:{port}",
        "--noreload",
    ],
    "gunicorn": lambda port: [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        "1",
        "--bind",
        f"{HOST}:{port}",
        "examples.django_app.wsgi:application",
    ],
    "uvicorn": lambda port: [
        sys.executable,
        "-m",
        "uvicorn",
        "examples.django_app.asgi:application",
        "--host",
        HOST,
        "--port",
        str(port),
    ],
}


@pytest.fixture(scope="module", params=list(COMMANDS))
def shop_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The example shop under runserver, gunicorn and uvicorn."""
    log = tmp_path_factory.mktemp(request.param) / "server.log"
    with serve_example(COMMANDS[request.param], log) as base_url:
        yield base_url


def fetch(
    base_url: str,
    path: str,
    *,
    bot: bool = False,
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET ``path`` as a browser (or a crawler) with only the given cookies."""
    request_headers = dict(BOT_HEADERS if bot else BROWSER_HEADERS)
    request_headers.update(headers or {})
    if cookies:
        request_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return httpx.get(base_url + path, headers=request_headers, timeout=10.0)


def section(body: bytes, slot: str) -> bytes:
    for match in SECTION_RE.finditer(body):
        if match["slot"] == slot.encode():
            return match.group(0)
    raise AssertionError(f"no fragment of slot {slot!r} in the page")


def recommended_slugs(body: bytes) -> list[str]:
    return [
        m["slug"].decode() for m in HREF_RE.finditer(section(body, "recommendations"))
    ]


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Map each cookie that ``response`` sets to its value."""
    cookies: dict[str, str] = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.strip().partition("=")
        cookies[name] = rest.split(";", 1)[0]
    return cookies


# --- The example shop ----------------------------------------------------


def test_product_page_personalized(shop_url: str) -> None:
    response = fetch(shop_url, f"/products/{PRODUCT.slug}")
    body = response.content
    assert response.status_code == 200
    assert b"<!-- personalize:" not in body
    assert len(recommended_slugs(body)) == 4
    assert b'data-slot="trending"' in body
    assert response.headers["content-length"] == str(len(body))
    assert response.headers["cache-control"] == "private"
    assert "Cookie" in response.headers["vary"]


def test_bytes_outside_regions_kept(shop_url: str) -> None:
    path = f"/products/{PRODUCT.slug}"
    baseline = fetch(shop_url, path, bot=True).content
    personalized = fetch(shop_url, path).content
    # split() returns the slot group between the outside parts.
    outside = REGION_RE.split(baseline)[::2]
    assert len(outside) == 3
    pattern = b"(.*?)".join(re.escape(part) for part in outside)
    assert re.fullmatch(pattern, personalized, re.DOTALL)


def test_crawler_gets_fallback(shop_url: str) -> None:
    response = fetch(shop_url, f"/products/{PRODUCT.slug}", bot=True)
    assert b"<!-- personalize:recommendations -->" in response.content
    assert b"Popular products" in response.content
    assert "cache-control" not in response.headers


def test_current_product_never_recommended(shop_url: str) -> None:
    body = fetch(shop_url, f"/products/{PRODUCT.slug}").content
    slugs = recommended_slugs(body)
    assert PRODUCT.slug not in slugs
    categories = {CATALOG.by_slug(slug).category for slug in slugs}
    assert categories == {"smartphones"}


def test_viewed_cookie_excludes_products(shop_url: str) -> None:
    first = fetch(shop_url, f"/products/{PRODUCT.slug}")
    viewed = set_cookies(first)["ep_viewed"]
    first_slugs = recommended_slugs(first.content)
    viewed_ids = [CATALOG.by_slug(slug).id for slug in first_slugs]

    cookie = ",".join([*viewed_ids, viewed])
    second = fetch(shop_url, f"/products/{PRODUCT.slug}", cookies={"ep_viewed": cookie})
    assert viewed == PRODUCT.id
    assert set(recommended_slugs(second.content)).isdisjoint(first_slugs)


def test_session_hook_adds_interest(shop_url: str) -> None:
    visit = fetch(shop_url, f"/products/{LAPTOP.slug}")
    session = set_cookies(visit)["sessionid"]

    home = fetch(shop_url, "/", cookies={"sessionid": session}).content
    stranger = fetch(shop_url, "/").content
    reasons = {
        m["reason"] for m in REASON_RE.finditer(section(home, "recommendations"))
    }
    assert reasons == {b"Because you like laptops"}
    assert b"Because you like laptops" not in stranger


def test_interest_query(shop_url: str) -> None:
    body = fetch(shop_url, "/?interest=fragrances").content
    slugs = recommended_slugs(body)
    assert {CATALOG.by_slug(slug).category for slug in slugs} == {"fragrances"}


def test_gzip_outside_personalizer(shop_url: str) -> None:
    response = fetch(shop_url, "/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert b'data-slot="recommendations"' in response.content
    assert b"<!-- personalize:recommendations -->" not in response.content


def test_etag_of_personalized_bytes(shop_url: str) -> None:
    first = fetch(shop_url, "/", cookies={"ep_interests": "beauty"})
    etag = first.headers["etag"]
    same = fetch(
        shop_url,
        "/",
        cookies={"ep_interests": "beauty"},
        headers={"If-None-Match": etag},
    )
    other = fetch(
        shop_url,
        "/",
        cookies={"ep_interests": "laptops"},
        headers={"If-None-Match": etag},
    )
    assert same.status_code == 304
    assert other.status_code == 200
    assert b"Because you like laptops" in other.content


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        pytest.param(f"/thumbs/{PRODUCT.id}.svg", "image/svg+xml", id="thumbnail"),
        pytest.param(f"/api/products/{PRODUCT.slug}", "application/json", id="json"),
        pytest.param("/static/shop.css", "text/css", id="static-file"),
    ],
)
def test_other_responses_untouched(shop_url: str, path: str, content_type: str) -> None:
    response = fetch(shop_url, path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert response.headers.get("cache-control") != "private"


# --- Streaming over a socket ------------------------------------------------

GATE = threading.Event()


def gated_sync_view(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield HEAD
        if not GATE.wait(EVENT_TIMEOUT):
            yield b"<!-- the test never opened the gate -->"
        yield MARK + TAIL

    return StreamingHttpResponse(chunks(), content_type=HTML)


def gated_async_view(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield HEAD
        give_up = time.monotonic() + EVENT_TIMEOUT
        # A threading.Event, opened by the test thread; poll it.
        while not GATE.is_set() and time.monotonic() < give_up:
            await asyncio.sleep(0.01)
        if not GATE.is_set():
            yield b"<!-- the test never opened the gate -->"
        yield MARK + TAIL

    return StreamingHttpResponse(chunks(), content_type=HTML)


urlpatterns = [
    path("shop/gated-sync", gated_sync_view),
    path("shop/gated-async", gated_async_view),
]


@contextmanager
def werkzeug_django() -> Iterator[str]:
    """Serve the test project with Werkzeug's threaded server in a thread."""
    server = make_server(HOST, 0, WSGIHandler(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="werkzeug-django")
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def uvicorn_django() -> Iterator[str]:
    """Serve the test project with uvicorn in a thread.

    Django's ASGI handler does not speak the lifespan protocol, so it is
    turned off.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    config = uvicorn.Config(
        ASGIHandler(), lifespan="off", log_config=None, http="h11", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-django"
    )
    thread.start()
    try:
        give_up = time.monotonic() + STARTUP_TIMEOUT
        while not server.started and time.monotonic() < give_up:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield f"http://{HOST}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.mark.parametrize(
    ("server", "path"),
    [
        pytest.param(werkzeug_django, "/shop/gated-sync", id="werkzeug-wsgi"),
        pytest.param(uvicorn_django, "/shop/gated-async", id="uvicorn-asgi"),
    ],
)
def test_stream_first_chunk_on_socket(server: Any, path: str) -> None:
    GATE.clear()
    personalizer = make_personalizer(deadline=EVENT_TIMEOUT)
    with (
        override_settings(ROOT_URLCONF=__name__, EDGE_PERSONALIZE=personalizer),
        server() as base_url,
        httpx.Client(timeout=EVENT_TIMEOUT * 2) as client,
        client.stream("GET", base_url + path, headers=BROWSER_HEADERS) as response,
    ):
        raw = response.iter_raw()
        first = b""
        try:
            while len(first) < len(HEAD):
                first += next(raw)
        finally:
            GATE.set()
        rest = b"".join(raw)
        headers = response.headers

    assert first == HEAD
    assert rest == FRAGMENT.encode() + TAIL
    assert "content-length" not in headers
    assert headers["cache-control"] == "private"
