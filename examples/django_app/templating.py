"""The Jinja2 environment of the Django example shop.

The shop renders the templates in ``examples/templates``, which the Flask
and FastAPI shops use too, with Django's Jinja2 backend, so the three
shops serve the same pages.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from .. import shop


def environment(**options: Any) -> Environment:
    """Build the environment with the shop's filters and framework name."""
    env = Environment(**options)
    env.filters["price"] = shop.format_price
    env.filters["category_label"] = shop.category_label
    env.globals["framework"] = "Django"
    return env
