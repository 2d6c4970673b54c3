"""Views of the Django example shop.

The views render plain pages with placeholder comments and contain no
personalization code. The middleware fills the placeholders on the way
out.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.cache import patch_cache_control

from .. import shop
from .personalization import remember_category


def index(request: HttpRequest) -> TemplateResponse:
    """Render the home page: interest links, recommendations, the catalog."""
    catalog = shop.load_catalog()
    return TemplateResponse(
        request,
        "index.html",
        {
            "products": list(catalog),
            "categories": shop.categories(catalog),
            "popular": shop.popular_products(catalog),
        },
    )


def product_page(request: HttpRequest, slug: str) -> TemplateResponse:
    """Render a product page and remember the product as viewed."""
    catalog = shop.load_catalog()
    product = catalog.by_slug(slug)
    if product is None:
        raise Http404("Product not found")

    remember_category(request, product.category)
    response = TemplateResponse(
        request,
        "product.html",
        {
            "product": product,
            "popular": shop.popular_products(catalog, exclude=product.id),
        },
    )
    # Written by hand, like in the other shops: response.set_cookie() would
    # quote the comma-separated list.
    viewed = shop.update_viewed(request.COOKIES.get(shop.VIEWED_COOKIE), product.id)
    response.headers["Set-Cookie"] = shop.viewed_cookie_header(viewed)
    return response


def thumbnail(request: HttpRequest, product_id: str) -> HttpResponse:
    """Serve a product's generated SVG thumbnail."""
    product = shop.load_catalog().get(product_id)
    if product is None:
        raise Http404("Product not found")

    response = HttpResponse(
        shop.render_thumbnail(product), content_type="image/svg+xml"
    )
    patch_cache_control(response, public=True, max_age=86400)
    return response


def product_json(request: HttpRequest, slug: str) -> JsonResponse:
    """Return a product as JSON."""
    product = shop.load_catalog().by_slug(slug)
    if product is None:
        raise Http404("Product not found")
    return JsonResponse(shop.product_record(product))
