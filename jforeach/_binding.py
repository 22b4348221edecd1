"""What the public op functions of ``_api.py`` need when called: the default that tells a passed
``alpha`` from none, the binding error that names the function, and ``pow``'s choice of overload.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import numpy as np

from . import _arrays
from ._table import Op

_P = inspect.Parameter
_KINDS = {"positional": _P.POSITIONAL_ONLY, "either": _P.POSITIONAL_OR_KEYWORD, "keyword": _P.KEYWORD_ONLY}
_F = TypeVar("_F", bound=Callable[..., Any])


class _Default(int):
    """The default 1 of an operand whose presence torch's overload choice reads (``alpha``).

    It equals 1 and prints as 1; a caller's own 1 is a different object, so ``alpha is ALPHA_DEFAULT``
    says the caller did not pass ``alpha``.
    """

    def __repr__(self) -> str:
        return "1"


ALPHA_DEFAULT = _Default(1)


def signature(op: Op) -> inspect.Signature:
    """The row's call signature without annotations: ``(tensors, other, /, *, alpha=1)``.

    Binding errors quote it; ``_gen_api`` renders the annotated ``def`` from the same fields of the row.
    """
    params = [_P("tensors", _P.POSITIONAL_ONLY)]
    params += [_P(spec.name, _KINDS[spec.passed], default=spec.default) for spec in op.operands]
    return inspect.Signature(params)


def named_binding_errors(op: Op) -> Callable[[_F], _F]:
    """Decorates a public op so that arguments that do not bind raise a ``TypeError`` naming it.

    The message is ``Signature.bind``'s, prefixed with the function and the row's signature in
    backquotes (``jforeach.mul(tensors, other, /)``, then ``got an unexpected keyword argument 'alpha'``).
    Errors of the call itself pass unchanged.
    """
    sig = signature(op)

    def decorate(fn: _F) -> _F:
        public = fn.__name__

        @functools.wraps(fn)
        def bound(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except TypeError:
                try:
                    sig.bind(*args, **kwargs)
                except TypeError as error:
                    raise TypeError(f"`jforeach.{public}{sig}`: {error}") from None
                raise

        return bound  # type: ignore[return-value]

    return decorate


_CONTAINERS = frozenset({list, tuple, dict})


def scalar_base(op: Op) -> Op:
    """The row's scalar-base form (``jforeach.pow(2.0, tensors)``)."""
    if op.scalar_base is None:
        raise ValueError(f"the {op.name} row has no scalar-base form")
    return op.scalar_base


def is_scalar_base(base: Any, exponent: Any) -> bool:
    """Whether ``pow(base, exponent)`` is torch's ScalarAndTensor: a number, or a 0-d array (its
    item) with a non-number exponent, raised to every tensor of ``exponent``."""
    if type(base) in _CONTAINERS:  # the common call, decided without the slower isinstance checks
        return False
    is_number = _arrays.is_number
    return is_number(base) or (_is_0d_array(base) and not (is_number(exponent) or _is_0d_array(exponent)))


def _is_0d_array(value: Any) -> bool:
    return isinstance(value, np.ndarray | jax.Array) and value.ndim == 0
