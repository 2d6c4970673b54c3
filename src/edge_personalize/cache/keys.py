"""Segment keys: the slot, the chain's identity and a digest of the features read.

Visitors whose contexts agree on every feature that a slot's providers
read get the same recommendations, so they share one cache entry. A key
looks like ``recommendations:1a2b3c4d5e6f7a8b:<32 hex digits>``: the slot
name, a digest of the chain (its providers and the item limit) and a
digest of the feature values. Neither digest contains the raw values, and
both are the same in every process, whatever its hash seed.

A provider declares the :class:`~edge_personalize.context.Context` fields
it reads in a ``features`` attribute (a set of field names). A provider
without one is assumed to read every field, which is always correct but
splits the cache by everything, down to the device class.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields

from ..context import Context
from ..exceptions import ConfigurationError
from ..providers.chain import ProviderChain

__all__ = [
    "CONTEXT_FEATURES",
    "chain_features",
    "chain_identity",
    "segment_digest",
    "segment_key",
]

#: The names a provider may list in its ``features``.
CONTEXT_FEATURES: frozenset[str] = frozenset(item.name for item in fields(Context))

# Bumped when the key layout or what the digests cover changes, so that a
# new release never reads entries an older one wrote under the same key.
KEY_VERSION = "1"

# A default repr such as "<Foo object at 0x7f...>" differs in every process.
_ADDRESS_RE = re.compile(r" at 0x[0-9a-fA-F]+")


def chain_features(providers: Iterable[object]) -> frozenset[str]:
    """Return the context fields that ``providers`` read, together.

    A nested :class:`ProviderChain` without ``features`` of its own
    contributes those of its providers. Any other provider without
    ``features`` makes the result every field.

    :raises ConfigurationError: if a provider's ``features`` is not a set
        of :class:`Context` field names.
    """
    union: set[str] = set()
    for provider in providers:
        declared = getattr(provider, "features", None)
        if declared is None and isinstance(provider, ProviderChain):
            union |= chain_features(provider.providers)
        elif declared is None:
            return CONTEXT_FEATURES
        else:
            union |= _check_features(provider, declared)
    return frozenset(union)


def _check_features(provider: object, declared: object) -> frozenset[str]:
    if isinstance(declared, (str, bytes)) or not isinstance(
        declared, (set, frozenset, Sequence)
    ):
        raise ConfigurationError(
            f"Provider {provider!r} has features={declared!r}; it must be a set "
            "of Context field names, such as frozenset({'interests'})."
        )
    unknown = sorted(str(name) for name in declared if name not in CONTEXT_FEATURES)
    if unknown:
        raise ConfigurationError(
            f"Provider {provider!r} lists unknown features {unknown!r}; the "
            f"Context fields are {sorted(CONTEXT_FEATURES)!r}."
        )
    return frozenset(declared)


def chain_identity(slot: str, limit: int, providers: Sequence[object]) -> str:
    """Return a 16-hex-digit digest naming the chain that fills ``slot``.

    It covers the slot, the item limit and each provider's class and
    repr, with memory addresses removed so that every process computes
    the same digest for the same configuration.
    """
    described = [slot, limit, [_describe(provider) for provider in providers]]
    data = json.dumps(described, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(data.encode("utf-8"), digest_size=8).hexdigest()


def _describe(provider: object) -> str:
    kind = type(provider)
    return f"{kind.__module__}.{kind.__qualname__}:" + _ADDRESS_RE.sub(
        "", repr(provider)
    )


def segment_digest(
    context: Context, features: frozenset[str], secret: bytes | None = None
) -> str:
    """Return a 32-hex-digit digest of the ``features`` of ``context``.

    The digest covers the feature names and their values in a canonical
    JSON form, so the order in which a provider lists its features does
    not matter. The order of values inside a feature (interests, say)
    does matter, because providers may rank by it. With ``secret`` it is a
    keyed BLAKE2b digest.
    """
    values = {name: _plain(getattr(context, name)) for name in sorted(features)}
    # default=str covers a field type JSON lacks, should Context gain one.
    data = json.dumps(
        [KEY_VERSION, values],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    digest = hashlib.blake2b(data.encode("utf-8"), digest_size=16, key=secret or b"")
    return digest.hexdigest()


def segment_key(
    slot: str,
    chain_id: str,
    context: Context,
    features: frozenset[str],
    secret: bytes | None = None,
) -> str:
    """Return the cache key of ``context`` for the slot and chain given."""
    return f"{slot}:{chain_id}:{segment_digest(context, features, secret)}"


def _plain(value: object) -> object:
    """Turn a context value into JSON data: mappings to dicts, tuples to lists."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value
