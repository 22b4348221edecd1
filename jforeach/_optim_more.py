"""torch.optim's other optimizers: Adadelta, Adamax, NAdam, RAdam, Rprop, ASGD, Adafactor and Muon.

Each has torch.optim's argument names, defaults and construction-time checks, and computes
torch's ``_multi_tensor_<name>`` step (Muon: ``_single_tensor_muon``, torch's only one) with
jforeach ops, op by op, so that
``optax.apply_updates`` lands on the parameters torch's ``step()`` would have, on a pytree of
arrays or on a :class:`jforeach.Packed` (one fused update per buffer). They are re-exported by
:mod:`jforeach.optim`, whose helpers (hyperparameter checks, the chain) they use.

torch computes each step's scalars (bias corrections, NAdam's ``mu``, RAdam's rectification)
in Python floats; here they are computed in float64 when ``jax_enable_x64`` is on, with torch's
expressions, and in float32 otherwise, with rearrangements accurate to a few ulp where torch's
expression would cancel (RAdam's ``rho_t``). The per-parameter scalar states torch keeps as
float32 0-d tensors (NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``) are identical for every
parameter of a group, and are one float32 0-d array here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jforeach import _api, transforms
from jforeach._optim_checks import _chain, _check, _check_betas, _check_non_negative, _learning_rate
from jforeach.packed import Packed, pack

__all__ = [
    "AdadeltaState",
    "AdafactorState",
    "AdamaxState",
    "AsgdState",
    "MuonState",
    "NAdamState",
    "RAdamState",
    "RpropState",
    "adadelta",
    "adafactor",
    "adamax",
    "asgd",
    "muon",
    "nadam",
    "radam",
    "rprop",
]

# torch's float32 0-d per-parameter scalar states (``_get_scalar_dtype()``)
_STATE_SCALAR = jnp.float32


class AdadeltaState(NamedTuple):
    """State of :func:`adadelta` (torch's ``Adadelta`` per-parameter state; ``count`` is ``step``).

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> state = jforeach.optim.adadelta().init([jnp.zeros(2, jnp.float32)])
        >>> optax.tree_utils.tree_get(state, "acc_delta")
        [Array([0., 0.], dtype=float32)]
    """

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count, as optax's states do
    square_avg: optax.Updates
    acc_delta: optax.Updates


class AdamaxState(NamedTuple):
    """State of :func:`adamax` (torch's ``Adamax`` per-parameter state; ``count`` is ``step``).

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> state = jforeach.optim.adamax().init([jnp.zeros(2, jnp.float32)])
        >>> optax.tree_utils.tree_get(state, "exp_inf")
        [Array([0., 0.], dtype=float32)]
    """

    count: jax.Array  # type: ignore[assignment]
    exp_avg: optax.Updates
    exp_inf: optax.Updates


class NAdamState(NamedTuple):
    """State of :func:`nadam`; ``mu_product`` is one float32 0-d array (torch keeps one per parameter).

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> state = jforeach.optim.nadam().init([jnp.zeros(2, jnp.float32)])
        >>> optax.tree_utils.tree_get(state, "mu_product")
        Array(1., dtype=float32)
    """

    count: jax.Array  # type: ignore[assignment]
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates
    mu_product: jax.Array


class RAdamState(NamedTuple):
    """State of :func:`radam` (torch's ``RAdam`` per-parameter state; ``count`` is ``step``).

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> state = jforeach.optim.radam().init([jnp.zeros(2, jnp.float32)])
        >>> optax.tree_utils.tree_get(state, "exp_avg_sq")
        [Array([0., 0.], dtype=float32)]
    """

    count: jax.Array  # type: ignore[assignment]
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates


class RpropState(NamedTuple):
    """State of :func:`rprop`: the previous (masked) gradient and each entry's step size.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> state = jforeach.optim.rprop(lr=0.5).init([jnp.zeros(2, jnp.float32)])
        >>> optax.tree_utils.tree_get(state, "step_size")
        [Array([0.5, 0.5], dtype=float32)]
    """

    count: jax.Array  # type: ignore[assignment]
    prev: optax.Updates
    step_size: optax.Updates


class AsgdState(NamedTuple):
    """State of :func:`asgd`; ``eta`` and ``mu`` are float32 0-d arrays (torch keeps one per parameter).

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> state = jforeach.optim.asgd(lr=0.5).init([jnp.zeros(2, jnp.float32)])
        >>> optax.tree_utils.tree_get(state, "eta"), optax.tree_utils.tree_get(state, "mu")
        (Array(0.5, dtype=float32), Array(1., dtype=float32))
    """

    count: jax.Array  # type: ignore[assignment]
    eta: jax.Array
    mu: jax.Array
    ax: optax.Updates


class AdafactorState(NamedTuple):
    """State of :func:`adafactor`: factored second moments of the tensors with two or more
    dimensions (``row_var``, ``col_var``), the full one of the others (``variance``); each field
    is a tree with the parameters' structure and ``None`` where torch has no such key.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> state = jforeach.optim.adafactor().init({"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)})
        >>> optax.tree_utils.tree_get(state, "row_var")
        {'b': None, 'w': Array([[0.],
               [0.]], dtype=float32)}
    """

    count: jax.Array  # type: ignore[assignment]
    row_var: optax.Updates
    col_var: optax.Updates
    variance: optax.Updates


class MuonState(NamedTuple):
    """State of :func:`muon`: torch's ``Muon`` per-parameter state, its momentum buffer (torch keeps no step).

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> state = jforeach.optim.muon().init([jnp.zeros((2, 2), jnp.float32)])
        >>> optax.tree_utils.tree_get(state, "momentum_buffer")
        [Array([[0., 0.],
               [0., 0.]], dtype=float32)]
    """

    momentum_buffer: optax.Updates


# ---------------------------------------------------------------------------------------
# helpers


def _precise() -> Any:
    """The dtype of the step scalars torch computes in Python floats: float64 where JAX has it."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def _one_minus_pow(beta: float, t: jax.Array) -> jax.Array:
    """torch's ``1 - beta ** step`` in ``t``'s (precise) dtype.

    In float64 torch's expression; in float32 ``-expm1(step * log(beta))``, a few ulp from the
    exact value where ``1 - beta ** step`` would lose the digits that cancel.
    """
    if t.dtype == jnp.float64:
        return 1 - beta**t
    return transforms._one_minus_pow(beta, t, t.dtype)


def _lr_at_init(lr: optax.ScalarOrSchedule) -> Any:
    return lr(0) if callable(lr) else lr


def _nadam_mu(beta1: float, momentum_decay: Any, t: jax.Array) -> jax.Array:
    """NAdam's momentum at step ``t``, torch's ``beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))``.

    In float32 the power is ``exp(t * momentum_decay * log(0.96))``, with the logarithm taken in
    Python floats: within 2 ulp of torch's value rounded to float32.
    """
    exponent = t * momentum_decay
    power = 0.96**exponent if t.dtype == jnp.float64 else jnp.exp(exponent * jnp.asarray(math.log(0.96), t.dtype))
    return beta1 * (1.0 - 0.5 * power)


def _radam_rho_t(beta2: float, t: jax.Array) -> jax.Array:
    """RAdam's ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)`` in ``t``'s dtype.

    In float64 torch's expression. In float32 that expression cancels ``rho_inf`` (1999 for
    ``beta2=0.999``) against a term of nearly the same size while ``rho_t`` is a few units, and
    loses four digits; with ``a = -log(beta2)`` and ``y = a t`` the same number is
    ``rho_inf - 2 t / expm1(y)``, which for ``y <= 1`` is rearranged as
    ``(rho_inf - 2 / a) + t - (2 / a) g(y)`` with ``g(y) = y / expm1(y) - 1 + y / 2`` (a series
    in the Bernoulli numbers, truncated where its terms fall below float32's precision).
    """
    rho_inf = 2 / (1 - beta2) - 1
    if t.dtype == jnp.float64:
        return rho_inf - 2 * t * (beta2**t) / (1 - beta2**t)
    if beta2 == 0.0:  # beta2**t == 0: rho_t == rho_inf == 1
        return jnp.full_like(t, rho_inf)
    a = -math.log(beta2)
    y = t * jnp.asarray(a, t.dtype)
    direct = rho_inf - 2 * t / jnp.expm1(jnp.maximum(y, 1.0))
    y2 = y * y
    # y/expm1(y) = sum B_n y^n / n!: g(y) = y^2/12 - y^4/720 + y^6/30240 - y^8/1209600 + y^10/47900160
    g = y2 * (1 / 12 - y2 * (1 / 720 - y2 * (1 / 30240 - y2 * (1 / 1209600 - y2 / 47900160))))
    series = (rho_inf - 2 / a) + t - (2 / a) * g
    return jnp.where(y > 1.0, direct, series)


def _radam_rect(beta2: float, rho_t: jax.Array) -> jax.Array:
    """torch's rectification term, 0 while ``rho_t <= 5``."""
    rho_inf = 2 / (1 - beta2) - 1
    ratio = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
    return jnp.where(rho_t > 5, jnp.sqrt(jnp.where(rho_t > 5, ratio, 1.0)), 0.0)


# aten's pow_tensor_scalar kernel: these exponents of a float tensor are computed without pow
_POW_SPECIAL: dict[float, Callable[[jax.Array], jax.Array]] = {
    0.5: jnp.sqrt,
    -0.5: lambda x: 1 / jnp.sqrt(x),
    -1.0: lambda x: 1 / x,
    2.0: lambda x: x * x,
    3.0: lambda x: x * x * x,
    -2.0: lambda x: 1 / (x * x),
}


def _float32_pow(x: jax.Array, exponent: Any) -> jax.Array:
    """torch's ``x ** exponent`` for a float32 0-d tensor ``x``: ``std::pow(float, float)``.

    glibc's ``powf`` is correctly rounded but in rare cases, as is a float64 power rounded to
    float32; in 32-bit mode the power is float32's. An array exponent (``inject_hyperparams``)
    always takes the general path.
    """
    if isinstance(exponent, int | float) and float(exponent) in _POW_SPECIAL:
        return _POW_SPECIAL[float(exponent)](x)
    exponent = jnp.asarray(exponent, x.dtype).astype(_precise())  # torch: scalar_t(exp)
    return jnp.power(x.astype(_precise()), exponent).astype(x.dtype)


def _require_params(params: optax.Params | None, name: str) -> optax.Params:
    if params is None:
        raise ValueError(
            f"`jforeach.optim.{name}`: needs the current parameters; call `update(updates, state, params)` with params"
        )
    return params


def _step_with_params(
    name: str,
    init_fn: Callable[[optax.Params], Any],
    step_fn: Callable[[optax.Updates, Any, optax.Params, Any], tuple[optax.Updates, Any]],
    learning_rate: optax.ScalarOrSchedule,
) -> optax.GradientTransformation:
    """A torch step ``step_fn(updates, state, params, lr)`` that needs the parameters, as a transform.

    The state is ``(state, learning-rate state)``, as for the steps of
    ``transforms._with_learning_rate``.
    """
    lr_init = transforms._schedule_state_init(learning_rate)

    def init(params: optax.Params) -> tuple[Any, Any]:
        return init_fn(params), lr_init(params)

    def update(updates: optax.Updates, state: Any, params: optax.Params | None = None) -> tuple[optax.Updates, Any]:
        params = _require_params(params, name)
        inner, lr_state = state
        lr, lr_state = transforms._learning_rate_now(learning_rate, lr_state)
        updates, inner = step_fn(updates, inner, params, lr)
        return updates, (inner, lr_state)

    return optax.GradientTransformation(init, update)


def _prologue(
    maximize: bool, weight_decay: float, *, coupled: bool = True
) -> tuple[optax.GradientTransformation | None, ...]:
    """torch's ``grads = -grads`` (maximize), then ``grads + weight_decay * params``."""
    return (
        transforms.negate() if maximize else None,
        transforms.add_decayed_weights(weight_decay) if coupled and transforms._may_be_nonzero(weight_decay) else None,
    )


# ---------------------------------------------------------------------------------------
# the optimizers


def adadelta(
    lr: optax.ScalarOrSchedule = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Adadelta, as ``torch.optim.Adadelta(..., foreach=True)``.

    Args:
        lr: coefficient that scales the delta, a float or an optax schedule of the step count.
        rho: coefficient of the running averages of the squared gradient and squared delta.
        eps: added inside both square roots.
        weight_decay: L2 penalty, added to the gradient.
        maximize: maximize the objective instead of minimizing it.

    Returns:
        An ``optax.GradientTransformation`` with :class:`AdadeltaState`; apply its updates
        with ``optax.apply_updates``. ``update`` needs ``params`` when ``weight_decay != 0``.

    Raises:
        ValueError: with torch's conditions: ``lr < 0``, ``rho`` outside ``[0, 1]``,
            ``eps < 0``, ``weight_decay < 0``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.array([1.0, 2.0], jnp.float32)]
        >>> tx = jforeach.optim.adadelta(lr=1.0, rho=0.0, eps=0.0)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([3.0, -0.5], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]  # the first delta is 0: sqrt(acc_delta) = 0
        Array([1., 2.], dtype=float32)

    See also:
        ``torch.optim.Adadelta``, ``optax.adadelta``.
    """
    lr = _learning_rate("adadelta", lr)
    _check("adadelta", lambda: 0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
    _check_non_negative("adadelta", epsilon=eps, weight_decay=weight_decay)

    def init_fn(params: optax.Params) -> AdadeltaState:
        zeros = transforms._zeros_like
        return AdadeltaState(count=jnp.zeros([], jnp.int32), square_avg=zeros(params), acc_delta=zeros(params))

    def step_fn(updates: optax.Updates, state: AdadeltaState, lr: Any) -> tuple[optax.Updates, AdadeltaState]:
        # torch's _multi_tensor_adadelta, op by op
        square_avg = _api.addcmul(_api.mul(state.square_avg, rho), updates, updates, 1 - rho)
        std = _api.sqrt(_api.add(square_avg, eps))
        deltas = _api.sqrt(_api.add(state.acc_delta, eps))
        deltas = _api.mul(_api.div(deltas, std), updates)
        acc_delta = _api.addcmul(_api.mul(state.acc_delta, rho), deltas, deltas, 1 - rho)
        # torch: add_(params, deltas, alpha=-lr)
        count = optax.safe_int32_increment(state.count)
        return _api.mul(deltas, -lr), AdadeltaState(count, square_avg, acc_delta)

    return _chain(*_prologue(maximize, weight_decay), transforms._with_learning_rate(init_fn, step_fn, lr))


def adamax(
    lr: optax.ScalarOrSchedule = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Adamax (Adam with the infinity norm), as ``torch.optim.Adamax(..., foreach=True)``.

    Args:
        lr: learning rate, a float or an optax schedule of the step count.
        betas: coefficients of the running average of the gradient and of the decay of the
            running infinity norm.
        eps: added to ``|grad|`` before the running maximum.
        weight_decay: L2 penalty, added to the gradient.
        maximize: maximize the objective instead of minimizing it.

    Returns:
        An ``optax.GradientTransformation`` with :class:`AdamaxState`; apply its updates with
        ``optax.apply_updates``. ``update`` needs ``params`` when ``weight_decay != 0``.

    Raises:
        ValueError: with torch's conditions: ``lr < 0``, ``eps < 0``, a beta outside
            ``[0, 1)``, ``weight_decay < 0``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.array([1.0, 2.0], jnp.float32)]
        >>> tx = jforeach.optim.adamax(lr=0.1)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([3.0, -0.5], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]
        Array([0.9, 2.1], dtype=float32)

    See also:
        ``torch.optim.Adamax``, ``optax.adamax``.
    """
    lr = _learning_rate("adamax", lr)
    _check_non_negative("adamax", epsilon=eps)
    beta1, beta2 = _check_betas("adamax", betas)
    _check_non_negative("adamax", weight_decay=weight_decay)

    def init_fn(params: optax.Params) -> AdamaxState:
        zeros = transforms._zeros_like
        return AdamaxState(count=jnp.zeros([], jnp.int32), exp_avg=zeros(params), exp_inf=zeros(params))

    def step_fn(updates: optax.Updates, state: AdamaxState, lr: Any) -> tuple[optax.Updates, AdamaxState]:
        # torch's _multi_tensor_adamax, op by op
        count = optax.safe_int32_increment(state.count)
        exp_avg = _api.lerp(state.exp_avg, updates, 1 - beta1)
        exp_inf = _api.maximum(_api.mul(state.exp_inf, beta2), _api.add(_api.abs(updates), eps))
        t = count.astype(_precise())
        step_size = (jnp.asarray(lr, t.dtype) / _one_minus_pow(beta1, t)) * -1
        # torch: addcdiv_(params, exp_avgs, exp_infs, step_size) = params + (step_size * exp_avg) / exp_inf
        step_size = step_size.astype(transforms._scalar_dtype(updates))
        out = _api.div(_api.mul(exp_avg, step_size), exp_inf)
        return out, AdamaxState(count, exp_avg, exp_inf)

    return _chain(*_prologue(maximize, weight_decay), transforms._with_learning_rate(init_fn, step_fn, lr))


def nadam(
    lr: optax.ScalarOrSchedule = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """NAdam (Adam with Nesterov momentum), as ``torch.optim.NAdam(..., foreach=True)``.

    Args:
        lr: learning rate, a float or an optax schedule of the step count.
        betas: coefficients of the running averages of the gradient and its square.
        eps: added to the denominator.
        weight_decay: L2 penalty added to the gradient, or with
            ``decoupled_weight_decay=True`` the decay of the parameters by ``1 - lr * weight_decay``.
        momentum_decay: the momentum schedule's decay, ``mu_t = beta1 (1 - 0.96 ** (t * momentum_decay) / 2)``.
        decoupled_weight_decay: decay the parameters directly (NAdamW).
        maximize: maximize the objective instead of minimizing it.

    Returns:
        An ``optax.GradientTransformation`` with :class:`NAdamState`; apply its updates with
        ``optax.apply_updates``. ``update`` needs ``params`` (torch adds two terms to the
        parameters in turn, and the updates reproduce both roundings).

    Raises:
        ValueError: with torch's conditions: ``lr < 0``, ``eps < 0``, a beta outside
            ``[0, 1)``, ``weight_decay < 0``, ``momentum_decay < 0``; at ``update`` time, if
            ``params`` is not given.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.array([1.0, 2.0], jnp.float32)]
        >>> tx = jforeach.optim.nadam(lr=0.1)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([3.0, -0.5], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]
        Array([0.9, 2.1], dtype=float32)

    See also:
        ``torch.optim.NAdam``, ``optax.nadam``.
    """
    lr = _learning_rate("nadam", lr)
    _check_non_negative("nadam", epsilon=eps)
    beta1, beta2 = _check_betas("nadam", betas)
    _check_non_negative("nadam", weight_decay=weight_decay, momentum_decay=momentum_decay)
    decoupled = decoupled_weight_decay and transforms._may_be_nonzero(weight_decay)

    def init_fn(params: optax.Params) -> NAdamState:
        zeros = transforms._zeros_like
        return NAdamState(jnp.zeros([], jnp.int32), zeros(params), zeros(params), jnp.ones([], _STATE_SCALAR))

    def step_fn(
        updates: optax.Updates, state: NAdamState, params: optax.Params, lr: Any
    ) -> tuple[optax.Updates, NAdamState]:
        # torch's _multi_tensor_nadam, op by op
        count = optax.safe_int32_increment(state.count)
        exp_avg = _api.lerp(state.exp_avg, updates, 1 - beta1)
        exp_avg_sq = _api.addcmul(_api.mul(state.exp_avg_sq, beta2), updates, updates, 1 - beta2)
        exp_avg_sq_sqrt = _api.sqrt(exp_avg_sq)
        t = count.astype(_precise())
        bias_correction_sqrt = jnp.sqrt(_one_minus_pow(beta2, t))
        mu, mu_next = _nadam_mu(beta1, momentum_decay, t), _nadam_mu(beta1, momentum_decay, t + 1)
        # torch: mul_(mu_products, mus), a float32 0-d tensor times the number mu rounded to float32
        mu_product = state.mu_product * mu.astype(state.mu_product.dtype)
        dtype = transforms._scalar_dtype(updates)
        denom = _api.add(_api.div(exp_avg_sq_sqrt, bias_correction_sqrt.astype(dtype)), eps)
        lr = jnp.asarray(lr, t.dtype)
        mu_product_value = mu_product.astype(t.dtype)
        step_size_grads = (lr * (1.0 - mu) / (1.0 - mu_product_value)) * -1
        step_size_expavg = (lr * mu_next / (1.0 - mu_product_value * mu_next)) * -1
        new = _api.mul(params, (1 - lr * weight_decay).astype(dtype)) if decoupled else params
        new = _api.addcdiv(new, updates, denom, step_size_grads.astype(dtype))
        new = _api.addcdiv(new, exp_avg, denom, step_size_expavg.astype(dtype))
        return _api.sub(new, params), NAdamState(count, exp_avg, exp_avg_sq, mu_product)

    return _chain(
        *_prologue(maximize, weight_decay, coupled=not decoupled_weight_decay),
        _step_with_params("nadam", init_fn, step_fn, lr),
    )


def radam(
    lr: optax.ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """RAdam (rectified Adam), as ``torch.optim.RAdam(..., foreach=True)``.

    While the variance of the adaptive learning rate is intractable (``rho_t <= 5``: the first
    5 steps for ``beta2=0.999``) the step is the bias-corrected momentum; afterwards the
    rectified Adam step.

    Args:
        lr: learning rate, a float or an optax schedule of the step count.
        betas: coefficients of the running averages of the gradient and its square.
        eps: added to the denominator.
        weight_decay: L2 penalty added to the gradient, or with
            ``decoupled_weight_decay=True`` the decay of the parameters by ``1 - lr * weight_decay``.
        decoupled_weight_decay: decay the parameters directly (RAdamW).
        maximize: maximize the objective instead of minimizing it.

    Returns:
        An ``optax.GradientTransformation`` with :class:`RAdamState`; apply its updates with
        ``optax.apply_updates``. ``update`` needs ``params`` when ``weight_decay != 0``.

    Raises:
        ValueError: with torch's conditions: ``lr < 0``, ``eps < 0``, a beta outside
            ``[0, 1)``, ``weight_decay < 0``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.array([1.0, 2.0], jnp.float32)]
        >>> tx = jforeach.optim.radam(lr=0.1)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([3.0, -0.5], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]  # unrectified: params - lr * grad (torch: [0.7, 2.05])
        Array([0.6999999, 2.05     ], dtype=float32)

    See also:
        ``torch.optim.RAdam``, ``optax.radam``.
    """
    lr = _learning_rate("radam", lr)
    _check_non_negative("radam", epsilon=eps)
    beta1, beta2 = _check_betas("radam", betas)
    _check_non_negative("radam", weight_decay=weight_decay)
    decoupled = decoupled_weight_decay and transforms._may_be_nonzero(weight_decay)

    def init_fn(params: optax.Params) -> RAdamState:
        zeros = transforms._zeros_like
        return RAdamState(count=jnp.zeros([], jnp.int32), exp_avg=zeros(params), exp_avg_sq=zeros(params))

    def step_fn(updates: optax.Updates, state: RAdamState, lr: Any) -> tuple[optax.Updates, RAdamState]:
        # torch's _multi_tensor_radam, op by op
        count = optax.safe_int32_increment(state.count)
        t = count.astype(_precise())
        rect = _radam_rect(beta2, _radam_rho_t(beta2, t))
        exp_avg = _api.lerp(state.exp_avg, updates, 1 - beta1)
        exp_avg_sq = _api.addcmul(_api.mul(state.exp_avg_sq, beta2), updates, updates, 1 - beta2)
        lr = jnp.asarray(lr, t.dtype)
        bias_correction1 = _one_minus_pow(beta1, t)
        unrect_step_size = (lr * jnp.where(rect > 0, 0.0, 1.0) / bias_correction1) * -1
        # sqrt(1 - beta2**t) * lr * rect / bias_correction1, negated; -0.0 while unrectified
        bias_correction2 = (jnp.sqrt(_one_minus_pow(beta2, t)) * (lr * rect / bias_correction1)) * -1
        dtype = transforms._scalar_dtype(updates)
        buffer = _api.add(_api.sqrt(exp_avg_sq), eps)
        # buffer / -0.0 is -inf, whose reciprocal -0.0 adds nothing to the unrectified step size
        buffer = _api.reciprocal(_api.div(buffer, bias_correction2.astype(dtype)))
        buffer = _api.add(buffer, unrect_step_size.astype(dtype))
        # torch: addcmul_(params, exp_avgs, buffer)
        return _api.mul(exp_avg, buffer), RAdamState(count, exp_avg, exp_avg_sq)

    return _chain(
        *_prologue(maximize, weight_decay, coupled=not decoupled_weight_decay),
        transforms._with_learning_rate(init_fn, step_fn, lr),
        # torch multiplies the parameters by 1 - lr * weight_decay before adding the step
        transforms.add_decoupled_weight_decay(weight_decay, lr) if decoupled else None,
    )


def rprop(
    lr: optax.ScalarOrSchedule = 1e-2,
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (1e-6, 50),
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Rprop (resilient backpropagation), as ``torch.optim.Rprop(..., foreach=True)``.

    Each entry moves by its own step size against the sign of its gradient; the step size is
    multiplied by ``etaplus`` where the gradient kept its sign, by ``etaminus`` where it
    flipped (and that entry then skips one step), and clamped to ``step_sizes``.

    Args:
        lr: the initial step size of every entry (torch reads it once, at the first step); a
            float or an optax schedule, whose value at the first step is used.
        etas: ``(etaminus, etaplus)``, the multiplicative decrease and increase factors.
        step_sizes: ``(min, max)``, the bounds of the step sizes.
        maximize: maximize the objective instead of minimizing it.

    Returns:
        An ``optax.GradientTransformation`` with :class:`RpropState`; apply its updates with
        ``optax.apply_updates``.

    Raises:
        ValueError: with torch's conditions: ``lr < 0``, or not ``0 < etaminus < 1 < etaplus``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.array([1.0, 2.0], jnp.float32)]
        >>> tx = jforeach.optim.rprop(lr=0.5)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([3.0, -0.5], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]
        Array([0.5, 2.5], dtype=float32)

    See also:
        ``torch.optim.Rprop``, ``optax.rprop``.
    """
    lr = _learning_rate("rprop", lr)
    if len(tuple(etas)) != 2 or len(tuple(step_sizes)) != 2:
        raise ValueError(f"`jforeach.optim.rprop`: etas and step_sizes must be pairs, got {etas!r} and {step_sizes!r}")
    etaminus, etaplus = etas
    step_size_min, step_size_max = step_sizes
    _check("rprop", lambda: 0.0 < etaminus < 1.0 < etaplus, f"Invalid eta values: {etaminus}, {etaplus}")
    lr0 = _lr_at_init(lr)

    def init_fn(params: optax.Params) -> RpropState:
        step_size = jax.tree.map(lambda p: jnp.full_like(p, lr0), params)
        return RpropState(count=jnp.zeros([], jnp.int32), prev=transforms._zeros_like(params), step_size=step_size)

    def factor(sign: jax.Array) -> jax.Array:
        # torch: sign[sign.gt(0)] = etaplus; sign[sign.lt(0)] = etaminus; sign[sign.eq(0)] = 1
        return jnp.where(sign > 0, etaplus, jnp.where(sign < 0, etaminus, jnp.where(sign == 0, 1, sign)))

    def step_fn(updates: optax.Updates, state: RpropState, lr: Any) -> tuple[optax.Updates, RpropState]:
        # torch's _multi_tensor_rprop, op by op (maximize negated the gradients before, which
        # negates torch's signs and prevs alike)
        count = optax.safe_int32_increment(state.count)
        # torch creates step_size = full_like(grad, lr) at the first step, with that step's lr
        first = state.count == 0
        step_size = jax.tree.map(lambda s: jnp.where(first, jnp.asarray(lr, s.dtype), s), state.step_size)
        signs = jax.tree.map(factor, _api.sign(_api.mul(updates, state.prev)))
        step_size = _api.clamp_max(_api.clamp_min(_api.mul(step_size, signs), step_size_min), step_size_max)
        # where the sign flipped the gradient is taken as 0: no step now, and no flip next time
        grads = jax.tree.map(lambda g, s: jnp.where(s == etaminus, jnp.zeros_like(g), g), updates, signs)
        # torch: addcmul_(params, grad_signs, step_sizes, value=-1)
        out = _api.mul(_api.neg(_api.sign(grads)), step_size)
        return out, RpropState(count, grads, step_size)

    return _chain(transforms.negate() if maximize else None, transforms._with_learning_rate(init_fn, step_fn, lr))


def asgd(
    lr: optax.ScalarOrSchedule = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0.0,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Averaged SGD, as ``torch.optim.ASGD(..., foreach=True)``.

    Each step is ``params * (1 - lambd * eta) - eta * grad``; ``ax``, the running average of
    the parameters, starts averaging at step ``t0`` (before it, ``ax`` follows the parameters).
    ``eta = lr / (1 + lambd * lr * t) ** alpha`` and ``mu = 1 / max(1, t - t0)`` are computed
    after each step for the next, in float32 as torch does.

    Args:
        lr: learning rate, a float or an optax schedule of the step count.
        lambd: decay term.
        alpha: power of the ``eta`` update.
        t0: the step at which averaging starts.
        weight_decay: L2 penalty, added to the gradient.
        maximize: maximize the objective instead of minimizing it.

    Returns:
        An ``optax.GradientTransformation`` with :class:`AsgdState`; apply its updates with
        ``optax.apply_updates``; the averaged parameters are ``state.ax``. ``update`` needs ``params``.

    Raises:
        ValueError: with torch's conditions: ``lr < 0``, ``weight_decay < 0``; at ``update``
            time, if ``params`` is not given.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.array([1.0, 2.0], jnp.float32)]
        >>> tx = jforeach.optim.asgd(lr=0.5, lambd=0.0)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([1.0, -1.0], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]
        Array([0.5, 2.5], dtype=float32)

    See also:
        ``torch.optim.ASGD``, ``optax.sgd``.
    """
    lr = _learning_rate("asgd", lr)
    _check_non_negative("asgd", weight_decay=weight_decay)
    lr0 = _lr_at_init(lr)

    def init_fn(params: optax.Params) -> AsgdState:
        eta = jnp.asarray(lr0, _precise()).astype(_STATE_SCALAR)
        return AsgdState(jnp.zeros([], jnp.int32), eta, jnp.ones([], _STATE_SCALAR), transforms._zeros_like(params))

    def step_fn(
        updates: optax.Updates, state: AsgdState, params: optax.Params, lr: Any
    ) -> tuple[optax.Updates, AsgdState]:
        # torch's _multi_tensor_asgd, op by op
        count = optax.safe_int32_increment(state.count)
        # torch creates eta = lr at the first step, with that step's lr
        eta = jnp.where(state.count == 0, jnp.asarray(lr, _precise()).astype(_STATE_SCALAR), state.eta)
        intermediate = _api.add(updates, params, alpha=lambd)
        # torch: addcmul_(params, intermediate, etas, value=-1)
        out = _api.mul(intermediate, -eta)
        new_params = _api.add(params, out)
        # torch: addcmul_(axs, params - axs, mus)
        ax = _api.add(state.ax, _api.mul(_api.sub(new_params, state.ax), state.mu))
        # torch: lr / ((1 + lambd * lr * step) ** alpha) on the float32 0-d step tensor; lr / x
        # is x.reciprocal() * lr
        step = count.astype(_STATE_SCALAR)
        lambd_lr = (jnp.asarray(lambd, _precise()) * jnp.asarray(lr, _precise())).astype(_STATE_SCALAR)
        power = _float32_pow(1 + lambd_lr * step, alpha)
        new_eta = (1 / power) * jnp.asarray(lr, _precise()).astype(_STATE_SCALAR)
        # torch: 1 / max(1, step - t0) in Python floats, stored as float32
        t = count.astype(_precise())
        new_mu = (1 / jnp.maximum(1, t - jnp.asarray(t0, t.dtype))).astype(_STATE_SCALAR)
        return out, AsgdState(count, new_eta, new_mu, ax)

    return _chain(*_prologue(maximize, weight_decay), _step_with_params("asgd", init_fn, step_fn, lr))


def adafactor(
    lr: optax.ScalarOrSchedule = 1e-2,
    beta2_decay: float = -0.8,
    eps: tuple[float | None, float] = (None, 1e-3),
    d: float = 1.0,
    weight_decay: float = 0.0,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """Adafactor, as ``torch.optim.Adafactor(..., foreach=True)``.

    The second moment of a tensor with two or more dimensions is factored over its last two
    (row and column means of the squared gradient); the step is the gradient divided by the
    root of that estimate, clipped to RMS ``d``, times ``max(eps2, RMS(param)) * min(lr, 1/sqrt(t))``.
    Its per-tensor norms, reductions and factored shapes are per-tensor work: on a
    :class:`jforeach.Packed` the step unpacks the tensors (inside ``jit``, slices of the buffers)
    and packs the updates back into the parameters' layout, and the state holds trees.

    Args:
        lr: the cap of the relative step size ``min(lr, 1/sqrt(t))``, a float or an optax schedule.
        beta2_decay: the second moment's decay: step ``t`` weighs the new squared gradient by ``t ** beta2_decay``.
        eps: ``(eps1, eps2)``: the floor of the variance estimate (its square), ``None`` for the
            parameters' ``finfo(dtype).eps``; the floor of a parameter's RMS in the step size.
        d: the clipping threshold of the update's RMS.
        weight_decay: decoupled weight decay, the parameters times ``1 - lr * weight_decay``.
        maximize: maximize the objective instead of minimizing it.

    Returns:
        An ``optax.GradientTransformation`` with :class:`AdafactorState`; apply its updates with
        ``optax.apply_updates``. ``update`` needs ``params``.

    Raises:
        ValueError: with torch's conditions and messages: ``lr < 0``, ``beta2_decay > 0``,
            ``eps1 < 0``, ``eps2 < 0``, ``d < 1``, ``weight_decay < 0``; at ``update`` time, if
            ``params`` is not given.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.array([1.0, 2.0], jnp.float32)]
        >>> tx = jforeach.optim.adafactor(lr=0.1)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([3.0, -0.5], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]
        Array([0.8418861, 2.158114 ], dtype=float32)

    See also:
        ``torch.optim.Adafactor``, ``optax.adafactor``.
    """
    lr = _learning_rate("adafactor", lr, lambda lr: True)
    if not callable(lr):
        _check("adafactor", lambda: 0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}")
    _check("adafactor", lambda: 0.0 >= beta2_decay, f"beta2_decay should be <= 0 but is: {beta2_decay}")
    if len(tuple(eps)) != 2:
        raise ValueError(f"`jforeach.optim.adafactor`: eps must be a pair (eps1, eps2), got {eps!r}")
    eps1, eps2 = eps
    if eps1 is not None:
        _check("adafactor", lambda: 0.0 <= eps1, f"epsilon1 should be >= 0 but is: {eps1}")
    _check("adafactor", lambda: 0.0 <= eps2, f"epsilon2 should be >= 0 but is: {eps2}")
    _check("adafactor", lambda: 1.0 <= d, f"Clipping threshold d should be >= 1 but is: {d}")
    _check("adafactor", lambda: 0.0 <= weight_decay, f"weight_decay should be >= 0 but is: {weight_decay}")

    def factored(leaf: Any, shape: Callable[[tuple[int, ...]], tuple[int, ...]], multidim: bool) -> Any:
        return jnp.zeros(shape(leaf.shape), leaf.dtype) if (jnp.ndim(leaf) > 1) == multidim else None

    def init_fn(params: optax.Params) -> AdafactorState:
        tree = params.unpack() if isinstance(params, Packed) else params
        return AdafactorState(
            count=jnp.zeros([], jnp.int32),
            row_var=jax.tree.map(lambda p: factored(p, lambda s: (*s[:-1], 1), True), tree),
            col_var=jax.tree.map(lambda p: factored(p, lambda s: (*s[:-2], 1, s[-1]), True), tree),
            variance=jax.tree.map(lambda p: factored(p, lambda s: s, False), tree),
        )

    def step_fn(
        updates: optax.Updates, state: AdafactorState, params: optax.Params, lr: Any
    ) -> tuple[optax.Updates, AdafactorState]:
        # torch's _multi_tensor_adafactor, op by op, tensor by tensor
        count = optax.safe_int32_increment(state.count)
        packed = params if isinstance(params, Packed) else None
        if packed is not None:
            params, updates = packed.unpack(), updates.unpack()
        leaves, treedef = jax.tree.flatten(params)
        # flatten_up_to keeps the None of the state trees as leaves (it is missing from jax's stubs)
        grads = treedef.flatten_up_to(updates)  # type: ignore[attr-defined]
        row_vars, col_vars, variances = (treedef.flatten_up_to(x) for x in state[1:])  # type: ignore[attr-defined]
        t = count.astype(_precise())
        lr = jnp.asarray(lr, t.dtype)
        one_minus_beta2_t = t**beta2_decay
        rho_t = jnp.minimum(lr, 1 / jnp.sqrt(t))
        # torch: p.norm(2).item(), in the parameter's dtype
        param_norms = _api.norm(leaves) if leaves else []
        out, new_rows, new_cols, new_variances = [], [], [], []
        for p, g, p_norm, row_var, col_var, variance in zip(
            leaves, grads, param_norms, row_vars, col_vars, variances, strict=True
        ):
            dtype = jnp.dtype(p.dtype)
            weight = one_minus_beta2_t.astype(dtype)
            alpha = jnp.maximum(eps2, p_norm.astype(t.dtype) / math.sqrt(p.size)) * rho_t
            floor = float(jnp.finfo(dtype).eps) if eps1 is None else eps1
            if p.ndim > 1:
                row_means = jnp.sqrt(jnp.sum(g * g, axis=-1, keepdims=True))  # torch.norm(grad, dim=-1)
                row_means = row_means * row_means / g.shape[-1]
                row_var = _api.lerp([row_var], [row_means], weight)[0]
                col_means = jnp.sqrt(jnp.sum(g * g, axis=-2, keepdims=True))
                col_means = col_means * col_means / g.shape[-2]
                col_var = _api.lerp([col_var], [col_means], weight)[0]
                var_estimate = row_var * col_var  # torch: row_var @ col_var, an outer product
                row_var_mean = jnp.maximum(jnp.mean(row_var, axis=-2, keepdims=True), floor)
                var_estimate = var_estimate / row_var_mean
            else:
                variance = _api.lerp([variance], [g * g], weight)[0]
                var_estimate = variance
            var_estimate = jnp.maximum(var_estimate, floor * floor)
            update = _api.rsqrt([var_estimate])[0] * g
            update_norm = _api.norm([update])[0].astype(t.dtype)
            alpha = -alpha / jnp.maximum(1.0, update_norm / (math.sqrt(update.size) * d))
            out.append(update * alpha.astype(dtype))
            new_rows.append(row_var if p.ndim > 1 else None)
            new_cols.append(col_var if p.ndim > 1 else None)
            new_variances.append(None if p.ndim > 1 else variance)
        trees = (jax.tree.unflatten(treedef, x) for x in (new_rows, new_cols, new_variances))
        new_state = AdafactorState(count, *trees)
        result = jax.tree.unflatten(treedef, out)
        if packed is not None:
            result = pack(result, sharding=packed.layout.sharding)
        return result, new_state

    decoupled = transforms._may_be_nonzero(weight_decay)
    return _chain(
        transforms.negate() if maximize else None,
        _step_with_params("adafactor", init_fn, step_fn, lr),
        # torch: mul_(params, 1 - lr * weight_decay) before adding the update
        transforms.add_decoupled_weight_decay(weight_decay, lr) if decoupled else None,
    )


# torch.optim._muon's constants (Keller Jordan's Muon)
MUON_NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
MUON_EPS = 1e-7
MUON_NS_STEPS = 5


def _muon_tensors(tree: Any, what: str) -> tuple[list[tuple[int, ...]], Any]:
    """The shapes of ``tree``'s tensors (a pytree or a Packed) and its treedef; raises unless all are real matrices.

    torch's Muon rejects, at construction, every parameter that is not 2-D, and complex ones at its step.
    """
    if isinstance(tree, Packed):
        layout = tree.layout
        shapes, dtypes, treedef = list(layout.shapes), list(layout.dtypes), layout.treedef
    else:
        leaves, treedef = jax.tree.flatten(tree)
        shapes, dtypes = [tuple(jnp.shape(x)) for x in leaves], [jnp.result_type(x) for x in leaves]
    paths = [
        jax.tree_util.keystr(p)
        for p, _ in jax.tree_util.tree_flatten_with_path(jax.tree.unflatten(treedef, range(len(shapes))))[0]
    ]
    for path, shape, dtype in zip(paths, shapes, dtypes, strict=True):
        if len(shape) != 2:
            raise ValueError(
                f"`jforeach.optim.muon`: Muon only supports 2D parameters whereas we found a parameter with shape "
                f"{shape} at {what}{path}; optimize it with another optimizer (optax.multi_transform)"
            )
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"`jforeach.optim.muon`: {what}{path} is {jnp.dtype(dtype).name}; Muon needs real floats")
    return shapes, treedef


def _muon_adjusted_ratio(adjust_lr_fn: str | None, shape: tuple[int, ...]) -> float:
    """torch's ``_adjust_lr`` factor for a parameter of ``shape``, in Python floats."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return 1.0


def _zeropower_via_newtonschulz(
    x: jax.Array, ns_coefficients: tuple[float, float, float], ns_steps: Any, eps: Any
) -> jax.Array:
    """torch's ``_zeropower_via_newtonschulz`` of a stack of matrices ``(..., m, n)``: a bfloat16 result.

    As torch: the iteration runs in bfloat16 on the wide orientation (a tall matrix is transposed),
    after dividing by the Frobenius norm clamped to ``eps``. Every bfloat16 operation of torch's is
    one rounding of a float32 result here: ``norm`` (float32 accumulation), the division, and the
    matrix products with their ``addmm`` terms (``beta * C + alpha * A @ B`` rounded once, as
    torch's CPU bfloat16 gemm does: measured against torch 2.13). ``ns_steps`` may be traced
    (``inject_hyperparams``).
    """
    a, b, c = ns_coefficients
    f32, bf16 = jnp.float32, jnp.bfloat16
    x = x.astype(bf16)
    tall = x.shape[-2] > x.shape[-1]
    if tall:
        x = jnp.swapaxes(x, -1, -2)
    norm = jnp.sqrt(jnp.sum(jnp.square(x.astype(f32)), axis=(-2, -1), keepdims=True)).astype(bf16)
    norm = jnp.maximum(norm, jnp.asarray(eps, f32).astype(bf16))  # torch: norm().clamp(min=eps), bfloat16
    x = (x.astype(f32) / norm.astype(f32)).astype(bf16)

    def iteration(_: Any, x: jax.Array) -> jax.Array:
        gram = jnp.matmul(x, jnp.swapaxes(x, -1, -2), preferred_element_type=f32).astype(bf16)
        # torch: addmm(gram, gram, gram, beta=b, alpha=c), then addmm(x, update, x, beta=a)
        update = (b * gram.astype(f32) + c * jnp.matmul(gram, gram, preferred_element_type=f32)).astype(bf16)
        return (a * x.astype(f32) + jnp.matmul(update, x, preferred_element_type=f32)).astype(bf16)

    x = jax.lax.fori_loop(0, ns_steps, iteration, x)
    return jnp.swapaxes(x, -1, -2) if tall else x


def _orthogonalize(matrices: list[jax.Array], ns_coefficients: Any, ns_steps: Any, eps: Any) -> list[jax.Array]:
    """Newton-Schulz of each matrix; matrices of one shape go through it as one stack (batched products)."""
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, m in enumerate(matrices):
        by_shape.setdefault(tuple(m.shape), []).append(i)
    out: list[Any] = [None] * len(matrices)
    for indices in by_shape.values():
        stack = jnp.stack([matrices[i].astype(jnp.bfloat16) for i in indices])
        result = _zeropower_via_newtonschulz(stack, ns_coefficients, ns_steps, eps)
        for k, i in enumerate(indices):
            out[i] = result[k]
    return out


def muon(
    lr: optax.ScalarOrSchedule = 1e-3,
    weight_decay: float = 0.1,
    momentum: float = 0.95,
    *,
    nesterov: bool = True,
    ns_coefficients: tuple[float, float, float] = MUON_NS_COEFFICIENTS,
    eps: float = MUON_EPS,
    ns_steps: int = MUON_NS_STEPS,
    adjust_lr_fn: str | None = None,
) -> optax.GradientTransformation:
    """Muon (momentum, orthogonalized by Newton-Schulz), as ``torch.optim.Muon``.

    Each step updates the momentum buffer ``buf = lerp(buf, grad, 1 - momentum)``, takes
    ``lerp(grad, buf, momentum)`` (Nesterov) or ``buf``, orthogonalizes it with ``ns_steps``
    quintic Newton-Schulz iterations in bfloat16 (as torch does, whatever the parameters' dtype),
    decays the parameters by ``1 - lr * weight_decay`` and subtracts the result times the adjusted
    learning rate: ``lr * sqrt(max(1, rows / cols))`` (``adjust_lr_fn=None`` or ``"original"``) or
    ``lr * 0.2 * sqrt(max(rows, cols))`` (``"match_rms_adamw"``). torch 2.13 has only a
    single-tensor Muon; this one computes its arithmetic with the momentum as jforeach ops over all
    parameters, and the Newton-Schulz products batched over the matrices of each shape.

    Muon takes matrices only, as torch does: every parameter must be 2-D (pass the others to
    another optimizer with ``optax.multi_transform``). On a :class:`jforeach.Packed` the momentum
    is one fused pass per buffer and the state is packed; the Newton-Schulz step needs each
    tensor's 2-D shape, so the step unpacks the momentum (inside ``jit``, slices of the buffer)
    and packs the orthogonalized updates back into the parameters' layout.

    Args:
        lr: learning rate, a float or an optax schedule of the step count.
        weight_decay: decoupled weight decay, the parameters times ``1 - lr * weight_decay``.
        momentum: the momentum factor.
        nesterov: use Nesterov momentum.
        ns_coefficients: ``(a, b, c)``, the coefficients of the Newton-Schulz polynomial.
        eps: the floor of the Frobenius norm the update is first divided by.
        ns_steps: the number of Newton-Schulz iterations.
        adjust_lr_fn: ``None``/``"original"`` or ``"match_rms_adamw"``, the learning-rate
            adjustment for the matrix's shape.

    Returns:
        An ``optax.GradientTransformation`` with :class:`MuonState`; apply its updates with
        ``optax.apply_updates``. ``update`` needs ``params``.

    Raises:
        ValueError: with torch's conditions and messages: ``lr < 0``, ``momentum < 0``,
            ``weight_decay < 0``, an unknown ``adjust_lr_fn``, and (torch raises these two at its
            first step) ``ns_steps >= 100`` or ``ns_coefficients`` not three numbers; at ``init`` or
            ``update``, a parameter that is not 2-D (naming its path), or no ``params``.
        TypeError: at ``init`` or ``update``, a parameter that is not of a real floating dtype.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach
        >>> params = [jnp.zeros((2, 2), jnp.float32)]
        >>> tx = jforeach.optim.muon(lr=0.1, weight_decay=0.0, nesterov=False)
        >>> state = tx.init(params)
        >>> updates, state = tx.update([jnp.array([[2.0, 0.0], [0.0, 1.0]], jnp.float32)], state, params)
        >>> optax.apply_updates(params, updates)[0]  # torch's values: singular values 2, 1 go to ~0.7, ~1.1
        Array([[-0.06914063,  0.        ],
               [ 0.        , -0.11171875]], dtype=float32)

    See also:
        ``torch.optim.Muon``, ``optax.contrib.muon``.
    """
    lr = _learning_rate("muon", lr, lambda lr: True)
    if not callable(lr):
        _check("muon", lambda: 0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}")
    _check("muon", lambda: 0.0 <= momentum, f"momentum should be >= 0 but is: {momentum}")
    _check("muon", lambda: 0.0 <= weight_decay, f"weight decay should be >= 0 but is: {weight_decay}")
    if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
        raise ValueError(f"`jforeach.optim.muon`: Adjust learning rate function {adjust_lr_fn} is not supported")
    _check("muon", lambda: ns_steps < 100, "Number of steps must be less than 100 for computational efficiency")
    if len(tuple(ns_coefficients)) != 3:
        raise ValueError("`jforeach.optim.muon`: Coefficients must be a tuple of exactly 3 values")
    coefficients = tuple(float(x) for x in ns_coefficients)

    def init_fn(params: optax.Params) -> MuonState:
        _muon_tensors(params, "params")
        return MuonState(momentum_buffer=transforms._zeros_like(params))

    def step_fn(
        updates: optax.Updates, state: MuonState, params: optax.Params, lr: Any
    ) -> tuple[optax.Updates, MuonState]:
        # torch's _single_tensor_muon: its elementwise ops as jforeach ops over all tensors
        shapes, treedef = _muon_tensors(params, "params")
        buf = _api.lerp(state.momentum_buffer, updates, 1 - momentum)
        update = _api.lerp(updates, buf, momentum) if nesterov else buf
        packed = params if isinstance(params, Packed) else None
        tree = update.unpack() if isinstance(update, Packed) else update
        matrices = treedef.flatten_up_to(tree)  # type: ignore[attr-defined]
        ortho = _orthogonalize(matrices, coefficients, ns_steps, eps)
        # torch: add_(param, update, alpha=-adjusted_lr), the bfloat16 update promoted to the param's dtype
        lr_precise = jnp.asarray(lr, _precise())
        out = [
            o.astype(m.dtype) * (-lr_precise * _muon_adjusted_ratio(adjust_lr_fn, shape)).astype(m.dtype)
            for o, m, shape in zip(ortho, matrices, shapes, strict=True)
        ]
        result = jax.tree.unflatten(treedef, out)
        if packed is not None:
            result = pack(result, sharding=packed.layout.sharding)
        return result, MuonState(buf)

    return _chain(
        _step_with_params("muon", init_fn, step_fn, lr),
        # torch: mul_(param, 1 - lr * weight_decay) before adding the update
        transforms.add_decoupled_weight_decay(weight_decay, lr) if transforms._may_be_nonzero(weight_decay) else None,
    )
