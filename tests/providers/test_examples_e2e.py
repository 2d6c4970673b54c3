"""The example shops switched to each remote provider, against the emulators.

Each test serves the Flask shop (Werkzeug's threaded server) or the
FastAPI shop (uvicorn) on 127.0.0.1 in this process, with ``EP_PROVIDER``
and the provider's settings pointing at the emulator, and fetches a
product page over a real socket. A crawler's request is never
personalized, so it returns the page as the app rendered it: the
baseline that every personalized page must equal outside the
placeholder regions.

The page is fetched with a client timeout of the shop's deadline plus
:data:`MARGIN`, while the slow faults hold the provider for seconds or
forever: a page that arrives at all arrived within the deadline plus the
margin.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import lxml.html
import pytest
from werkzeug.serving import make_server

from edge_personalize import Context, RecommendationRequest
from edge_personalize.exceptions import ConfigurationError
from edge_personalize.providers import CatalogProvider
from emulators.fixtures import ServedEmulator
from emulators.servers import HOST, ResetServer, refused_url, serve_asgi

REPO = Path(__file__).resolve().parents[2]
# The example shops are a package at the repository's root.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from examples import fastapi_app, flask_app, shop  # noqa: E402

pytestmark = pytest.mark.e2e

CATALOG = shop.load_catalog()
PRODUCT = next(product for product in CATALOG if product.category == "smartphones")
PATH = f"/products/{PRODUCT.slug}"

# The shop's slot deadline, and the time a page may take beyond it.
DEADLINE = 0.2
MARGIN = 1.0
# For tests where the embedded recommender must fill the slot after a
# remote failure: seconds, as EP_DEADLINE reads them.
ROOMY_DEADLINE = "2"

BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0",
    "Accept": "text/html",
}
CRAWLER = {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}

REGION = re.compile(
    rb"<!-- personalize:(?P<slot>[a-z0-9_-]+) -->"
    rb"(?:.*?<!-- /personalize:(?P=slot) -->)?",
    re.DOTALL,
)

FRAMEWORKS = ["flask", "fastapi"]
PROVIDERS = ["workers-ai", "openai", "http"]


def provider_env(kind: str, emulator: ServedEmulator) -> dict[str, str]:
    """Return the environment that switches the shops to provider ``kind``."""
    if kind == "workers-ai":
        return {
            "EP_PROVIDER": "workers-ai",
            "EP_WORKERS_AI_BASE_URL": emulator.workers_base_url,
            "CLOUDFLARE_ACCOUNT_ID": emulator.account_id,
            "CLOUDFLARE_API_TOKEN": emulator.token,
        }
    if kind == "openai":
        return {
            "EP_PROVIDER": "openai",
            "EP_OPENAI_BASE_URL": emulator.openai_base_url,
            "EP_OPENAI_MODEL": "llama3.1:8b",
            "OPENAI_API_KEY": emulator.api_key,
        }
    return {"EP_PROVIDER": "http", "EP_HTTP_URL": emulator.service_url}


@contextmanager
def serve_shop(
    framework: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Serve a shop built with ``env`` in its environment; yield its base URL."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if framework == "fastapi":
        with serve_asgi(fastapi_app.create_app()) as base_url:
            yield base_url
        return

    server = make_server(HOST, 0, flask_app.create_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="werkzeug")
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def fetch(base_url: str, headers: dict[str, str] = BROWSER) -> bytes:
    """GET the product page; fail if it takes longer than the deadline plus margin."""
    deadline = float(os.environ.get("EP_DEADLINE", DEADLINE))
    response = httpx.get(base_url + PATH, headers=headers, timeout=deadline + MARGIN)
    assert response.status_code == 200
    return response.content


def regions(page: bytes, baseline: bytes) -> dict[str, bytes]:
    """Return what ``page`` has in place of each placeholder region of ``baseline``.

    Fails when a byte outside the regions differs, so a truncated or
    broken page fails here.
    """
    outside: list[bytes] = []
    slots: list[str] = []
    position = 0
    for match in REGION.finditer(baseline):
        outside.append(baseline[position : match.start()])
        slots.append(match["slot"].decode())
        position = match.end()
    outside.append(baseline[position:])

    pattern = b"(.*?)".join(re.escape(part) for part in outside)
    match = re.fullmatch(pattern, page, re.DOTALL)
    assert match is not None, "the page differs from its baseline outside placeholders"
    return {slot: match.group(index + 1) for index, slot in enumerate(slots)}


def recommended_ids(base_url: str) -> list[str] | None:
    """Return the ids in the page's recommendations, or None for the fallback."""
    page = fetch(base_url)
    baseline = fetch(base_url, CRAWLER)
    region = regions(page, baseline)["recommendations"]
    if region == regions(baseline, baseline)["recommendations"]:
        return None
    root = lxml.html.fragment_fromstring(region.decode(), create_parent="div")
    return [str(item) for item in root.xpath('.//li[@class="ep-recs__item"]/@data-id')]


def catalog_ids(limit: int = 4) -> list[str]:
    """Return what the embedded recommender recommends on the product page."""
    context = Context(path=PATH, params={"slug": PRODUCT.slug})
    request = RecommendationRequest(context, "recommendations", limit)
    return [
        item.id for item in asyncio.run(CatalogProvider(CATALOG).recommend(request))
    ]


def model_ids() -> list[str]:
    """Return the emulated model's choice: the candidates, last first."""
    return list(reversed(catalog_ids(limit=20)))[:4]


SERVICE_ITEMS = [{"id": "1"}, {"id": "no-such-product"}, {"id": "2"}, {"id": "3"}]


@pytest.fixture
def emulator(emulator: ServedEmulator) -> ServedEmulator:
    """The emulator, its HTTP service returning SERVICE_ITEMS."""
    emulator.service_items = list(SERVICE_ITEMS)
    return emulator


def expected_answer(kind: str) -> list[str]:
    """Return the ids the page shows when provider ``kind`` succeeds."""
    if kind != "http":
        return model_ids()
    # The service names three catalog products; the embedded recommender
    # after it in the chain fills the fourth place.
    answered = ["1", "2", "3"]
    rest = [item for item in catalog_ids(limit=8) if item not in answered]
    return answered + rest[:1]


# --- the providers work through the shops --------------------------------------------


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("kind", PROVIDERS)
def test_shop_shows_provider_answer(
    emulator: ServedEmulator,
    monkeypatch: pytest.MonkeyPatch,
    framework: str,
    kind: str,
) -> None:
    with serve_shop(framework, provider_env(kind, emulator), monkeypatch) as base_url:
        found = recommended_ids(base_url)
    assert found == expected_answer(kind)
    assert expected_answer(kind) != catalog_ids()
    assert len(emulator.received) == 1


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_shop_workers_ai_embeddings(
    emulator: ServedEmulator, monkeypatch: pytest.MonkeyPatch, framework: str
) -> None:
    env = provider_env("workers-ai", emulator) | {"EP_WORKERS_AI_MODE": "embeddings"}
    with serve_shop(framework, env, monkeypatch) as base_url:
        found = recommended_ids(base_url)
    assert found is not None
    assert len(found) == 4
    assert emulator.received[0].path.endswith("/@cf/baai/bge-base-en-v1.5")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_shop_sends_no_private_data(
    emulator: ServedEmulator, monkeypatch: pytest.MonkeyPatch, framework: str
) -> None:
    secrets = {
        "cookie": "session=cookie-secret-5d1c; ep_interests=phones",
        "ip": "203.0.113.77",
        "agent": "PrivacyProbe/9.9",
    }
    headers = BROWSER | {
        "User-Agent": f"Mozilla/5.0 (X11; Linux x86_64) {secrets['agent']}",
        "Cookie": secrets["cookie"],
        "X-Forwarded-For": secrets["ip"],
        "X-Real-IP": secrets["ip"],
        "CF-Connecting-IP": secrets["ip"],
        "Forwarded": f"for={secrets['ip']}",
    }
    env = provider_env("openai", emulator)
    with serve_shop(framework, env, monkeypatch) as base_url:
        fetch(base_url, headers)

    assert len(emulator.received) == 1
    received = emulator.received[0]
    sent = received.body.decode() + repr(received.headers)
    assert "phones" in received.body.decode()
    for value in ("cookie-secret-5d1c", "session=", secrets["ip"], secrets["agent"]):
        assert value not in sent
    assert HOST not in received.body.decode()
    assert "Firefox" not in sent
    assert received.headers["user-agent"] == "edge-personalize"


# --- every fault ends in a whole page with the fallback ------------------------------

# Faults that fail at once: the chain's next provider, the embedded
# recommender, fills the slot.
FAST_FAULTS = [
    "429",
    "429-no-hint",
    "3040",
    "500",
    "503",
    "malformed",
    "truncated",
    "error-200",
    "wrong-shape",
]
# Faults that hold the provider past the deadline: the placeholder keeps
# the shop's own fallback markup.
SLOW_FAULTS = ["latency", "drip", "hang"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("kind", ["workers-ai", "openai"])
@pytest.mark.parametrize("fault", FAST_FAULTS)
def test_shop_fast_fault_falls_back(
    emulator: ServedEmulator,
    monkeypatch: pytest.MonkeyPatch,
    framework: str,
    kind: str,
    fault: str,
) -> None:
    emulator.fault = fault
    # A retry that fits is taken: with "Retry-After: 0" the second attempt
    # fails at once too, and the embedded recommender fills the slot. The
    # deadline leaves room for both on a loaded machine.
    emulator.retry_after = "0"
    env = provider_env(kind, emulator) | {"EP_DEADLINE": ROOMY_DEADLINE}
    with serve_shop(framework, env, monkeypatch) as base_url:
        found = recommended_ids(base_url)
    assert found == catalog_ids()
    assert emulator.received


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("kind", PROVIDERS)
@pytest.mark.parametrize("fault", SLOW_FAULTS)
def test_shop_slow_fault_keeps_fallback(
    emulator: ServedEmulator,
    monkeypatch: pytest.MonkeyPatch,
    framework: str,
    kind: str,
    fault: str,
) -> None:
    if fault == "latency":
        emulator.latency = 30.0
    else:
        emulator.fault = fault
    with serve_shop(framework, provider_env(kind, emulator), monkeypatch) as base_url:
        found = recommended_ids(base_url)
    assert found is None
    assert emulator.received


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("kind", PROVIDERS)
def test_shop_refused_falls_back(
    emulator: ServedEmulator, monkeypatch: pytest.MonkeyPatch, framework: str, kind: str
) -> None:
    served_at = emulator.base_url
    emulator.base_url = refused_url()
    try:
        env = provider_env(kind, emulator)
    finally:
        emulator.base_url = served_at
    env["EP_DEADLINE"] = ROOMY_DEADLINE
    with serve_shop(framework, env, monkeypatch) as base_url:
        found = recommended_ids(base_url)
    assert found == catalog_ids()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_shop_reset_falls_back(
    emulator: ServedEmulator,
    resetter: ResetServer,
    monkeypatch: pytest.MonkeyPatch,
    framework: str,
) -> None:
    env = provider_env("http", emulator) | {
        "EP_HTTP_URL": f"{resetter.url}/recommend",
        "EP_DEADLINE": ROOMY_DEADLINE,
    }
    with serve_shop(framework, env, monkeypatch) as base_url:
        found = recommended_ids(base_url)
    assert found == catalog_ids()
    assert resetter.connections >= 1


def test_shop_unknown_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EP_PROVIDER", "gpt")
    with pytest.raises(ConfigurationError, match="EP_PROVIDER='gpt' is invalid"):
        shop.build_providers(CATALOG)


def test_shop_openai_needs_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EP_PROVIDER", "openai")
    monkeypatch.delenv("EP_OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="EP_OPENAI_BASE_URL"):
        shop.build_providers(CATALOG)
