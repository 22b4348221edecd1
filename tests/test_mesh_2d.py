"""Sharded Packed buffers on a 2-D (4, 2) mesh of 8 virtual CPU devices, Explicit and Auto axes.

Buffers split over both axes (``P(('data', 'model'))``), over 'data' only (replicated over 'model')
and fully replicated (``P()``): every op family, the reductions, unpack, grad through unpack, AdamW
steps and ``jax.shard_map``, against the unsharded Packed. The checks are in ``_sharded_checks.py``
and run in one fresh process (the device count is fixed when jax starts).
"""

from __future__ import annotations

import _multidevice
import pytest

CHECKS = ["mesh_2d_ops", "mesh_2d_optimizers", "mesh_2d_shard_map"]


@pytest.fixture(scope="module")
def results():
    return _multidevice.run_checks(CHECKS, devices=8, xla_flags=_multidevice.FAST_COMPILE)


@pytest.mark.parametrize("check", CHECKS)
def test_mesh_2d(results, check):
    assert results[check] == "ok", results[check]
