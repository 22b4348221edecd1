"""The engine every op goes through: validate, flatten, compile once, donate, write back.

A call ``jforeach.NAME(tensors, *operands)`` becomes:

1. ``tensors`` is flattened (or, for a :class:`~jforeach.Packed`, its flat buffers are taken) and every
   leaf is checked; each operand is classified into one of torch's overloads (a number for all, a number
   per tensor, a tree of the same structure, one array for all) with precise errors on mismatch.
2. A jitted kernel is looked up by everything static (the op, the overloads, the in-place flag); JAX's
   own cache then keys it by shapes and dtypes, so repeated calls never retrace.
3. The kernel (``_kernels.apply_all``, one body for a list's tensors and a Packed's buffers) applies
   the op's row to each array with torch's dtype rules; any dtype error is raised while tracing, i.e.
   before anything runs, so a rejected in-place call donates nothing.
4. In-place calls donate the ``tensors`` buffers (unless the arguments are tracers, where nothing can be
   donated and the same result is computed functionally) and write the results back into the caller's
   mutable containers.

Errors are raised here without the function's name; :func:`call`, the one entry point, names it once.
A call whose signature ran before takes the plan the first call left (:func:`_fast_call`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import operator
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _arrays, _dtypes, _kernels
from ._cache import HashedKey, WeightedLRU
from ._dtypes import Rank
from ._kernels import Arg, Kind
from ._table import OPS, Op, Operand
from .packed import Packed

# ----------------------------------------------------------------------------------------------
# Operands


def _number_dtype(value: Any) -> np.dtype:
    if _arrays.is_number(value):
        return _dtypes.number_dtype(value)
    # a 0-d array where torch takes a Scalar: it promotes like a number of its category
    return _dtypes.number_dtype(np.zeros((), value.dtype).item())


def _weak(value: Any) -> bool:
    """A weakly typed array: a Python number passed through ``jit`` (or ``jnp.asarray(2.0)``)."""
    return bool(getattr(value, "weak_type", False))


def _is_number_or_0d(value: Any) -> bool:
    """What a ScalarList entry may be: a Python/numpy number or a 0-d array."""
    return _arrays.is_number(value) or (isinstance(value, jax.Array | np.ndarray) and value.ndim == 0)


def _all_numbers_or_0d(values: Sequence[Any]) -> bool:
    if set(map(type, values)) <= _PYTHON_NUMBERS:
        return True
    return all(map(_is_number_or_0d, values))


_PYTHON_NUMBERS = frozenset({bool, int, float, complex})


def _describe(value: Any) -> str:
    if isinstance(value, jax.Array | np.ndarray):
        return f"an array of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def _classify(spec: Operand, value: Any, n: int, treedef: Any, packed: Any) -> tuple[Kind, Any]:
    """Decide which torch overload ``value`` is, and return (static kind, dynamic payload)."""
    allowed = spec.overloads
    if isinstance(value, str | bytes) or value is None or _arrays.is_other_number(value):
        expected = " or ".join(_OVERLOAD_WORDS[o] for o in allowed)
        raise TypeError(f"{spec.name} must be {expected}; got {value!r}")
    is_array = isinstance(value, jax.Array | np.ndarray)
    if isinstance(value, Packed) or packed is not None:
        if isinstance(value, Packed) and "List" in allowed:
            if packed is None:
                raise TypeError(f"{spec.name} is a Packed but tensors is not; pack both (`jforeach.pack`) or neither")
            value._check_alive(spec.name)
            packed.layout._check_same(value.layout, spec.name)
            return Kind("List"), list(value.buffers)
        if is_array and value.ndim > 0 and "Tensor" in allowed and not (spec.name == "value" and value.ndim == 1):
            raise TypeError(
                f"tensors is a Packed, so {spec.name} must be a number, a 0-d array, a "
                f"sequence of numbers or a Packed of the same layout; got {_describe(value)}"
            )
        if (
            "List" in allowed
            and not _is_number_or_0d(value)
            and not (isinstance(value, Sequence) and _all_numbers_or_0d(value))
            and not (is_array and "Tensor" in allowed)
        ):
            if isinstance(value, Sequence) and (odd := next(filter(_arrays.is_other_number, value), None)) is not None:
                raise TypeError(
                    f"{spec.name} holds a {type(odd).__name__}, not a number torch takes (bool, int, float, complex)"
                )
            raise TypeError(
                f"tensors is a Packed but {spec.name} is {_describe(value)}; "
                "pack it with the same layout (`jforeach.pack`)"
            )
    scalar_array = is_array and value.ndim == 0 and ("List" not in allowed or packed is not None)
    if scalar_array and "Tensor" in allowed and not spec.zero_dim_as_number and not _weak(value):
        return Kind("Tensor"), jnp.asarray(value)
    if ("Scalar" in allowed or "Tensor" in allowed) and (_arrays.is_number(value) or scalar_array):
        return Kind("Scalar", _number_dtype(value)), _check_int_range(value, spec.name)
    if "ScalarList" in allowed and isinstance(value, Sequence) and not isinstance(value, str):
        if _all_numbers_or_0d(value):
            if _zero_dim_tensor_list(spec, value, n):
                if packed is None:
                    leaves, _ = _arrays.as_leaves(value, spec.name)
                    return Kind("List"), leaves
                # on a Packed: one value per tensor, promoting with its own dtype as a 0-d tensor
                kind, payload = _scalar_list(value, exact=True)
                return dataclasses.replace(kind, zero_dim=True), payload
            if len(value) != n:
                raise ValueError(f"tensors has {n} arrays but {spec.name} has {len(value)} scalars")
            if n == 0:
                return Kind("ScalarList", _dtypes.DEFAULT_FLOAT), []
            try:
                return _scalar_list(value)
            except ValueError as e:
                raise ValueError(f"{spec.name}: {e}") from None
    if "List" in allowed and packed is None:
        other_treedef = jax.tree.structure(value)
        if other_treedef == treedef:
            leaves, _ = _arrays.as_leaves(value, spec.name)
            return Kind("List"), leaves
        if not ("Scalar" in allowed and is_array and value.ndim == 0) and not ("Tensor" in allowed and is_array):
            n_other = len(jax.tree.leaves(value))
            if isinstance(value, list | tuple) and any(v is None for v in value):  # None: an empty subtree
                i = next(i for i, v in enumerate(value) if v is None)
                raise TypeError(f"{spec.name}[{i}] is None; every entry must be a number or an array")
            if n_other != n:
                raise ValueError(f"tensors has {n} arrays but {spec.name} has {n_other}")
            raise ValueError(
                f"the structure of {spec.name}, {other_treedef}, differs from the structure of tensors, {treedef}"
            )
    if "Scalar" in allowed and is_array and value.ndim == 0:
        # a weakly typed 0-d array is a Python number that went through jit: a Scalar
        if "Tensor" in allowed and not spec.zero_dim_as_number and not _weak(value):
            return Kind("Tensor"), jnp.asarray(value)
        return Kind("Scalar", _number_dtype(value)), value
    if is_array and "ScalarList" in allowed and value.ndim == 1 and spec.name == "value":
        # addcmul/addcdiv's torch Tensor overload: a 1-D tensor of one scalar per tensor.
        if value.shape[0] != n:
            raise ValueError(f"tensors has {n} arrays but {spec.name} has {value.shape[0]} scalars")
        return _scalar_list(list(value if _arrays.is_tracer([value]) else np.asarray(value)))
    if is_array and "Tensor" in allowed:
        return Kind("Tensor"), jnp.asarray(value)
    expected = " or ".join(_OVERLOAD_WORDS[o] for o in allowed)
    raise TypeError(f"{spec.name} must be {expected}; got {_describe(value)}")


def _zero_dim_tensor_list(spec: Operand, value: Sequence[Any], n: int) -> bool:
    """A list of 0-d arrays, one per tensor, is torch's TensorList: each promotes with its own dtype.

    Weakly typed 0-d arrays are Python numbers that went through ``jit``: a ScalarList still. So is
    lerp's weight, which torch treats as numbers.
    """
    return (
        "List" in spec.overloads
        and spec.zero_dim_list_as_tensors
        and isinstance(value, list | tuple)
        and bool(value)
        and len(value) == n
        and all(isinstance(v, jax.Array | np.ndarray) and not _weak(v) for v in value)
    )


def _check_int_range(value: Any, name: str) -> Any:
    """An integer Scalar as the kernel gets it: torch holds it as an int64 (a uint64 from 2**63 to
    2**64 - 1) and raises beyond. One JAX's int type cannot hold travels as a float: right for floating
    results (torch converts it to their dtype); integral results reject it (``apply_one``)."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = int(value)
        info = np.iinfo(_dtypes.canonical(np.dtype(np.int64)))
        if not info.min <= value <= info.max:
            if not _TORCH_INT_MIN <= value <= _TORCH_INT_MAX:
                raise ValueError(f"{name}={value} {_kernels.does_not_fit(info)} (nor in torch's int64/uint64)")
            return float(value)
    return value


# the integers torch takes for a Scalar: int64, and uint64 above it
_TORCH_INT_MIN, _TORCH_INT_MAX = -(2**63), 2**64 - 1


_OVERLOAD_WORDS = {
    "Scalar": "a number",
    "ScalarList": "a sequence of numbers, one per tensor",
    "List": "a tree of arrays with the structure of tensors",
    "Tensor": "an array",
}


def _scalar_list(values: Sequence[Any], *, exact: bool = False) -> tuple[Kind, Any]:
    """torch's ScalarList: one number per tensor, each promoting as its own Python type.

    The payload is one host array (one 0-d value per entry where their types differ, or traced);
    the kernel takes it whole for a Packed or a short list, one number per argument for a long list
    (see :func:`_for_kernel`).
    """
    types = set(map(type, values))
    if not exact and len(types) == 1 and (entry := next(iter(types))) in (bool, int, float):
        # Python numbers of one type (the usual case): one vectorized conversion
        dtype = _dtypes.number_dtype(entry())
        try:
            return Kind("ScalarList", dtype), np.asarray(values, dtype=_wide_host_dtype(dtype))
        except OverflowError:  # an int beyond JAX's int type: entry by entry below
            pass
    # exact: 0-d arrays that promote as tensors keep their own dtypes, not their category's default
    per_entry = [np.dtype(v.dtype) if exact else _number_dtype(v) for v in values]
    widest = np.dtype(functools.reduce(jnp.promote_types, set(per_entry)))
    if len(set(per_entry)) == 1:
        if _arrays.is_tracer(values):
            return Kind("ScalarList", widest), [jnp.asarray(v, widest) for v in values]
        try:
            host = np.asarray([np.asarray(v).item() for v in values], dtype=_wide_host_dtype(widest))
        except OverflowError:  # an int beyond JAX's int type: entry by entry, it as a float (or an error)
            return Kind("ScalarList", widest), [_host_entry(np.asarray(v).item(), widest) for v in values]
        return Kind("ScalarList", widest), host
    # mixed ints and floats: every entry keeps its own type for promotion (an int for an int tensor
    # stays an int), carried in a static tuple, and travels as that type (2**53 + 1 stays exact)
    if _arrays.is_tracer(values):
        return Kind("ScalarList", tuple(per_entry)), [jnp.asarray(v) for v in values]
    entries = [_host_entry(np.asarray(v).item(), d) for v, d in zip(values, per_entry, strict=True)]
    return Kind("ScalarList", tuple(per_entry)), entries


def _host_entry(value: Any, dtype: np.dtype) -> np.ndarray:
    """One ScalarList entry in its own type. An int too wide for JAX's int type travels as a float
    (right for floating results; integral ones reject it), one beyond torch's int64/uint64 raises as
    torch does, alone or in a list of any mix."""
    wide = _wide_host_dtype(dtype)
    if _dtypes.category(wide) == 1 and not np.iinfo(wide).min <= value <= np.iinfo(wide).max:
        if not _TORCH_INT_MIN <= value <= _TORCH_INT_MAX:
            raise ValueError(
                f"an entry, {value}, {_kernels.does_not_fit(np.iinfo(wide))} (nor in torch's int64/uint64)"
            )
        wide = _wide_host_dtype(np.dtype(np.float64))
    return np.asarray(value, wide)


def _wide_host_dtype(dtype: np.dtype) -> np.dtype:
    """The widest dtype of ``dtype``'s category that jax holds (64 bits with x64, else 32)."""
    wide = {0: np.bool_, 1: np.int64, 2: np.float64, 3: np.complex128}[_dtypes.category(dtype)]
    return _dtypes.canonical(np.dtype(wide))


# ----------------------------------------------------------------------------------------------
# One tensor: dtype rules and the row function


# ----------------------------------------------------------------------------------------------
# The kernel and its cache


# Kernels pin compiled code: an executable weighs one unit, plus one per 256 arrays it takes (its code
# grows with them). 512 units keep jforeach's kernels to about 15,000 memory maps on XLA:CPU (about 15-30
# an executable), well inside Linux's default vm.max_map_count of 65,530, and hold far more kernels than
# a training loop uses; least recently used kernels are released beyond that.
_KERNEL_BUDGET = 512
_ARRAYS_PER_UNIT = 256


def _release_kernel(fn: Any) -> None:
    fn.clear_cache()


_KERNELS: WeightedLRU[Any] = WeightedLRU(_KERNEL_BUDGET, release=_release_kernel)


def _kernel(
    op_name: str,
    kinds: tuple[Kind, ...],
    inplace: bool,
    donate: bool,
    layout: Any,
    shardings: tuple[Any, ...] | None = None,
):
    """The jitted kernel for a static signature, from the bounded kernel cache (see ``_build_kernel``)."""
    return _kernel_for(_kernel_key(op_name, kinds, inplace, donate, layout, shardings))


def _kernel_key(
    op_name: str,
    kinds: tuple[Kind, ...],
    inplace: bool,
    donate: bool,
    layout: Any,
    shardings: tuple[Any, ...] | None = None,
) -> HashedKey:
    return HashedKey((op_name, kinds, inplace, donate, layout, shardings))


# rows' overloads that are not rows of OPS (the scalar-base pow), by name, for the kernels keyed by it
_OVERLOADS: dict[str, Op] = {}


def _row(name: str) -> Op:
    return OPS[name] if name in OPS else _OVERLOADS[name]


def _kernel_for(key: HashedKey) -> Any:
    """The kernel of ``key``, made if it is not cached (or was released since)."""
    fn = _KERNELS.find(key)
    return fn if fn is not None else _KERNELS.get(key, lambda: _build_kernel(key))


def _canonical(kernels: Sequence[tuple[int, int, HashedKey]]) -> tuple[tuple[int, int, Any], ...]:
    """The kernel keys as the cache holds them, so that a plan's lookups are identity checks."""
    return tuple((start, stop, _KERNELS.key(key)) for start, stop, key in kernels)


def _build_kernel(key: HashedKey) -> Any:
    """The jitted kernel; ``shardings``: constrain each result to its tensor's (see ``_pinned_shardings``).

    An error for one tensor carries its index within the kernel's arrays (``_kernels.at_tensor``): the
    caller turns it into the tensor's position in the whole call.
    """
    op_name, kinds, inplace, donate, layout, shardings = key.fields
    op = _row(op_name)

    def run(xs, payloads):
        _KERNELS.add_weight(key, 1 + len(xs) / _ARRAYS_PER_UNIT)  # one more executable of this kernel
        payloads = _kernels.with_statics(kinds, payloads)
        return _kernels.apply_all(op, xs, kinds, payloads, inplace=inplace, layout=layout, shardings=shardings)

    run.__name__ = op.name + ("_" if inplace else "")
    # keep_unused: zero_ and copy_ never read their tensors, yet their buffers must still be donated
    return jax.jit(run, donate_argnums=(0,) if donate else (), keep_unused=donate)


def _shift_tensor_index(error: Exception, positions: Sequence[int]) -> None:
    """The kernel's tensor ``i`` is the call's ``positions[i]`` (a chunk, or a sample of representatives)."""
    mark = getattr(error, "_jforeach_tensor", None)
    if mark is not None and not getattr(error, "_jforeach_shifted", False):
        error._jforeach_tensor = (positions[mark[0]], mark[1])  # type: ignore[attr-defined]
        error._jforeach_shifted = True  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------------------
# Entry point


def _is_strong_0d(value: Any) -> bool:
    return isinstance(value, jax.Array | np.ndarray) and value.ndim == 0 and not _weak(value)


def _alpha_overload(op: Op, spec: Operand) -> Operand:
    """With ``alpha`` passed, torch's argument parser takes the Tensor overload for a 0-d ``other``
    (the Scalar one has no alpha): it promotes as a 0-d tensor. ``sub`` has no Tensor overload."""
    if "Tensor" not in spec.overloads or op.name == "sub":
        raise TypeError(
            f"{op.name} with alpha takes a 0-d array other only where torch has a Tensor overload (add); "
            "pass other as a number, or drop alpha"
        )
    return dataclasses.replace(spec, zero_dim_as_number=False)


def _is_default(spec: Operand, value: Any) -> bool:
    """``value`` is the operand's default number itself (the same type: ``alpha=1.0`` is not ``1``)."""
    default = spec.default
    return type(value) is type(default) and type(value) in (int, float) and value == default


def _check_static_operand(op: Op, spec: Operand, value: Any) -> None:
    if spec.name == "ord":
        if op.reduction.bool_orders and isinstance(value, bool):
            return
        if not _arrays.is_number(value) or isinstance(value, complex | bool):
            raise TypeError(f"ord must be a real number, got {value!r}")


def call(
    op: str | Op, tensors: Any, operands: Sequence[Any], inplace: bool, fname: str, alpha_given: bool = False
) -> Any:
    """Run one op (see the module docstring): ``op`` is a row of the op table or its name; a row's
    overload that is not in ``OPS`` itself (the scalar-base ``pow``) is passed as its ``Op``.

    Every check runs over the whole call before the first buffer is donated, so a rejected call
    leaves every input alive and unchanged. Errors are prefixed here, once, with the public name.
    A call whose signature ran before takes the plan that first call left (:func:`_fast_call`).
    """
    if isinstance(op, str):
        op = OPS[op]
    elif OPS.get(op.name) is not op:
        if op.name in OPS:
            raise ValueError(f"an overload of a row needs a name of its own, not {op.name!r}")
        _OVERLOADS.setdefault(op.name, op)
    try:
        out, plan_key = _fast_call(op, tensors, operands, inplace, alpha_given)
        if out is _MISS:
            out = _call(op, tensors, operands, inplace=inplace, alpha_given=alpha_given, plan_key=plan_key)
    except (TypeError, ValueError) as error:
        raise _named(error, fname, tensors) from None
    except RuntimeError as error:  # JAX's, for a deleted array read while classifying an operand
        if "deleted" not in str(error):
            raise
        raise ValueError(
            f"`jforeach.{fname}`: an operand holds an array that was deleted (donated to an earlier call)"
        ) from None
    if _KERNELS.over_budget():
        _KERNELS.trim()
    return out


def _named(error: Exception, fname: str, tensors: Any) -> Exception:
    """``error`` with the public function's name (once) and the failing tensor's position in the call."""
    mark = getattr(error, "_jforeach_tensor", None)
    if mark is None:
        return _arrays.prefixed(error, fname)
    prefix = f"`jforeach.{fname}`: "
    index, shape = mark
    message = f"{_position(tensors, index)} (shape {shape}): {str(error).removeprefix(prefix)}"
    return _arrays.plain_type(error)(prefix + message)


def _position(tensors: Any, index: int) -> str:
    """How an error names the ``index``-th tensor of a call: ``tensors[3]``, ``tensors['w']``."""
    if isinstance(tensors, Packed):
        return f"buffer {index} ({tensors.layout.groups[index].dtype.name}) of the Packed tensors"
    return f"tensors{_arrays.leaf_name(tensors, index)}"


def _call(
    op: Op,
    tensors: Any,
    operands: Sequence[Any],
    *,
    inplace: bool,
    alpha_given: bool,
    plan_key: HashedKey | None = None,
) -> Any:
    """The whole path: classify, check, run. With ``plan_key``, what it decided is kept as the plan
    of that call signature, for :func:`_fast_call` to repeat."""
    packed = tensors if isinstance(tensors, Packed) else None
    if packed is not None:
        if not op.on_packed:
            raise TypeError(f"{op.name} does not take a Packed (it needs each tensor's shape); unpack it")
        packed._check_alive()
        leaves, treedef = list(packed.buffers), None
        n = packed.layout.num_tensors
    else:
        leaves, treedef = _arrays.as_leaves(tensors, inplace=inplace)
        n = len(leaves)

    nested = treedef is not None and treedef.num_nodes != treedef.num_leaves + 1  # not a flat list or dict
    if nested and (op.family == "reduction" or any(_may_be_scalar_list(v) for v in operands)):
        _reject_nested_packed(tensors)
    kinds: list[Kind] = []
    payloads: list[Any] = []
    for spec, value in zip(op.operands, operands, strict=True):
        if op.family == "reduction":
            _check_static_operand(op, spec, value)
            if op.reduction.bool_orders and isinstance(value, bool):
                value = int(value)  # torch's powsum takes True/False as the orders 1/0 (its norm does not)
            kinds.append(Kind("Static", static=value))
            payloads.append(None)
            continue
        if alpha_given and spec.name == "other" and _is_strong_0d(value):
            spec = _alpha_overload(op, spec)
        kind, payload = _classify(spec, value, n, treedef, packed)
        if kind.overload == "Scalar" and _is_default(spec, value):
            kind = dataclasses.replace(kind, static=value)  # alpha=1, value=1: compiled in, as torch skips them
        kinds.append(kind)
        payloads.append(payload)
    if packed is None:
        _check_tensor_operands_do_not_grow(leaves, kinds, payloads, op)
    # torch's checks on the numbers' values (pow's negative exponents, c10's overflow), before any donation
    _check_scalar_values(op, leaves, packed, kinds, payloads)
    if op.name == "pow":
        payloads = [_keep_tiny_exponents(k, p) for k, p in zip(kinds, payloads, strict=True)]

    tensors_traced = _arrays.is_tracer(leaves)
    tracing = tensors_traced or any(map(_holds_tracer, payloads))
    if inplace and tracing and leaves and not tensors_traced:
        raise ValueError(
            "the tensors are concrete arrays but an operand is traced (this call runs inside jax.jit, grad or "
            "vmap, and the tensors come from outside it): writing traced values into the caller's containers "
            "would leak tracers out of the transformation. Pass the tensors as an argument of the transformed "
            + (
                f"function, or use the out-of-place `jforeach.{op.name}` and return its result"
                if op.outplace
                else "function and return the result"
            )
        )
    donate = inplace and not tracing
    if donate:
        payloads = _check_aliasing(leaves, payloads, op)
    shardings = _pinned_shardings(op, leaves) if donate and packed is None else None
    key = _kernel_key(op.name, tuple(kinds), inplace, donate, packed.layout if packed is not None else None, shardings)
    fn = _kernel_for(key)
    plan = None
    if packed is not None:
        prepared = _kernels.prepare_payloads(op, packed.layout, kinds, payloads, leaves)
        if plan_key is not None:
            plan = _plan(op, kinds, ((0, len(leaves), key),), segments=prepared[-1])
        out = _run(fn, leaves, _for_kernel(kinds, prepared[:-1], True) + prepared[-1:], range(len(leaves)), op)
    elif len(leaves) <= CHUNK:
        if plan_key is not None:
            plan = _plan(op, kinds, ((0, len(leaves), key),), shardings=shardings)
        kernel_payloads = _for_kernel(kinds, payloads, False)
        out = _run(fn, leaves, kernel_payloads, range(len(leaves)), op, tensors=tensors, operands=operands)
    else:
        # chunks: every array of the call must be alive, and every chunk's errors raised, before the
        # first chunk donates its buffers
        _check_not_deleted(leaves, kinds, payloads, op, tensors, operands)
        if donate:
            _validate_before_donating(op.name, leaves, kinds, payloads)
        out = []
        chunks = []
        for start in range(0, len(leaves), CHUNK):
            stop = min(start + CHUNK, len(leaves))
            # a ScalarList of mixed types has its chunk's entry types, hence a kernel of its own
            chunk_kinds = tuple(k.select(range(start, stop)) for k in kinds)
            chunk_key = key
            if chunk_kinds != tuple(kinds) or shardings is not None:
                chunk_shardings = shardings[start:stop] if shardings is not None else None
                chunk_key = _kernel_key(op.name, chunk_kinds, inplace, donate, None, chunk_shardings)
            chunks.append((start, stop, chunk_key))
        if plan_key is not None and _chunks_checked_by_dtype(op, kinds, shardings):
            plan = _plan(op, kinds, chunks, dtypes=frozenset(map(operator.attrgetter("dtype"), leaves)))
        kernel_payloads = _for_kernel(kinds, payloads, False)
        for start, stop, chunk_key in chunks:
            chunk_payloads = [_chunk(k, p, start, stop) for k, p in zip(kinds, kernel_payloads, strict=True)]
            out.extend(_run(_kernel_for(chunk_key), leaves[start:stop], chunk_payloads, range(start, stop), op))

    if plan is not None and donate == inplace and _plan_fits(plan_key, plan.kinds):
        if len(_PLANS) >= _PLAN_BUDGET:
            _PLANS.clear()
        _PLANS[plan_key] = plan
    if packed is not None:
        return packed._finish(out, op, inplace=inplace)
    if not inplace:
        return jax.tree.unflatten(treedef, out)
    return write_back(tensors, jax.tree.unflatten(treedef, out))


def _run(
    fn: Any,
    leaves: list[Any],
    payloads: list[Any],
    positions: Sequence[int],
    op: Op,
    *,
    tensors: Any = None,
    operands: Sequence[Any] = (),
) -> list[Any]:
    """Call a kernel; its errors name the call's positions, a deleted input a jforeach ``ValueError``.

    JAX checks every argument of one kernel for deletion before it donates any, so a kernel over a
    deleted array raises without losing anything; only the message is ours.
    """
    try:
        return fn(leaves, payloads)
    except (TypeError, ValueError, RuntimeError) as error:
        # a deleted argument: JAX's RuntimeError, or XLA's ValueError for a donated one ("Buffer has
        # been deleted or donated"); nothing ran, and the error names the array
        if "deleted" in str(error) and getattr(error, "_jforeach_tensor", None) is None:
            kinds = [Kind("List") if isinstance(p, list) else Kind("Tensor") for p in payloads]
            _check_not_deleted(leaves, kinds, payloads, op, tensors, operands, positions)
        if isinstance(error, RuntimeError):
            raise
        _shift_tensor_index(error, positions)
        raise


# ----------------------------------------------------------------------------------------------
# The fast path: what the first call of a signature decided, repeated with the checks that can change


@dataclasses.dataclass(frozen=True, eq=False)
class _Plan:
    """What :func:`_call` decided for one call signature (the key :func:`_call_form` computes).

    ``kernels``: ``(start, stop, kernel key)`` per kernel (several for a long list). ``segments``: a
    Packed's segment ids (``_kernels.prepare_payloads``). ``shardings``: the pinned shardings of the
    results (``_pinned_shardings``). ``dtypes``: for a long list, the tensor dtypes its chunk kernels
    were checked for (their errors depend on nothing else, see :func:`_chunks_checked_by_dtype`).
    ``checks``: the number operands whose values torch checks, as ``(index, spec)``; ``arrays``:
    the array operands, which must not alias a donated tensor.
    """

    kinds: tuple[Kind, ...]
    kernels: tuple[tuple[int, int, HashedKey], ...]
    segments: Any = None
    shardings: Any = None
    dtypes: frozenset | None = None
    checks: tuple[tuple[int, Operand], ...] = ()
    arrays: tuple[int, ...] = ()
    converts: bool = False  # some payload is not passed as given (see _for_kernel)
    pinned: bool = False  # the results' shardings are pinned from the tensors' (_pinned_shardings)
    numbers: tuple[int, ...] = ()  # the Scalar operands (numbers, or 0-d arrays: see _device_scalar)


def _plan(op: Op, kinds: Sequence[Kind], kernels: Sequence[tuple[int, int, HashedKey]], **fields: Any) -> _Plan:
    checks = tuple(  # (a default number, compiled in, was checked once and for all)
        (i, spec)
        for i, (spec, kind) in enumerate(zip(op.operands, kinds, strict=True))
        if kind.overload in ("Scalar", "ScalarList")
        and (spec.overflow_check or op.name == "pow")
        and not (kind.overload == "Scalar" and kind.static is not None)
    )
    arrays = tuple(i for i, kind in enumerate(kinds) if kind.overload in ("List", "Tensor"))
    converts = any((k.overload == "Scalar" and k.static is not None) or k.overload == "ScalarList" for k in kinds)
    pinned = fields.get("segments") is None and not op.reads_tensors
    numbers = tuple(i for i, k in enumerate(kinds) if k.overload == "Scalar" and k.static is None)
    kernels = _canonical(kernels)
    return _Plan(
        tuple(kinds), kernels, checks=checks, arrays=arrays, converts=converts, pinned=pinned, numbers=numbers, **fields
    )


# Python numbers of the fast path as device scalars, by value: a jitted function converts and
# transfers a Python number it is passed on every call (3-4 us on the CPU), a device array it takes as
# it is. A value becomes a device scalar the second time it comes (making one costs more than the
# transfer it saves: a number new on every call, such as a running mean's weight, stays a number).
_DEVICE_SCALARS: dict[tuple[type, Any, bool], jax.Array] = {}
_SEEN_ONCE: set[tuple[type, Any, bool]] = set()
_DEVICE_SCALARS_BUDGET = 1024


def _device_scalar(value: Any) -> Any:
    """``value``, a Python float, int or complex seen before, as the uncommitted, weakly typed device
    scalar jit would make of it; anything else as it is (NaN, signed zeros, ints beyond int32)."""
    kind = type(value)
    if kind is float:
        if value != value or value == 0:  # NaN never finds its entry; 0.0 and -0.0 compare equal
            return value
    elif kind is int:
        if not -(2**31) <= value < 2**31:
            return value
    elif kind is not complex or value != value or value.real == 0 or value.imag == 0:
        return value  # (complex: a zero part, whose sign the key would lose)
    key = (kind, value, jax.config.jax_enable_x64)  # type: ignore[attr-defined]
    array = _DEVICE_SCALARS.get(key)
    if array is not None:
        return array
    if key not in _SEEN_ONCE:
        if len(_SEEN_ONCE) >= _DEVICE_SCALARS_BUDGET:
            _SEEN_ONCE.clear()
        _SEEN_ONCE.add(key)
        return value
    if len(_DEVICE_SCALARS) >= _DEVICE_SCALARS_BUDGET:
        _DEVICE_SCALARS.clear()
    # outside any trace and mesh context: a concrete array on the default device, left uncommitted
    # (under jax.set_mesh an array made here would be committed to the whole mesh)
    with jax.ensure_compile_time_eval():
        array = _DEVICE_SCALARS[key] = jax.device_put(value)
    return array


# The plans, by call signature; beyond the budget they are dropped and made again as calls come
_PLAN_BUDGET = 4096
_PLANS: dict[Any, _Plan] = {}
_MISS = object()

# which kinds each operand form of _call_form may have been classified as: another pairing means a
# form too coarse for that call (it then takes the whole path every time)
_FORM_KINDS = {
    "number": ("Scalar",),
    "default": ("Scalar",),
    "array0d": ("Scalar", "Tensor"),
    "numbers": ("ScalarList",),
    "packed": ("List",),
    "arrays": ("List",),
    "static": ("Static",),
}
_FORMS_AT = 3  # the operand forms' place in the key (after the op, alpha_given and the tensors' structure)


def _call_form(op: Op, tensors: Any, operands: Sequence[Any], inplace: bool, alpha_given: bool):
    """``(key, leaves, payloads, packed)`` for a call the fast path can take, or None.

    The key holds everything the classification depends on: the tensors' container (a Packed's
    layout, a list's length, a dict's tree), each operand's form (a Python number's type, a 0-d
    array's dtype and weak type, the entry type of a list of numbers, a Packed's layout), and the
    x64 flag where it decides a host dtype. Shapes and dtypes of listed arrays are not in it: the
    kernel's own jit cache keys them, and its errors are raised while tracing, before anything runs.
    Taken: concrete arrays (a flat list, tuple or dict, one array, or a Packed), and operands that
    are Python numbers, 0-d arrays, lists of Python numbers of one type, a Packed, or arrays in the
    tensors' container. Anything else (numpy arrays, tracers, nested trees, mixed number types)
    takes the whole path every time.
    """
    concrete = _arrays.CONCRETE or _arrays.concrete_types()
    container = type(tensors)
    packed = None
    if container is list or container is tuple:
        if not tensors or not set(map(type, tensors)) <= concrete:
            return None
        leaves = tensors if container is list else list(tensors)
        structure: Any = (container, len(tensors))
    elif container is Packed:
        leaves = list(tensors._buffers)
        if not set(map(type, leaves)) <= concrete:
            return None
        packed = tensors
        # (committed: which segment ids the plan holds, see packed.segment_ids)
        structure = (container, tensors.layout, tensors._masked, leaves[0].committed if leaves else None)
    elif container in concrete:
        leaves, structure = [tensors], container
    elif container is dict:
        if not tensors or not set(map(type, tensors.values())) <= concrete:
            return None
        leaves, structure = jax.tree.flatten(tensors)
    else:
        return None
    key: list[Any] = [op.name, alpha_given, structure]
    payloads = list(operands)
    reduction = op.family == "reduction"
    for i, (value, spec) in enumerate(zip(operands, op.operands, strict=True)):
        kind = type(value)
        if kind is list or kind is tuple:
            if not reduction and (known := _kept_numbers(value, op)) is not None:
                key.append(known.form)  # (the same numbers: see _NUMBER_LISTS)
                payloads[i] = known.host
                _send_numbers(known)
                continue
            types = set(map(type, value))
            if types <= concrete:
                # all 0-d: perhaps a ScalarList or torch's list of 0-d tensors (_zero_dim_tensor_list)
                if not types or reduction or kind is not container or len(value) != len(leaves):
                    return None
                if not value[0].shape and all(map(_is_0d, value)):
                    return None
                key.append("arrays")
                payloads[i] = value if kind is list else list(value)
            elif len(types) == 1 and (entry := next(iter(types))) in (float, int, bool) and not reduction:
                x64 = jax.config.read("jax_enable_x64")
                host = _host_numbers(value, entry, op, x64)
                if host is None:
                    return None
                form = ("numbers", kind, len(value), entry, x64)
                key.append(form)
                payloads[i] = host
                if entry is float:
                    _remember_numbers(value, form, host)
            else:
                return None
        elif kind is float or kind is int or kind is bool or kind is complex:
            if reduction:
                key.append(("static", kind, value))  # ord: part of the kernel
                payloads[i] = None
            elif kind is type(spec.default) and value == spec.default:
                key.append("default")  # alpha=1, value=1: compiled in (_is_default)
            elif kind is int:
                if -(2**31) <= value < 2**31:
                    key.append(kind)
                else:  # beyond JAX's int type it travels as a float: the whole path decides
                    x64 = jax.config.read("jax_enable_x64")
                    if not x64 or not -(2**63) <= value < 2**63:
                        return None
                    key.append((kind, x64))
            elif op.name == "pow" and kind is float and 0 < abs(value) < _kernels.FLOAT32_TINY:
                return None  # (_keep_tiny_exponents changes it)
            else:
                key.append(kind)
        elif kind in concrete:
            if value.shape or op.name == "pow" or reduction:  # (pow: _keep_tiny_exponents reads a 0-d value)
                return None
            key.append(("array0d", value.dtype, value.weak_type))
        elif kind is Packed:
            buffers = list(value._buffers)
            if not set(map(type, buffers)) <= concrete or reduction:
                return None
            key.append(("packed", value.layout))
            payloads[i] = buffers
        elif kind is dict:
            if reduction or not value or not set(map(type, value.values())) <= concrete:
                return None
            arrays, other = jax.tree.flatten(value)
            # (a PyTreeDef compares neither equal nor unequal to anything else: the container first)
            if container is not dict or not other == structure or all(map(_is_0d, arrays)):
                return None
            key.append("arrays")
            payloads[i] = arrays
        elif reduction and (value is None or isinstance(value, type | np.dtype)):
            key.append(("static", kind, value))  # dtype: part of the kernel
            payloads[i] = None
        else:
            return None
    key.append(inplace)
    return tuple(key), leaves, payloads, packed


class _Numbers(NamedTuple):
    """A list of Python floats the fast path saw, and what it made of them."""

    values: list[Any] | tuple[Any, ...]  # a copy: the same float objects
    form: tuple[Any, ...]  # its part of the call's key (its last entry: the x64 flag)
    host: np.ndarray  # the host array (_host_numbers)
    tiny: bool  # a nonzero number below float32's smallest normal (pow takes the whole path for it)


# Lists of Python floats by identity, so that a ScalarList passed again (a list of learning rates, of
# weight decays) is not converted and sent again, where converting and sending 1,000 numbers costs
# about 40 us. ``[*map(type, value)] == [float] * len(value)`` checks that every entry is exactly a float (it
# takes about 0.6 of the time the set of types that classifies any other list takes) and
# ``value == known.values`` compares the numbers (about 1 us for 1,000: mostly the very objects
# kept). Equality of floats is a safe test only where no other float equals one with another
# meaning: so only finite, non-integral lists are kept (0.0 equals -0.0; NaN never equals itself).
# A kept list that comes again gets a device array (_NUMBERS_ON_DEVICE, by the host array's identity).
_NUMBER_LISTS: dict[int, _Numbers] = {}
_NUMBERS_ON_DEVICE: dict[int, jax.Array] = {}
_NUMBER_LISTS_BUDGET = 1 << 20  # numbers held in all, and lists at most: beyond, all are dropped
_NUMBER_LISTS_MAX = 256
_numbers_held = 0


def _kept_numbers(value: list[Any] | tuple[Any, ...], op: Op) -> _Numbers | None:
    """The kept entry of ``value`` (a list of Python floats) if its numbers are the same, under the
    same x64 flag; not for pow where a number is tiny (:func:`_host_numbers` looks at those)."""
    known = _NUMBER_LISTS.get(id(value))
    if known is None or known.form[-1] != jax.config.read("jax_enable_x64"):
        return None
    # the types first: the entries of a list at a freed kept list's address may be anything
    if [*map(type, value)] != [float] * len(value) or value != known.values:
        return None
    if known.tiny and op.name == "pow":
        return None
    return known


def _remember_numbers(value: list[Any] | tuple[Any, ...], form: tuple[Any, ...], host: np.ndarray) -> None:
    """Keep ``value`` (a list of Python floats, converted to ``host``) by identity, if equality is a
    safe test of it (finite, non-integral floats; see ``_NUMBER_LISTS``). A kept list that comes again
    also gets its device array (:func:`_send_numbers`), which the kernel then takes as it is."""
    global _numbers_held
    known = _NUMBER_LISTS.pop(id(value), None)  # (a kept list that is the same was taken by _kept_numbers)
    if known is not None:  # another list at a reused address, or this one changed: its entry goes
        _NUMBERS_ON_DEVICE.pop(id(known.host), None)
        _numbers_held -= len(known.host)
    with np.errstate(invalid="ignore"):
        if not (np.isfinite(host).all() and (host != np.rint(host)).all()):
            return
    if _numbers_held + len(host) > _NUMBER_LISTS_BUDGET or len(_NUMBER_LISTS) >= _NUMBER_LISTS_MAX:
        _NUMBER_LISTS.clear()
        _NUMBERS_ON_DEVICE.clear()
        _numbers_held = 0
    tiny = bool(np.any(np.abs(host) < _kernels.FLOAT32_TINY))  # (no zeros: they are integral)
    values = list(value) if type(value) is list else value
    _NUMBER_LISTS[id(value)] = _Numbers(values, form, host, tiny)
    _numbers_held += len(host)


def _numbers_on_device(host: np.ndarray) -> Any:
    """A kept list's host array as its device array, where it has one; else ``host`` itself."""
    return _NUMBERS_ON_DEVICE.get(id(host), host)


def _send_numbers(known: _Numbers) -> None:
    """Give a kept list that came again its device array (uncommitted, on the default device, made
    outside any trace or mesh context). Not with several processes: each passes its numbers, and a
    local device array is not a global one."""
    if id(known.host) in _NUMBERS_ON_DEVICE or jax.process_count() > 1:
        return
    with jax.ensure_compile_time_eval():
        _NUMBERS_ON_DEVICE[id(known.host)] = jax.device_put(known.host)


def _form_name(form: Any) -> str:
    if isinstance(form, tuple):
        return form[0] if isinstance(form[0], str) else "number"  # ((int, x64): a wide int)
    return form if isinstance(form, str) else "number"  # (a Python number's type)


def _is_0d(array: jax.Array) -> bool:
    return not array.shape


def _host_numbers(values: Sequence[Any], entry: type, op: Op, x64: bool) -> np.ndarray | None:
    """A list of Python numbers of one type as the one host array ``_scalar_list`` makes of it; None
    where that takes more than one look (an int beyond JAX's int type, pow's tiny float exponents)."""
    dtype = {bool: np.bool_, int: np.int64 if x64 else np.int32, float: np.float64 if x64 else np.float32}[entry]
    try:
        host = np.asarray(values, dtype=dtype)
    except OverflowError:
        return None
    if entry is float and op.name == "pow" and np.any((host != 0) & (np.abs(host) < _kernels.FLOAT32_TINY)):
        return None
    return host


def _plan_fits(key: Any, kinds: Sequence[Kind]) -> bool:
    """Whether every operand form of ``key`` was classified as that form always is."""
    for form, kind in zip(key[_FORMS_AT:-1], kinds, strict=True):
        name = _form_name(form)
        if kind.overload not in _FORM_KINDS[name] or kind.zero_dim or isinstance(kind.number_dtype, tuple):
            return False
        if kind.overload == "Scalar" and (kind.static is not None) != (name == "default"):
            return False
    return True


def _chunks_checked_by_dtype(op: Op, kinds: Sequence[Kind], shardings: Any) -> bool:
    """Whether the errors of a long list's chunk kernels depend on the tensors' dtypes alone.

    So they do with number operands only (a number promotes alike with a tensor of any rank); array
    operands add their shapes, reductions the tensors' sizes, pinned shardings each tensor's.
    """
    if op.family == "reduction" or shardings is not None or not op.reads_tensors:
        return False
    return all(k.overload in ("Scalar", "ScalarList") for k in kinds)


def _numbers_fit(op: Op, plan: _Plan, operands: Sequence[Any], payloads: Sequence[Any], leaves: Any, packed: Any):
    """Whether the numbers' values pass torch's checks (:func:`_check_scalar_values`).

    A cheap look first (:func:`_may_overflow`, on the Python numbers themselves for a short list);
    only a value that could fail it is checked exactly, against the tensors' dtypes.
    """
    for i, spec in plan.checks:
        kind, payload = plan.kinds[i], payloads[i]
        scalar = kind.overload == "Scalar"
        host = _host_number(payload) if scalar else payload  # (None for a 0-d array: its value is on the device)
        if host is None:
            continue
        if op.name == "pow" and _dtypes.category(kind.number_dtype) == 1 and (host < 0 if scalar else host.min() < 0):
            break  # an integral tensor to a negative integer power?
        if spec.overflow_check:
            integral_target = spec.overflow_check == "opmath" and "int" in op.accepts
            if scalar:
                if _may_overflow(host, integral_target):
                    break
            elif len(host) <= 16 and kind.number_dtype.kind == "f":
                if not _floats_fit(operands[i], integral_target):
                    break
            elif _may_overflow_any(host, integral_target):
                break
    else:
        return True
    try:
        _check_scalar_values(op, leaves, packed, plan.kinds, payloads)
    except (TypeError, ValueError):
        return False
    return True


def _floats_fit(values: Sequence[float], integral_target: bool) -> bool:
    """:func:`_may_overflow_any` is False, for a few Python floats (numpy's calls cost more)."""
    if integral_target:
        return 0 <= min(values) and max(values) <= 127  # (NaN: a comparison is False, the exact check decides)
    return max(map(abs, values)) <= _FLOAT16_MAX


def _fast_call(op: Op, tensors: Any, operands: Sequence[Any], inplace: bool, alpha_given: bool):
    """``(result, key)``: the call run by its signature's plan, or ``_MISS`` where it has none yet
    or something it checks changed (then :func:`_call` runs, decides again and raises any error).

    Checked on every call, before anything is donated: torch's rules on the numbers' values, an
    array passed twice or as an operand of its own in-place call, the pinned shardings; for a long
    list, the tensors' dtypes and deleted arrays. A new shape or dtype traces the kernel, whose
    errors are raised before it runs; a deleted array, JAX finds before it donates any argument.
    """
    form = _call_form(op, tensors, operands, inplace, alpha_given)
    if form is None:
        return _MISS, None
    key, leaves, payloads, packed = form
    plan = _PLANS.get(key)
    if plan is None:
        return _MISS, key
    kinds = plan.kinds
    if plan.checks and not _numbers_fit(op, plan, operands, payloads, leaves, packed):
        return _MISS, key
    if inplace:
        donated = set(map(id, leaves))
        if len(donated) != len(leaves):
            return _MISS, key
        for i in plan.arrays:
            payload = payloads[i]
            if not donated.isdisjoint(map(id, payload)) if type(payload) is list else id(payload) in donated:
                return _MISS, key
        for i in plan.numbers:  # a 0-d array taken as a number may be one of the donated tensors
            if id(payloads[i]) in donated:
                return _MISS, key
        if plan.pinned and _pinned_shardings(op, leaves) != plan.shardings:
            return _MISS, key
    if plan.converts:
        payloads = _for_kernel(kinds, payloads, packed is not None)
    for i in plan.numbers:
        payloads[i] = _device_scalar(payloads[i])
    if packed is not None:
        try:
            out = _kernel_for(plan.kernels[0][2])(leaves, [*payloads, plan.segments])
        except (TypeError, ValueError, RuntimeError):  # a new layout's trace, a deleted buffer: nothing ran
            return _MISS, key
        return packed._finish(out, op, inplace=inplace), key
    if len(plan.kernels) == 1:
        try:
            out = _kernel_for(plan.kernels[0][2])(leaves, payloads)
        except (TypeError, ValueError, RuntimeError):
            return _MISS, key
    else:
        if plan.dtypes is None or not set(map(operator.attrgetter("dtype"), leaves)) <= plan.dtypes:
            return _MISS, key
        if any(map(_is_deleted_array, leaves)):
            return _MISS, key
        out = []
        for start, stop, kernel_key in plan.kernels:
            chunk_payloads = [_chunk(k, p, start, stop) for k, p in zip(kinds, payloads, strict=True)]
            try:
                out.extend(_kernel_for(kernel_key)(leaves[start:stop], chunk_payloads))
            except (TypeError, ValueError, RuntimeError):
                if start and inplace:
                    raise  # (not expected: every array was alive and every dtype checked)
                return _MISS, key
    return _finish_list(tensors, out, inplace, key[_FORMS_AT - 1]), key


_SCALARS_AS_ARRAY = 64


def _for_kernel(kinds: Sequence[Kind], payloads: Sequence[Any], packed: bool) -> list[Any]:
    """The payloads as the kernel takes them: a default number is part of the kernel (``Kind.static``),
    not an argument; a ScalarList of a short list is one array (a long list's: one argument per
    number, as one slice per tensor would compile many times slower)."""
    out = list(payloads)
    for i, kind in enumerate(kinds):
        if kind.overload == "Scalar" and kind.static is not None:
            out[i] = None
        elif kind.overload == "ScalarList" and isinstance(out[i], np.ndarray):
            if not packed and len(out[i]) > _SCALARS_AS_ARRAY:
                out[i] = list(out[i])
            else:
                out[i] = _numbers_on_device(out[i])
    return out


def _is_deleted_array(array: jax.Array) -> bool:
    return array.is_deleted()


def _finish_list(tensors: Any, out: list[Any], inplace: bool, structure: Any) -> Any:
    """The result in the tensors' container (a flat list, tuple or dict, or one array); ``structure``:
    a dict's tree definition."""
    container = type(tensors)
    if container is list:
        if inplace:
            tensors[:] = out
            return tensors
        return out
    if container is tuple:
        return tuple(out)
    if container is dict:
        new = jax.tree.unflatten(structure, out)
        if inplace:
            tensors.update(new)  # (the keys are the same: the order the caller gave them stays)
            return tensors
        return new
    return out[0]


def _keep_tiny_exponents(kind: Kind, payload: Any) -> Any:
    """A nonzero float exponent below float32's smallest normal would round (or flush) to zero, and
    ``0 ** -1e-300`` would be 1 where torch gives inf: the smallest normal of its sign gives torch's
    powers (1 for positive bases, inf or 0 at zero, nan for negative ones) in every dtype."""

    def keep(v: Any) -> Any:
        if isinstance(v, float | np.floating) and 0 < abs(float(v)) < _kernels.FLOAT32_TINY:
            return type(v)(math.copysign(_kernels.FLOAT32_TINY, float(v)))
        if isinstance(v, jax.Array | np.ndarray) and not isinstance(v, jax.core.Tracer) and v.ndim == 0:
            if jnp.issubdtype(v.dtype, jnp.floating) and 0 < abs(float(v)) < _kernels.FLOAT32_TINY:
                kept = math.copysign(_kernels.FLOAT32_TINY, float(v))
                return jnp.asarray(kept) if _weak(v) else jnp.asarray(kept, v.dtype)
        return v

    if kind.overload == "Scalar":
        return keep(payload)
    if kind.overload == "ScalarList" and isinstance(payload, np.ndarray):  # one host array: kept one
        if payload.dtype.kind != "f":
            return payload
        tiny = (payload != 0) & (np.abs(payload) < _kernels.FLOAT32_TINY)
        return np.where(tiny, np.copysign(_kernels.FLOAT32_TINY, payload), payload).astype(payload.dtype)
    if kind.overload == "ScalarList":
        return [keep(v) for v in payload]
    return payload


def _holds_tracer(payload: Any) -> bool:
    if isinstance(payload, list):
        return _arrays.is_tracer(payload)
    return isinstance(payload, jax.core.Tracer)


def _is_deleted(x: Any) -> bool:
    return isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer) and x.is_deleted()


def _check_not_deleted(
    leaves: Sequence[Any],
    kinds: Sequence[Kind],
    payloads: Sequence[Any],
    op: Op,
    tensors: Any,
    operands: Sequence[Any],
    positions: Sequence[int] | None = None,
) -> None:
    """Raise a ``ValueError`` naming the first array of the call that was already deleted."""
    concrete = _arrays.concrete_types()
    for i, leaf in enumerate(leaves):
        if type(leaf) in concrete and leaf.is_deleted():
            where = positions[i] if positions is not None else i
            name = _position(tensors, where) if tensors is not None else f"tensor {where}"
            raise ValueError(f"{name} was deleted (donated to an earlier call)")
    for spec, kind, payload, value in itertools.zip_longest(op.operands, kinds, payloads, operands):
        if spec is None or kind is None:
            continue
        arrays = payload if kind.overload == "List" and isinstance(payload, list) else [payload]
        for i, array in enumerate(arrays):
            if _is_deleted(array):
                where = positions[i] if positions is not None and kind.overload == "List" else i
                path = _arrays.leaf_name(value, where) if kind.overload == "List" and value is not None else ""
                raise ValueError(f"{spec.name}{path} was deleted (donated to an earlier call)")


def _may_be_scalar_list(value: Any) -> bool:
    if isinstance(value, np.ndarray | jax.Array):
        return value.ndim == 1
    if not isinstance(value, Sequence) or isinstance(value, str):
        return False
    return _all_numbers_or_0d(value)


def _check_tensor_operands_do_not_grow(
    leaves: Sequence[jax.Array], kinds: Sequence[Kind], payloads: Sequence[Any], op: Op
) -> None:
    """A Tensor operand with dimensions (torch takes only 0-d ones) must broadcast to every tensor.

    Broadcasting a tensor to a bigger shape would change its shape (torch raises for any such
    operand); a 1-D array meant as one number per tensor is the usual cause, hence the message.
    """
    for kind, payload, spec in zip(kinds, payloads, op.operands, strict=True):
        if kind.overload != "Tensor" or not payload.ndim:
            continue
        for i, leaf in enumerate(leaves):
            if _broadcast_shape(leaf.shape, payload.shape) != leaf.shape:
                raise ValueError(
                    f"{spec.name} (shape {payload.shape}) does not broadcast to the shape "
                    f"{leaf.shape} of tensor {i}; an array operand must broadcast to every tensor's shape "
                    "(for one number per tensor, pass a list)"
                )


def _broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


def _pinned_shardings(op: Op, leaves: Sequence[jax.Array]) -> tuple[Any, ...] | None:
    """The multi-device tensors' shardings, for ops whose result does not derive from the tensor.

    Their result's sharding would otherwise be XLA's choice (replicated for zero_'s constant), and an
    in-place result in another sharding cannot reuse the donated buffer. None where every tensor
    is on one device, or the op reads its tensors (their sharding then carries over).
    """
    if op.reads_tensors:
        return None
    # single-device tensors are left free: an uncommitted one may share a program with sharded ones
    shardings = tuple(s if len(s.device_set) > 1 else None for s in (leaf.sharding for leaf in leaves))
    return None if all(s is None for s in shardings) else shardings


def _reject_nested_packed(tensors: Any) -> None:
    """A Packed inside a container flattens to its buffers: per-tensor semantics would be lost.

    Elementwise ops are right on the buffers, but a reduction or a number per tensor is not
    (checked for reductions and whenever an operand may be a ScalarList; flat lists and dicts, one
    node above the leaves, cannot hold one and are not walked).
    """
    nodes = jax.tree.leaves(tensors, is_leaf=lambda x: isinstance(x, Packed))
    if any(isinstance(node, Packed) for node in nodes):
        raise TypeError(
            "tensors holds a Packed inside a container; reductions and per-tensor "
            "numbers work on a Packed passed by itself (or unpack it first)"
        )


# Long lists run as kernels of CHUNK arrays: XLA's compile time grows faster than linearly with the
# number of arrays in one program (10,000 arrays: 11 s in one program, 6 s in chunks of 1,000, and one
# compile when the chunks have the same shapes), and the chunked calls run no slower.
CHUNK = 1024


def _chunk(kind: Kind, payload: Any, start: int, stop: int) -> Any:
    return payload[start:stop] if kind.overload in ("List", "ScalarList") else payload


def _dtype_and_0d(arrays: Sequence[jax.Array]) -> Any:
    dtypes = map(operator.attrgetter("dtype"), arrays)
    return zip(dtypes, map(operator.not_, map(operator.attrgetter("ndim"), arrays)), strict=True)


def _validate_before_donating(
    op_name: str, leaves: list[jax.Array], kinds: Sequence[Kind], payloads: Sequence[Any]
) -> None:
    """Raise any error a later chunk would raise, before the first chunk donates its buffers.

    The kernel's errors depend on the dtypes and 0-d-ness of each tensor and its operands, and (in
    place) on whether an operand broadcasts the tensor to a bigger shape; one representative tensor of
    every distinct combination is traced, abstractly.
    """
    lists = [p for k, p in zip(kinds, payloads, strict=True) if k.overload == "List"]
    # a ScalarList of mixed types: each entry promotes as its own type
    entry_dtypes = [k.number_dtype for k in kinds if isinstance(k.number_dtype, tuple)]
    keys = zip(_dtype_and_0d(leaves), *(_dtype_and_0d(p) for p in lists), *entry_dtypes, strict=True)
    representatives: dict[Any, int] = {}
    for i, key in enumerate(keys):
        representatives.setdefault(key, i)
    for p in [*lists, *(p for k, p in zip(kinds, payloads, strict=True) if k.overload == "Tensor")]:
        others = p if isinstance(p, list) else [p] * len(leaves)
        for i, (x, o) in enumerate(zip(leaves, others, strict=True)):
            if x.shape != o.shape and _broadcast_shape(x.shape, o.shape) != x.shape:  # grows, or cannot broadcast
                representatives.setdefault(("grows", i), i)
    picks = sorted(set(representatives.values()))
    sample = [leaves[i] for i in picks]
    sample_payloads = [
        [p[i] for i in picks] if k.overload in ("List", "ScalarList") else p
        for k, p in zip(kinds, payloads, strict=True)
    ]
    sample_kinds = tuple(k.select(picks) for k in kinds)
    try:
        jax.eval_shape(_kernel(op_name, sample_kinds, True, False, None), sample, sample_payloads)
    except (TypeError, ValueError) as error:
        _shift_tensor_index(error, picks)
        raise


def _check_pow_exponents(tensor_dtypes: Sequence[Any], kinds: list[Kind], payloads: list[Any]) -> None:
    """torch rejects an integral tensor to a negative integer exponent (its own entry, for a ScalarList)."""
    for kind, payload in zip(kinds, payloads, strict=True):
        if kind.overload not in ("Scalar", "ScalarList") or kind.zero_dim or not _is_integral(kind.number_dtype):
            continue  # (0-d tensor exponents, a TensorList, are not checked by torch)
        n = len(tensor_dtypes)
        values = payload if kind.overload == "ScalarList" else [payload] * n
        if _arrays.is_tracer(values):
            continue
        entry_dtypes = kind.number_dtype if isinstance(kind.number_dtype, tuple) else [kind.number_dtype] * n
        for i, (tensor_dtype, value, dtype) in enumerate(zip(tensor_dtypes, values, entry_dtypes, strict=True)):
            integral = _dtypes.category(tensor_dtype) <= 1 and _dtypes.category(dtype) == 1
            if integral and np.asarray(value).item() < 0:
                raise ValueError(
                    f"integers to negative integer powers are not allowed (tensor {i}: "
                    f"{np.dtype(tensor_dtype).name} to the power {np.asarray(value).item()})"
                )
    suspects = _suspect_operands(OPS["pow"], kinds, payloads)
    if suspects:
        ranked = [(d, Rank.DIMENSIONED) for d in tensor_dtypes]  # a number promotes alike with 0-d tensors
        args_of = functools.partial(_number_args, kinds, payloads)
        _check_numbers_fit(OPS["pow"], kinds, suspects, lambda: ranked, args_of)


def _check_scalar_values(
    op: Op, leaves: Sequence[Any], packed: Any, kinds: Sequence[Kind], payloads: Sequence[Any]
) -> None:
    """torch's checks on the values of number operands, run by ``call`` for every op before any donation.

    The kernel sees the numbers traced; their values are checked here: pow's negative integer
    exponents, and every number torch converts with c10's overflow check (``Operand.overflow_check``).
    """
    if op.name == "pow":
        tensor_dtypes = packed.layout.dtypes if packed is not None else [leaf.dtype for leaf in leaves]
        _check_pow_exponents(tensor_dtypes, list(kinds), list(payloads))
        return
    suspects = _suspect_operands(op, kinds, payloads)
    if not suspects:
        return

    @functools.cache
    def ranked() -> list[tuple[Any, Rank]]:
        if packed is not None:
            layout = packed.layout
            return [(d, _dtypes.rank_of(len(shape))) for d, shape in zip(layout.dtypes, layout.shapes, strict=True)]
        return [(leaf.dtype, _dtypes.rank_of(leaf.ndim)) for leaf in leaves]

    def args_of(i: int) -> list[Arg]:
        if packed is None:
            return _kernels.list_args(op, kinds, payloads, i)
        out = _number_args(kinds, payloads, i)
        for j, (kind, payload) in enumerate(zip(kinds, payloads, strict=True)):
            if kind.overload == "List":  # a Packed of the same layout: tensor i's dtype and rank
                out[j] = Arg(None, *ranked()[i], True)
            elif kind.overload == "Tensor":
                out[j] = Arg(payload, np.dtype(payload.dtype), _dtypes.rank_of(payload.ndim), True)
        return out

    _check_numbers_fit(op, kinds, suspects, ranked, args_of)


def _number_args(kinds: Sequence[Kind], payloads: Sequence[Any], i: int) -> list[Any]:
    """Tensor i's number operands as ``Arg``s (None for the others), for the checks on their values."""
    out: list[Any] = []
    for kind, payload in zip(kinds, payloads, strict=True):
        if kind.overload == "Scalar":
            out.append(Arg(payload, kind.number_dtype, Rank.NUMBER, True))
        elif kind.overload == "ScalarList":
            dtype = kind.number_dtype[i] if isinstance(kind.number_dtype, tuple) else kind.number_dtype
            out.append(Arg(payload[i], dtype, kind.rank, True))
        else:
            out.append(None)
    return out


def _suspect_operands(op: Op, kinds: Sequence[Kind], payloads: Sequence[Any]) -> list[int]:
    """The number operands whose values could fail a check of :func:`_check_numbers_fit`: values are
    looked at first, tensors only for a value that could fail (the common alpha=-lr scans nothing)."""
    suspects = []
    for k, (spec, kind, payload) in enumerate(zip(op.operands, kinds, payloads, strict=True)):
        if kind.overload not in ("Scalar", "ScalarList") or kind.zero_dim:
            continue
        integral_target = spec.overflow_check == "opmath" and "int" in op.accepts  # addcmul's value on int tensors
        if kind.overload == "Scalar":
            v = _host_number(payload)
            wide = isinstance(v, float) and kind.number_dtype.kind in "iu"  # an int beyond JAX's int type
            if wide or (spec.overflow_check and _may_overflow(v, integral_target)):
                suspects.append(k)
        elif len(payload) and not _arrays.is_tracer(payload):
            # a ScalarList, on the host: one vectorized look (10,000 entries in well under a millisecond)
            values = np.asarray(payload)
            dtypes = kind.number_dtype if isinstance(kind.number_dtype, tuple) else (kind.number_dtype,)
            wide = values.dtype.kind == "f" and any(d.kind in "iu" for d in dtypes)
            if wide or (spec.overflow_check and _may_overflow_any(values, integral_target)):
                suspects.append(k)
    return suspects


def _check_numbers_fit(op: Op, kinds: Sequence[Kind], suspects: list[int], ranked: Any, args_of: Any):
    """torch converts some numbers to a dtype with c10's overflow check and raises "value cannot be
    converted to type X without overflow": clamp_min's bound to the result dtype, addcmul's value to
    its opmath, ... (``Operand.overflow_check``); an int beyond JAX's int type (a float in the kernel)
    cannot serve an integral result.

    ``suspects``: the operands to check (:func:`_suspect_operands`); ``ranked()`` gives each tensor's
    (dtype, rank), ``args_of(i)`` its operands as ``Arg``s. Traced numbers and jax arrays (their values
    are on the device) are not checked.
    """
    for i, (x_dtype, x_rank) in enumerate(ranked()):
        args = [dataclasses.replace(a, promotes=s.promotes) for a, s in zip(args_of(i), op.operands, strict=True)]
        out = _kernels.result_dtype(op, np.dtype(x_dtype), x_rank, args)
        for k in suspects:
            spec, value = op.operands[k], _host_number(args[k].value)
            if value is None:
                continue
            if isinstance(value, float) and _dtypes.category(args[k].dtype) == 1 and _dtypes.category(out) <= 1:
                info = np.iinfo(_dtypes.canonical(np.dtype(np.int64)))
                raise ValueError(
                    f"{spec.name}={int(value)} {_kernels.does_not_fit(info)} (tensor {i}, "
                    f"{np.dtype(x_dtype).name}: the result is {out.name})"
                )
            target = _overflow_target(spec.overflow_check, out) if spec.overflow_check else None
            converted = value
            if spec.overflow_check == "-result" and isinstance(value, int | float) and value != _TORCH_INT_MIN:
                converted = -value  # torch negates the Scalar, in int64 for an int (-(2**63) stays itself)
            if target is not None and _overflows(converted, target):
                raise ValueError(
                    f"{spec.name}={value!r} cannot be converted to {target.name} without "
                    f"overflow (tensor {i}, {np.dtype(x_dtype).name}: torch raises too)"
                )


def _host_number(value: Any) -> Any:
    """A number operand's value on the host: a Python number, or None where it is not known here."""
    if isinstance(value, np.ndarray | np.generic) and np.ndim(value) == 0:
        return value.item()
    if isinstance(value, bool | int | float | complex):
        return value
    return None  # a jax array or a tracer


def _may_overflow(value: Any, integral_target: bool) -> bool:
    """Whether ``value`` could fail c10's check for some dtype (int8 and float16 are the narrowest)."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, complex):
        return True  # (rare: checked exactly; to a real dtype a nonzero imaginary part overflows)
    if isinstance(value, int):
        return not -127 <= value <= 127  # (-128 negated, as sub's alpha is, overflows int8)
    if integral_target:
        return not 0 <= value <= 127  # NaN too; uint8 rejects negative floats
    return _FLOAT16_MAX < abs(value) < float("inf")


_FLOAT16_MAX = 65504.0


def _may_overflow_any(values: np.ndarray, integral_target: bool) -> bool:
    """:func:`_may_overflow` for an array of host numbers (a ScalarList)."""
    if values.dtype.kind in "iu":
        return bool(np.any((values < -127) | (values > 127)))  # (-128 negated, as sub's alpha is, overflows)
    if values.dtype.kind == "c":
        return True  # (rare: checked exactly, as a complex number is)
    if values.dtype.kind != "f":
        return False  # bool numbers are not checked
    if integral_target:
        return not bool(np.all((values >= 0) & (values <= 127)))  # NaN too; uint8 rejects negative floats
    return bool(np.any(np.isfinite(values) & (np.abs(values) > _FLOAT16_MAX)))


def _overflow_target(rule: str, out: np.dtype) -> np.dtype | None:
    """The dtype torch converts the number to (see ``Operand.overflow_check``); None: no check."""
    target = _dtypes.opmath(out) if rule == "opmath" else np.dtype(out)  # "result", "-result", "pow"
    if rule == "pow" and target in (np.float32, np.float64):
        return None  # pow's kernel takes float32/float64 exponents as doubles
    return None if _dtypes.category(target) in (0, 3) else target


def _overflows(value: Any, dtype: np.dtype) -> bool:
    """c10's ``overflows<dtype>(value)``, from an int64 (or uint64), a double or a complex number: a
    complex number overflows a real dtype when its imaginary part is not 0 (or its real part does)."""
    if isinstance(value, complex):
        if not jnp.issubdtype(dtype, jnp.complexfloating):
            return value.imag != 0 or _overflows(value.real, dtype)
        return _overflows(value.real, dtype) or _overflows(value.imag, dtype)  # (finfo: the part's)
    if _dtypes.category(dtype) == 1:
        info = np.iinfo(dtype)
        if isinstance(value, int):
            if info.min == 0 and value < 0:  # to an unsigned type, -v wraps (two's complement) up to -max
                return -value > info.max
            return not info.min <= value <= info.max
        return not float(info.min) <= value <= float(info.max)  # NaN and infinities too
    if isinstance(value, float) and not np.isfinite(value):
        return False  # a floating type holds inf and NaN
    finfo = jnp.finfo(dtype)
    return not float(finfo.min) <= value <= float(finfo.max)


def _is_integral(number_dtype: Any) -> bool:
    dtypes = number_dtype if isinstance(number_dtype, tuple) else (number_dtype,)
    return any(_dtypes.category(d) == 1 for d in dtypes)


def _check_aliasing(leaves: list[jax.Array], payloads: list[Any], op: Op) -> list[Any]:
    """Reject an array donated twice; copy operands that alias a donated array."""
    donated = set(map(id, leaves))
    repeat = _arrays.first_repeat(leaves) if len(donated) != len(leaves) else None
    if repeat is not None:
        j, i = repeat
        instead = f", or use the out-of-place `jforeach.{op.name}`" if op.outplace else ""
        raise ValueError(
            f"the same array is tensors[{j}] and tensors[{i}]; an in-place op "
            f"cannot write one buffer twice (pass distinct arrays{instead})"
        )
    out = []
    for payload in payloads:
        if isinstance(payload, list) and not donated.isdisjoint(map(id, payload)):
            payload = [jnp.copy(p) if id(p) in donated else p for p in payload]
        elif isinstance(payload, jax.Array) and id(payload) in donated:
            payload = jnp.copy(payload)
        out.append(payload)
    return out


def write_back(original: Any, new: Any) -> Any:
    """Put ``new``'s leaves into ``original``'s mutable containers; return the updated tree.

    Lists and dicts, at every level, are updated in place so that every reference the caller holds
    sees the results; numpy arrays are written into; tuples, NamedTuples and other nodes are rebuilt
    (around their updated mutable children). A bare JAX array cannot be updated: the new one is returned.
    """
    if isinstance(original, list):
        if set(map(type, original)) <= _arrays.concrete_types():
            original[:] = new  # the common flat list of arrays: no per-leaf recursion
        else:
            for i, (o, n) in enumerate(zip(original, new, strict=True)):
                original[i] = write_back(o, n)
        return original
    if isinstance(original, dict):
        for key in original:
            original[key] = write_back(original[key], new[key])
        return original
    if isinstance(original, np.ndarray):
        np.copyto(original, np.asarray(new))  # numpy arrays are mutable: updated in place, as torch tensors
        return original
    if isinstance(original, Packed) and isinstance(new, Packed):
        original._buffers = new.buffers  # the caller's Packed must not keep the donated buffers
        return original
    if isinstance(original, tuple) and type(new) is type(original):
        children = [write_back(o, n) for o, n in zip(original, new, strict=True)]
        return type(original)(*children) if hasattr(original, "_fields") else type(original)(children)
    return new
