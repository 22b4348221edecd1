"""Caches bounded by what their entries pin (compiled code, device memory), not by their number.

A jitted kernel holds its executables until it is dropped: on XLA:CPU each one keeps about 15-30
memory maps of compiled code, and Linux stops a process at ``vm.max_map_count`` (65,530 by default).
A process that runs thousands of distinct signatures (a test suite, a notebook, a sweep) must release
the kernels it no longer uses, least recently used first.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class WeightedLRU(Generic[V]):
    """A least-recently-used cache whose entries carry weights, kept at most ``budget`` in total.

    An entry's weight may grow after it is made (a jitted kernel compiles one executable per new
    signature): :meth:`add_weight` records it and :meth:`trim` evicts old entries until the total
    fits again; ``release`` is called on each evicted value (to drop compiled code at once). Only
    dropping a jitted function frees all it holds (its traces and lowerings are cached by JAX
    against the function itself), so entries are evicted whole.

    Examples:
      >>> cache = WeightedLRU(budget=3)
      >>> cache.get("a", lambda: 1, weight=2), cache.get("b", lambda: 2, weight=2)
      (1, 2)
      >>> cache.trim(); list(cache), cache.weight
      (['b'], 2.0)
    """

    def __init__(self, budget: float, release: Callable[[V], Any] | None = None):
        self.budget = budget
        self._release = release
        self._values: collections.OrderedDict[Hashable, V] = collections.OrderedDict()
        self._weights: dict[Hashable, float] = {}
        self._keys: dict[Hashable, Hashable] = {}
        self.weight = 0.0

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: Hashable, make: Callable[[], V], weight: float = 0.0) -> V:
        """The value for ``key``, made (with ``weight``) if absent; marks it most recently used."""
        try:
            value = self._values[key]
        except KeyError:
            value = self._values[key] = make()
            self._weights[key] = 0.0
            self._keys[key] = key
            self.add_weight(key, weight)
            return value
        self._values.move_to_end(key)
        return value

    def find(self, key: Hashable) -> V | None:
        """The value for ``key`` (marked most recently used), or None if absent."""
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
        return value

    def key(self, key: Hashable) -> Hashable:
        """The key object the entry equal to ``key`` was stored under (``key`` itself if absent): a
        lookup with that very object is an identity check, not a comparison of its fields."""
        return self._keys.get(key, key)

    def add_weight(self, key: Hashable, weight: float) -> None:
        """``key``'s value now pins ``weight`` more (ignored if it was evicted meanwhile)."""
        if key in self._weights:
            self._weights[key] += weight
            self.weight += weight

    def over_budget(self) -> bool:
        return self.weight > self.budget

    def trim(self) -> None:
        """Evict least recently used entries until the total weight fits (the newest too, if it alone
        is over budget: a kernel is then made anew when next asked for)."""
        while self.weight > self.budget and self._values:
            key, value = self._values.popitem(last=False)
            self.weight -= self._weights.pop(key)
            del self._keys[key]
            if self._release is not None:
                self._release(value)

    def clear(self) -> None:
        for value in self._values.values():
            if self._release is not None:
                self._release(value)
        self._values.clear()
        self._weights.clear()
        self._keys.clear()
        self.weight = 0.0


class HashedKey:
    """A tuple key whose hash is computed once: a cache hit on the same object is an identity check.

    A kernel key holds layouts, tree definitions and operand kinds; rehashing them on every call
    would cost microseconds, which is what a call on tiny arrays costs in all.

    Examples:
      >>> key = HashedKey(("add", 2.0))
      >>> {key: 1}[HashedKey(("add", 2.0))], key.fields
      (1, ('add', 2.0))
    """

    __slots__ = ("_hash", "fields")

    def __init__(self, fields: tuple):
        self.fields = fields
        self._hash = hash(fields)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (
            isinstance(other, HashedKey) and self._hash == other._hash and self.fields == other.fields
        )

    def __repr__(self) -> str:
        return f"HashedKey({self.fields!r})"
