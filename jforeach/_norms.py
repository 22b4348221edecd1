"""The one home of norm / powsum / max arithmetic: torch's special orders, over any grouping of values.

torch's ``vector_norm`` and ``_foreach_powsum`` treat some orders specially: 0 counts the non-zeros,
``inf`` / ``-inf`` take the largest / smallest magnitude (``_foreach_powsum`` takes them literally,
as the sum of ``|x| ** ord``), 1 and 2 are plain sums. :func:`power_sum` holds that chain once; a
*reducer* says which values are reduced together:

- :class:`Along`: one array, whole or along an axis (the list path: one tensor; a run of
  equal-size tensors of a buffer, as rows);
- :class:`Segments`: each tensor of a buffer at once, by segment ids;
- :class:`Buffers`: every element of several buffers (the total norm of ``clip_by_norm``).

Max and min propagate NaN as torch's do (XLA:CPU's vectorized max can drop one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

_INF = float("inf")


def max_with_nan(x: jax.Array, axis: Any = None, initial: Any = None) -> jax.Array:
    """``jnp.max`` that returns NaN wherever the reduced values hold a NaN, as torch's max does.

    XLA:CPU's vectorized max can drop a NaN: ``jnp.max`` of 4,096 ones with a NaN last gives -inf.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jforeach._norms import max_with_nan
      >>> max_with_nan(jnp.array([1.0, jnp.nan, 3.0])), max_with_nan(jnp.array([[1, 5], [4, 2]]), axis=1)
      (Array(nan, dtype=float32), Array([5, 4], dtype=int32))
    """
    return _with_nan(jnp.max(x, axis=axis, initial=initial), x, axis)


def min_with_nan(x: jax.Array, axis: Any = None) -> jax.Array:
    """``jnp.min`` that returns NaN wherever the reduced values hold a NaN (see :func:`max_with_nan`)."""
    return _with_nan(jnp.min(x, axis=axis), x, axis)


def _with_nan(reduced: jax.Array, x: jax.Array, axis: Any) -> jax.Array:
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        return reduced
    return jnp.where(jnp.isnan(x).any(axis=axis), jnp.asarray(jnp.nan, reduced.dtype), reduced)


class Along:
    """Reduce one array ``a``, whole (``axis=None``) or along ``axis``."""

    def __init__(self, a: jax.Array, axis: Any = None):
        self.a, self.axis = a, axis

    def sum(self, f: Callable[[jax.Array], jax.Array]) -> jax.Array:
        return jnp.sum(f(self.a), axis=self.axis)

    def max(self, initial: Any = None) -> jax.Array:
        return max_with_nan(self.a, axis=self.axis, initial=initial)

    def min(self) -> jax.Array:
        return min_with_nan(self.a, axis=self.axis)

    def count_nonzero(self) -> jax.Array:
        return jnp.sum(self.a != 0, axis=self.axis).astype(self.a.dtype)


class Segments:
    """Reduce each of ``n`` segments of a buffer ``a`` at once; ``seg``: each element's segment,
    sorted (empty segments come out as the reduction's identity)."""

    def __init__(self, a: jax.Array, seg: jax.Array, n: int):
        self.a, self.seg, self.n = a, seg, n

    def _by(self, reduce: Any, values: jax.Array) -> jax.Array:
        return reduce(values, self.seg, num_segments=self.n, indices_are_sorted=True)

    def _with_nan(self, out: jax.Array) -> jax.Array:
        if not jnp.issubdtype(self.a.dtype, jnp.floating):
            return out
        return jnp.where(self._by(jax.ops.segment_max, jnp.isnan(self.a)), jnp.nan, out)

    def sum(self, f: Callable[[jax.Array], jax.Array]) -> jax.Array:
        return self._by(jax.ops.segment_sum, f(self.a))

    def max(self, initial: Any = None) -> jax.Array:
        out = self._by(jax.ops.segment_max, self.a)
        return self._with_nan(out if initial is None else jnp.maximum(out, initial))

    def min(self) -> jax.Array:
        return self._with_nan(self._by(jax.ops.segment_min, self.a))

    def count_nonzero(self) -> jax.Array:
        return self._by(jax.ops.segment_sum, (self.a != 0).astype(self.a.dtype))


class Buffers:
    """Reduce every element of several buffers together, one pass per buffer."""

    def __init__(self, buffers: Sequence[jax.Array]):
        self.buffers = list(buffers)

    def sum(self, f: Callable[[jax.Array], jax.Array]) -> jax.Array:
        return sum(jnp.sum(f(b)) for b in self.buffers)  # type: ignore[return-value]

    def max(self, initial: Any = None) -> jax.Array:
        return max_with_nan(jnp.stack([max_with_nan(b, initial=initial) for b in self.buffers]))

    def min(self) -> jax.Array:
        return min_with_nan(jnp.stack([min_with_nan(b) for b in self.buffers]))

    def count_nonzero(self) -> jax.Array:
        return sum(jnp.sum(b != 0).astype(b.dtype) for b in self.buffers)  # type: ignore[return-value]


Reducer = Along | Segments | Buffers


def power_sum(reducer: Reducer, ord: Any, *, literal_inf: bool = False) -> jax.Array:  # noqa: A002 - torch's name
    """sum ``|x| ** ord`` of the magnitudes ``reducer`` holds, with the norm's special orders: 0
    counts non-zeros, +-inf take the largest / smallest magnitude.

    ``literal_inf``: +-inf is the sum of ``|x| ** ord`` itself, as torch's ``_foreach_powsum`` takes it.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jforeach._norms import Along, Buffers, power_sum
      >>> a = jnp.array([3.0, 0.0, 4.0])
      >>> power_sum(Along(a), 2), power_sum(Along(a), 0), power_sum(Along(a), float("inf"))
      (Array(25., dtype=float32), Array(2., dtype=float32), Array(4., dtype=float32))
      >>> power_sum(Buffers([a, jnp.array([1.0])]), 1)
      Array(8., dtype=float32)
    """
    if ord == 0:
        return reducer.count_nonzero()
    if literal_inf and ord in (_INF, -_INF):
        return reducer.sum(lambda a: a**ord)
    if ord == _INF:
        return reducer.max(initial=0)
    if ord == -_INF:
        return reducer.min()
    if ord == 1:
        return reducer.sum(lambda a: a)
    if ord == 2:
        return reducer.sum(lambda a: a * a)
    return reducer.sum(lambda a: a**ord)


def norm_from_power_sum(s: jax.Array, ord: Any) -> jax.Array:  # noqa: A002
    """The ord-norm from :func:`power_sum`'s result."""
    if ord in (0, 1, _INF, -_INF):
        return s
    return jnp.sqrt(s) if ord == 2 else s ** (1.0 / ord)


def combine_across(name: str, ord: Any) -> str:  # noqa: A002
    """How one tensor's partial results from several pieces of it combine: ``"max"`` (``max``, the
    inf norm), ``"min"`` (the -inf norm) or ``"sum"`` (the power sums; powsum's +-inf orders)."""
    if name == "max" or (name == "norm" and ord == _INF):
        return "max"
    if name == "norm" and ord == -_INF:
        return "min"
    return "sum"
