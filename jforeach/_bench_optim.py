"""One Adam step, side by side: torch fused / foreach, optax per leaf, jforeach list / Packed.

Cases: a ResNet-50-like list (161 float32 arrays with lognormal sizes, 26.8M floats;
quick: 2.7M) and 2000 arrays of 4096 floats (quick: 200). The memory-bandwidth limit of
one step is 7 floats moved per parameter (read param, grad, m, v; write param, m, v) at
the best streaming bandwidth measured in the same run by a donated 3-stream triad
``a + s * c`` in jax.

``run_optim_bench(quick)`` returns rows ``{"case", "impl", "ms", "compile_s"}``; run the
module for a table: ``python -m jforeach._bench_optim [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jforeach
import jforeach.optim

LR = 1e-3
RESNET50_TENSORS = 161
RESNET50_FLOATS = 26_800_000


def _resnet_like_sizes(total: int, n: int = RESNET50_TENSORS, seed: int = 0) -> list[int]:
    """``n`` lognormal sizes summing to ``total`` (fixed seed)."""
    rng = np.random.default_rng(seed)
    raw = rng.lognormal(mean=0.0, sigma=2.0, size=n)
    sizes = np.maximum(np.floor(raw / raw.sum() * total), 1).astype(np.int64)
    sizes[np.argmax(sizes)] += total - sizes.sum()
    return [int(s) for s in sizes]


def _cases(quick: bool) -> list[tuple[str, list[int]]]:
    scale = 10 if quick else 1
    resnet_total = RESNET50_FLOATS // scale
    rows = 2000 // scale
    return [
        (
            f"resnet50-like {RESNET50_TENSORS} arrays, {resnet_total / 1e6:.1f}M floats",
            _resnet_like_sizes(resnet_total),
        ),
        (f"{rows} x 4096", [4096] * rows),
    ]


def _median_ms(step: Callable[[], Any], reps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _arrays(sizes: list[int], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s, dtype=np.float32) for s in sizes]


def _bench_torch(sizes: list[int], reps: int, **kwargs: Any) -> float:
    import torch

    params = [torch.from_numpy(a) for a in _arrays(sizes, 1)]
    for p, g in zip(params, _arrays(sizes, 2), strict=True):
        p.grad = torch.from_numpy(g)
    opt = torch.optim.Adam(params, lr=LR, **kwargs)
    ms = _median_ms(opt.step, reps)
    gc.collect()
    return ms


def _bench_jax(
    tx: optax.GradientTransformation,
    sizes: list[int],
    reps: int,
    *,
    packed: bool,
) -> tuple[float, float]:
    """Median ms of one donated, jitted step and its trace + compile seconds."""
    params: Any = [jnp.asarray(a) for a in _arrays(sizes, 1)]
    grads: Any = [jnp.asarray(a) for a in _arrays(sizes, 2)]
    if packed:
        params, grads = jforeach.pack(params), jforeach.pack(grads)
    state = tx.init(params)

    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    start = time.perf_counter()
    compiled = jax.jit(step, donate_argnums=(0, 1)).lower(params, state, grads).compile()
    compile_s = time.perf_counter() - start

    carry = [params, state]

    def run() -> None:
        carry[0], carry[1] = compiled(carry[0], carry[1], grads)
        jax.block_until_ready(carry)

    ms = _median_ms(run, reps)
    gc.collect()
    return ms, compile_s


def _triad_gbps(n: int, reps: int = 30) -> float:
    """Streaming bandwidth of the donated triad ``a = a + s * c`` over ``n`` float32s.

    Three streams (read ``a`` and ``c``, write ``a`` in place): 12 bytes per element.
    ``a`` must be used by the function, or jit prunes it and the donation is dropped.
    "Best" is the 90th percentile of ``reps`` runs: on a shared VM the single fastest
    run is sometimes an outlier that no other kernel reaches.
    """
    triad = jax.jit(lambda a, c: a + 1.5 * c, donate_argnums=0)
    a, c = (jnp.asarray(x) for x in _arrays([n] * 2, 3))
    carry = [a]

    def run() -> None:
        carry[0] = triad(carry[0], c)
        carry[0].block_until_ready()

    for _ in range(2):
        run()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    best = sorted(times)[len(times) // 10]
    return 3 * 4 * n / best / 1e9


def run_optim_bench(quick: bool) -> list[dict]:
    """Measures one Adam step per implementation on both cases.

    Args:
        quick: run the 10x smaller cases with fewer repetitions.

    Returns:
        One dict per (case, implementation): ``case``, ``impl``, ``ms`` (median time of
        one step) and ``compile_s`` (trace + compile seconds for the jax variants, else
        ``None``). The last row of each case is the memory-bandwidth limit.
    """
    reps = 5 if quick else 10
    rows: list[dict] = []
    cases = _cases(quick)
    # Streaming bandwidth: 128 MiB per array so the triad runs out of the 32 MiB L3 (the
    # quick cases partly fit in cache, so their times can beat the limit).
    gbps = max(_triad_gbps(1 << 25) for _ in cases)
    for case, sizes in cases:
        n = sum(sizes)

        def row(impl: str, ms: float, compile_s: float | None = None, case: str = case) -> None:
            rows.append({"case": case, "impl": impl, "ms": ms, "compile_s": compile_s})

        if importlib.util.find_spec("torch") is not None:  # torch rows only where torch is installed
            row("torch.optim.Adam(fused=True)", _bench_torch(sizes, reps, fused=True))
            row("torch.optim.Adam(foreach=True)", _bench_torch(sizes, reps, foreach=True))
        ms, compile_s = _bench_jax(optax.adam(LR), sizes, reps, packed=False)
        row("optax.adam per leaf, jit+donate", ms, compile_s)
        ms, compile_s = _bench_jax(jforeach.optim.adam(LR), sizes, reps, packed=False)
        row("jforeach.optim.adam list, jit+donate", ms, compile_s)
        ms, compile_s = _bench_jax(jforeach.optim.adam(LR), sizes, reps, packed=True)
        row("jforeach.optim.adam Packed, jit+donate", ms, compile_s)
        row(f"bandwidth limit (7 floats/param @ {gbps:.1f} GB/s)", 7 * 4 * n / gbps / 1e6)
    return rows


def format_table(rows: list[dict]) -> str:
    header = ("case", "impl", "ms", "compile s")
    body = [
        (
            r["case"],
            r["impl"],
            f"{r['ms']:.2f}" if r["ms"] < 10 else f"{r['ms']:.1f}",
            "" if r["compile_s"] is None else f"{r['compile_s']:.2f}",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(4)]
    lines = [
        "  ".join(
            cell.rjust(w) if i >= 2 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller cases")
    args = parser.parse_args()
    print(format_table(run_optim_bench(args.quick)))
