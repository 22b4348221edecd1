"""The op sweep and the Packed compile-time section of ``python -m jforeach bench``.

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
  ``x.log1p_()`` per tensor), where torch is installed and importable.

In-place ops are chained: each call's output is the next call's input, so no donated
(deleted) array is ever touched again. Every call is waited for with
``block_until_ready``; the JAX implementations of one case are timed in interleaved
rounds (so a change in the machine's load hits them alike), then the torch ones, and
the median per call is reported. The first call is excluded; its extra time over the
median is reported as the compile time. The compile section measures ``log1p_`` on a
Packed of 10 and of 10,000 arrays.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._table import FLAT, TORCH_FOREACH
from ._timing import Runner, Timing, interleaved

FULL_SIZES = ((1000, 1000), (10000, 100), (10, 1_000_000))
QUICK_SIZES = ((100, 1000), (1000, 100), (10, 10_000))
COMPILE_NS = (10, 10_000)

FOR_LOOP = "for-loop jnp"
MAP = "map jnp"
JIT_TREE_MAP = "jit(tree_map)"
JF_LIST = "jforeach list"
JF_PACKED = "jforeach Packed"
TORCH_LOOP = "torch for-loop"
IMPLS = (FOR_LOOP, MAP, JIT_TREE_MAP, JF_LIST, JF_PACKED, FLAT, TORCH_FOREACH, TORCH_LOOP)

_ADDCMUL_VALUE = 0.01
_PAUSE_S = 0.2
_MAX_BATCH = 100  # calls per timed batch


# ----------------------------------------------------------------------
# The ops: one row each.


@dataclasses.dataclass(frozen=True)
class _Op:
    """One benchmarked foreach op and its equivalent in every implementation.

    `jnp_fn(x, *operands)` is the op on one array, and also the flat-kernel limit: one op
    over a single buffer of the same n * s floats (for `norm`, the norm of the whole buffer:
    per-row norms of the (n, s) reshape are not a limit, XLA:CPU reduces (10, 1_000_000)
    along axis 1 about 30x slower than whole). The torch functions get the torch module first.
    """

    name: str
    jnp_fn: Callable[..., jax.Array]
    torch_foreach: Callable[..., Any]
    torch_single: Callable[..., Any]
    operands: int = 0  # tensor lists besides `tensors`
    inplace: bool = True
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def jforeach_name(self) -> str:
        return self.name + "_" if self.inplace else self.name

    def case(self, n: int, s: int) -> str:
        return f"{self.jforeach_name} {n}x{s}"


def _addcmul(x: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    return x + _ADDCMUL_VALUE * (a * b)


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
        ),
    )
}


# ----------------------------------------------------------------------
# Implementations. Each factory gets the numpy data (operands + 1 arrays of shape
# (n, s)) and returns a `step` closure that runs one call, waits for it and keeps the
# chained state.


_Step = Callable[[], None]


def _runner(step: _Step) -> Runner:
    def run(calls: int) -> None:
        for _ in range(calls):
            step()

    return run


def _measure(
    steps: dict[str, _Step], repeat: int, batch_s: float, on_warmup: Callable[[str], None]
) -> dict[str, Timing]:
    """Times each step (which waits for its own result) in interleaved rounds of batches of about `batch_s`."""
    runners = {name: _runner(step) for name, step in steps.items()}
    return interleaved(runners, repeat, batch_s, max_burst=_MAX_BATCH, on_warmup=on_warmup)


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
    kernel = op.jnp_fn
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


def run_sweep(
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
            timings: dict[str, Timing] = {}
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


def run_compile(
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


def targets(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
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
