"""optax ``GradientTransformation``s built on jforeach ops.

Every transform here works on any pytree of arrays and on a :class:`jforeach.Packed`
(then each step is one fused elementwise update per buffer), and composes with
``optax.chain``. The stateful ones are the building blocks of :mod:`jforeach.optim`: they
follow torch's ``_multi_tensor_*`` optimizer functions op by op up to the update they return;
optax then adds that update to the parameters (``optax.apply_updates``) where torch writes the
parameters in its last op (``addcdiv_`` with ``-step_size``), one rounding more. The tests compare
whole trajectories with torch's.

Where optax has the concept, a transform has optax's name, parameter names and order, and its
state optax's NamedTuple name and field names (``scale_by_adam(b1, b2, eps)`` keeps
``ScaleByAdamState(count, mu, nu)``); where torch's arithmetic needs a parameter optax lacks, it is
an extra keyword-only one (``trace(..., dampening=)``). Defaults are torch's. torch's names
(``lr``, ``betas``, ``momentum``, its state keys ``exp_avg``, ...) are those of :mod:`jforeach.optim`,
and ``jforeach.optim.state_to_torch`` maps each state field to its torch key.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jforeach import _api, _arrays, _dtypes, _kernels, _norms, packed

__all__ = [
    "ClipByNormState",
    "ScaleByAdamState",
    "ScaleByAmsgradState",
    "ScaleByRStdDevState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "TraceState",
    "add_decayed_weights",
    "add_decoupled_weight_decay",
    "clip_by_norm",
    "log1p",
    "negate",
    "scale_by_adam",
    "scale_by_amsgrad",
    "scale_by_learning_rate",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_stddev",
    "symlog",
    "trace",
]

PyTree = Any


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam`: optax's ``ScaleByAdamState`` fields, torch's ``Adam`` state.

    ``count`` is torch's ``step``, ``mu`` its ``exp_avg``, ``nu`` its ``exp_avg_sq``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach.transforms as jt
      >>> jt.scale_by_adam().init([jnp.zeros(2, jnp.float32)]).mu
      [Array([0., 0.], dtype=float32)]
    """

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count, as optax's states do
    mu: optax.Updates
    nu: optax.Updates


class ScaleByAmsgradState(NamedTuple):
    """State of :func:`scale_by_amsgrad`: optax's ``ScaleByAmsgradState`` fields, torch's
    ``Adam(amsgrad=True)`` state.

    ``count`` is torch's ``step``, ``mu`` its ``exp_avg``, ``nu`` its ``exp_avg_sq``, ``nu_max`` its
    ``max_exp_avg_sq`` (the running maximum of ``nu``, not bias-corrected, as torch keeps it).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach.transforms as jt
      >>> jt.scale_by_amsgrad().init([jnp.zeros(2, jnp.float32)]).nu_max
      [Array([0., 0.], dtype=float32)]
    """

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count, as optax's states do
    mu: optax.Updates
    nu: optax.Updates
    nu_max: optax.Updates


class TraceState(NamedTuple):
    """State of :func:`trace`: optax's ``TraceState`` (``trace`` is torch's SGD ``momentum_buffer``),
    with a ``count`` of updates.

    optax's trace starts from a zero buffer; torch copies the first update into it, which
    differs from ``decay * 0 + (1 - dampening) * u`` with a dampening: ``count`` tells the first
    update. ``trace`` is None where the transform keeps no buffer (a ``decay`` of 0).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach.transforms as jt
      >>> jt.trace(0.9).init([jnp.zeros(2, jnp.float32)]).trace
      [Array([0., 0.], dtype=float32)]
    """

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count, as optax's states do
    trace: optax.Updates | None


class ScaleByRmsState(NamedTuple):
    """State of :func:`scale_by_rms`: optax's ``ScaleByRmsState`` (``nu`` is torch's RMSprop
    ``square_avg``).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach.transforms as jt
      >>> jt.scale_by_rms().init([jnp.zeros(2, jnp.float32)]).nu
      [Array([0., 0.], dtype=float32)]
    """

    nu: optax.Updates


class ScaleByRStdDevState(NamedTuple):
    """State of :func:`scale_by_stddev`: optax's ``ScaleByRStdDevState``, torch's
    ``RMSprop(centered=True)`` state (``mu`` is its ``grad_avg``, ``nu`` its ``square_avg``).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach.transforms as jt
      >>> jt.scale_by_stddev().init([jnp.zeros(2, jnp.float32)]).mu
      [Array([0., 0.], dtype=float32)]
    """

    mu: optax.Updates
    nu: optax.Updates


class ScaleByRssState(NamedTuple):
    """State of :func:`scale_by_rss`: optax's ``ScaleByRssState`` (``sum_of_squares`` is torch's
    Adagrad ``sum``).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach.transforms as jt
      >>> jt.scale_by_rss(0.5).init([jnp.zeros(2, jnp.float32)]).sum_of_squares
      [Array([0.5, 0.5], dtype=float32)]
    """

    sum_of_squares: optax.Updates


# ---------------------------------------------------------------------------------------
# helpers


def _zeros_like(tree: PyTree) -> PyTree:
    return jax.tree.map(jnp.zeros_like, tree)


def _require_params(params: PyTree | None, name: str) -> PyTree:
    if params is None:
        raise ValueError(
            f"`jforeach.transforms.{name}`: needs the current parameters; call "
            "`update(updates, state, params)` with params"
        )
    return params


def _schedule_state_init(learning_rate: optax.ScalarOrSchedule) -> Any:
    """``init`` of a transform that takes a learning rate: a schedule counts its updates."""

    def init_fn(params: optax.Params) -> optax.EmptyState | optax.ScaleByScheduleState:
        del params
        if callable(learning_rate):
            return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32))
        return optax.EmptyState()

    return init_fn


def _learning_rate_now(learning_rate: optax.ScalarOrSchedule, state: Any) -> tuple[Any, Any]:
    """This update's learning rate, and the state after it (see :func:`_schedule_state_init`)."""
    if callable(learning_rate):
        return learning_rate(state.count), optax.ScaleByScheduleState(count=optax.safe_int32_increment(state.count))
    return learning_rate, state


def _may_be_nonzero(value: Any) -> bool:
    """Whether a term with this coefficient must be computed (an optimizer's chain keeps it).

    An array coefficient (``optax.inject_hyperparams`` passes arrays, traced inside ``update``)
    always is, so that ``init`` and ``update`` build the same chain and state; its term then
    computes with whatever value the array holds.
    """
    return isinstance(value, jax.Array | np.ndarray) or value != 0


def _one_minus_pow(beta: Any, count: jax.Array, dtype: Any) -> jax.Array:
    """``1 - beta**count`` in ``dtype``, accurate to a few ulp (torch computes it in float64).

    Computing ``1 - beta**t`` directly in float32 loses ~1e-5 relative at ``t=1`` for
    ``beta=0.999``; ``-expm1(t * log(beta))`` with ``log(beta)`` taken in float64 keeps
    the result within a few ulp of torch's float64 value.
    """
    if isinstance(beta, jax.Array):  # a scheduled beta: its log in the update's dtype
        return -jnp.expm1(count.astype(dtype) * jnp.log(beta.astype(dtype)))
    log_beta = math.log(beta) if beta > 0.0 else -math.inf
    return -jnp.expm1(count.astype(dtype) * jnp.asarray(log_beta, dtype))


def _scalar_dtype(tree: Any) -> Any:
    """The dtype a step's scalars are computed in: float64 when every float update is float64.

    Else float32: a float64 scalar would widen the 0-d float32 tensors of a mixed tree (0-d
    operands promote with each other), where torch's Python-float scalars keep their dtypes.
    """
    leaves = tree.buffers if isinstance(tree, packed.Packed) else jax.tree.leaves(tree)
    floats = [leaf.dtype for leaf in leaves if jnp.issubdtype(leaf.dtype, jnp.floating)]
    return jnp.float64 if floats and all(d == jnp.float64 for d in floats) else jnp.float32


def _with_learning_rate(
    init_fn: Any, step_fn: Any, learning_rate: optax.ScalarOrSchedule | None
) -> optax.GradientTransformation:
    """A torch step ``step_fn(updates, state, lr) -> (updates, state)`` as a transform.

    torch's Adam, Adagrad and momentum-free RMSprop scale their numerator by the learning rate
    and divide last (``addcdiv_(params, numerator * -lr, denom)``): the learning rate is rounded
    into the numerator, which a separate :func:`scale_by_learning_rate` after the division
    cannot reproduce. With ``learning_rate=None`` (the public ``scale_by_*``) ``step_fn`` gets
    ``lr=None`` and returns a direction for :func:`scale_by_learning_rate`; otherwise it gets this
    update's learning rate and returns the update itself, and the state is ``(state, lr state)``.
    """
    if learning_rate is None:

        def update_direction(updates: optax.Updates, state: Any, params: optax.Params | None = None) -> Any:
            del params
            return step_fn(updates, state, None)

        return optax.GradientTransformation(init_fn, update_direction)
    lr_init = _schedule_state_init(learning_rate)

    def init_with_lr(params: optax.Params) -> tuple[Any, Any]:
        return init_fn(params), lr_init(params)

    def update_with_lr(updates: optax.Updates, state: Any, params: optax.Params | None = None) -> Any:
        del params
        inner, lr_state = state
        lr, lr_state = _learning_rate_now(learning_rate, lr_state)
        updates, inner = step_fn(updates, inner, lr)
        return updates, (inner, lr_state)

    return optax.GradientTransformation(init_with_lr, update_with_lr)


# ---------------------------------------------------------------------------------------
# stateless elementwise transforms


def log1p() -> optax.GradientTransformation:
    """Replaces each update ``u`` by ``log1p(u)``.

    A compressive transform for non-negative updates. Updates below -1 become NaN
    (and exactly -1 becomes -inf), as with ``jnp.log1p``; use :func:`symlog` for updates
    of either sign.

    Returns:
        A stateless ``optax.GradientTransformation``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach.transforms as jt
        >>> tx = jt.log1p()
        >>> updates, _ = tx.update([jnp.array([0.0, 1.0], jnp.float32)], tx.init(None))
        >>> updates[0]
        Array([0.       , 0.6931472], dtype=float32)

    See also:
        :func:`jforeach.log1p`, ``jax.numpy.log1p``, ``torch._foreach_log1p``.
    """

    return optax.stateless(lambda updates, params: _api.log1p(updates))


def symlog() -> optax.GradientTransformation:
    """Replaces each update ``u`` by ``sign(u) * log1p(|u|)``.

    The sign-symmetric version of :func:`log1p`: finite for every finite float update,
    odd, and compressive for heavy-tailed gradients.

    Returns:
        A stateless ``optax.GradientTransformation``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach.transforms as jt
        >>> tx = optax.chain(jt.symlog(), optax.scale(-0.1))
        >>> updates, _ = tx.update([jnp.array([-1.0, 0.0, 1.0], jnp.float32)], tx.init(None))
        >>> updates[0]
        Array([ 0.06931472, -0.        , -0.06931472], dtype=float32)

    See also:
        :func:`log1p`, ``jax.numpy.log1p``, ``torch._foreach_log1p``.
    """

    def symlog_updates(updates: optax.Updates, params: optax.Params | None) -> optax.Updates:
        del params
        return _api.mul(_api.sign(updates), _api.log1p(_api.abs(updates)))

    return optax.stateless(symlog_updates)


def negate() -> optax.GradientTransformation:
    """Negates every update (torch's ``maximize=True``).

    Returns:
        A stateless ``optax.GradientTransformation``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach.transforms as jt
        >>> tx = jt.negate()
        >>> tx.update({"w": jnp.array([1.0, -2.0], jnp.float32)}, tx.init(None))[0]["w"]
        Array([-1.,  2.], dtype=float32)

    See also:
        :func:`jforeach.neg`, ``torch._foreach_neg``.
    """

    return optax.stateless(lambda updates, params: _api.neg(updates))


# ---------------------------------------------------------------------------------------
# clipping


def _check_finite_norm(total_norm: Any, norm_type: float, *, fname: str, what: str, error: type[Exception]) -> None:
    """Raise ``error`` if the total norm is NaN or infinite (``error_if_nonfinite``); under ``jit``
    the check runs on the host as a ``jax.debug.callback`` and fails the jitted call."""

    def check(total: Any) -> None:
        if not math.isfinite(float(total)):
            raise error(
                f"`jforeach.{fname}`: the total norm of order {norm_type} of the {what} is non-finite, so it "
                f"cannot be clipped. To scale the {what} by the non-finite norm anyway, pass "
                "`error_if_nonfinite=False`."
            )

    if isinstance(total_norm, jax.core.Tracer):
        jax.debug.callback(check, total_norm)
    else:
        check(total_norm)


def _packed_total_norm(updates: Any, norm_type: float) -> jax.Array:
    """The norm of the per-tensor norms of a Packed, for a positive order, in one pass per buffer.

    For ``ord > 0`` the norm of the per-tensor norms is the norm of all elements, so the buffers
    are reduced whole: per-tensor reductions of big tensors cost XLA:CPU far more than one pass (a
    ResNet-50-like Packed: 33 ms vs 3 ms). A sharded layout's padding is masked out: jforeach ops
    keep it zero, but code mapping over the buffers directly may not. Inside ``jax.shard_map``, a
    buffer that arrived as this device's piece is reduced here and combined over its mesh axes
    (a sum of powers, or the largest magnitude for ``inf``), as :func:`jforeach.norm` combines its
    per-tensor norms.
    """
    layout = updates.layout
    dtype = jnp.result_type(*updates.buffers)  # the dtype torch's norm of norms has
    whole: list[jax.Array] = []
    pieces: list[jax.Array] = []
    for i, (g, b) in enumerate(zip(layout.groups, updates.buffers, strict=True)):
        start = _kernels.piece_start(layout, i, b) if _arrays.in_shard_map() else None
        magnitudes = jnp.abs(packed.zero_padding(g, b, start).astype(jnp.promote_types(b.dtype, jnp.float32)))
        (whole if start is None else pieces).append(magnitudes)
    totals = [_norms.power_sum(_norms.Buffers(whole), norm_type)] if whole else []
    if pieces:
        axes = packed.spec_axes(layout.sharding)
        local = _norms.power_sum(_norms.Buffers(pieces), norm_type)
        totals.append(_kernels.all_reduce(local, axes, "max" if norm_type == math.inf else "sum"))
    total = _norms.max_with_nan(jnp.stack(totals)) if norm_type == math.inf else sum(totals[1:], totals[0])
    return _norms.norm_from_power_sum(total, norm_type).astype(dtype)


@functools.partial(jax.jit, static_argnums=1)
def _norm_of_norms(norms: list[jax.Array], norm_type: float) -> jax.Array:
    """torch's ``vector_norm(stack(norms), norm_type)``: the norms are stacked in their promoted dtype."""
    dtype = jnp.result_type(*norms)
    stacked = jnp.concatenate([jnp.ravel(n).astype(dtype) for n in norms])
    return _api.norm([stacked], norm_type)[0]


@jax.jit
def _clip_coef(total_norm: jax.Array, max_norm: float) -> jax.Array:
    """``clamp(max_norm / (total_norm + 1e-6), max=1.0)`` with torch's operations and roundings.

    torch's ``number / tensor`` is ``tensor.reciprocal() * number``; each op computes in the
    total's opmath dtype (float32 for float16/bfloat16) and rounds to the total's dtype.
    """
    dtype = total_norm.dtype
    compute = _dtypes.opmath(dtype)
    denominator = (total_norm.astype(compute) + 1e-6).astype(dtype)
    reciprocal = (1 / denominator.astype(compute)).astype(dtype)
    clip_coef = (reciprocal.astype(compute) * max_norm).astype(dtype)
    return jnp.minimum(clip_coef, jnp.asarray(1.0, dtype))


def _total_norm(grads: Any, leaves: list[jax.Array], norm_type: float, fname: str) -> jax.Array:
    """The norm of the per-tensor norms of ``grads`` (torch's ``get_total_norm``)."""
    sizes = grads.layout.shapes if isinstance(grads, packed.Packed) else [leaf.shape for leaf in leaves]
    if (norm_type < 0 or norm_type == math.inf) and any(math.prod(s) == 0 for s in sizes):
        raise ValueError(
            f"`jforeach.{fname}`: the {norm_type} norm of an empty gradient is undefined (the operation has "
            "no identity), as in torch"
        )
    if isinstance(grads, packed.Packed):
        if norm_type > 0:  # the norm of all elements: one pass per buffer
            return _packed_total_norm(grads, norm_type)
        # a sharded Packed pads its buffer of norms with zeros, which change non-positive orders
        return _norm_of_norms(jax.tree.leaves(_api.norm(grads, norm_type).unpack()), norm_type)
    return _norm_of_norms(jax.tree.leaves(_api.norm(leaves, norm_type)), norm_type)


class ClipByNormState(NamedTuple):
    """State of :func:`clip_by_norm`: the total norm of the last updates it clipped (what torch's
    ``clip_grad_norm_`` returns and training scripts log).

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> import jforeach.transforms as jt
      >>> tx = jt.clip_by_norm(1.0)
      >>> _, state = tx.update([jnp.array([3.0, 4.0], jnp.float32)], tx.init(None))
      >>> float(optax.tree_utils.tree_get(state, "total_norm"))
      5.0
    """

    total_norm: jax.Array


def clip_by_norm(
    max_norm: float, norm_type: float = 2.0, *, error_if_nonfinite: bool = False
) -> optax.GradientTransformation:
    """Scales the updates so that their total norm is at most ``max_norm``.

    The same computation as ``torch.nn.utils.clip_grad_norm_(..., foreach=True)``: the
    per-tensor norms (:func:`jforeach.norm`), the norm of those norms, then every update
    multiplied by ``min(max_norm / (total_norm + 1e-6), 1)``.

    Args:
        max_norm: the largest allowed total norm.
        norm_type: order of the norm; ``float("inf")`` for the max norm.
        error_if_nonfinite: raise if the total norm is NaN or infinite. Outside ``jit``
            this raises ``ValueError`` during ``update``; under ``jit`` the check runs as a
            ``jax.debug.callback`` and the ``ValueError`` surfaces as a runtime error of
            the jitted call.

    Returns:
        An ``optax.GradientTransformation`` whose state, a :class:`ClipByNormState`, holds the total
        norm of the last updates (``optax.tree_utils.tree_get(state, "total_norm")`` finds it in
        a chain): the number ``torch.nn.utils.clip_grad_norm_`` returns.

    Raises:
        ValueError: if ``max_norm`` or ``norm_type`` is not a real number.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach.transforms as jt
        >>> tx = jt.clip_by_norm(1.0)
        >>> updates, _ = tx.update([jnp.array([3.0, 4.0], jnp.float32)], tx.init(None))
        >>> bool(jnp.allclose(updates[0], jnp.array([0.6, 0.8], jnp.float32)))
        True

    See also:
        ``optax.clip_by_global_norm``, ``torch.nn.utils.clip_grad_norm_``,
        :func:`jforeach.norm`.
    """
    try:
        max_norm = float(max_norm)
        norm_type = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(
            "`jforeach.transforms.clip_by_norm`: max_norm and norm_type must be real "
            f"numbers, got max_norm={max_norm!r} and norm_type={norm_type!r}"
        ) from None

    def init_fn(params: optax.Params) -> ClipByNormState:
        leaves = [p for p in jax.tree.leaves(params) if jnp.issubdtype(jnp.asarray(p).dtype, jnp.inexact)]
        dtype = jnp.result_type(*leaves) if leaves else jnp.float32
        return ClipByNormState(jnp.zeros((), jnp.finfo(dtype).dtype))

    def update_fn(
        updates: optax.Updates, state: Any, params: optax.Params | None = None
    ) -> tuple[optax.Updates, ClipByNormState]:
        del params
        leaves = jax.tree.leaves(updates)
        if not leaves:
            return updates, ClipByNormState(jnp.zeros((), jnp.float32))
        if isinstance(updates, packed.Packed):
            with _arrays.named("transforms.clip_by_norm"):
                updates._check_alive("updates")
        total_norm = _total_norm(updates, leaves, norm_type, "transforms.clip_by_norm")
        if error_if_nonfinite:
            _check_finite_norm(total_norm, norm_type, fname="transforms.clip_by_norm", what="updates", error=ValueError)
        clipped = _api.mul(updates, _clip_coef(total_norm, max_norm))
        previous = getattr(state, "total_norm", None)  # keep the state's dtype: a scan carry must not change
        dtype = previous.dtype if previous is not None else total_norm.dtype
        return clipped, ClipByNormState(total_norm.astype(dtype))

    return optax.GradientTransformation(init_fn, update_fn)


# ---------------------------------------------------------------------------------------
# weight decay and learning rate


def add_decayed_weights(
    weight_decay: float = 0.0, mask: PyTree | Callable[[optax.Params], PyTree] | None = None
) -> optax.GradientTransformation:
    """Adds ``weight_decay * params`` to the updates (torch's coupled L2 weight decay).

    optax's ``add_decayed_weights``, computed as torch's ``_foreach_add(grads, params,
    alpha=weight_decay)``; with ``weight_decay == 0`` the updates pass through untouched.

    Args:
        weight_decay: the L2 coefficient (torch's ``weight_decay`` of SGD, Adam, RMSprop, ...).
        mask: as optax's: a tree of booleans with the parameters' structure (or a prefix of it), or
            a function of the parameters that returns one; the decay is added where it is True. On
            a :class:`jforeach.Packed`, ``lambda p: jforeach.labels(p, decay)`` masks by label.

    Returns:
        A stateless ``optax.GradientTransformation`` whose ``update`` needs ``params``.

    Raises:
        ValueError: at ``update`` time, if ``params`` is not given.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach.transforms as jt
        >>> tx = jt.add_decayed_weights(0.5)
        >>> params = [jnp.array([2.0], jnp.float32)]
        >>> tx.update([jnp.array([1.0], jnp.float32)], tx.init(params), params)[0][0]
        Array([2.], dtype=float32)

    See also:
        ``optax.add_decayed_weights``, :func:`add_decoupled_weight_decay`.
    """

    def decayed(updates: optax.Updates, params: optax.Params | None) -> optax.Updates:
        if not _may_be_nonzero(weight_decay):
            return updates
        return _api.add(updates, _require_params(params, "add_decayed_weights"), alpha=weight_decay)

    tx = optax.stateless(decayed)
    return tx if mask is None else optax.masked(tx, mask)


def add_decoupled_weight_decay(
    weight_decay: float, learning_rate: optax.ScalarOrSchedule
) -> optax.GradientTransformation:
    """Folds torch's decoupled (AdamW) weight decay into the final updates.

    torch multiplies the parameters by ``1 - lr * weight_decay`` before adding the
    step; this transform returns ``(params * (1 - lr * weight_decay) + updates) - params``
    so that ``optax.apply_updates`` lands on torch's parameters. Place it last in the
    chain, after the learning rate is applied. optax has no such transform: its ``adamw``
    adds ``weight_decay * params`` (:func:`add_decayed_weights`) before scaling by the learning
    rate, which rounds differently.

    Args:
        weight_decay: the decoupled decay coefficient.
        learning_rate: a float or an optax schedule (a callable of the step count).

    Returns:
        An ``optax.GradientTransformation`` whose ``update`` needs ``params``; its state
        is ``optax.ScaleByScheduleState`` for a schedule, else ``optax.EmptyState``.

    Raises:
        ValueError: at ``update`` time, if ``params`` is not given.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach.transforms as jt
        >>> tx = jt.add_decoupled_weight_decay(0.1, 0.5)
        >>> params = [jnp.array([2.0], jnp.float32)]
        >>> updates, _ = tx.update([jnp.array([0.0], jnp.float32)], tx.init(params), params)
        >>> optax.apply_updates(params, updates)[0]
        Array([1.9], dtype=float32)

    See also:
        ``optax.add_decayed_weights``, ``torch.optim.AdamW``.
    """

    def update_fn(updates: optax.Updates, state: Any, params: optax.Params | None = None) -> tuple[optax.Updates, Any]:
        lr, state = _learning_rate_now(learning_rate, state)
        if not _may_be_nonzero(weight_decay):
            return updates, state
        decay = 1 - lr * weight_decay
        params = _require_params(params, "add_decoupled_weight_decay")
        new_params = _api.add(_api.mul(params, decay), updates)
        return _api.sub(new_params, params), state

    return optax.GradientTransformation(_schedule_state_init(learning_rate), update_fn)


def scale_by_learning_rate(
    learning_rate: optax.ScalarOrSchedule, *, flip_sign: bool = True
) -> optax.GradientTransformation:
    """Multiplies the updates by ``-learning_rate`` (by ``learning_rate`` with ``flip_sign=False``).

    Args:
        learning_rate: a float or an optax schedule, called with the number of updates
            made so far (0 on the first update), like ``optax.scale_by_schedule``.
        flip_sign: multiply by ``-learning_rate``, the descent step ``optax.apply_updates`` adds.

    Returns:
        An ``optax.GradientTransformation``; its state is ``optax.ScaleByScheduleState``
        for a schedule, else ``optax.EmptyState``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> import jforeach.transforms as jt
        >>> tx = jt.scale_by_learning_rate(optax.linear_schedule(1.0, 0.0, 4))
        >>> state = tx.init(None)
        >>> u, state = tx.update([jnp.array([1.0], jnp.float32)], state)
        >>> u, state = tx.update([jnp.array([1.0], jnp.float32)], state)
        >>> u[0]
        Array([-0.75], dtype=float32)

    See also:
        ``optax.scale_by_learning_rate``, ``optax.scale_by_schedule``.
    """

    def update_fn(updates: optax.Updates, state: Any, params: optax.Params | None = None) -> tuple[optax.Updates, Any]:
        del params
        lr, state = _learning_rate_now(learning_rate, state)
        return _api.mul(updates, -lr if flip_sign else lr), state

    return optax.GradientTransformation(_schedule_state_init(learning_rate), update_fn)


# ---------------------------------------------------------------------------------------
# stateful scalings (torch's optimizer states)


def trace(decay: float, nesterov: bool = False, *, dampening: float = 0.0) -> optax.GradientTransformation:
    """optax's trace of past updates, computed as torch's SGD momentum buffer.

    On the first update the buffer is the update itself (torch's clone); afterwards
    ``trace = decay * trace + (1 - dampening) * u``. The output is ``trace``, or
    ``u + decay * trace`` with ``nesterov=True``. With ``decay == 0`` the updates
    pass through and the state holds no buffer; an array ``decay`` (as
    ``optax.inject_hyperparams`` passes it) always has a buffer, and passes the updates
    through wherever it is 0. Without dampening this is ``optax.trace``'s arithmetic.

    Args:
        decay: the decay rate of the trace (torch's ``momentum``).
        nesterov: use Nesterov momentum.
        dampening: torch's dampening of the added update (optax has none); keyword-only.

    Returns:
        An ``optax.GradientTransformation`` with :class:`TraceState`.

    Raises:
        TypeError: if ``nesterov`` is not a bool (torch's ``dampening`` is keyword-only here).

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach.transforms as jt
        >>> tx = jt.trace(0.5, dampening=0.5)
        >>> state = tx.init([jnp.zeros(1, jnp.float32)])
        >>> u, state = tx.update([jnp.array([1.0], jnp.float32)], state)
        >>> u, state = tx.update([jnp.array([1.0], jnp.float32)], state)
        >>> u[0], state.trace[0]
        (Array([1.], dtype=float32), Array([1.], dtype=float32))

    See also:
        ``optax.trace``, ``torch.optim.SGD``.
    """

    if not isinstance(nesterov, bool | np.bool_):
        raise TypeError(
            f"`jforeach.transforms.trace`: nesterov must be a bool, got {nesterov!r} (optax's order: "
            "trace(decay, nesterov); torch's dampening is keyword-only: trace(decay, dampening=...))"
        )
    array_decay = isinstance(decay, jax.Array | np.ndarray)
    has_buffer = _may_be_nonzero(decay)

    def init_fn(params: optax.Params) -> TraceState:
        buffer = _zeros_like(params) if has_buffer else None
        return TraceState(count=jnp.zeros([], jnp.int32), trace=buffer)

    def update_fn(
        updates: optax.Updates, state: TraceState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, TraceState]:
        del params
        count = optax.safe_int32_increment(state.count)
        if not has_buffer:
            return updates, TraceState(count=count, trace=None)
        # torch clones the update into the buffer on the first step; with a zero buffer
        # `0 * buf + 1 * u` is that clone, bit for bit.
        first = state.count == 0
        multiplier = jnp.where(first, 0.0, decay)
        alpha = jnp.where(first, 1.0, 1.0 - dampening)
        # torch: mul_(bufs, momentum); add_(bufs, grads, alpha=1 - dampening)
        buffer = _api.add(_api.mul(state.trace, multiplier), updates, alpha=alpha)
        out = _api.add(updates, buffer, alpha=decay) if nesterov else buffer
        if array_decay:  # torch's momentum == 0: the updates themselves
            out = jax.tree.map(lambda u, o: jnp.where(decay == 0, u, o), updates, out)
        return out, TraceState(count=count, trace=buffer)

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """optax's Adam scaling, computed as torch's: ``(mu / (1 - b1**t)) / (sqrt(nu) / sqrt(1 - b2**t) + eps)``.

    The moments are updated as torch's ``_multi_tensor_adam`` does
    (``mu = lerp(mu, u, 1 - b1)``, ``nu = nu * b2 + (1 - b2) * u * u``), and the bias corrections
    are applied in torch's order: ``sqrt(nu)`` is divided by ``sqrt(1 - b2**t)`` and ``eps`` added
    outside the square root (optax's ``eps_root=0``), then the bias-corrected ``mu`` divided by
    that. Follow with :func:`scale_by_learning_rate`; :func:`scale_by_amsgrad` is the AMSGrad
    variant.

    Args:
        b1: the decay rate of the first moment (torch's ``betas[0]``); it may also be a schedule
            of the step count, as a cycled momentum of torch's schedulers.
        b2: the decay rate of the second moment (torch's ``betas[1]``).
        eps: added to the denominator.

    Returns:
        An ``optax.GradientTransformation`` with :class:`ScaleByAdamState`.

    Raises:
        TypeError: if ``b1`` is a pair (torch's ``betas`` are two arguments here).

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach.transforms as jt
        >>> tx = jt.scale_by_adam()
        >>> u, state = tx.update([jnp.array([2.0, -0.5], jnp.float32)], tx.init([jnp.zeros(2, jnp.float32)]))
        >>> u[0], state.count
        (Array([ 1., -1.], dtype=float32), Array(1, dtype=int32))

    See also:
        ``optax.scale_by_adam``, ``torch.optim.Adam``.
    """
    _check_b1(b1, "scale_by_adam")
    return _scale_by_adam(b1, b2, eps, amsgrad=False)


def scale_by_amsgrad(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """optax's AMSGrad scaling, computed as torch's ``Adam(amsgrad=True)``.

    :func:`scale_by_adam` with ``nu_max``, the running maximum of ``nu``, in the denominator:
    ``(mu / (1 - b1**t)) / (sqrt(nu_max) / sqrt(1 - b2**t) + eps)``. As in torch the maximum is
    taken of the moments themselves and bias-corrected after; optax's ``scale_by_amsgrad``
    takes the maximum of the bias-corrected ``nu``. Follow with :func:`scale_by_learning_rate`.

    Args:
        b1: the decay rate of the first moment (torch's ``betas[0]``); it may also be a schedule
            of the step count.
        b2: the decay rate of the second moment (torch's ``betas[1]``).
        eps: added to the denominator.

    Returns:
        An ``optax.GradientTransformation`` with :class:`ScaleByAmsgradState`.

    Raises:
        TypeError: if ``b1`` is a pair (torch's ``betas`` are two arguments here).

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach.transforms as jt
        >>> tx = jt.scale_by_amsgrad(b2=0.5)
        >>> state = tx.init([jnp.zeros(1, jnp.float32)])
        >>> _, state = tx.update([jnp.array([2.0], jnp.float32)], state)
        >>> _, state = tx.update([jnp.array([0.0], jnp.float32)], state)
        >>> state.nu[0], state.nu_max[0]
        (Array([1.], dtype=float32), Array([2.], dtype=float32))

    See also:
        ``optax.scale_by_amsgrad``, ``torch.optim.Adam``.
    """
    _check_b1(b1, "scale_by_amsgrad")
    return _scale_by_adam(b1, b2, eps, amsgrad=True)


def _check_b1(b1: Any, name: str) -> None:
    if isinstance(b1, tuple | list):
        raise TypeError(
            f"`jforeach.transforms.{name}`: b1 is one decay rate, got {b1!r}; torch's betas=(b1, b2) are "
            f"two arguments here: {name}(b1, b2)"
        )


def _scale_by_adam(
    b1: Any,
    b2: float,
    eps: float,
    *,
    amsgrad: bool,
    learning_rate: optax.ScalarOrSchedule | None = None,
) -> optax.GradientTransformation:
    """:func:`scale_by_adam` or :func:`scale_by_amsgrad`; with a learning rate, torch's whole Adam
    step (see :func:`_with_learning_rate`)."""
    beta1, beta2 = b1, b2
    lr_and_beta1: Any = learning_rate
    if callable(beta1) and learning_rate is not None:
        # a cycled beta1 is a schedule of the scheduler's steps, as the lr is, not of Adam's step
        # (they differ once amp.grad_scaler skips a step): both are read from the lr's counter
        def lr_and_beta1(count: jax.Array) -> tuple[Any, Any]:
            lr = learning_rate(count) if callable(learning_rate) else learning_rate
            return lr, beta1(count)

    def init_fn(params: optax.Params) -> ScaleByAdamState | ScaleByAmsgradState:
        count, mu, nu = jnp.zeros([], jnp.int32), _zeros_like(params), _zeros_like(params)
        if amsgrad:
            return ScaleByAmsgradState(count=count, mu=mu, nu=nu, nu_max=_zeros_like(params))
        return ScaleByAdamState(count=count, mu=mu, nu=nu)

    def step_fn(updates: optax.Updates, state: Any, lr: Any) -> tuple[optax.Updates, Any]:
        # torch's _multi_tensor_adam, op by op (exp_avg is mu, exp_avg_sq nu, max_exp_avg_sq nu_max)
        count = optax.safe_int32_increment(state.count)
        dtype = _scalar_dtype(updates)
        # a scheduled beta1 (torch's cycle_momentum): its value after as many scheduler steps
        decay1: Any
        if callable(beta1) and lr is not None:
            lr, decay1 = lr[0], jnp.asarray(lr[1], dtype)
        else:
            decay1 = jnp.asarray(beta1(state.count), dtype) if callable(beta1) else beta1
        mu = _api.lerp(state.mu, updates, 1 - decay1)
        nu = _api.addcmul(_api.mul(state.nu, beta2), updates, updates, 1 - beta2)
        bias_correction1 = _one_minus_pow(decay1, count, dtype)
        bias_correction2_sqrt = jnp.sqrt(_one_minus_pow(beta2, count, dtype))
        # torch's step_size = (lr / bias_correction1) * -1; a direction is the lr = -1 update
        step_size = 1 / bias_correction1 if lr is None else jnp.asarray(-(lr / bias_correction1), dtype)
        if amsgrad:
            nu_max = _api.maximum(state.nu_max, nu)
            denom = _api.sqrt(nu_max)
        else:
            denom = _api.sqrt(nu)
        denom = _api.add(_api.div(denom, bias_correction2_sqrt), eps)
        # torch: addcdiv_(params, exp_avg, denom, step_size) = params + (step_size * exp_avg) / denom
        out = _api.div(_api.mul(mu, step_size), denom)
        if amsgrad:
            return out, ScaleByAmsgradState(count, mu, nu, nu_max)
        return out, ScaleByAdamState(count, mu, nu)

    return _with_learning_rate(init_fn, step_fn, lr_and_beta1)


def scale_by_rms(decay: float = 0.99, eps: float = 1e-8) -> optax.GradientTransformation:
    """optax's RMS scaling, computed as torch's RMSprop: ``u / (sqrt(nu) + eps)``.

    ``nu = decay * nu + (1 - decay) * u * u``, starting at zero as in torch; ``eps`` is added
    outside the square root (optax's ``eps_in_sqrt=False``), and there is no bias correction.
    The default ``decay`` is torch's ``alpha`` (optax's is 0.9). :func:`scale_by_stddev` is
    the centered variant.

    Args:
        decay: the decay rate of the squared-update average (torch's ``alpha``).
        eps: added to the denominator.

    Returns:
        An ``optax.GradientTransformation`` with :class:`ScaleByRmsState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach.transforms as jt
        >>> tx = jt.scale_by_rms(decay=0.75)
        >>> u, _ = tx.update([jnp.array([2.0], jnp.float32)], tx.init([jnp.zeros(1, jnp.float32)]))
        >>> u[0]
        Array([2.], dtype=float32)

    See also:
        ``optax.scale_by_rms``, ``torch.optim.RMSprop``.
    """
    return _scale_by_rms(decay, eps, centered=False)


def scale_by_stddev(decay: float = 0.99, eps: float = 1e-8) -> optax.GradientTransformation:
    """optax's centered RMS scaling, computed as torch's ``RMSprop(centered=True)``.

    ``u / (sqrt(nu - mu**2) + eps)`` with ``nu`` as in :func:`scale_by_rms` and
    ``mu = lerp(mu, u, 1 - decay)``, both starting at zero; ``eps`` is added outside the square
    root (optax's ``eps_in_sqrt=False``). The default ``decay`` is torch's ``alpha``.

    Args:
        decay: the decay rate of both averages (torch's ``alpha``).
        eps: added to the denominator.

    Returns:
        An ``optax.GradientTransformation`` with :class:`ScaleByRStdDevState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach.transforms as jt
        >>> tx = jt.scale_by_stddev(decay=0.75, eps=0.0)
        >>> u, _ = tx.update([jnp.array([2.0], jnp.float32)], tx.init([jnp.zeros(1, jnp.float32)]))
        >>> u[0]
        Array([2.309401], dtype=float32)

    See also:
        ``optax.scale_by_stddev``, ``torch.optim.RMSprop``.
    """
    return _scale_by_rms(decay, eps, centered=True)


def _scale_by_rms(
    decay: float, eps: float, *, centered: bool, learning_rate: optax.ScalarOrSchedule | None = None
) -> optax.GradientTransformation:
    """:func:`scale_by_rms` or :func:`scale_by_stddev`; with a learning rate, torch's whole
    momentum-free RMSprop step.

    (With momentum torch's step is this direction, :func:`trace` and :func:`scale_by_learning_rate`:
    ``addcdiv_(momentum_buffer, grads, avg)`` then ``add_(params, momentum_buffer, alpha=-lr)``.)
    """

    def init_fn(params: optax.Params) -> ScaleByRmsState | ScaleByRStdDevState:
        if centered:
            return ScaleByRStdDevState(mu=_zeros_like(params), nu=_zeros_like(params))
        return ScaleByRmsState(nu=_zeros_like(params))

    def step_fn(updates: optax.Updates, state: Any, lr: Any) -> tuple[optax.Updates, Any]:
        # torch's _multi_tensor_rmsprop, op by op (square_avg is nu, grad_avg mu)
        nu = _api.addcmul(_api.mul(state.nu, decay), updates, updates, 1 - decay)
        if centered:
            mu = _api.lerp(state.mu, updates, 1 - decay)
            avg = _api.sqrt(_api.addcmul(nu, mu, mu, -1))
            new_state: Any = ScaleByRStdDevState(mu=mu, nu=nu)
        else:
            avg = _api.sqrt(nu)
            new_state = ScaleByRmsState(nu=nu)
        avg = _api.add(avg, eps)
        # torch: addcdiv_(params, grads, avg, value=-lr) = params + (-lr * grads) / avg
        numerator = updates if lr is None else _api.mul(updates, -lr)
        return _api.div(numerator, avg), new_state

    return _with_learning_rate(init_fn, step_fn, learning_rate)


def scale_by_rss(initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> optax.GradientTransformation:
    """optax's root-sum-of-squares scaling, computed as torch's Adagrad: ``u / (sqrt(s) + eps)``.

    ``s = s + u * u`` is the sum of squares (torch's ``sum``); ``eps`` is added outside the
    square root, where optax computes ``rsqrt(s + eps)`` (and 0 where ``s`` is 0). The defaults
    are torch's (optax's are 0.1 and 1e-7).

    Args:
        initial_accumulator_value: initial value of every entry of the sum of squares.
        eps: added to the denominator.

    Returns:
        An ``optax.GradientTransformation`` with :class:`ScaleByRssState`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach.transforms as jt
        >>> tx = jt.scale_by_rss(initial_accumulator_value=5.0)
        >>> u, _ = tx.update([jnp.array([2.0], jnp.float32)], tx.init([jnp.zeros(1, jnp.float32)]))
        >>> u[0]
        Array([0.6666667], dtype=float32)

    See also:
        ``optax.scale_by_rss``, ``torch.optim.Adagrad``.
    """
    return _scale_by_rss(initial_accumulator_value, eps)


def _scale_by_rss(
    initial_accumulator_value: float, eps: float, learning_rate: optax.ScalarOrSchedule | None = None
) -> optax.GradientTransformation:
    """:func:`scale_by_rss`; with a learning rate (torch's ``lr / (1 + (step - 1) * lr_decay)``
    as a schedule), torch's whole Adagrad step."""

    def init_fn(params: optax.Params) -> ScaleByRssState:
        return ScaleByRssState(
            sum_of_squares=jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params)
        )

    def step_fn(updates: optax.Updates, state: ScaleByRssState, lr: Any) -> tuple[optax.Updates, ScaleByRssState]:
        # torch's _multi_tensor_adagrad, op by op (state_sums is sum_of_squares)
        state_sum = _api.addcmul(state.sum_of_squares, updates, updates, 1)
        std = _api.add(_api.sqrt(state_sum), eps)
        # torch: numerator = mul(grads, minus_clr); addcdiv_(params, numerator, std)
        numerator = updates if lr is None else _api.mul(updates, -lr)
        return _api.div(numerator, std), ScaleByRssState(sum_of_squares=state_sum)

    return _with_learning_rate(init_fn, step_fn, learning_rate)
