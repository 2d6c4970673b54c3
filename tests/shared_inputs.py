"""Locate the shared real-world inputs that sit beside the repository.

The corpus of real pages and the tokenizer cases live in ``../shared``
next to a checkout, as on the project's CI machine. A clone elsewhere does
not have them: tests that need them are skipped with the reason, unless
``EP_REQUIRE_SHARED=1`` is set (CI sets it), which turns the skip into a
failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """Return ``../shared/<parts>``, or skip the calling module without it."""
    path = SHARED.joinpath(*parts)
    if path.exists():
        return path
    if os.environ.get("EP_REQUIRE_SHARED") == "1":
        raise FileNotFoundError(
            f"{path} is missing, and EP_REQUIRE_SHARED=1 requires it."
        )
    pytest.skip(
        f"{path} is missing: the shared corpus sits beside the repository "
        "only on the project's CI machine.",
        allow_module_level=True,
    )
