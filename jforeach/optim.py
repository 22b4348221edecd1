"""torch.optim-compatible optimizers as optax ``GradientTransformation``s.

``sgd``, ``adam``, ``adamw``, ``rmsprop`` and ``adagrad`` take torch.optim's argument
names and defaults, check their hyperparameters with torch's conditions at construction
time, and compute torch's ``_multi_tensor_*`` (``foreach=True``) update with jforeach ops,
so that ``optax.apply_updates`` lands on the parameters torch would have. Each is an
``optax.chain`` of the transforms in :mod:`jforeach.transforms` and works on a pytree of
arrays or on a :class:`jforeach.Packed` (then a step is one fused update per buffer).

Differences from torch: the optimizer holds no parameters (``tx.init(params)`` makes the
state, ``tx.update(grads, state, params)`` the updates); ``lr`` may also be an optax
schedule, called with the number of steps taken so far; boolean flags are keyword-only.

The arguments have torch's names; the states those of the optax transforms they are chained
from: torch's ``exp_avg``/``exp_avg_sq``/``max_exp_avg_sq`` are ``ScaleByAdamState.mu``/``.nu``
(``ScaleByAmsgradState`` adds ``.nu_max``), SGD's ``momentum_buffer`` is ``TraceState.trace``,
RMSprop's ``square_avg``/``grad_avg`` are ``ScaleByRmsState.nu`` or ``ScaleByRStdDevState.nu``/``.mu``,
Adagrad's ``sum`` is ``ScaleByRssState.sum_of_squares``, and ``step`` is their ``count``.
:func:`state_to_torch` and :func:`state_from_torch` convert by that table.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jforeach import lr_scheduler as lr_scheduler
from jforeach import swa_utils as swa_utils
from jforeach import transforms
from jforeach._optim_checks import _chain, _check, _check_betas, _check_non_negative, _learning_rate
from jforeach._optim_more import AdadeltaState as AdadeltaState
from jforeach._optim_more import AdafactorState as AdafactorState
from jforeach._optim_more import AdamaxState as AdamaxState
from jforeach._optim_more import AsgdState as AsgdState
from jforeach._optim_more import MuonState as MuonState
from jforeach._optim_more import NAdamState as NAdamState
from jforeach._optim_more import RAdamState as RAdamState
from jforeach._optim_more import RpropState as RpropState
from jforeach._optim_more import adadelta as adadelta
from jforeach._optim_more import adafactor as adafactor
from jforeach._optim_more import adamax as adamax
from jforeach._optim_more import asgd as asgd
from jforeach._optim_more import muon as muon
from jforeach._optim_more import nadam as nadam
from jforeach._optim_more import radam as radam
from jforeach._optim_more import rprop as rprop
from jforeach._state_dict import state_from_torch as state_from_torch
from jforeach._state_dict import state_to_torch as state_to_torch
from jforeach._state_dict import torch_order as torch_order

__all__ = ["adagrad", "adam", "adamw", "rmsprop", "sgd"]


def sgd(
    lr: optax.ScalarOrSchedule = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    *,
    nesterov: bool = False,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Stochastic gradient descent, as ``torch.optim.SGD(..., foreach=True)``.

    Args:
        lr: learning rate, a float or an optax schedule of the step count.
        momentum: momentum factor.
        dampening: dampening for momentum.
        weight_decay: L2 penalty, added to the gradient.
        nesterov: Nesterov momentum.
        maximize: maximize the objective instead of minimizing it.

    Returns:
        An ``optax.GradientTransformation``; apply its updates with
        ``optax.apply_updates``. ``update`` needs ``params`` when ``weight_decay != 0``.

    Raises:
        ValueError: with torch's conditions: ``lr < 0``, ``momentum < 0``,
            ``weight_decay < 0``, or ``nesterov`` with ``momentum <= 0`` or
            ``dampening != 0``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.array([1.0, 2.0], jnp.float32)]
        >>> tx = jforeach.optim.sgd(lr=0.1, momentum=0.9)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([1.0, -1.0], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]
        Array([0.9, 2.1], dtype=float32)

    See also:
        ``torch.optim.SGD``, ``optax.sgd``, :func:`jforeach.transforms.trace`.
    """
    lr = _learning_rate("sgd", lr, lambda lr: not lr < 0.0)
    _check_non_negative("sgd", nan_passes=True, momentum=momentum, weight_decay=weight_decay)
    _check(
        "sgd",
        lambda: not (nesterov and (momentum <= 0 or dampening != 0)),
        "Nesterov momentum requires a momentum and zero dampening",
    )
    return _chain(
        transforms.negate() if maximize else None,
        transforms.add_decayed_weights(weight_decay) if transforms._may_be_nonzero(weight_decay) else None,
        transforms.trace(momentum, nesterov, dampening=dampening) if transforms._may_be_nonzero(momentum) else None,
        transforms.scale_by_learning_rate(lr),
    )


def adam(
    lr: optax.ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    *,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> optax.GradientTransformation:
    """Adam, as ``torch.optim.Adam(..., foreach=True)``.

    Args:
        lr: learning rate, a float or an optax schedule of the step count.
        betas: coefficients of the running averages of the gradient and its square; ``betas[0]``
            may be a schedule of the step count (torch's schedulers that cycle it, e.g.
            ``lr_scheduler.OneCycleLR(...).momentum``).
        eps: added to the denominator.
        weight_decay: L2 penalty added to the gradient, or with
            ``decoupled_weight_decay=True`` the AdamW decay of the parameters.
        amsgrad: use the AMSGrad variant.
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: decay the parameters directly (AdamW).

    Returns:
        An ``optax.GradientTransformation``; apply its updates with
        ``optax.apply_updates``. ``update`` needs ``params`` when ``weight_decay != 0``.

    Raises:
        ValueError: with torch's conditions: ``lr < 0``, ``eps < 0``, a beta outside
            ``[0, 1)``, ``weight_decay < 0``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = {"w": jnp.array([1.0, 2.0], jnp.float32)}
        >>> tx = jforeach.optim.adam(lr=0.1)
        >>> state = tx.init(params)
        >>> updates, state = tx.update({"w": jnp.array([3.0, -0.5], jnp.float32)}, state, params)
        >>> optax.apply_updates(params, updates)["w"]
        Array([0.9, 2.1], dtype=float32)

    See also:
        ``torch.optim.Adam``, ``optax.adam``, :func:`jforeach.transforms.scale_by_adam`,
        :func:`jforeach.transforms.scale_by_amsgrad`.
    """
    return _adam("adam", lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay)


def _adam(
    name: str,
    lr: optax.ScalarOrSchedule,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> optax.GradientTransformation:
    """adam and adamw: torch's checks (errors name ``name``) and the chain."""
    lr = _learning_rate(name, lr)
    _check_non_negative(name, epsilon=eps)
    betas = _check_betas(name, betas)
    _check_non_negative(name, weight_decay=weight_decay)
    decoupled = decoupled_weight_decay and transforms._may_be_nonzero(weight_decay)
    coupled = not decoupled_weight_decay and transforms._may_be_nonzero(weight_decay)
    return _chain(
        transforms.negate() if maximize else None,
        transforms.add_decayed_weights(weight_decay) if coupled else None,
        # the learning rate goes into the step, where torch's addcdiv_ rounds it in
        transforms._scale_by_adam(*betas, eps, amsgrad=amsgrad, learning_rate=lr),
        transforms.add_decoupled_weight_decay(weight_decay, lr) if decoupled else None,
    )


def adamw(
    lr: optax.ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    *,
    amsgrad: bool = False,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """AdamW, as ``torch.optim.AdamW(..., foreach=True)``.

    ``adam(..., decoupled_weight_decay=True)`` with torch's AdamW default
    ``weight_decay=1e-2``: each step first multiplies the parameters by
    ``1 - lr * weight_decay``.

    Args:
        lr: learning rate, a float or an optax schedule of the step count.
        betas: coefficients of the running averages of the gradient and its square.
        eps: added to the denominator.
        weight_decay: decoupled weight decay coefficient.
        amsgrad: use the AMSGrad variant.
        maximize: maximize the objective instead of minimizing it.

    Returns:
        An ``optax.GradientTransformation``; apply its updates with
        ``optax.apply_updates``. ``update`` needs ``params`` when ``weight_decay != 0``.

    Raises:
        ValueError: with torch's conditions: ``lr < 0``, ``eps < 0``, a beta outside
            ``[0, 1)``, ``weight_decay < 0``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.array([1.0, 2.0], jnp.float32)]
        >>> tx = jforeach.optim.adamw(lr=0.5, weight_decay=1.0)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([3.0, -0.5], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]
        Array([0. , 1.5], dtype=float32)

    See also:
        ``torch.optim.AdamW``, ``optax.adamw``,
        :func:`jforeach.transforms.add_decoupled_weight_decay`.
    """
    return _adam("adamw", lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay=True)


def rmsprop(
    lr: optax.ScalarOrSchedule = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    *,
    centered: bool = False,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """RMSprop, as ``torch.optim.RMSprop(..., foreach=True)``.

    Args:
        lr: learning rate, a float or an optax schedule of the step count.
        alpha: smoothing constant of the squared-gradient average.
        eps: added to the denominator.
        weight_decay: L2 penalty, added to the gradient.
        momentum: momentum factor applied to the normalized gradient.
        centered: normalize by the estimated variance of the gradient.
        maximize: maximize the objective instead of minimizing it.

    Returns:
        An ``optax.GradientTransformation``; apply its updates with
        ``optax.apply_updates``. ``update`` needs ``params`` when ``weight_decay != 0``.

    Raises:
        ValueError: with torch's conditions: ``lr < 0``, ``eps < 0``,
            ``momentum < 0``, ``weight_decay < 0``, ``alpha < 0``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.array([1.0, 2.0], jnp.float32)]
        >>> tx = jforeach.optim.rmsprop(lr=0.01, alpha=0.75)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([3.0, -0.5], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]
        Array([0.98, 2.02], dtype=float32)

    See also:
        ``torch.optim.RMSprop``, ``optax.rmsprop``, :func:`jforeach.transforms.scale_by_rms`,
        :func:`jforeach.transforms.scale_by_stddev`.
    """
    lr = _learning_rate("rmsprop", lr)
    _check_non_negative("rmsprop", epsilon=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
    if transforms._may_be_nonzero(momentum):
        # torch: mul_(buf, momentum); addcdiv_(buf, grads, avg); add_(params, buf, alpha=-lr). Its
        # buffer starts at zero: `momentum * 0 + u` is the trace's first-step clone.
        step = [
            (transforms.scale_by_stddev if centered else transforms.scale_by_rms)(alpha, eps),
            transforms.trace(momentum),
            transforms.scale_by_learning_rate(lr),
        ]
    else:  # torch: addcdiv_(params, grads, avg, value=-lr)
        step = [transforms._scale_by_rms(alpha, eps, centered=centered, learning_rate=lr)]
    return _chain(
        transforms.negate() if maximize else None,
        transforms.add_decayed_weights(weight_decay) if transforms._may_be_nonzero(weight_decay) else None,
        *step,
    )


def adagrad(
    lr: optax.ScalarOrSchedule = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Adagrad, as ``torch.optim.Adagrad(..., foreach=True)``.

    Args:
        lr: learning rate, a float or an optax schedule of the step count; step ``t``
            (counting from 1) uses ``lr / (1 + (t - 1) * lr_decay)``.
        lr_decay: learning rate decay.
        weight_decay: L2 penalty, added to the gradient.
        initial_accumulator_value: initial value of the sum of squared gradients.
        eps: added to the denominator.
        maximize: maximize the objective instead of minimizing it.

    Returns:
        An ``optax.GradientTransformation``; apply its updates with
        ``optax.apply_updates``. ``update`` needs ``params`` when ``weight_decay != 0``.

    Raises:
        ValueError: with torch's conditions: ``lr < 0``, ``lr_decay < 0``,
            ``weight_decay < 0``, ``initial_accumulator_value < 0``, ``eps < 0``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.array([1.0, 2.0], jnp.float32)]
        >>> tx = jforeach.optim.adagrad(lr=0.5)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([3.0, -0.5], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]
        Array([0.5, 2.5], dtype=float32)

    See also:
        ``torch.optim.Adagrad``, ``optax.adagrad``,
        :func:`jforeach.transforms.scale_by_rss`.
    """
    lr = _learning_rate("adagrad", lr)
    _check_non_negative(
        "adagrad",
        lr_decay=lr_decay,
        weight_decay=weight_decay,
        initial_accumulator_value=initial_accumulator_value,
        epsilon=eps,
    )
    return _chain(
        transforms.negate() if maximize else None,
        transforms.add_decayed_weights(weight_decay) if transforms._may_be_nonzero(weight_decay) else None,
        # torch: addcdiv_(params, grads * -clr, std), the learning rate rounded into the numerator
        transforms._scale_by_rss(initial_accumulator_value, eps, lr)
        if not transforms._may_be_nonzero(lr_decay)
        else _scale_by_decayed_adagrad(initial_accumulator_value, eps, lr, lr_decay),
    )


class AdagradStepState(NamedTuple):
    """torch Adagrad's ``step``, which its ``lr_decay`` reads (kept apart from an lr schedule's count).

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach
        >>> jforeach.optim.adagrad(lr_decay=0.1).init([jnp.zeros(2)])[0][0]
        AdagradStepState(count=Array(0, dtype=int32))
    """

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count, as optax's states do


def _scale_by_decayed_adagrad(
    initial_accumulator_value: float, eps: float, lr: optax.ScalarOrSchedule, lr_decay: float
) -> optax.GradientTransformation:
    """torch's Adagrad step with ``clr = lr / (1 + (step - 1) * lr_decay)``.

    ``step`` is Adagrad's own count and ``lr`` a schedule of the scheduler's: two counters, which
    differ once ``amp.grad_scaler`` skips a step (the schedule's advances, Adagrad's does not).
    """
    adagrad = transforms._scale_by_rss(initial_accumulator_value, eps, 1.0)
    lr_init = transforms._schedule_state_init(lr)

    def init_fn(params: optax.Params) -> tuple[Any, Any, Any]:
        return AdagradStepState(count=jnp.zeros([], jnp.int32)), adagrad.init(params)[0], lr_init(params)

    def update_fn(updates: optax.Updates, state: Any, params: optax.Params | None = None) -> tuple[Any, Any]:
        del params
        step, adagrad_state, lr_state = state
        base, lr_state = transforms._learning_rate_now(lr, lr_state)
        clr = base / (1 + step.count * lr_decay)
        decayed = transforms._scale_by_rss(initial_accumulator_value, eps, clr)
        updates, (adagrad_state, _) = decayed.update(updates, (adagrad_state, optax.EmptyState()))
        return updates, (AdagradStepState(optax.safe_int32_increment(step.count)), adagrad_state, lr_state)

    return optax.GradientTransformation(init_fn, update_fn)


__all__ += ["adadelta", "adafactor", "adamax", "asgd", "muon", "nadam", "radam", "rprop"]
__all__ += ["state_from_torch", "state_to_torch", "torch_order"]
