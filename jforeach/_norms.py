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

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Literal

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


def power_sum(reducer: Reducer, ord: Any, *, literal: bool = False) -> jax.Array:  # noqa: A002 - torch's name
    """sum ``|x| ** ord`` of the magnitudes ``reducer`` holds, with the norm's special orders: 0
    counts non-zeros, +-inf take the largest / smallest magnitude.

    ``literal``: 0 and +-inf are the sum of ``|x| ** ord`` itself, as torch's ``_foreach_powsum`` takes
    them (``0 ** 0`` is 1: order 0 counts every element).

    Examples:
      >>> import jax.numpy as jnp
      >>> from jforeach._norms import Along, Buffers, power_sum
      >>> a = jnp.array([3.0, 0.0, 4.0])
      >>> power_sum(Along(a), 2), power_sum(Along(a), 0), power_sum(Along(a), float("inf"))
      (Array(25., dtype=float32), Array(2., dtype=float32), Array(4., dtype=float32))
      >>> power_sum(Buffers([a, jnp.array([1.0])]), 1)
      Array(8., dtype=float32)
    """
    if literal and ord in (0, _INF, -_INF):
        return reducer.sum(lambda a: a**ord)
    if ord == 0:
        return reducer.count_nonzero()
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


@dataclasses.dataclass(frozen=True)
class Reduction:
    """What one per-tensor reduction row computes: the table's ``norm``, ``powsum`` and ``max`` are the
    three instances below, and every path (one tensor, segments of a buffer, pieces of a sharded
    buffer) asks the row's reduction rather than its name.

    Called on one array (the row's kernel on the list path), it reduces the whole array.

    Attributes:
      name: The op's name, for messages.
      ordered: Whether it takes ``ord`` and ``dtype`` and reduces magnitudes (norm, powsum); False:
        the values themselves, by their maximum (max).
      literal: ``ord`` 0 and +-inf are the sum of ``|x| ** ord`` itself (torch's ``_foreach_powsum``:
        order 0 counts every element, +inf gives inf, -inf 0 or inf).
      root: The power sum is finished into a norm (:func:`norm_from_power_sum`).
      any_float_dtype: ``dtype=`` may be any floating dtype, of an integral tensor too (powsum).
      bool_orders: ``True`` / ``False`` are taken as the orders 1 / 0 (torch's powsum; its norm
        rejects them).

    Examples:
      >>> import jax.numpy as jnp
      >>> from jforeach._norms import MAX, NORM, POWSUM
      >>> x = jnp.array([3.0, -4.0])
      >>> NORM(x, 2), POWSUM(x, 2), MAX(x)
      (Array(5., dtype=float32), Array(25., dtype=float32), Array(3., dtype=float32))
    """

    name: str
    ordered: bool = True
    literal: bool = False
    root: bool = False
    any_float_dtype: bool = False
    bool_orders: bool = False

    def __call__(self, x: jax.Array, ord: Any = None) -> jax.Array:  # noqa: A002 - torch's name
        values = jnp.abs(x) if self.ordered else x
        return self.finish(self.reduce(Along(values), ord), ord)

    def reduce(self, reducer: Reducer, ord: Any = None) -> jax.Array:  # noqa: A002
        """What each group of ``reducer``'s values reduces to before :meth:`finish`: its maximum,
        or its power sum of order ``ord`` (of magnitudes the caller took)."""
        if not self.ordered:
            return reducer.max()
        return power_sum(reducer, ord, literal=self.literal)

    def finish(self, s: jax.Array, ord: Any = None) -> jax.Array:  # noqa: A002
        """The result from :meth:`reduce`'s (combined) values: a norm's root, else the values."""
        return norm_from_power_sum(s, ord) if self.root else s

    def combine(self, ord: Any = None) -> Literal["max", "min", "sum"]:  # noqa: A002
        """How one tensor's partial results from several pieces of it combine before
        :meth:`finish`: ``"max"`` (max, the inf norm), ``"min"`` (the -inf norm) or ``"sum"`` (the
        power sums; powsum's +-inf orders)."""
        if not self.ordered or (self.root and ord == _INF):
            return "max"
        if self.root and ord == -_INF:
            return "min"
        return "sum"

    def empty_error(self, ord: Any = None) -> str | None:  # noqa: A002
        """Why it has no value on an empty tensor (no identity), or None where it has one."""
        if not self.ordered:
            return f"{self.name} of an empty tensor is undefined"
        if self.root and (ord < 0 or ord == _INF):
            return f"the {ord} norm of an empty tensor is undefined (no identity)"
        return None


NORM = Reduction("norm", root=True)
POWSUM = Reduction("powsum", literal=True, any_float_dtype=True, bool_orders=True)
MAX = Reduction("max", ordered=False)
