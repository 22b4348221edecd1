"""Packed multi-tensor buffers: every tensor of a tree lives in one flat buffer per dtype.

This is JAX's form of CUDA's ``multi_tensor_apply`` and of FSDP's flat parameters. A jforeach op on a
:class:`Packed` runs once per buffer, so its cost is that of one flat kernel and its compile time does
not grow with the number of tensors. ``Packed`` is a pytree whose children are the buffers, so
``jax.jit``, ``jax.grad``, ``jax.tree.map``, optax and checkpointing use it unchanged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import math
import weakref
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _arrays
from ._cache import WeightedLRU
from ._table import Op

__all__ = ["Layout", "Packed", "labels", "pack", "unpack"]


@dataclasses.dataclass(frozen=True)
class Group:
    """One flat buffer: which tensors it holds and where."""

    dtype: np.dtype
    members: tuple[int, ...]  # tensor indices, in leaf order
    offsets: tuple[int, ...]  # start of each member in the buffer
    sizes: tuple[int, ...]
    length: int  # buffer length, padding included
    label: Any = None  # the members' label from ``pack(..., group_by=...)``; None without one

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

    def __reduce__(self) -> tuple:
        # the fields only: the cached hash depends on this process's string hashing (PYTHONHASHSEED);
        # a mesh by its device ids: jax Devices do not pickle
        sharding = _pickled_sharding(self.sharding)
        return (_unpickled_layout, (self.treedef, self.shapes, self.dtypes, self.groups, sharding))

    def __repr__(self) -> str:
        labelled = any(g.label is not None for g in self.groups)
        bufs = ", ".join(f"{g.dtype.name}[{g.length}]" + (f" {g.label!r}" if labelled else "") for g in self.groups)
        return f"Layout({self.num_tensors} tensors in {bufs})"

    # -- checks ---------------------------------------------------------------------------------

    def _check_same(self, other: Layout, name: str) -> None:
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
        raise ValueError(f"tensors and {name} are Packed with different layouts: {why}")

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
            Group(
                np.dtype(dtype), g.members, tuple(range(len(g.members))), (1,) * len(g.members), len(g.members), g.label
            )
            for g, dtype in zip(self.groups, dtypes, strict=True)
        )
        per_tensor = [np.dtype(np.float32)] * self.num_tensors
        for g in groups:
            for m in g.members:
                per_tensor[m] = g.dtype
        return Layout(self.treedef, ((),) * self.num_tensors, tuple(per_tensor), groups, None)._interned()


def zero_padding(group: Group, buffer: jax.Array, start: Any = None) -> jax.Array:
    """``buffer`` with its padding (a sharded layout's tail) set to zero; ``start``: inside shard_map,
    where the piece ``buffer`` begins in the whole buffer.

    Ops keep the padding zero so that whole-buffer reductions (``optax.global_norm``, the total
    norm of ``transforms.clip_by_norm``) see only the tensors: ``add(p, 1.0)`` or an ``eps=0``
    Adam step (0 / 0) would otherwise leave ones or NaN there. One select, fused into the op.
    """
    if group.length == group.used:
        return buffer
    index = jnp.arange(buffer.shape[0]) if start is None else start + jnp.arange(buffer.shape[0])
    return jnp.where(index < group.used, buffer, jnp.zeros((), buffer.dtype))


_LAYOUTS: weakref.WeakValueDictionary[tuple, Layout] = weakref.WeakValueDictionary()


def _unpickled_packed(children: Sequence[Any], layout: Layout) -> Packed:
    """A Packed read from a pickle: its buffers as JAX unpickles arrays (uncommitted, on the default
    device), or, where the layout is sharded, placed with the layout's sharding."""
    if layout.sharding is not None:
        children = [jax.device_put(b, layout.sharding) if isinstance(b, jax.Array) else b for b in children]
    return Packed(children, layout)


def _pickled_sharding(sharding: Any) -> Any:
    """A NamedSharding on a concrete Mesh as (device ids, axis names, axis types, spec, memory kind)."""
    if isinstance(sharding, jax.sharding.NamedSharding) and isinstance(sharding.mesh, jax.sharding.Mesh):
        mesh = sharding.mesh
        ids = mesh.device_ids.tolist()
        return ("mesh", ids, mesh.axis_names, mesh.axis_types, sharding.spec, sharding.memory_kind)
    return sharding


def _unpickled_layout(treedef: Any, shapes: Any, dtypes: Any, groups: Any, sharding: Any) -> Layout:
    """A Layout read from a pickle, hashed in this process and interned; its mesh on this process's
    devices of the same ids."""
    if isinstance(sharding, tuple) and sharding[:1] == ("mesh",):
        _, ids, names, axis_types, spec, memory_kind = sharding
        by_id = {d.id: d for d in jax.devices()}
        missing = sorted(set(np.asarray(ids).ravel().tolist()) - set(by_id))
        if missing:
            raise ValueError(
                f"this Packed was pickled on a mesh of devices {np.asarray(ids).ravel().tolist()}, and this process "
                f"has no devices {missing}: unpickle it where those devices exist, or restore the buffers onto "
                "this process's mesh with a target (docs/checkpoints.md)"
            )
        devices = np.vectorize(by_id.__getitem__, otypes=[object])(np.asarray(ids))
        mesh = jax.sharding.Mesh(devices, names, axis_types=axis_types)
        sharding = jax.sharding.NamedSharding(mesh, spec, memory_kind=memory_kind)
    return Layout(treedef, shapes, dtypes, groups, sharding)._interned()


# Tensors at least this large are reduced with a static slice of the buffer (XLA's tree reduction:
# fast and accurate); smaller ones share one segment reduction (a scatter, cheap when segments are short).
SLICE_MIN_SIZE = 1 << 14


def small_members(group: Group) -> list[int]:
    """Positions (within the group) of the members reduced by segment id rather than by slice."""
    return [k for k, size in enumerate(group.sizes) if size < SLICE_MIN_SIZE]


@functools.lru_cache(maxsize=1024)  # keyed by groups, which hold every offset: bounded
def small_runs(group: Group) -> tuple[tuple[int, int], ...]:
    """Buffer ranges [start, stop) covering consecutive small members."""
    runs: list[list[int]] = []
    for k in small_members(group):
        start, stop = group.offsets[k], group.offsets[k] + group.sizes[k]
        if runs and runs[-1][1] == start:
            runs[-1][1] = stop
        else:
            runs.append([start, stop])
    return tuple((a, b) for a, b in runs)


# Segment ids take 4 bytes per element of the small tensors, on the host and on the device: their
# caches are bounded by the bytes they hold (and they keep layouts, otherwise interned weakly, alive).
_HOST_SEGMENT_IDS: WeightedLRU[np.ndarray] = WeightedLRU(256 << 20)
_DEVICE_SEGMENT_IDS: WeightedLRU[jax.Array] = WeightedLRU(128 << 20)


def _segment_id_bytes(group: Group) -> int:
    return 4 * sum(group.sizes[k] for k in small_members(group))


def _segment_ids_host(layout: Layout, index: int) -> np.ndarray:
    """For the elements of the small members, in buffer order: their position in the group."""
    group = layout.groups[index]

    def make() -> np.ndarray:
        small = small_members(group)
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


def segment_ids(layout: Layout, index: int, buffer: Any) -> jax.Array:
    """Which tensor each element of the small members of buffer ``index`` belongs to (its position
    in the group): what a number per tensor is spread by, and small tensors are reduced by.

    A device array cached per layout and sharding; inside a trace, a constant of the program.
    """
    if isinstance(buffer, jax.core.Tracer):
        return jnp.asarray(_segment_ids_host(layout, index))
    # an uncommitted buffer gets uncommitted ids, so the kernel may run on any device (inside
    # jax.set_mesh as well); a committed one gets them where it lives
    return _segment_ids(layout, index, buffer.sharding if buffer.committed else None)


# Reductions over at most this many runs of consecutive equal-size tensors reshape each run to
# (count, size) and reduce its rows: no segment ids, XLA's own reductions (1,000 tensors of 1,000
# floats: 0.5 ms, where a segment sum takes 3.5 ms).
_MAX_RUNS = 64


@functools.lru_cache(maxsize=1024)
def equal_size_runs(group: Group) -> tuple[tuple[int, int, int], ...]:
    """(start, count, size) for each run of consecutive members of one size."""
    runs: list[list[int]] = []
    for off, size in zip(group.offsets, group.sizes, strict=True):
        if runs and runs[-1][2] == size:
            runs[-1][1] += 1
        else:
            runs.append([off, 1, size])
    return tuple((a, b, c) for a, b, c in runs)


def by_runs(group: Group) -> bool:
    """Only buffers of small tensors: XLA:CPU reduces a few long rows far slower than 1-D slices."""
    runs = equal_size_runs(group)
    return bool(runs) and len(runs) <= _MAX_RUNS and max(size for _, _, size in runs) < SLICE_MIN_SIZE


def spec_axes(sharding: Any) -> tuple[str, ...]:
    """The mesh axes a 1-D buffer's sharding splits it over, major first."""
    spec = getattr(sharding, "spec", None)
    if not spec or spec[0] is None:
        return ()
    return tuple(spec[0]) if isinstance(spec[0], tuple) else (spec[0],)


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

    __slots__ = ("_buffers", "_masked", "layout")

    def __init__(self, buffers: Sequence[Any], layout: Layout):
        buffers = tuple(buffers)
        # optax.masked / multi_transform replace the buffers of other groups with MaskedNode(): this
        # Packed then holds the remaining groups only (ops see that sub-layout), and flattens as given
        self._masked: tuple[Layout, tuple[int, ...]] | None = None
        if any(isinstance(b, optax.MaskedNode) for b in buffers):
            present = tuple(i for i, b in enumerate(buffers) if not isinstance(b, optax.MaskedNode))
            self._masked = (layout, present)
            layout = _sub_layout(layout, present)
            buffers = tuple(buffers[i] for i in present)
        self._buffers = buffers
        self.layout = layout

    @property
    def buffers(self) -> tuple[jax.Array, ...]:
        return self._buffers

    def __reduce__(self) -> tuple:
        # JAX pickles an array as its values, which come back on one device; a sharded layout's
        # buffers are put back on its mesh (_unpickled_packed), else its ops would meet a mismatch
        children, layout = self.tree_flatten()
        return (_unpickled_packed, (tuple(children), layout))

    @property
    def num_tensors(self) -> int:
        return self.layout.num_tensors

    def tree_flatten(self) -> tuple[tuple[Any, ...], Layout]:
        """The pytree protocol: the buffers are the children, the layout is static."""
        if self._masked is None:
            return self._buffers, self.layout
        return _with_masked_nodes(self._buffers, *self._masked), self._masked[0]

    @classmethod
    def tree_unflatten(cls, layout: Layout, buffers: Sequence[Any]) -> Packed:
        """The pytree protocol: a Packed of ``layout`` around ``buffers``."""
        return cls(buffers, layout)

    def __repr__(self) -> str:
        labels = "" if all(g.label is None for g in self.layout.groups) else f", labels={self.group_labels}"
        return f"Packed({self.layout.num_tensors} tensors, buffers={[_short(b) for b in self._buffers]}{labels})"

    @property
    def group_labels(self) -> list[Any]:
        """The label of each buffer (all None unless packed with ``group_by``)."""
        return [g.label for g in self.layout.groups]

    def labels(self, labels: Any) -> Packed:
        """A mask or label tree for ``optax.masked`` / ``optax.multi_transform``, in this Packed's structure.

        optax matches a mask or label tree to the parameters' structure, which for a Packed is one leaf
        per buffer. This turns a tree written for the unpacked model into that form: each buffer gets
        the label its tensors have, which requires every buffer to hold tensors of one label (pack with
        ``group_by`` giving the same, or finer, labels).

        Args:
          labels: A tree of hashable labels (bools for ``optax.masked``, strings for
            ``optax.multi_transform``) with the structure of the unpacked tree, or a prefix of it; or a
            callable ``(path, leaf) -> label``, where ``leaf`` is a ``jax.ShapeDtypeStruct`` of the tensor.

        Returns:
          A Packed of this layout whose buffers are the labels, one per buffer.

        Raises:
          ValueError: if a buffer holds tensors with different labels (naming two of them), or
            ``labels`` has another structure.
          TypeError: for a label that is not hashable.

        Examples:
          >>> import jax, jax.numpy as jnp, optax
          >>> import jforeach
          >>> params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
          >>> decay = {"w": True, "b": False}
          >>> p = jforeach.pack(params, group_by=decay)
          >>> p.labels(decay)
          Packed(2 tensors, buffers=['False', 'True'], labels=[False, True])
          >>> tx = optax.add_decayed_weights(0.5, mask=lambda q: q.labels(decay))
          >>> updates, _ = tx.update(jax.tree.map(jnp.zeros_like, p), tx.init(p), p)
          >>> updates.unpack()  # 0.5 * w on the weight, nothing on the bias
          {'b': Array([0., 0.], dtype=float32), 'w': Array([[0.5, 0.5], [0.5, 0.5]], dtype=float32)}
        """
        layout = self.layout if self._masked is None else self._masked[0]
        return Packed(_buffer_labels(layout, labels, "Packed.labels"), layout)

    def _check_alive(self, name: str = "tensors") -> None:
        for b in self._buffers:
            if isinstance(b, jax.Array) and not isinstance(b, jax.core.Tracer) and b.is_deleted():
                raise ValueError(
                    f"the buffers of the Packed {name} were donated to another call and "
                    "deleted; use the Packed that call returned or updated"
                )

    def _finish(self, out: Sequence[jax.Array], op: Op, *, inplace: bool) -> Packed:
        """Wrap a kernel's buffers (in place: point this Packed at them)."""
        if self._masked is not None and not inplace:  # the result is masked as this Packed is
            full, present = self._masked
            dtypes = [g.dtype for g in full.groups]
            for i, b in zip(present, out, strict=True):
                dtypes[i] = np.dtype(b.dtype)
            layout = full._scalar_layout(dtypes) if op.family == "reduction" else full._with_group_dtypes(dtypes)
            return Packed(_with_masked_nodes(out, layout, present), layout)
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
        with _arrays.named("unpack"):
            self._check_alive()
        return _unpack(self)


@functools.lru_cache(maxsize=256)
def _sub_layout(layout: Layout, present: tuple[int, ...]) -> Layout:
    """The layout of the groups ``present`` of ``layout`` (the others masked out by optax)."""
    return dataclasses.replace(layout, groups=tuple(layout.groups[i] for i in present))._interned()


def _with_masked_nodes(buffers: Sequence[Any], layout: Layout, present: tuple[int, ...]) -> tuple[Any, ...]:
    children: list[Any] = [optax.MaskedNode()] * len(layout.groups)
    for i, b in zip(present, buffers, strict=True):
        children[i] = b
    return tuple(children)


def _buffer_labels(layout: Layout, spec: Any, fname: str) -> list[Any]:
    """Each buffer's label under ``spec`` (a label tree or callable for the unpacked tree)."""
    leaves = [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in zip(layout.shapes, layout.dtypes, strict=True)]
    per_tensor = _tensor_labels(spec, layout.treedef, leaves, fname, "labels")
    out: list[Any] = []
    for gi, g in enumerate(layout.groups):
        if not g.members:
            out.append(None)
            continue
        first = g.members[0]
        for m in g.members:
            if per_tensor[m] != per_tensor[first]:
                paths = _paths(layout.treedef)
                raise ValueError(
                    f"`jforeach.{fname}`: buffer {gi} ({g.dtype.name}) holds tensors with different labels: "
                    f"{jax.tree_util.keystr(paths[first])} is {per_tensor[first]!r} and "
                    f"{jax.tree_util.keystr(paths[m])} is {per_tensor[m]!r}; pack with "
                    "`jforeach.pack(tree, group_by=<the same labels>)` so that every buffer holds one label"
                )
        out.append(per_tensor[first])
    return out


def labels(params: Any, labels: Any) -> Any:
    """A mask or label tree for optax, for a Packed or a plain tree alike.

    For a :class:`Packed`, :meth:`Packed.labels`; for any other tree, ``labels`` itself (a callable
    ``(path, leaf) -> label`` is mapped over the tree with its paths). Code that builds its optimizer
    with ``mask=lambda p: jforeach.labels(p, decay)`` then runs unchanged on packed and plain parameters.

    Args:
      params: The parameters (or updates): a Packed or any pytree.
      labels: A tree of labels with the structure of the unpacked parameters (or a prefix of it), or a
        callable ``(path, leaf) -> label``.

    Returns:
      A tree of labels with the structure optax expects for ``params``.

    Raises:
      ValueError: for a Packed whose buffers mix labels (see :meth:`Packed.labels`).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
      >>> by_rank = lambda path, leaf: "decay" if leaf.ndim >= 2 else "no_decay"
      >>> jforeach.labels(params, by_rank)
      {'b': 'no_decay', 'w': 'decay'}
      >>> jforeach.labels(jforeach.pack(params, group_by=by_rank), by_rank).group_labels
      ['no_decay', 'decay']
    """
    if isinstance(params, Packed):
        return params.labels(labels)
    if callable(labels):
        return jax.tree_util.tree_map_with_path(labels, params)
    return labels


def _short(b: Any) -> str:
    return f"{np.dtype(b.dtype).name}[{b.shape[0]}]" if hasattr(b, "shape") else repr(b)


def shard_count(sharding: Any) -> int:
    """How many pieces a sharding cuts a 1-D buffer into."""
    if sharding is None:
        return 1
    mesh = getattr(sharding, "mesh", None)
    if isinstance(mesh, jax.sharding.AbstractMesh):  # a bare P inside jit: no devices, the axis sizes
        return math.prod(mesh.shape[a] for a in spec_axes(sharding))
    n = len(sharding.device_set)
    return n // sharding.shard_shape((n,))[0]


def _layout_for(leaves: Sequence[Any], treedef: Any, sharding: Any, labels: Sequence[Any] | None = None) -> Layout:
    shapes = tuple(tuple(int(d) for d in leaf.shape) for leaf in leaves)
    dtypes = tuple(np.dtype(leaf.dtype) for leaf in leaves)
    order: dict[tuple[Any, np.dtype], list[int]] = {}
    for i, dtype in enumerate(dtypes):
        order.setdefault((None if labels is None else labels[i], dtype), []).append(i)
    pieces = shard_count(sharding)
    groups = []
    for (label, dtype), members in order.items():
        sizes = tuple(math.prod(shapes[m]) for m in members)
        offsets = tuple(np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist())
        used = sum(sizes)
        length = -(-max(used, 1) // pieces) * pieces if pieces > 1 else used
        groups.append(Group(dtype, tuple(members), offsets, sizes, int(length), label))
    return Layout(treedef, shapes, dtypes, tuple(groups), sharding)._interned()


def _paths(treedef: Any) -> list[Any]:
    """The key path of every leaf of ``treedef``, in leaf order."""
    index_tree = jax.tree.unflatten(treedef, list(range(treedef.num_leaves)))
    return [path for path, _ in jax.tree_util.tree_flatten_with_path(index_tree)[0]]


def _tensor_labels(spec: Any, treedef: Any, leaves: Sequence[Any], fname: str, name: str) -> list[Any]:
    """One hashable label per leaf, from a tree of labels (the structure of the tree, or a prefix of
    it) or a callable ``(path, leaf) -> label``."""
    paths = _paths(treedef)
    if callable(spec):
        labels = [spec(path, leaf) for path, leaf in zip(paths, leaves, strict=True)]
    else:
        spec_def = jax.tree.structure(spec)
        try:
            index_tree = jax.tree.unflatten(treedef, list(range(treedef.num_leaves)))
            subtrees = spec_def.flatten_up_to(index_tree)  # type: ignore[attr-defined]
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"`jforeach.{fname}`: {name} must have the structure of the tensors' tree (or a prefix of it), "
                f"or be a callable (path, leaf) -> label; got {spec_def} for {treedef} ({e})"
            ) from None
        labels = [
            label for label, sub in zip(jax.tree.leaves(spec), subtrees, strict=True) for _ in jax.tree.leaves(sub)
        ]
    out = []
    for path, label in zip(paths, labels, strict=True):
        if isinstance(label, np.generic):
            label = label.item()
        try:
            hash(label)
        except TypeError:
            raise TypeError(
                f"`jforeach.{fname}`: {name} gives tensor {jax.tree_util.keystr(path) or '(the root)'} the label "
                f"{type(label).__name__}, which is not hashable; labels are bools, strings or other static values"
            ) from None
        out.append(label)
    return out


def pack(tree: Any, *, sharding: jax.sharding.Sharding | None = None, group_by: Any = None) -> Packed:
    """Packs a tree of arrays into one flat buffer per dtype (per label and dtype with ``group_by``).

    Outside ``jit`` the buffers are new memory of their own (the first in-place op donates them), and
    packing needs the tree, the buffers and a staging piece or two: a buffer longer than :data:`PIECE`
    elements is written on its device (each shard on its own device) piece by piece. numpy leaves are
    read where they are; leaves on an accelerator are first fetched to the host.

    Args:
      tree: Any pytree of arrays (numpy arrays and Python numbers are converted).
      sharding: Optional sharding of every flat buffer, e.g. ``NamedSharding(mesh, P("data"))``, or a
        bare ``P("data")`` inside ``jax.set_mesh(mesh)`` (a ``ValueError`` without a mesh): each device
        then holds 1/D of each buffer (ZeRO-style sharded optimizer state); Explicit and Auto axes alike.
        Buffers are zero-padded to a multiple of the shard count; the padding never shows after
        :meth:`Packed.unpack`. Leaves spread over several processes are packed on their devices.
      group_by: Optional parameter groups: a tree of hashable labels (bools or strings) with the
        structure of ``tree`` (or a prefix of it), or a callable ``(path, leaf) -> label`` as for
        ``jax.tree_util.tree_map_with_path``. The tensors of each (label, dtype) get a buffer of their
        own, so that a mask or label tree from :meth:`Packed.labels` can select them for
        ``optax.masked`` and ``optax.multi_transform``. None (the default): one label for all.

    Returns:
      A :class:`Packed` whose buffers are ordered by the first appearance of each (label, dtype).

    Raises:
      TypeError: for a leaf that is not an array or a number, or a label that is not hashable.
      ValueError: if ``group_by`` has another structure than ``tree``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> p = jforeach.pack([jnp.array([1.0, 2.0]), jnp.array(3.0)])
      >>> p.buffers
      (Array([1., 2., 3.], dtype=float32),)
      >>> jforeach.log1p(p).unpack()
      [Array([0.6931472, 1.0986123], dtype=float32), Array(1.3862944, dtype=float32)]
      >>> params = {"w": jnp.ones((2, 2)), "b": jnp.zeros(2), "ln": {"scale": jnp.ones(2)}}
      >>> no_decay = lambda path, leaf: leaf.ndim < 2   # biases and norms: one buffer of their own
      >>> jforeach.pack(params, group_by=no_decay).layout
      Layout(3 tensors in float32[4] True, float32[4] False)

    See also:
      :func:`unpack`, ``torch.utils._foreach_utils`` (torch groups tensors by device and dtype likewise).
    """
    if isinstance(tree, Packed):
        return tree
    sharding = _resolve_sharding(sharding, "pack")
    flat, treedef = jax.tree.flatten(tree)  # None is an empty subtree, as in JAX (equinox's partition has them)
    host_leaves = _numpy_leaves(flat)
    try:
        converted, _ = _arrays.as_leaves([x for i, x in enumerate(flat) if i not in host_leaves], "tree")
        converted_iter = iter(converted)
        leaves = [host_leaves[i] if i in host_leaves else next(converted_iter) for i in range(len(flat))]
    except (TypeError, ValueError) as flat_error:
        error: Exception = flat_error
        try:
            _arrays.as_leaves(tree, "tree")  # the same error, naming the leaf by its path in the tree
        except (TypeError, ValueError) as named:
            error = named
        raise _arrays.prefixed(error, "pack") from None
    labels = None if group_by is None else _tensor_labels(group_by, treedef, leaves, "pack", "group_by")
    layout = _layout_for(leaves, treedef, sharding, labels)
    if _arrays.is_tracer(leaves) or (host_leaves and _tracing()):
        # inside a trace the leaves are the program's (numpy ones its constants): a program concatenates them
        return Packed(_concat_in_program(layout, [jnp.asarray(x) for x in leaves]), layout)
    if jax.process_count() > 1 and not all(getattr(leaf, "is_fully_addressable", True) for leaf in leaves):
        # leaves spread over several processes: concatenated where they lie, never fetched to a host
        target = sharding if sharding is not None else _unpack_target([x for x in leaves if isinstance(x, jax.Array)])
        program = jax.jit(functools.partial(_concat_in_program, layout), out_shardings=target)
        return Packed(program(leaves), layout)
    host = _on_host(leaves)
    target = sharding if sharding is not None else _common_device([x for x in leaves if isinstance(x, jax.Array)])
    buffers: list[Any] = [None] * len(layout.groups)
    small = [i for i, g in enumerate(layout.groups) if not _built_in_pieces(g, target)]
    in_pieces = set(range(len(layout.groups))) - set(small)
    for i in sorted(in_pieces):
        buffers[i] = _placed_in_pieces(host, layout.groups[i], target)
    for batch in _batches(small, layout.groups):  # the short buffers: a host copy, transferred, then owned
        host_buffers = [_aligned_zeros(layout.groups[i].length, layout.groups[i].dtype) for i in batch]
        for i, buf in zip(batch, host_buffers, strict=True):
            g = layout.groups[i]
            for m, off, size in zip(g.members, g.offsets, g.sizes, strict=True):
                buf[off : off + size] = np.asarray(host[m]).reshape(-1)
        placed = jax.device_put(host_buffers, target)
        del host_buffers
        for i, owned in zip(batch, _owned(placed), strict=True):
            buffers[i] = owned
    return Packed(buffers, layout)


def _tracing() -> bool:
    """Whether this runs inside a JAX trace (``jit``, ``eval_shape``, ...), where even an array made of
    numpy values is the program's."""
    return isinstance(jnp.zeros((), np.int8), jax.core.Tracer)


PIECE = 1 << 22
"""Elements per piece of a buffer that ``pack`` writes in pieces: a buffer longer than this is built on
its device from a host staging piece of this many elements (16 MiB of float32), so that packing holds the
tree, the buffers and a piece or two, not a whole host copy of the buffers as well."""


def _batches(indices: Sequence[int], groups: Sequence[Group]) -> list[list[int]]:
    """``indices`` in runs of at most :data:`PIECE` elements in all (a longer buffer makes a run of its
    own): many short buffers are copied a run at a time, so that their host copies never add up."""
    runs: list[list[int]] = []
    total = 0
    for i in indices:
        if not runs or total + groups[i].length > PIECE:
            runs.append([])
            total = 0
        runs[-1].append(i)
        total += groups[i].length
    return runs


def _numpy_leaves(flat: Sequence[Any]) -> dict[int, np.ndarray]:
    """The numpy array leaves, by position, read where they are: packing copies them into the buffers,
    so converting each to a JAX array first (a copy of the tree, and ~100 us an array) is not needed.
    Only dtypes JAX keeps as they are: others (float64 without x64) are converted as JAX converts them."""
    return {
        i: leaf
        for i, leaf in enumerate(flat)
        if type(leaf) is np.ndarray
        and (leaf.dtype == np.bool_ or jnp.issubdtype(leaf.dtype, np.number))
        and jax.dtypes.canonicalize_dtype(leaf.dtype) == leaf.dtype
    }


def _built_in_pieces(g: Group, target: Any) -> bool:
    """Whether ``g``'s buffer is built on its device piece by piece: each region one device holds is longer
    than a piece (a shorter one is copied whole) and in the devices' default memory (a sharding naming
    another memory kind is placed by ``jax.device_put``)."""
    if g.length <= PIECE:
        return False
    kind = getattr(target, "memory_kind", None)
    if kind is not None and any(kind != d.default_memory().kind for d in target.device_set):
        return False
    region = g.length // shard_count(target) if isinstance(target, jax.sharding.Sharding) else g.length
    return PIECE < region


def _placed_in_pieces(host: Sequence[Any], g: Group, target: Any) -> jax.Array:
    """``g``'s buffer at ``target`` (a sharding, a device or None for the default device), each device's
    region written in place piece by piece; every region's memory is its own, so the buffer donates."""
    staging: dict[int, np.ndarray] = {}  # one staging array per piece length, shared by the regions
    if not isinstance(target, jax.sharding.Sharding):
        buf = _region_in_pieces(host, g, 0, g.length, target, staging)
    else:
        regions = []
        for device, index in target.addressable_devices_indices_map((g.length,)).items():
            lo, hi, _ = (index[0] if index else slice(None)).indices(g.length)
            regions.append(_region_in_pieces(host, g, lo, hi, device, staging))
        buf = jax.make_array_from_single_device_arrays((g.length,), target, regions)
    del staging
    gc.collect(0)  # jaxlib lets go of an aliased staging array in a collection callback (see _owned)
    return buf


def _region_in_pieces(
    host: Sequence[Any], g: Group, lo: int, hi: int, device: Any, staging: dict[int, np.ndarray]
) -> jax.Array:
    """Elements ``[lo, hi)`` of ``g``'s buffer on ``device``: zeros, then each piece copied from the leaves
    into a host staging array, transferred, and written in place by a donated ``dynamic_update_slice``
    (one compile per region length and dtype). The last piece starts at ``hi - PIECE``, rewriting some
    elements with the same values."""
    n = hi - lo
    c = min(PIECE, n)
    if c not in staging:
        staging[c] = _aligned_zeros(c, g.dtype)  # on CPU the transfer then aliases it: no copy
    piece = staging[c]
    with jax.default_device(device):  # made there (``jnp.zeros(device=...)`` makes them here, then copies)
        buf = _zeros(n, g.dtype)
    flat: dict[int, np.ndarray] = {}  # members the pieces still read, raveled once
    # a region past int32 offsets takes int64 ones, written with x64 on (the buffer keeps its dtype)
    wide = n - c > _INT32_LIMIT
    index, x64 = (np.int64, functools.partial(jax.enable_x64, True)) if wide else (np.int32, contextlib.nullcontext)
    for start in range(0, n, c):
        start = min(start, n - c)
        _fill_piece(piece, host, g, lo + start, flat)
        with x64():
            buf = _write_piece(buf, jax.device_put(piece, device), index(start))
        jax.block_until_ready(buf)  # the staging array is refilled next
    return buf


def _fill_piece(staging: np.ndarray, host: Sequence[Any], g: Group, start: int, flat: dict[int, np.ndarray]) -> None:
    """``staging`` := elements ``[start, start + len(staging))`` of ``g``'s buffer (zeros past its tensors)."""
    end = start + len(staging)
    k = max(int(np.searchsorted(g.offsets, start, side="right")) - 1, 0)
    pos = start
    while pos < end and k < len(g.members):
        off, size = g.offsets[k], g.sizes[k]
        if off + size <= pos:
            flat.pop(k, None)
            k += 1
            continue
        if off > pos:
            staging[pos - start : min(off, end) - start] = 0
            pos = min(off, end)
            continue
        x = flat.get(k)
        if x is None:
            x = flat[k] = np.ravel(host[g.members[k]])  # a view for a contiguous array
        take = min(end, off + size) - pos
        staging[pos - start : pos - start + take] = x[pos - off : pos - off + take]
        pos += take
        if pos == off + size:
            flat.pop(k, None)
        k += 1
    staging[pos - start :] = 0


@functools.partial(jax.jit, static_argnums=(0, 1))
def _zeros(n: int, dtype: np.dtype) -> jax.Array:
    return jnp.zeros(n, dtype)


@functools.partial(jax.jit, donate_argnums=0)
def _write_piece(buf: jax.Array, piece: jax.Array, start: jax.Array) -> jax.Array:
    return jax.lax.dynamic_update_slice(buf, piece, (start,))


def _aligned_zeros(n: int, dtype: np.dtype, align: int = 64) -> np.ndarray:
    """Zeros at an ``align``-byte boundary: XLA:CPU then takes the memory as it is (device_put aliases
    it) instead of copying it, so packing holds one host copy of the tree, not two."""
    raw = np.zeros(n * dtype.itemsize + align, np.uint8)
    start = -raw.ctypes.data % align
    return raw[start : start + n * dtype.itemsize].view(dtype)


def _on_host(leaves: Sequence[Any]) -> list[Any]:
    """The leaves as numpy arrays. CPU arrays are read one by one (a view of their memory, about 9 us
    each); other devices' by one batched ``jax.device_get`` (asynchronous copies, about 30 us each)."""
    shardings = {leaf.sharding for leaf in leaves if isinstance(leaf, jax.Array)}
    devices: set[jax.Device] = {d for s in shardings for d in s.device_set}
    if all(d.platform == "cpu" for d in devices):
        return [np.asarray(leaf) for leaf in leaves]
    return jax.device_get(list(leaves))


def _owned(buffers: list[jax.Array]) -> list[jax.Array]:
    """Buffers in memory of their own: on CPU, device_put may alias the numpy array it was given,
    and such a buffer cannot be donated (in-place ops would silently allocate anew).

    The host memory is released before this returns. No Python reference cycle holds it: jaxlib drops
    its reference to a transferred (or aliased) numpy array through a queue that it drains only in a
    garbage-collection callback, so without one the host copy of the tree stayed held until the next
    ``gc.collect()``. Here the copies are awaited, the host arrays dropped, and a generation-0
    collection (tens of microseconds) runs that callback."""
    if not any(d.platform == "cpu" for b in buffers for d in b.devices()):
        return buffers
    owned = _copy(buffers)
    jax.block_until_ready(owned)  # the copies have read the host memory: it may go
    buffers.clear()  # the caller's list: its arrays, the last references to the aliased memory, go now
    gc.collect(0)
    return owned


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


def _resolve_sharding(sharding: Any, fname: str) -> Any:
    """``sharding`` as a Sharding: a bare PartitionSpec names axes of the mesh set by ``jax.set_mesh``."""
    if not isinstance(sharding, jax.sharding.PartitionSpec):
        if sharding is not None and not isinstance(sharding, jax.sharding.Sharding):
            raise TypeError(
                f"`jforeach.{fname}`: sharding must be a jax.sharding.Sharding, a PartitionSpec or None, "
                f"got {type(sharding).__name__}"
            )
        return sharding
    if len(sharding) > 1:
        raise ValueError(
            f"`jforeach.{fname}`: the buffers are 1-D, so sharding={sharding} may split one dimension only "
            "(P('data'), P(('data', 'model')) or P())"
        )
    mesh: Any
    try:
        mesh = jax.sharding.get_mesh()
    except ValueError:  # inside jit only the abstract mesh is known
        mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty:
        raise ValueError(
            f"`jforeach.{fname}`: sharding={sharding} is a PartitionSpec but no mesh is set: call it inside "
            "`with jax.set_mesh(mesh):`, or pass `jax.sharding.NamedSharding(mesh, spec)`"
        )
    return jax.sharding.NamedSharding(mesh, sharding)


def _concat_in_program(layout: Layout, leaves: Sequence[Any]) -> list[jax.Array]:
    """The buffers, concatenated inside a program and placed as the layout's sharding.

    Leaves sharded over Explicit axes cannot be raveled and concatenated across their shards under
    the typing rules; ``jax.sharding.auto_axes`` lets XLA move the pieces (as it does on Auto axes).
    """
    sharding = layout.sharding

    def concat(leaves: Sequence[Any]) -> list[jax.Array]:
        return [_concat_traced(leaves, g) for g in layout.groups]

    explicit = [jax.typeof(leaf).sharding for leaf in leaves if _sharded_explicitly(leaf)]
    if sharding is None and explicit:  # no target: replicated on the leaves' mesh
        sharding = jax.sharding.NamedSharding(explicit[0].mesh, jax.sharding.PartitionSpec())
    if sharding is None or _arrays.in_shard_map():
        return concat(leaves)
    if explicit:
        return jax.sharding.auto_axes(concat, out_sharding=sharding)(leaves)
    return [_arrays.constrain(b, sharding) for b in concat(leaves)]


def _sharded_explicitly(x: Any) -> bool:
    """Whether ``x``'s type is split over Explicit mesh axes (its sharding is part of its type)."""
    sharding = jax.typeof(x).sharding
    return bool(getattr(sharding, "spec", None)) and any(sharding.spec) and _arrays.has_explicit_axes(sharding)


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
    traced = _arrays.is_tracer(buffers)
    # a gradient's integer and bool buffers are numpy float0 arrays (``jax.grad(..., allow_int=True)``)
    float0 = [isinstance(b, np.ndarray) and b.dtype == jax.dtypes.float0 for b in buffers]
    arrays = [b for b, z in zip(buffers, float0, strict=True) if not z]
    if traced or not all(b.is_fully_addressable for b in arrays):
        leaves = _slice_leaves(layout, buffers)
    else:
        # each tensor is copied out of the host view: on CPU the view is the buffer's own memory and
        # device_put would alias a slice of it, so the unpacked tree would hold the buffer and the next
        # in-place op on this Packed could not donate it (it silently allocated anew)
        host = iter(jax.device_get(arrays))
        leaves = [None] * layout.num_tensors
        copies: dict[int, np.ndarray] = {}  # the tensors to place on the device (float0 ones stay host arrays)
        for g, is_float0 in zip(layout.groups, float0, strict=True):
            buf = None if is_float0 else next(host)
            for m, off, size in zip(g.members, g.offsets, g.sizes, strict=True):
                if buf is None:
                    leaves[m] = np.zeros(layout.shapes[m], jax.dtypes.float0)
                else:
                    copies[m] = np.array(buf[off : off + size]).reshape(layout.shapes[m])
        del host
        for m, leaf in zip(copies, jax.device_put(list(copies.values()), _unpack_target(arrays)), strict=True):
            leaves[m] = leaf
    if packed._masked is not None:  # the tensors of masked-out groups: masked out in the tree too
        leaves = [optax.MaskedNode() if leaf is None else leaf for leaf in leaves]
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
    if _arrays.is_tracer(buffers):
        return _slice_in_program(layout, buffers)
    out_sharding = _unpack_target(buffers)
    return jax.jit(functools.partial(_slice_in_program, layout), out_shardings=out_sharding)(buffers)


def _slice_in_program(layout: Layout, buffers: Sequence[Any]) -> list[Any]:
    for g, buf in zip(layout.groups, buffers, strict=True):
        if buf.shape[0] != g.length:
            raise ValueError(
                f"`jforeach.unpack`: a buffer of {g.length} elements is a piece of {buf.shape[0]} here (inside "
                "shard_map): unpack outside it, or pass the Packed into shard_map whole (in_specs=P())"
            )
    buffers = [_replicated_explicitly(buf) for buf in buffers]
    return _unpack_in_program(layout, buffers)


def _replicated_explicitly(buf: Any) -> Any:
    """On Explicit axes a slice may not cut a sharded dimension unevenly. The tensors come out replicated
    (as unpack's leaves do on Auto axes), so one all-gather of the buffer is the least any unpack moves;
    under grad, its transpose just keeps each device's piece."""
    if not _sharded_explicitly(buf):
        return buf
    replicated = jax.sharding.NamedSharding(jax.typeof(buf).sharding.mesh, jax.sharding.PartitionSpec())
    return jax.sharding.reshard(buf, replicated)


# Unpacking inside a program, and why it is written this way (measured on XLA:CPU, jax 0.10):
#
# XLA:CPU compiles one LLVM kernel per fusion, but compiles identical fusions once. On a plain tree
# the tensors of one shape (every block of a transformer) share their kernels; a tensor sliced from a
# buffer at a constant offset carries that offset inside its fusion, so every tensor got a kernel of
# its own: 2,000 tensors compiled 2,000 kernels (41 s against 5.7 s for the tree; 200 tensors: 201
# object files against 5). Here each tensor is a ``dynamic_slice`` at an offset that XLA cannot fold:
# element ``zero`` of a constant ``[offset, 0]``, where ``zero`` is computed from the buffer's first
# element (always 0, which XLA cannot know). XLA:CPU fuses scalar constants into a kernel but passes
# an array constant in as an operand, so the fusions of one shape are identical again. The values
# are the buffer's own elements (bit-identical), and the offsets are never out of range, so both
# dynamic_slices skip the negative-index wrap-around (a compare, an add and a select per tensor
# that XLA could not fold either). (The offsets used to leave one ``lax.cond`` as separate scalars,
# with the wrap-around: grad of 10,000 tensors took 255 s of XLA, now 54-60 s against the tree's
# 27 s; 2,000 tensors, 13.2 s, now 5-7 s against 2.3-3.2 s. ``bench --ops unpack``.)
#
# Under ``grad``, a dynamic_slice would transpose to a full-size zero buffer per tensor; the custom JVP
# says the tangent is the same tensors cut by ``lax.split``, which JAX transposes to a concatenate: the
# gradient is one buffer assembled once (XLA merges nested concatenates into one, so the split is
# not chunked: one concatenate of 2,001 operands at 2,000 tensors either way). Forward mode
# (``jax.jvp``) evaluates the split.
#
# Measured alternatives (grad of sum(tanh(x) * x), XLA:CPU, jax 0.10.2; at 2,000 tensors the tree took
# 1.9-3.4 s of XLA and 10-20 ms a step): offsets passed as program inputs, 6-8 s of XLA; the gradient
# written by a chain of in-place ``dynamic_update_slice`` (a ``linear_call`` transposing the cut, or
# plain ``dynamic_slice`` tangents, whose zero-padded transposes XLA rewrites into such a chain):
# 8.5-11 s and 25-29 ms a step at 2,000, but one chain of 10,000 updates of one buffer took 276 s of
# XLA (its copy insertion and thunk graph are quadratic in the chain), and ``linear_call`` has no
# batching rule (``vmap`` of a per-example ``grad`` would fail); chains of 64 tensors into chunk
# buffers, concatenated: 9-10 s and a slower step; offsets XLA can fold (static slices, ``lax.split``
# forward, an ``optimization_barrier``, one int32 vector sliced per tensor), 37-45 s: each tensor
# becomes a kernel of its own again. The concatenate is one kernel whose LLVM optimization grows
# faster than its operand count (alone: 3.1 s of XLA at 2,000 operands, 37 s at 10,000); chunks of 64
# concatenated first behind an ``optimization_barrier`` took 6.9 s instead of 8.6 s at 2,000, with a
# second copy of the gradient in every step (41 -> 48 ms).
@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _unpack_in_program(layout: Layout, buffers: Sequence[Any]) -> list[Any]:
    leaves: list[Any] = [None] * layout.num_tensors
    for g, buf in zip(layout.groups, buffers, strict=True):
        if not g.length:  # only empty tensors: nothing to slice, no first element to read
            for m in g.members:
                leaves[m] = buf.reshape(layout.shapes[m])
            continue
        # an int32 offset addresses 2**31 elements; past that a tensor is cut at its constant offset
        small = [i for i, off in enumerate(g.offsets) if off + g.sizes[i] < _INT32_LIMIT]
        opaque = dict(zip(small, _opaque_offsets(buf, [g.offsets[i] for i in small]), strict=True))
        for i, (m, off, size) in enumerate(zip(g.members, g.offsets, g.sizes, strict=True)):
            piece = (
                jax.lax.dynamic_slice(buf, (opaque[i],), (size,), allow_negative_indices=False)
                if i in opaque
                else buf[off : off + size]
            )
            leaves[m] = piece.reshape(layout.shapes[m])
    return leaves


_INT32_LIMIT = 2**31 - 1


@_unpack_in_program.defjvp
def _unpack_in_program_jvp(layout: Layout, primals: tuple, tangents: tuple) -> tuple[list[Any], list[Any]]:
    (buffers,), (dots,) = primals, tangents
    return _unpack_in_program(layout, buffers), _split_leaves(layout, dots)


def _opaque_offsets(buf: jax.Array, offsets: Sequence[int]) -> tuple[jax.Array, ...]:
    """``offsets`` as int32 scalars XLA cannot constant-fold (see the note above): each the first
    element of a two-element constant ``[offset, 0]``, indexed by a zero computed from the buffer."""
    first = buf[0]
    if jnp.iscomplexobj(first):
        first = jnp.real(first)
    bits = jax.lax.bitcast_convert_type(first.astype(jnp.float32), jnp.int32)
    zero = jax.lax.clz(bits) >> 6  # clz of an int32 is at most 32: always 0, which XLA cannot know
    # (allow_negative_indices=False: no wrap-around select per offset, which XLA could not fold either)
    return tuple(
        jax.lax.dynamic_slice(np.array([o, 0], np.int32), (zero,), (1,), allow_negative_indices=False)[0]
        for o in offsets
    )


def _split_leaves(layout: Layout, buffers: Sequence[Any]) -> list[Any]:
    """The tensors (and the gaps between them) cut by one ``lax.split`` of each buffer."""
    leaves: list[Any] = [None] * layout.num_tensors
    for g, buf in zip(layout.groups, buffers, strict=True):
        if buf.dtype == jax.dtypes.float0:  # the tangent of an integer or bool buffer
            for m in g.members:
                leaves[m] = np.zeros(layout.shapes[m], jax.dtypes.float0)
            continue
        if layout.sharding is not None and not _arrays.has_explicit_axes(layout.sharding):
            # on Auto axes this places the gradient (the concatenate) where the buffer lies; nothing
            # else tells XLA's propagation, as the cut of the forward pass is data-dependent
            buf = _arrays.constrain(buf, layout.sharding)
        sizes, owners = _split_sizes(g)
        for owner, piece in zip(owners, jax.lax.split(buf, sizes), strict=True):
            if owner is not None:
                leaves[owner] = piece.reshape(layout.shapes[owner])
    return leaves


def _split_sizes(group: Group) -> tuple[list[int], list[int | None]]:
    """The pieces a buffer splits into, in buffer order, and the tensor each holds (None: a gap or padding)."""
    sizes: list[int] = []
    owners: list[int | None] = []
    end = 0
    for off, m, size in sorted(zip(group.offsets, group.members, group.sizes, strict=True)):
        if off > end:
            sizes.append(off - end)
            owners.append(None)
        sizes.append(size)
        owners.append(m)
        end = off + size
    if group.length > end:
        sizes.append(group.length - end)
        owners.append(None)
    return sizes, owners
