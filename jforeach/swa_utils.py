"""torch.optim.swa_utils: parameter averaging with jforeach ops (``jforeach.optim.swa_utils``).

``get_ema_multi_avg_fn`` and ``get_swa_multi_avg_fn`` return torch's in-place averaging
functions ``fn(averaged_param_list, current_param_list, num_averaged)``, written with the same
foreach ops torch's are (:func:`jforeach.lerp_`, and for integer tensors ``mul``/``add``/``copy_``):
the averaged list, dict or :class:`jforeach.Packed` is updated in place (its old buffers are
donated). ``averaged_model`` is the functional counterpart of ``torch.optim.swa_utils.AveragedModel``
for jitted steps, and ``SWALR`` the SWA learning-rate schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jforeach import _api
from jforeach.lr_scheduler import _as_lr, _Recursive
from jforeach.packed import Packed

__all__ = ["SWALR", "AveragedModel", "AveragedParams", "averaged_model", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn"]

PyTree = Any
MultiAvgFn = Callable[[PyTree, PyTree, Any], Any]


def _error(name: str, message: str, error: type[Exception] = ValueError) -> Exception:
    return error(f"`jforeach.optim.swa_utils.{name}`: {message}")


def _dtypes(tensors: PyTree) -> list[np.dtype]:
    if isinstance(tensors, Packed):
        return [np.dtype(b.dtype) for b in tensors.buffers]
    return [np.dtype(jnp.asarray(x).dtype) for x in jax.tree.leaves(tensors)]


def _is_floating(name: str, tensors: PyTree) -> bool:
    """torch looks at the first tensor only (AveragedModel groups by dtype); a mixed list raises here."""
    kinds = {bool(jnp.issubdtype(d, jnp.inexact)) for d in _dtypes(tensors)}
    if len(kinds) > 1:
        raise _error(name, "the averaged tensors mix floating and integer dtypes; average each dtype separately")
    return kinds != {False}


def get_ema_multi_avg_fn(decay: float = 0.999) -> MultiAvgFn:
    """torch's exponential-moving-average update, ``ema = lerp(ema, current, 1 - decay)``, in place.

    Floating (and complex) tensors: ``jforeach.lerp_(ema, current, 1 - decay)``. Integer
    tensors: ``ema.copy_(ema * decay + current * (1 - decay))`` as torch does (the products are
    float32, the copy truncates toward zero). ``num_averaged`` is ignored, as in torch (an
    ``AveragedModel`` copies the parameters instead of averaging when it is 0).

    Args:
        decay: the EMA decay, in ``[0, 1]``.

    Returns:
        ``ema_update(ema_param_list, current_param_list, num_averaged)``: updates
        ``ema_param_list`` (a list, dict or Packed) in place and returns it.

    Raises:
        ValueError: ``decay`` outside ``[0, 1]`` (torch's check); the update raises on a list that
            mixes floating and integer dtypes.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jforeach.optim import swa_utils
        >>> ema = [jnp.zeros(2)]
        >>> _ = swa_utils.get_ema_multi_avg_fn(0.75)(ema, [jnp.array([4.0, -8.0])], 1)
        >>> ema[0]
        Array([ 1., -2.], dtype=float32)

    See also:
        ``torch.optim.swa_utils.get_ema_multi_avg_fn``, ``optax.ema``.
    """
    if decay < 0.0 or decay > 1.0:
        raise _error(
            "get_ema_multi_avg_fn", f"Invalid decay value {decay} provided. Please provide a value in [0,1] range."
        )

    def ema_update(ema_param_list: PyTree, current_param_list: PyTree, num_averaged: Any = None) -> PyTree:
        del num_averaged
        if _is_floating("get_ema_multi_avg_fn", ema_param_list):
            return _api.lerp_(ema_param_list, current_param_list, 1 - decay)
        blend = _api.add(_api.mul(ema_param_list, decay), _api.mul(current_param_list, 1 - decay))
        return _api.copy_(ema_param_list, blend)

    return ema_update


def get_swa_multi_avg_fn() -> MultiAvgFn:
    """torch's running-average update, ``avg = lerp(avg, current, 1 / (num_averaged + 1))``, in place.

    The weight follows torch's types: a Python int ``num_averaged`` gives the Python float
    ``1 / (n + 1)``; an array (torch: a tensor, as ``AveragedModel`` passes its ``n_averaged``)
    gives a float32 ``1 / (n + 1)`` (torch's default dtype), used as a number on every tensor.
    With ``num_averaged == 0`` the weight is 1 and the average becomes ``current`` exactly.

    Returns:
        ``swa_update(averaged_param_list, current_param_list, num_averaged)``: updates
        ``averaged_param_list`` (a list, dict or Packed) in place and returns it.

    Raises:
        TypeError: from the update, for integer tensors (torch raises there too: its integer
            path calls ``addcdiv_`` or ``add_`` with a float ``alpha``, which integer tensors refuse).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jforeach.optim import swa_utils
        >>> swa = swa_utils.get_swa_multi_avg_fn()
        >>> avg = [jnp.array([1.0, 2.0])]
        >>> _ = swa(avg, [jnp.array([4.0, 8.0])], 2)
        >>> avg[0]
        Array([2., 4.], dtype=float32)

    See also:
        ``torch.optim.swa_utils.get_swa_multi_avg_fn``.
    """

    def swa_update(averaged_param_list: PyTree, current_param_list: PyTree, num_averaged: Any) -> PyTree:
        if not _is_floating("get_swa_multi_avg_fn", averaged_param_list):
            raise _error(
                "get_swa_multi_avg_fn",
                "integer tensors cannot be averaged (torch: integer addcdiv_, or add_ with a float alpha, raises)",
                TypeError,
            )
        return _api.lerp_(averaged_param_list, current_param_list, _swa_weight(num_averaged))

    return swa_update


def _swa_weight(num_averaged: Any) -> Any:
    if isinstance(num_averaged, int | np.integer) and not isinstance(num_averaged, bool):
        return 1 / (int(num_averaged) + 1)
    n = jnp.asarray(num_averaged)
    return jnp.float32(1) / (n + 1).astype(jnp.float32)


def _swa_per_tensor(averaged: PyTree, current: PyTree, num_averaged: Any) -> PyTree:
    """torch's ``AveragedModel`` default on CPU: ``avg + (current - avg) / (n + 1)`` in each tensor's dtype.

    (On CUDA torch takes the foreach path, :func:`get_swa_multi_avg_fn`, whose float32 weight
    differs from this in float64 by about 1e-8 relative: pass it as ``multi_avg_fn`` for that.)
    """
    step = _api.div(_api.sub(current, averaged), num_averaged + 1)
    if _is_floating("averaged_model", averaged):  # avg + step is what torch's copy_ writes back
        return _api.add_(averaged, step)
    return _api.copy_(averaged, _api.add(averaged, step))


class AveragedParams(NamedTuple):
    """The state of :func:`averaged_model`: the averaged tree and torch's ``n_averaged``."""

    params: PyTree
    n_averaged: jax.Array


class AveragedModel(NamedTuple):
    """``init`` and ``update`` of :func:`averaged_model` (in optax's ``GradientTransformation`` shape)."""

    init: Callable[[PyTree], AveragedParams]
    update: Callable[[AveragedParams, PyTree], AveragedParams]


def averaged_model(multi_avg_fn: MultiAvgFn | None = None) -> AveragedModel:
    """The functional counterpart of ``torch.optim.swa_utils.AveragedModel``, for jitted steps.

    ``init(params)`` makes the state (a copy of ``params``, ``n_averaged = 0``); ``update(state,
    params)`` is torch's ``update_parameters(model)``: the first call copies ``params``, later ones
    apply ``multi_avg_fn`` (default: SWA as torch's ``AveragedModel`` computes it on CPU,
    ``avg + (current - avg) / (n + 1)`` in each tensor's dtype) with ``n_averaged`` as an
    int64 array, as torch passes its counter, and every call adds one to ``n_averaged``. ``update``
    returns a new state and leaves its arguments alone (the average is computed on a copy), so it
    can sit inside ``jax.jit``, where it computes both the copy and the average and selects one.
    As in torch, the leaves are averaged in groups of one dtype.

    torch's ``use_buffers``: in JAX batch-norm statistics are just another tree. To average them
    with the parameters (``use_buffers=True``) pass both, ``update(state, {"params": p,
    "batch_stats": s})``; to keep the model's current ones (``use_buffers=False``, torch's default,
    which copies the buffers) average ``p`` only and use the model's ``s`` with the averaged
    parameters. torch's ``update_bn`` (recomputing the statistics for the averaged parameters) is a
    forward pass over the data in your own model code.

    Args:
        multi_avg_fn: an in-place ``fn(averaged_list, current_list, num_averaged)`` such as
            :func:`get_ema_multi_avg_fn` ``(decay)`` or :func:`get_swa_multi_avg_fn` ``()`` (torch's
            CUDA path); default SWA as torch computes it on CPU.

    Returns:
        An :class:`AveragedModel` ``(init, update)``; the state is an :class:`AveragedParams`.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jforeach.optim import swa_utils
        >>> swa = swa_utils.averaged_model()
        >>> state = swa.init({"w": jnp.zeros(2)})
        >>> update = jax.jit(swa.update)
        >>> for w in [1.0, 2.0, 6.0]:
        ...     state = update(state, {"w": jnp.full(2, w)})
        >>> state.params["w"], int(state.n_averaged)
        (Array([3., 3.], dtype=float32), 3)

    See also:
        ``torch.optim.swa_utils.AveragedModel``, ``optax.ema``.
    """
    fn = _swa_per_tensor if multi_avg_fn is None else multi_avg_fn

    def init(params: PyTree) -> AveragedParams:
        counter = jnp.int64 if jax.config.read("jax_enable_x64") else jnp.int32  # torch's is int64
        return AveragedParams(_api.clone(params), jnp.zeros((), counter))

    def update(state: AveragedParams, params: PyTree) -> AveragedParams:
        n = state.n_averaged
        if isinstance(state.params, Packed):
            averaged = _api.clone(state.params)
            fn(averaged, params, n)
        else:
            leaves, treedef = jax.tree.flatten(state.params)
            current = treedef.flatten_up_to(params)  # type: ignore[attr-defined]
            averaged_leaves = list(_api.clone(leaves))
            for dtype in dict.fromkeys(np.dtype(x.dtype) for x in leaves):
                group = [i for i, x in enumerate(leaves) if np.dtype(x.dtype) == dtype]
                avg_group = [averaged_leaves[i] for i in group]
                fn(avg_group, [jnp.asarray(current[i]).astype(dtype) for i in group], n)
                for i, x in zip(group, avg_group, strict=True):
                    averaged_leaves[i] = x
            averaged = jax.tree.unflatten(treedef, averaged_leaves)
        copied = jax.tree.map(lambda a, p: jnp.asarray(p).astype(a.dtype), state.params, params)
        first = n == 0
        chosen = jax.tree.map(lambda c, a: jnp.where(first, c, a), copied, averaged)
        return AveragedParams(chosen, n + 1)

    return AveragedModel(init, update)


class SWALR(_Recursive):
    """torch's ``SWALR``: anneals the lr from ``lr`` to ``swa_lr`` over ``anneal_epochs`` steps.

    torch's ``SWALR`` reads the optimizer's current lr at every step (it recovers the lr it
    started from by inverting its own last step), so its values depend on the lr when it started:
    ``lr`` here is that lr, the optimizer's lr at the scheduler's step 0, assumed constant before
    (no other scheduler changing it while this one steps). To switch to SWA at step ``s`` after
    another schedule ``sched`` (torch: ``SequentialLR`` with milestone ``s``, where SWALR starts
    from the lr it finds, ``sched(s - 1)``), use ``swalr = SWALR(sched(s - 1), swa_lr)`` and
    ``lambda k: jnp.where(k < s, sched(k), swalr(jnp.maximum(k - s, 0)))``, or
    ``lr_scheduler.SequentialLR(lr, [sched, SWALR(lr, swa_lr)], [s])``, which does the same.

    Args:
        lr: the optimizer's learning rate when SWALR starts.
        swa_lr: the learning rate to anneal to (then held).
        anneal_epochs: the number of steps of the annealing, a non-negative int.
        anneal_strategy: ``'cos'`` or ``'linear'``.

    Returns:
        A schedule ``count -> lr`` (constant ``swa_lr`` from step ``anneal_epochs + 1`` on).

    Raises:
        ValueError: with torch's checks of ``anneal_strategy`` and ``anneal_epochs``.

    Examples:
        >>> from jforeach.optim import swa_utils
        >>> sched = swa_utils.SWALR(1.0, swa_lr=0.5, anneal_epochs=2, anneal_strategy="linear")
        >>> [sched(k) for k in range(4)]
        [1.0, 0.75, 0.5, 0.5]

    See also:
        ``torch.optim.swa_utils.SWALR``.
    """

    _name = "SWALR"

    def __init__(self, lr: float, swa_lr: float, anneal_epochs: int = 10, anneal_strategy: str = "cos") -> None:
        self.lr = _as_lr(self._name, lr)
        if anneal_strategy not in ("cos", "linear"):
            raise _error(self._name, f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise _error(self._name, f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.swa_lr, self.anneal_epochs, self.anneal_strategy = swa_lr, anneal_epochs, anneal_strategy
        self._settles_at = anneal_epochs + 1
        self._init_table()

    def _anneal(self, t: float) -> float:
        return t if self.anneal_strategy == "linear" else (1 - math.cos(math.pi * t)) / 2

    def _torch_lr(self, k: int, lr_in: float) -> float:
        step = max(1, k) if self.anneal_epochs == 0 else k
        prev_alpha = self._anneal(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lr = self.swa_lr if prev_alpha == 1 else (lr_in - prev_alpha * self.swa_lr) / (1 - prev_alpha)
        alpha = self._anneal(max(0, min(1, step / max(1, self.anneal_epochs))))
        return self.swa_lr * alpha + prev_lr * (1 - alpha)
