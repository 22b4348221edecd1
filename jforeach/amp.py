"""torch.amp's loss scaling for optax: the foreach AMP ops and a GradScaler transform (``jforeach.amp``).

- :func:`non_finite_check_and_unscale_` and :func:`update_scale_` are torch's
  ``torch._amp_foreach_non_finite_check_and_unscale_`` and ``torch._amp_update_scale_``.
- :func:`grad_scaler` wraps an optax ``GradientTransformation`` the way ``torch.amp.GradScaler``
  wraps an optimizer: multiply the loss by ``state.scale`` (:func:`scale_loss`), differentiate, and
  pass the scaled gradients to ``update``. It unscales them, skips the inner step when one of them
  is inf or NaN, and grows or backs off the scale exactly as ``GradScaler.update()``.

A training step, jitted with its parameters and state donated::

    tx = jforeach.amp.grad_scaler(jforeach.optim.adam(lr=1e-3))
    state = tx.init(params)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params, state, batch):
        grads = jax.grad(lambda p: jforeach.amp.scale_loss(loss(p, batch), state))(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jforeach import _api, _engine, packed
from jforeach.clip_grad import _inplace_leaves

__all__ = ["GradScalerState", "grad_scaler", "non_finite_check_and_unscale_", "scale_loss", "update_scale_"]

PyTree = Any

_INT32_MAX = int(np.iinfo(np.int32).max)


# ---------------------------------------------------------------------------------------
# torch's AMP ops


def _one_element(value: Any, name: str, dtype: Any, fname: str) -> jax.Array:
    """A one-element array of ``dtype`` (torch's check on the AMP ops' scalar tensors)."""
    if not isinstance(value, jax.Array | np.ndarray):
        raise TypeError(
            f"`jforeach.{fname}`: {name} must be a one-element {np.dtype(dtype).name} array, got "
            f"a {type(value).__name__}"
        )
    if value.size != 1:
        raise ValueError(f"`jforeach.{fname}`: {name} must have one element, got shape {tuple(value.shape)}")
    if value.dtype != dtype:
        raise TypeError(
            f"`jforeach.{fname}`: {name} must be a {np.dtype(dtype).name} array (as torch requires), "
            f"got {np.dtype(value.dtype).name}"
        )
    return jnp.asarray(value)


def _all_finite_leaves(leaves: list[jax.Array]) -> jax.Array:
    """Whether every element of ``leaves`` is finite, as a 0-d bool (one kernel per 1,024 arrays)."""
    if not leaves:
        return jnp.asarray(True)
    chunks = [_all_finite(leaves[i : i + _engine.CHUNK]) for i in range(0, len(leaves), _engine.CHUNK)]
    return functools.reduce(jnp.logical_and, chunks)


@jax.jit
def _all_finite(leaves: list[jax.Array]) -> jax.Array:
    return jnp.stack([jnp.isfinite(x).all() for x in leaves]).all()


@functools.partial(jax.jit, static_argnums=1)
def _all_finite_packed(buffers: tuple[jax.Array, ...], layout: Any) -> jax.Array:
    # a sharded layout's padding is masked out: jforeach ops keep it zero, other code may not
    flags = [jnp.isfinite(packed.zero_padding(g, b)).all() for g, b in zip(layout.groups, buffers, strict=True)]
    return jnp.stack(flags).all()


def _grads_all_finite(grads: Any) -> jax.Array:
    if isinstance(grads, packed.Packed) and grads.buffers:
        return _all_finite_packed(grads.buffers, grads.layout)
    return _all_finite_leaves(jax.tree.leaves(grads))


def non_finite_check_and_unscale_(grads: PyTree, found_inf: jax.Array, inv_scale: jax.Array) -> jax.Array:
    """Multiplies every gradient by ``inv_scale`` in place and flags any inf or NaN among them.

    torch's ``torch._amp_foreach_non_finite_check_and_unscale_``: each gradient becomes
    ``grad * inv_scale``, computed in float32 for float16/bfloat16 gradients (rounded once) and in
    the gradient's dtype otherwise (:func:`jforeach.mul_` with a 0-d float32 operand); where any
    element of the gradients *before* unscaling is inf or NaN, ``found_inf`` becomes 1.0, else it
    keeps its value. The gradients' buffers are donated and the caller's list, dict (at every
    level) or Packed holds the results; JAX arrays are immutable, so the new ``found_inf`` is
    returned instead of written into. Inside ``jax.jit`` the same values are computed functionally
    and the list, dict or Packed is updated with the traced results.

    Args:
        grads: A list or a dict of floating arrays (any pytree below them), or a
            :class:`jforeach.Packed`; float16, bfloat16, float32 and float64 may be mixed.
        found_inf: A one-element float32 array.
        inv_scale: A one-element float32 array, the multiplier (``1 / scale``).

    Returns:
        The new ``found_inf``, a float32 array of ``found_inf``'s shape.

    Raises:
        TypeError: if ``grads`` is not a list, dict or Packed, a gradient is not floating, or
            ``found_inf``/``inv_scale`` is not a float32 array.
        ValueError: if ``found_inf`` or ``inv_scale`` has more than one element, or the same array
            appears twice in ``grads``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach
        >>> grads = [jnp.array([2.0, 4.0]), jnp.array([jnp.inf], jnp.float16)]
        >>> found_inf = jforeach.amp.non_finite_check_and_unscale_(grads, jnp.zeros(()), jnp.array(0.5))
        >>> found_inf
        Array(1., dtype=float32)
        >>> grads
        [Array([1., 2.], dtype=float32), Array([inf], dtype=float16)]

    See also:
        ``torch._amp_foreach_non_finite_check_and_unscale_``, ``torch.amp.GradScaler.unscale_``,
        :func:`jforeach.mul_`.
    """
    fname = "amp.non_finite_check_and_unscale_"
    found_inf = _one_element(found_inf, "found_inf", np.float32, fname)
    inv_scale = _one_element(inv_scale, "inv_scale", np.float32, fname).reshape(())
    if not _inplace_leaves(grads, fname):
        return found_inf
    finite = _grads_all_finite(grads)  # before the buffers are donated
    _api.mul_(grads, inv_scale)
    return jnp.where(finite, found_inf, jnp.ones((), jnp.float32))


def _bits(limbs: list[jax.Array], lo: int, n: int) -> jax.Array:
    """Bits ``lo .. lo + n - 1`` (n <= 30) of the integer held in base-2**12 ``limbs``, as an int32."""
    out = jnp.zeros_like(limbs[0])
    for k, limb in enumerate(limbs):
        start, stop = max(lo, 12 * k), min(lo + n, 12 * k + 12)
        if start < stop:
            part = (limb >> (start - 12 * k)) & ((1 << (stop - start)) - 1)
            out = out | (part << (start - lo))
    return out


def _times_double(scale: jax.Array, factor: float) -> jax.Array:
    """``float32(float64(scale) * factor)``: torch's float * double, rounded to double, then to float.

    With x64 enabled this is the float64 product. Without it, a float32 ``factor`` (2.0, 0.5, any
    number of 24 significant bits) gives the same number as the float32 product (the float64
    product is exact); for another factor the 77-bit product of the two significands is formed
    exactly in int32 limbs of 12 bits and rounded to 53 bits, then to 24 bits, as the two
    roundings of the float64 path do. Zero, subnormal and non-finite scales use the float32
    product; a subnormal result is flushed to zero, as XLA:CPU flushes denormals.
    """
    if jax.config.read("jax_enable_x64"):
        return (scale.astype(jnp.float64) * np.float64(factor)).astype(jnp.float32)
    with np.errstate(over="ignore"):
        factor32 = np.float32(factor)
    if float(factor32) == factor or not math.isfinite(factor) or factor == 0:
        return scale * factor32
    return _times_significands(scale, *_double_parts(factor), factor32)


def _double_parts(factor: float) -> tuple[np.ndarray, int]:
    """``|factor| = mg * 2**eg`` with ``2**52 <= mg < 2**53``; ``mg`` as five base-2**12 int32 limbs."""
    mantissa, exponent = math.frexp(abs(factor))
    mg = int(mantissa * 2.0**53)
    return np.array([(mg >> (12 * j)) & 0xFFF for j in range(5)], np.int32), exponent - 53


def _times_significands(scale: jax.Array, limbs: Any, eg: Any, factor32: Any) -> jax.Array:
    """:func:`_times_double` for a factor given by :func:`_double_parts` (and its float32 rounding)."""
    bits = jax.lax.bitcast_convert_type(scale, jnp.uint32)
    es = ((bits >> 23) & 0xFF).astype(jnp.int32)
    ms = ((bits & 0x7FFFFF) | 0x800000).astype(jnp.int32)  # |scale| = ms * 2**(es - 150)
    a = [ms & 0xFFF, ms >> 12]
    b = [limbs[j] for j in range(5)]
    product_limbs, carry = [], jnp.zeros_like(ms)
    for k in range(6):  # the product ms * mg < 2**77, column by column, with carries
        column = carry + sum((a[i] * b[k - i] for i in range(2) if 0 <= k - i < 5), jnp.zeros_like(ms))
        product_limbs.append(column & 0xFFF)
        carry = column >> 12
    product_limbs.append(carry)
    finals, shifts = [], []
    for length in (76, 77):  # the product has 76 or 77 bits
        shift53, shift24 = length - 53, length - 24
        q = _bits(product_limbs, shift24, 24)  # the top 24 bits
        rest = _bits(product_limbs, shift53, shift24 - shift53)  # the next 29, down to the float64 rounding point
        half = _bits(product_limbs, shift53 - 1, 1)
        sticky = _bits(product_limbs, 0, shift53 - 1) != 0
        v = rest + (half & (sticky.astype(jnp.int32) | (rest & 1)))  # rounded to 53 bits
        finals.append(q + ((v > 2**28) | ((v == 2**28) & ((q & 1) == 1))).astype(jnp.int32))  # then to 24
        shifts.append(shift24)
    long = _bits(product_limbs, 76, 1) == 1
    final = jnp.where(long, finals[1], finals[0])
    product = jnp.ldexp(final.astype(jnp.float32), jnp.where(long, shifts[1], shifts[0]) + es - 150 + eg)
    product = jnp.where((scale < 0) != (factor32 < 0), -product, product)
    normal = (es > 0) & (es < 0xFF)
    return jnp.where(normal, product, scale * factor32)


@functools.partial(jax.jit, static_argnums=(3, 4, 5, 6))
def _update_scale(
    scale: jax.Array,
    growth_tracker: jax.Array,
    found_inf: jax.Array,
    growth_factor: float,
    backoff_factor: float,
    growth_interval: int,
    x64: bool,
) -> tuple[jax.Array, jax.Array]:
    del x64  # a cache key: _times_double computes in float64 when x64 is on
    shapes = scale.shape, growth_tracker.shape
    scale, growth_tracker, found_inf = scale.reshape(()), growth_tracker.reshape(()), found_inf.reshape(())
    found = found_inf != 0  # NaN too, as C++'s `if (*found_inf)`
    successful = growth_tracker + np.int32(1)
    grow = (successful == growth_interval) if growth_interval <= _INT32_MAX else jnp.zeros_like(found)
    grown = _times_double(scale, growth_factor)
    new_scale = jnp.where(
        found, _times_double(scale, backoff_factor), jnp.where(grow & jnp.isfinite(grown), grown, scale)
    )
    new_tracker = jnp.where(found | grow, jnp.zeros_like(growth_tracker), successful)
    return new_scale.reshape(shapes[0]), new_tracker.reshape(shapes[1])


def _static_real(value: Any, name: str, fname: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`jforeach.{fname}`: {name} must be a real number, got {value!r}")
    return float(value)


def _static_int(value: Any, name: str, fname: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`jforeach.{fname}`: {name} must be an int, got {value!r}")
    return int(value)


def update_scale_(
    scale: jax.Array,
    growth_tracker: jax.Array,
    found_inf: jax.Array,
    scale_growth_factor: float,
    scale_backoff_factor: float,
    growth_interval: int,
) -> tuple[jax.Array, jax.Array]:
    """The loss scale after one step: torch's ``torch._amp_update_scale_``.

    If ``found_inf`` is non-zero (or NaN), the scale is multiplied by ``scale_backoff_factor``
    and the tracker resets to 0. Otherwise the tracker counts one more successful step; when it
    reaches ``growth_interval`` the scale is multiplied by ``scale_growth_factor`` (unless that
    product overflows float32, which keeps the scale) and the tracker resets to 0. The products
    are torch's float32 scale times a float64 factor, rounded back to float32 (see the note on
    32-bit mode below). JAX arrays are immutable: the new values are returned, the inputs are
    unchanged.

    In JAX's default 32-bit mode (no ``jax_enable_x64``) the float64 product and its two
    roundings are computed exactly with int32 arithmetic, so the scale is torch's there too.

    Args:
        scale: A one-element float32 array, the current scale.
        growth_tracker: A one-element int32 array, the successful steps since the last change.
        found_inf: A one-element float32 array, non-zero if this step found inf or NaN gradients.
        scale_growth_factor: The growth multiplier.
        scale_backoff_factor: The backoff multiplier.
        growth_interval: How many successful steps in a row grow the scale.

    Returns:
        ``(new_scale, new_growth_tracker)``, with the shapes and dtypes of the inputs.

    Raises:
        TypeError: for an input of another dtype (torch's float32, int32, float32), or a factor or
            interval that is not a Python number.
        ValueError: if ``scale``, ``growth_tracker`` or ``found_inf`` has more than one element.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach
        >>> scale, tracker = jnp.array(1024.0), jnp.array(1, jnp.int32)
        >>> jforeach.amp.update_scale_(scale, tracker, jnp.array(0.0), 2.0, 0.5, 2)
        (Array(2048., dtype=float32), Array(0, dtype=int32))
        >>> jforeach.amp.update_scale_(scale, tracker, jnp.array(1.0), 2.0, 0.5, 2)
        (Array(512., dtype=float32), Array(0, dtype=int32))

    See also:
        ``torch._amp_update_scale_``, ``torch.amp.GradScaler.update``.
    """
    fname = "amp.update_scale_"
    scale = _one_element(scale, "scale", np.float32, fname)
    growth_tracker = _one_element(growth_tracker, "growth_tracker", np.int32, fname)
    found_inf = _one_element(found_inf, "found_inf", np.float32, fname)
    growth = _static_real(scale_growth_factor, "scale_growth_factor", fname)
    backoff = _static_real(scale_backoff_factor, "scale_backoff_factor", fname)
    interval = _static_int(growth_interval, "growth_interval", fname)
    x64 = bool(jax.config.read("jax_enable_x64"))
    return _update_scale(scale, growth_tracker, found_inf, growth, backoff, interval, x64)


# ---------------------------------------------------------------------------------------
# GradScaler


class GradScalerState(NamedTuple):
    """State of :func:`grad_scaler` (torch's ``GradScaler`` state around the inner optimizer's).

    Attributes:
        scale: float32 0-d, the scale to multiply the loss by (:func:`scale_loss`); 1.0 when the
            scaler is disabled.
        growth_tracker: int32 0-d, the successful steps since the scale last changed.
        found_inf: float32 0-d, 1.0 if the last update found inf or NaN gradients and was skipped.
        inner_state: The wrapped transformation's state.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> state = jforeach.amp.grad_scaler(optax.sgd(0.1)).init([jnp.zeros(2)])
        >>> state.scale, state.growth_tracker
        (Array(65536., dtype=float32), Array(0, dtype=int32))
    """

    scale: jax.Array
    growth_tracker: jax.Array
    found_inf: jax.Array
    inner_state: optax.OptState


def scale_loss(loss: PyTree, state: GradScalerState) -> PyTree:
    """Multiplies the loss (or any outputs) by the scaler's current scale: ``GradScaler.scale``.

    Differentiate the scaled loss and pass its gradients to the :func:`grad_scaler`'s ``update``.
    The product has torch's dtype: a 0-d float16 loss times the float32 scale is float32, an
    array of more dimensions keeps its dtype. With a disabled scaler the scale is 1.0 and the
    values are unchanged.

    Args:
        loss: An array (usually the 0-d loss) or a pytree of arrays.
        state: The :class:`GradScalerState` of the step.

    Returns:
        ``loss * state.scale``, with the structure of ``loss``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> state = jforeach.amp.grad_scaler(optax.sgd(0.1), init_scale=8.0).init([jnp.zeros(2)])
        >>> jforeach.amp.scale_loss(jnp.array(0.25), state)
        Array(2., dtype=float32)

    See also:
        ``torch.amp.GradScaler.scale``, :func:`jforeach.mul`.
    """
    if not isinstance(state, GradScalerState):
        raise TypeError(
            f"`jforeach.amp.scale_loss`: state must be the GradScalerState of a grad_scaler, got a "
            f"{type(state).__name__}"
        )
    return _api.mul(loss, state.scale)


def _inv_scale(scale: jax.Array) -> jax.Array:
    """torch's ``scale.double().reciprocal().float()``.

    Without x64 the float32 division is the same number: rounding the float64 quotient to float32
    gives the correctly rounded float32 quotient (53 >= 2 * 24 + 2 bits).
    """
    if jax.config.read("jax_enable_x64"):
        return (1.0 / scale.astype(jnp.float64)).astype(jnp.float32)
    return jnp.float32(1.0) / scale


def _check_factors(
    init_scale: Any, growth_factor: Any, backoff_factor: Any, growth_interval: Any, fname: str
) -> tuple[float, float, float, int]:
    init_scale = _static_real(init_scale, "init_scale", fname)
    growth_factor = _static_real(growth_factor, "growth_factor", fname)
    backoff_factor = _static_real(backoff_factor, "backoff_factor", fname)
    growth_interval = _static_int(growth_interval, "growth_interval", fname)
    if not growth_factor > 1.0:
        raise ValueError(f"`jforeach.{fname}`: the growth factor must be > 1.0, got {growth_factor}")
    if not backoff_factor < 1.0:
        raise ValueError(f"`jforeach.{fname}`: the backoff factor must be < 1.0, got {backoff_factor}")
    if not backoff_factor > 0.0:
        raise ValueError(
            f"`jforeach.{fname}`: the backoff factor must be > 0.0, got {backoff_factor} (a scale of 0 or below "
            "cannot be unscaled)"
        )
    if growth_interval <= 0:
        raise ValueError(f"`jforeach.{fname}`: the growth interval must be > 0, got {growth_interval}")
    if not 0.0 < init_scale <= float(np.finfo(np.float32).max):
        raise ValueError(
            f"`jforeach.{fname}`: the initial scale must be a positive, finite float32 number, got {init_scale}"
        )
    return init_scale, growth_factor, backoff_factor, growth_interval


_HYPERPARAM_STATES = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)


def _schedules_advanced(kept: Any, stepped: Any) -> Any:
    """The state ``kept`` with the counters of its schedules taken from ``stepped``.

    ``stepped`` is the state after the update that is skipped. A schedule's counter is a
    ``optax.ScaleByScheduleState`` (the learning-rate schedule of a ``jforeach.optim`` optimizer,
    of ``optax.scale_by_learning_rate`` and ``optax.scale_by_schedule``) or the ``count``,
    ``hyperparams`` and ``hyperparams_states`` of an ``optax.inject_hyperparams`` state (the
    schedules' values for this step, as torch's ``get_last_lr()``). Everything else, the optimizer's
    own step counts (``jforeach.transforms.ScaleByAdamState.count``, ``optax.ScaleByAdamState.count``:
    torch's ``step``, which its bias corrections read) included, is ``kept``.
    """
    if isinstance(kept, optax.ScaleByScheduleState):
        return stepped
    if isinstance(kept, _HYPERPARAM_STATES):
        changes = {name: getattr(stepped, name) for name in ("count", "hyperparams", "hyperparams_states")}
        changes = {name: value for name, value in changes.items() if name in kept._fields}
        return kept._replace(**changes, inner_state=_schedules_advanced(kept.inner_state, stepped.inner_state))
    if isinstance(kept, tuple) and hasattr(kept, "_fields"):
        return type(kept)(*(_schedules_advanced(a, b) for a, b in zip(kept, stepped, strict=True)))
    if isinstance(kept, tuple | list):
        return type(kept)(_schedules_advanced(a, b) for a, b in zip(kept, stepped, strict=True))
    if isinstance(kept, dict):
        return type(kept)((key, _schedules_advanced(value, stepped[key])) for key, value in kept.items())
    return kept


def grad_scaler(
    tx: optax.GradientTransformation,
    init_scale: float = 2.0**16,
    growth_factor: float = 2.0,
    backoff_factor: float = 0.5,
    growth_interval: int = 2000,
    enabled: bool = True,
) -> optax.GradientTransformation:
    """Dynamic loss scaling around an optax transformation: ``torch.amp.GradScaler`` as a transform.

    Multiply the loss by ``state.scale`` (:func:`scale_loss`) and pass the gradients of the
    scaled loss to ``update``. It does what ``scaler.step(optimizer); scaler.update()`` does:

    1. unscales the gradients by ``inv_scale = 1 / scale`` (computed as torch does, through
       float64) with :func:`non_finite_check_and_unscale_`'s arithmetic, checking them for inf and
       NaN before unscaling;
    2. if one is found, skips the step: the updates are zeros and the inner state is unchanged
       (``optimizer.step()`` is not called) but for the counters of its schedules, which advance,
       as torch's ``scheduler.step()`` still runs after a skipped step; otherwise runs
       ``tx.update`` on the unscaled gradients;
    3. updates the scale with :func:`update_scale_` (backoff on inf/NaN, growth after
       ``growth_interval`` successful steps in a row).

    On a skipped step the schedules' counters advance: every ``optax.ScaleByScheduleState`` (a
    ``jforeach.optim`` optimizer's ``lr=schedule``, ``optax.scale_by_learning_rate`` and
    ``optax.scale_by_schedule``) and the ``count`` and ``hyperparams`` of an
    ``optax.inject_hyperparams`` state inside ``tx``, so ``lr=lr_scheduler.OneCycleLR(...)`` (and a
    cycled ``betas[0]``) follows torch's ``scheduler.step()`` calls. The optimizer's own step counts,
    which torch's bias corrections (and Adagrad's ``lr_decay``) read, do not: the ``count`` of
    ``jforeach.transforms.ScaleByAdamState`` and of ``optax.ScaleByAdamState`` and the like stay, as
    torch's ``step`` does.

    ``update`` takes the gradients as values and returns new ones; nothing the caller holds is
    modified. Inside ``jax.jit`` the skip is a ``jax.lax.cond`` (the inner update runs only on
    finite steps), outside it a Python ``if``. Unlike torch, float16 gradients are accepted
    (torch's GradScaler refuses to unscale them; its unscaling op itself does not). XLA:CPU
    flushes denormals: a scale above 2**126, whose reciprocal is a float32 denormal, unscales
    the gradients to zero there (torch's CPU kernel keeps the denormal).

    Args:
        tx: The optax transformation to wrap (a ``jforeach.optim`` optimizer, an optax one, a
            chain); it receives the unscaled gradients.
        init_scale: The initial scale (rounded to float32, as torch's).
        growth_factor: The scale's multiplier after ``growth_interval`` finite steps; > 1.
        backoff_factor: The scale's multiplier after a step with inf/NaN gradients; in (0, 1).
        growth_interval: Finite steps in a row before the scale grows; a positive int.
        enabled: If False, ``update`` is ``tx.update`` (no unscaling, no skipping) and the
            scale stays 1.0, as a disabled ``GradScaler``.

    Returns:
        An ``optax.GradientTransformation`` with :class:`GradScalerState`.

    Raises:
        ValueError: when enabled, for ``growth_factor <= 1``, ``backoff_factor >= 1`` (torch's
            checks), ``backoff_factor <= 0``, ``growth_interval <= 0`` or an ``init_scale`` that is
            not positive and finite in float32.
        TypeError: if ``tx`` is not a GradientTransformation, or a factor, the interval or
            ``enabled`` has the wrong type.

    Examples:
        >>> import jax, jax.numpy as jnp, optax
        >>> import jforeach
        >>> tx = jforeach.amp.grad_scaler(jforeach.optim.sgd(lr=0.5), init_scale=4.0, growth_interval=1)
        >>> params = [jnp.array([1.0, 2.0])]
        >>> state = tx.init(params)
        >>> grads = jax.grad(lambda p: jforeach.amp.scale_loss(jnp.sum(p[0]), state))(params)
        >>> grads
        [Array([4., 4.], dtype=float32)]
        >>> updates, state = tx.update(grads, state, params)
        >>> updates, state.scale
        ([Array([-0.5, -0.5], dtype=float32)], Array(8., dtype=float32))
        >>> updates, state = tx.update([jnp.array([jnp.inf, 1.0])], state, params)  # skipped
        >>> updates, state.scale, state.found_inf
        ([Array([0., 0.], dtype=float32)], Array(4., dtype=float32), Array(1., dtype=float32))

    See also:
        ``torch.amp.GradScaler``, ``optax.apply_if_finite``, :func:`scale_loss`.
    """
    fname = "amp.grad_scaler"
    if not isinstance(tx, optax.GradientTransformation):
        raise TypeError(f"`jforeach.{fname}`: tx must be an optax.GradientTransformation, got {type(tx).__name__}")
    if not isinstance(enabled, bool):
        raise TypeError(f"`jforeach.{fname}`: enabled must be a bool, got {enabled!r}")
    if enabled:
        init_scale, growth_factor, backoff_factor, growth_interval = _check_factors(
            init_scale, growth_factor, backoff_factor, growth_interval, fname
        )

    def init_fn(params: optax.Params) -> GradScalerState:
        return GradScalerState(
            scale=jnp.full((), init_scale if enabled else 1.0, jnp.float32),
            growth_tracker=jnp.zeros((), jnp.int32),
            found_inf=jnp.zeros((), jnp.float32),
            inner_state=tx.init(params),
        )

    def update_fn(
        updates: optax.Updates, state: GradScalerState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, GradScalerState]:
        if not enabled:
            updates, inner_state = tx.update(updates, state.inner_state, params)
            return updates, state._replace(inner_state=inner_state)
        finite = _grads_all_finite(updates)
        unscaled = _api.mul(updates, _inv_scale(state.scale))

        def step() -> tuple[optax.Updates, optax.OptState]:
            return tx.update(unscaled, state.inner_state, params)

        def skip() -> tuple[optax.Updates, optax.OptState]:
            # torch skips optimizer.step() but the user's scheduler.step() still runs: the schedules'
            # counters advance, the rest of the state is kept (inside jit, XLA drops the dead math)
            stepped_updates, stepped_state = step()
            zeros = jax.tree.map(jnp.zeros_like, stepped_updates)
            return zeros, _schedules_advanced(state.inner_state, stepped_state)

        if isinstance(finite, jax.core.Tracer):
            new_updates, inner_state = jax.lax.cond(finite, step, skip)
        else:
            new_updates, inner_state = step() if finite else skip()
        found_inf = jnp.where(finite, jnp.zeros((), jnp.float32), jnp.ones((), jnp.float32))
        scale, tracker = _update_scale(
            state.scale,
            state.growth_tracker,
            found_inf,
            growth_factor,
            backoff_factor,
            growth_interval,
            bool(jax.config.read("jax_enable_x64")),
        )
        return new_updates, GradScalerState(scale, tracker, found_inf, inner_state)

    return optax.GradientTransformation(init_fn, update_fn)
