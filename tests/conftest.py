"""Test configuration: float64 parity with torch needs ``jax_enable_x64``; the ``jax_compiles`` fixture."""

from __future__ import annotations

import jax
import pytest

jax.config.update("jax_enable_x64", True)

# The events JAX records (jax.monitoring) each time it traces a function to a jaxpr and each time
# XLA compiles a program; both carry the function's name as ``fun_name``
TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class CompileLog:
    """The functions JAX traced and the programs XLA compiled while the log listened, in order.

    ``traces`` holds the traced functions' names (a jforeach kernel is named after its function:
    ``"add_"``), ``compiles`` the compiled programs' (``"jit(add_)"``). Every trace and compile in
    the process is logged, the engine's and any other (an eager ``jnp.ones`` of a new shape
    compiles too), so a test makes its arrays before it notes where the log stands.
    """

    def __init__(self) -> None:
        self.traces: list[str] = []
        self.compiles: list[str] = []

    def listen(self, event: str, duration: float, **kwargs: object) -> None:
        del duration
        if event == TRACE_EVENT:
            self.traces.append(str(kwargs.get("fun_name")))
        elif event == COMPILE_EVENT:
            self.compiles.append(str(kwargs.get("fun_name")))


@pytest.fixture
def jax_compiles():
    """A :class:`CompileLog` of this test's traces and compiles, from JAX's monitoring events."""
    log = CompileLog()
    jax.monitoring.register_event_duration_secs_listener(log.listen)
    try:
        yield log
    finally:
        jax.monitoring.unregister_event_duration_listener(log.listen)
