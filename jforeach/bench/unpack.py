"""Compile time and step time of a loss that unpacks thousands of tensors, against the same loss on the tree.

``python -m jforeach bench --ops unpack --unpack-n 2000,10000`` prints, for each tensor count, the seconds that tracing,
lowering and XLA's compile take for ``jax.jit(jax.grad(loss))`` on a plain tree and for the same
loss on a :class:`jforeach.Packed` through :meth:`~jforeach.Packed.unpack`, their ratio, and the
milliseconds of one step of each (timed in interleaved rounds). The tensors have the shapes of a
transformer's blocks (four square attention matrices, the two MLP matrices, biases and norms).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jforeach

from ._table import format_table
from ._timing import interleaved

__all__ = ["measure", "table", "transformer_like"]

_BLOCK = ((64, 64), (64, 64), (64, 64), (64, 64), (64, 256), (256,), (256, 64), (64,), (64,), (64,))


def transformer_like(n: int, seed: int = 0) -> dict[str, jax.Array]:
    """``n`` float32 tensors with the shapes of a small transformer's blocks, repeated.

    Args:
      n: The number of tensors.
      seed: The seed of their normally distributed values (scaled by 0.02).

    Returns:
      A dict ``{"p000000": ..., ...}`` in block order.
    """
    rng = np.random.default_rng(seed)
    shapes = [_BLOCK[i % len(_BLOCK)] for i in range(n)]
    return {f"p{i:06d}": jnp.asarray(rng.standard_normal(s).astype(np.float32) * 0.02) for i, s in enumerate(shapes)}


def _loss(tree: Any) -> jax.Array:
    return sum((jnp.sum(jnp.tanh(x) * x) for x in jax.tree.leaves(tree)), start=jnp.float32(0))


def _compile(fn: Callable, arg: Any) -> tuple[Any, dict[str, float]]:
    start = time.perf_counter()
    traced = jax.jit(fn).trace(arg)
    t_trace = time.perf_counter()
    lowered = traced.lower()
    t_lower = time.perf_counter()
    compiled = lowered.compile()
    t_compile = time.perf_counter()
    phases = {"trace_s": t_trace - start, "lower_s": t_lower - t_trace, "xla_s": t_compile - t_lower}
    return compiled, {**phases, "compile_s": t_compile - start}


def measure(n: int, *, rounds: int = 5, sample_s: float = 0.2) -> dict[str, Any]:
    """Compiles and times ``grad(loss)`` on the tree and ``grad(loss o unpack)`` on the Packed of ``n`` tensors.

    Args:
      n: The number of tensors.
      rounds: The interleaved timing rounds of the two steps.
      sample_s: The seconds one burst of steps should last.

    Returns:
      A dict with ``tensors``, ``tree`` and ``packed`` (each ``trace_s``, ``lower_s``, ``xla_s``,
      ``compile_s``, ``ms``), and ``ratio`` (Packed compile s over tree compile s).
    """
    tree = transformer_like(n)
    packed = jforeach.pack(tree)
    tree_step, tree_times = _compile(jax.grad(_loss), tree)
    packed_step, packed_times = _compile(jax.grad(lambda p: _loss(p.unpack())), packed)

    def runner(step: Any, arg: Any) -> Callable[[int], None]:
        def run(k: int) -> None:
            out = None
            for _ in range(k):
                out = step(arg)
            jax.block_until_ready(out)

        return run

    timings = interleaved(
        {"tree": runner(tree_step, tree), "packed": runner(packed_step, packed)}, rounds=rounds, sample_s=sample_s
    )
    tree_times["ms"] = timings["tree"].median_s * 1e3
    packed_times["ms"] = timings["packed"].median_s * 1e3
    return {
        "tensors": n,
        "tree": tree_times,
        "packed": packed_times,
        "ratio": packed_times["compile_s"] / tree_times["compile_s"],
    }


def table(results: Sequence[dict[str, Any]]) -> str:
    """The printed table of :func:`measure`'s results, one line per tensor count."""
    header = ["tensors", "tree compile s", "Packed compile s", "ratio", "tree step ms", "Packed step ms", "phases"]
    lines = []
    for r in results:
        t, p = r["tree"], r["packed"]
        phases = (
            f"trace/lower/XLA tree {t['trace_s']:.1f}/{t['lower_s']:.1f}/{t['xla_s']:.1f}, "
            f"Packed {p['trace_s']:.1f}/{p['lower_s']:.1f}/{p['xla_s']:.1f}"
        )
        lines.append(
            [
                str(r["tensors"]),
                f"{t['compile_s']:.2f}",
                f"{p['compile_s']:.2f}",
                f"{r['ratio']:.2f}",
                f"{t['ms']:.2f}",
                f"{p['ms']:.2f}",
                phases,
            ]
        )
    return format_table(header, lines, left=1, group=False)
