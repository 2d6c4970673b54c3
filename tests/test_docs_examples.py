"""The wiring examples of the framework pages run as the docs show them.

Each test copies a Python block from ``docs/`` into a temporary project with
the demo catalog and a product template, imports it, and requests a product
page and an unknown product through the framework's test client.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from adapter_harness import BROWSER

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
CATALOG = REPO / "examples" / "catalog" / "products.json"
SLUG = "essence-mascara-lash-princess"
FALLBACK = "<section>Popular products</section>"
TEMPLATE = f"""<!doctype html>
<html><body>
<h1>{{{{ product.title }}}}</h1>
<!-- personalize:recommendations -->{FALLBACK}<!-- /personalize:recommendations -->
<!-- personalize:trending -->
</body></html>
"""


def python_blocks(page: str, section: str) -> list[str]:
    """Return the Python code blocks of one ``## section`` of a docs page."""
    text = (DOCS / page).read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end >= 0 else len(text)]
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


def project(tmp_path: Path, code: str) -> ModuleType:
    """Write ``code`` as app.py beside the catalog and template, import it."""
    shutil.copy(CATALOG, tmp_path / "products.json")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "product.html").write_text(TEMPLATE)
    (tmp_path / "app.py").write_text(code)

    name = f"docs_example_{tmp_path.name}"
    spec = importlib.util.spec_from_file_location(name, tmp_path / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_flask_wiring_runs(tmp_path: Path) -> None:
    (code,) = python_blocks("flask.md", "Wiring")
    module = project(tmp_path, code)
    client = module.app.test_client()

    page = client.get(f"/products/{SLUG}", headers=[BROWSER])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Recommended for you" in html
    assert "Canvas tote" in html
    assert FALLBACK not in html

    assert client.get("/products/no-such-product").status_code == 404


def test_fastapi_wiring_runs(tmp_path: Path) -> None:
    (code,) = python_blocks("fastapi.md", "Wiring")
    module = project(tmp_path, code)

    async def fetch(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=module.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1"
        ) as client:
            return await client.get(path, headers=[BROWSER])

    page = asyncio.run(fetch(f"/products/{SLUG}"))
    assert page.status_code == 200
    assert "Recommended for you" in page.text
    assert "Canvas tote" in page.text
    assert FALLBACK not in page.text

    assert asyncio.run(fetch("/products/no-such-product")).status_code == 404


def test_django_wiring_names_defined(tmp_path: Path) -> None:
    settings_code, module_code = python_blocks("django.md", "Wiring")
    settings: dict[str, object] = {}
    exec(settings_code, settings)
    shutil.copy(CATALOG, tmp_path / "products.json")
    (tmp_path / "personalization.py").write_text(module_code)

    spec = importlib.util.spec_from_file_location(
        f"docs_django_{tmp_path.name}", tmp_path / "personalization.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    config = settings["EDGE_PERSONALIZE"]
    assert isinstance(config, dict)
    for slot in config["slots"].values():
        for dotted in slot["providers"]:
            assert dotted.startswith("myshop.personalization.")
            provider = getattr(module, dotted.rsplit(".", 1)[1])()
            assert callable(provider.recommend)
    assert (
        "django.middleware.clickjacking.XFrameOptionsMiddleware"
        in (settings["MIDDLEWARE"])
    )


@pytest.mark.parametrize("page", ["flask.md", "fastapi.md", "django.md"])
def test_install_line_names_clone(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    assert "pip install -e path/to/edge-personalize" in text
    assert "pip install edge-personalize" not in text
