"""Inside a kernel: one tensor's op with torch's dtype rules, and the one body for lists and Packed.

:func:`apply_one` is torch's arithmetic for one tensor (result dtype, opmath, the roundings of
operands). :func:`apply_all` is the body of every jitted kernel: it applies the op to each array
the kernel takes, a list's tensors or a Packed's buffers, cutting the operands for it. Reductions
(norm, powsum, max) take one tensor whole, or a buffer's tensors by runs, slices and segments, or a
sharded buffer piece by piece; their arithmetic is :mod:`jforeach._norms`'. Errors here carry no
function name: the engine names the function once (:func:`jforeach._engine.call`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _arrays, _dtypes, _norms, packed
from ._dtypes import Rank
from ._table import Op
from .packed import Group, Layout

CATEGORY_NAMES = ("bool", "int", "float", "complex")


FLOAT32_TINY = float(np.finfo(np.float32).tiny)


@dataclasses.dataclass(frozen=True)
class Kind:
    """The static half of a classified operand: which overload, and how it promotes."""

    overload: str  # "Scalar", "ScalarList", "List", "Tensor", or "Static" (ord, dtype: not traced)
    # Scalar / ScalarList: the dtype torch gives the number(s); a tuple for a ScalarList of mixed types
    number_dtype: Any = None
    static: Any = None  # "Static" operands: the value itself
    # a ScalarList of strongly typed 0-d arrays on a Packed: torch's TensorList, promoting as 0-d tensors
    zero_dim: bool = False

    @property
    def rank(self) -> Rank:
        """How a ScalarList's entries promote: as numbers, or as 0-d tensors."""
        return Rank.ZERO_DIM if self.zero_dim else Rank.NUMBER

    def select(self, indices: Sequence[int]) -> Kind:
        """This kind for the tensors at ``indices`` (a chunk, or the representatives of a check)."""
        if isinstance(self.number_dtype, tuple):
            return dataclasses.replace(self, number_dtype=tuple(self.number_dtype[i] for i in indices))
        return self


@dataclasses.dataclass(frozen=True)
class Arg:
    """An operand as one tensor sees it inside the kernel."""

    value: Any
    dtype: np.dtype  # the dtype it promotes as
    rank: Rank
    promotes: bool
    name: str = ""


def is_wide_int(arg: Arg) -> bool:
    """An integer number that travels as a float because JAX's int type cannot hold it."""
    return (
        arg.rank == Rank.NUMBER
        and _dtypes.category(arg.dtype) == 1
        and jnp.ndim(arg.value) == 0
        and jnp.issubdtype(jnp.result_type(arg.value), jnp.inexact)
    )


def does_not_fit(info: np.iinfo) -> str:
    """The end of an error message for an integer that ``info``'s dtype cannot hold."""
    hint = "" if info.bits == 64 else " (enable jax_enable_x64 for 64-bit integers)"
    return f"does not fit in {info.dtype.name}{hint}"


def check_accepts(op: Op, dtype: np.dtype, args: Sequence[Arg] = ()) -> None:
    """Raise torch's TypeError where ``op`` rejects tensors of ``dtype`` or a bool operand."""
    if not op.bool_operands and any(a.dtype == np.bool_ for a in args):
        raise TypeError(f"{op.name} with a bool operand is not supported (as in torch)")
    if CATEGORY_NAMES[_dtypes.category(dtype)] not in op.accepts:
        raise TypeError(
            f"{op.name} is not defined for {np.dtype(dtype).name} tensors "
            f"(torch rejects {_dtypes.torch_name(dtype)} too)"
        )


def result_dtype(op: Op, x_dtype: np.dtype, x_rank: Rank, args: Sequence[Arg]) -> np.dtype:
    """The dtype torch gives ``op`` on a tensor of ``x_dtype`` and ``x_rank`` with these operands."""
    if op.dtype_rule == "same":
        return np.dtype(x_dtype)
    promoted = _dtypes.result_type((x_dtype, x_rank), *((a.dtype, a.rank) for a in args if a.promotes))
    return _dtypes.float_result(promoted) if op.dtype_rule == "float" else promoted


def apply_one(op: Op, x: jax.Array, args: Sequence[Arg], *, inplace: bool) -> jax.Array:
    """The op on one tensor, with torch's dtype rules; raises TypeError/ValueError while tracing."""
    out_dtype = checked_result_dtype(op, x, args, inplace=inplace)
    compute = _dtypes.opmath(out_dtype)
    # torch casts dimensioned tensors to the common (result) dtype before its kernel computes in
    # opmath: for a float16 result, an int32 70000 is inf before it is multiplied (0-d tensors are
    # CPU scalars to its kernels, read in opmath)
    rounded = compute != out_dtype
    if op.operands_in_result_dtype:  # torch rounds them to a float16/bfloat16 result's dtype first
        # (pow: a tiny exponent kept at float32's smallest normal by _keep_tiny_exponents rounds to 0)
        untiny = op.name == "pow" and rounded
        values = [convert(convert(_untiny(a.value) if untiny else a.value, out_dtype), compute) for a in args]
    else:
        values = [
            convert(convert(a.value, out_dtype), compute)
            if rounded and a.promotes and a.rank == Rank.DIMENSIONED
            else convert(a.value, compute)
            for a in args
        ]
    out = op.fn(convert(convert(x, out_dtype), compute) if rounded and x.ndim else convert(x, compute), *values)
    if inplace:
        if out.shape != x.shape:
            raise ValueError(f"the result has shape {out.shape} but the tensor it is written into has shape {x.shape}")
        return out.astype(x.dtype)
    if op.name == "abs" and _dtypes.category(x.dtype) == 3:
        return out  # torch's abs of complex is real
    return out.astype(out_dtype)


def checked_result_dtype(op: Op, x: jax.Array, args: Sequence[Arg], *, inplace: bool) -> np.dtype:
    """The result dtype of ``op`` on ``x`` with these operands, after every check torch makes of them."""
    check_accepts(op, x.dtype, args)
    out_dtype = result_dtype(op, x.dtype, _dtypes.rank_of(x.ndim), args)
    if op.integral_divisor_pair and all(_dtypes.category(a.dtype) <= 1 for a in args if a.rank != Rank.NUMBER):
        raise TypeError(
            "integer division with addcdiv is not supported (as in torch): cast tensor1 or tensor2 to a floating dtype"
        )
    numbers = any(a.rank == Rank.NUMBER and a.promotes for a in args)
    accepts = op.result_accepts & (op.number_result_accepts if numbers else op.array_result_accepts)
    if CATEGORY_NAMES[_dtypes.category(out_dtype)] not in accepts:
        raise TypeError(f"{op.name} with a {out_dtype.name} result is not implemented (nor in torch)")
    for a in args:
        if a.name == "alpha" and _dtypes.category(a.dtype) >= 2 > _dtypes.category(out_dtype):
            raise TypeError("for integral input tensors, alpha must not be a floating point number")
        if a.name == "alpha" and _dtypes.category(a.dtype) == 3 > _dtypes.category(out_dtype):
            raise TypeError("for non-complex input tensors, alpha must not be a complex number (as in torch)")
        if a.name == "alpha" and a.dtype == np.bool_ and out_dtype != np.bool_:
            raise TypeError("a bool alpha is only supported for bool results (as in torch)")
        if _dtypes.category(out_dtype) <= 1 and is_wide_int(a):
            info = np.iinfo(_dtypes.canonical(np.dtype(np.int64)))
            raise ValueError(f"{a.name} is an integer that {does_not_fit(info)}; the result is {out_dtype.name}")
    if op.same_dtype_operands:
        for a in args:
            if a.rank != Rank.NUMBER and a.dtype != x.dtype:
                raise TypeError(
                    f"{op.name} needs every array operand in the tensor's dtype "
                    f"{np.dtype(x.dtype).name}, got {np.dtype(a.dtype).name}"
                )
    if inplace and not _dtypes.can_cast(out_dtype, x.dtype):
        raise TypeError(f"result type {out_dtype.name} can't be cast to the input dtype {np.dtype(x.dtype).name}")
    return out_dtype


def _untiny(value: Any) -> jax.Array:
    """Undo :func:`_keep_tiny_exponents` for a float16/bfloat16 result, whose rounding makes it 0."""
    value = jnp.asarray(value)
    if not jnp.issubdtype(value.dtype, jnp.floating):
        return value
    return jnp.where(jnp.abs(value) == FLOAT32_TINY, value * 0, value)


def convert(value: Any, dtype: np.dtype) -> jax.Array:
    """``value`` as an array of ``dtype`` (a bool through uint8: see below)."""
    value = jnp.asarray(value)
    if value.dtype == jnp.bool_ and dtype != np.bool_:
        # through uint8: XLA rewrites convert(bool) / y into a select that loses 0/0 = nan
        value = value.astype(jnp.uint8)
    if jnp.iscomplexobj(value) and not jnp.issubdtype(dtype, jnp.complexfloating):
        value = jnp.real(value)  # (a complex number to a real dtype: its imaginary part was checked to be 0)
    return value.astype(dtype)


def check_reduction(op: Op, x_dtype: Any, has_empty: bool, statics: Sequence[Any]) -> tuple[Any, Any]:
    """torch's checks for norm / powsum / max; returns (result dtype, ord) (ord None for max)."""
    check_accepts(op, x_dtype)
    reduction = op.reduction
    ord_, dtype = statics if reduction.ordered else (None, None)
    if has_empty and (message := reduction.empty_error(ord_)):
        raise ValueError(message)
    if not reduction.ordered:
        return np.dtype(x_dtype), None
    return reduction_dtype(x_dtype, dtype, any_float=reduction.any_float_dtype), ord_


def reduce_one(op: Op, x: jax.Array, *statics: Any) -> jax.Array:
    """norm / powsum / max of one tensor, as a 0-d array."""
    out_dtype, ord_ = check_reduction(op, x.dtype, x.size == 0, statics)
    if not op.reduction.ordered:
        return op.reduction(x)
    return op.reduction(reduction_input(x, out_dtype), ord_).astype(out_dtype)


def reduction_input(x: jax.Array, out_dtype: np.dtype) -> jax.Array:
    """What norm / powsum reduce: torch casts the tensor to the result dtype first, then computes in
    its opmath (float64 input with dtype=float16 is rounded to float16); a complex tensor's magnitudes."""
    if _dtypes.category(x.dtype) == 3:
        x = jnp.abs(x)
    return convert(convert(x, out_dtype), _dtypes.opmath(out_dtype))


def reduction_dtype(x_dtype: np.dtype, dtype: Any, *, any_float: bool = False) -> np.dtype:
    """The result dtype of norm / powsum with ``dtype=``; the norm of a complex tensor is real.

    ``norm`` (torch's linalg.vector_norm) takes a dtype of the input's category at least as wide as
    it; ``powsum`` (``any_float``) any floating or complex dtype, for any input, narrowing included,
    and needs one for integer and bool input.
    """
    x_dtype = np.dtype(x_dtype)
    if dtype is None:
        if _dtypes.category(x_dtype) <= 1:
            raise TypeError(
                f"a {x_dtype.name} tensor needs a floating dtype= (torch rejects {_dtypes.torch_name(x_dtype)} too)"
            )
        return np.dtype(jnp.finfo(x_dtype).dtype)
    dtype = _dtypes.canonical(np.dtype(dtype))
    if any_float:
        ok = _dtypes.category(dtype) >= 2
    else:
        same = _dtypes.category(dtype) == _dtypes.category(x_dtype)
        ok = same and np.dtype(jnp.promote_types(x_dtype, dtype)) == dtype
    if not ok:
        wanted = "a floating or complex dtype" if any_float else "a dtype of the input's kind at least as wide"
        raise TypeError(f"dtype={dtype.name} is not allowed for a {x_dtype.name} tensor; torch accepts only {wanted}")
    return np.dtype(jnp.finfo(dtype).dtype)


def with_statics(kinds: Sequence[Kind], payloads: Sequence[Any]) -> list[Any]:
    """Inside the kernel: default numbers back in place of their payloads (a Packed's segment ids follow)."""
    out = list(payloads)
    for i, kind in enumerate(kinds):
        if kind.overload == "Scalar" and kind.static is not None:
            out[i] = kind.static
    return out


def at_tensor(error: Exception, index: int, shape: tuple[int, ...]) -> Exception:
    """``error`` marked as raised for the kernel's ``index``-th tensor (of ``shape``)."""
    error._jforeach_tensor = (index, tuple(shape))  # type: ignore[attr-defined]
    return error


# ----------------------------------------------------------------------------------------------
# The one kernel body: a list's tensors or a Packed's buffers


def apply_all(
    op: Op,
    xs: Sequence[jax.Array],
    kinds: Sequence[Kind],
    payloads: Sequence[Any],
    *,
    inplace: bool,
    layout: Layout | None = None,
    shardings: Sequence[Any] | None = None,
) -> list[jax.Array]:
    """Inside a kernel: the op on every array it takes, with torch's dtype rules.

    The arrays are a list's tensors (``layout`` None: each array is a group of one tensor) or a
    Packed's buffers (each array a group of ``layout``: several tensors, one after the other). The
    operands are cut for each array alike (:func:`_args_for`): a number is the same for all, a
    number per tensor is that tensor's number or, for a buffer, spread over its tensors' elements,
    a tree of arrays gives the matching array. A Packed's payloads end with its segment ids
    (:func:`prepare_payloads`). An error for one tensor of a list carries its index
    (:func:`at_tensor`). ``shardings``: the results' pinned shardings (zero_, copy_ on a sharded list).
    """
    segments: Sequence[Any] = [None] * len(xs)
    if layout is not None:
        *payloads, ids = payloads
        segments = segments if ids is None else ids
    out = []
    for i, x in enumerate(xs):
        group = None if layout is None else layout.groups[i]
        try:
            if op.family == "reduction":
                statics = [k.static for k in kinds]
                if layout is None:
                    out.append(reduce_one(op, x, *statics))
                else:
                    out.append(_reduce_buffer(op, x, layout, i, segments[i], statics))
                continue
            start = None if layout is None else piece_start(layout, i, x)
            args = _args_for(op, kinds, payloads, i, group, segments[i], start, x)
            if group is not None:
                _check_each_entry(op, x, kinds, args, group, inplace)
            result = apply_one(op, x, args, inplace=inplace)
        except (TypeError, ValueError) as error:
            if layout is None:
                raise at_tensor(error, i, x.shape) from None
            raise
        out.append(result if layout is None else _buffer_result(layout, i, result, start))
    if shardings is not None:
        out = [o if s is None else _arrays.constrain(o, s) for o, s in zip(out, shardings, strict=True)]
    return out


def _buffer_result(layout: Layout, index: int, result: jax.Array, start: Any) -> jax.Array:
    """A buffer's result with its padding zero (see ``packed.zero_padding``), placed as the layout's."""
    result = packed.zero_padding(layout.groups[index], result, start)
    if layout.sharding is not None:  # zero_'s constant result would otherwise come out replicated
        result = _arrays.constrain(result, layout.sharding)
    return result


def _args_for(
    op: Op,
    kinds: Sequence[Kind],
    payloads: Sequence[Any],
    i: int,
    group: Group | None,
    segments: Any,
    start: Any,
    x: jax.Array | None,
) -> list[Arg]:
    """The operands as array ``i`` of a kernel sees them: a tensor (``group`` None) or a buffer."""
    args = []
    for kind, payload, spec in zip(kinds, payloads, op.operands, strict=True):
        if kind.overload == "Scalar":
            args.append(Arg(payload, kind.number_dtype, Rank.NUMBER, spec.promotes, spec.name))
        elif kind.overload == "ScalarList":
            dtype = kind.number_dtype
            if group is None:
                value = payload[i]
                dtype = dtype[i] if isinstance(dtype, tuple) else dtype
            else:
                value = _expand(group, _members_of(payload, group.members), segments)
                if start is not None and x is not None:  # inside shard_map: this device's piece
                    value = jax.lax.dynamic_slice_in_dim(value, start, x.shape[0])
                if isinstance(dtype, tuple):  # mixed ints and floats: one buffer takes the widest of its own
                    dtype = np.dtype(functools.reduce(jnp.promote_types, {dtype[m] for m in group.members}))
            args.append(Arg(value, dtype, kind.rank, spec.promotes, spec.name))
        else:  # List: the matching array (another Packed's buffer); Tensor: the one array for all
            leaf = payload[i] if kind.overload == "List" else payload
            args.append(Arg(leaf, np.dtype(leaf.dtype), _dtypes.rank_of(leaf.ndim), spec.promotes, spec.name))
    return args


def _check_each_entry(
    op: Op, x: jax.Array, kinds: Sequence[Kind], args: Sequence[Arg], group: Group, inplace: bool
) -> None:
    """A ScalarList of mixed types on a buffer: torch's checks for each tensor's own entry (a bool
    where the op rejects one), and one result dtype for the whole buffer (torch gives an integral
    tensor an integral result for an int entry, a floating one for a float entry: one buffer cannot
    hold both)."""
    for j, kind in enumerate(kinds):
        if kind.overload != "ScalarList" or not isinstance(kind.number_dtype, tuple):
            continue
        own = sorted({np.dtype(kind.number_dtype[m]) for m in group.members}, key=str)
        each = ([*args[:j], dataclasses.replace(args[j], dtype=dtype), *args[j + 1 :]] for dtype in own)
        results = {checked_result_dtype(op, x, entry_args, inplace=inplace) for entry_args in each}
        if len(results) > 1:
            raise TypeError(
                f"the numbers of {args[j].name} mix types that give the {np.dtype(x.dtype).name} tensors of one "
                f"buffer different result dtypes ({', '.join(sorted(d.name for d in results))}), as torch gives "
                "each tensor the dtype of its own number; a Packed buffer holds one dtype: pass numbers of one "
                "type (2.0, not 2), or unpack first"
            )


def list_args(op: Op, kinds: Sequence[Kind], payloads: Sequence[Any], i: int) -> list[Arg]:
    """Tensor ``i``'s operands in a list call, as ``Arg``s (the checks on numbers read them on the host)."""
    return _args_for(op, kinds, payloads, i, None, None, None, None)


def prepare_payloads(
    op: Op, layout: Layout, kinds: Sequence[Kind], payloads: list[Any], buffers: Sequence[Any]
) -> list:
    """Outside the kernel, for a Packed: the payloads, then the segment ids the kernel needs."""
    # a ScalarList travels as one array here: the kernel gathers it per element, not per tensor
    payloads = [
        (jnp.stack(p) if _arrays.is_tracer(p) else np.asarray(p)) if k.overload == "ScalarList" else p
        for k, p in zip(kinds, payloads, strict=True)
    ]
    scalar_list = any(k.overload == "ScalarList" for k in kinds)
    reduction = op.family == "reduction"
    segments = None
    if scalar_list or reduction:
        # a sharded buffer outside a trace is reduced piece by piece, with ids of the pieces' own
        by_pieces = reduction and packed.shard_count(layout.sharding) > 1 and not _arrays.is_tracer(buffers)
        segments = [
            packed.segment_ids(layout, i, b)
            if packed.small_members(g) and (scalar_list or not (packed.by_runs(g) or by_pieces))
            else None
            for i, (g, b) in enumerate(zip(layout.groups, buffers, strict=True))
        ]
    return [*payloads, segments]


def piece_start(layout: Layout, index: int, x: Any) -> Any:
    """Inside ``jax.shard_map``, where ``x`` is this device's piece of a sharded buffer: the index
    of its first element in the whole buffer (a traced number). None for a whole buffer."""
    group = layout.groups[index]
    if x.shape[0] == group.length:
        return None
    axes = packed.spec_axes(layout.sharding)
    if not axes or x.shape[0] * packed.shard_count(layout.sharding) != group.length:
        spec = layout.sharding.spec if layout.sharding is not None else None
        raise ValueError(
            f"a buffer of {group.length} elements arrived as a piece of {x.shape[0]}: "
            f"inside shard_map, pass a Packed with its own sharding's spec (in_specs={spec}) or whole (P())"
        )
    return jax.lax.axis_index(axes) * x.shape[0]


def _reduce_buffer(op: Op, x: Any, layout: Layout, index: int, seg: Any, statics: Sequence[Any]) -> jax.Array:
    """Per-tensor reductions of one buffer. A sharded buffer is reduced where it lies: each device
    reduces its own piece and one all-reduce of a number per tensor combines them (``jax.shard_map``;
    inside the user's own shard_map, its piece and the same collective)."""
    group = layout.groups[index]
    pieces = packed.shard_count(layout.sharding)
    if pieces == 1:
        return _segment_reduce(op, x, group, seg, statics)
    axes = packed.spec_axes(layout.sharding)
    if _arrays.in_shard_map():
        if piece_start(layout, index, x) is None:  # the whole buffer on every device
            return _segment_reduce(op, x, group, seg, statics)
        return _reduce_pieces(op, x, group, statics, axes, pieces)
    body = functools.partial(_reduce_pieces, op, group=group, statics=statics, axes=axes, pieces=pieces)
    spec = jax.sharding.PartitionSpec(*layout.sharding.spec)
    return jax.shard_map(body, mesh=layout.sharding.mesh, in_specs=spec, out_specs=jax.sharding.PartitionSpec())(x)


# ----------------------------------------------------------------------------------------------
# Reductions and operands of a buffer


def _members_of(per_tensor: Any, members: tuple[int, ...]) -> Any:
    """The entries of ``members`` (a buffer's tensors): a slice where they are consecutive (a gather
    by constant indices is not simplified away by XLA, and costs about as much as the op)."""
    first = members[0] if members else 0
    if members == tuple(range(first, first + len(members))):
        return per_tensor[first : first + len(members)]
    return per_tensor[np.asarray(members, dtype=np.int32)]


def _expand(group: Group, per_tensor: jax.Array, segments: Any) -> jax.Array:
    """One value per tensor -> one value per buffer element."""
    small = packed.small_members(group)
    runs = packed.small_runs(group)
    if small and len(runs) == 1 and runs[0][0] == 0 and segments.shape[0] == group.length:
        return jnp.take(per_tensor, segments, mode="clip")
    out = jnp.zeros(group.length, per_tensor.dtype)
    if small:
        values = jnp.take(per_tensor, segments, mode="clip")
        done = 0
        for a, b in runs:
            out = jax.lax.dynamic_update_slice(out, jax.lax.slice(values, (done,), (done + b - a,)), (a,))
            done += b - a
    for k, (off, size) in enumerate(zip(group.offsets, group.sizes, strict=True)):
        if size >= packed.SLICE_MIN_SIZE:
            out = jax.lax.dynamic_update_slice(out, jnp.broadcast_to(per_tensor[k], (size,)), (off,))
    return out


def _gather_runs(group: Group, x: jax.Array) -> jax.Array:
    """The elements of the small members, contiguous (a view of ``x`` when they already are)."""
    runs = packed.small_runs(group)
    if len(runs) == 1 and runs[0] == (0, x.shape[0]):
        return x
    parts = [jax.lax.slice(x, (a,), (b,)) for a, b in runs]
    return jnp.concatenate(parts) if len(parts) > 1 else parts[0]


def _segment_reduce(
    op: Op,
    x: jax.Array,
    group: Group,
    seg: jax.Array | None,
    statics: Sequence[Any],
    *,
    partial: bool = False,
) -> jax.Array:
    """Per-tensor reductions of one buffer: by runs of equal-size tensors when there are few runs,
    else static slices for big tensors and segment ops for small ones. ``partial``: the power sums (or
    maxima) before a norm is finished from them, in the compute dtype (pieces of a sharded buffer)."""
    out_dtype, finish = check_reduction(op, x.dtype, 0 in group.sizes, statics)
    n = len(group.members)
    small = packed.small_members(group)
    compute = x if not op.reduction.ordered else jnp.abs(reduction_input(x, out_dtype))
    if packed.by_runs(group):
        parts = []
        for start, count, size in packed.equal_size_runs(group):
            if size >= packed.SLICE_MIN_SIZE:  # XLA:CPU reduces a few long rows slower than separate slices
                parts += [
                    op.reduction.reduce(_norms.Along(jax.lax.slice(compute, (a,), (a + size,))), finish)[None]
                    for a in range(start, start + count * size, size)
                ]
            else:
                run = jax.lax.slice(compute, (start,), (start + count * size,)).reshape(count, size)
                parts.append(op.reduction.reduce(_norms.Along(run, axis=1), finish))
        out = jnp.concatenate(parts)
        return out if partial else op.reduction.finish(out, finish).astype(out_dtype)
    results = []
    if small:
        assert seg is not None  # (prepare_payloads gives ids to a buffer with small tensors)
        results.append(op.reduction.reduce(_norms.Segments(_gather_runs(group, compute), seg, n), finish))
    small_set = set(small)  # (built once: a set per tensor made the first norm quadratic in the tensors)
    big = [k for k in range(n) if k not in small_set]
    if big:
        parts = [
            op.reduction.reduce(_norms.Along(jax.lax.slice(compute, (off,), (off + group.sizes[k],))), finish)
            for k, off in ((k, group.offsets[k]) for k in big)
        ]
        big_values = jnp.stack(parts)
        if small:
            results[0] = results[0].at[np.asarray(big)].set(big_values)
        else:
            results.append(big_values)
    return results[0] if partial else op.reduction.finish(results[0], finish).astype(out_dtype)


@functools.lru_cache(maxsize=1024)
def _piece_group(group: Group, index: int, piece: int) -> tuple[Group, tuple[int, ...]]:
    """The members of ``group`` in piece ``index`` (of ``piece`` elements) of its buffer, cut to it,
    as a group of their own, and their positions in ``group``."""
    lo, hi = index * piece, (index + 1) * piece
    where, offsets, sizes = [], [], []
    for k, (off, size) in enumerate(zip(group.offsets, group.sizes, strict=True)):
        a, b = max(off, lo), min(off + size, hi)
        if a < b:
            where.append(k)
            offsets.append(a - lo)
            sizes.append(b - a)
    return packed.Group(group.dtype, tuple(where), tuple(offsets), tuple(sizes), piece), tuple(where)


def _reduce_pieces(
    op: Op, x: jax.Array, group: Group, statics: Sequence[Any], axes: tuple[str, ...], pieces: int
) -> jax.Array:
    """Per-tensor reductions of a sharded buffer from this device's piece ``x`` (inside shard_map).

    Each device reduces the parts of the tensors it holds with the static algorithm of
    :func:`_segment_reduce` (one branch per piece index: offsets stay static, slices stay exact),
    then one all-reduce over ``axes`` of one number per tensor (sum, max or min) combines them.
    """
    out_dtype, finish = check_reduction(op, x.dtype, 0 in group.sizes, statics)
    n = len(group.members)
    dtype = x.dtype if not op.reduction.ordered else reduction_input(x[:0], out_dtype).dtype
    combine = op.reduction.combine(finish)
    identity = {"max": _lowest(dtype), "min": np.inf, "sum": 0}[combine]

    def branch(index: int, piece: jax.Array) -> jax.Array:
        sub, where = _piece_group(group, index, piece.shape[0])
        out = jnp.full(n, identity, dtype)
        if not where:  # a piece of padding only: varying over the axes all the same, as the other branches
            return jax.lax.pcast(out, axes, to="varying")
        small = packed.small_members(sub)
        seg = None
        if small and not packed.by_runs(sub):
            seg = jnp.asarray(np.repeat(np.asarray(small, np.int32), [sub.sizes[k] for k in small]))
        values = _segment_reduce(op, piece, sub, seg, statics, partial=True)
        return out.at[np.asarray(where)].set(values.astype(dtype))

    branches = [functools.partial(branch, i) for i in range(pieces)]
    values = jax.lax.switch(jax.lax.axis_index(axes), branches, x)
    return op.reduction.finish(all_reduce(values, axes, combine), finish).astype(out_dtype)


def all_reduce(values: jax.Array, axes: tuple[str, ...], combine: str) -> jax.Array:
    """``values`` combined over the mesh ``axes`` (inside shard_map): their ``"sum"``, ``"max"`` or
    ``"min"``; for max and min, NaN where any device holds one (XLA's max may drop it)."""
    if combine == "sum":
        return jax.lax.psum(values, axes)
    wire = values.astype(np.int8) if values.dtype == np.bool_ else values
    out = (jax.lax.pmax if combine == "max" else jax.lax.pmin)(wire, axes).astype(values.dtype)
    if jnp.issubdtype(values.dtype, jnp.inexact):
        out = jnp.where(jax.lax.psum(jnp.isnan(values).astype(np.int32), axes) > 0, jnp.nan, out)
    return out


def _lowest(dtype: np.dtype) -> Any:
    if jnp.issubdtype(dtype, jnp.inexact):
        return -np.inf
    if dtype == np.bool_:
        return False
    return jnp.iinfo(dtype).min
