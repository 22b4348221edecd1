"""Sharded Packed buffers on a 2-D (4, 2) mesh of 8 virtual CPU devices, Explicit and Auto axes.

Buffers split over both axes (``P(('data', 'model'))``), over 'data' only (replicated over 'model')
and fully replicated (``P()``): every op family, the reductions, unpack, grad through unpack, AdamW
steps and ``jax.shard_map``, against the unsharded Packed. The checks are in ``_sharded_checks.py``
and run in one fresh process (the device count is fixed when jax starts).
"""

from __future__ import annotations

import _multidevice

CHECKS = ["mesh_2d_ops", "mesh_2d_optimizers", "mesh_2d_shard_map"]


def test_mesh_2d():
    # one test, one process for every check: pytest-xdist would run a module fixture once per worker
    results = _multidevice.run_checks(CHECKS, devices=8, xla_flags=_multidevice.FAST_COMPILE)
    failed = {name: error for name, error in results.items() if error != "ok"}
    assert not failed, "\n".join(f"--- check_{name}\n{error}" for name, error in failed.items())
