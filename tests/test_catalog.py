from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from edge_personalize.catalog import (
    Catalog,
    Product,
    slugify,
    term_key,
    term_words,
)
from edge_personalize.exceptions import CatalogError, ConfigurationError

REPO = Path(__file__).resolve().parents[1]
CATALOG_FILE = REPO / "examples" / "catalog" / "products.json"
EXAMPLE_CATALOG = REPO / "examples" / "catalog" / "products.json"


@pytest.fixture(scope="module")
def raw_products() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_file(CATALOG_FILE)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- loading the real catalog ------------------------------------------------


def test_real_catalog_size(catalog: Catalog) -> None:
    assert len(catalog) == 194


def test_real_catalog_first_product(catalog: Catalog) -> None:
    assert catalog.products[0] == Product(
        id="1",
        slug="essence-mascara-lash-princess",
        title="Essence Mascara Lash Princess",
        url="/products/essence-mascara-lash-princess",
        description=(
            "The Essence Mascara Lash Princess is a popular mascara known for its "
            "volumizing and lengthening effects. Achieve dramatic lashes with "
            "this long-lasting and cruelty-free formula."
        ),
        category="beauty",
        tags=("beauty", "mascara"),
        brand="Essence",
        price=9.99,
        currency="USD",
        rating=2.56,
        image_url=(
            "https://cdn.dummyjson.com/product-images/beauty/"
            "essence-mascara-lash-princess/thumbnail.webp"
        ),
    )


def test_real_catalog_file_order(
    catalog: Catalog, raw_products: list[dict[str, Any]]
) -> None:
    assert [p.id for p in catalog] == [str(r["id"]) for r in raw_products]


def test_real_catalog_missing_brand(catalog: Catalog) -> None:
    product = catalog.get("16")
    assert product is not None
    assert product.brand == ""


def test_real_catalog_slugs_unique(catalog: Catalog) -> None:
    slugs = [p.slug for p in catalog]
    assert len(set(slugs)) == len(slugs)


def test_real_catalog_slug_grammar(catalog: Catalog) -> None:
    for product in catalog:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", product.slug), product.slug


def test_real_catalog_duplicate_title(catalog: Catalog) -> None:
    # Two products share the title "Rolex Cellini Moonphase".
    first = catalog.get("96")
    second = catalog.get("191")
    assert first is not None
    assert second is not None
    assert first.slug == "rolex-cellini-moonphase"
    assert second.slug == "rolex-cellini-moonphase-191"


def test_real_catalog_lookups(catalog: Catalog) -> None:
    for product in catalog:
        assert catalog.get(product.id) is product
        assert catalog.by_slug(product.slug) is product


def test_lookup_unknown(catalog: Catalog) -> None:
    assert catalog.get("no-such-id") is None
    assert catalog.by_slug("no-such-slug") is None


def test_example_copy_identical() -> None:
    original = shared_catalog_dir() / "products.json"
    assert EXAMPLE_CATALOG.read_bytes() == original.read_bytes()


def test_example_licence_identical() -> None:
    licence = REPO / "examples" / "catalog" / "LICENSE"
    original = shared_catalog_dir() / "LICENSE.dummyjson"
    assert licence.read_bytes() == original.read_bytes()


def shared_catalog_dir() -> Path:
    """The original catalog beside the repository, or skip without it."""
    path = REPO.parent / "shared" / "data" / "catalog"
    if not path.is_dir() and os.environ.get("EP_REQUIRE_SHARED") != "1":
        pytest.skip(f"{path} is missing: it sits beside the repository in CI.")
    return path


def test_templates_applied() -> None:
    catalog = Catalog.from_file(
        CATALOG_FILE, url_template="/p/{id}/{slug}", image_template="/thumbs/{id}.svg"
    )
    product = catalog.get("1")
    assert product is not None
    assert product.url == "/p/1/essence-mascara-lash-princess"
    assert product.image_url == "/thumbs/1.svg"


def test_currency_option() -> None:
    catalog = Catalog.from_file(CATALOG_FILE, currency="eur")
    assert {p.currency for p in catalog} == {"EUR"}


def test_currency_none() -> None:
    catalog = Catalog.from_file(CATALOG_FILE, currency=None)
    assert {p.currency for p in catalog} == {None}


def test_products_key_shape(tmp_path: Path, raw_products: list[dict[str, Any]]) -> None:
    path = write_json(tmp_path / "api.json", {"products": raw_products, "total": 194})
    assert Catalog.from_file(path).products == Catalog.from_file(CATALOG_FILE).products


def test_suffix_case_insensitive(tmp_path: Path) -> None:
    path = write_json(tmp_path / "c.JSON", [{"id": 1, "title": "One"}])
    assert len(Catalog.from_file(path)) == 1


def test_json_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"id": 1, "title": "A"}]).encode())
    assert len(Catalog.from_file(path)) == 1


# --- CSV -------------------------------------------------------------------

CSV_FIELDS = [
    "id",
    "title",
    "description",
    "category",
    "tags",
    "brand",
    "price",
    "rating",
    "thumbnail",
]


def test_csv_round_trip(tmp_path: Path, raw_products: list[dict[str, Any]]) -> None:
    path = tmp_path / "products.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for record in raw_products:
            writer.writerow({**record, "tags": "|".join(record["tags"])})

    from_csv = Catalog.from_file(path)
    from_json = Catalog.from_file(CATALOG_FILE)
    assert from_csv.products == from_json.products


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        pytest.param("a|b c|d", ("a", "b c", "d"), id="pipes"),
        pytest.param("a,b , c", ("a", "b", "c"), id="commas"),
        pytest.param("a,b|c", ("a,b", "c"), id="pipes-win"),
        pytest.param(" | a || a ", ("a",), id="blanks-and-repeats"),
        pytest.param("", (), id="empty"),
    ],
)
def test_csv_tags(tmp_path: Path, cell: str, expected: tuple[str, ...]) -> None:
    path = tmp_path / "c.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([["id", "title", "tags"], ["1", "One", cell]])
    assert Catalog.from_file(path).products[0].tags == expected


def test_csv_empty_cells_missing(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,title,price,rating,brand\n7,Seven,,,\n", encoding="utf-8")
    product = Catalog.from_file(path).products[0]
    assert product.price is None
    assert product.rating is None
    assert product.brand == ""


def test_csv_short_row(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,title,price\n7,Seven\n", encoding="utf-8")
    assert Catalog.from_file(path).products[0].price is None


# --- records -------------------------------------------------------------------


def test_records_name_as_title() -> None:
    catalog = Catalog.from_records([{"id": "a", "name": "Alpha"}])
    assert catalog.products[0].title == "Alpha"


def test_records_explicit_fields() -> None:
    catalog = Catalog.from_records(
        [
            {
                "id": " x1 ",
                "title": " Thing ",
                "slug": "the-thing",
                "url": "https://shop.example/thing",
                "image_url": "/img/thing.png",
                "currency": "gbp",
                "price": "3.5",
                "rating": 4,
                "tags": "a|b",
            }
        ]
    )
    product = catalog.products[0]
    assert product.id == "x1"
    assert product.title == "Thing"
    assert product.slug == "the-thing"
    assert product.url == "https://shop.example/thing"
    assert product.image_url == "/img/thing.png"
    assert product.currency == "GBP"
    assert product.price == 3.5
    assert product.rating == 4.0
    assert product.tags == ("a", "b")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("image_url", "/a.png", id="image_url"),
        pytest.param("image", "/b.png", id="image"),
        pytest.param("thumbnail", "/c.png", id="thumbnail"),
    ],
)
def test_records_image_fields(field: str, value: str) -> None:
    catalog = Catalog.from_records([{"id": 1, "title": "T", field: value}])
    assert catalog.products[0].image_url == value


def test_records_image_field_order() -> None:
    record = {"id": 1, "title": "T", "thumbnail": "/c.png", "image_url": "/a.png"}
    assert Catalog.from_records([record]).products[0].image_url == "/a.png"


def test_records_image_template_wins() -> None:
    record = {"id": 1, "title": "T", "thumbnail": "https://cdn.example/t.webp"}
    catalog = Catalog.from_records([record], image_template="/thumbs/{id}.svg")
    assert catalog.products[0].image_url == "/thumbs/1.svg"


def test_records_slug_quoted_in_url() -> None:
    catalog = Catalog.from_records(
        [{"id": "a/b", "title": "T", "slug": "javascript:x y"}]
    )
    assert catalog.products[0].url == "/products/javascript%3Ax%20y"


def test_records_id_quoted_in_url() -> None:
    catalog = Catalog.from_records(
        [{"id": "a/b?", "title": "T"}], url_template="/p/{id}"
    )
    assert catalog.products[0].url == "/p/a%2Fb%3F"


@pytest.mark.parametrize(
    ("titles", "expected"),
    [
        pytest.param(["Crème Brûlée"], ["creme-brulee"], id="accents"),
        pytest.param(["Dior J'adore"], ["dior-j-adore"], id="apostrophe"),
        pytest.param(["A", "A", "A"], ["a", "a-2", "a-3"], id="clash-appends-id"),
        pytest.param(["日本茶"], ["1"], id="no-ascii-uses-id"),
        pytest.param(["!!!"], ["1"], id="punctuation-uses-id"),
    ],
)
def test_records_slug_derived(titles: list[str], expected: list[str]) -> None:
    records = [{"id": i + 1, "title": title} for i, title in enumerate(titles)]
    assert [p.slug for p in Catalog.from_records(records)] == expected


def test_records_explicit_slug_reserved() -> None:
    # The explicit slug of the later record wins over the derived slug of
    # the earlier one.
    records = [{"id": 1, "title": "Mug"}, {"id": 2, "title": "Cup", "slug": "mug"}]
    assert [p.slug for p in Catalog.from_records(records)] == ["mug-1", "mug"]


def test_records_derived_clash_with_suffix() -> None:
    records = [
        {"id": "e", "title": "A", "slug": "a-2"},
        {"id": 1, "title": "A"},
        {"id": 2, "title": "A"},
    ]
    slugs = [p.slug for p in Catalog.from_records(records)]
    assert slugs == ["a-2", "a", "a-2-2"]


def test_records_generator() -> None:
    catalog = Catalog.from_records({"id": i, "title": f"T{i}"} for i in range(3))
    assert [p.id for p in catalog] == ["0", "1", "2"]


# --- errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "fragments"),
    [
        pytest.param([], ["contains no products"], id="empty"),
        pytest.param(["x"], ["record 0", "not a str"], id="not-an-object"),
        pytest.param([{"title": "T"}], ["record 0", "'id'"], id="missing-id"),
        pytest.param([{"id": "  ", "title": "T"}], ["record 0", "'id'"], id="blank-id"),
        pytest.param(
            [{"id": 1.5, "title": "T"}], ["record 0", "'id'", "1.5"], id="float-id"
        ),
        pytest.param(
            [{"id": True, "title": "T"}], ["record 0", "'id'", "True"], id="bool-id"
        ),
        pytest.param(
            [{"id": 1}], ["record 0", "id '1'", "'title'"], id="missing-title"
        ),
        pytest.param(
            [{"id": 1, "title": 5}], ["id '1'", "'title'", "5"], id="title-type"
        ),
        pytest.param(
            [{"id": 1, "title": "A"}, {"id": "1", "title": "B"}],
            ["record 1", "duplicate id", "record 0"],
            id="duplicate-id",
        ),
        pytest.param(
            [
                {"id": 1, "title": "A", "slug": "s"},
                {"id": 2, "title": "B", "slug": "s"},
            ],
            ["record 1", "duplicate slug 's'", "record 0"],
            id="duplicate-slug",
        ),
        pytest.param(
            [{"id": 1, "title": "T", "price": "abc"}],
            ["'price'", "'abc'"],
            id="price-text",
        ),
        pytest.param(
            [{"id": 1, "title": "T", "price": -1}],
            ["'price'", ">= 0"],
            id="price-negative",
        ),
        pytest.param(
            [{"id": 1, "title": "T", "price": True}],
            ["'price'", "True"],
            id="price-bool",
        ),
        pytest.param(
            [{"id": 1, "title": "T", "price": 10**400}],
            ["'price'", "finite"],
            id="price-huge-int",
        ),
        pytest.param(
            [{"id": 1, "title": "T", "price": float("nan")}],
            ["'price'", "finite"],
            id="price-nan",
        ),
        pytest.param(
            [{"id": 1, "title": "T", "rating": "good"}],
            ["'rating'", "'good'"],
            id="rating-text",
        ),
        pytest.param(
            [{"id": 1, "title": "T", "tags": 3}], ["'tags'", "3"], id="tags-type"
        ),
        pytest.param(
            [{"id": 1, "title": "T", "tags": ["a", 2]}], ["'tags'", "2"], id="tag-type"
        ),
        pytest.param(
            [{"id": 1, "title": "T", "currency": "dollars"}],
            ["'currency'"],
            id="currency",
        ),
        pytest.param(
            [{"id": 1, "title": "T", "url": "javascript:alert(1)"}],
            ["'url'", "javascript"],
            id="url-unsafe",
        ),
        pytest.param(
            [{"id": 1, "title": "T", "thumbnail": "data:image/png;base64,AA"}],
            ["'thumbnail'", "data:"],
            id="image-unsafe",
        ),
        pytest.param(
            [{"id": 1, "title": "T", "brand": ["x"]}], ["'brand'"], id="brand-type"
        ),
    ],
)
def test_records_errors(records: list[Any], fragments: list[str]) -> None:
    with pytest.raises(CatalogError) as caught:
        Catalog.from_records(records)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_error_names_file_and_record(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "shop.json",
        [{"id": 1, "title": "A"}, {"id": 2, "title": "B", "price": "x"}],
    )
    with pytest.raises(CatalogError) as caught:
        Catalog.from_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "record 1 (id '2')" in message
    assert "'price'" in message
    assert "leave the field out" in message


@pytest.mark.parametrize(
    ("name", "content", "fragments"),
    [
        pytest.param("c.json", b"[{", ["not valid JSON", "line 1"], id="invalid-json"),
        pytest.param(
            "c.json", b'{"items": []}', ["JSON list", "dict"], id="json-object"
        ),
        pytest.param("c.json", b"42", ["JSON list", "int"], id="json-number"),
        pytest.param("c.json", b"[]", ["contains no products"], id="json-empty"),
        pytest.param("c.json", b"\xff\xfe[]", ["UTF-8"], id="not-utf8"),
        pytest.param("c.csv", b"", ["contains no products"], id="csv-empty"),
        pytest.param(
            "c.csv", b"id,title\n", ["contains no products"], id="csv-header-only"
        ),
        pytest.param(
            "c.csv",
            b'id,title\n1,"One"x\n',
            ["not valid CSV", "line 2"],
            id="csv-bad-quote",
        ),
        pytest.param(
            "c.csv",
            b"id,title\n1,One,extra\n",
            ["line 2", "more cells"],
            id="csv-extra-cell",
        ),
        pytest.param(
            "c.csv", b"id,title\n1,\n", ["line 2", "'title'"], id="csv-missing-title"
        ),
        pytest.param("c.txt", b"[]", [".txt", ".json or .csv"], id="suffix"),
        pytest.param("c", b"[]", ["''", ".json or .csv"], id="no-suffix"),
    ],
)
def test_file_errors(
    tmp_path: Path, name: str, content: bytes, fragments: list[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CatalogError) as caught:
        Catalog.from_file(path)
    assert str(path) in str(caught.value)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_file_huge_integer(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('[{"id": ' + "9" * 5000 + ', "title": "T"}]', encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        Catalog.from_file(path)
    assert "cannot be parsed" in str(caught.value)


def test_file_deep_nesting(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        Catalog.from_file(path)
    assert "cannot be parsed" in str(caught.value)


@pytest.mark.parametrize(
    "path",
    [pytest.param(None, id="none"), pytest.param(b"c.json", id="bytes")],
)
def test_file_path_type(path: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Catalog.from_file(path)
    assert "path must be a str or a path" in str(caught.value)


@pytest.mark.parametrize(
    "records",
    [
        pytest.param(None, id="none"),
        pytest.param({"id": 1, "title": "T"}, id="one-mapping"),
        pytest.param("records", id="string"),
    ],
)
def test_records_not_a_list(records: Any) -> None:
    with pytest.raises(CatalogError) as caught:
        Catalog.from_records(records)
    assert "must be a list of mappings" in str(caught.value)


def test_constructor_rejects_non_product() -> None:
    with pytest.raises(CatalogError) as caught:
        Catalog([{"id": "1"}])  # type: ignore[list-item]
    assert "not a Product" in str(caught.value)


def test_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    with pytest.raises(CatalogError) as caught:
        Catalog.from_file(path)
    assert str(path) in str(caught.value)
    assert "not found" in str(caught.value)


def test_file_is_directory(tmp_path: Path) -> None:
    path = tmp_path / "dir.json"
    path.mkdir()
    with pytest.raises(CatalogError) as caught:
        Catalog.from_file(path)
    assert "cannot be read" in str(caught.value)


def test_catalog_error_is_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        Catalog.from_records([])


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        pytest.param({"url_template": 5}, "url_template must be a str", id="url-type"),
        pytest.param(
            {"url_template": "/products"}, "neither {slug} nor {id}", id="url-no-field"
        ),
        pytest.param(
            {"url_template": "/p/{sku}"}, "unknown fields ['sku']", id="url-unknown"
        ),
        pytest.param(
            {"url_template": "/p/{}"}, "unknown fields ['']", id="url-positional"
        ),
        pytest.param(
            {"url_template": "/p/{slug"}, "not a valid format string", id="url-syntax"
        ),
        pytest.param(
            {"url_template": "/p/{slug.x}"}, "unknown fields", id="url-attribute"
        ),
        pytest.param(
            {"url_template": "/p/{slug:d}"}, "cannot be formatted", id="url-spec"
        ),
        pytest.param(
            {"url_template": "javascript:{slug}"}, "not an http(s)", id="url-unsafe"
        ),
        pytest.param(
            {"image_template": "?img={id}"}, "image_template", id="image-self"
        ),
        pytest.param(
            {"image_template": "data:{id}"}, "not an http(s)", id="image-unsafe"
        ),
        pytest.param({"currency": "US"}, "ISO 4217", id="currency-short"),
        pytest.param({"currency": 840}, "ISO 4217", id="currency-number"),
    ],
)
def test_option_errors(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Catalog.from_records([{"id": 1, "title": "T"}], **options)
    assert fragment in str(caught.value)
    assert not isinstance(caught.value, CatalogError)


def test_option_errors_before_reading(tmp_path: Path) -> None:
    # A bad option is reported even when the file is missing: it is the
    # configuration, not the data, that is wrong.
    with pytest.raises(ConfigurationError) as caught:
        Catalog.from_file(tmp_path / "missing.json", url_template="/static")
    assert "url_template" in str(caught.value)


def test_constructor_rejects_duplicates() -> None:
    product = Product(id="1", slug="a", title="A", url="/a")
    with pytest.raises(CatalogError):
        Catalog([product, product])


# --- index -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Women's Shoes", "womens-shoes", id="apostrophe"),
        pytest.param("womens-shoes", "womens-shoes", id="already-key"),
        pytest.param("  Skin  Care ", "skin-care", id="spaces"),
        pytest.param("SKIN_CARE", "skin-care", id="underscore"),
        pytest.param("Ｂｅａｕｔｙ", "beauty", id="full-width"),
        pytest.param("Straße", "strasse", id="casefold"),
        pytest.param("!!!", "", id="punctuation"),
    ],
)
def test_term_key_cases(text: str, expected: str) -> None:
    assert term_key(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Mens Watches", ("men", "watch"), id="plural-es"),
        pytest.param("Kitchen Accessories", ("kitchen", "accessory"), id="plural-ies"),
        pytest.param("Glasses", ("glass",), id="plural-sses"),
        pytest.param("The Cat and a Dog", ("cat", "dog"), id="stopwords"),
        pytest.param("dress dresses", ("dress",), id="repeat"),
        pytest.param("x y z", (), id="one-letter"),
    ],
)
def test_term_words_cases(text: str, expected: tuple[str, ...]) -> None:
    assert term_words(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Crème Brûlée", "creme-brulee", id="accents"),
        pytest.param("  A -- B  ", "a-b", id="separators"),
        pytest.param("Ωmega", "mega", id="greek-dropped"),
        pytest.param("a" * 100, "a" * 80, id="bounded"),
    ],
)
def test_slugify_cases(text: str, expected: str) -> None:
    assert slugify(text) == expected


def test_index_category(catalog: Catalog) -> None:
    positions = catalog.index.by_category("Beauty")
    assert [catalog.products[i].id for i in positions] == ["1", "2", "3", "4", "5"]


def test_index_tag(catalog: Catalog) -> None:
    positions = catalog.index.by_tag("perfumes")
    assert {catalog.products[i].category for i in positions} == {"fragrances"}


def test_index_brand(catalog: Catalog) -> None:
    positions = catalog.index.by_brand("apple")
    assert positions
    assert {catalog.products[i].brand for i in positions} == {"Apple"}


def test_index_word(catalog: Catalog) -> None:
    positions = catalog.index.by_word("watch")
    categories = {catalog.products[i].category for i in positions}
    assert {"mens-watches", "womens-watches"} <= categories


def test_index_word_label(catalog: Catalog) -> None:
    assert catalog.index.label("watch") == "watches"


def test_index_positions_unique(catalog: Catalog) -> None:
    tables = (
        catalog.index.categories,
        catalog.index.tags,
        catalog.index.brands,
        catalog.index.words,
    )
    for table in tables:
        for positions in table.values():
            assert len(set(positions)) == len(positions)


def test_index_top_rated_order(catalog: Catalog) -> None:
    ratings = [catalog.products[i].rating for i in catalog.index.top_rated]
    assert ratings == sorted(ratings, reverse=True)  # type: ignore[type-var]


def test_index_top_rated_ties_by_id() -> None:
    records = [{"id": i, "title": f"T{i}", "rating": 4} for i in (10, 2, 33, 1)]
    catalog = Catalog.from_records(records)
    ids = [catalog.products[i].id for i in catalog.index.top_rated]
    assert ids == ["1", "2", "10", "33"]


def test_index_missing_rating_is_mean() -> None:
    records = [
        {"id": 1, "title": "A", "rating": 5},
        {"id": 2, "title": "B", "rating": 3},
        {"id": 3, "title": "C"},
    ]
    catalog = Catalog.from_records(records)
    assert catalog.index.priors == (1.0, 0.6, 0.8)


def test_index_immutable(catalog: Catalog) -> None:
    with pytest.raises(TypeError):
        catalog.index.categories["new"] = ()  # type: ignore[index]
