"""Fixtures shared by the whole suite.

The adapter runners live in ``adapter_harness.py``, a module with a unique
name, because several directories here have a ``conftest.py`` of their own.
"""

from __future__ import annotations

import pytest

from adapter_harness import RUNNERS, Runner


@pytest.fixture(params=list(RUNNERS))
def run(request: pytest.FixtureRequest) -> Runner:
    """Run a ``Downstream`` through one adapter: WSGI, ASGI or Django (both modes)."""
    return RUNNERS[request.param]
