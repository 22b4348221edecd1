"""Packed multi-tensor buffers: every tensor of a tree lives in one flat buffer per dtype.

This is JAX's form of CUDA's ``multi_tensor_apply`` and of FSDP's flat parameters. A jforeach op on a
:class:`Packed` runs once per buffer, so its cost is that of one flat kernel and its compile time does
not grow with the number of tensors. ``Packed`` is a pytree whose children are the buffers, so
``jax.jit``, ``jax.grad``, ``jax.tree.map``, optax and checkpointing use it unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import weakref
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _engine, _table
from ._cache import WeightedLRU
from ._dtypes import Rank

__all__ = ["Layout", "Packed", "pack", "unpack"]


@dataclasses.dataclass(frozen=True)
class Group:
    """One flat buffer: which tensors it holds and where."""

    dtype: np.dtype
    members: tuple[int, ...]  # tensor indices, in leaf order
    offsets: tuple[int, ...]  # start of each member in the buffer
    sizes: tuple[int, ...]
    length: int  # buffer length, padding included

    @property
    def used(self) -> int:
        return self.offsets[-1] + self.sizes[-1] if self.members else 0


@dataclasses.dataclass(frozen=True, eq=False)
class Layout:
    """Static description of a Packed: the tree structure, each tensor's shape and dtype, the buffers.

    Layouts compare by value and cache their hash, so JAX's jit cache lookups stay O(1); equal layouts
    are one object (interned), so comparing two Packed operands is an identity check.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> layout = jforeach.pack({"w": jnp.ones((2, 3)), "step": jnp.array(1)}).layout
      >>> layout
      Layout(2 tensors in int32[1], float32[6])
      >>> layout.shapes, [g.offsets for g in layout.groups]
      (((), (2, 3)), [(0,), (0,)])
    """

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[np.dtype, ...]
    groups: tuple[Group, ...]
    sharding: Any = None

    @functools.cached_property
    def _key(self) -> tuple:
        return (self.treedef, self.shapes, self.dtypes, self.groups, self.sharding)

    @functools.cached_property
    def _hash(self) -> int:
        return hash(self._key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return isinstance(other, Layout) and self._hash == other._hash and self._key == other._key

    @property
    def num_tensors(self) -> int:
        return len(self.shapes)

    def _interned(self) -> Layout:
        """The one Layout object equal to this one, so later comparisons are identity checks."""
        return _LAYOUTS.setdefault(self._key, self)

    def __repr__(self) -> str:
        bufs = ", ".join(f"{g.dtype.name}[{g.length}]" for g in self.groups)
        return f"Layout({self.num_tensors} tensors in {bufs})"

    # -- checks ---------------------------------------------------------------------------------

    def _check_same(self, other: Layout, fname: str, name: str) -> None:
        if self == other:
            return
        if self.treedef != other.treedef:
            why = f"structures {self.treedef} and {other.treedef}"
        elif self.shapes != other.shapes:
            i = next(i for i, (a, b) in enumerate(zip(self.shapes, other.shapes, strict=True)) if a != b)
            why = f"shapes of tensor {i}: {self.shapes[i]} and {other.shapes[i]}"
        elif self.dtypes != other.dtypes:
            i = next(i for i, (a, b) in enumerate(zip(self.dtypes, other.dtypes, strict=True)) if a != b)
            why = f"dtypes of tensor {i}: {self.dtypes[i].name} and {other.dtypes[i].name}"
        else:
            why = f"buffer layouts {self} and {other} (shardings {self.sharding} and {other.sharding})"
        raise ValueError(f"`jforeach.{fname}`: tensors and {name} are Packed with different layouts: {why}")

    # -- derived layouts --------------------------------------------------------------------------

    def _with_group_dtypes(self, dtypes: Sequence[np.dtype]) -> Layout:
        if tuple(g.dtype for g in self.groups) == tuple(dtypes):
            return self
        per_tensor = list(self.dtypes)
        groups = []
        for g, dtype in zip(self.groups, dtypes, strict=True):
            for m in g.members:
                per_tensor[m] = np.dtype(dtype)
            groups.append(dataclasses.replace(g, dtype=np.dtype(dtype)))
        return dataclasses.replace(self, dtypes=tuple(per_tensor), groups=tuple(groups))._interned()

    def _scalar_layout(self, dtypes: Sequence[np.dtype]) -> Layout:
        """The layout of a reduction's result: one 0-d tensor per tensor, grouped as here."""
        groups = tuple(
            Group(np.dtype(dtype), g.members, tuple(range(len(g.members))), (1,) * len(g.members), len(g.members))
            for g, dtype in zip(self.groups, dtypes, strict=True)
        )
        per_tensor = [np.dtype(np.float32)] * self.num_tensors
        for g in groups:
            for m in g.members:
                per_tensor[m] = g.dtype
        return Layout(self.treedef, ((),) * self.num_tensors, tuple(per_tensor), groups, None)._interned()

    # -- segment ids: which tensor each element of a buffer belongs to -------------------------

    def _segment_ids_for(self, index: int, buffer: Any) -> jax.Array:
        """Which tensor each element of buffer ``index`` belongs to (padding: the member count).

        A device array cached per layout and sharding; inside a trace, a constant of the program.
        """
        if isinstance(buffer, jax.core.Tracer):
            return jnp.asarray(_segment_ids_host(self, index))
        return _segment_ids(self, index, buffer.sharding)

    # -- engine hooks ----------------------------------------------------------------------------

    def _prepare_payloads(self, op: Any, kinds: Sequence[Any], payloads: list[Any], buffers: Sequence[Any]) -> list:
        """Engine hook, outside the kernel: add the segment ids the kernel needs to the payloads."""
        # a ScalarList travels as one array here: the kernel gathers it per element, not per tensor
        payloads = [
            (jnp.stack(p) if _engine._is_tracer(p) else np.asarray(p)) if k.overload == "ScalarList" else p
            for k, p in zip(kinds, payloads, strict=True)
        ]
        scalar_list = any(k.overload == "ScalarList" for k in kinds)
        reduction = op.family == "reduction"
        segments = None
        if scalar_list or reduction:
            segments = [
                self._segment_ids_for(i, b) if _small_members(g) and (scalar_list or not _by_runs(g)) else None
                for i, (g, b) in enumerate(zip(self.groups, buffers, strict=True))
            ]
        return [*payloads, segments]

    def _apply(
        self,
        op: Any,
        xs: Sequence[jax.Array],
        kinds: Sequence[Any],
        payloads: Sequence[Any],
        *,
        inplace: bool,
        fname: str,
    ) -> list[jax.Array]:
        """Inside the kernel: the op on every buffer."""
        *payloads, segments = payloads
        if op.family == "reduction":
            statics = [k.static for k in kinds]
            return [
                _segment_reduce(op, x, g, segments[gi], statics, fname)
                for gi, (g, x) in enumerate(zip(self.groups, xs, strict=True))
            ]
        out = []
        for gi, (group, x) in enumerate(zip(self.groups, xs, strict=True)):
            args = []
            for kind, payload, spec in zip(kinds, payloads, op.operands, strict=True):
                if kind.overload == "Scalar":
                    args.append(_engine.Arg(payload, kind.number_dtype, Rank.NUMBER, spec.promotes, spec.name))
                elif kind.overload == "Tensor":  # a 0-d array: mul/div's Tensor overload
                    args.append(_engine.Arg(payload, np.dtype(payload.dtype), Rank.ZERO_DIM, spec.promotes, spec.name))
                elif kind.overload == "ScalarList":
                    per_tensor = payload[np.asarray(group.members, dtype=np.int32)]
                    values = _expand(group, per_tensor, segments[gi])
                    dtype = kind.number_dtype
                    if isinstance(dtype, tuple):  # mixed ints and floats: one buffer takes the widest of its own
                        dtype = np.dtype(functools.reduce(jnp.promote_types, {dtype[m] for m in group.members}))
                    args.append(_engine.Arg(values, dtype, kind.rank, spec.promotes, spec.name))
                else:  # List: the other Packed's buffer
                    leaf = payload[gi]
                    args.append(_engine.Arg(leaf, np.dtype(leaf.dtype), Rank.DIMENSIONED, spec.promotes, spec.name))
            buffer = _zero_padding(group, _engine.apply_one(op, x, args, inplace=inplace, fname=fname))
            if self.sharding is not None:  # zero_'s constant result would otherwise come out replicated
                buffer = jax.lax.with_sharding_constraint(buffer, self.sharding)
            out.append(buffer)
        return out


def _zero_padding(group: Group, buffer: jax.Array) -> jax.Array:
    """``buffer`` with its padding (a sharded layout's tail) set to zero.

    Ops keep the padding zero so that whole-buffer reductions (``optax.global_norm``, the total
    norm of ``transforms.clip_by_norm``) see only the tensors: ``add(p, 1.0)`` or an ``eps=0``
    Adam step (0 / 0) would otherwise leave ones or NaN there. One select, fused into the op.
    """
    if group.length == group.used:
        return buffer
    return jnp.where(jnp.arange(group.length) < group.used, buffer, jnp.zeros((), buffer.dtype))


_LAYOUTS: weakref.WeakValueDictionary[tuple, Layout] = weakref.WeakValueDictionary()


# Tensors at least this large are reduced with a static slice of the buffer (XLA's tree reduction:
# fast and accurate); smaller ones share one segment reduction (a scatter, cheap when segments are short).
_SLICE_MIN_SIZE = 1 << 14


def _small_members(group: Group) -> list[int]:
    """Positions (within the group) of the members reduced by segment id rather than by slice."""
    return [k for k, size in enumerate(group.sizes) if size < _SLICE_MIN_SIZE]


@functools.lru_cache(maxsize=1024)  # keyed by groups, which hold every offset: bounded
def _small_runs(group: Group) -> tuple[tuple[int, int], ...]:
    """Buffer ranges [start, stop) covering consecutive small members."""
    runs: list[list[int]] = []
    for k in _small_members(group):
        start, stop = group.offsets[k], group.offsets[k] + group.sizes[k]
        if runs and runs[-1][1] == start:
            runs[-1][1] = stop
        else:
            runs.append([start, stop])
    return tuple((a, b) for a, b in runs)


def _gather_runs(group: Group, x: jax.Array) -> jax.Array:
    """The elements of the small members, contiguous (a view of ``x`` when they already are)."""
    runs = _small_runs(group)
    if len(runs) == 1 and runs[0] == (0, x.shape[0]):
        return x
    parts = [jax.lax.slice(x, (a,), (b,)) for a, b in runs]
    return jnp.concatenate(parts) if len(parts) > 1 else parts[0]


# Segment ids take 4 bytes per element of the small tensors, on the host and on the device: their
# caches are bounded by the bytes they hold (and they keep layouts, otherwise interned weakly, alive).
_HOST_SEGMENT_IDS: WeightedLRU[np.ndarray] = WeightedLRU(256 << 20)
_DEVICE_SEGMENT_IDS: WeightedLRU[jax.Array] = WeightedLRU(128 << 20)


def _segment_id_bytes(group: Group) -> int:
    return 4 * sum(group.sizes[k] for k in _small_members(group))


def _segment_ids_host(layout: Layout, index: int) -> np.ndarray:
    """For the elements of the small members, in buffer order: their position in the group."""
    group = layout.groups[index]

    def make() -> np.ndarray:
        small = _small_members(group)
        return np.repeat(np.asarray(small, dtype=np.int32), [group.sizes[k] for k in small])

    ids = _HOST_SEGMENT_IDS.get((layout, index), make, weight=_segment_id_bytes(group))
    _HOST_SEGMENT_IDS.trim()
    return ids


def _segment_ids(layout: Layout, index: int, sharding: Any) -> jax.Array:
    def make() -> jax.Array:
        ids = _segment_ids_host(layout, index)
        target = sharding if ids.shape[0] == layout.groups[index].length else None  # a compacted subset
        return jax.device_put(ids, target)

    ids = _DEVICE_SEGMENT_IDS.get((layout, index, sharding), make, weight=_segment_id_bytes(layout.groups[index]))
    _DEVICE_SEGMENT_IDS.trim()
    return ids


def _expand(group: Group, per_tensor: jax.Array, segments: Any) -> jax.Array:
    """One value per tensor -> one value per buffer element."""
    small = _small_members(group)
    runs = _small_runs(group)
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
        if size >= _SLICE_MIN_SIZE:
            out = jax.lax.dynamic_update_slice(out, jnp.broadcast_to(per_tensor[k], (size,)), (off,))
    return out


# Reductions over at most this many runs of consecutive equal-size tensors reshape each run to
# (count, size) and reduce its rows: no segment ids, XLA's own reductions (1,000 tensors of 1,000
# floats: 0.5 ms, where a segment sum takes 3.5 ms).
_MAX_RUNS = 64


@functools.lru_cache(maxsize=1024)
def _equal_size_runs(group: Group) -> tuple[tuple[int, int, int], ...]:
    """(start, count, size) for each run of consecutive members of one size."""
    runs: list[list[int]] = []
    for off, size in zip(group.offsets, group.sizes, strict=True):
        if runs and runs[-1][2] == size:
            runs[-1][1] += 1
        else:
            runs.append([off, 1, size])
    return tuple((a, b, c) for a, b, c in runs)


def _by_runs(group: Group) -> bool:
    """Only buffers of small tensors: XLA:CPU reduces a few long rows far slower than 1-D slices."""
    runs = _equal_size_runs(group)
    return bool(runs) and len(runs) <= _MAX_RUNS and max(size for _, _, size in runs) < _SLICE_MIN_SIZE


def _segment_reduce(
    op: Any, x: jax.Array, group: Group, seg: jax.Array | None, statics: Sequence[Any], fname: str
) -> jax.Array:
    """Per-tensor reductions of one buffer: by runs of equal-size tensors when there are few runs,
    else static slices for big tensors and segment ops for small ones."""
    out_dtype, finish = _engine.check_reduction(op, x.dtype, 0 in group.sizes, statics, fname)
    n = len(group.members)
    small = _small_members(group)
    compute = x if op.name == "max" else jnp.abs(_engine.reduction_input(x, out_dtype))
    if _by_runs(group):
        rows = _row_reduction(op.name, finish)
        parts = []
        for start, count, size in _equal_size_runs(group):
            if size >= _SLICE_MIN_SIZE:  # XLA:CPU reduces a few long rows slower than separate slices
                parts += [
                    rows(jax.lax.slice(compute, (a,), (a + size,)))[None]
                    for a in range(start, start + count * size, size)
                ]
            else:
                run = jax.lax.slice(compute, (start,), (start + count * size,)).reshape(count, size)
                parts.append(rows(run, axis=1))
        out = jnp.concatenate(parts)
        if op.name == "norm":
            out = _table.norm_from_powsum(out, finish)
        return out.astype(out_dtype)
    results = []
    if small:
        results.append(_segment_values(op.name, _gather_runs(group, compute), seg, n, finish))
    small_set = set(small)  # (built once: a set per tensor made the first norm quadratic in the tensors)
    big = [k for k in range(n) if k not in small_set]
    if big:
        reduce = _row_reduction(op.name, finish)
        parts = [reduce(jax.lax.slice(compute, (group.offsets[k],), (group.offsets[k] + group.sizes[k],))) for k in big]
        big_values = jnp.stack(parts)
        if small:
            results[0] = results[0].at[np.asarray(big)].set(big_values)
        else:
            results.append(big_values)
    out = results[0]
    if op.name == "norm":
        out = _table.norm_from_powsum(out, finish)
    return out.astype(out_dtype)


def _row_reduction(name: str, ord_: Any) -> Any:
    """``max``, or the power sum a norm is finished from (``powsum`` itself takes +-inf literally)."""
    if name == "max":
        return _table.max_with_nan
    return functools.partial(_table.powsum, ord=ord_, literal_inf=name == "powsum")


def _segment_values(name: str, a: jax.Array, seg: Any, n: int, ord_: Any) -> jax.Array:
    """``max`` or ``_table.powsum`` of every small segment at once (others come out as identities)."""

    def by_segment(reduce: Any, values: jax.Array) -> jax.Array:
        return reduce(values, seg, num_segments=n, indices_are_sorted=True)

    def with_nan(out: jax.Array) -> jax.Array:  # torch's max and +-inf norms propagate NaN
        if not jnp.issubdtype(a.dtype, jnp.floating):
            return out
        return jnp.where(by_segment(jax.ops.segment_max, jnp.isnan(a)), jnp.nan, out)

    if name == "max":
        return with_nan(by_segment(jax.ops.segment_max, a))
    if name == "powsum" and ord_ in (float("inf"), float("-inf")):  # torch's powsum: the literal sum
        return by_segment(jax.ops.segment_sum, a**ord_)
    if ord_ == float("inf"):
        return with_nan(jnp.maximum(by_segment(jax.ops.segment_max, a), 0))
    if ord_ == float("-inf"):
        return with_nan(by_segment(jax.ops.segment_min, a))
    if ord_ == 0:
        return by_segment(jax.ops.segment_sum, (a != 0).astype(a.dtype))
    if ord_ == 1:
        return by_segment(jax.ops.segment_sum, a)
    if ord_ == 2:
        return by_segment(jax.ops.segment_sum, a * a)
    return by_segment(jax.ops.segment_sum, a**ord_)


@jax.tree_util.register_pytree_node_class
class Packed:
    """A tree of arrays stored as one flat buffer per dtype.

    Build one with :func:`pack`; get the tree back with :meth:`unpack`. Every jforeach op accepts a
    ``Packed`` wherever it accepts a tree (with a Packed of the same layout, numbers, or per-tensor
    sequences of numbers). In-place ops donate the buffers and point this object at the results.

    Attributes:
      buffers: The flat 1-D buffers, one per dtype (zero-padded at the end when sharded).
      layout: The static :class:`Layout`: structure, shapes, dtypes and offsets.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import jforeach
      >>> p = jforeach.pack([jnp.array([1.0, 2.0]), jnp.array(3.0)])
      >>> _ = jforeach.mul_(p, 2.0)               # one kernel for the whole buffer
      >>> p.unpack()
      [Array([2., 4.], dtype=float32), Array(6., dtype=float32)]
      >>> jax.tree.map(jnp.zeros_like, p)         # a pytree: maps over the buffers
      Packed(2 tensors, buffers=['float32[3]'])
    """

    __slots__ = ("_buffers", "layout")

    def __init__(self, buffers: Sequence[Any], layout: Layout):
        self._buffers = tuple(buffers)
        self.layout = layout

    @property
    def buffers(self) -> tuple[jax.Array, ...]:
        return self._buffers

    @property
    def num_tensors(self) -> int:
        return self.layout.num_tensors

    def tree_flatten(self) -> tuple[tuple[Any, ...], Layout]:
        """The pytree protocol: the buffers are the children, the layout is static."""
        return self._buffers, self.layout

    @classmethod
    def tree_unflatten(cls, layout: Layout, buffers: Sequence[Any]) -> Packed:
        """The pytree protocol: a Packed of ``layout`` around ``buffers``."""
        return cls(buffers, layout)

    def __repr__(self) -> str:
        return f"Packed({self.layout.num_tensors} tensors, buffers={[_short(b) for b in self._buffers]})"

    def _check_alive(self, fname: str, name: str = "tensors") -> None:
        for b in self._buffers:
            if isinstance(b, jax.Array) and not isinstance(b, jax.core.Tracer) and b.is_deleted():
                raise ValueError(
                    f"`jforeach.{fname}`: the buffers of the Packed {name} were donated to another call and "
                    "deleted; use the Packed that call returned or updated"
                )

    def _finish(self, out: Sequence[jax.Array], op: Any, *, inplace: bool) -> Packed:
        """Engine hook: wrap a kernel's buffers (in place: point this Packed at them)."""
        if op.family == "reduction":
            return Packed(out, self.layout._scalar_layout([b.dtype for b in out]))
        if inplace:
            self._buffers = tuple(out)
            return self
        return Packed(out, self.layout._with_group_dtypes([b.dtype for b in out]))

    def unpack(self) -> Any:
        """The tree this Packed holds, with the original structure, shapes and dtypes.

        Returns:
          A new tree of arrays. Outside ``jax.jit`` the tensors are cut on the host, so the cost does not
          grow with a compiled program per tensor; inside ``jit`` (or for buffers spread over several
          processes) they are sliced in the program, and XLA all-gathers sharded buffers.

        Raises:
          ValueError: if the buffers were donated by an in-place call.

        Examples:
          >>> import jax.numpy as jnp
          >>> import jforeach
          >>> p = jforeach.pack({"w": jnp.ones((2, 2)), "b": jnp.zeros(3, jnp.int32)})
          >>> p
          Packed(2 tensors, buffers=['int32[3]', 'float32[4]'])
          >>> jforeach.unpack(p)["w"]
          Array([[1., 1.],
                 [1., 1.]], dtype=float32)
        """
        self._check_alive("unpack")
        return _unpack(self)


def _short(b: Any) -> str:
    return f"{np.dtype(b.dtype).name}[{b.shape[0]}]" if hasattr(b, "shape") else repr(b)


def _shard_count(sharding: Any) -> int:
    """How many pieces a sharding cuts a 1-D buffer into."""
    if sharding is None:
        return 1
    n = len(sharding.device_set)
    return n // sharding.shard_shape((n,))[0]


def _layout_for(leaves: Sequence[Any], treedef: Any, sharding: Any) -> Layout:
    shapes = tuple(tuple(int(d) for d in leaf.shape) for leaf in leaves)
    dtypes = tuple(np.dtype(leaf.dtype) for leaf in leaves)
    order: dict[np.dtype, list[int]] = {}
    for i, dtype in enumerate(dtypes):
        order.setdefault(dtype, []).append(i)
    pieces = _shard_count(sharding)
    groups = []
    for dtype, members in order.items():
        sizes = tuple(math.prod(shapes[m]) for m in members)
        offsets = tuple(np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist())
        used = sum(sizes)
        length = -(-max(used, 1) // pieces) * pieces if pieces > 1 else used
        groups.append(Group(dtype, tuple(members), offsets, sizes, int(length)))
    return Layout(treedef, shapes, dtypes, tuple(groups), sharding)._interned()


def pack(tree: Any, *, sharding: jax.sharding.Sharding | None = None) -> Packed:
    """Packs a tree of arrays into one flat buffer per dtype.

    Args:
      tree: Any pytree of arrays (numpy arrays and Python numbers are converted).
      sharding: Optional sharding of every flat buffer, e.g. ``NamedSharding(mesh, P("data"))``: each
        device then holds 1/D of each buffer (ZeRO-style sharded optimizer state). Buffers are
        zero-padded to a multiple of the shard count; the padding never shows after :meth:`Packed.unpack`.

    Returns:
      A :class:`Packed` whose buffers are ordered by the first appearance of each dtype.

    Raises:
      TypeError: for a leaf that is not an array or a number.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> p = jforeach.pack([jnp.array([1.0, 2.0]), jnp.array(3.0)])
      >>> p.buffers
      (Array([1., 2., 3.], dtype=float32),)
      >>> jforeach.log1p(p).unpack()
      [Array([0.6931472, 1.0986123], dtype=float32), Array(1.3862944, dtype=float32)]

    See also:
      :func:`unpack`, ``torch.utils._foreach_utils`` (torch groups tensors by device and dtype likewise).
    """
    if isinstance(tree, Packed):
        return tree
    leaves, treedef = _engine.as_leaves(tree, "pack", "tree")
    layout = _layout_for(leaves, treedef, sharding)
    if _engine._is_tracer(leaves):
        buffers = [_concat_traced(leaves, g) for g in layout.groups]
        if sharding is not None:
            buffers = [jax.lax.with_sharding_constraint(b, sharding) for b in buffers]
        return Packed(buffers, layout)
    host = jax.device_get(leaves)
    host_buffers: list[np.ndarray] = []
    for g in layout.groups:
        buf = np.zeros(g.length, dtype=g.dtype)
        for m, off, size in zip(g.members, g.offsets, g.sizes, strict=True):
            buf[off : off + size] = np.asarray(host[m]).reshape(-1)
        host_buffers.append(buf)
    target = sharding if sharding is not None else _common_device(leaves)
    return Packed(_owned(jax.device_put(host_buffers, target)), layout)


def _owned(buffers: list[jax.Array]) -> list[jax.Array]:
    """Buffers in memory of their own: on CPU, device_put may alias the numpy array it was given,
    and such a buffer cannot be donated (in-place ops would silently allocate anew)."""
    if any(d.platform == "cpu" for b in buffers for d in b.devices()):
        return _copy(buffers)
    return buffers


@jax.jit
def _copy(buffers: list[jax.Array]) -> list[jax.Array]:
    return [jnp.copy(b) for b in buffers]


def _common_device(leaves: Sequence[jax.Array]) -> Any:
    """Where the buffers go: the leaves' device if they are committed to one, else nowhere in
    particular (uncommitted, as ``jnp`` arrays and optax's step counts are: a committed buffer
    next to an uncommitted count would give a jitted step a second signature, and a second compile)."""
    if not leaves or not any(getattr(leaf, "committed", True) for leaf in leaves):
        return None
    sharding = leaves[0].sharding
    return next(iter(sharding.device_set)) if len(sharding.device_set) == 1 else None


def _concat_traced(leaves: Sequence[Any], g: Group) -> jax.Array:
    parts = [jnp.ravel(leaves[m]) for m in g.members]
    if g.length > g.used:
        parts.append(jnp.zeros(g.length - g.used, g.dtype))
    return jnp.concatenate(parts) if parts else jnp.zeros(0, g.dtype)


def unpack(packed: Packed) -> Any:
    """The tree a :class:`Packed` holds; same as :meth:`Packed.unpack`.

    Args:
      packed: A Packed made by :func:`pack` or returned by a jforeach op.

    Returns:
      A new tree with the original structure, shapes and dtypes.

    Raises:
      TypeError: if ``packed`` is not a Packed.
      ValueError: if its buffers were donated.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.unpack(jforeach.pack((jnp.arange(3), jnp.ones(2))))
      (Array([0, 1, 2], dtype=int32), Array([1., 1.], dtype=float32))
    """
    if not isinstance(packed, Packed):
        raise TypeError(f"`jforeach.unpack`: expected a Packed, got {type(packed).__name__}")
    return packed.unpack()


def _unpack(packed: Packed) -> Any:
    layout = packed.layout
    buffers = packed.buffers
    traced = _engine._is_tracer(buffers)
    if traced or not all(b.is_fully_addressable for b in buffers):
        leaves = _slice_leaves(layout, buffers)
    else:
        host = jax.device_get(list(buffers))
        leaves_np: list[Any] = [None] * layout.num_tensors
        for g, buf in zip(layout.groups, host, strict=True):
            for m, off, size in zip(g.members, g.offsets, g.sizes, strict=True):
                leaves_np[m] = buf[off : off + size].reshape(layout.shapes[m])
        leaves = jax.device_put(leaves_np, _unpack_target(buffers))
    return jax.tree.unflatten(layout.treedef, leaves)


def _unpack_target(buffers: Sequence[jax.Array]) -> Any:
    if not buffers:
        return None
    sharding = buffers[0].sharding
    if len(sharding.device_set) == 1:
        return next(iter(sharding.device_set))
    if isinstance(sharding, jax.sharding.NamedSharding):
        return jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
    return None


def _slice_leaves(layout: Layout, buffers: Sequence[Any]) -> list[Any]:
    if _engine._is_tracer(buffers):
        return _slice_in_program(layout, buffers)
    out_sharding = _unpack_target(buffers)
    return jax.jit(functools.partial(_slice_in_program, layout), out_shardings=out_sharding)(buffers)


def _slice_in_program(layout: Layout, buffers: Sequence[Any]) -> list[Any]:
    leaves: list[Any] = [None] * layout.num_tensors
    for g, buf in zip(layout.groups, buffers, strict=True):
        for m, off, size in zip(g.members, g.offsets, g.sizes, strict=True):
            leaves[m] = jax.lax.slice(buf, (off,), (off + size,)).reshape(layout.shapes[m])
    return leaves
