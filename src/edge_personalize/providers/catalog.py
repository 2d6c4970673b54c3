"""The embedded recommender: rank catalog products for one visitor."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..catalog import Catalog, Product, term_key, term_words
from ..exceptions import ConfigurationError
from ..recommendation import Recommendation, RecommendationRequest

__all__ = ["CatalogProvider"]

# Weights of the ranking signals. A category, tag or brand match outweighs
# the whole rating prior (at most RATING_PRIOR), which orders products with
# equal signals and alone ranks the rest. A word match of an interest with
# several words is weaker than that and can lose to a well-rated product.
INTEREST_CATEGORY = 3.0
INTEREST_TAG = 2.0
INTEREST_BRAND = 2.0
INTEREST_WORDS = 1.0  # shared among the words of one interest
SAME_CATEGORY = 3.0
SHARED_TAG = 1.0  # for each tag shared with the current product
SAME_BRAND = 1.5
RATING_PRIOR = 0.5

# Bounds on the work one request can cause.
MAX_INTERESTS = 10
MAX_INTEREST_WORDS = 8
MAX_CURRENT_TAGS = 10


class CatalogProvider:
    """Recommend products of a :class:`~edge_personalize.catalog.Catalog`.

    Products are ranked by three signals. The first is relevance to the
    visitor's interests (``context.interests``), matched to the catalog's
    categories, tags, brands and words. The second is relevance to the
    product on the page: same category, shared tags, same brand. The
    third is the rating, which alone ranks the products when there is no
    other signal. The current product and
    the ids or slugs in ``context.viewed`` are never recommended. Equal
    scores are ordered by id, so the same context always gives the same
    list. Each item carries a short reason such as "Because you like
    beauty", "More in Fragrances" or "Top rated"; reasons quote only the
    catalog's own words, never the visitor's input.

    Candidates come from the catalog's index and its precomputed
    top-rated list, so a request never scans every product.

    :param catalog: the products to recommend.
    :param current_param: route parameters, tried in order, that name the
        current product by slug or id.
    :raises ConfigurationError: if ``catalog`` is not a ``Catalog`` or
        ``current_param`` is not a name or a list of names.
    """

    #: The context fields it reads; caches key on them.
    features: frozenset[str] = frozenset({"interests", "params", "viewed"})

    def __init__(
        self, catalog: Catalog, *, current_param: str | Sequence[str] = ("slug", "id")
    ) -> None:
        if not isinstance(catalog, Catalog):
            raise ConfigurationError(
                f"CatalogProvider needs a Catalog, got {catalog!r}; load one with "
                "Catalog.from_file(path)."
            )
        self.catalog = catalog
        self.current_param = _check_param_names(current_param)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        current_param: str | Sequence[str] = ("slug", "id"),
        **catalog_options: Any,
    ) -> CatalogProvider:
        """Load ``path`` with :meth:`Catalog.from_file` and recommend from it.

        ``catalog_options`` are the keyword arguments of
        :meth:`Catalog.from_file` (``url_template``, ``image_template``,
        ``currency``).
        """
        catalog = Catalog.from_file(path, **catalog_options)
        return cls(catalog, current_param=current_param)

    def __repr__(self) -> str:
        return f"CatalogProvider({self.catalog!r})"

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        """Return up to ``request.limit`` products ranked for the request."""
        if request.limit <= 0:
            return []

        context = request.context
        current = self.current_product(context.params)
        excluded = self._excluded_positions(context.viewed, current)

        scores = _Scores()
        for interest in context.interests[:MAX_INTERESTS]:
            self._score_interest(interest, scores)
        if current is not None:
            self._score_related(current, scores)

        ranked = self._rank(scores, excluded, request.limit)
        return [self._recommendation(position, scores) for position in ranked]

    def current_product(
        self, params: Mapping[str, str | tuple[str, ...]]
    ) -> Product | None:
        """Look up the product that the ``current_param`` route parameters name."""
        for name in self.current_param:
            value = params.get(name)
            if value is None:
                continue
            # A catch-all parameter (":path*") arrives as a tuple of
            # segments: try the whole path, then its last segment.
            candidates = (value,) if isinstance(value, str) else _path_forms(value)
            for candidate in candidates:
                product = self.catalog.by_slug(candidate) or self.catalog.get(candidate)
                if product is not None:
                    return product
        return None

    def _excluded_positions(
        self, viewed: Sequence[str], current: Product | None
    ) -> set[int]:
        excluded: set[int] = set()
        if current is not None:
            excluded.add(self.catalog.position(current))
        for entry in viewed:
            product = self.catalog.get(entry) or self.catalog.by_slug(entry)
            if product is not None:
                excluded.add(self.catalog.position(product))
        return excluded

    def _score_interest(self, interest: str, scores: _Scores) -> None:
        index = self.catalog.index
        key = term_key(interest)
        if not key:
            return

        for table, weight in (
            (index.categories, INTEREST_CATEGORY),
            (index.tags, INTEREST_TAG),
            (index.brands, INTEREST_BRAND),
        ):
            positions = table.get(key, ())
            reason = f"Because you like {_display(index.label(key))}"
            for position in positions:
                scores.add(position, weight, reason)

        words = term_words(interest)[:MAX_INTEREST_WORDS]
        for word in words:
            reason = f"Because you like {index.label(word)}"
            for position in index.by_word(word):
                scores.add(position, INTEREST_WORDS / len(words), reason)

    def _score_related(self, current: Product, scores: _Scores) -> None:
        index = self.catalog.index
        if current.category:
            reason = f"More in {_capitalize(_display(current.category))}"
            for position in index.by_category(current.category):
                scores.add(position, SAME_CATEGORY, reason)

        reason = f"Similar to {current.title}"
        for tag in current.tags[:MAX_CURRENT_TAGS]:
            for position in index.by_tag(tag):
                scores.add(position, SHARED_TAG, reason)

        if current.brand:
            reason = f"More from {current.brand}"
            for position in index.by_brand(current.brand):
                scores.add(position, SAME_BRAND, reason)

    def _rank(self, scores: _Scores, excluded: set[int], limit: int) -> list[int]:
        index = self.catalog.index
        candidates = {p for p in scores.totals if p not in excluded}

        # Unscored products rank by their prior alone, which is the order
        # of top_rated, so its first `limit` usable entries are the only
        # ones that can make the cut.
        filled = 0
        for position in index.top_rated:
            if filled >= limit:
                break
            if position in excluded or position in scores.totals:
                continue
            candidates.add(position)
            filled += 1

        def sort_key(position: int) -> tuple[float, int]:
            score = scores.totals.get(position, 0.0)
            score += RATING_PRIOR * index.priors[position]
            return (-score, index.id_ranks[position])

        return sorted(candidates, key=sort_key)[:limit]

    def _recommendation(self, position: int, scores: _Scores) -> Recommendation:
        product = self.catalog.products[position]
        best = scores.reasons.get(position)
        return Recommendation(
            id=product.id,
            title=product.title,
            url=product.url,
            image_url=product.image_url,
            price=product.price,
            currency=product.currency,
            reason=best[1] if best is not None else "Top rated",
        )


class _Scores:
    """Signal totals per product position, and the reason of the strongest."""

    __slots__ = ("reasons", "totals")

    def __init__(self) -> None:
        self.totals: dict[int, float] = {}
        self.reasons: dict[int, tuple[float, str]] = {}

    def add(self, position: int, weight: float, reason: str) -> None:
        self.totals[position] = self.totals.get(position, 0.0) + weight
        best = self.reasons.get(position)
        if best is None or weight > best[0]:
            self.reasons[position] = (weight, reason)


def _check_param_names(names: str | Sequence[str]) -> tuple[str, ...]:
    checked = (names,) if isinstance(names, str) else names
    if (
        not isinstance(checked, Sequence)
        or not checked
        or not all(isinstance(name, str) and name for name in checked)
    ):
        raise ConfigurationError(
            "current_param must be a route parameter name or a list of names, "
            f"such as ('slug', 'id'), got {names!r}."
        )
    return tuple(checked)


def _path_forms(segments: tuple[str, ...]) -> tuple[str, ...]:
    if not segments:
        return ()
    return ("/".join(segments), segments[-1])


def _display(label: str) -> str:
    return label.replace("-", " ").strip()


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]
