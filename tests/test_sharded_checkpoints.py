"""orbax-checkpoint save/restore of a sharded Packed and its optimizer state, on 8 virtual CPU devices.

With a target (bit-exact, the same shardings, the train step not compiled again), without one (bare
buffers with their saved shardings), and onto another mesh shape (saved on 8 devices in 1-D, restored
onto (4, 2)). The recipes are the ones docs/checkpoints.md gives; the checks are in
``_sharded_checks.py`` and run in one fresh process (the device count is fixed when jax starts).
"""

from __future__ import annotations

import _multidevice
import pytest

pytest.importorskip("orbax.checkpoint")

CHECKS = ["sharded_checkpoint_round_trips", "sharded_checkpoint_onto_another_mesh"]


def test_sharded_checkpoints():
    # one test, one process for every check: pytest-xdist would run a module fixture once per worker
    results = _multidevice.run_checks(CHECKS, devices=8, xla_flags=_multidevice.FAST_COMPILE)
    failed = {name: error for name, error in results.items() if error != "ok"}
    assert not failed, "\n".join(f"--- check_{name}\n{error}" for name, error in failed.items())
