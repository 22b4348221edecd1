"""Per-call cost: a jforeach call against the bare donated jitted call on the same data.

The tensors are tiny (a Packed of 1,000 tensors of 10 floats; lists of 3 arrays of 10 floats),
so that the kernel itself is negligible and the rows measure what one call costs on top of the
kernel: validation, classification, the jitted-function lookup, donation and write-back. The bare
call is the floor: a ``jax.jit`` function written for the case, with the tensors' buffers donated,
its scalars baked in (a ScalarList or a 0-d tensor is an array argument, as it must be to change
between calls), and its output fed back as the next call's input, as jforeach's is. The last row
is the list path at scale: ``log1p_`` on 10,000 arrays of 100 floats against
``jax.jit(lambda xs: jax.tree.map(jnp.log1p, xs), donate_argnums=0)``.

The two calls of a case are timed in alternating pairs (jforeach, bare, jforeach, bare, ...),
each call waited for, with JAX's CPU dispatch made synchronous
(``jax_cpu_enable_async_dispatch=False``), so that worker-thread wake-ups do not blur the
difference; the flag takes effect when JAX's CPU client is created, which is why
``python -m jforeach bench --ops percall`` sets it before its first JAX call. Each reports its
median. Both chains run the same number of calls from the same data, so they end with the same
values: every row records the largest difference between them (``max_rel_diff``), a check that
the bare call computes what the jforeach call does.

Only jforeach's public API is used (``jforeach.pack``, ``Packed.buffers``, the in-place ops).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import jforeach

from ._table import fmt, format_table
from ._timing import Runner, interleaved

JFOREACH = "jforeach"
BARE = "bare jit"
TARGET_RATIO = 1.15  # or TARGET_US over the bare call, whichever is larger
TARGET_US = 5.0
LIST_TARGET_RATIO = 1.05  # the list path at 10,000 x 100 against jit(tree_map)

_VALUE = 0.5
_Step = Callable[[], Any]


@dataclasses.dataclass(frozen=True)
class Size:
    """The case sizes: the Packed's tensors, the short lists' arrays, the big list."""

    packed_tensors: int = 1000
    tensor_floats: int = 10
    list_arrays: int = 3
    big: tuple[int, int] = (10_000, 100)


FULL = Size()


@dataclasses.dataclass(frozen=True)
class _Case:
    """One row: the jforeach call and its bare jitted equivalent on ``(x, *operands)``.

    ``call(jforeach_tensors, *operands)`` is the jforeach call; ``bare(buffers, *bare_operands)``
    is the per-buffer (or per-array) kernel. Operands are "tensors" (a second Packed or list of
    the same layout), "scalars" (one number per tensor) or "tensor" (a 0-d array).
    """

    name: str
    call: Callable[..., Any]
    kernel: Callable[..., jax.Array]  # one buffer (or array) and its operands -> the result
    operands: tuple[str, ...] = ()


def _cases() -> list[_Case]:
    v = _VALUE
    return [
        _Case("log1p_", jforeach.log1p_, jnp.log1p),
        _Case("mul_ Scalar", lambda x: jforeach.mul_(x, v), lambda b: b * v),
        _Case("mul_ ScalarList", lambda x, s: jforeach.mul_(x, s), lambda b, s: b * s, ("scalars",)),
        _Case("add_ TensorList", jforeach.add_, lambda b, o: b + o, ("tensors",)),
        _Case("add_ TensorList alpha", lambda x, o: jforeach.add_(x, o, alpha=v), lambda b, o: b + v * o, ("tensors",)),
        _Case(
            "addcmul_ value",
            lambda x, q, r: jforeach.addcmul_(x, q, r, value=v),
            lambda b, q, r: b + v * q * r,
            ("tensors", "tensors"),
        ),
        _Case(
            "addcmul_ ScalarList",
            lambda x, q, r, s: jforeach.addcmul_(x, q, r, s),
            lambda b, q, r, s: b + s * q * r,
            ("tensors", "tensors", "scalars"),
        ),
        _Case("mul_ Tensor", jforeach.mul_, lambda b, t: b * t, ("tensor",)),
    ]


def _data(n: int, s: int, seed: int) -> np.ndarray:
    """Positive float32 data, so that chained log1p, add and addcmul stay finite."""
    return np.random.default_rng(seed).uniform(0.5, 2.0, size=(n, s)).astype(np.float32)


class _Pair(NamedTuple):
    """A case's two steps, each running one call, feeding its output to the next call and waiting
    for it, and the two chains' current values, each flattened to one numpy array."""

    jforeach: _Step
    bare: _Step
    values: Callable[[], tuple[np.ndarray, np.ndarray]]


def _rel_diff(pair: _Pair) -> float:
    got, want = pair.values()
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), np.finfo(np.float32).tiny)))


def _steps(case: _Case, n: int, s: int, packed: bool) -> _Pair:
    """The jforeach and the bare call of ``case`` on ``n`` tensors of ``s`` floats (a Packed or a list)."""
    tensors = _data(n, s, 0)
    ops = [_data(n, s, 1 + i) for i in range(len(case.operands))]
    xs: Any = [jnp.asarray(row) for row in tensors]
    if packed:
        xs = jforeach.pack(xs)
        if [b.shape for b in xs.buffers] != [(n * s,)]:  # one unpadded buffer, as on one device
            raise RuntimeError(f"a Packed of {n} x {s} floats has buffers {[b.shape for b in xs.buffers]}")
    jf_args: list[Any] = []  # jforeach's operands: a Packed or list; numbers as a Python list; a 0-d array
    bare_args: list[Any] = []  # the bare call's: the buffers or arrays; the numbers as one array; the 0-d array
    for kind, data in zip(case.operands, ops, strict=True):
        if kind == "tensors":
            arrays = [jnp.asarray(row) for row in data]
            jf_args.append(jforeach.pack(arrays) if packed else arrays)
            bare_args.append(_bare_buffers(jf_args[-1], packed))
        elif kind == "scalars":
            jf_args.append([_VALUE] * n)
            bare_args.append(jnp.full(n, _VALUE, dtype=np.float32))
        else:
            jf_args.append(jnp.asarray(_VALUE, dtype=np.float32))
            bare_args.append(jf_args[-1])

    def bare_fn(bufs: tuple[jax.Array, ...], operands: tuple[Any, ...]) -> tuple[jax.Array, ...]:
        out = []
        for i, b in enumerate(bufs):
            args = []
            for kind, o in zip(case.operands, operands, strict=True):
                if kind == "tensors":
                    args.append(o[i])
                elif kind == "scalars":  # Packed: tensor j holds elements [j*s, (j+1)*s) of the one buffer
                    args.append(jnp.broadcast_to(o[:, None], (n, s)).reshape(b.shape) if packed else o[i])
                else:
                    args.append(o)
            out.append(case.kernel(b, *args))
        return tuple(out)

    bare = jax.jit(bare_fn, donate_argnums=0)
    operands = tuple(bare_args)
    state = {"jf": xs, "bare": _bare_buffers(xs, packed)}

    def jf_step() -> None:
        state["jf"] = jax.block_until_ready(case.call(state["jf"], *jf_args))

    def bare_step() -> None:
        state["bare"] = jax.block_until_ready(bare(state["bare"], operands))

    def values() -> tuple[np.ndarray, np.ndarray]:
        got = np.concatenate([np.ravel(b) for b in _bare_buffers(state["jf"], packed, copy=False)])
        return got, np.concatenate([np.ravel(b) for b in state["bare"]])

    return _Pair(jf_step, bare_step, values)


def _bare_buffers(x: Any, packed: bool, *, copy: bool = True) -> tuple[jax.Array, ...]:
    """The arrays the bare call works on: a copy of a Packed's buffers, or of a list's arrays."""
    arrays = tuple(x.buffers) if packed else tuple(x)
    return tuple(jnp.array(a, copy=True) for a in arrays) if copy else arrays


def _big_steps(n: int, s: int) -> _Pair:
    data = _data(n, s, 0)
    state = {"jf": [jnp.asarray(row) for row in data], "bare": [jnp.asarray(row) for row in data]}
    tree_map = jax.jit(lambda xs: jax.tree.map(jnp.log1p, xs), donate_argnums=0)

    def jf_step() -> None:
        state["jf"] = jax.block_until_ready(jforeach.log1p_(state["jf"]))

    def bare_step() -> None:
        state["bare"] = jax.block_until_ready(tree_map(state["bare"]))

    def values() -> tuple[np.ndarray, np.ndarray]:
        return np.stack(state["jf"]).ravel(), np.stack(state["bare"]).ravel()

    return _Pair(jf_step, bare_step, values)


def _rounds(jf: _Step, bare: _Step, budget_s: float, min_rounds: int, max_rounds: int) -> int:
    """Pairs that fit in ``budget_s``, from one timed call of each (after a first, compiling one)."""
    jf(), bare()
    start = time.perf_counter()
    jf(), bare()
    pair_s = time.perf_counter() - start
    return max(min_rounds, min(max_rounds, int(budget_s / max(pair_s, 1e-9))))


def run_percall_bench(
    quick: bool,
    *,
    size: Size | None = None,
    budget_s: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Times every case's jforeach call against its bare jitted call.

    Args:
      quick: A shorter timing budget per case (0.3 s instead of 1 s; the big list: 3 pairs
        at least, instead of 5).
      size: The sizes of the cases (default: ``FULL``; the tests' are small).
      budget_s: The timing budget per case, overriding ``quick``'s.
      progress: Called with a line as each case is measured.

    Returns:
      One dict per case: ``case``, ``jforeach_us`` and ``bare_us`` (medians of one call),
      ``ratio``, ``target_ratio`` and ``target_us`` (met when ``jforeach_us`` is at most
      ``max(target_ratio * bare_us, bare_us + target_us)``), ``met``, ``pairs`` (timed pairs),
      ``max_rel_diff`` (the two chains' largest relative difference at the end) and ``async_dispatch``
      (whether JAX's CPU dispatch was asynchronous during the run, None off the CPU).
    """
    budget = budget_s if budget_s is not None else (0.3 if quick else 1.0)
    say = progress or (lambda line: None)
    previous = jax.config.values["jax_cpu_enable_async_dispatch"]
    async_dispatch = synchronous_dispatch()
    size = size or FULL
    n, s = size.packed_tensors, size.tensor_floats
    plan: list[_Row] = []
    for where, count, packed in (
        (f"Packed of {n} x {s}", n, True),
        (f"list of {size.list_arrays} x {s}", size.list_arrays, False),
    ):
        for case in _cases():
            make = functools.partial(_steps, case, count, s, packed)
            plan.append(_Row(f"{case.name} on a {where}", make, TARGET_RATIO, TARGET_US, 20))
    big = f"log1p_ on a list of {size.big[0]} x {size.big[1]}"
    plan.append(_Row(big, functools.partial(_big_steps, *size.big), LIST_TARGET_RATIO, 0.0, 3 if quick else 5))
    rows = []
    try:
        for row in plan:
            start = time.perf_counter()
            rows.append(_measure(row, budget, async_dispatch))
            r = rows[-1]
            say(
                f"{row.case}: jforeach {r['jforeach_us']:.1f} us, bare {r['bare_us']:.1f} us "
                f"({r['pairs']} pairs, {time.perf_counter() - start:.1f} s with setup and compiles)"
            )
    finally:
        jax.config.update("jax_cpu_enable_async_dispatch", previous)
    return rows


@dataclasses.dataclass(frozen=True)
class _Row:
    case: str
    make: Callable[[], _Pair]
    target_ratio: float
    target_us: float
    min_rounds: int


def _measure(row: _Row, budget_s: float, async_dispatch: bool | None) -> dict[str, Any]:
    pair = row.make()
    jf, bare = pair.jforeach, pair.bare
    rounds = _rounds(jf, bare, budget_s, row.min_rounds, 20_000)
    runners: dict[str, Runner] = {JFOREACH: functools.partial(_repeat, jf), BARE: functools.partial(_repeat, bare)}
    timings = interleaved(runners, rounds, 0.0)
    jf_us, bare_us = 1e6 * timings[JFOREACH].median_s, 1e6 * timings[BARE].median_s
    return {
        "case": row.case,
        "jforeach_us": jf_us,
        "bare_us": bare_us,
        "ratio": jf_us / bare_us,
        "target_ratio": row.target_ratio,
        "target_us": row.target_us,
        "met": met(jf_us, bare_us, row.target_ratio, row.target_us),
        "pairs": rounds,
        "max_rel_diff": _rel_diff(pair),
        "async_dispatch": async_dispatch,
    }


def met(jforeach_us: float, bare_us: float, target_ratio: float, target_us: float) -> bool:
    """Whether a jforeach call is within ``target_ratio`` times, or ``target_us`` over, the bare call."""
    return jforeach_us <= max(target_ratio * bare_us, bare_us + target_us)


def _repeat(step: _Step, calls: int) -> None:
    for _ in range(calls):
        step()


_UNKNOWN = object()
_client_async: Any = _UNKNOWN  # how the CPU client dispatches, once known


def synchronous_dispatch() -> bool | None:
    """Sets ``jax_cpu_enable_async_dispatch`` to False; returns whether CPU dispatch is asynchronous.

    JAX reads the flag when it creates its CPU client. The first call finds out which client the
    process has: none yet (the one this run creates is synchronous), or one created under the
    flag's current value; later calls return what the first found. None off the CPU.
    """
    global _client_async
    if _client_async is _UNKNOWN:
        try:  # backends_are_initialized has no public spelling
            from jax._src.xla_bridge import backends_are_initialized

            created = backends_are_initialized()
        except (ImportError, AttributeError):  # another jax: assume the client exists
            created = True
        _client_async = bool(jax.config.values["jax_cpu_enable_async_dispatch"]) and created
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    return _client_async if jax.default_backend() == "cpu" else None


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The per-call rows as a text table: case, jforeach us, bare us, ratio, target."""
    lines = []
    for r in rows:
        target = f"{r['target_ratio']:.2f}x" + (f" or +{r['target_us']:g} us" if r["target_us"] else "")
        lines.append(
            [
                str(r["case"]),
                fmt(r["jforeach_us"], ".1f"),
                fmt(r["bare_us"], ".1f"),
                fmt(r["ratio"], ".2f"),
                f"{target}: {'met' if r['met'] else 'missed'}",
            ]
        )
    return format_table(["case", "jforeach us", "bare us", "ratio", "target"], lines, left=1, group=False)
