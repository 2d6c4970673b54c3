"""Fixtures shared by the whole suite.

The adapter runners live in ``adapter_harness.py``, a module with a unique
name, because several directories here have a ``conftest.py`` of their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapter_harness import RUNNERS, Runner
from scanner_switch import COMPILED_RUN, require_compiled, scanner_in_use


@pytest.fixture(params=list(RUNNERS))
def run(request: pytest.FixtureRequest) -> Runner:
    """Run a ``Downstream`` through one adapter: WSGI, ASGI or Django (both modes)."""
    return RUNNERS[request.param]


@pytest.fixture(scope="module", params=["compiled", "regex"])
def scanner(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a module's tests with the C scanner, then with the regex one.

    Without the extension the compiled half skips, unless
    ``EP_REQUIRE_SPEEDUPS=1`` (CI sets it) turns the skip into a failure.
    """
    if request.param == "compiled":
        require_compiled()
    with scanner_in_use(COMPILED_RUN if request.param == "compiled" else None):
        yield request.param
