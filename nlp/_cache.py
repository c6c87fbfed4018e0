"""A per-pack cache keyed by object identity (Pack holds a dict, so it is not hashable)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
_LOCK = threading.RLock()
_CACHE: dict[tuple[int, Hashable], tuple[object, Any]] = {}
_MAX = 64


def per_object(owner: object, key: Hashable, factory: Callable[[], T]) -> T:
    """`factory()` computed once per (owner object, key); the owner is kept alive with it."""
    slot = (id(owner), key)
    with _LOCK:
        hit = _CACHE.get(slot)
        if hit is not None and hit[0] is owner:
            return hit[1]  # type: ignore[no-any-return]
        value = factory()
        if len(_CACHE) >= _MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[slot] = (owner, value)
        return value


def clear() -> None:
    with _LOCK:
        _CACHE.clear()
