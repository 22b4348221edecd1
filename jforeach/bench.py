"""``python -m jforeach bench``: time jforeach against the alternatives a user has.

The sweep runs each selected foreach op over N float32 arrays of S elements each:

- ``for-loop jnp``: a Python for-loop of the ``jax.numpy`` function, one eager call
  per array;
- ``map jnp``: ``list(map(jnp.log1p, xs))``;
- ``jit(tree_map)``: the hand-rolled JAX version,
  ``jax.jit(lambda xs: jax.tree.map(jnp.log1p, xs), donate_argnums=0)``;
- ``jforeach list``: ``jforeach.log1p_(xs)`` on the list;
- ``jforeach Packed``: ``jforeach.log1p_(packed)`` with ``packed = jforeach.pack(xs)``;
- ``flat kernel``: one jitted, donated ``jnp.log1p`` over a single buffer of the same
  N*S floats, the limit any foreach implementation can reach;
- ``torch._foreach`` and ``torch for-loop`` (``torch._foreach_log1p_(xs)``, and
  ``x.log1p_()`` per tensor), only when torch is importable.

In-place ops are chained: each call's output is the next call's input, so no donated
(deleted) array is ever touched again. Every call is waited for with
``block_until_ready``; the JAX implementations of one case are timed in interleaved
rounds (so a change in the machine's load hits them alike), then the torch ones, and
the median per call is reported. The first call is excluded; its extra time over the median is reported as
the compile time. A second section measures the compile time of ``log1p_`` on a Packed
of 10 and of 10,000 arrays; a third runs the optimizer benchmark
(``jforeach/_bench_optim.py``) when it is importable; a fourth (``--ops train``) one full
train step of a small transformer with optax per leaf, ``optax.flatten`` and a Packed
(``jforeach/_bench_train.py``; ``--quick`` leaves it out unless ``--ops`` names it).

The table is printed; ``bench.json`` (rows and machine) and ``bench.png`` (plots) are
written to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["main"]

FULL_SIZES = ((1000, 1000), (10000, 100), (10, 1_000_000))
QUICK_SIZES = ((100, 1000), (1000, 100), (10, 10_000))
SWEEP_OPS = ("log1p", "add", "addcmul", "norm")
OPTIM_OPS = ("adam",)
TRAIN_OPS = ("train",)
ALL_OPS = SWEEP_OPS + OPTIM_OPS + TRAIN_OPS
COMPILE_NS = (10, 10_000)

FOR_LOOP = "for-loop jnp"
MAP = "map jnp"
JIT_TREE_MAP = "jit(tree_map)"
JF_LIST = "jforeach list"
JF_PACKED = "jforeach Packed"
FLAT = "flat kernel"
TORCH_FOREACH = "torch._foreach"
TORCH_LOOP = "torch for-loop"
IMPLS = (FOR_LOOP, MAP, JIT_TREE_MAP, JF_LIST, JF_PACKED, FLAT, TORCH_FOREACH, TORCH_LOOP)

_ADDCMUL_VALUE = 0.01
_PAUSE_S = 0.2
_MISSING_EXTRA = (
    "`python -m jforeach bench` needs tqdm and matplotlib ({missing}); install them with: pip install 'jforeach[bench]'"
)


# ----------------------------------------------------------------------
# The ops: one row each.


@dataclasses.dataclass(frozen=True)
class _Op:
    """One benchmarked foreach op and its equivalent in every implementation.

    `jnp_fn(x, *operands)` is the op on one array; `flat_fn(n, s)`, when given, builds
    the flat-kernel limit: one op over a single buffer of the same n * s floats
    (default: `jnp_fn` itself, right for elementwise ops). The torch functions get the
    torch module first.
    """

    name: str
    jnp_fn: Callable[..., jax.Array]
    torch_foreach: Callable[..., Any]
    torch_single: Callable[..., Any]
    operands: int = 0  # tensor lists besides `tensors`
    inplace: bool = True
    flat_fn: Callable[[int, int], Callable[..., jax.Array]] | None = None
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def jforeach_name(self) -> str:
        return self.name + "_" if self.inplace else self.name

    def case(self, n: int, s: int) -> str:
        return f"{self.jforeach_name} {n}x{s}"

    def flat(self, n: int, s: int) -> Callable[..., jax.Array]:
        return self.jnp_fn if self.flat_fn is None else self.flat_fn(n, s)


def _addcmul(x: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    return x + _ADDCMUL_VALUE * (a * b)


def _flat_norm(n: int, s: int) -> Callable[[jax.Array], jax.Array]:
    # One pass over the same N*S floats. (Per-row norms of the (n, s) reshape are not a
    # limit: XLA:CPU reduces (10, 1_000_000) along axis 1 about 30x slower than whole.)
    return jnp.linalg.norm


_OPS = {
    op.name: op
    for op in (
        _Op(
            "log1p",
            jnp.log1p,
            torch_foreach=lambda torch, xs: torch._foreach_log1p_(xs),
            torch_single=lambda torch, x: x.log1p_(),
        ),
        _Op(
            "add",
            jnp.add,
            torch_foreach=lambda torch, xs, ys: torch._foreach_add_(xs, ys),
            torch_single=lambda torch, x, y: x.add_(y),
            operands=1,
        ),
        _Op(
            "addcmul",
            _addcmul,
            torch_foreach=lambda torch, xs, a, b: torch._foreach_addcmul_(xs, a, b, value=_ADDCMUL_VALUE),
            torch_single=lambda torch, x, a, b: x.addcmul_(a, b, value=_ADDCMUL_VALUE),
            operands=2,
            kwargs={"value": _ADDCMUL_VALUE},
        ),
        _Op(
            "norm",
            jnp.linalg.norm,
            torch_foreach=lambda torch, xs: torch._foreach_norm(xs),
            torch_single=lambda torch, x: torch.linalg.vector_norm(x),
            inplace=False,
            flat_fn=_flat_norm,
        ),
    )
}


# ----------------------------------------------------------------------
# Optional dependencies.


def _load_torch() -> tuple[ModuleType | None, str | None]:
    try:
        import torch
    except ImportError:
        return None, "torch not installed: torch columns skipped"
    except Exception as e:  # a broken torch install only loses the torch columns
        return None, f"torch not importable ({type(e).__name__}: {e}): torch columns skipped"
    return torch, None


QUICK_OPTIMIZERS = ("sgd", "adam", "adamw")  # --quick: the fused-vs-foreach-vs-Packed comparison only


def _load_optim_bench() -> tuple[Callable[..., list[dict[str, Any]]] | None, str | None]:
    from jforeach._bench_optim import run_optim_bench

    return run_optim_bench, None


# ----------------------------------------------------------------------
# Timing.


_Step = Callable[[], None]


@dataclasses.dataclass
class _Timing:
    first_s: float
    median_s: float
    calls: int


def _measure(
    steps: dict[str, _Step], repeat: int, batch_s: float, on_warmup: Callable[[str], None]
) -> dict[str, _Timing]:
    """Times each `step` (which waits for its own result), interleaved.

    Each step's first call is timed apart (it compiles); after a second warm-up call,
    `repeat` rounds each run every step in turn, a batch of calls lasting about
    `batch_s`, so that a change in the machine's load hits all of them alike. The
    time per call is the median over rounds of each batch's mean.
    """
    first, batch = {}, {}
    for name, step in steps.items():
        on_warmup(name)
        start = time.perf_counter()
        step()
        first[name] = time.perf_counter() - start
        start = time.perf_counter()
        step()
        batch[name] = max(1, min(100, int(batch_s / max(time.perf_counter() - start, 1e-7))))
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeat):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(batch[name]):
                step()
            samples[name].append((time.perf_counter() - start) / batch[name])
    return {name: _Timing(first[name], statistics.median(samples[name]), repeat * batch[name]) for name in steps}


# ----------------------------------------------------------------------
# Implementations. Each factory gets the numpy data (operands + 1 arrays of shape
# (n, s)) and returns a `step` closure that runs one call, waits for it and keeps the
# chained state.


def _jax_lists(data: Sequence[np.ndarray]) -> list[list[jax.Array]]:
    return [[jnp.asarray(row) for row in a] for a in data]


def _chained(op: _Op, call: Callable[..., Any], xs: Any, others: Sequence[Any]) -> _Step:
    """A step that runs ``call(xs, *others)`` and waits for it; for an in-place op the output is
    the next step's input (the input's buffers were donated)."""

    def step() -> None:
        nonlocal xs
        out = jax.block_until_ready(call(xs, *others))
        if op.inplace:
            xs = out

    return step


def _step_for_loop(op: _Op, data: Sequence[np.ndarray], env: dict[str, Any]) -> _Step:
    xs, *others = _jax_lists(data)

    def for_loop(xs: list[jax.Array], *others: list[jax.Array]) -> list[jax.Array]:
        out = []
        for i, x in enumerate(xs):
            out.append(op.jnp_fn(x, *(o[i] for o in others)))
        return out

    return _chained(op, for_loop, xs, others)


def _step_map(op: _Op, data: Sequence[np.ndarray], env: dict[str, Any]) -> _Step:
    xs, *others = _jax_lists(data)
    return _chained(op, lambda xs, *others: list(map(op.jnp_fn, xs, *others)), xs, others)


def _step_jit_tree_map(op: _Op, data: Sequence[np.ndarray], env: dict[str, Any]) -> _Step:
    xs, *others = _jax_lists(data)
    fn = jax.jit(
        lambda xs, *others: jax.tree.map(op.jnp_fn, xs, *others),
        donate_argnums=0 if op.inplace else (),
    )
    return _chained(op, fn, xs, others)


def _step_jforeach_list(op: _Op, data: Sequence[np.ndarray], env: dict[str, Any]) -> _Step:
    fn = getattr(env["jforeach"], op.jforeach_name)
    xs, *others = _jax_lists(data)
    # the list itself is updated in place too; the step rebinds the returned one, which relies on less
    return _chained(op, lambda xs, *others: fn(xs, *others, **op.kwargs), xs, others)


def _step_jforeach_packed(op: _Op, data: Sequence[np.ndarray], env: dict[str, Any]) -> _Step:
    jforeach = env["jforeach"]
    fn = getattr(jforeach, op.jforeach_name)
    lists = _jax_lists(data)
    start = time.perf_counter()
    xs, *others = [jax.block_until_ready(jforeach.pack(t)) for t in lists]
    env["pack_s"] = (time.perf_counter() - start) / len(lists)
    del lists
    return _chained(op, lambda xs, *others: fn(xs, *others, **op.kwargs), xs, others)


def _step_flat(op: _Op, data: Sequence[np.ndarray], env: dict[str, Any]) -> _Step:
    n, s = data[0].shape
    flat, *others = [jnp.asarray(a.reshape(-1)) for a in data]
    kernel = op.flat(n, s)
    # a fresh function per case, so that its compile time is measured, not cached
    fn = jax.jit(lambda *a: kernel(*a), donate_argnums=0 if op.inplace else ())
    return _chained(op, fn, flat, others)


def _torch_lists(data: Sequence[np.ndarray], env: dict[str, Any]) -> list[list[Any]]:
    torch = env["torch"]
    return [[torch.tensor(row, device=env["torch_device"]) for row in a] for a in data]


def _torch_sync(env: dict[str, Any]) -> None:
    if env["torch_device"] == "cuda":
        env["torch"].cuda.synchronize()


def _step_torch_foreach(op: _Op, data: Sequence[np.ndarray], env: dict[str, Any]) -> _Step:
    torch = env["torch"]
    lists = _torch_lists(data, env)

    def step() -> None:
        op.torch_foreach(torch, *lists)
        _torch_sync(env)

    return step


def _step_torch_loop(op: _Op, data: Sequence[np.ndarray], env: dict[str, Any]) -> _Step:
    torch = env["torch"]
    lists = _torch_lists(data, env)

    def step() -> None:
        for args in zip(*lists, strict=True):
            op.torch_single(torch, *args)
        _torch_sync(env)

    return step


_FACTORIES: dict[str, Callable[[_Op, Sequence[np.ndarray], dict[str, Any]], _Step]] = {
    FOR_LOOP: _step_for_loop,
    MAP: _step_map,
    JIT_TREE_MAP: _step_jit_tree_map,
    JF_LIST: _step_jforeach_list,
    JF_PACKED: _step_jforeach_packed,
    FLAT: _step_flat,
    TORCH_FOREACH: _step_torch_foreach,
    TORCH_LOOP: _step_torch_loop,
}


def _inputs(op: _Op, n: int, s: int, seed: int) -> list[np.ndarray]:
    """Positive float32 data, so that chained log1p, add and addcmul stay finite."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 2.0, size=(n, s)).astype(np.float32) for _ in range(op.operands + 1)]


# ----------------------------------------------------------------------
# Sections.


def _show(bar: Any, case: str, impl: str) -> None:
    bar.set_postfix_str(f"{case} {impl}")


def _run_sweep(
    ops: Sequence[str],
    sizes: Sequence[tuple[int, int]],
    impls: Sequence[str],
    env: dict[str, Any],
    repeat: int,
    batch_s: float,
    bar: Any,
) -> list[dict[str, Any]]:
    """One row per (op, size, impl); the impls of one case and framework are timed interleaved."""
    rows = []
    for name in ops:
        op = _OPS[name]
        for n, s in sizes:
            data = _inputs(op, n, s, seed=n * 7 + s)
            case = op.case(n, s)
            timings: dict[str, _Timing] = {}
            pack_s = None
            # JAX and torch are timed apart, with a pause between: each one's idle worker threads
            # spin for a while after a call and slow the other down on a small machine.
            for group in ([i for i in impls if not i.startswith("torch")], [i for i in impls if i.startswith("torch")]):
                if group:
                    time.sleep(_PAUSE_S)
                    steps = {impl: _FACTORIES[impl](op, data, env) for impl in group}
                    pack_s = env.pop("pack_s", pack_s)
                    timings |= _measure(steps, repeat, batch_s, functools.partial(_show, bar, case))
                    del steps
            for impl, timing in timings.items():
                row = {
                    "section": "sweep",
                    "case": case,
                    "op": op.jforeach_name,
                    "n": n,
                    "s": s,
                    "dtype": "float32",
                    "impl": impl,
                    "ms": timing.median_s * 1e3,
                    "compile_s": None if impl.startswith("torch") else max(timing.first_s - timing.median_s, 0.0),
                    "first_call_s": timing.first_s,
                    "calls": timing.calls,
                }
                if impl == JF_PACKED:
                    row["pack_s"] = pack_s
                rows.append(row)
            bar.update()
    return rows


def _run_compile(
    jforeach: ModuleType,
    ns: Sequence[int],
    s: int,
    repeat: int,
    batch_s: float,
    bar: Any,
) -> list[dict[str, Any]]:
    """Compile time of log1p_ on a Packed of n arrays: issue 3 wants it flat in n."""
    rows = []
    for n in ns:
        data = np.random.default_rng(n).uniform(0.5, 2.0, size=(n, s)).astype(np.float32)
        xs = [jnp.asarray(row) for row in data]
        start = time.perf_counter()
        packed = jax.block_until_ready(jforeach.pack(xs))
        pack_s = time.perf_counter() - start
        del xs

        def step() -> None:
            nonlocal packed
            packed = jax.block_until_ready(jforeach.log1p_(packed))

        timing = _measure({JF_PACKED: step}, repeat, batch_s, functools.partial(_show, bar, f"N={n}"))[JF_PACKED]
        start = time.perf_counter()
        jax.block_until_ready(packed.unpack())
        unpack_s = time.perf_counter() - start
        rows.append(
            {
                "section": "compile",
                "case": f"log1p_ Packed N={n} S={s}",
                "op": "log1p_",
                "n": n,
                "s": s,
                "dtype": "float32",
                "impl": JF_PACKED,
                "ms": timing.median_s * 1e3,
                "compile_s": max(timing.first_s - timing.median_s, 0.0),
                "first_call_s": timing.first_s,
                "calls": timing.calls,
                "pack_s": pack_s,
                "unpack_s": unpack_s,
            }
        )
        bar.update()
    return rows


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    """Adds `vs_limit` (ms over the case's limit row) and `vs_torch` to every row."""
    by_case: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by_case.setdefault((row["section"], row["case"]), []).append(row)
    for group in by_case.values():
        limit = _find(
            group,
            lambda i: i == FLAT or "limit" in i.lower() or "bandwidth" in i.lower(),
        )
        torch_ref = _find(group, lambda i: i == TORCH_FOREACH or ("torch" in i and "fused" in i))
        for row in group:
            row["vs_limit"] = _ratio(row, limit)
            row["vs_torch"] = _ratio(row, torch_ref)


def _targets(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per sweep case, the ratios that issues 2 and 3 set targets for."""
    out = []
    for case in dict.fromkeys(r["case"] for r in rows if r["section"] == "sweep"):
        ms = {r["impl"]: r["ms"] for r in rows if r["section"] == "sweep" and r["case"] == case}
        if JF_LIST not in ms:
            continue

        def ratio(a: str, b: str, ms: dict[str, float] = ms) -> float | None:
            return ms[a] / ms[b] if a in ms and b in ms and ms[b] else None

        out.append(
            {
                "case": case,
                "list/jit(tree_map)": ratio(JF_LIST, JIT_TREE_MAP),
                "Packed/flat": ratio(JF_PACKED, FLAT),
                "Packed/torch": ratio(JF_PACKED, TORCH_FOREACH),
            }
        )
    return out


def _find(rows: Iterable[dict[str, Any]], pred: Callable[[str], bool]) -> dict[str, Any] | None:
    return next((r for r in rows if pred(str(r.get("impl", "")))), None)


def _ratio(row: dict[str, Any], ref: dict[str, Any] | None) -> float | None:
    if ref is None or not ref.get("ms") or row.get("ms") is None:
        return None
    return row["ms"] / ref["ms"]


# ----------------------------------------------------------------------
# Output.


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _format_table(rows: Sequence[dict[str, Any]], *, torch_column: bool) -> str:
    """The aligned text table of benchmark rows."""
    header = ["case", "impl", "ms", "x limit"] + (["x torch"] if torch_column else []) + ["compile s"]
    lines = []
    for row in rows:
        cells = [
            str(row["case"]),
            str(row["impl"]),
            _fmt(row.get("ms"), ".3f"),
            _fmt(row.get("vs_limit"), ".2f"),
        ]
        if torch_column:
            cells.append(_fmt(row.get("vs_torch"), ".2f"))
        cells.append(_fmt(row.get("compile_s"), ".3f"))
        lines.append(cells)
    widths = [max(len(c) for c in col) for col in zip(header, *lines, strict=True)]
    left = {0, 1}

    def render(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [render(header), render(["-" * w for w in widths])]
    previous = None
    for row, cells in zip(rows, lines, strict=True):
        if previous is not None and row["case"] != previous:
            out.append("")
        previous = row["case"]
        out.append(render(cells))
    return "\n".join(out)


def _machine_info(torch: ModuleType | None, jforeach: ModuleType, load_start: float | None) -> dict[str, Any]:
    import jaxlib

    device = jax.devices()[0]
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numpy": np.__version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "jax_backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "torch": getattr(torch, "__version__", None),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "jforeach": jforeach.__version__,
        "load_avg_start": load_start,
        "load_avg_end": _load_avg(),
    }
    return info


def _load_avg() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _busy(when: str, load: float, cpus: int) -> str:
    return (
        f"the machine was busy at the {when} (load average {load:.1f} on {cpus} CPUs): timings are noisy, "
        "torch's most of all (its OpenMP threads wait for each other)"
    )


def _plot(rows: Sequence[dict[str, Any]], path: Path) -> None:
    from matplotlib.figure import Figure

    sweep = [r for r in rows if r["section"] == "sweep"]
    optim = [r for r in rows if r["section"] == "optim" and r.get("ms") is not None]
    compile_rows = [r for r in rows if r["section"] == "compile"]
    train = [r for r in rows if r["section"] == "train"]
    ops = list(dict.fromkeys(r["op"] for r in sweep))
    panels: list[tuple[str, Any]] = [("sweep", op) for op in ops]
    if compile_rows:
        panels.append(("compile", None))
    if optim:
        panels.append(("optim", None))
    if train:
        panels.append(("train", None))
    ncols = min(2, max(1, len(panels)))
    nrows = max(1, -(-len(panels) // ncols))
    fig = Figure(figsize=(6.4 * ncols, 4.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    colors = {impl: f"C{i}" for i, impl in enumerate(IMPLS)}
    for ax, (kind, op) in zip(axes, panels, strict=False):
        if kind == "sweep":
            _plot_sweep(ax, [r for r in sweep if r["op"] == op], op, colors)
        elif kind == "compile":
            _plot_bars(ax, compile_rows, "compile_s", "compile s (first call - steady state)")
            ax.set_title("log1p_ on a Packed: compile time vs number of arrays")
        elif kind == "optim":
            _plot_bars(ax, optim, "ms", "ms per step", log=True)
            ax.set_title("optimizer step")
        else:
            _plot_bars(ax, train, "ms", "ms per step")
            ax.set_title("transformer train step (forward, backward, AdamW)")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    fig.savefig(path, dpi=110)


def _plot_sweep(ax: Any, rows: Sequence[dict[str, Any]], op: str, colors: dict[str, str]) -> None:
    totals = sorted(
        {r["n"] * r["s"] for r in rows},
        key=lambda t: (-sum(r["n"] * r["s"] == t for r in rows), t),
    )
    styles = ["-", "--", ":", "-."]
    for impl in dict.fromkeys(r["impl"] for r in rows):
        for k, total in enumerate(totals):
            pts = sorted((r["n"], r["ms"]) for r in rows if r["impl"] == impl and r["n"] * r["s"] == total)
            if pts:
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    marker="o",
                    linestyle=styles[k % len(styles)],
                    color=colors.get(impl),
                    label=impl if k == 0 else None,
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of arrays N")
    ax.set_ylabel("ms per call")
    names = {"-": "solid", "--": "dashed", ":": "dotted", "-.": "dash-dot"}
    if len(totals) == 1:
        shown = f"N*S = {totals[0]:.0e}"
    else:
        shown = ", ".join(f"{names[styles[k % len(styles)]]}: N*S = {t:.0e}" for k, t in enumerate(totals))
    ax.set_title(f"{op}, float32, {shown}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def _plot_bars(ax: Any, rows: Sequence[dict[str, Any]], key: str, ylabel: str, *, log: bool = False) -> None:
    cases = list(dict.fromkeys(r["case"] for r in rows))
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    width = 0.8 / max(1, len(impls))
    for j, impl in enumerate(impls):
        xs, hs = [], []
        for i, case in enumerate(cases):
            row = next((r for r in rows if r["case"] == case and r["impl"] == impl), None)
            if row is not None and row.get(key) is not None:
                xs.append(i + (j - (len(impls) - 1) / 2) * width)
                hs.append(row[key])
        ax.bar(xs, hs, width=width, label=impl, color=f"C{j}")
    ax.set_xticks(range(len(cases)), cases, fontsize=7, rotation=15)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    if log:
        ax.set_yscale("log")
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top * 6 if log else top * 1.4)  # room for the legend above the bars
    ax.legend(fontsize=7, loc="upper center", ncol=2)


# ----------------------------------------------------------------------
# Command line.


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        parts = item.strip().lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
            raise argparse.ArgumentTypeError(f"size {item!r} is not NxS with positive integers, e.g. 1000x100")
        sizes.append((int(parts[0]), int(parts[1])))
    return sizes


def _parse_ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of integers") from None
    if any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} has a non-positive entry")
    return values


def _parse_ops(text: str) -> list[str]:
    ops = [o.strip().rstrip("_") for o in text.split(",") if o.strip()]
    unknown = [o for o in ops if o not in ALL_OPS]
    if unknown or not ops:
        raise argparse.ArgumentTypeError(f"unknown op(s) {unknown}; choose among {','.join(ALL_OPS)}")
    return list(dict.fromkeys(ops))


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jforeach bench",
        description="Time jforeach's list and Packed paths against jnp loops, "
        "jax.jit(tree_map), one flat kernel and torch._foreach_* (when torch is "
        "installed).",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes; about a minute on 2 cores")
    parser.add_argument(
        "--ops",
        type=_parse_ops,
        default=None,
        help=f"comma list among {','.join(ALL_OPS)} (default: all, and with --quick all but train; adam is the "
        "optimizer section, train the transformer train-step section, whose four compiles take minutes)",
    )
    parser.add_argument(
        "--sizes",
        type=_parse_sizes,
        default=None,
        help="comma list of NxS, N arrays of S float32 each (default: "
        + ",".join(f"{n}x{s}" for n, s in FULL_SIZES)
        + "; with --quick: "
        + ",".join(f"{n}x{s}" for n, s in QUICK_SIZES)
        + ")",
    )
    parser.add_argument(
        "--compile-n",
        type=_parse_ints,
        default=list(COMPILE_NS),
        help="numbers of arrays in the Packed compile-time section (default: 10,10000)",
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for bench.json and bench.png")
    parser.add_argument(
        "--repeat", type=_positive_int, default=None, help="timed rounds per case (default: 10; with --quick: 5)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the benchmark; ``python -m jforeach bench [args]`` calls this.

    Args:
      argv: the command-line arguments after ``bench``; ``sys.argv[1:]`` when None.

    Returns:
      The process exit status: 0 on success, 2 when tqdm or matplotlib is missing.

    Examples:
      >>> import contextlib, io, os, tempfile
      >>> from jforeach import bench
      >>> out = tempfile.mkdtemp()
      >>> with contextlib.redirect_stdout(io.StringIO()) as table:
      ...     status = bench.main(["--quick", "--ops", "log1p", "--sizes", "4x8", "--compile-n", "2,3", "--out", out])
      >>> status, "jforeach Packed" in table.getvalue(), sorted(os.listdir(out))
      (0, True, ['bench.json', 'bench.png'])
    """
    args = _parser().parse_args(argv)
    missing = [m for m in ("tqdm", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        print(_MISSING_EXTRA.format(missing=", ".join(missing)), file=sys.stderr)
        return 2
    from tqdm import tqdm

    sizes = args.sizes or list(QUICK_SIZES if args.quick else FULL_SIZES)
    repeat = args.repeat or (5 if args.quick else 10)
    batch_s = 0.003 if args.quick else 0.01
    # Elements per array in the compile section: odd, so that no buffer length of the sweep
    # is met again and a kernel cached by buffer shape cannot hide the compile.
    compile_size = 7 if args.quick else 37
    if args.ops is None:  # the train section compiles for minutes: --quick leaves it out unless asked for
        args.ops = [o for o in ALL_OPS if not (args.quick and o in TRAIN_OPS)]
    sweep_ops = [o for o in args.ops if o in SWEEP_OPS]
    notes: list[str] = []

    load_start = _load_avg()
    cpus = os.cpu_count() or 1
    if load_start is not None and load_start > 0.5 * cpus:
        notes.append(_busy("start", load_start, cpus))
    import jforeach

    torch, why = _load_torch()
    if why:
        notes.append(why)
    env: dict[str, Any] = {"jforeach": jforeach, "torch": torch, "torch_device": "cpu"}
    if torch is not None and jax.default_backend() == "gpu" and torch.cuda.is_available():
        env["torch_device"] = "cuda"

    impls = [i for i in IMPLS if torch is not None or not i.startswith("torch")]
    run_compile = bool(sweep_ops)
    total = len(sweep_ops) * len(sizes) + (len(args.compile_n) if run_compile else 0)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tqdm(total=total, desc="jforeach bench", unit="case", file=sys.stderr) as bar:
        rows += _run_sweep(sweep_ops, sizes, impls, env, repeat, batch_s, bar)
        if run_compile:
            rows += _run_compile(jforeach, args.compile_n, compile_size, repeat, batch_s, bar)

    if "adam" in args.ops:
        run_optim_bench, why = _load_optim_bench()
        if run_optim_bench is None:
            notes.append(f"{why}: optimizer section skipped")
        else:
            print("optimizer section ...", file=sys.stderr)
            try:
                optimizers = QUICK_OPTIMIZERS if args.quick else None
                rows += [{"section": "optim", **row} for row in run_optim_bench(args.quick, optimizers=optimizers)]
            except Exception as e:  # keep the sweep's results
                notes.append(f"optimizer benchmark failed ({type(e).__name__}: {e}): optimizer section skipped")

    if "train" in args.ops:
        from jforeach._bench_train import run_train_bench

        print("train-step section ...", file=sys.stderr)
        try:
            trained = run_train_bench(args.quick, progress=lambda line: print(line, file=sys.stderr))
            rows += [{"section": "train", **row} for row in trained]
        except Exception as e:  # keep the other sections' results
            notes.append(f"train-step benchmark failed ({type(e).__name__}: {e}): train section skipped")

    _add_ratios(rows)
    elapsed = time.perf_counter() - started
    load = _load_avg()
    if load is not None and load > cpus + 0.5:  # the benchmark itself keeps up to `cpus` busy
        notes.append(_busy("end", load, cpus))

    titles = {
        "sweep": "foreach ops, float32 (x limit: over one flat kernel of N*S floats)",
        "compile": "compile time of log1p_ on a Packed vs number of arrays",
        "optim": "optimizer step (x limit: over the case's limit row, if any)",
        "train": "one train step of a small transformer: forward, backward, AdamW (compile s: trace + compile)",
    }
    for section, title in titles.items():
        section_rows = [r for r in rows if r["section"] == section]
        if section_rows:
            print(f"\n== {title}")
            print(_format_table(section_rows, torch_column=torch is not None))
    for row in (r for r in rows if r["section"] == "compile"):
        print(f"   N={row['n']}: pack {row['pack_s']:.3f} s, unpack {row['unpack_s']:.3f} s")
    targets = _targets(rows)
    if targets:
        print("\n== targets (issues 2 and 3): list/jit(tree_map) <= 1.15, Packed/flat <= 1.2, Packed/torch <= 0.5")
        width = max(len(t["case"]) for t in targets)
        for t in targets:
            ratios = ", ".join(f"{k} {_fmt(v, '.2f')}" for k, v in t.items() if k != "case")
            print(f"   {t['case']:<{width}}  {ratios}")
    for note in notes:
        print(f"note: {note}")

    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": _machine_info(torch, jforeach, load_start),
        "args": {
            "quick": args.quick,
            "ops": args.ops,
            "sizes": [f"{n}x{s}" for n, s in sizes],
            "repeat": repeat,
            "compile_n": args.compile_n,
        },
        "elapsed_s": elapsed,
        "notes": notes,
        "targets": targets,
        "rows": rows,
    }
    json_path, png_path = args.out / "bench.json", args.out / "bench.png"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    _plot(rows, png_path)
    print(f"\nwrote {json_path} and {png_path} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
