"""One Adam step, side by side: torch fused / foreach, optax per leaf, jforeach list / Packed.

Cases: a ResNet-50-like list (161 float32 arrays with lognormal sizes, 26.8M floats;
quick: 2.7M) and 2000 arrays of 4096 floats (quick: 200). The memory-bandwidth limit of
one step is 7 floats moved per parameter (read param, grad, m, v; write param, m, v) at
the streaming bandwidth of a donated 3-stream triad ``a + s * c`` in jax.

All implementations of a case, the triad included, are timed in interleaved rounds, so a
change in the machine's load or memory bandwidth hits them alike; each reports its median
over the rounds. On a GPU (jax's default backend, and torch's CUDA device where torch has
one) a sample is a burst of steps launched back to back for about 20 ms and waited for
once, so that the time per step is the device's, not the launch latency's.

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
TRIAD_FLOATS = 1 << 25  # 128 MiB per array: out of a CPU's L3 and of a GPU's L2

# A runner takes the number of steps to launch back to back and returns once they are done.
Runner = Callable[[int], None]


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


def _arrays(sizes: list[int], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s, dtype=np.float32) for s in sizes]


def _torch_device() -> str | None:
    """torch's device for the comparison, or None where torch is not installed."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"


def _torch_runner(sizes: list[int], device: str, **kwargs: Any) -> Runner:
    import torch

    params = [torch.from_numpy(a).to(device) for a in _arrays(sizes, 1)]
    for p, g in zip(params, _arrays(sizes, 2), strict=True):
        p.grad = torch.from_numpy(g).to(device)
    opt = torch.optim.Adam(params, lr=LR, **kwargs)

    def run(steps: int) -> None:
        for _ in range(steps):
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return run


def _jax_runner(
    tx: optax.GradientTransformation,
    sizes: list[int],
    *,
    packed: bool,
) -> tuple[Runner, float]:
    """A donated, jitted step and its trace + compile seconds."""
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

    def run(steps: int) -> None:
        for _ in range(steps):
            carry[0], carry[1] = compiled(carry[0], carry[1], grads)
        jax.block_until_ready(carry)

    return run, compile_s


def _triad_runner(n: int) -> Runner:
    """The donated triad ``a = a + s * c`` over ``n`` float32s: 12 bytes per element.

    ``a`` must be used by the function, or jit prunes it and the donation is dropped.
    """
    triad = jax.jit(lambda a, c: a + 1.5 * c, donate_argnums=0)
    a, c = (jnp.asarray(x) for x in _arrays([n] * 2, 3))
    carry = [a]

    def run(steps: int) -> None:
        for _ in range(steps):
            carry[0] = triad(carry[0], c)
        carry[0].block_until_ready()

    return run


def _interleaved_ms(runners: dict[str, Runner], rounds: int, sample_s: float) -> dict[str, list[float]]:
    """Per-step milliseconds of every runner, one sample each per round, in turn.

    A sample is a burst of steps lasting about ``sample_s`` seconds (at least one step),
    sized from a timed warm-up step: on a GPU a burst of a few short steps would time the
    launch latency and the clock ramp-up of an idle device, not the steps.
    """
    bursts: dict[str, int] = {}
    for name, run in runners.items():  # warm up: first-call costs stay out of the samples
        run(1)
        start = time.perf_counter()
        run(1)
        bursts[name] = max(1, min(1000, int(sample_s / max(time.perf_counter() - start, 1e-9))))
        run(bursts[name])
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            run(bursts[name])
            samples[name].append(1e3 * (time.perf_counter() - start) / bursts[name])
    return samples


def run_optim_bench(
    quick: bool,
    *,
    cases: str = "",
    skip: tuple[str, ...] = (),
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """Measures one Adam step per implementation on both cases.

    Args:
        quick: run the 10x smaller cases with fewer rounds.
        cases: run only the cases whose name contains this string.
        skip: leave out the implementations whose name contains any of these strings.
        progress: called with a line as each case is set up and measured.

    Returns:
        One dict per (case, implementation): ``case``, ``impl``, ``ms`` (median time of
        one step) and ``compile_s`` (trace + compile seconds for the jax variants, else
        ``None``). The last row of each case is the memory-bandwidth limit: 7 floats per
        parameter at the triad's bandwidth, the triad's 90th-percentile fastest round
        (on a shared machine the single fastest round is sometimes an outlier).
    """
    rounds = 5 if quick else 10
    # CPU steps are long enough to time one by one; GPU steps are timed in 20 ms bursts.
    sample_s = 0.02 if jax.default_backend() == "gpu" else 0.0
    device = _torch_device()
    rows: list[dict] = []
    say = progress or (lambda line: None)
    for case, sizes in _cases(quick):
        if cases not in case:
            continue
        n = sum(sizes)
        runners: dict[str, Runner] = {}
        compile_s: dict[str, float] = {}
        if device is not None:
            for flag in ("fused", "foreach"):
                impl = f"torch.optim.Adam({flag}=True) {device}"
                if not any(k in impl for k in skip):
                    runners[impl] = _torch_runner(sizes, device, **{flag: True})
        for impl, tx, packed in (
            ("optax.adam per leaf, jit+donate", optax.adam(LR), False),
            ("jforeach.optim.adam list, jit+donate", jforeach.optim.adam(LR), False),
            ("jforeach.optim.adam Packed, jit+donate", jforeach.optim.adam(LR), True),
        ):
            if not any(k in impl for k in skip):
                runners[impl], compile_s[impl] = _jax_runner(tx, sizes, packed=packed)
                say(f"{case}: {impl} compiled in {compile_s[impl]:.2f} s")
        runners["triad"] = _triad_runner(TRIAD_FLOATS)
        samples = _interleaved_ms(runners, rounds, sample_s)
        triad_ms = sorted(samples.pop("triad"))[rounds // 10]
        gbps = 3 * 4 * TRIAD_FLOATS / triad_ms / 1e6
        for impl, ms in samples.items():
            rows.append({"case": case, "impl": impl, "ms": statistics.median(ms), "compile_s": compile_s.get(impl)})
            say(f"{case}: {impl} {statistics.median(ms):.3f} ms")
        rows.append(
            {
                "case": case,
                "impl": f"bandwidth limit (7 floats/param @ {gbps:.1f} GB/s)",
                "ms": 7 * 4 * n / gbps / 1e6,
                "compile_s": None,
            }
        )
        del runners
        gc.collect()
    return rows


def format_table(rows: list[dict]) -> str:
    header = ("case", "impl", "ms", "compile s")
    body = [
        (
            r["case"],
            r["impl"],
            f"{r['ms']:.3f}" if r["ms"] < 1 else f"{r['ms']:.2f}" if r["ms"] < 10 else f"{r['ms']:.1f}",
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
    parser.add_argument("--cases", default="", help="only the cases whose name contains this")
    parser.add_argument("--skip", default="", help="comma list: leave out implementations whose name contains one")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}", flush=True)
    skip = tuple(k for k in args.skip.split(",") if k)
    rows = run_optim_bench(args.quick, cases=args.cases, skip=skip, progress=lambda line: print(line, flush=True))
    print(format_table(rows))
