"""Catalog, personalizer, thumbnail and cookie code of the example shops.

The Flask and FastAPI shops serve the same catalog, the same generated
thumbnails and the same cookie of recently viewed products, so that their
pages differ only in the framework that renders them. The thumbnails are
SVG images made from each product's category and title, so the pages load
nothing from another host.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from edge_personalize import (
    Catalog,
    CatalogProvider,
    Context,
    Personalizer,
    Recommendation,
    RecommendationRequest,
    Slot,
)
from edge_personalize.cache import CacheBackend, MemoryCache, RedisCache
from edge_personalize.catalog import Product
from edge_personalize.exceptions import ConfigurationError
from edge_personalize.providers import HTTPProvider, OpenAIProvider, WorkersAIProvider
from edge_personalize.providers.base import Provider

__all__ = [
    "CATALOG_PATH",
    "ROUTES",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "VIEWED_COOKIE",
    "VIEWED_LIMIT",
    "TrendingProvider",
    "build_cache",
    "build_personalizer",
    "build_providers",
    "category_colour",
    "category_label",
    "categories",
    "check_app_arguments",
    "format_price",
    "load_catalog",
    "popular_products",
    "product_initials",
    "product_record",
    "render_thumbnail",
    "update_viewed",
    "viewed_cookie_header",
]

EXAMPLES_DIR = Path(__file__).resolve().parent
CATALOG_PATH = EXAMPLES_DIR / "catalog" / "products.json"
STATIC_DIR = EXAMPLES_DIR / "static"
# The page templates, shared by the Flask, FastAPI and Django shops.
TEMPLATES_DIR = EXAMPLES_DIR / "templates"

# The paths whose pages carry placeholders.
ROUTES = ("/products/:slug", "/")

VIEWED_COOKIE = "ep_viewed"
VIEWED_LIMIT = 20
VIEWED_MAX_AGE = 30 * 24 * 60 * 60  # seconds

# Product ids in the catalog are short numbers. Anything else in the cookie
# was not written by the shop, so it is dropped.
_PRODUCT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """Load the example catalog once per process.

    Product pages live at ``/products/{slug}`` and images at
    ``/thumbs/{id}.svg``, which the shops generate, so that the demo never
    loads an image from the catalog's original CDN.
    """
    return Catalog.from_file(
        CATALOG_PATH,
        url_template="/products/{slug}",
        image_template="/thumbs/{id}.svg",
    )


def build_personalizer(
    catalog: Catalog,
    providers: Sequence[Provider] | None = None,
    routes: Sequence[str] = ROUTES,
) -> Personalizer:
    """Build the personalizer of the example shops.

    The ``recommendations`` slot gets four items from the providers that
    :func:`build_providers` picks (the embedded catalog recommender unless
    ``EP_PROVIDER`` names a remote one), and the ``trending`` slot three
    items from :class:`TrendingProvider` under a "Trending" heading.
    ``providers``, when given, replace both, which is how tests swap in a
    failing or slow provider. ``routes`` are the paths to personalize.
    ``EP_DEADLINE`` sets the deadline in seconds (default 0.2).
    """
    if providers is None:
        recommendation_providers = build_providers(catalog)
        trending_providers: list[Provider] = [TrendingProvider(catalog)]
    else:
        recommendation_providers = list(providers)
        trending_providers = list(providers)

    return Personalizer(
        routes=list(routes),
        slots={
            "recommendations": Slot(providers=recommendation_providers, limit=4),
            "trending": Slot(providers=trending_providers, limit=3, heading="Trending"),
        },
        deadline=_seconds("EP_DEADLINE", os.environ.get("EP_DEADLINE", "0.2")),
        cache=build_cache(),
    )


def build_providers(catalog: Catalog) -> list[Provider]:
    """Return the providers of the ``recommendations`` slot, chosen by ``EP_PROVIDER``.

    ``EP_PROVIDER`` is ``catalog`` (the default: the embedded recommender
    alone), ``workers-ai``, ``openai`` or ``http``. A remote provider comes
    first and the embedded recommender after it, so that the slot is
    filled when the service fails or is slow. Each remote provider reads:

    - ``workers-ai``: ``CLOUDFLARE_ACCOUNT_ID``, ``CLOUDFLARE_API_TOKEN``,
      and optionally ``EP_WORKERS_AI_BASE_URL``, ``EP_WORKERS_AI_MODEL``
      and ``EP_WORKERS_AI_MODE`` (``text`` or ``embeddings``);
    - ``openai``: ``EP_OPENAI_BASE_URL``, ``EP_OPENAI_MODEL`` and
      optionally ``OPENAI_API_KEY``;
    - ``http``: ``EP_HTTP_URL``.

    ``EP_PROVIDER_TIMEOUT`` sets the seconds a remote call may take.
    """
    kind = os.environ.get("EP_PROVIDER", "catalog").strip().lower()
    fallback = CatalogProvider(catalog)
    if kind == "catalog":
        return [fallback]

    options: dict[str, Any] = {"catalog": catalog}
    timeout = os.environ.get("EP_PROVIDER_TIMEOUT")
    if timeout:
        options["timeout"] = _seconds("EP_PROVIDER_TIMEOUT", timeout)

    remote: Provider
    if kind == "workers-ai":
        for name, option in (
            ("EP_WORKERS_AI_BASE_URL", "base_url"),
            ("EP_WORKERS_AI_MODEL", "model"),
            ("EP_WORKERS_AI_MODE", "mode"),
        ):
            if os.environ.get(name):
                options[option] = os.environ[name]
        remote = WorkersAIProvider(**options)
    elif kind == "openai":
        remote = OpenAIProvider(
            base_url=_required("EP_OPENAI_BASE_URL"),
            model=_required("EP_OPENAI_MODEL"),
            **options,
        )
    elif kind == "http":
        remote = HTTPProvider(url=_required("EP_HTTP_URL"), **options)
    else:
        raise ConfigurationError(
            f"EP_PROVIDER={kind!r} is invalid; use 'catalog', 'workers-ai', "
            "'openai' or 'http'."
        )
    return [remote, fallback]


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError(
            f"EP_PROVIDER={os.environ.get('EP_PROVIDER')!r} needs the environment "
            f"variable {name}; set it (see docs/providers.md)."
        )
    return value


def _seconds(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigurationError(
            f"{name}={value!r} is invalid; use a number of seconds such as 1.5."
        ) from None


def build_cache() -> CacheBackend:
    """Return the shops' recommendation cache, chosen by environment variables.

    With ``EP_REDIS_URL`` set (``redis://127.0.0.1:6379/0``, say), every
    worker process shares a :class:`RedisCache` under the key prefix
    ``EP_REDIS_PREFIX`` (default ``ep-shop:``). Without it, each process
    keeps its own :class:`MemoryCache`.
    """
    url = os.environ.get("EP_REDIS_URL")
    if not url:
        return MemoryCache()
    return RedisCache(url, prefix=os.environ.get("EP_REDIS_PREFIX", "ep-shop:"))


class TrendingProvider:
    """Recommend the catalog's best-rated products, for the ``trending`` slot.

    The example catalog has no sales data, so ratings stand in for trends.
    Like the catalog recommender, it leaves out the product named by the
    route parameter ``slug`` and the products in the viewed cookie.
    """

    # The context fields it reads, so that the cache keeps one entry per
    # product page and viewed list, whatever the visitor's other signals.
    features = frozenset({"params", "viewed"})

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.ranked = popular_products(catalog, limit=len(catalog))

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        """Return up to ``request.limit`` best-rated products not excluded."""
        excluded = self._excluded_ids(request.context)
        items: list[Recommendation] = []
        for product in self.ranked:
            if len(items) >= request.limit:
                break
            if product.id in excluded:
                continue
            items.append(
                Recommendation(
                    id=product.id,
                    title=product.title,
                    url=product.url,
                    image_url=product.image_url,
                    price=product.price,
                    currency=product.currency,
                    reason="Top rated",
                )
            )
        return items

    def _excluded_ids(self, context: Context) -> set[str]:
        entries = list(context.viewed)
        slug = context.params.get("slug")
        if isinstance(slug, str):
            entries.append(slug)

        excluded: set[str] = set()
        for entry in entries:
            product = self.catalog.get(entry) or self.catalog.by_slug(entry)
            if product is not None:
                excluded.add(product.id)
        return excluded


def check_app_arguments(
    personalizer: Personalizer | None, providers: Sequence[Provider] | None
) -> None:
    """Raise ``ConfigurationError`` when an app factory gets both arguments."""
    if personalizer is not None and providers is not None:
        raise ConfigurationError(
            "create_app() got both personalizer and providers; pass providers to "
            "use them in the shop's slots, or a whole Personalizer, not both."
        )


def categories(catalog: Iterable[Product]) -> list[str]:
    """Return the catalog's categories, sorted by name."""
    return sorted({product.category for product in catalog})


def category_label(category: str) -> str:
    """Turn a category slug such as ``mens-shirts`` into ``Mens shirts``."""
    return category.replace("-", " ").capitalize()


def popular_products(
    catalog: Iterable[Product], limit: int = 4, exclude: str | None = None
) -> list[Product]:
    """Return the best-rated products, the same for every visitor.

    Product pages show them as the fallback of the ``recommendations``
    placeholder, so that a page without personalization still reads well.
    """
    candidates = [product for product in catalog if product.id != exclude]
    candidates.sort(key=lambda product: (-(product.rating or 0.0), product.id))
    return candidates[:limit]


def format_price(product: Product) -> str:
    """Format a product's price with its currency, such as ``$9.99``."""
    if product.price is None:
        return ""
    currency = product.currency or ""
    symbol = _CURRENCY_SYMBOLS.get(currency)
    if symbol is None:
        return f"{product.price:.2f} {currency}".strip()
    return f"{symbol}{product.price:.2f}"


def product_record(product: Product) -> dict[str, Any]:
    """Return the JSON form of a product for the ``/api/products`` routes."""
    return {
        "id": product.id,
        "slug": product.slug,
        "title": product.title,
        "url": product.url,
        "category": product.category,
        "brand": product.brand,
        "price": product.price,
        "currency": product.currency,
        "rating": product.rating,
        "image_url": product.image_url,
    }


def category_colour(category: str) -> str:
    """Return a stable, dark background colour for ``category`` as ``#rrggbb``.

    The colour comes from a hash of the name, so it is the same in every
    process (Python's ``hash()`` of a str is not).
    """
    digest = hashlib.sha256(category.encode("utf-8")).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    red, green, blue = colorsys.hls_to_rgb(hue, 0.38, 0.45)
    return "#" + "".join(
        f"{round(channel * 255):02x}" for channel in (red, green, blue)
    )


def product_initials(title: str) -> str:
    """Return up to two upper-case initials of a product title."""
    words = re.findall(r"\w+", title)
    return "".join(word[0] for word in words[:2]).upper() or "?"


def render_thumbnail(product: Product) -> str:
    """Render a product's thumbnail as SVG, its initials on its category's colour.

    Title and initials come from the catalog, so both are escaped before
    they go into the SVG document.
    """
    title = escape(product.title, quote=True)
    initials = escape(product_initials(product.title), quote=True)
    colour = category_colour(product.category)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="160" '
        f'viewBox="0 0 160 160" role="img" aria-label="{title}">'
        f"<title>{title}</title>"
        f'<rect width="160" height="160" rx="16" fill="{colour}"/>'
        '<text x="80" y="80" dy="0.35em" text-anchor="middle" '
        'font-family="system-ui, sans-serif" font-size="56" font-weight="600" '
        f'fill="#ffffff">{initials}</text>'
        "</svg>\n"
    )


def update_viewed(cookie_value: str | None, product_id: str) -> str:
    """Put ``product_id`` first in the viewed list and return the new value.

    The value is a comma-separated list of product ids, most recent first,
    without duplicates and at most ``VIEWED_LIMIT`` long. Ids that the
    shop cannot have written are dropped.
    """
    previous = (cookie_value or "").strip().strip('"')
    viewed = [product_id]
    for item in previous.split(","):
        item = item.strip()
        if item in viewed or not _PRODUCT_ID_RE.fullmatch(item):
            continue
        viewed.append(item)
        if len(viewed) == VIEWED_LIMIT:
            break
    return ",".join(viewed)


def viewed_cookie_header(value: str) -> str:
    """Return the ``Set-Cookie`` header value that stores the viewed list.

    The header is written by hand because Werkzeug and Starlette both put a
    value that contains commas in quotes and escape each comma as
    ``\\054``. The plain list stays readable in browser tools and logs,
    and browsers send it back unchanged.
    """
    return (
        f"{VIEWED_COOKIE}={value}; Max-Age={VIEWED_MAX_AGE}; Path=/; "
        "SameSite=Lax; HttpOnly"
    )
