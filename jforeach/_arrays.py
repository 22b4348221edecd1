"""Leaves and placements: what every module that takes arrays shares.

Flattening a tree into arrays (``as_leaves``, with torch's rule for ``None`` in a list), telling
numbers, concrete arrays and tracers apart, and placing an array inside a trace on any kind of mesh
(``constrain``). Errors here carry no function name: the public entry point adds it (``prefixed``).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _dtypes

# torch's Scalar: Python bool, int, float and complex, and numpy's scalars (a Fraction or a Decimal is
# a ``numbers.Number`` that torch's argument parser rejects)
_NUMBER_TYPES = (bool, int, float, complex, np.number, np.bool_)


CONCRETE: frozenset[type] = frozenset()  # concrete_types(), once known


@functools.cache
def concrete_types() -> frozenset[type]:
    """The concrete array type: comparing types is 5x faster than isinstance(x, jax.Array), which
    matters at 20,000 arrays a call. Found on first use: making an array at import would start JAX's
    backend, after which ``jax.distributed.initialize`` and backend flags can no longer be set. The
    first use may be inside a trace, where a new array would be a tracer: it is made eagerly."""
    global CONCRETE
    with jax.ensure_compile_time_eval():
        CONCRETE = frozenset({type(jnp.zeros(()))})
    return CONCRETE


def is_number(value: object) -> bool:
    return isinstance(value, _NUMBER_TYPES) and not isinstance(value, jax.Array | np.ndarray)


def is_other_number(value: object) -> bool:
    """A ``numbers.Number`` torch does not take as a Scalar (a Fraction, a Decimal)."""
    return isinstance(value, numbers.Number) and not is_number(value)


def leaf_name(tree: Any, index: int) -> str:
    """``[2]['w']`` style position of the index-th leaf, for error messages."""
    paths = jax.tree_util.tree_flatten_with_path(tree)[0]
    return jax.tree_util.keystr(paths[index][0]) or "<root>"


def as_leaves(tree: Any, what: str = "tensors", *, inplace: bool = False) -> tuple[list[jax.Array], Any]:
    """Flatten ``tree`` into JAX arrays, converting numpy arrays and Python numbers.

    ``None`` as ``tensors`` itself, or as an entry of a list or tuple of tensors (torch's TensorList,
    ``[a, None]``), is an error, as in torch. Deeper in a pytree (a dict value, a module's field, as
    ``eqx.partition`` leaves them) ``None`` is an empty subtree, as everywhere in JAX.
    ``inplace``: numpy arrays will be updated in place (see :func:`write_back`), so they must be
    writeable and of a dtype JAX computes in.
    """
    if holds_only_arrays(tree):
        return jax.tree.flatten(tree)  # the leaves are the entries: concrete arrays, nothing to convert
    if tree is None:
        raise TypeError(f"{what} is None; expected an array or a tree of arrays")
    if type(tree) in (list, tuple) and any(map(is_none, tree)):
        i = next(i for i, v in enumerate(tree) if v is None)
        raise TypeError(f"{what}[{i}] is None; every entry must be an array or a number")
    leaves, treedef = jax.tree.flatten(tree)
    if set(map(type, leaves)) <= concrete_types() or all(map(isinstance, leaves, itertools.repeat(jax.Array))):
        return leaves, treedef
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, jax.Array):
            continue
        if isinstance(leaf, np.ndarray) and inplace:
            problem = numpy_in_place_problem(leaf, f"{what}{leaf_name(tree, i)}")
            if problem is not None:
                raise problem
        if isinstance(leaf, np.ndarray | np.generic) or is_number(leaf):
            leaves[i] = jnp.asarray(leaf)
            continue
        raise TypeError(f"{what}{leaf_name(tree, i)} is a {type(leaf).__name__}, not an array or a number")
    return leaves, treedef


def prefixed(error: Exception, fname: str) -> Exception:
    """``error`` with the public function's name in front, as every jforeach error starts; an error
    already named is returned as it is."""
    if str(error).startswith("`jforeach."):
        return error
    return plain_type(error)(f"`jforeach.{fname}`: {error}")


def plain_type(error: Exception) -> type[Exception]:
    """The ``TypeError`` or ``ValueError`` a jforeach error is raised as (a subclass's constructor may
    take other arguments)."""
    if type(error) in (TypeError, ValueError):
        return type(error)
    return TypeError if isinstance(error, TypeError) else ValueError


@contextlib.contextmanager
def named(fname: str) -> Iterator[None]:
    """Name the ``TypeError``s and ``ValueError``s raised in the block with the public function ``fname``.

    Examples:
      >>> from jforeach import _arrays
      >>> with _arrays.named("pack"):
      ...     _arrays.as_leaves([1.0, None])
      Traceback (most recent call last):
      TypeError: `jforeach.pack`: tensors[1] is None; every entry must be an array or a number
    """
    try:
        yield
    except (TypeError, ValueError) as error:
        raise prefixed(error, fname) from None


def holds_only_arrays(tree: Any) -> bool:
    """A flat list, tuple or dict of JAX arrays (the common case): no None to look for."""
    if isinstance(tree, dict):
        tree = tree.values()
    elif not isinstance(tree, list | tuple):
        return False
    return set(map(type, tree)) <= concrete_types()


def is_none(x: Any) -> bool:
    return x is None


def numpy_in_place_problem(array: np.ndarray, name: str) -> Exception | None:
    """A numpy array is written into by an in-place op: it must be writeable, in a dtype JAX keeps."""
    if not array.flags.writeable:
        return ValueError(f"{name} is a read-only numpy array; an in-place op writes its result into it")
    if _dtypes.canonical(array.dtype) != array.dtype:
        return TypeError(
            f"{name} is a {array.dtype.name} numpy array, which JAX computes in "
            f"{_dtypes.canonical(array.dtype).name} (jax_enable_x64 is off): an in-place update would lose "
            "precision; enable x64, or convert it"
        )
    return None


def is_tracer(leaves: Sequence[object]) -> bool:
    types = set(map(type, leaves))
    return not types <= concrete_types() and any(issubclass(t, jax.core.Tracer) for t in types)


def in_shard_map() -> bool:
    """Inside ``jax.shard_map`` (a mesh axis is Manual): arrays are per-device pieces, placed by its specs."""
    return bool(jax.sharding.get_abstract_mesh().manual_axes)


def has_explicit_axes(sharding: Any) -> bool:
    """Whether ``sharding`` is a NamedSharding on a mesh with Explicit axes (``jax.make_mesh``'s default)."""
    mesh = getattr(sharding, "mesh", None)
    return mesh is not None and jax.sharding.AxisType.Explicit in getattr(mesh, "axis_types", ())


def constrain(x: jax.Array, sharding: Any) -> jax.Array:
    """``x`` placed as ``sharding`` inside a trace.

    On Explicit axes a sharding is part of the array's type and only ``jax.sharding.reshard`` changes
    it (``with_sharding_constraint`` accepts Auto axes only); inside ``shard_map`` the specs decide.
    """
    if in_shard_map():
        return x
    if has_explicit_axes(sharding):
        return jax.sharding.reshard(x, sharding)
    return jax.lax.with_sharding_constraint(x, sharding)


def first_repeat(arrays: Sequence[Any]) -> tuple[int, int] | None:
    """``(j, i)`` for the first array that appears again (at ``i``, first seen at ``j``), or None."""
    first: dict[int, int] = {}
    for i, array in enumerate(arrays):
        j = first.setdefault(id(array), i)
        if j != i:
            return j, i
    return None
