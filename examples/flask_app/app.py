"""The Flask example shop, a catalog whose pages are personalized.

The app renders plain pages with placeholder comments. The WSGI middleware
wraps ``app.wsgi_app`` and fills the placeholders on the way out, so the
views know nothing about personalization. Run it with
``python -m examples.flask_app`` or with any WSGI server, for example
``gunicorn 'examples.flask_app.app:create_app()'``.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response, abort, jsonify, render_template, request

from edge_personalize import Personalizer
from edge_personalize.providers.base import Provider
from edge_personalize.wsgi import PersonalizeMiddleware

from .. import shop

__all__ = ["create_app"]


def create_app(
    personalizer: Personalizer | None = None,
    *,
    providers: Sequence[Provider] | None = None,
) -> Flask:
    """Build the Flask shop.

    :param personalizer: the personalizer to wrap the app with. The
        default is the shop's own, from ``shop.build_personalizer``.
    :param providers: providers for both slots of the default
        personalizer, for example a failing one in a test. Give either
        this or ``personalizer``.
    """
    shop.check_app_arguments(personalizer, providers)
    catalog = shop.load_catalog()
    if personalizer is None:
        personalizer = shop.build_personalizer(catalog, providers)

    app = Flask(
        __name__,
        static_folder=str(shop.STATIC_DIR),
        static_url_path="/static",
        template_folder=str(shop.TEMPLATES_DIR),
    )
    app.add_template_filter(shop.format_price, "price")
    app.add_template_filter(shop.category_label, "category_label")

    @app.context_processor
    def add_framework_name() -> dict[str, str]:
        return {"framework": "Flask"}

    @app.get("/")
    def index() -> str:
        return render_template(
            "index.html",
            products=list(catalog),
            categories=shop.categories(catalog),
            popular=shop.popular_products(catalog),
        )

    @app.get("/products/<slug>")
    def product_page(slug: str) -> Response:
        product = catalog.by_slug(slug)
        if product is None:
            abort(404)

        html = render_template(
            "product.html",
            product=product,
            popular=shop.popular_products(catalog, exclude=product.id),
        )
        response = Response(html, mimetype="text/html")
        viewed = shop.update_viewed(request.cookies.get(shop.VIEWED_COOKIE), product.id)
        response.headers.add("Set-Cookie", shop.viewed_cookie_header(viewed))
        return response

    @app.get("/thumbs/<product_id>.svg")
    def thumbnail(product_id: str) -> Response:
        product = catalog.get(product_id)
        if product is None:
            abort(404)

        response = Response(shop.render_thumbnail(product), mimetype="image/svg+xml")
        response.cache_control.public = True
        response.cache_control.max_age = 86400
        return response

    @app.get("/api/products/<slug>")
    def product_json(slug: str) -> Response:
        product = catalog.by_slug(slug)
        if product is None:
            abort(404)
        return jsonify(shop.product_record(product))

    # Flask declares wsgi_app as a method, and replacing it on the instance
    # is the documented way to add WSGI middleware.
    app.wsgi_app = PersonalizeMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, personalizer
    )
    return app
