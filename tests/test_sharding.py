"""Sharded Packed buffers on today's JAX idioms: 8 virtual CPU devices, and two processes on loopback.

Both need a fresh jax runtime (the device count is fixed when jax starts), so they run in subprocesses:
``_sharded_checks.py`` for the 8-device checks (one process for all of them) and
``_two_process_worker.py`` for the two processes of 4 devices each.
"""

from __future__ import annotations

import subprocess
import sys

import _multidevice
import pytest

PACKED_CHECKS = [
    "packed_layout",
    "packed_padding_and_whole_buffer_reductions",
    "todays_meshes_ops",  # jax.make_mesh (Explicit), Auto axes, legacy Mesh, jax.set_mesh with a bare P
    "todays_meshes_optimizers",
    "todays_meshes_shard_map",
]


LIST_CHECKS = ["list_outplace_keeps_sharding", "list_inplace_keeps_sharding"]  # the list path keeps shardings


@pytest.mark.parametrize(
    "checks",
    [PACKED_CHECKS[:3] + LIST_CHECKS, PACKED_CHECKS[3:]],
    ids=["ops", "optimizers_and_shard_map"],
)
def test_eight_devices(checks):
    # one process per group of checks, not a module fixture (pytest-xdist would run that once per
    # worker); two groups, so that the two workers share them
    results = _multidevice.run_checks(checks, devices=8, xla_flags=_multidevice.FAST_COMPILE)
    failed = {name: error for name, error in results.items() if error != "ok"}
    assert not failed, "\n".join(f"--- check_{name}\n{error}" for name, error in failed.items())


def test_two_processes():
    port = _multidevice.free_port()
    env = _multidevice.env_with_devices(4)
    worker = str(_multidevice.TESTS / "_two_process_worker.py")
    procs = [
        subprocess.Popen(
            [sys.executable, worker, str(i), str(port)],
            env=env,
            cwd=_multidevice.REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outputs = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=_multidevice.TIMEOUT_S)
            outputs.append(out)
    except subprocess.TimeoutExpired:
        for proc in procs:
            proc.kill()
        outputs = [proc.communicate()[0] for proc in procs]
        pytest.fail("two-process run timed out:\n" + _report(procs, outputs))
    codes = [proc.returncode for proc in procs]
    assert codes == [0, 0], _report(procs, outputs)
    for i, out in enumerate(outputs):
        assert f"WORKER OK {i}" in out, _report(procs, outputs)


def _report(procs, outputs) -> str:
    return "\n".join(
        f"--- process {i} (exit code {proc.returncode})\n{out}"
        for i, (proc, out) in enumerate(zip(procs, outputs, strict=True))
    )
