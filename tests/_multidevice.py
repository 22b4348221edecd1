"""Running test code on 8 virtual CPU devices, which needs a fresh process.

``XLA_FLAGS=--xla_force_host_platform_device_count=8`` only takes effect before jax creates its CPU
backend, so the checks in ``_sharded_checks.py`` run in one subprocess per test module: the module's
fixture calls :func:`run_checks` once and each parametrized test asserts on its own check's result.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
TIMEOUT_S = 400  # a loaded 2-core machine runs these checks several times slower
MARKER = "__CHECK_RESULTS__ "
# LLVM's optimization level 0 more than halves XLA:CPU's compile time of the checks' many small programs
# (each sharded reduction compiles one branch per piece); the sharded and the unsharded programs they
# compare are compiled alike in the one process
FAST_COMPILE = "--xla_backend_optimization_level=0"


def env_with_devices(count: int, xla_flags: str = "") -> dict[str, str]:
    env = dict(os.environ)
    flags = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={count} {xla_flags}"
    env["XLA_FLAGS"] = flags.strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def run_checks(names: list[str], devices: int = 8, xla_flags: str = "") -> dict[str, str]:
    """Run ``_sharded_checks.check_NAME`` for each name in one process; returns name -> "ok" or the error.

    ``xla_flags`` are added to ``XLA_FLAGS`` (e.g. :data:`FAST_COMPILE`).
    """
    proc = subprocess.run(
        [sys.executable, str(TESTS / "_sharded_checks.py"), *names],
        env=env_with_devices(devices, xla_flags),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=REPO,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        output = f"exit code {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        return {name: output for name in names}
    return json.loads(lines[-1][len(MARKER) :])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
