"""torch.nn.utils' gradient clipping in torch's function form: ``clip_grad_norm_`` and ``clip_grad_value_``.

Both work in place, as torch's do: the gradients' buffers are donated to jforeach's in-place ops
(:func:`jforeach.mul_`, :func:`jforeach.clamp_min_`, :func:`jforeach.clamp_max_`) and the caller's
list, dict or :class:`jforeach.Packed` is updated with the results. In an optax chain use
:func:`jforeach.transforms.clip_by_norm`, which returns new updates.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jforeach import _api, _arrays, transforms
from jforeach.packed import Packed

__all__ = ["clip_grad_norm_", "clip_grad_value_"]

PyTree = Any


def _inplace_leaves(grads: Any, fname: str, *, complex_ok: bool = False) -> list[jax.Array]:
    """The arrays of ``grads``, after every check an in-place update of them needs.

    The root must be a container the update can write into (a list, a dict or a Packed): the
    arrays of any other tree are donated and deleted, and the caller could not see their results.
    Raised before anything is donated.
    """
    if isinstance(grads, Packed):
        with _arrays.named(fname):
            grads._check_alive("grads")
        leaves = list(grads.buffers)
    elif isinstance(grads, list | dict):
        with _arrays.named(fname):
            leaves, _ = _arrays.as_leaves(grads, "grads")
    else:
        raise TypeError(
            f"`jforeach.{fname}`: grads is {_what(grads)}, which cannot be updated in place; pass a list, a dict "
            "or a jforeach.Packed (for a tuple or a single array, put it in a list)"
        )
    kinds = (jnp.inexact,) if complex_ok else (jnp.floating,)
    for i, leaf in enumerate(leaves):
        if not jnp.issubdtype(leaf.dtype, kinds[0]):
            where = f" buffer {i}" if isinstance(grads, Packed) else _arrays.leaf_name(grads, i)
            kind = "floating or complex" if complex_ok else "floating"
            raise TypeError(
                f"`jforeach.{fname}`: grads{where} has dtype {np.dtype(leaf.dtype).name}; gradients must be {kind}"
            )
    repeat = None if _arrays.is_tracer(leaves) else _arrays.first_repeat(leaves)
    if repeat is not None:
        j, i = repeat
        raise ValueError(
            f"`jforeach.{fname}`: the same array is gradient {j} and gradient {i}; an in-place update "
            "cannot write one buffer twice (pass distinct arrays)"
        )
    return leaves


def _what(value: Any) -> str:
    if isinstance(value, jax.Array | np.ndarray):
        return f"a single array of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def _real_number(value: Any, name: str, fname: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real | np.ndarray | jax.Array):
        raise TypeError(f"`jforeach.{fname}`: {name} must be a real number, got {value!r}")
    if isinstance(value, np.ndarray | jax.Array) and (value.ndim or isinstance(value, jax.core.Tracer)):
        raise TypeError(f"`jforeach.{fname}`: {name} must be a real number (not an array), got {_what(value)}")
    return float(value)


def _check_foreach(foreach: Any, fname: str) -> None:
    if foreach is not None and not isinstance(foreach, bool):
        raise TypeError(f"`jforeach.{fname}`: foreach must be None, True or False, got {foreach!r}")


def clip_grad_norm_(
    grads: PyTree,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> jax.Array:
    """Clips the gradients' total norm to ``max_norm``, in place, and returns the total norm.

    torch's ``clip_grad_norm_`` (``foreach=True``) with the gradients themselves in place of the
    parameters: the total norm is the norm of the per-tensor norms (:func:`jforeach.norm`, then the
    ``norm_type`` norm of those norms, stacked in their promoted dtype), and every gradient is
    multiplied by ``min(max_norm / (total_norm + 1e-6), 1)`` with :func:`jforeach.mul_`. On a
    :class:`jforeach.Packed` and a positive ``norm_type`` the total is the norm of all elements,
    computed in one pass per buffer.

    The gradients' buffers are donated: the old arrays are deleted, and the caller's list, dict
    (at every level) or Packed holds the clipped gradients. Inside ``jax.jit`` nothing is donated
    and the list, dict or Packed is updated with the traced results.

    Args:
        grads: A list or a dict of arrays (any pytree below them), or a :class:`jforeach.Packed`.
        max_norm: The largest total norm allowed.
        norm_type: The order of the norm (any real number); ``float("inf")`` for the max norm.
        error_if_nonfinite: Raise ``RuntimeError`` if the total norm is NaN or infinite, before any
            gradient is changed. Under ``jax.jit`` the check runs as a ``jax.debug.callback``: the
            error surfaces as a ``jax.errors.JaxRuntimeError`` of the jitted call, whose gradients
            are then the gradients times the non-finite coefficient, as with ``False``.
        foreach: Accepted for torch's signature; every path is the foreach one.

    Returns:
        The total norm, a 0-d array in the promoted dtype of the gradients (float32 ``0.0`` for no
        gradients, as torch).

    Raises:
        TypeError: if ``grads`` is not a list, dict or Packed (its arrays could not be updated in
            place), a gradient is not a floating (or complex) array, or ``max_norm`` or
            ``norm_type`` is not a real number.
        ValueError: if the same array appears twice, or an infinite or negative ``norm_type`` meets
            an empty gradient.
        RuntimeError: with ``error_if_nonfinite=True``, if the total norm is not finite.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach
        >>> grads = [jnp.array([3.0, 0.0]), jnp.array(4.0)]
        >>> jforeach.clip_grad_norm_(grads, max_norm=1.0)
        Array(5., dtype=float32)
        >>> grads  # updated in place
        [Array([0.6, 0. ], dtype=float32), Array(0.8, dtype=float32)]

    See also:
        ``torch.nn.utils.clip_grad_norm_``, :func:`jforeach.transforms.clip_by_norm` (the optax
        transform), ``optax.clip_by_global_norm``.
    """
    fname = "clip_grad_norm_"
    max_norm = _real_number(max_norm, "max_norm", fname)
    norm_type = _real_number(norm_type, "norm_type", fname)
    _check_foreach(foreach, fname)
    leaves = _inplace_leaves(grads, fname, complex_ok=True)
    if not leaves:
        return jnp.zeros((), jnp.float32)
    total_norm = transforms._total_norm(grads, leaves, norm_type, fname)
    if error_if_nonfinite:  # torch raises a RuntimeError here
        transforms._check_finite_norm(total_norm, norm_type, fname=fname, what="gradients", error=RuntimeError)
    _api.mul_(grads, transforms._clip_coef(total_norm, max_norm))
    return total_norm


def clip_grad_value_(grads: PyTree, clip_value: float, foreach: bool | None = None) -> None:
    """Clamps every gradient to ``[-clip_value, clip_value]``, in place.

    torch's ``clip_grad_value_`` (``foreach=True``): :func:`jforeach.clamp_min_` with
    ``-clip_value``, then :func:`jforeach.clamp_max_` with ``clip_value``; NaN stays NaN. The
    gradients' buffers are donated and the caller's list, dict or Packed holds the results (inside
    ``jax.jit``: the traced results).

    Args:
        grads: A list or a dict of arrays (any pytree below them), or a :class:`jforeach.Packed`.
        clip_value: The largest magnitude allowed.
        foreach: Accepted for torch's signature; every path is the foreach one.

    Returns:
        None, as torch.

    Raises:
        TypeError: if ``grads`` is not a list, dict or Packed, a gradient is not a floating array,
            or ``clip_value`` is not a real number.
        ValueError: if the same array appears twice.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jforeach
        >>> grads = {"w": jnp.array([-3.0, 0.5, 2.0])}
        >>> jforeach.clip_grad_value_(grads, 1.0)
        >>> grads["w"]
        Array([-1. ,  0.5,  1. ], dtype=float32)

    See also:
        ``torch.nn.utils.clip_grad_value_``, ``optax.clip``, :func:`jforeach.clamp_min_`.
    """
    fname = "clip_grad_value_"
    clip_value = _real_number(clip_value, "clip_value", fname)
    _check_foreach(foreach, fname)
    if not _inplace_leaves(grads, fname):
        return
    _api.clamp_min_(grads, -clip_value)
    _api.clamp_max_(grads, clip_value)
