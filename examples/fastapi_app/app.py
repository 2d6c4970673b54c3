"""The FastAPI example shop, a catalog whose pages are personalized.

The app renders plain Jinja2 pages with placeholder comments. The ASGI
middleware fills the placeholders on the way out, so the endpoints know
nothing about personalization. Run it with ``python -m
examples.fastapi_app`` or with uvicorn, for example
``uvicorn --factory examples.fastapi_app.app:create_app``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from edge_personalize import Personalizer
from edge_personalize.asgi import PersonalizeMiddleware
from edge_personalize.providers.base import Provider

from .. import shop

__all__ = ["create_app"]


# FastAPI (0.165) routes accept only the methods they list, so a GET route
# responds to HEAD with 405. Flask and Starlette add HEAD to GET routes.
PAGE_METHODS = ["GET", "HEAD"]


def create_app(
    personalizer: Personalizer | None = None,
    *,
    providers: Sequence[Provider] | None = None,
) -> FastAPI:
    """Build the FastAPI shop.

    :param personalizer: the personalizer the middleware uses. The default
        is the shop's own, from ``shop.build_personalizer``.
    :param providers: providers for both slots of the default
        personalizer, for example a failing one in a test. Give either
        this or ``personalizer``.
    """
    shop.check_app_arguments(personalizer, providers)
    catalog = shop.load_catalog()
    if personalizer is None:
        personalizer = shop.build_personalizer(catalog, providers)

    templates = Jinja2Templates(directory=shop.TEMPLATES_DIR)
    templates.env.filters["price"] = shop.format_price
    templates.env.filters["category_label"] = shop.category_label
    templates.env.globals["framework"] = "FastAPI"

    app = FastAPI(title="Example shop", docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=shop.STATIC_DIR), name="static")

    @app.api_route("/", methods=PAGE_METHODS, response_class=HTMLResponse)
    async def index(request: Request) -> Response:
        return templates.TemplateResponse(
            request,
            "index.html",
            {
                "products": list(catalog),
                "categories": shop.categories(catalog),
                "popular": shop.popular_products(catalog),
            },
        )

    @app.api_route(
        "/products/{slug}", methods=PAGE_METHODS, response_class=HTMLResponse
    )
    async def product_page(request: Request, slug: str) -> Response:
        product = catalog.by_slug(slug)
        if product is None:
            raise HTTPException(status_code=404, detail="Product not found")

        response = templates.TemplateResponse(
            request,
            "product.html",
            {
                "product": product,
                "popular": shop.popular_products(catalog, exclude=product.id),
            },
        )
        viewed = shop.update_viewed(request.cookies.get(shop.VIEWED_COOKIE), product.id)
        response.headers.append("set-cookie", shop.viewed_cookie_header(viewed))
        return response

    @app.api_route("/thumbs/{product_id}.svg", methods=PAGE_METHODS)
    async def thumbnail(product_id: str) -> Response:
        product = catalog.get(product_id)
        if product is None:
            raise HTTPException(status_code=404, detail="Product not found")

        return Response(
            shop.render_thumbnail(product),
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/api/products/{slug}")
    async def product_json(slug: str) -> dict[str, Any]:
        product = catalog.by_slug(slug)
        if product is None:
            raise HTTPException(status_code=404, detail="Product not found")
        return shop.product_record(product)

    app.add_middleware(PersonalizeMiddleware, personalizer=personalizer)
    return app
