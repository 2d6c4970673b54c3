"""The names each public module exports match its ``__all__``."""

from __future__ import annotations

import importlib

import pytest

import edge_personalize

PUBLIC_MODULES = [
    "edge_personalize",
    "edge_personalize.asgi",
    "edge_personalize.wsgi",
    "edge_personalize.django",
    "edge_personalize.providers",
    "edge_personalize.cache",
    "edge_personalize.rewriting",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    missing = [attr for attr in module.__all__ if not hasattr(module, attr)]
    assert missing == []


def test_top_level_exports_public_classes() -> None:
    public = {
        name
        for name, value in vars(edge_personalize).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("edge_personalize.")
        and isinstance(value, type)
    }
    assert public <= set(edge_personalize.__all__)


def test_all_sorted() -> None:
    assert edge_personalize.__all__ == sorted(edge_personalize.__all__)


def test_contract_names_importable() -> None:
    from edge_personalize import (  # noqa: F401
        Catalog,
        CatalogProvider,
        Personalizer,
        Recommendation,
        Slot,
        StaticProvider,
    )
    from edge_personalize.asgi import PersonalizeMiddleware as ASGI
    from edge_personalize.wsgi import PersonalizeMiddleware as WSGI

    assert ASGI is not WSGI
