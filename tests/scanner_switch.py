"""Switch the rewriter between its C scanner and its regex scanner.

A module with a unique name, because several directories here have a
``conftest.py`` of their own and ``import conftest`` would be ambiguous.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from edge_personalize import rewriting

# The C extension as imported, before any test swaps it out.
COMPILED_RUN = rewriting._markup_run


def require_compiled(module: bool = False) -> None:
    """Skip the calling test without the C extension, or fail if CI needs it.

    Pass ``module=True`` to skip the whole module at import.
    """
    if COMPILED_RUN is not None:
        return
    if os.environ.get("EP_REQUIRE_SPEEDUPS") == "1":
        pytest.fail("edge_personalize._speedups is not built.")
    pytest.skip("edge_personalize._speedups is not built", allow_module_level=module)


@contextmanager
def scanner_in_use(
    markup_run: Callable[[bytes, int, int], int] | None,
) -> Iterator[None]:
    """Let the rewriter use ``markup_run``, or the regexes for ``None``."""
    rewriting._markup_run = markup_run
    try:
        yield
    finally:
        rewriting._markup_run = COMPILED_RUN
