"""Providers and the context hook that the example's settings name.

The hook shows how a project adds signals of its own to the visitor's
context. A real shop would read a signed-in customer's saved favourite
categories here (through ``request.user``). The example has no accounts,
so it keeps the categories of the last products a visitor opened in the
session and treats them as interests.
"""

from __future__ import annotations

import dataclasses

from django.http import HttpRequest

from edge_personalize import CatalogProvider, Context

from .. import shop

# The session key with the categories of recently opened products, most
# recent first.
BROWSED_KEY = "browsed_categories"
BROWSED_LIMIT = 3


def catalog_provider() -> CatalogProvider:
    """Build the embedded catalog recommender over the example catalog."""
    return CatalogProvider(shop.load_catalog())


def trending_provider() -> shop.TrendingProvider:
    """Build the provider of the ``trending`` slot."""
    return shop.TrendingProvider(shop.load_catalog())


def remember_category(request: HttpRequest, category: str) -> None:
    """Put ``category`` first in the session's recently browsed categories."""
    browsed = [category]
    for previous in request.session.get(BROWSED_KEY, []):
        if previous not in browsed and len(browsed) < BROWSED_LIMIT:
            browsed.append(previous)
    request.session[BROWSED_KEY] = browsed


def add_browsed_categories(request: HttpRequest, context: Context) -> Context:
    """Add the session's browsed categories to the interests, after the visitor's.

    Interests from the query or the interests cookie come first, because
    the visitor chose them for this request.
    """
    session = getattr(request, "session", None)
    browsed = session.get(BROWSED_KEY, []) if session is not None else []
    if not isinstance(browsed, list) or not browsed:
        return context

    interests = dict.fromkeys(context.interests)
    for category in browsed:
        if isinstance(category, str):
            interests.setdefault(category)
    return dataclasses.replace(context, interests=tuple(interests))
