"""One optimizer step, side by side, for every jforeach.optim optimizer: torch.optim fused
(where torch has ``fused=True``: SGD, Adam, AdamW, Adagrad) and foreach (Muon: torch's
single-tensor step, its only one), optax per leaf (where optax has the optimizer; not ASGD),
jforeach on a Packed (and, for Adam, on the list).

Cases: a ResNet-50-like list (161 float32 arrays with lognormal sizes, 26.8M floats;
quick: 2.7M) and 2000 arrays of 4096 floats (quick: 200); Muon, which takes matrices only,
runs the second as 64 x 64 matrices and skips the first. The memory-bandwidth limit of
one step is the floats each optimizer must move per parameter (Adam: read param, grad, m,
v; write param, m, v: 7) at the streaming bandwidth of a donated 3-stream triad
``a + s * c`` in jax; Muon's step is bound by its matrix products, not by memory.

All implementations of an optimizer on a case, the triad included, are timed in interleaved rounds, so a
change in the machine's load or memory bandwidth hits them alike; each reports its median
over the rounds. On a GPU (jax's default backend, and torch's CUDA device where torch has
one) a sample is a burst of steps launched back to back for about 20 ms and waited for
once, so that the time per step is the device's, not the launch latency's.

``run_optim_bench(quick)`` returns rows ``{"case", "optimizer", "impl", "ms", "compile_s"}``
(``case`` is ``"<optimizer>: <case>"``); ``python -m jforeach bench --ops adam [--quick]
[--optimizers all|adam,muon] [--cases ...] [--skip ...]`` prints them as a table.
"""

from __future__ import annotations

import gc
import importlib.util
import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jforeach
import jforeach.optim

from ._timing import Runner, interleaved

LR = 1e-3
RESNET50_TENSORS = 161
RESNET50_FLOATS = 26_800_000
TRIAD_FLOATS = 1 << 25  # 128 MiB per array: out of a CPU's L3 and of a GPU's L2

MUON_MATRIX = (64, 64)  # the N x 4096 case's tensors, as Muon's matrices


class Optimizer(NamedTuple):
    """One optimizer of the section: torch's class and options, and what moves per parameter."""

    torch_name: str
    kwargs: dict[str, Any]  # the same options for jforeach, torch and (translated) optax
    fused: bool  # torch.optim has fused=True for it (on CPU and CUDA in torch 2.13)
    optax: Callable[[], optax.GradientTransformation] | None
    floats: int  # floats read + written per parameter by one step: the bandwidth limit
    foreach: bool = True  # torch has foreach=True (Muon: no)


OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": Optimizer("SGD", {"momentum": 0.9}, True, lambda: optax.sgd(LR, momentum=0.9), 5),
    "adam": Optimizer("Adam", {}, True, lambda: optax.adam(LR), 7),
    "adamw": Optimizer("AdamW", {}, True, lambda: optax.adamw(LR, weight_decay=1e-2), 7),
    "adagrad": Optimizer("Adagrad", {}, True, lambda: optax.adagrad(LR, initial_accumulator_value=0.0, eps=1e-10), 5),
    "rmsprop": Optimizer("RMSprop", {}, False, lambda: optax.rmsprop(LR, decay=0.99), 5),
    "adadelta": Optimizer("Adadelta", {}, False, lambda: optax.adadelta(LR), 7),
    "adamax": Optimizer("Adamax", {}, False, lambda: optax.adamax(LR), 7),
    "nadam": Optimizer("NAdam", {}, False, lambda: optax.nadam(LR), 7),
    "radam": Optimizer("RAdam", {}, False, lambda: optax.radam(LR), 7),
    "rprop": Optimizer("Rprop", {}, False, lambda: optax.rprop(LR), 7),
    "asgd": Optimizer("ASGD", {}, False, None, 5),
    # the cases' tensors are 1-D: Adafactor keeps a full second moment for each
    "adafactor": Optimizer("Adafactor", {}, False, lambda: optax.adafactor(LR), 5),
    "muon": Optimizer("Muon", {}, False, lambda: optax.contrib.muon(LR, weight_decay=0.1), 5, foreach=False),
}


class Case(NamedTuple):
    name: str
    sizes: list[int]  # one 1-D float32 array per size
    matrices: list[tuple[int, int]] | None  # Muon's shapes of the same arrays (None: Muon skips the case)


def _resnet_like_sizes(total: int, n: int = RESNET50_TENSORS, seed: int = 0) -> list[int]:
    """``n`` lognormal sizes summing to ``total`` (fixed seed)."""
    rng = np.random.default_rng(seed)
    raw = rng.lognormal(mean=0.0, sigma=2.0, size=n)
    sizes = np.maximum(np.floor(raw / raw.sum() * total), 1).astype(np.int64)
    sizes[np.argmax(sizes)] += total - sizes.sum()
    return [int(s) for s in sizes]


def _cases(quick: bool) -> list[Case]:
    scale = 10 if quick else 1
    resnet_total = RESNET50_FLOATS // scale
    rows = 2000 // scale
    return [
        Case(
            f"resnet50-like {RESNET50_TENSORS} arrays, {resnet_total / 1e6:.1f}M floats",
            _resnet_like_sizes(resnet_total),
            None,
        ),
        Case(f"{rows} x 4096", [4096] * rows, [MUON_MATRIX] * rows),
    ]


def _arrays(shapes: list[Any], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s, dtype=np.float32) for s in shapes]


def _torch_device() -> str | None:
    """torch's device for the comparison, or None where torch is not installed."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"


def _torch_runner(name: str, shapes: list[Any], device: str, **kwargs: Any) -> Runner:
    import torch

    params = [torch.from_numpy(a).to(device) for a in _arrays(shapes, 1)]
    for p, g in zip(params, _arrays(shapes, 2), strict=True):
        p.grad = torch.from_numpy(g).to(device)
    opt = getattr(torch.optim, name)(params, lr=LR, **kwargs)

    def run(steps: int) -> None:
        for _ in range(steps):
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return run


def _jax_runner(
    tx: optax.GradientTransformation,
    shapes: list[Any],
    *,
    packed: bool,
) -> tuple[Runner, float]:
    """A donated, jitted step and its trace + compile seconds."""
    params: Any = [jnp.asarray(a) for a in _arrays(shapes, 1)]
    grads: Any = [jnp.asarray(a) for a in _arrays(shapes, 2)]
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


def _impls(name: str, spec: Optimizer, device: str | None) -> list[tuple[str, Any]]:
    """(label, how to build it) of every implementation of one optimizer.

    The labels are the same for every optimizer (the optimizer is in the row's case), so that a
    plot has one bar colour per implementation.
    """
    out: list[tuple[str, Any]] = []
    if device is not None:
        flags = [f for f, has in (("fused", spec.fused), ("foreach", spec.foreach)) if has]
        for flag in flags:
            out.append((f"torch.optim {flag}=True {device}", ("torch", {flag: True})))
        if not flags:  # Muon: torch 2.13 has only the single-tensor step
            out.append((f"torch.optim single-tensor {device}", ("torch", {})))
    factory = getattr(jforeach.optim, name)
    if spec.optax is not None:
        out.append(("optax per leaf, jit+donate", ("jax", spec.optax, False)))
    if name == "adam":  # the list path costs what per-leaf optax does: shown once
        out.append(("jforeach list, jit+donate", ("jax", lambda: factory(LR, **spec.kwargs), False)))
    out.append(("jforeach Packed, jit+donate", ("jax", lambda: factory(LR, **spec.kwargs), True)))
    return out


def run_optim_bench(
    quick: bool,
    *,
    cases: str = "",
    skip: tuple[str, ...] = (),
    optimizers: tuple[str, ...] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """Measures one step of every optimizer per implementation on both cases.

    Args:
        quick: run the 10x smaller cases with fewer rounds.
        cases: run only the cases whose name contains this string.
        skip: leave out the implementations whose name contains any of these strings.
        optimizers: the names (keys of ``OPTIMIZERS``, jforeach.optim's) to run; default all.
        progress: called with a line as each case is set up and measured.

    Returns:
        One dict per (optimizer, case, implementation): ``case`` (``"<optimizer>: <case>"``),
        ``optimizer``, ``impl``, ``ms`` (median time of one step) and ``compile_s`` (trace +
        compile seconds for the jax variants, else ``None``). The last row of each optimizer
        and case is the memory-bandwidth limit: the optimizer's floats per parameter at the
        triad's bandwidth, the triad's 90th-percentile fastest round (on a shared machine the
        single fastest round is sometimes an outlier).

    Raises:
        ValueError: for an optimizer name that is not in ``OPTIMIZERS``.
    """
    names = list(OPTIMIZERS) if optimizers is None else list(optimizers)
    unknown = [n for n in names if n not in OPTIMIZERS]
    if unknown:
        raise ValueError(f"`run_optim_bench`: unknown optimizers {unknown}; choose among {list(OPTIMIZERS)}")
    rounds = 5 if quick else 10
    # CPU steps are long enough to time one by one; GPU steps are timed in 20 ms bursts.
    sample_s = 0.02 if jax.default_backend() == "gpu" else 0.0
    device = _torch_device()
    rows: list[dict] = []
    say = progress or (lambda line: None)
    for case in _cases(quick):
        if cases not in case.name:
            continue
        for name in names:
            spec = OPTIMIZERS[name]
            shapes: list[Any] | None = case.matrices if name == "muon" else case.sizes
            if shapes is None:
                continue
            label = f"{name}: {case.name}"
            runners: dict[str, Runner] = {}
            compile_s: dict[str, float] = {}
            for impl, how in _impls(name, spec, device):
                if any(k in impl for k in skip):
                    continue
                if how[0] == "torch":
                    assert device is not None
                    runners[impl] = _torch_runner(spec.torch_name, shapes, device, **spec.kwargs, **how[1])
                else:
                    runners[impl], compile_s[impl] = _jax_runner(how[1](), shapes, packed=how[2])
                    say(f"{label}: {impl} compiled in {compile_s[impl]:.2f} s")
            runners["triad"] = _triad_runner(TRIAD_FLOATS)
            timings = interleaved(runners, rounds, sample_s)
            triad_ms = 1e3 * sorted(timings.pop("triad").samples_s)[rounds // 10]
            gbps = 3 * 4 * TRIAD_FLOATS / triad_ms / 1e6
            for impl, timing in timings.items():
                median = 1e3 * timing.median_s
                rows.append(
                    {"case": label, "optimizer": name, "impl": impl, "ms": median, "compile_s": compile_s.get(impl)}
                )
                say(f"{label}: {impl} {median:.3f} ms")
            rows.append(
                {
                    "case": label,
                    "optimizer": name,
                    "impl": f"bandwidth limit ({spec.floats} floats/param @ {gbps:.1f} GB/s)",
                    "ms": spec.floats
                    * 4
                    * sum(math.prod(s) if isinstance(s, tuple) else s for s in shapes)
                    / gbps
                    / 1e6,
                    "compile_s": None,
                }
            )
            del runners
            gc.collect()
    return rows
