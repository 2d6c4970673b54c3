"""End-to-end tests of the example shops on real servers over real sockets.

The Flask shop runs on Werkzeug's server and on gunicorn, the FastAPI shop
on uvicorn, all bound to 127.0.0.1. Werkzeug's server and uvicorn run in a
thread of the test process, so that a test can give the app providers of
its own. gunicorn and the examples' ``python -m`` entry points run as
subprocesses, started the way a user starts them.

A request with a crawler's User-Agent is never personalized, so it returns
the page exactly as the app rendered it. That page is the baseline: a
personalized page must equal it byte for byte outside the placeholder
regions.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import lxml.etree
import lxml.html
import pytest
import uvicorn
from fastapi import FastAPI
from flask import Flask
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from werkzeug.serving import make_server

from edge_personalize import Product, Recommendation, RecommendationRequest
from edge_personalize.exceptions import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[2]

# The example shops are a top-level package of the repository, not of the
# installed distribution, and pytest puts only this directory on sys.path.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from examples import fastapi_app, flask_app, shop  # noqa: E402

pytestmark = pytest.mark.e2e

HOST = "127.0.0.1"

# Maximum time a server may take to accept connections.
STARTUP_TIMEOUT = 30.0  # seconds

# A static file that every shop serves without touching the personalizer.
READY_PATH = "/static/shop.css"

CATALOG = shop.load_catalog()

# A product of a large category, so that four recommendations of the same
# category exist.
PRODUCT = next(product for product in CATALOG if product.category == "smartphones")
PRODUCT_PATH = f"/products/{PRODUCT.slug}"

BROWSER_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
    ),
    "Accept": "text/html",
}
BOT_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    ),
    "Accept": "text/html",
}

# A placeholder region: a single marker, or a marker pair with the
# fallback between them.
REGION_RE = re.compile(
    rb"<!-- personalize:(?P<slot>[a-z0-9][a-z0-9_-]*) -->"
    rb"(?:.*?<!-- /personalize:(?P=slot) -->)?",
    re.DOTALL,
)

# Seconds the slow provider sleeps: far past the shop's 0.2 s deadline.
SLOW_PROVIDER_DELAY = 5.0

CHROMIUM_TIMEOUT = 60.0  # seconds


# --- helpers ---------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One recommended item as the rendered fragment shows it."""

    id: str | None
    href: str

    @property
    def product(self) -> Product | None:
        return CATALOG.by_slug(self.href.removeprefix("/products/"))


@dataclass(frozen=True)
class RawResponse:
    """A response read from a socket, with its bytes exactly as received."""

    status_line: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


def fetch(
    base_url: str, path: str, *, bot: bool = False, cookie: str | None = None
) -> httpx.Response:
    """GET ``path`` as a browser (or a crawler) with no stored cookies."""
    headers = dict(BOT_HEADERS if bot else BROWSER_HEADERS)
    if cookie is not None:
        headers["Cookie"] = cookie
    return httpx.get(base_url + path, headers=headers, timeout=10.0)


def split_regions(baseline: bytes) -> tuple[list[bytes], list[str]]:
    """Split a page into the bytes around its placeholder regions and their slots."""
    outside: list[bytes] = []
    slots: list[str] = []
    position = 0
    for match in REGION_RE.finditer(baseline):
        outside.append(baseline[position : match.start()])
        slots.append(match["slot"].decode("ascii"))
        position = match.end()
    outside.append(baseline[position:])
    return outside, slots


def replacements(page: bytes, baseline: bytes) -> dict[str, bytes] | None:
    """Return what ``page`` has in place of each placeholder region of ``baseline``.

    Return ``None`` when a byte outside the regions differs between them.
    """
    outside, slots = split_regions(baseline)
    pattern = b"(.*?)".join(re.escape(part) for part in outside)
    match = re.fullmatch(pattern, page, re.DOTALL)
    if match is None:
        return None
    return {slot: match.group(index + 1) for index, slot in enumerate(slots)}


def personalized_regions(
    base_url: str, path: str, cookie: str | None = None
) -> dict[str, bytes]:
    """Return what a visitor's page at ``path`` has in place of each region."""
    page = fetch(base_url, path, cookie=cookie)
    baseline = fetch(base_url, path, bot=True)
    assert page.status_code == 200
    assert baseline.status_code == 200

    regions = replacements(page.content, baseline.content)
    assert regions is not None, (
        "the page differs from its baseline outside placeholders"
    )
    return regions


def fragment_items(fragment: bytes, slot: str) -> list[Item]:
    """Return the items of the fragment rendered for ``slot``."""
    root = lxml.html.fragment_fromstring(fragment.decode("utf-8"), create_parent="div")
    sections = root.xpath(f'.//section[@data-slot="{slot}"]')
    assert len(sections) == 1, f"expected one fragment of slot {slot!r}"
    return [
        Item(id=item.get("data-id"), href=item.xpath("string(.//a/@href)"))
        for item in sections[0].xpath('.//li[contains(@class, "ep-recs__item")]')
    ]


def recommended(
    base_url: str, path: str, slot: str = "recommendations", cookie: str | None = None
) -> list[Item]:
    """Fetch ``path`` and return the items of ``slot``."""
    regions = personalized_regions(base_url, path, cookie=cookie)
    return fragment_items(regions[slot], slot)


def raw_request(port: int, method: str, path: str) -> RawResponse:
    """Send one HTTP/1.1 request on a new socket and read until the server closes."""
    request = (
        f"{method} {path} HTTP/1.1\r\n"
        f"Host: {HOST}:{port}\r\n"
        f"User-Agent: {BROWSER_HEADERS['User-Agent']}\r\n"
        "Accept: text/html\r\n"
        "Connection: close\r\n"
        "\r\n"
    )
    received: list[bytes] = []
    with socket.create_connection((HOST, port), timeout=10.0) as sock:
        sock.sendall(request.encode("latin-1"))
        while data := sock.recv(65536):
            received.append(data)

    head, _, body = b"".join(received).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return RawResponse(status_line, headers, body)


class FailingProvider:
    """A provider that always raises."""

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        raise RuntimeError("The recommender failed on purpose.")


class SlowProvider:
    """A provider that returns its items long after the deadline."""

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        await asyncio.sleep(SLOW_PROVIDER_DELAY)
        return [Recommendation(id="late", title="Too late", url="/products/too-late")]


# --- servers ---------------------------------------------------------------


@dataclass(frozen=True)
class RunningServer:
    """A shop being served on 127.0.0.1."""

    name: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_ready(
    url: str,
    started: Callable[[], bool] = lambda: True,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll ``url`` until it responds, and fail the test after ``STARTUP_TIMEOUT`` s.

    ``started`` is checked before each poll (for example
    ``uvicorn.Server.started``). When ``process`` exits first, the failure
    shows its output from ``log``.
    """
    give_up = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < give_up:
        if process is not None and process.poll() is not None:
            output = log.read_text(errors="replace") if log is not None else ""
            pytest.fail(f"The server exited with code {process.returncode}:\n{output}")
        if started():
            try:
                httpx.get(url, timeout=2.0)
            except httpx.TransportError:
                pass
            else:
                return
        time.sleep(0.05)
    pytest.fail(f"The server at {url} did not respond within {STARTUP_TIMEOUT} s.")


@contextmanager
def werkzeug_server(app: Flask) -> Iterator[RunningServer]:
    """Serve a Flask app with Werkzeug's threaded server in a thread."""
    server = make_server(HOST, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="werkzeug")
    thread.start()
    running = RunningServer("flask-werkzeug", server.server_port)
    try:
        wait_until_ready(running.base_url + READY_PATH)
        yield running
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def uvicorn_server(app: FastAPI) -> Iterator[RunningServer]:
    """Serve a FastAPI app with ``uvicorn.Server`` in a thread.

    The socket is bound here, so its port is known before uvicorn starts.
    """
    # With proto IPPROTO_TCP asyncio sets TCP_NODELAY on accepted
    # connections; without it each keep-alive request waits for delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((HOST, 0))
    # log_config=None leaves the logging setup of pytest alone. With h11 and
    # without WebSocket support, uvicorn imports no optional packages.
    config = uvicorn.Config(app, lifespan="off", log_config=None, http="h11", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn"
    )
    thread.start()
    running = RunningServer("fastapi-uvicorn", sock.getsockname()[1])
    try:
        wait_until_ready(running.base_url + READY_PATH, lambda: server.started)
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def serve_shop(framework: str, **factory_kwargs: Any) -> Iterator[RunningServer]:
    """Serve the ``flask`` or ``fastapi`` shop in a thread of this process.

    ``factory_kwargs`` go to the shop's ``create_app``.
    """
    server: AbstractContextManager[RunningServer]
    if framework == "flask":
        server = werkzeug_server(flask_app.create_app(**factory_kwargs))
    elif framework == "fastapi":
        server = uvicorn_server(fastapi_app.create_app(**factory_kwargs))
    else:
        raise ValueError(f"Unknown framework {framework!r}; use 'flask' or 'fastapi'.")
    with server as running:
        yield running


@contextmanager
def serve_command(
    name: str, build_args: Callable[[int], Sequence[str]], log: Path
) -> Iterator[RunningServer]:
    """Run the command ``build_args(port)`` from the repository root.

    The command's output goes to ``log``. The process is terminated when
    the context ends.
    """
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            list(build_args(port)),
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = RunningServer(name, port)
    try:
        wait_until_ready(running.base_url + READY_PATH, process=process, log=log)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def gunicorn_args(port: int) -> list[str]:
    """Return the command that serves the Flask shop with one gunicorn worker."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        "1",
        "--bind",
        f"{HOST}:{port}",
        "examples.flask_app.app:create_app()",
    ]


@pytest.fixture(scope="session")
def flask_werkzeug() -> Iterator[RunningServer]:
    """The Flask shop on Werkzeug's server."""
    with werkzeug_server(flask_app.create_app()) as running:
        yield running


@pytest.fixture(scope="session")
def flask_gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The Flask shop on gunicorn."""
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with serve_command("flask-gunicorn", gunicorn_args, log) as running:
        yield running


@pytest.fixture(scope="session")
def fastapi_uvicorn() -> Iterator[RunningServer]:
    """The FastAPI shop on uvicorn."""
    with uvicorn_server(fastapi_app.create_app()) as running:
        yield running


@pytest.fixture(
    scope="session", params=["flask_werkzeug", "flask_gunicorn", "fastapi_uvicorn"]
)
def shop_server(request: pytest.FixtureRequest) -> RunningServer:
    """Each shop with its default providers, on each of its servers."""
    running: RunningServer = request.getfixturevalue(request.param)
    return running


# --- personalized pages on every server -------------------------------------


def test_recommendations_from_catalog(shop_server: RunningServer) -> None:
    items = recommended(shop_server.base_url, PRODUCT_PATH)

    assert items
    assert len(items) <= 4
    for item in items:
        assert item.href.startswith("/products/")
        assert item.product is not None
        assert item.product.id == item.id


def test_recommendations_same_category_first(shop_server: RunningServer) -> None:
    items = recommended(shop_server.base_url, PRODUCT_PATH)

    assert items
    assert items[0].product is not None
    assert items[0].product.category == PRODUCT.category


def test_trending_slot_filled(shop_server: RunningServer) -> None:
    regions = personalized_regions(shop_server.base_url, PRODUCT_PATH)
    items = fragment_items(regions["trending"], "trending")
    root = lxml.html.fragment_fromstring(
        regions["trending"].decode(), create_parent="div"
    )

    assert items
    assert len(items) <= 3
    assert root.xpath("string(.//h2)") == "Trending"
    for item in items:
        assert item.product is not None


def test_current_product_not_recommended(shop_server: RunningServer) -> None:
    regions = personalized_regions(shop_server.base_url, PRODUCT_PATH)

    for slot in ("recommendations", "trending"):
        ids = [item.id for item in fragment_items(regions[slot], slot)]
        assert PRODUCT.id not in ids


@pytest.mark.parametrize("slot", ["recommendations", "trending"])
def test_viewed_cookie_excludes_items(shop_server: RunningServer, slot: str) -> None:
    first = recommended(shop_server.base_url, PRODUCT_PATH, slot)
    viewed = [item.id for item in first if item.id is not None]
    cookie = f"{shop.VIEWED_COOKIE}={','.join(viewed)}"
    second = recommended(shop_server.base_url, PRODUCT_PATH, slot, cookie=cookie)

    assert viewed
    assert second
    assert not {item.id for item in second} & set(viewed)


def test_viewed_cookie_round_trip(shop_server: RunningServer) -> None:
    # The cookie the shop sets must be one the personalizer reads back.
    target = recommended(shop_server.base_url, PRODUCT_PATH)[0]
    assert target.product is not None
    with httpx.Client(base_url=shop_server.base_url, headers=BROWSER_HEADERS) as client:
        client.get(target.href)
        page = client.get(PRODUCT_PATH)
        baseline = fetch(shop_server.base_url, PRODUCT_PATH, bot=True)

    regions = replacements(page.content, baseline.content)
    assert regions is not None
    ids = [
        item.id
        for item in fragment_items(regions["recommendations"], "recommendations")
    ]
    assert target.id not in ids
    assert client.cookies[shop.VIEWED_COOKIE] == f"{PRODUCT.id},{target.product.id}"


def test_viewed_cookie_bounded(shop_server: RunningServer) -> None:
    others = [product.id for product in CATALOG if product.id != PRODUCT.id][:25]
    cookie = f"{shop.VIEWED_COOKIE}={','.join(others)}"
    response = fetch(shop_server.base_url, PRODUCT_PATH, cookie=cookie)
    match = re.match(rf"{shop.VIEWED_COOKIE}=([^;]*);", response.headers["set-cookie"])

    assert match is not None
    assert match[1].split(",") == [PRODUCT.id, *others[: shop.VIEWED_LIMIT - 1]]


@pytest.mark.parametrize(
    ("query", "category"),
    [
        pytest.param("?interest=beauty", "beauty", id="interest-beauty"),
        pytest.param("?interest=laptops", "laptops", id="interest-laptops"),
        pytest.param("?userInterest=fragrances", "fragrances", id="user-interest"),
    ],
)
def test_interest_leads_home_page(
    shop_server: RunningServer, query: str, category: str
) -> None:
    items = recommended(shop_server.base_url, "/" + query)

    assert items
    assert items[0].product is not None
    assert items[0].product.category == category


def test_interest_changes_list(shop_server: RunningServer) -> None:
    plain = recommended(shop_server.base_url, PRODUCT_PATH)
    interested = recommended(shop_server.base_url, PRODUCT_PATH + "?interest=furniture")

    assert [item.id for item in interested] != [item.id for item in plain]
    assert any(
        item.product is not None and item.product.category == "furniture"
        for item in interested
    )


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(PRODUCT_PATH, id="product"),
        pytest.param("/", id="home"),
        pytest.param("/?interest=tops", id="home-interest"),
    ],
)
def test_page_outside_regions_unchanged(shop_server: RunningServer, path: str) -> None:
    page = fetch(shop_server.base_url, path)
    baseline = fetch(shop_server.base_url, path, bot=True)
    _, slots = split_regions(baseline.content)
    regions = replacements(page.content, baseline.content)

    assert "recommendations" in slots
    assert regions is not None
    assert b'<section class="fallback">' not in regions["recommendations"]
    assert b'class="ep-recs"' in regions["recommendations"]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(PRODUCT_PATH, id="product"),
        pytest.param("/", id="home"),
    ],
)
def test_content_length_matches_body(shop_server: RunningServer, path: str) -> None:
    response = raw_request(shop_server.port, "GET", path)
    length = response.header("content-length")

    assert response.status_line.startswith("HTTP/1.1 200")
    assert b'class="ep-recs"' in response.body
    assert length is not None
    assert int(length) == len(response.body)


def test_personalized_cache_headers(shop_server: RunningServer) -> None:
    response = fetch(shop_server.base_url, PRODUCT_PATH)
    cache_control = [
        part.strip() for part in response.headers["cache-control"].split(",")
    ]
    vary = [part.strip().lower() for part in response.headers["vary"].split(",")]

    assert b'class="ep-recs"' in response.content
    assert "private" in cache_control
    assert "cookie" in vary


def test_thumbnail_passes_through(shop_server: RunningServer) -> None:
    response = fetch(shop_server.base_url, f"/thumbs/{PRODUCT.id}.svg")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.content == shop.render_thumbnail(PRODUCT).encode("utf-8")
    assert response.headers["content-length"] == str(len(response.content))


def test_json_route_passes_through(shop_server: RunningServer) -> None:
    response = fetch(shop_server.base_url, f"/api/products/{PRODUCT.slug}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == shop.product_record(PRODUCT)


def test_head_passes(shop_server: RunningServer) -> None:
    baseline = fetch(shop_server.base_url, PRODUCT_PATH, bot=True)
    response = raw_request(shop_server.port, "HEAD", PRODUCT_PATH)

    assert response.status_line.startswith("HTTP/1.1 200")
    assert (response.header("content-type") or "").startswith("text/html")
    assert response.body == b""
    assert response.header("content-length") == str(len(baseline.content))


def test_unknown_product_is_404(shop_server: RunningServer) -> None:
    response = fetch(shop_server.base_url, "/products/no-such-product")

    assert response.status_code == 404
    assert b"ep-recs" not in response.content


# --- providers that fail, and routes that match non-HTML --------------------


@pytest.mark.parametrize("framework", ["flask", "fastapi"])
@pytest.mark.parametrize(
    "provider",
    [
        pytest.param(FailingProvider(), id="failing"),
        pytest.param(SlowProvider(), id="slow"),
    ],
)
def test_fallback_kept_byte_for_byte(framework: str, provider: Any) -> None:
    with serve_shop(framework, providers=[provider]) as running:
        page = fetch(running.base_url, PRODUCT_PATH)
        baseline = fetch(running.base_url, PRODUCT_PATH, bot=True)

    assert page.status_code == 200
    assert b'<section class="fallback">' in page.content
    assert b"ep-recs" not in page.content
    assert page.content == baseline.content
    assert page.headers["content-length"] == str(len(page.content))


@pytest.mark.parametrize("framework", ["flask", "fastapi"])
def test_matched_non_html_unchanged(framework: str) -> None:
    # The thumbnail and JSON paths match a route here, so only their
    # content type keeps the middleware from rewriting them.
    personalizer = shop.build_personalizer(
        CATALOG, routes=[*shop.ROUTES, "/thumbs/:name", "/api/:path*"]
    )
    with serve_shop(framework, personalizer=personalizer) as running:
        thumbnail = fetch(running.base_url, f"/thumbs/{PRODUCT.id}.svg")
        record = fetch(running.base_url, f"/api/products/{PRODUCT.slug}")
        page = fetch(running.base_url, PRODUCT_PATH)

    assert thumbnail.content == shop.render_thumbnail(PRODUCT).encode("utf-8")
    assert thumbnail.headers["cache-control"] == "public, max-age=86400"
    assert record.json() == shop.product_record(PRODUCT)
    assert "private" not in record.headers.get("cache-control", "")
    assert b'class="ep-recs"' in page.content


@pytest.mark.parametrize(
    ("outside", "personalized"),
    [
        pytest.param(True, True, id="gzip-outside"),
        pytest.param(False, False, id="gzip-inside"),
    ],
)
def test_gzip_order(outside: bool, personalized: bool) -> None:
    # Starlette puts the middleware added last on the outside. Compressed
    # HTML is not rewritten, so only GZip outside the personalizer gives a
    # personalized, compressed page.
    app = fastapi_app.create_app()
    if outside:
        app.add_middleware(GZipMiddleware, minimum_size=100)
    else:
        app.user_middleware.append(Middleware(GZipMiddleware, minimum_size=100))
    headers = {**BROWSER_HEADERS, "Accept-Encoding": "gzip"}
    with uvicorn_server(app) as running:
        page = httpx.get(running.base_url + PRODUCT_PATH, headers=headers)
        baseline = fetch(running.base_url, PRODUCT_PATH, bot=True)

    assert page.headers["content-encoding"] == "gzip"
    assert (b'class="ep-recs"' in page.content) is personalized
    assert (page.content == baseline.content) is not personalized


# --- the command-line entry points ------------------------------------------


@pytest.mark.parametrize("package", ["flask_app", "fastapi_app"])
def test_main_module_serves(package: str, tmp_path: Path) -> None:
    def build_args(port: int) -> list[str]:
        return [sys.executable, "-m", f"examples.{package}", "--port", str(port)]

    log = tmp_path / "server.log"
    with serve_command(package, build_args, log) as running:
        pattern = rf"Open (http://127\.0\.0\.1:{running.port}/products/\S+)"
        match = re.search(pattern, log.read_text())
        assert match is not None
        response = httpx.get(match[1], headers=BROWSER_HEADERS, timeout=10.0)

    assert response.status_code == 200
    assert b'class="ep-recs"' in response.content


# --- a real browser ---------------------------------------------------------


def chromium_path() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


def test_chromium_renders_recommendations(
    fastapi_uvicorn: RunningServer, tmp_path: Path
) -> None:
    browser = chromium_path()
    if browser is None:
        message = "Chromium is not installed (apt-get install chromium)."
        if os.environ.get("EP_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " EP_REQUIRE_BROWSER=1 requires it.")
        pytest.skip(message)

    url = fastapi_uvicorn.base_url + PRODUCT_PATH
    # Headless Chromium puts "HeadlessChrome" in its User-Agent, which the
    # personalizer treats as a crawler, so the test presents a desktop one.
    completed = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--user-agent={BROWSER_HEADERS['User-Agent']}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        timeout=CHROMIUM_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")

    document = lxml.html.fromstring(completed.stdout)
    items = document.xpath(
        '//section[@data-slot="recommendations"]//li[contains(@class, "ep-recs__item")]'
    )
    links = [item.xpath("string(.//a/@href)") for item in items]
    assert links
    assert all(link.startswith("/products/") for link in links)
    assert not document.xpath('//section[@class="fallback"]')
    assert document.xpath('//section[@data-slot="trending"]')


# --- the shared shop module -------------------------------------------------


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        pytest.param(None, "7", id="no-cookie"),
        pytest.param("3,2,1", "7,3,2,1", id="prepend"),
        pytest.param("3,7,1", "7,3,1", id="move-to-front"),
        pytest.param('"3,2"', "7,3,2", id="quoted"),
        pytest.param("3,,<x>,2", "7,3,2", id="drop-invalid"),
        pytest.param(
            ",".join(str(n) for n in range(100, 130)),
            ",".join(["7", *(str(n) for n in range(100, 119))]),
            id="bounded",
        ),
    ],
)
def test_update_viewed_cases(cookie: str | None, expected: str) -> None:
    assert shop.update_viewed(cookie, "7") == expected


def test_thumbnails_parse_as_svg() -> None:
    for product in CATALOG:
        svg = lxml.etree.fromstring(shop.render_thumbnail(product).encode("utf-8"))
        namespace = "{http://www.w3.org/2000/svg}"
        assert svg.findtext(f"{namespace}title") == product.title
        assert svg.find(f"{namespace}rect").get("fill") == shop.category_colour(
            product.category
        )
        assert svg.findtext(f"{namespace}text") == shop.product_initials(product.title)


@pytest.mark.parametrize("factory", [flask_app.create_app, fastapi_app.create_app])
def test_create_app_rejects_both_arguments(factory: object) -> None:
    personalizer = shop.build_personalizer(CATALOG)

    with pytest.raises(ConfigurationError, match="both personalizer and providers"):
        factory(personalizer, providers=[FailingProvider()])  # type: ignore[operator]
