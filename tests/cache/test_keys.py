"""Segment keys: which features split the cache, stability, no raw values."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from cache_support import CountingProvider, context
from hypothesis import given
from hypothesis import strategies as st

from edge_personalize import ConfigurationError, Context, ProviderChain, StaticProvider
from edge_personalize.cache.keys import (
    CONTEXT_FEATURES,
    chain_features,
    chain_identity,
    segment_digest,
    segment_key,
)

INTERESTS = frozenset({"interests"})


def test_context_features_are_field_names() -> None:
    assert CONTEXT_FEATURES == {
        "path",
        "params",
        "interests",
        "viewed",
        "languages",
        "country",
        "device",
        "bot",
        "gpc",
    }


@pytest.mark.parametrize(
    ("other", "same"),
    [
        pytest.param({"device": "mobile"}, True, id="unread-device"),
        pytest.param({"languages": ("de",)}, True, id="unread-language"),
        pytest.param({"path": "/other"}, True, id="unread-path"),
        pytest.param({"interests": ("books",)}, False, id="read-interest"),
        pytest.param({"interests": ("beauty", "books")}, False, id="extra-interest"),
        pytest.param({"interests": ()}, False, id="no-interest"),
    ],
)
def test_digest_splits_only_read_features(other: dict[str, Any], same: bool) -> None:
    base = context(device="desktop", languages=("en",), path="/products/mug")
    changed = context(
        **{"device": "desktop", "languages": ("en",), "path": "/products/mug", **other}
    )
    assert (
        segment_digest(base, INTERESTS) == segment_digest(changed, INTERESTS)
    ) is same


def test_digest_every_feature_splits() -> None:
    base = context()
    variants = [
        context(path="/x"),
        context(params={"slug": "mug"}),
        context(interests=("books",)),
        context(viewed=("7",)),
        context(languages=("fr",)),
        context(country="DE"),
        context(device="mobile"),
        context(bot=True),
        context(gpc=True),
    ]
    digests = {segment_digest(ctx, CONTEXT_FEATURES) for ctx in [base, *variants]}
    assert len(digests) == len(variants) + 1


def test_digest_interest_order_matters() -> None:
    first = context(interests=("beauty", "books"))
    second = context(interests=("books", "beauty"))
    assert segment_digest(first, INTERESTS) != segment_digest(second, INTERESTS)


def test_digest_params_order_ignored() -> None:
    first = context(params={"a": "1", "b": "2"})
    second = context(params={"b": "2", "a": "1"})
    features = frozenset({"params"})
    assert segment_digest(first, features) == segment_digest(second, features)


def test_digest_catch_all_param_differs_from_text() -> None:
    joined = context(params={"path": "a/b"})
    segments = context(params={"path": ("a", "b")})
    features = frozenset({"params"})
    assert segment_digest(joined, features) != segment_digest(segments, features)


def test_digest_keyed_with_secret() -> None:
    ctx = context()
    plain = segment_digest(ctx, INTERESTS)
    keyed = segment_digest(ctx, INTERESTS, b"s3cret")
    other_key = segment_digest(ctx, INTERESTS, b"other")
    assert plain != keyed
    assert keyed != other_key


def test_key_contains_no_raw_values() -> None:
    ctx = context(
        interests=("rare-interest-xyz",),
        viewed=("sku-4711",),
        country="NZ",
        languages=("mi-NZ",),
    )
    key = segment_key("recommendations", "0" * 16, ctx, CONTEXT_FEATURES)
    for raw in ("rare-interest-xyz", "sku-4711", "NZ", "mi-NZ"):
        assert raw not in key


def test_key_layout() -> None:
    key = segment_key("trending", "ab" * 8, context(), INTERESTS)
    slot, chain_id, digest = key.split(":")
    assert slot == "trending"
    assert chain_id == "ab" * 8
    assert len(digest) == 32


_SUBPROCESS_KEY = """
from edge_personalize import Context, StaticProvider, Recommendation
from edge_personalize.cache.keys import chain_identity, segment_key, CONTEXT_FEATURES
ctx = Context(path="/p", params={"slug": "mug"}, interests=("beauty", "é"),
              viewed=("1",), languages=("en",), country="DE", device="mobile")
item = Recommendation(id="1", title="Mug", url="/m")
chain_id = chain_identity("recommendations", 4, [StaticProvider([item])])
print(segment_key("recommendations", chain_id, ctx, CONTEXT_FEATURES))
"""


def test_key_same_in_other_process() -> None:
    keys = set()
    for seed in ("1", "2"):
        output = subprocess.run(
            [sys.executable, "-c", _SUBPROCESS_KEY],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        keys.add(output.stdout.strip())
    assert len(keys) == 1


class _NoRepr:
    """A provider whose repr is the default one, with a memory address."""

    async def recommend(self, request: object) -> list[object]:
        return []


def test_chain_identity_ignores_addresses() -> None:
    first = chain_identity("recommendations", 4, [_NoRepr()])
    second = chain_identity("recommendations", 4, [_NoRepr()])
    assert first == second


@pytest.mark.parametrize(
    ("slot", "limit"),
    [
        pytest.param("trending", 4, id="slot"),
        pytest.param("recommendations", 3, id="limit"),
    ],
)
def test_chain_identity_covers_slot_and_limit(slot: str, limit: int) -> None:
    providers = [_NoRepr()]
    base = chain_identity("recommendations", 4, providers)
    assert chain_identity(slot, limit, providers) != base


def test_chain_identity_covers_provider_class() -> None:
    static = StaticProvider([])
    assert chain_identity("r", 4, [static]) != chain_identity("r", 4, [_NoRepr()])


@pytest.mark.parametrize(
    ("providers", "expected"),
    [
        pytest.param(
            [CountingProvider(features=frozenset({"interests"}))],
            {"interests"},
            id="one",
        ),
        pytest.param(
            [
                CountingProvider(features=frozenset({"interests"})),
                CountingProvider(features=frozenset({"viewed", "params"})),
            ],
            {"interests", "viewed", "params"},
            id="union",
        ),
        pytest.param(
            [CountingProvider(features=frozenset())], set(), id="reads-nothing"
        ),
        pytest.param(
            [CountingProvider(features=None)], CONTEXT_FEATURES, id="undeclared"
        ),
        pytest.param(
            [
                CountingProvider(features=frozenset({"interests"})),
                CountingProvider(features=None),
            ],
            CONTEXT_FEATURES,
            id="one-undeclared",
        ),
        pytest.param(
            [ProviderChain([CountingProvider(features=frozenset({"country"}))])],
            {"country"},
            id="nested-chain",
        ),
        pytest.param(
            [CountingProvider(features=["device"])],  # type: ignore[arg-type]
            {"device"},
            id="list",
        ),
    ],
)
def test_chain_features(providers: list[object], expected: set[str]) -> None:
    assert chain_features(providers) == expected


@pytest.mark.parametrize(
    ("features", "message"),
    [
        pytest.param("interests", "must be a set", id="string"),
        pytest.param(42, "must be a set", id="number"),
        pytest.param({"language"}, "unknown features", id="typo"),
        pytest.param({"interests", "ip"}, "unknown features", id="not-a-field"),
    ],
)
def test_chain_features_invalid(features: object, message: str) -> None:
    provider = CountingProvider()
    provider.features = features  # type: ignore[assignment]
    with pytest.raises(ConfigurationError, match=message):
        chain_features([provider])


_texts = st.text(max_size=12)
_contexts = st.builds(
    Context,
    path=_texts,
    params=st.dictionaries(_texts, _texts | st.tuples(_texts, _texts), max_size=3),
    interests=st.tuples(_texts) | st.just(()),
    viewed=st.tuples(_texts, _texts) | st.just(()),
    languages=st.tuples(_texts) | st.just(()),
    country=st.none() | _texts,
    device=st.sampled_from(["mobile", "tablet", "desktop", "unknown"]),
    bot=st.booleans(),
    gpc=st.booleans(),
)


@given(_contexts)
def test_digest_equal_for_equal_contexts(ctx: Context) -> None:
    copy = Context(
        path=ctx.path,
        params=dict(ctx.params),
        interests=ctx.interests,
        viewed=ctx.viewed,
        languages=ctx.languages,
        country=ctx.country,
        device=ctx.device,
        bot=ctx.bot,
        gpc=ctx.gpc,
    )
    assert segment_digest(ctx, CONTEXT_FEATURES) == segment_digest(
        copy, CONTEXT_FEATURES
    )


@given(_contexts, _contexts)
def test_digest_differs_for_different_interests(
    first: Context, second: Context
) -> None:
    same = segment_digest(first, INTERESTS) == segment_digest(second, INTERESTS)
    assert same is (first.interests == second.interests)
