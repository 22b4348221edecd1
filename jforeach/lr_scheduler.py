"""torch.optim.lr_scheduler's schedulers as optax schedules (``jforeach.optim.lr_scheduler``).

Each scheduler takes the optimizer's learning rate ``lr`` where torch takes the optimizer, then
torch's other arguments with their names and defaults, and returns an optax schedule: a callable
``schedule(count) -> lr`` whose value at ``count == k`` is torch 2.13's
``scheduler.get_last_lr()[0]`` after ``k`` calls of ``scheduler.step()``, i.e. the learning rate of
the optimizer's ``k``-th update. Pass it as the ``lr`` of a :mod:`jforeach.optim` optimizer (optax
calls it with the number of updates so far), or to ``optax.inject_hyperparams``.

Values are torch's, not a formula that is close to them: most of torch's schedulers are
*recursive* (``step()`` multiplies the current lr by a factor), and repeated multiplication rounds
differently from a closed form. The schedulers here run torch's recursion in Python floats when
they are built and keep the results in a table (at most ``_EXACT_STEPS`` entries; schedules that are
constant after a point keep only that many), so that:

- with a Python ``int`` count the schedule returns a Python float, torch's value bit for bit;
- with an integer array, or a traced count under ``jax.jit``, it returns an array of JAX's default
  float dtype (float64 with ``jax_enable_x64``) computed with ``jax.numpy``: a table lookup, or
  torch's closed-form arithmetic in the same order (where ``jnp.cos`` or ``jnp.power`` may differ
  from Python's ``math`` by an ulp). Arrays of counts give arrays of values, elementwise.

Beyond the table the infinite recursive schedules (``StepLR``, ``ExponentialLR``,
``CosineAnnealingLR``) continue in closed form from its last entry; torch's own recursion drifts
from that closed form by about ``k * 2**-53`` relative (measured: under 1e-14 after 20,000
``ExponentialLR`` steps, under 1e-11 after 20,000 ``CosineAnnealingLR`` steps).

``ReduceLROnPlateau`` is not a schedule of the step count: it is an ``init``/``step`` pair on a
small state that a jitted loop carries (see its docstring).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "ReduceLROnPlateauState",
    "SequentialLR",
    "StepLR",
]

_EXACT_STEPS = 4096  # entries of torch's recursion kept for the infinite recursive schedules


def _float_dtype() -> Any:
    return jnp.result_type(float)


def _fail(name: str, message: str, error: type[Exception] = ValueError) -> Exception:
    return error(f"`jforeach.optim.lr_scheduler.{name}`: {message}")


def _at_count(name: str, count: Any, py: Callable[[int], float], jx: Callable[[Any], Any]) -> Any:
    """``py(k)`` for a Python or numpy int count, ``jx(array)`` for an integer array (under jit)."""
    if isinstance(count, int | np.integer) and not isinstance(count, bool):
        k = int(count)
        if k < 0:
            raise _fail(name, f"count must be non-negative, got {k}")
        return py(k)
    k_array = jnp.asarray(count)
    if not jnp.issubdtype(k_array.dtype, jnp.integer):
        raise _fail(name, f"count must be an integer, got dtype {k_array.dtype}", TypeError)
    return jx(k_array)


def _as_lr(name: str, lr: Any) -> float:
    if isinstance(lr, bool) or callable(lr):
        raise _fail(name, f"lr must be a number (the optimizer's learning rate), got {type(lr).__name__}", TypeError)
    try:
        return float(lr)
    except (TypeError, ValueError):
        raise _fail(name, f"lr must be a number (the optimizer's learning rate), got {lr!r}", TypeError) from None


def _lookup(table: Sequence[float], index: jax.Array) -> jax.Array:
    values = jnp.asarray(np.asarray(table, np.float64), _float_dtype())
    return values[jnp.clip(index, 0, len(table) - 1)]


class _Schedule:
    """Base of the schedules: ``schedule(count)`` dispatches to ``_py`` (an int) or ``_jx`` (an array).

    Subclasses also describe one torch ``get_lr()`` call, for the chaining schedulers:
    ``_torch_lr(k, lr_in)`` is the value torch's ``step()`` sets at ``last_epoch == k`` when the
    optimizer's lr is ``lr_in`` (``k == 0`` is the step torch takes at construction), and
    ``_epoch0(lr_in)`` is torch's ``_update_lr(0)`` (what ``SequentialLR`` calls at a milestone).
    """

    _name = "LRScheduler"
    _settles_at: int | None = None  # the step after which _torch_lr(k, lr_in) == lr_in, if any
    lr: float
    momentum: Any = None  # the cycled momentum (CyclicLR, OneCycleLR and composites of them)

    def __call__(self, count: Any) -> Any:
        """The learning rate after ``count`` scheduler steps (a float for an int, else an array)."""
        return _at_count(self._name, count, self._py, self._jx)

    def _py(self, k: int) -> float:
        raise NotImplementedError

    def _jx(self, k: jax.Array) -> jax.Array:
        raise NotImplementedError

    def _torch_lr(self, k: int, lr_in: float) -> float:
        raise NotImplementedError

    def _epoch0(self, lr_in: float) -> float:
        return self._torch_lr(0, lr_in)

    def _restarted(self, first: float) -> _Schedule:
        """This schedule as torch continues it after ``_update_lr(0)`` set the lr to ``first``."""
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr!r})"


class _Recursive(_Schedule):
    """A schedule given by torch's recursion, kept as a table of Python floats.

    ``_values(first)`` is the table (entry 0 is ``first``); ``_index`` maps a count to its entry
    (the count itself unless overridden); past the table ``_tail_*`` continue it (the last
    entry unless overridden).
    """

    def _init_table(self, first: float | None = None) -> None:
        self._first = self._torch_lr(0, self.lr) if first is None else first
        self._table = self._values(self._first)

    def _values(self, first: float) -> list[float]:
        stop = _EXACT_STEPS if self._settles_at is None else max(self._settles_at, 0) + 1
        table = [first]
        for k in range(1, stop):
            table.append(self._torch_lr(k, table[-1]))
        return table

    def _index(self, k: Any) -> Any:
        return k

    def _tail_py(self, i: int) -> float:
        return self._table[-1]

    def _tail_jx(self, i: jax.Array) -> jax.Array:
        return _lookup(self._table, i)

    def _py(self, k: int) -> float:
        i = self._index(k)
        return self._table[i] if i < len(self._table) else self._tail_py(i)

    def _jx(self, k: jax.Array) -> jax.Array:
        i = self._index(k)
        return jnp.where(i < len(self._table), _lookup(self._table, i), self._tail_jx(i))

    def _restarted(self, first: float) -> _Schedule:
        if first == self._first:
            return self
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._init_table(first)
        return clone


def _check_int(name: str, what: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        kind = "positive" if low == 1 else "non-negative"
        raise _fail(name, f"Expected {kind} integer {what}, but got {value!r}")


class StepLR(_Recursive):
    """Decays the learning rate by ``gamma`` every ``step_size`` steps, as ``torch.optim.lr_scheduler.StepLR``.

    torch multiplies the current lr by ``gamma`` at every multiple of ``step_size``; the schedule
    keeps those products (``_EXACT_STEPS`` of them, then ``gamma ** n`` times the last).

    Args:
        lr: the optimizer's learning rate (torch's ``initial_lr``).
        step_size: period of the decay, in steps.
        gamma: multiplicative factor of the decay.

    Returns:
        A schedule ``count -> lr``: a float for a Python int, an array for an array or tracer.

    Raises:
        ValueError: ``step_size`` is not a positive integer (torch divides by it at the first step).

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.StepLR(0.1, step_size=2, gamma=0.5)
        >>> [sched(k) for k in range(5)]
        [0.1, 0.1, 0.05, 0.05, 0.025]
        >>> import jax.numpy as jnp
        >>> sched(jnp.arange(5))
        Array([0.1  , 0.1  , 0.05 , 0.05 , 0.025], dtype=float32)

    See also:
        ``torch.optim.lr_scheduler.StepLR``, ``optax.exponential_decay(..., staircase=True)``.
    """

    _name = "StepLR"

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr = _as_lr(self._name, lr)
        _check_int(self._name, "step_size", step_size, 1)
        self.step_size, self.gamma = int(step_size), gamma
        self._init_table()

    def _torch_lr(self, k: int, lr_in: float) -> float:
        if k == 0 or k % self.step_size != 0:
            return lr_in
        return lr_in * self.gamma

    def _epoch0(self, lr_in: float) -> float:
        return self.lr * self.gamma ** (0 // self.step_size)

    def _values(self, first: float) -> list[float]:  # one entry per decay
        table = [first]
        while len(table) < _EXACT_STEPS:
            table.append(table[-1] * self.gamma)
        return table

    def _index(self, k: Any) -> Any:
        return k // self.step_size

    def _tail_py(self, i: int) -> float:
        return self._table[-1] * self.gamma ** (i - len(self._table) + 1)

    def _tail_jx(self, i: jax.Array) -> jax.Array:
        last = self._table[-1]
        exponent = jnp.maximum(i - len(self._table) + 1, 0).astype(_float_dtype())
        return last * jnp.power(jnp.asarray(self.gamma, _float_dtype()), exponent)


class ExponentialLR(StepLR):
    """Decays the learning rate by ``gamma`` every step, as ``torch.optim.lr_scheduler.ExponentialLR``.

    Args:
        lr: the optimizer's learning rate.
        gamma: multiplicative factor of the decay.

    Returns:
        A schedule ``count -> lr``; torch's repeated products for the first ``_EXACT_STEPS`` steps,
        then ``gamma ** n`` times the last of them.

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.ExponentialLR(1.0, gamma=0.5)
        >>> [sched(k) for k in range(4)]
        [1.0, 0.5, 0.25, 0.125]

    See also:
        ``torch.optim.lr_scheduler.ExponentialLR``, ``optax.exponential_decay``.
    """

    _name = "ExponentialLR"

    def __init__(self, lr: float, gamma: float) -> None:
        super().__init__(lr, step_size=1, gamma=gamma)


class MultiStepLR(_Recursive):
    """Decays the learning rate by ``gamma`` at each milestone, as ``torch.optim.lr_scheduler.MultiStepLR``.

    A milestone listed twice decays by ``gamma ** 2`` there, as torch's ``Counter`` does.

    Args:
        lr: the optimizer's learning rate.
        milestones: step counts at which to decay (any order).
        gamma: multiplicative factor of the decay.

    Returns:
        A schedule ``count -> lr``.

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.MultiStepLR(1.0, milestones=[2, 4, 4], gamma=0.5)
        >>> [sched(k) for k in range(6)]
        [1.0, 1.0, 0.5, 0.5, 0.125, 0.125]

    See also:
        ``torch.optim.lr_scheduler.MultiStepLR``, ``optax.piecewise_constant_schedule``.
    """

    _name = "MultiStepLR"

    def __init__(self, lr: float, milestones: Iterable[int], gamma: float = 0.1) -> None:
        self.lr = _as_lr(self._name, lr)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        # torch's last_epoch is a non-negative int: only such milestones are ever reached
        self._steps = sorted({int(m) for m in self.milestones if m >= 0 and m == int(m)})
        self._settles_at = self._steps[-1] if self._steps else 0
        self._init_table()

    def _torch_lr(self, k: int, lr_in: float) -> float:
        if k not in self.milestones:
            return lr_in
        return lr_in * self.gamma ** self.milestones[k]

    def _epoch0(self, lr_in: float) -> float:
        return self.lr * self.gamma ** bisect.bisect_right(sorted(self.milestones.elements()), 0)

    def _values(self, first: float) -> list[float]:  # entry j: the lr once j milestones have passed
        table = [first]
        for m in self._steps:
            table.append(first if m == 0 else self._torch_lr(m, table[-1]))
        return table

    def _index(self, k: Any) -> Any:
        if isinstance(k, int):
            return bisect.bisect_right(self._steps, k)
        return jnp.searchsorted(jnp.asarray(self._steps, k.dtype), k, side="right")


class ConstantLR(_Recursive):
    """Scales the learning rate by ``factor`` until ``total_iters``, as ``torch.optim.lr_scheduler.ConstantLR``.

    Args:
        lr: the optimizer's learning rate.
        factor: the factor, in ``[0, 1]``.
        total_iters: the step at which the lr is divided by ``factor`` again.

    Returns:
        A schedule ``count -> lr``.

    Raises:
        ValueError: ``factor`` outside ``[0, 1]`` (torch's check), or ``factor == 0`` with
            ``total_iters > 0`` (torch divides by it at step ``total_iters``).

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.ConstantLR(0.1, factor=0.5, total_iters=2)
        >>> [sched(k) for k in range(4)]
        [0.05, 0.05, 0.1, 0.1]

    See also:
        ``torch.optim.lr_scheduler.ConstantLR``.
    """

    _name = "ConstantLR"

    def __init__(self, lr: float, factor: float = 1.0 / 3, total_iters: int = 5) -> None:
        self.lr = _as_lr(self._name, lr)
        if factor > 1.0 or factor < 0:
            raise _fail(self._name, "Constant multiplicative factor expected to be between 0 and 1.")
        if factor == 0 and total_iters > 0:
            raise _fail(self._name, "factor 0 cannot be undone at total_iters (torch divides by zero there)")
        self.factor, self.total_iters = factor, total_iters
        self._settles_at = total_iters
        self._init_table()

    def _torch_lr(self, k: int, lr_in: float) -> float:
        if k == 0:
            return lr_in * self.factor
        if k != self.total_iters:
            return lr_in
        return lr_in * (1.0 / self.factor)

    def _epoch0(self, lr_in: float) -> float:
        return self.lr * (self.factor + (0 >= self.total_iters) * (1 - self.factor))


class LinearLR(_Recursive):
    """Moves the lr factor linearly from ``start_factor`` to ``end_factor``, as torch's ``LinearLR``.

    Args:
        lr: the optimizer's learning rate.
        start_factor: the factor at step 0, in ``(0, 1]``.
        end_factor: the factor from step ``total_iters`` on, in ``[0, 1]``.
        total_iters: the number of steps of the ramp.

    Returns:
        A schedule ``count -> lr`` (torch's recursive products, constant after ``total_iters``).

    Raises:
        ValueError: the factors are outside torch's ranges.

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.LinearLR(1.0, start_factor=0.25, end_factor=1.0, total_iters=3)
        >>> [sched(k) for k in range(5)]
        [0.25, 0.5, 0.75, 1.0, 1.0]

    See also:
        ``torch.optim.lr_scheduler.LinearLR``, ``optax.linear_schedule``.
    """

    _name = "LinearLR"

    def __init__(self, lr: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5) -> None:
        self.lr = _as_lr(self._name, lr)
        if start_factor > 1.0 or start_factor <= 0:
            raise _fail(
                self._name, "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."
            )
        if end_factor > 1.0 or end_factor < 0:
            raise _fail(self._name, "Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        self._settles_at = total_iters
        self._init_table()

    def _torch_lr(self, k: int, lr_in: float) -> float:
        if k == 0:
            return lr_in * self.start_factor
        if k > self.total_iters:
            return lr_in
        delta = self.end_factor - self.start_factor
        return lr_in * (1.0 + delta / (self.total_iters * self.start_factor + (k - 1) * delta))

    def _epoch0(self, lr_in: float) -> float:
        delta = self.end_factor - self.start_factor
        return self.lr * (self.start_factor + delta * min(self.total_iters, 0) / self.total_iters)


class PolynomialLR(_Recursive):
    """Decays the lr polynomially to 0 over ``total_iters`` steps, as torch's ``PolynomialLR``.

    Args:
        lr: the optimizer's learning rate.
        total_iters: the number of steps of the decay.
        power: the power of the polynomial.

    Returns:
        A schedule ``count -> lr`` (torch's recursive products, constant after ``total_iters``).

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.PolynomialLR(1.0, total_iters=4, power=1.0)
        >>> [sched(k) for k in range(6)]
        [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]

    See also:
        ``torch.optim.lr_scheduler.PolynomialLR``, ``optax.polynomial_schedule``.
    """

    _name = "PolynomialLR"

    def __init__(self, lr: float, total_iters: int = 5, power: float = 1.0) -> None:
        self.lr = _as_lr(self._name, lr)
        self.total_iters, self.power = total_iters, power
        self._settles_at = total_iters
        self._init_table()

    def _torch_lr(self, k: int, lr_in: float) -> float:
        if k == 0 or k > self.total_iters:
            return lr_in
        decay = ((1.0 - k / self.total_iters) / (1.0 - (k - 1) / self.total_iters)) ** self.power
        return lr_in * decay

    def _epoch0(self, lr_in: float) -> float:
        return self.lr * (1.0 - min(self.total_iters, 0) / self.total_iters) ** self.power


class CosineAnnealingLR(_Recursive):
    """Cosine annealing from ``lr`` to ``eta_min`` over ``T_max`` steps, as torch's ``CosineAnnealingLR``.

    torch's recursive form: past ``T_max`` the lr rises again (period ``2 * T_max``), and it
    drifts from the closed form ``eta_min + (lr - eta_min) * (1 + cos(pi k / T_max)) / 2`` by
    rounding; the schedule keeps torch's values for ``_EXACT_STEPS`` steps, then the closed form.

    Args:
        lr: the optimizer's learning rate.
        T_max: half the period, in steps.
        eta_min: the minimum learning rate.

    Returns:
        A schedule ``count -> lr``.

    Raises:
        ValueError: ``T_max == 0`` (torch divides by it at the first step).

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.CosineAnnealingLR(1.0, T_max=2)
        >>> [round(sched(k), 12) for k in range(5)]
        [1.0, 0.5, 0.0, 0.5, 1.0]

    See also:
        ``torch.optim.lr_scheduler.CosineAnnealingLR``, ``optax.cosine_decay_schedule``.
    """

    _name = "CosineAnnealingLR"

    def __init__(self, lr: float, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803 - torch's name
        self.lr = _as_lr(self._name, lr)
        if T_max == 0:
            raise _fail(self._name, "T_max must be nonzero, got 0")
        self.T_max, self.eta_min = T_max, eta_min
        self._init_table()

    def _torch_lr(self, k: int, lr_in: float) -> float:
        if k == 0:
            return lr_in
        if (k - 1 - self.T_max) % (2 * self.T_max) == 0:
            return lr_in + (self.lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
        ratio = (1 + math.cos(math.pi * k / self.T_max)) / (1 + math.cos(math.pi * (k - 1) / self.T_max))
        return ratio * (lr_in - self.eta_min) + self.eta_min

    def _epoch0(self, lr_in: float) -> float:
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * 0 / self.T_max)) / 2

    def _tail_py(self, i: int) -> float:
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * i / self.T_max)) / 2

    def _tail_jx(self, i: jax.Array) -> jax.Array:
        angle = math.pi * i.astype(_float_dtype()) / self.T_max
        return self.eta_min + (self.lr - self.eta_min) * (1 + jnp.cos(angle)) / 2


class LambdaLR(_Schedule):
    """``lr * lr_lambda(count)``, as ``torch.optim.lr_scheduler.LambdaLR``.

    ``lr_lambda`` is called with the count as given: a Python int, or an integer array (a tracer
    under ``jit``), so write it with ``jax.numpy`` to use the schedule under ``jit``.

    Args:
        lr: the optimizer's learning rate.
        lr_lambda: a function of the step count giving the factor.

    Returns:
        A schedule ``count -> lr``.

    Raises:
        TypeError: ``lr_lambda`` is not callable.

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.LambdaLR(0.5, lambda k: 0.5**k)
        >>> [sched(k) for k in range(3)]
        [0.5, 0.25, 0.125]

    See also:
        ``torch.optim.lr_scheduler.LambdaLR``.
    """

    _name = "LambdaLR"

    def __init__(self, lr: float, lr_lambda: Callable[[Any], Any]) -> None:
        self.lr = _as_lr(self._name, lr)
        if not callable(lr_lambda):
            raise _fail(self._name, f"lr_lambda should be a function, but got {type(lr_lambda).__name__}", TypeError)
        self.lr_lambda = lr_lambda

    def _torch_lr(self, k: int, lr_in: float) -> float:
        return self.lr * self.lr_lambda(k)

    def _py(self, k: int) -> float:
        return self.lr * self.lr_lambda(k)

    def _jx(self, k: jax.Array) -> jax.Array:
        return jnp.asarray(self.lr * self.lr_lambda(k), _float_dtype())


class MultiplicativeLR(_Recursive):
    """Multiplies the lr by ``lr_lambda(k)`` at every step ``k >= 1``, as torch's ``MultiplicativeLR``.

    ``lr_lambda`` is called with Python ints ``1 .. horizon - 1`` when the schedule is built (so
    any Python function works, under ``jit`` too) and the products are kept in a table.

    Args:
        lr: the optimizer's learning rate.
        lr_lambda: a function of the step number giving the factor.
        horizon: the number of steps tabulated (jforeach only). A count past it gives NaN for an
            array count and raises ``ValueError`` for an int.

    Returns:
        A schedule ``count -> lr``.

    Raises:
        TypeError: ``lr_lambda`` is not callable (torch's check).

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.MultiplicativeLR(1.0, lambda k: 0.5, horizon=100)
        >>> [sched(k) for k in range(4)]
        [1.0, 0.5, 0.25, 0.125]

    See also:
        ``torch.optim.lr_scheduler.MultiplicativeLR``.
    """

    _name = "MultiplicativeLR"

    def __init__(self, lr: float, lr_lambda: Callable[[int], float], *, horizon: int = 10_000) -> None:
        self.lr = _as_lr(self._name, lr)
        if not callable(lr_lambda):
            raise _fail(self._name, f"lr_lambda should be a function, but got {type(lr_lambda).__name__}", TypeError)
        _check_int(self._name, "horizon", horizon, 1)
        self.lr_lambda, self.horizon = lr_lambda, int(horizon)
        self._init_table()

    def _torch_lr(self, k: int, lr_in: float) -> float:
        return lr_in if k == 0 else lr_in * self.lr_lambda(k)

    def _epoch0(self, lr_in: float) -> float:  # torch has no closed form: get_lr() at epoch 0, not initial
        return lr_in * self.lr_lambda(0)

    def _values(self, first: float) -> list[float]:
        table = [first]
        for k in range(1, self.horizon):
            table.append(self._torch_lr(k, table[-1]))
        return table

    def _tail_py(self, i: int) -> float:
        raise _fail(self._name, f"count {i} is past horizon={self.horizon}; build it with a larger horizon")

    def _tail_jx(self, i: jax.Array) -> jax.Array:
        return jnp.full(i.shape, jnp.nan, _float_dtype())


def _cawr_position(k: int, T_0: int, T_mult: int) -> tuple[int, int]:  # noqa: N803 - torch's names
    """torch's ``(T_cur, T_i)`` after ``k`` steps (its integer recursion, solved exactly)."""
    if T_mult == 1:
        return k % T_0, T_0
    start, period = 0, T_0
    while k >= start + period:
        start, period = start + period, period * T_mult
    return k - start, period


class CosineAnnealingWarmRestarts(_Schedule):
    """Cosine annealing with warm restarts (SGDR), as torch's ``CosineAnnealingWarmRestarts``.

    The ``i``-th cycle lasts ``T_0 * T_mult ** i`` steps; within it the lr is
    ``eta_min + (lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``, computed from integer
    ``T_cur`` and ``T_i`` as torch does (no recursion on the lr, so no drift).

    Args:
        lr: the optimizer's learning rate.
        T_0: the length of the first cycle, a positive int.
        T_mult: the growth factor of the cycle length, an int ``>= 1``.
        eta_min: the minimum learning rate, a float or int.

    Returns:
        A schedule ``count -> lr``.

    Raises:
        ValueError: with torch's checks of ``T_0``, ``T_mult`` and ``eta_min``.

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.CosineAnnealingWarmRestarts(1.0, T_0=2, T_mult=2)
        >>> [round(sched(k), 12) for k in range(7)]
        [1.0, 0.5, 1.0, 0.853553390593, 0.5, 0.146446609407, 1.0]

    See also:
        ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts``, ``optax.sgdr_schedule``.
    """

    _name = "CosineAnnealingWarmRestarts"

    def __init__(self, lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> None:  # noqa: N803
        self.lr = _as_lr(self._name, lr)
        if not isinstance(T_0, int) or T_0 <= 0:
            raise _fail(self._name, f"Expected positive integer T_0, but got {T_0}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise _fail(self._name, f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, float | int):
            raise _fail(self._name, f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min

    def _py(self, k: int) -> float:
        t_cur, t_i = _cawr_position(k, self.T_0, self.T_mult)
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2

    def _torch_lr(self, k: int, lr_in: float) -> float:
        return self._py(k)

    def _jx(self, k: jax.Array) -> jax.Array:
        dtype = _float_dtype()
        if self.T_mult == 1:
            t_cur, t_i = (k % self.T_0).astype(dtype), jnp.asarray(float(self.T_0), dtype)
        else:
            limit = int(jnp.iinfo(k.dtype).max)
            starts, periods = [0], [self.T_0]
            while starts[-1] + periods[-1] <= limit:
                starts.append(starts[-1] + periods[-1])
                periods.append(periods[-1] * self.T_mult)
            cycle = jnp.searchsorted(jnp.asarray(starts, k.dtype), k, side="right") - 1
            t_cur = (k - jnp.asarray(starts, k.dtype)[cycle]).astype(dtype)
            t_i = jnp.asarray([float(p) for p in periods], dtype)[cycle]
        return self.eta_min + (self.lr - self.eta_min) * (1 + jnp.cos(math.pi * t_cur / t_i)) / 2


class _Momentum:
    """The momentum (or beta1) schedule that goes with a cyclic lr schedule."""

    def __init__(self, owner: CyclicLR | OneCycleLR) -> None:
        self._owner = owner

    def __call__(self, count: Any) -> Any:
        """The momentum after ``count`` scheduler steps (a float for an int, else an array)."""
        owner = self._owner
        if isinstance(count, int | np.integer) and not isinstance(count, bool):
            if count < 0:
                raise _fail(owner._name, f"count must be non-negative, got {count}")
            return owner._value(int(count), momentum=True)
        return owner._value_jx(jnp.asarray(count), momentum=True)


class CyclicLR(_Schedule):
    """Cyclical learning rate between ``base_lr`` and ``max_lr``, as ``torch.optim.lr_scheduler.CyclicLR``.

    torch's ``CyclicLR`` sets the optimizer's lr to ``base_lr``; ``lr`` is accepted for the
    common signature and not used. With ``cycle_momentum`` (torch's default) ``.momentum`` is the
    matching schedule of the optimizer's ``momentum`` (or ``betas[0]``), cycled inversely between
    ``max_momentum`` and ``base_momentum``; otherwise ``.momentum`` is None.

    Args:
        lr: the optimizer's learning rate (unused, as in torch).
        base_lr: the lower bound of the cycle.
        max_lr: the upper bound of the cycle.
        step_size_up: steps in the increasing half of a cycle.
        step_size_down: steps in the decreasing half (default: ``step_size_up``).
        mode: ``'triangular'``, ``'triangular2'`` or ``'exp_range'``; ignored with a ``scale_fn``.
        gamma: the base of ``'exp_range'``'s scaling ``gamma ** count``.
        scale_fn: a custom scaling of the amplitude, called with the cycle number or the count
            (a Python number, or an array under ``jit``).
        scale_mode: ``'cycle'`` or ``'iterations'``: what ``scale_fn`` is called with.
        cycle_momentum: whether ``.momentum`` is a schedule.
        base_momentum: the lower bound of the momentum.
        max_momentum: the upper bound of the momentum.

    Returns:
        A schedule ``count -> lr`` with a ``.momentum`` schedule.

    Raises:
        ValueError: ``mode`` is invalid and ``scale_fn`` is None (torch's check).

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.CyclicLR(0.1, base_lr=0.1, max_lr=0.5, step_size_up=2)
        >>> [round(sched(k), 12) for k in range(5)]
        [0.1, 0.3, 0.5, 0.3, 0.1]
        >>> [round(sched.momentum(k), 12) for k in range(3)]
        [0.9, 0.85, 0.8]

    See also:
        ``torch.optim.lr_scheduler.CyclicLR``.
    """

    _name = "CyclicLR"

    def __init__(
        self,
        lr: float,
        base_lr: float,
        max_lr: float,
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[Any], Any] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
    ) -> None:
        self.lr = _as_lr(self._name, lr)
        self.base_lr, self.max_lr = base_lr, max_lr
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        if self.total_size == 0:
            raise _fail(self._name, "step_size_up + step_size_down must be nonzero")
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise _fail(self._name, "mode is invalid and scale_fn is None")
        self.mode, self.gamma = mode, gamma
        self._scale_fn: Callable[[Any], Any]
        if scale_fn is not None:
            self._scale_fn, self.scale_mode = scale_fn, scale_mode
        elif mode == "triangular":
            self._scale_fn, self.scale_mode = (lambda x: 1.0), "cycle"
        elif mode == "triangular2":
            self._scale_fn, self.scale_mode = (lambda x: 1 / 2.0 ** (x - 1)), "cycle"
        else:
            self._scale_fn, self.scale_mode = (lambda x: gamma**x), "iterations"
        self.cycle_momentum = cycle_momentum
        self.base_momentum, self.max_momentum = base_momentum, max_momentum
        self.momentum = _Momentum(self) if cycle_momentum else None

    def _value(self, k: int, *, momentum: bool) -> float:
        cycle = math.floor(1 + k / self.total_size)
        x = 1.0 + k / self.total_size - cycle
        scale_factor = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self._scale_fn(cycle if self.scale_mode == "cycle" else k)
        if momentum:
            return self.max_momentum - (self.max_momentum - self.base_momentum) * scale_factor * scale
        return self.base_lr + (self.max_lr - self.base_lr) * scale_factor * scale

    def _value_jx(self, k: jax.Array, *, momentum: bool) -> jax.Array:
        if not jnp.issubdtype(k.dtype, jnp.integer):
            raise _fail(self._name, f"count must be an integer, got dtype {k.dtype}", TypeError)
        kf = k.astype(_float_dtype())
        cycle = jnp.floor(1 + kf / self.total_size)
        x = 1.0 + kf / self.total_size - cycle
        if self.step_ratio == 1.0:  # the falling branch divides by zero; torch never takes it then
            scale_factor = x / self.step_ratio
        else:
            scale_factor = jnp.where(x <= self.step_ratio, x / self.step_ratio, (x - 1) / (self.step_ratio - 1))
        scale = self._scale_fn(cycle if self.scale_mode == "cycle" else kf)
        if momentum:
            value = self.max_momentum - (self.max_momentum - self.base_momentum) * scale_factor * scale
        else:
            value = self.base_lr + (self.max_lr - self.base_lr) * scale_factor * scale
        return jnp.asarray(value, _float_dtype())

    def _py(self, k: int) -> float:
        return self._value(k, momentum=False)

    def _jx(self, k: jax.Array) -> jax.Array:
        return self._value_jx(k, momentum=False)

    def _torch_lr(self, k: int, lr_in: float) -> float:  # closed form: the lr it finds is ignored
        return self._value(k, momentum=False)


class OneCycleLR(_Schedule):
    """The 1cycle policy, as ``torch.optim.lr_scheduler.OneCycleLR``.

    The lr starts at ``max_lr / div_factor``, rises to ``max_lr`` over ``pct_start`` of
    ``total_steps`` and anneals to ``max_lr / div_factor / final_div_factor`` (with
    ``three_phase``, back to the start first). torch's ``OneCycleLR`` overwrites the optimizer's
    lr, so ``lr`` is accepted for the common signature and not used. With ``cycle_momentum``
    ``.momentum`` is the matching schedule of ``momentum`` (or ``betas[0]``); otherwise None.
    torch raises past ``total_steps``: so does an int count here; an array count gives NaN.

    Args:
        lr: the optimizer's learning rate (unused, as in torch).
        max_lr: the peak learning rate.
        total_steps: the number of steps of the cycle; or give ``epochs`` and ``steps_per_epoch``.
        epochs: the number of epochs.
        steps_per_epoch: the number of steps per epoch.
        pct_start: the fraction of the cycle spent rising, a float in ``[0, 1]``.
        anneal_strategy: ``'cos'`` or ``'linear'``.
        cycle_momentum: whether ``.momentum`` is a schedule.
        base_momentum: the momentum at the peak lr.
        max_momentum: the momentum at the start and end.
        div_factor: ``max_lr / initial lr``.
        final_div_factor: ``initial lr / final lr``.
        three_phase: use torch's three-phase schedule.

    Returns:
        A schedule ``count -> lr`` with a ``.momentum`` schedule.

    Raises:
        ValueError: with torch's checks of ``total_steps``, ``epochs``, ``steps_per_epoch``,
            ``pct_start`` and ``anneal_strategy``.

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> sched = lr_scheduler.OneCycleLR(
        ...     0.1, max_lr=1.0, total_steps=5, pct_start=0.5, anneal_strategy="linear", div_factor=4.0
        ... )
        >>> [round(sched(k), 6) for k in range(5)]
        [0.25, 0.75, 0.800005, 0.400015, 2.5e-05]
        >>> [round(sched.momentum(k), 6) for k in range(5)]
        [0.95, 0.883333, 0.87, 0.91, 0.95]

    See also:
        ``torch.optim.lr_scheduler.OneCycleLR``, ``optax.cosine_onecycle_schedule``.
    """

    _name = "OneCycleLR"

    def __init__(
        self,
        lr: float,
        max_lr: float,
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        self.lr = _as_lr(self._name, lr)
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise _fail(self._name, f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise _fail(self._name, f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise _fail(self._name, f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise _fail(self._name, "You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or pct_start < 0 or pct_start > 1:
            raise _fail(self._name, f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise _fail(self._name, f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self.anneal_strategy = anneal_strategy
        initial = max_lr / div_factor
        lrs = {"initial_lr": initial, "max_lr": max_lr, "min_lr": initial / final_div_factor}
        moms = {"max_momentum": max_momentum, "base_momentum": base_momentum}
        n = self.total_steps
        if three_phase:
            phases = [
                (float(pct_start * n) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * n) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            phases = [
                (float(pct_start * n) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        # torch writes these into the param group and reads them back at every step
        self._group_lrs, self._group_moms, self._phase_keys = lrs, moms, phases
        self._phases = [(end, lrs[a], lrs[b], moms[c], moms[d]) for end, a, b, c, d in phases]
        self.cycle_momentum = cycle_momentum
        self.momentum = _Momentum(self) if cycle_momentum else None
        self._value(0, momentum=False)  # torch's first step: raises where torch's does (a 0/0 phase)

    def _anneal(self, start: Any, end: Any, pct: Any, cos: Callable[[Any], Any]) -> Any:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _value(self, k: int, *, momentum: bool) -> float:
        if k > self.total_steps:
            raise _fail(
                self._name, f"Tried to step {k} times. The specified number of total steps is {self.total_steps}"
            )
        start_step = 0.0
        for i, (end_step, lr0, lr1, m0, m1) in enumerate(self._phases):
            if k <= end_step or i == len(self._phases) - 1:
                pct = (k - start_step) / (end_step - start_step)
                return self._anneal(m0, m1, pct, math.cos) if momentum else self._anneal(lr0, lr1, pct, math.cos)
            start_step = end_step
        raise AssertionError("unreachable")

    def _value_jx(self, k: jax.Array, *, momentum: bool) -> jax.Array:
        if not jnp.issubdtype(k.dtype, jnp.integer):
            raise _fail(self._name, f"count must be an integer, got dtype {k.dtype}", TypeError)
        dtype = _float_dtype()
        kf = k.astype(dtype)
        result = jnp.full(k.shape, jnp.nan, dtype)
        starts = [0.0] + [p[0] for p in self._phases[:-1]]
        # the last phase first, so that earlier phases overwrite it where they apply
        for i in reversed(range(len(self._phases))):
            end_step, lr0, lr1, m0, m1 = self._phases[i]
            span = end_step - starts[i]
            pct = (kf - starts[i]) / span if span != 0 else jnp.full(k.shape, jnp.nan, dtype)
            value = self._anneal(m0, m1, pct, jnp.cos) if momentum else self._anneal(lr0, lr1, pct, jnp.cos)
            applies = jnp.ones(k.shape, bool) if i == len(self._phases) - 1 else kf <= end_step
            result = jnp.where(applies, value, result)
        return jnp.where(k > self.total_steps, jnp.nan, result)

    def _py(self, k: int) -> float:
        return self._value(k, momentum=False)

    def _jx(self, k: jax.Array) -> jax.Array:
        return self._value_jx(k, momentum=False)

    def _torch_lr(self, k: int, lr_in: float) -> float:  # closed form: the lr it finds is ignored
        return self._value(k, momentum=False)

    def _with_group(self, lrs: dict[str, float], moms: dict[str, float]) -> OneCycleLR:
        """This schedule reading other values from the param group (another scheduler wrote them)."""
        if lrs == self._group_lrs and moms == self._group_moms:
            return self
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._group_lrs, clone._group_moms = lrs, moms
        clone._phases = [(end, lrs[a], lrs[b], moms[c], moms[d]) for end, a, b, c, d in self._phase_keys]
        clone.momentum = _Momentum(clone) if self.cycle_momentum else None
        return clone


_CYCLIC = (CyclicLR, OneCycleLR)


def _cycles_momentum(s: Any) -> bool:
    return isinstance(s, _CYCLIC) and s.cycle_momentum


class _Construction:
    """What torch's param group holds once ``schedulers`` were constructed, in this order, on it.

    torch's schedulers share the optimizer's param group: ``initial_lr`` is set by the first
    scheduler constructed (``setdefault``; ``CyclicLR`` first sets the lr to its ``base_lr``) and
    overwritten by every ``OneCycleLR``, which also writes ``max_lr`` and ``min_lr``; every
    scheduler that cycles the momentum writes ``max_momentum`` and ``base_momentum``. A scheduler's
    base lr is the ``initial_lr`` at its construction, and ``OneCycleLR`` reads its values back from
    the group at each step, so it runs with the last writer's. Each constructor also takes a step,
    whose momentum is the last one written before the schedulers step.

    Attributes:
        bases: torch's base lr of each scheduler (None for the cyclic ones, which have their own).
        initial_lr: the group's ``initial_lr`` after the constructions (SequentialLR restarts from it).
        stepping: the schedulers as they step after the constructions (a ``OneCycleLR`` with the
            group's values).
        construction_lr: the lr a ``CyclicLR``'s constructor sets, by index: the group's
            ``initial_lr`` (torch's constructor steps before it sets its own ``base_lrs``).
        momentum_at_construction: the momentum the constructors left, or None if none cycles it.
    """

    def __init__(self, lr: float, schedulers: Sequence[_Schedule]) -> None:
        initial: float | None = None
        lrs: dict[str, float] | None = None
        moms: dict[str, float] | None = None
        self.bases: list[float | None] = []
        self.construction_lr: dict[int, float] = {}
        self.momentum_at_construction: float | None = None
        for s in schedulers:
            if isinstance(s, OneCycleLR):
                lrs, initial = s._group_lrs, s._group_lrs["initial_lr"]
                self.bases.append(None)
            elif isinstance(s, CyclicLR):
                initial = s.base_lr if initial is None else initial
                self.bases.append(None)
                # its constructor's step runs before it replaces its base_lrs (the group's initial_lr)
                self.construction_lr[len(self.bases) - 1] = initial
            else:
                initial = lr if initial is None else initial
                self.bases.append(initial)
            if _cycles_momentum(s):
                if isinstance(s, OneCycleLR):
                    moms = s._group_moms
                else:
                    moms = {"max_momentum": s.max_momentum, "base_momentum": s.base_momentum}  # type: ignore[attr-defined]
                self.momentum_at_construction = s.momentum(0)
        self.initial_lr = lr if initial is None else initial
        self.stepping: list[_Schedule] = [
            s._with_group(lrs or s._group_lrs, moms if moms is not None and s.cycle_momentum else s._group_moms)
            if isinstance(s, OneCycleLR)
            else s
            for s in schedulers
        ]


def _check_members(name: str, schedulers: Sequence[Any], lr: float | None) -> float:
    if len(schedulers) < 1:
        raise _fail(name, f"{name} expects at least one scheduler, but got no scheduler.")
    base = schedulers[0].lr if lr is None and isinstance(schedulers[0], _Schedule) else lr
    for i, s in enumerate(schedulers):
        if isinstance(s, ReduceLROnPlateau):
            raise _fail(
                name,
                f"{name} does not support `ReduceLROnPlateau` scheduler as it requires additional kwargs to be "
                f"specified when calling `step`, but got one at index {i} in the given schedulers sequence.",
            )
        if not isinstance(s, _Schedule) or isinstance(s, SequentialLR | ChainedScheduler):
            raise _fail(name, f"the scheduler at index {i} is not a jforeach scheduler: {s!r}", TypeError)
    lr = _as_lr(name, base)
    construction = _Construction(lr, schedulers)
    for i, (s, expected) in enumerate(zip(schedulers, construction.bases, strict=True)):
        if expected is not None and s.lr != expected:
            why = "the optimizer's lr"
            if expected != lr:
                one_cycles = [j for j in range(i) if isinstance(schedulers[j], OneCycleLR)]
                j = one_cycles[-1] if one_cycles else 0
                why = (
                    f"its base lr in torch, the param group's initial_lr, which the {schedulers[j]._name} at "
                    f"index {j} set before it was constructed"
                )
            raise _fail(name, f"the scheduler at index {i} has lr={s.lr}, but {why} is {expected}")
    return lr


class SequentialLR(_Schedule):
    """Runs ``schedulers`` one after another, switching at ``milestones``, as torch's ``SequentialLR``.

    At a milestone torch restarts the next scheduler with ``_update_lr(0)`` (its closed form at
    step 0 where it has one, else ``get_lr()`` on the current lr) and steps it from there; the
    schedule reproduces that, including the restart values that differ from the scheduler's own
    value at 0 (``MultiplicativeLR`` and ``SWALR`` restart from the current lr).

    ``CyclicLR`` and ``OneCycleLR`` work as in torch, where the schedulers share the optimizer's
    param group and ``schedulers`` are taken as constructed in list order: torch's SequentialLR
    starts from the group's ``initial_lr``, which a ``OneCycleLR`` overwrites (with ``max_lr /
    div_factor``) and a ``CyclicLR`` constructed first sets to its ``base_lr``; a scheduler
    constructed after them has that ``initial_lr`` as its base lr, so build it with that ``lr``
    (a ``ValueError`` says which); a ``OneCycleLR`` reads its lrs and momenta back from the group,
    so it runs its own phases with the last constructed one's values. If a member cycles the
    momentum, ``.momentum`` is the optimizer's momentum (or ``betas[0]``) torch leaves after each
    count: set by the cycling scheduler during its segment, kept as it was left elsewhere. Past a
    ``OneCycleLR``'s ``total_steps`` within its segment torch raises, and so do int counts from
    there on (array counts give NaN).

    Args:
        lr: the optimizer's learning rate; every scheduler must have been built with it (or with
            torch's base lr, see above).
        schedulers: jforeach schedules (not composites or ``ReduceLROnPlateau``), in the order
            torch constructed them.
        milestones: the counts at which to switch, sorted; one fewer than ``schedulers``.

    Returns:
        A schedule ``count -> lr``, with a ``.momentum`` schedule (None if no member cycles it).

    Raises:
        ValueError: no schedulers, a wrong number of milestones (torch's checks), a scheduler built
            with another lr than torch's base lr for it, or a ``ReduceLROnPlateau``.
        TypeError: an entry that is not a jforeach scheduler.

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> warmup = lr_scheduler.LinearLR(1.0, start_factor=0.5, total_iters=2)
        >>> decay = lr_scheduler.ExponentialLR(1.0, gamma=0.5)
        >>> sched = lr_scheduler.SequentialLR(1.0, [warmup, decay], milestones=[2])
        >>> [sched(k) for k in range(5)]
        [0.5, 0.75, 1.0, 0.5, 0.25]

    See also:
        ``torch.optim.lr_scheduler.SequentialLR``, ``optax.join_schedules``.
    """

    _name = "SequentialLR"

    def __init__(self, lr: float, schedulers: Sequence[_Schedule], milestones: Sequence[int]) -> None:
        self.lr = _check_members(self._name, schedulers, _as_lr(self._name, lr))
        if len(milestones) != len(schedulers) - 1:
            raise _fail(
                self._name,
                "Sequential Schedulers expects number of schedulers provided to be one more than the number of "
                f"milestone points, but got number of schedulers {len(schedulers)} and the number of milestones "
                f"to be equal to {len(milestones)}",
            )
        self.milestones = [int(m) for m in milestones]
        construction = _Construction(self.lr, schedulers)
        stepping = construction.stepping
        # torch resets the lr to the group's initial_lr and steps the scheduler of count 0 from it
        first = stepping[0]._restarted(stepping[0]._torch_lr(0, construction.initial_lr))
        self._segments: list[tuple[int, _Schedule]] = [(0, first)]
        for m, s in zip(self.milestones, stepping[1:], strict=True):
            if m > 0:  # a milestone at 0 makes its scheduler the one that took torch's initial step
                s = _restart_after(self, s, m)
            self._segments.append((max(m, 0), s))
        self._momentum_start = construction.momentum_at_construction
        self.momentum = _SequentialMomentum(self) if self._momentum_start is not None else None

    def _py(self, k: int) -> float:
        start, s = self._segments[bisect.bisect_right(self.milestones, k)]
        return s._py(k - start)

    def _jx(self, k: jax.Array) -> jax.Array:
        index = jnp.searchsorted(jnp.asarray(self.milestones, k.dtype), k, side="right")
        values = [s._jx(jnp.maximum(k - start, 0)) for start, s in self._segments]
        return jnp.select([index == i for i in range(len(values))], values, jnp.nan)


class _Raises(_Schedule):
    """A segment torch never reaches: an earlier scheduler raised (``OneCycleLR`` past its steps)."""

    def __init__(self, error: ValueError) -> None:
        self.lr, self._error = math.nan, error

    def _py(self, k: int) -> float:
        raise ValueError(str(self._error))

    def _jx(self, k: jax.Array) -> jax.Array:
        return jnp.full(k.shape, jnp.nan, _float_dtype())

    def _torch_lr(self, k: int, lr_in: float) -> float:
        return self._py(k)


def _restart_after(owner: SequentialLR, s: _Schedule, m: int) -> _Schedule:
    """``s`` as torch's ``_update_lr(0)`` restarts it at milestone ``m`` (from the lr at ``m - 1``)."""
    if isinstance(s, _CYCLIC):  # closed form: the lr it finds does not matter
        return s
    try:
        before = owner._py(m - 1)
    except ValueError:  # torch raised at the first step past a OneCycleLR's total_steps
        start, prev = owner._segments[bisect.bisect_right(owner.milestones, m - 1)]
        if isinstance(prev, _Raises):
            return prev
        try:
            owner._py(start + prev.total_steps + 1)  # type: ignore[attr-defined]
        except ValueError as error:
            return _Raises(error)
        raise
    return s._restarted(s._epoch0(before))


class _SequentialMomentum:
    """The momentum of a :class:`SequentialLR` with a scheduler that cycles it.

    A segment whose scheduler cycles the momentum sets it at each of its steps (its own count from
    the milestone, as the lr); in another segment the momentum stays as the last such step left it,
    or as the schedulers' constructors left it before any.
    """

    def __init__(self, owner: SequentialLR) -> None:
        self._owner = owner

    def _segment(self, k: int) -> tuple[int, _Schedule]:
        owner = self._owner
        return owner._segments[bisect.bisect_right(owner.milestones, k)]

    def __call__(self, count: Any) -> Any:
        """The momentum after ``count`` scheduler steps (a float for an int, else an array)."""
        return _at_count(self._owner._name, count, self._py, self._jx)

    def _py(self, k: int) -> float:
        start, s = self._segment(k)
        if _cycles_momentum(s):
            return s.momentum(k - start)
        if start == 0:
            return self._owner._momentum_start  # type: ignore[return-value]
        return self._py(start - 1)

    def _jx(self, k: jax.Array) -> jax.Array:
        owner = self._owner
        index = jnp.searchsorted(jnp.asarray(owner.milestones, k.dtype), k, side="right")
        values = []
        for j, (start, s) in enumerate(owner._segments):
            if _cycles_momentum(s):
                values.append(s.momentum(jnp.maximum(k - start, 0)))
            else:
                values.append(jnp.broadcast_to(self._carried_jx(j, k.dtype), k.shape))
        return jnp.select([index == i for i in range(len(values))], values, jnp.nan)

    def _carried_jx(self, j: int, dtype: Any) -> jax.Array:
        """The momentum segment ``j`` (whose scheduler does not cycle it) starts with and keeps."""
        owner = self._owner
        start = owner._segments[j][0]
        if start == 0:
            return jnp.asarray(owner._momentum_start, _float_dtype())
        i = bisect.bisect_right(owner.milestones, start - 1)
        prev_start, prev = owner._segments[i]
        if _cycles_momentum(prev):
            return jnp.asarray(prev.momentum(jnp.asarray(start - 1 - prev_start, dtype)), _float_dtype())
        return self._carried_jx(i, dtype)


class ChainedScheduler(_Schedule):
    """Steps every scheduler of ``schedulers`` at each step, as ``torch.optim.lr_scheduler.ChainedScheduler``.

    Each of torch's schedulers acts on the lr the previous one left, so the schedule runs torch's
    steps in Python when it is built and keeps the values: exact up to the step after which every
    scheduler leaves the lr unchanged (then constant), or up to ``horizon`` steps. Past
    ``horizon`` an int count raises ``ValueError`` and an array count gives NaN.

    ``CyclicLR`` and ``OneCycleLR`` set the lr in closed form at each step (the schedulers after
    them act on it), with the param-group rules :class:`SequentialLR` describes: a scheduler
    constructed after a ``OneCycleLR``, or after a first ``CyclicLR``, has the group's
    ``initial_lr`` as its base lr and must be built with it. If a member cycles the momentum,
    ``.momentum`` is what the last such member sets at each step (at count 0, what the
    constructors left). Past a ``OneCycleLR``'s ``total_steps`` torch raises: an int count does
    too, with torch's message, an array count gives NaN.

    Args:
        schedulers: jforeach schedules built with the same ``lr`` (or torch's base lr, above; not
            composites or ``ReduceLROnPlateau``), in the order torch constructed them.
        lr: the optimizer's learning rate (default: the first scheduler's).
        horizon: the number of steps tabulated when some scheduler never settles (jforeach only).

    Returns:
        A schedule ``count -> lr``, with a ``.momentum`` schedule (None if no member cycles it).

    Raises:
        ValueError: no schedulers (torch's check), a scheduler built with another lr than torch's
            base lr for it, or a ``ReduceLROnPlateau``.
        TypeError: an entry that is not a jforeach scheduler.

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> a = lr_scheduler.ConstantLR(1.0, factor=0.5, total_iters=2)
        >>> b = lr_scheduler.ExponentialLR(1.0, gamma=0.5)
        >>> sched = lr_scheduler.ChainedScheduler([a, b], horizon=100)
        >>> [sched(k) for k in range(4)]
        [0.5, 0.25, 0.25, 0.125]

    See also:
        ``torch.optim.lr_scheduler.ChainedScheduler``.
    """

    _name = "ChainedScheduler"

    def __init__(self, schedulers: Sequence[_Schedule], lr: float | None = None, *, horizon: int = 10_000) -> None:
        self.lr = _check_members(self._name, schedulers, None if lr is None else _as_lr(self._name, lr))
        _check_int(self._name, "horizon", horizon, 1)
        self.schedulers = list(schedulers)
        construction = _Construction(self.lr, self.schedulers)
        settle = [s._settles_at for s in self.schedulers]
        self._settled = all(t is not None for t in settle)
        self.horizon = max(max(t for t in settle if t is not None), 0) + 1 if self._settled else int(horizon)  # type: ignore[type-var]
        # the constructors take step 0, each on the lr the previous one left; the later steps run
        # after every constructor wrote the param group (a OneCycleLR reads the last writer's values)
        value, self._table = self.lr, []
        self._error: ValueError | None = None
        for k in range(self.horizon):
            try:
                for i, s in enumerate(self.schedulers if k == 0 else construction.stepping):
                    if k == 0 and isinstance(s, CyclicLR):
                        value = construction.construction_lr[i]
                    else:
                        value = s._torch_lr(k, value)
            except ValueError as error:  # torch's OneCycleLR past its total_steps
                self._error, self.horizon = error, k
                break
            self._table.append(value)
        self._momentum_writer = next((s for s in reversed(construction.stepping) if _cycles_momentum(s)), None)
        self._momentum_start = construction.momentum_at_construction
        self.momentum = _ChainedMomentum(self) if self._momentum_writer is not None else None

    def _py(self, k: int) -> float:
        if k < self.horizon:
            return self._table[k]
        if self._error is not None:
            raise ValueError(str(self._error))  # torch's, at the first step past a OneCycleLR's total_steps
        if self._settled:
            return self._table[-1]
        raise _fail(self._name, f"count {k} is past horizon={self.horizon}; build it with a larger horizon")

    def _jx(self, k: jax.Array) -> jax.Array:
        value = _lookup(self._table, k)
        return value if self._settled and self._error is None else jnp.where(k < self.horizon, value, jnp.nan)


class _ChainedMomentum:
    """The momentum of a :class:`ChainedScheduler`: the last scheduler that cycles it sets it at each step."""

    def __init__(self, owner: ChainedScheduler) -> None:
        self._owner = owner

    def __call__(self, count: Any) -> Any:
        """The momentum after ``count`` scheduler steps (a float for an int, else an array)."""
        owner, writer = self._owner, self._owner._momentum_writer
        assert writer is not None and writer.momentum is not None
        if isinstance(count, int | np.integer) and not isinstance(count, bool):
            k = int(count)
            if k < 0:
                raise _fail(owner._name, f"count must be non-negative, got {k}")
            if k >= owner.horizon:
                owner._py(k)  # raises past the horizon, or where a OneCycleLR ran out of steps
            return owner._momentum_start if k == 0 else writer.momentum(k)
        k_array = jnp.asarray(count)
        if not jnp.issubdtype(k_array.dtype, jnp.integer):
            raise _fail(owner._name, f"count must be an integer, got dtype {k_array.dtype}", TypeError)
        start = jnp.asarray(owner._momentum_start, _float_dtype())
        value = jnp.where(k_array == 0, start, writer.momentum(k_array))
        return jnp.where(k_array < owner.horizon, value, jnp.nan) if not owner._settled else value


class ReduceLROnPlateauState(NamedTuple):
    """The state of :class:`ReduceLROnPlateau`: torch's scheduler attributes as arrays."""

    lr: jax.Array
    best: jax.Array
    num_bad_epochs: jax.Array
    cooldown_counter: jax.Array
    last_epoch: jax.Array


class ReduceLROnPlateau:
    """Reduces the lr when a metric stops improving, as ``torch.optim.lr_scheduler.ReduceLROnPlateau``.

    torch's version is fed the metric (``scheduler.step(val_loss)``) and changes the optimizer's
    lr. Here the decisions are a pure function on a small state, so a jitted loop carries it:
    ``state = plateau.init()`` once, ``state = plateau.step(state, metric)`` where torch calls
    ``step(metric)`` (inside or outside ``jit``), and ``state.lr`` is the lr to use. With an
    optimizer built by ``optax.inject_hyperparams``, write it into the optimizer's state, as
    ``param_group["lr"] = ...`` does in torch::

        tx = optax.inject_hyperparams(jforeach.optim.sgd)(lr=0.1, momentum=0.9)
        plateau = lr_scheduler.ReduceLROnPlateau(0.1, patience=3)
        plateau_state = plateau.init()

        @jax.jit
        def end_of_epoch(opt_state, plateau_state, val_loss):
            plateau_state = plateau.step(plateau_state, val_loss)
            opt_state.hyperparams["lr"] = plateau_state.lr
            return opt_state, plateau_state

    The arithmetic is in JAX's default float dtype: float64 with ``jax_enable_x64`` matches
    torch's Python floats decision for decision; float32 can decide differently where a metric
    is within float32 rounding of ``best * (1 - threshold)``. (``optax.contrib.reduce_on_plateau``
    is the optax counterpart; it scales the updates instead of setting the lr.)

    Args:
        lr: the optimizer's learning rate.
        mode: ``'min'`` (a lower metric is better) or ``'max'``.
        factor: the factor of a reduction, ``< 1``.
        patience: the number of bad steps tolerated before a reduction.
        threshold: the minimum improvement that counts.
        threshold_mode: ``'rel'`` (``best * (1 -+ threshold)``) or ``'abs'`` (``best -+ threshold``).
        cooldown: steps after a reduction during which bad steps are not counted.
        min_lr: the lower bound of the lr (a number, or a one-element list as torch's per group).
        eps: reductions smaller than this are skipped.

    Raises:
        ValueError: with torch's checks of ``factor``, ``mode``, ``threshold_mode`` and ``min_lr``.

    Examples:
        >>> from jforeach.optim import lr_scheduler
        >>> plateau = lr_scheduler.ReduceLROnPlateau(1.0, factor=0.5, patience=1)
        >>> state = plateau.init()
        >>> for loss in [3.0, 2.0, 2.0, 2.0, 1.0]:
        ...     state = plateau.step(state, loss)
        ...     print(float(state.lr))
        1.0
        1.0
        1.0
        0.5
        0.5

    See also:
        ``torch.optim.lr_scheduler.ReduceLROnPlateau``, ``optax.contrib.reduce_on_plateau``.
    """

    _name = "ReduceLROnPlateau"

    def __init__(
        self,
        lr: float,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        self.lr = _as_lr(self._name, lr)
        if factor >= 1.0:
            raise _fail(self._name, "Factor should be < 1.0.")
        if isinstance(min_lr, list | tuple):
            if len(min_lr) != 1:
                raise _fail(self._name, f"expected 1 min_lrs, got {len(min_lr)}")
            min_lr = min_lr[0]
        if mode not in ("min", "max"):
            raise _fail(self._name, f"mode {mode} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise _fail(self._name, f"threshold mode {threshold_mode} is unknown!")
        self.mode, self.factor, self.patience, self.threshold = mode, factor, patience, threshold
        self.threshold_mode, self.cooldown, self.min_lr, self.eps = threshold_mode, cooldown, min_lr, eps

    def init(self) -> ReduceLROnPlateauState:
        """The state before the first ``step``: the lr, ``best`` at the worst value, counters at 0."""
        dtype = _float_dtype()
        worst = math.inf if self.mode == "min" else -math.inf
        zero = jnp.zeros((), jnp.int32)
        return ReduceLROnPlateauState(jnp.asarray(self.lr, dtype), jnp.asarray(worst, dtype), zero, zero, zero)

    def _is_better(self, a: jax.Array, best: jax.Array) -> jax.Array:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, state: ReduceLROnPlateauState, metrics: jax.typing.ArrayLike) -> ReduceLROnPlateauState:
        """torch's ``step(metrics)``: the state after one more metric (a pure function, jittable).

        Args:
            state: the state from ``init`` or the previous ``step``.
            metrics: the metric, a number or a 0-d array.

        Returns:
            The new state; ``state.lr`` is the learning rate for the following steps.
        """
        current = jnp.asarray(metrics, state.best.dtype)
        better = self._is_better(current, state.best)
        best = jnp.where(better, current, state.best)
        bad = jnp.where(better, 0, state.num_bad_epochs + 1)
        in_cooldown = state.cooldown_counter > 0
        cooldown_counter = jnp.where(in_cooldown, state.cooldown_counter - 1, state.cooldown_counter)
        bad = jnp.where(in_cooldown, 0, bad)
        reduce = bad > self.patience
        new_lr = jnp.maximum(state.lr * self.factor, jnp.asarray(self.min_lr, state.lr.dtype))
        lr = jnp.where(reduce & (state.lr - new_lr > self.eps), new_lr, state.lr)
        cooldown_counter = jnp.where(reduce, self.cooldown, cooldown_counter)
        bad = jnp.where(reduce, 0, bad)
        return ReduceLROnPlateauState(lr, best, bad, cooldown_counter, state.last_epoch + 1)
