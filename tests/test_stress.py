"""Thousands of distinct kernel signatures in one process: the loaded kernels stay bounded.

A long-running program (a sweep, a notebook, torch's foreach sample inputs) calls jforeach with
thousands of distinct signatures. Every compiled kernel holds XLA:CPU memory maps, and Linux's default
``vm.max_map_count`` is 65,530; a process that kept them all would fail inside XLA's compiler. The
kernel cache is bounded by what it pins, so the maps plateau once the cache is full.

This takes several minutes (each signature is one XLA compile), so it is marked ``stress`` and left
out of the default run; run it with ``python -m pytest -m stress``. The default suite checks the same
release with the budget cut to 4 units (``test_nothing_lost.py``).
"""

from __future__ import annotations

import gc

import jax.numpy as jnp
import numpy as np
import pytest

import jforeach
from jforeach import _engine

pytestmark = pytest.mark.stress

SIGNATURES = 2_000
CALLS = [  # (call, numpy reference); each size and call is a distinct kernel
    (lambda xs: jforeach.add(xs, 1.5), lambda a: a + 1.5),
    (lambda xs: jforeach.mul_(xs, 2.0), lambda a: a * 2.0),
    (lambda xs: jforeach.sqrt(xs), np.sqrt),
    (lambda xs: jforeach.norm(xs), lambda a: np.linalg.norm(a)),
]


def _memory_maps() -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def test_thousands_of_signatures_keep_memory_maps_bounded():
    budget = _engine._KERNELS.budget
    assert SIGNATURES > 3 * budget  # the cache fills and keeps evicting
    rng = np.random.default_rng(0)
    jforeach.add([jnp.asarray(np.ones(3, np.float32))], 1.0)
    gc.collect()
    start = _memory_maps()
    growth = {}
    for k in range(SIGNATURES):
        size = 1 + k // len(CALLS)
        a = [rng.uniform(0.5, 2.0, size).astype(np.float32) for _ in range(2)]
        call, reference = CALLS[k % len(CALLS)]
        out = call([jnp.asarray(x) for x in a])
        for got, x in zip(out, a, strict=True):
            np.testing.assert_allclose(np.asarray(got), reference(x), rtol=2e-6)
        assert _engine._KERNELS.weight <= budget
        if (k + 1) in (budget // 2, budget, SIGNATURES // 2, SIGNATURES):
            gc.collect()
            growth[k + 1] = _memory_maps() - start
    per_kernel = growth[budget // 2] / (budget // 2)  # while every kernel is still kept
    assert per_kernel > 1, growth  # each kept kernel does hold maps: the bound below is not vacuous
    kept_all = per_kernel * SIGNATURES
    assert growth[SIGNATURES] < 0.5 * kept_all, growth
    # a plateau: the second thousand signatures add few maps, where keeping them would add ~1,000 kernels' worth
    added = growth[SIGNATURES] - growth[SIGNATURES // 2]
    assert added < 0.2 * per_kernel * (SIGNATURES // 2), growth
