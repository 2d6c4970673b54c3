"""The apps the middleware benchmark runs, in-process and under real servers.

Each serves one real page at ``/about`` (no route matches it) and at
``/products/<slug>`` (personalized when wrapped). The factories at the end
are what uvicorn and gunicorn import.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from edge_personalize import CatalogProvider, Personalizer
from edge_personalize.asgi import PersonalizeMiddleware as ASGIMiddleware
from edge_personalize.wsgi import PersonalizeMiddleware as WSGIMiddleware

REPO = Path(__file__).resolve().parents[1]
CATALOG = REPO / "examples" / "catalog" / "products.json"
PAGES = REPO.parent / "shared" / "corpus" / "pages"
MARK = b"<!-- personalize:recommendations -->"
BROWSER = b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"
PRODUCT = "/products/essence-mascara-lash-princess"

_UNSET: Any = object()


def load_page() -> bytes:
    """Return a real page of 50-100 KB with a placeholder before ``</body>``.

    Falls back to a generated page, with a note on stderr, when the shared
    corpus is not beside the checkout.
    """
    pages = sorted(PAGES.glob("*.html")) if PAGES.is_dir() else []
    for path in pages:
        data = path.read_bytes()
        if 50_000 <= len(data) <= 100_000 and b"</body>" in data:
            return data.replace(b"</body>", MARK + b"</body>", 1)
    print(
        f"NOTE: no corpus page in {PAGES}; using a generated page, so the "
        "figures are not comparable with docs/benchmarks.md.",
        file=sys.stderr,
    )
    filler = b"<p>" + b"Lorem ipsum dolor sit amet. " * 40 + b"</p>\n"
    return b"<!doctype html><html><body>" + filler * 60 + MARK + b"</body></html>"


def personalizer(
    deadline: float = 0.2,
    providers: Sequence[Any] | None = None,
    cache: Any = _UNSET,
) -> Personalizer:
    options: dict[str, Any] = {} if cache is _UNSET else {"cache": cache}
    return Personalizer(
        routes=["/products/:slug"],
        providers=providers or [CatalogProvider.from_file(CATALOG)],
        deadline=deadline,
        **options,
    )


def flask_app(page: bytes, render_delay: float = 0.0) -> Flask:
    app = Flask("bench")

    @app.get("/about")
    def about() -> tuple[bytes, int, dict[str, str]]:
        return page, 200, {"Content-Type": "text/html; charset=utf-8"}

    @app.get("/products/<slug>")
    def product(slug: str) -> tuple[bytes, int, dict[str, str]]:
        if render_delay:
            time.sleep(render_delay)
        return page, 200, {"Content-Type": "text/html; charset=utf-8"}

    return app


def starlette_app(page: bytes, render_delay: float = 0.0) -> Starlette:
    async def about(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    async def product(request: Request) -> HTMLResponse:
        if render_delay:
            await asyncio.sleep(render_delay)
        return HTMLResponse(page)

    return Starlette(
        routes=[Route("/about", about), Route("/products/{slug}", product)]
    )


def starlette_bare() -> Starlette:
    return starlette_app(load_page())


def starlette_wrapped() -> ASGIMiddleware:
    return ASGIMiddleware(starlette_app(load_page()), personalizer())


def flask_bare() -> Any:
    return flask_app(load_page()).wsgi_app


def flask_wrapped() -> WSGIMiddleware:
    return WSGIMiddleware(flask_app(load_page()).wsgi_app, personalizer())
