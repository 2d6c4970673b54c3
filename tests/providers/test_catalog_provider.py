from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from edge_personalize.catalog import Catalog
from edge_personalize.context import Context
from edge_personalize.exceptions import ConfigurationError
from edge_personalize.providers import CatalogProvider, Provider
from edge_personalize.recommendation import Recommendation, RecommendationRequest

REPO = Path(__file__).resolve().parents[2]
CATALOG_FILE = REPO / "examples" / "catalog" / "products.json"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_file(CATALOG_FILE)


@pytest.fixture(scope="module")
def provider(catalog: Catalog) -> CatalogProvider:
    return CatalogProvider(catalog)


def recommend(
    provider: CatalogProvider, limit: int = 4, **context: Any
) -> list[Recommendation]:
    request = RecommendationRequest(Context(**context), "recommendations", limit)
    return asyncio.run(provider.recommend(request))


def categories(catalog: Catalog, items: list[Recommendation]) -> list[str]:
    found = [catalog.get(item.id) for item in items]
    return [product.category if product else "?" for product in found]


def slug_of(catalog: Catalog, item_id: str) -> str:
    product = catalog.get(item_id)
    assert product is not None
    return product.slug


# --- no signal ---------------------------------------------------------------


def test_no_signal_top_rated(catalog: Catalog, provider: CatalogProvider) -> None:
    items = recommend(provider, limit=8)
    ratings = [catalog.get(item.id).rating for item in items]  # type: ignore[union-attr]
    best = sorted((p.rating or 0 for p in catalog), reverse=True)[:8]
    assert ratings == best


def test_no_signal_reason(provider: CatalogProvider) -> None:
    items = recommend(provider)
    assert {item.reason for item in items} == {"Top rated"}


# --- interests -----------------------------------------------------------------


def test_interest_beauty_first(catalog: Catalog, provider: CatalogProvider) -> None:
    items = recommend(provider, limit=8, interests=("beauty",))
    assert categories(catalog, items)[:5] == ["beauty"] * 5


def test_interest_beauty_reason(provider: CatalogProvider) -> None:
    items = recommend(provider, limit=5, interests=("beauty",))
    assert {item.reason for item in items} == {"Because you like beauty"}


def test_interest_fills_with_top_rated(
    catalog: Catalog, provider: CatalogProvider
) -> None:
    # Only five products are in "beauty"; the rest of the list is filled.
    items = recommend(provider, limit=8, interests=("beauty",))
    assert len(items) == 8
    assert [item.reason for item in items[5:]] == ["Top rated"] * 3


@pytest.mark.parametrize(
    "interest",
    [
        pytest.param("Beauty", id="capitalised"),
        pytest.param("  BEAUTY ", id="upper-case-spaces"),
        pytest.param("beauty!!", id="punctuation"),
    ],
)
def test_interest_spelling(provider: CatalogProvider, interest: str) -> None:
    assert recommend(provider, interests=(interest,)) == recommend(
        provider, interests=("beauty",)
    )


def test_interest_category_with_apostrophe(
    catalog: Catalog, provider: CatalogProvider
) -> None:
    items = recommend(provider, interests=("Women's Shoes",))
    assert categories(catalog, items) == ["womens-shoes"] * 4


def test_interest_singular_word(catalog: Catalog, provider: CatalogProvider) -> None:
    items = recommend(provider, limit=6, interests=("watch",))
    assert all("watches" in category for category in categories(catalog, items))


def test_interest_word_reason_catalog_spelling(provider: CatalogProvider) -> None:
    items = recommend(provider, interests=("watch",))
    assert items[0].reason == "Because you like watches"


def test_interest_brand(catalog: Catalog, provider: CatalogProvider) -> None:
    items = recommend(provider, limit=5, interests=("rolex",))
    brands = {catalog.get(item.id).brand for item in items}  # type: ignore[union-attr]
    assert brands == {"Rolex"}


def test_interest_unknown(provider: CatalogProvider) -> None:
    assert recommend(provider, interests=("zzzz-unknown",)) == recommend(provider)


def test_interest_reason_not_visitor_text(provider: CatalogProvider) -> None:
    items = recommend(provider, interests=("<b>BEAUTY</b>",))
    assert items[0].reason == "Because you like beauty"


def test_interests_combined(catalog: Catalog, provider: CatalogProvider) -> None:
    items = recommend(provider, limit=10, interests=("beauty", "fragrances"))
    assert sorted(categories(catalog, items)) == ["beauty"] * 5 + ["fragrances"] * 5


def test_interests_bounded(provider: CatalogProvider) -> None:
    # Interests past the tenth are ignored, so a long list costs no more.
    many = tuple(f"unknown-{i}" for i in range(10)) + ("beauty",)
    assert recommend(provider, interests=many) == recommend(provider)


# --- current product ----------------------------------------------------------


def test_product_page_same_category(
    catalog: Catalog, provider: CatalogProvider
) -> None:
    items = recommend(provider, params={"slug": slug_of(catalog, "6")})
    assert categories(catalog, items) == ["fragrances"] * 4


def test_product_page_reason(catalog: Catalog, provider: CatalogProvider) -> None:
    items = recommend(provider, params={"slug": slug_of(catalog, "6")})
    assert items[0].reason == "More in Fragrances"


def test_product_page_excludes_current(
    catalog: Catalog, provider: CatalogProvider
) -> None:
    items = recommend(provider, limit=20, params={"slug": slug_of(catalog, "6")})
    assert "6" not in [item.id for item in items]


def test_product_page_same_brand_next(
    catalog: Catalog, provider: CatalogProvider
) -> None:
    # After the four other fragrances comes the other Calvin Klein product.
    items = recommend(provider, limit=5, params={"slug": slug_of(catalog, "6")})
    assert items[4].reason == "More from Calvin Klein"


def test_product_page_by_id(catalog: Catalog) -> None:
    provider = CatalogProvider(catalog, current_param="id")
    items = recommend(provider, params={"id": "6"})
    assert categories(catalog, items) == ["fragrances"] * 4


def test_product_page_param_order(catalog: Catalog, provider: CatalogProvider) -> None:
    # "slug" is tried first; an unknown slug falls through to "id".
    items = recommend(provider, params={"slug": "no-such", "id": "6"})
    assert categories(catalog, items) == ["fragrances"] * 4


def test_product_page_catch_all(catalog: Catalog, provider: CatalogProvider) -> None:
    params = {"slug": ("shop", slug_of(catalog, "6"))}
    items = recommend(provider, params=params)
    assert categories(catalog, items) == ["fragrances"] * 4


def test_product_page_unknown_slug(provider: CatalogProvider) -> None:
    assert recommend(provider, params={"slug": "no-such-product"}) == recommend(
        provider
    )


def test_product_page_with_interest(
    catalog: Catalog, provider: CatalogProvider
) -> None:
    # The page's category and the interest both count; items matching the
    # interest come before the rest of the top-rated list.
    items = recommend(
        provider, limit=9, params={"slug": slug_of(catalog, "6")}, interests=("beauty",)
    )
    assert sorted(categories(catalog, items)) == ["beauty"] * 5 + ["fragrances"] * 4


# --- exclusions, limit, determinism -----------------------------------------------


def test_viewed_excluded(catalog: Catalog, provider: CatalogProvider) -> None:
    items = recommend(
        provider, params={"slug": slug_of(catalog, "6")}, viewed=("7", "8")
    )
    ids = [item.id for item in items]
    assert "7" not in ids
    assert "8" not in ids


def test_viewed_slugs_excluded(catalog: Catalog, provider: CatalogProvider) -> None:
    top = recommend(provider, limit=2)
    items = recommend(provider, limit=2, viewed=(slug_of(catalog, top[0].id),))
    assert top[0].id not in [item.id for item in items]


def test_viewed_unknown_ignored(provider: CatalogProvider) -> None:
    assert recommend(provider, viewed=("no-such", "")) == recommend(provider)


@pytest.mark.parametrize("limit", [0, 1, 3, 12, 50])
def test_limit(provider: CatalogProvider, limit: int) -> None:
    assert len(recommend(provider, limit=limit, interests=("beauty",))) == limit


def test_limit_negative(provider: CatalogProvider) -> None:
    assert recommend(provider, limit=-1) == []


def test_limit_above_catalog() -> None:
    catalog = Catalog.from_records([{"id": i, "title": f"T{i}"} for i in range(5)])
    items = recommend(CatalogProvider(catalog), limit=10, viewed=("0",))
    assert sorted(item.id for item in items) == ["1", "2", "3", "4"]


def test_no_duplicates(provider: CatalogProvider, catalog: Catalog) -> None:
    items = recommend(
        provider,
        limit=30,
        params={"slug": slug_of(catalog, "6")},
        interests=("fragrances", "perfumes", "calvin klein"),
    )
    ids = [item.id for item in items]
    assert len(set(ids)) == len(ids)


def test_deterministic(provider: CatalogProvider) -> None:
    context = {"interests": ("kitchen", "beauty"), "viewed": ("1",)}
    assert recommend(provider, limit=10, **context) == recommend(
        provider, limit=10, **context
    )


def test_independent_of_file_order(catalog: Catalog) -> None:
    records = [
        {
            "id": p.id,
            "title": p.title,
            "category": p.category,
            "tags": list(p.tags),
            "brand": p.brand,
            "price": p.price,
            "rating": p.rating,
        }
        for p in catalog
    ]
    random.Random(4).shuffle(records)
    shuffled = CatalogProvider(Catalog.from_records(records))
    original = CatalogProvider(
        Catalog.from_records(sorted(records, key=lambda r: int(r["id"])))
    )
    context = {"interests": ("groceries",), "limit": 12}
    assert [i.id for i in recommend(shuffled, **context)] == [
        i.id for i in recommend(original, **context)
    ]


def test_ties_broken_by_id() -> None:
    records = [{"id": i, "title": f"T{i}", "rating": 4.0} for i in (10, 2, 33, 1)]
    provider = CatalogProvider(Catalog.from_records(records))
    assert [item.id for item in recommend(provider)] == ["1", "2", "10", "33"]


# --- output ------------------------------------------------------------------


def test_item_fields(catalog: Catalog) -> None:
    images = Catalog.from_file(CATALOG_FILE, image_template="/thumbs/{id}.svg")
    items = recommend(CatalogProvider(images), params={"slug": slug_of(catalog, "6")})
    first = items[0]
    product = images.get(first.id)
    assert product is not None
    assert first == Recommendation(
        id=product.id,
        title=product.title,
        url=product.url,
        image_url=f"/thumbs/{product.id}.svg",
        price=product.price,
        currency="USD",
        reason="More in Fragrances",
    )


def test_from_file_options() -> None:
    provider = CatalogProvider.from_file(CATALOG_FILE, url_template="/p/{id}")
    assert recommend(provider, limit=1)[0].url.startswith("/p/")


def test_from_file_current_param() -> None:
    provider = CatalogProvider.from_file(CATALOG_FILE, current_param=("item",))
    assert provider.current_param == ("item",)


def test_is_provider(provider: CatalogProvider) -> None:
    assert isinstance(provider, Provider)


def test_repr(provider: CatalogProvider) -> None:
    assert repr(provider).startswith("CatalogProvider(<Catalog of 194 products")


@pytest.mark.parametrize(
    ("catalog_value", "current_param"),
    [
        pytest.param("products.json", "slug", id="path-instead-of-catalog"),
        pytest.param(None, "slug", id="none"),
    ],
)
def test_rejects_catalog(catalog_value: Any, current_param: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CatalogProvider(catalog_value, current_param=current_param)
    assert "Catalog.from_file" in str(caught.value)


@pytest.mark.parametrize(
    "current_param",
    [
        pytest.param("", id="empty-name"),
        pytest.param((), id="empty-list"),
        pytest.param(("slug", 3), id="not-a-name"),
        pytest.param(None, id="none"),
    ],
)
def test_rejects_current_param(catalog: Catalog, current_param: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CatalogProvider(catalog, current_param=current_param)
    assert "current_param" in str(caught.value)
