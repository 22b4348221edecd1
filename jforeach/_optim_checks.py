"""The hyperparameter checks torch.optim's constructors make, shared by every jforeach optimizer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
import optax


def _check(name: str, ok: Callable[[], Any], message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok()``; a traced hyperparameter is not checked.

    ``optax.inject_hyperparams`` rebuilds the optimizer inside ``update`` with its
    hyperparameters as arrays, traced under ``jit``; their values were checked when ``init``
    built it from the same values, concrete.
    """
    try:
        passed = bool(ok())
    except jax.errors.ConcretizationTypeError:
        return
    if not passed:
        raise ValueError(f"`jforeach.optim.{name}`: {message}")


def _check_non_negative(name: str, *, nan_passes: bool = False, **values: Any) -> None:
    """torch's ``Invalid <what> value: <v>`` checks, in order (SGD's ``v < 0`` lets NaN pass)."""
    for what, value in values.items():
        ok = (lambda v=value: not v < 0.0) if nan_passes else (lambda v=value: 0.0 <= v)
        _check(name, ok, f"Invalid {what} value: {value}")


def _learning_rate(
    name: str, lr: optax.ScalarOrSchedule, ok: Callable[[Any], Any] = lambda lr: 0.0 <= lr
) -> optax.ScalarOrSchedule:
    """``lr`` checked with torch's condition ``ok``; an array lr must hold one element, made 0-d.

    (A shape-(1,) lr would otherwise broadcast every 0-d parameter to shape (1,).)
    """
    if callable(lr):
        return lr
    if isinstance(lr, jax.Array | np.ndarray) and lr.ndim:
        if lr.size != 1:
            raise ValueError(f"`jforeach.optim.{name}`: an array lr must hold one element, got shape {lr.shape}")
        lr = lr.reshape(())
    _check(name, lambda: ok(lr), f"Invalid learning rate: {lr}")
    return lr


def _check_betas(name: str, betas: Any) -> tuple[Any, float]:
    """torch's beta checks; beta1 may also be a schedule of the step count (OneCycleLR's and
    CyclicLR's ``cycle_momentum`` cycle ``betas[0]``: pass their ``.momentum``)."""
    pair = tuple(betas) if isinstance(betas, Sequence | np.ndarray | jax.Array) and np.ndim(betas) == 1 else ()
    if isinstance(betas, tuple | list) and len(betas) == 2 and callable(betas[0]):
        pair = tuple(betas)
    if len(pair) != 2:
        raise ValueError(f"`jforeach.optim.{name}`: betas must be a pair (beta1, beta2), got {betas!r}")
    beta1, beta2 = pair
    if not callable(beta1):
        _check(name, lambda: 0.0 <= beta1 < 1.0, f"Invalid beta parameter at index 0: {beta1}")
        beta1 = float(beta1)
    _check(name, lambda: 0.0 <= beta2 < 1.0, f"Invalid beta parameter at index 1: {beta2}")
    return beta1, float(beta2)


def _chain(*txs: optax.GradientTransformation | None) -> optax.GradientTransformation:
    return optax.chain(*(tx for tx in txs if tx is not None))
