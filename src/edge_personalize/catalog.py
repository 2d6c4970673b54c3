"""Product catalogs: load, validate and index a JSON or CSV catalog.

A :class:`Catalog` is loaded once, at start-up, and read by the embedded
recommender on every request. Loading checks every record and raises
:class:`~edge_personalize.exceptions.CatalogError` with the file, the
record and the field at fault. It also builds a :class:`CatalogIndex`, so
that a request looks products up by category, tag, brand or word instead
of scanning the catalog's text.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import reprlib
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from .exceptions import CatalogError, ConfigurationError
from .rendering import safe_url

__all__ = [
    "Catalog",
    "CatalogIndex",
    "Product",
    "slugify",
    "term_key",
    "term_words",
]

_TEMPLATE_FIELDS = frozenset({"id", "slug"})
_IMAGE_FIELDS = ("image_url", "image", "thumbnail")
_CURRENCY_RE = re.compile(r"[A-Za-z]{3}")
_SLUG_UNSAFE = re.compile(r"[^a-z0-9]+")
_KEY_UNSAFE = re.compile(r"[\W_]+")
_APOSTROPHES = str.maketrans("", "", "'\u2019")

# Words too common to say anything about a product.
_STOPWORDS = frozenset(
    {"a", "an", "and", "by", "for", "from", "in", "of", "on", "or", "the", "to"}
)


@dataclass(frozen=True)
class Product:
    """One catalog entry, with its URLs already resolved."""

    id: str
    slug: str
    title: str
    url: str
    description: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    brand: str = ""
    price: float | None = None
    currency: str | None = None
    rating: float | None = None
    image_url: str | None = None


def term_key(text: str) -> str:
    """Return the index key of a category, tag, brand or interest.

    Keys are case-folded, apostrophes are removed and every other run of
    non-word characters becomes ``-``: ``"Women's Shoes"`` and
    ``"womens-shoes"`` both give ``"womens-shoes"``.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    return _KEY_UNSAFE.sub("-", folded).strip("-")


def term_words(text: str) -> tuple[str, ...]:
    """Return the distinct index words of ``text``, in order of appearance.

    Words are the parts of :func:`term_key`, without stopwords and
    one-letter words, reduced to a rough singular (``"watches"`` gives
    ``"watch"``, ``"accessories"`` gives ``"accessory"``).
    """
    return tuple(dict.fromkeys(word for word, _ in _word_spellings(text)))


def _singular(word: str) -> str:
    # A rough English singular, good enough to match "watch" with
    # "watches". It uses no dictionary, so it also mangles a few words
    # ("news" gives "new"), but the same way on both sides of a match.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


@dataclass(frozen=True)
class CatalogIndex:
    """Lookup tables from terms to product positions, built at load time.

    Positions index :attr:`Catalog.products`. The ``by_*`` lookups take
    raw text and apply :func:`term_key` themselves. Per position,
    ``priors`` contains the rating divided by the catalog's best rating (a
    missing rating counts as the catalog's mean) and ``id_ranks`` the rank
    of the id in natural order (numeric ids by value, before other ids).
    ``top_rated`` lists every position from the highest prior down, ties
    broken by id.
    """

    categories: Mapping[str, tuple[int, ...]]
    tags: Mapping[str, tuple[int, ...]]
    brands: Mapping[str, tuple[int, ...]]
    words: Mapping[str, tuple[int, ...]]
    labels: Mapping[str, str]
    priors: tuple[float, ...]
    id_ranks: tuple[int, ...]
    top_rated: tuple[int, ...]

    def by_category(self, text: str) -> tuple[int, ...]:
        """Return the positions of products in category ``text``."""
        return self.categories.get(term_key(text), ())

    def by_tag(self, text: str) -> tuple[int, ...]:
        """Return the positions of products tagged ``text``."""
        return self.tags.get(term_key(text), ())

    def by_brand(self, text: str) -> tuple[int, ...]:
        """Return the positions of products of brand ``text``."""
        return self.brands.get(term_key(text), ())

    def by_word(self, word: str) -> tuple[int, ...]:
        """Return the positions of products with index word ``word``.

        ``word`` must already be a result of :func:`term_words`. The words
        of a product come from its title, category, tags and brand.
        """
        return self.words.get(word, ())

    def label(self, key: str) -> str:
        """Return the catalog's own spelling of a key or word.

        A category, tag or brand key gives its first spelling in the
        catalog. An index word gives its most frequent one.
        """
        return self.labels.get(key, key)


class Catalog:
    """An immutable, indexed list of products.

    Build it with :meth:`from_file` or :meth:`from_records`. Look products
    up with :meth:`get` (by id) and :meth:`by_slug`. Iterate it for every
    product in file order.
    """

    def __init__(self, products: Sequence[Product], *, source: str = "records") -> None:
        self.products: tuple[Product, ...] = tuple(products)
        self.source = source
        for product in self.products:
            if not isinstance(product, Product):
                raise CatalogError(
                    f"Catalog {source} contains {_show(product)}, which is not a "
                    "Product. Build catalogs with Catalog.from_records(records)."
                )
        if not self.products:
            raise CatalogError(
                f"Catalog {source} contains no products. Add at least one record."
            )
        self._by_id = {product.id: product for product in self.products}
        self._positions = {product.id: i for i, product in enumerate(self.products)}
        self._by_slug = {product.slug: product for product in self.products}
        if len(self._by_id) != len(self.products):
            raise CatalogError(f"Catalog {source} contains duplicate product ids.")
        if len(self._by_slug) != len(self.products):
            raise CatalogError(f"Catalog {source} contains duplicate slugs.")
        self.index = _build_index(self.products)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        url_template: str = "/products/{slug}",
        image_template: str | None = None,
        currency: str | None = "USD",
    ) -> Catalog:
        """Load a catalog from a ``.json`` or ``.csv`` file.

        A JSON file contains a list of objects, or an object whose
        ``"products"`` is that list. A CSV file has a header row of field
        names, and its ``tags`` are separated by ``|`` (or by ``,`` when the
        cell has no ``|``). The keyword arguments are those of
        :meth:`from_records`.

        :raises CatalogError: if the file is missing, unreadable, of
            another type, or contains an invalid record.
        :raises ConfigurationError: if a template or ``currency`` is invalid.
        """
        options = _Options.check(url_template, image_template, currency)
        if not isinstance(path, (str, os.PathLike)):
            raise ConfigurationError(
                f"Catalog path must be a str or a path, got {path!r}."
            )
        file_path = Path(path)
        where = f"file {str(file_path)!r}"
        suffix = file_path.suffix.lower()
        if suffix not in (".json", ".csv"):
            raise CatalogError(
                f"Catalog {where} has suffix {file_path.suffix!r}. Use a .json "
                "or .csv file."
            )

        try:
            with file_path.open(encoding="utf-8-sig", newline="") as stream:
                if suffix == ".json":
                    records = _read_json(stream.read(), where)
                else:
                    records = _read_csv(stream, where)
        except FileNotFoundError:
            raise CatalogError(
                f"Catalog {where} not found. Check the path, which is relative "
                f"to the working directory {os.getcwd()!r}."
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogError(
                f"Catalog {where} cannot be read ({exc}). It must be a readable "
                "UTF-8 file."
            ) from exc
        return cls(_build_products(records, options, where), source=where)

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        *,
        url_template: str = "/products/{slug}",
        image_template: str | None = None,
        currency: str | None = "USD",
    ) -> Catalog:
        """Build a catalog from mappings with the fields of :class:`Product`.

        ``id`` (an int or a str) and ``title`` (or ``name``) are required.
        A missing ``slug`` is derived from the title and made unique by
        appending ``-<id>``. A missing ``url`` is
        ``url_template.format(slug=..., id=...)``. The image is the record's
        ``image_url``, ``image`` or ``thumbnail``, unless ``image_template``
        is given, which then builds every image URL the same way.
        ``currency`` is the default ISO 4217 code of records without their
        own ``currency``.

        :raises CatalogError: if a record is invalid.
        :raises ConfigurationError: if a template or ``currency`` is invalid.
        """
        options = _Options.check(url_template, image_template, currency)
        where = "records"
        if isinstance(records, (str, bytes, Mapping)) or not isinstance(
            records, Iterable
        ):
            raise CatalogError(
                f"Catalog records must be a list of mappings, got {_show(records)}."
            )
        labelled = ((f"record {index}", record) for index, record in enumerate(records))
        return cls(_build_products(labelled, options, where), source=where)

    def get(self, item_id: str) -> Product | None:
        """Return the product with id ``item_id``, or ``None``."""
        return self._by_id.get(item_id)

    def by_slug(self, slug: str) -> Product | None:
        """Return the product with slug ``slug``, or ``None``."""
        return self._by_slug.get(slug)

    def position(self, product: Product) -> int:
        """Return the position of ``product`` in :attr:`products`."""
        return self._positions[product.id]

    def __iter__(self) -> Iterator[Product]:
        return iter(self.products)

    def __len__(self) -> int:
        return len(self.products)

    def __repr__(self) -> str:
        return f"<Catalog of {len(self.products)} products from {self.source}>"


@dataclass(frozen=True)
class _Options:
    url_template: str
    image_template: str | None
    currency: str | None

    @classmethod
    def check(
        cls, url_template: str, image_template: str | None, currency: str | None
    ) -> _Options:
        _check_template("url_template", url_template, image=False)
        if image_template is not None:
            _check_template("image_template", image_template, image=True)
        if currency is not None and (
            not isinstance(currency, str) or not _CURRENCY_RE.fullmatch(currency)
        ):
            raise ConfigurationError(
                "currency must be a three-letter ISO 4217 code such as 'USD', "
                f"or None, got {currency!r}."
            )
        return cls(url_template, image_template, currency.upper() if currency else None)


def _check_template(name: str, template: object, *, image: bool) -> None:
    if not isinstance(template, str):
        raise ConfigurationError(
            f"{name} must be a str such as '/products/{{slug}}', got {template!r}."
        )
    try:
        fields = {
            parsed[1]
            for parsed in string.Formatter().parse(template)
            if parsed[1] is not None
        }
    except ValueError as exc:
        raise ConfigurationError(
            f"{name} {template!r} is not a valid format string ({exc}). Write "
            "literal braces as {{ and }}."
        ) from None

    unknown = sorted(fields - _TEMPLATE_FIELDS)
    if unknown:
        raise ConfigurationError(
            f"{name} {template!r} uses unknown fields {unknown!r}. The fields "
            "are {slug} and {id}."
        )
    if not fields:
        raise ConfigurationError(
            f"{name} {template!r} contains neither {{slug}} nor {{id}}, so every "
            "product would get the same URL. Add one of them."
        )

    try:
        sample = template.format(id="1", slug="sample")
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"{name} {template!r} cannot be formatted ({exc}). Use plain "
            "{slug} and {id} fields."
        ) from None
    if safe_url(sample, image=image) is None:
        raise ConfigurationError(
            f"{name} {template!r} gives {sample!r}, which is not an http(s) URL "
            "or a path. Use a path such as '/products/{slug}'."
        )


def _read_json(text: str, where: str) -> list[tuple[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(
            f"Catalog {where} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}."
        ) from None
    except (ValueError, RecursionError) as exc:
        # Integers past Python's digit limit, or nesting past its recursion
        # limit: valid JSON, but no catalog looks like that.
        raise CatalogError(
            f"Catalog {where} cannot be parsed ({type(exc).__name__}: {exc}). "
            "Check that it is a plain list of product objects."
        ) from None

    if isinstance(data, dict) and "products" in data:
        data = data["products"]
    if not isinstance(data, list):
        raise CatalogError(
            f"Catalog {where} must contain a JSON list of product objects, or an "
            f"object with a 'products' list, not a {type(data).__name__}."
        )
    return [(f"record {index}", record) for index, record in enumerate(data)]


def _read_csv(stream: Iterable[str], where: str) -> list[tuple[str, Any]]:
    reader = csv.DictReader(stream, strict=True)
    records: list[tuple[str, Any]] = []
    try:
        for row in reader:
            label = f"line {reader.line_num}"
            if None in row:
                raise CatalogError(
                    f"Catalog {where}, {label}: the row has more cells than the "
                    "header has names. Quote cells that contain commas."
                )
            records.append((label, row))
    except csv.Error as exc:
        # DictReader.line_num only moves after a good row. The inner
        # reader's count includes the line that failed.
        raise CatalogError(
            f"Catalog {where} is not valid CSV at line {reader.reader.line_num} "
            f"({exc}). Check the quoting of that line."
        ) from None
    return records


@dataclass
class _Draft:
    label: str
    at: str
    id: str
    title: str
    slug: str
    url: str
    description: str
    category: str
    tags: tuple[str, ...]
    brand: str
    price: float | None
    currency: str | None
    rating: float | None
    image_url: str | None = None


def _build_products(
    records: Iterable[tuple[str, Any]], options: _Options, where: str
) -> list[Product]:
    drafts: list[_Draft] = []
    first_use: dict[str, str] = {}
    for label, record in records:
        draft = _parse_record(record, label, where, options)
        if draft.id in first_use:
            raise CatalogError(
                f"{draft.at}: duplicate id, already used by "
                f"{first_use[draft.id]}. Give every product its own id."
            )
        first_use[draft.id] = label
        drafts.append(draft)
    if not drafts:
        raise CatalogError(
            f"Catalog {where} contains no products. Add at least one record."
        )

    slugs = _assign_slugs(drafts)
    return [
        _finish(draft, slug, options) for draft, slug in zip(drafts, slugs, strict=True)
    ]


def _parse_record(record: object, label: str, where: str, options: _Options) -> _Draft:
    at = f"Catalog {where}, {label}"
    if not isinstance(record, Mapping):
        raise CatalogError(
            f"{at}: expected an object of product fields, not a "
            f"{type(record).__name__}."
        )
    item_id = _parse_id(record.get("id"), at)
    at = f"{at} (id {item_id!r})"

    title = _text(record, "title", at) or _text(record, "name", at)
    if not title:
        raise CatalogError(
            f"{at}: missing field 'title' (or 'name'). Every product needs one."
        )
    return _Draft(
        label=label,
        at=at,
        id=item_id,
        title=title,
        slug=_text(record, "slug", at),
        url=_url(record, "url", at, image=False),
        description=_text(record, "description", at),
        category=_text(record, "category", at),
        tags=_tags(record, at),
        brand=_text(record, "brand", at),
        price=_number(record, "price", at),
        currency=_currency(record, at, options.currency),
        rating=_number(record, "rating", at),
        image_url=_image(record, at) if options.image_template is None else None,
    )


def _parse_id(value: object, at: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is None or value == "":
        raise CatalogError(f"{at}: missing field 'id'. Every product needs one.")
    raise CatalogError(
        f"{at}: field 'id' must be an integer or a string, got {_show(value)}."
    )


def _text(record: Mapping[str, Any], name: str, at: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CatalogError(
            f"{at}: field {name!r} must be a string, got {_show(value)}."
        )
    return value.strip()


def _number(record: Mapping[str, Any], name: str, at: str) -> float | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    number: float | None = None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip())
    except OverflowError:
        number = math.inf
    except ValueError:
        number = None
    if number is None:
        raise CatalogError(
            f"{at}: field {name!r} must be a number, got {_show(value)}; fix the "
            "value or leave the field out."
        )
    if not math.isfinite(number) or number < 0:
        raise CatalogError(
            f"{at}: field {name!r} must be a finite number >= 0, got {_show(value)}."
        )
    return number


def _tags(record: Mapping[str, Any], at: str) -> tuple[str, ...]:
    value = record.get("tags")
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        parts: list[object] = list(value.split("|" if "|" in value else ","))
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise CatalogError(
            f"{at}: field 'tags' must be a list of strings or a string separated "
            f"by '|' or ',', got {_show(value)}."
        )

    tags: dict[str, None] = {}
    for part in parts:
        if not isinstance(part, str):
            raise CatalogError(
                f"{at}: field 'tags' must contain only strings, got {_show(part)}."
            )
        if part.strip():
            tags[part.strip()] = None
    return tuple(tags)


def _currency(record: Mapping[str, Any], at: str, default: str | None) -> str | None:
    value = record.get("currency")
    if value is None or value == "":
        return default
    if not isinstance(value, str) or not _CURRENCY_RE.fullmatch(value.strip()):
        raise CatalogError(
            f"{at}: field 'currency' must be a three-letter ISO 4217 code such "
            f"as 'USD', got {_show(value)}."
        )
    return value.strip().upper()


def _url(record: Mapping[str, Any], name: str, at: str, *, image: bool) -> str:
    value = _text(record, name, at)
    if value and safe_url(value, image=image) is None:
        raise CatalogError(
            f"{at}: field {name!r} is {_show(value)}, which is not an http(s) or "
            "relative URL. Fix it or leave the field out."
        )
    return value


def _image(record: Mapping[str, Any], at: str) -> str | None:
    for name in _IMAGE_FIELDS:
        value = _url(record, name, at, image=True)
        if value:
            return value
    return None


def _assign_slugs(drafts: Sequence[_Draft]) -> list[str]:
    # Explicit slugs are reserved first, so that a derived slug never takes
    # a slug that a later record names.
    owners: dict[str, str] = {}
    for draft in drafts:
        if draft.slug and draft.slug in owners:
            raise CatalogError(
                f"{draft.at}: duplicate slug {draft.slug!r}, already used by "
                f"{owners[draft.slug]}. Give every product its own slug, or "
                "leave it out to derive one from the title."
            )
        if draft.slug:
            owners[draft.slug] = draft.label

    used = set(owners)
    slugs: list[str] = []
    for draft in drafts:
        slug = draft.slug or _derive_slug(draft, used)
        used.add(slug)
        slugs.append(slug)
    return slugs


def _derive_slug(draft: _Draft, used: set[str]) -> str:
    id_part = slugify(draft.id) or "product"
    base = slugify(draft.title) or id_part
    candidate = base
    if candidate in used:
        candidate = f"{base}-{id_part}"
    counter = 2
    while candidate in used:
        candidate = f"{base}-{id_part}-{counter}"
        counter += 1
    return candidate


def slugify(text: str, max_length: int = 80) -> str:
    """Return a lower-case ASCII slug of ``text``, words joined by ``-``.

    Accents are dropped (``"Crème"`` gives ``"creme"``). Characters without
    an ASCII form are removed, so a title in another script can give ``""``.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore")
    slug = _SLUG_UNSAFE.sub("-", ascii_text.decode("ascii").lower()).strip("-")
    return slug[:max_length].rstrip("-")


def _finish(draft: _Draft, slug: str, options: _Options) -> Product:
    # Quoting everything keeps a slug such as "javascript:x" inside the
    # path of the template instead of becoming a scheme.
    fields = {"slug": quote(slug, safe=""), "id": quote(draft.id, safe="")}
    url = draft.url or options.url_template.format(**fields)
    image_url = draft.image_url
    if options.image_template is not None:
        image_url = options.image_template.format(**fields)
    return Product(
        id=draft.id,
        slug=slug,
        title=draft.title,
        url=url,
        description=draft.description,
        category=draft.category,
        tags=draft.tags,
        brand=draft.brand,
        price=draft.price,
        currency=draft.currency,
        rating=draft.rating,
        image_url=image_url,
    )


def _show(value: object) -> str:
    return reprlib.repr(value)


def _build_index(products: Sequence[Product]) -> CatalogIndex:
    categories: dict[str, list[int]] = {}
    tags: dict[str, list[int]] = {}
    brands: dict[str, list[int]] = {}
    words: dict[str, list[int]] = {}
    labels: dict[str, str] = {}
    spellings: dict[str, Counter[str]] = {}

    for position, product in enumerate(products):
        _add_term(categories, labels, product.category, position)
        for tag in product.tags:
            _add_term(tags, labels, tag, position)
        _add_term(brands, labels, product.brand, position)
        for text in (product.title, product.category, *product.tags, product.brand):
            for word, spelling in _word_spellings(text):
                _add_position(words, word, position)
                spellings.setdefault(word, Counter())[spelling] += 1

    # A word's label is its most frequent spelling, so that "watch" reads
    # "watches" in a catalog with many watches. Ties go to the first seen.
    for word, counts in spellings.items():
        labels.setdefault(word, counts.most_common(1)[0][0])

    priors = _priors(products)
    id_ranks = _id_ranks(products)
    top_rated = sorted(range(len(products)), key=lambda i: (-priors[i], id_ranks[i]))
    return CatalogIndex(
        categories=_freeze(categories),
        tags=_freeze(tags),
        brands=_freeze(brands),
        words=_freeze(words),
        labels=MappingProxyType(labels),
        priors=priors,
        id_ranks=id_ranks,
        top_rated=tuple(top_rated),
    )


def _add_term(
    table: dict[str, list[int]], labels: dict[str, str], text: str, position: int
) -> None:
    key = term_key(text)
    if key:
        _add_position(table, key, position)
        labels.setdefault(key, text)


def _add_position(table: dict[str, list[int]], key: str, position: int) -> None:
    # Positions arrive in increasing order, so checking the last one is
    # enough to keep each list free of repeats.
    positions = table.setdefault(key, [])
    if not positions or positions[-1] != position:
        positions.append(position)


def _word_spellings(text: str) -> list[tuple[str, str]]:
    spellings = []
    for part in term_key(text).split("-"):
        if len(part) > 1 and part not in _STOPWORDS:
            spellings.append((_singular(part), part))
    return spellings


def _priors(products: Sequence[Product]) -> tuple[float, ...]:
    ratings = [p.rating for p in products if p.rating is not None]
    mean = sum(ratings) / len(ratings) if ratings else 0.0
    best = max(ratings, default=0.0)
    if best <= 0:
        return tuple(0.0 for _ in products)
    return tuple((mean if p.rating is None else p.rating) / best for p in products)


def _id_ranks(products: Sequence[Product]) -> tuple[int, ...]:
    def natural(position: int) -> tuple[int, int, str]:
        item_id = products[position].id
        if item_id.isascii() and item_id.isdigit():
            return (0, int(item_id), item_id)
        return (1, 0, item_id)

    order = sorted(range(len(products)), key=natural)
    ranks = [0] * len(products)
    for rank, position in enumerate(order):
        ranks[position] = rank
    return tuple(ranks)


def _freeze(table: dict[str, list[int]]) -> Mapping[str, tuple[int, ...]]:
    return MappingProxyType({key: tuple(value) for key, value in table.items()})
