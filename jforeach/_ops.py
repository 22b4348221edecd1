"""The public ops, generated from the op table: ``jforeach.NAME`` and ``jforeach.NAME_``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from . import _engine
from ._examples import EXAMPLES
from ._table import OPS, Op

__all__: list[str] = []

_P = inspect.Parameter

_ARG_DOCS = {
    "other": (
        "A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure "
        "of ``tensors`` (combined leaf by leaf, with broadcasting)"
    ),
    "exponent": "A number, a sequence of numbers (one per tensor), or a tree with the structure of ``tensors``",
    "alpha": "Multiplier of ``other`` (torch's ``alpha``).",
    "tensor1": "A tree with the structure of ``tensors``.",
    "tensor2": "A tree with the structure of ``tensors``.",
    "value": "A number, a sequence of numbers or a 1-D array with one entry per tensor.",
    "end": "A tree with the structure of ``tensors``.",
    "weight": "A number, a sequence of numbers (one per tensor), or a tree with the structure of ``tensors``.",
    "ord": "The order of the norm: any real number, ``inf`` or ``-inf`` (0 counts non-zeros).",
    "dtype": "Compute and return in this floating dtype (must not narrow the input dtype).",
    "mat2": "A tree with the structure of ``tensors`` of matrices to multiply each tensor by.",
    "src": "A tree with the structure of ``tensors``, broadcast into each tensor and cast to its dtype.",
}

_SUMMARIES = {
    "unary": "Applies ``{torch}`` to every tensor",
    "binary": "Applies ``{torch}`` between every tensor and ``{operand}``",
    "pointwise": "Applies ``{torch}`` to every tensor",
    "reduction": "Computes ``{torch}`` of every tensor",
    "other": "Applies ``{torch}`` to every tensor",
}


def _signature(op: Op) -> inspect.Signature:
    params = [_P("tensors", _P.POSITIONAL_ONLY)]
    for spec in op.operands:
        if spec.name in ("alpha",):
            params.append(_P(spec.name, _P.KEYWORD_ONLY, default=spec.default))
        elif spec.default is not inspect.Parameter.empty and spec.name in ("value", "ord", "dtype"):
            params.append(_P(spec.name, _P.POSITIONAL_OR_KEYWORD, default=spec.default))
        else:
            params.append(_P(spec.name, _P.POSITIONAL_ONLY))
    return inspect.Signature(params)


def _docstring(op: Op, public: str, inplace: bool) -> str:
    first = op.operands[0].name if op.operands else ""
    summary = _SUMMARIES[op.family].format(torch=op.doc_torch, operand=first)
    if inplace:
        summary += ", in place (donating the input buffers)."
    else:
        summary += "." if op.family != "reduction" else ", returning one 0-d array per tensor."
    lines = [summary, ""]
    if inplace:
        lines += [
            "Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their",
            "memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are",
            "updated in place with the results, so torch-style code keeps working; the updated tree is also",
            "returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).",
            "Inside a JAX transformation nothing can be donated and the same values are computed functionally.",
            "",
        ]
    lines += ["Args:", "  tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`."]
    for spec in op.operands:
        lines.append(f"  {spec.name}: {_ARG_DOCS[spec.name]}")
    returns = "The updated ``tensors``." if inplace else "A new tree with the structure of ``tensors``."
    if op.family == "reduction":
        returns = "A tree with the structure of ``tensors`` whose leaves are 0-d arrays (a Packed for a Packed)."
    lines += ["", "Returns:", f"  {returns}", "", "Raises:"]
    lines += [
        "  ValueError: if an operand's structure or length does not match ``tensors``"
        + (", or the same array appears twice in ``tensors``." if inplace else "."),
        "  TypeError: for a leaf that is not an array, or a dtype torch rejects"
        + (" (in place: a result dtype that cannot be cast back, e.g. float into int)." if inplace else "."),
    ]
    call, expected = EXAMPLES[public]
    lines += ["", "Examples:", "  >>> import jax.numpy as jnp", "  >>> import jforeach"]
    for i, line in enumerate(call.splitlines()):
        lines.append(("  >>> " if i == 0 or not line.startswith(" ") else "  ... ") + line.lstrip())
    lines += [f"  {line}" for line in expected.splitlines()]
    torch_fn = f"torch._foreach_{public}"
    lines += ["", "See also:", f"  ``{torch_fn}``, ``{op.doc_jnp}``."]
    return "\n".join(lines)


def _make(op: Op, inplace: bool) -> Callable[..., Any]:
    public = op.name + ("_" if inplace else "")
    signature = _signature(op)
    names = [spec.name for spec in op.operands]
    # binding without inspect (a few microseconds a call): the operands given positionally, then the
    # defaults, with the keyword ones put in place; anything else goes through Signature.bind
    params = list(signature.parameters.values())[1:]
    defaults = [p.default for p in params]
    required = next((i for i, p in enumerate(params) if p.default is not _P.empty), len(params))
    positional = sum(p.kind is not _P.KEYWORD_ONLY for p in params)
    keyword_at = {p.name: i for i, p in enumerate(params) if p.kind is not _P.POSITIONAL_ONLY}
    if any(p.default is _P.empty for p in params[required:]):
        positional = -1  # (a required operand after an optional one: always bind)

    tails = [tuple(defaults[given:]) for given in range(len(params) + 1)]
    name = op.name

    def fn(*args: Any, **kwargs: Any) -> Any:
        given = len(args) - 1
        if required <= given <= positional:
            if not kwargs:
                return _engine.call(name, args[0], args[1:] + tails[given], inplace, public)
            if all(keyword_at.get(k, -1) >= given for k in kwargs):
                operands = [*args[1:], *tails[given]]
                for key, value in kwargs.items():
                    operands[keyword_at[key]] = value
                return _engine.call(name, args[0], operands, inplace, public, "alpha" in kwargs)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"`jforeach.{public}{signature}`: {error}") from None
        alpha_given = "alpha" in bound.arguments  # torch's overload choice depends on it
        bound.apply_defaults()
        arguments = bound.arguments
        operands = [arguments[n] for n in names]
        return _engine.call(
            op.name, arguments["tensors"], operands, inplace=inplace, fname=public, alpha_given=alpha_given
        )

    fn.__name__ = fn.__qualname__ = public
    fn.__module__ = "jforeach"
    fn.__doc__ = _docstring(op, public, inplace)
    fn.__signature__ = signature  # type: ignore[attr-defined]
    return fn


def _generate() -> dict[str, Callable[..., Any]]:
    out = {}
    for op in OPS.values():
        if op.name == "pow_scalar_base":
            continue
        if op.outplace:
            out[op.name] = _make(op, inplace=False)
        if op.inplace:
            out[op.name + "_"] = _make(op, inplace=True)
    return out


FUNCTIONS = _generate()
globals().update(FUNCTIONS)
__all__ += sorted(FUNCTIONS)

_pow_tensor = FUNCTIONS["pow"]


def pow(self: Any, exponent: Any, /) -> Any:  # noqa: A001 - torch's name
    if _engine._is_number(self) or (_is_0d_array(self) and not _is_number_or_0d(exponent)):
        # torch's ScalarAndTensor: a number, or a 0-d tensor (its item), raised to every tensor
        return _engine.call("pow_scalar_base", exponent, [self], inplace=False, fname="pow")
    return _pow_tensor(self, exponent)


def _is_0d_array(value: Any) -> bool:
    return isinstance(value, np.ndarray | jax.Array) and value.ndim == 0


def _is_number_or_0d(value: Any) -> bool:
    return _engine._is_number(value) or _is_0d_array(value)


pow.__doc__ = _pow_tensor.__doc__.replace(  # type: ignore[union-attr]
    "Args:\n  tensors:",
    "``jforeach.pow(number, tensors)`` raises the number (or a 0-d array, taken as a number of its kind) to "
    "every tensor (torch's ScalarAndTensor).\n\n"
    "Args:\n  tensors:",
)
pow.__module__ = "jforeach"
FUNCTIONS["pow"] = pow


def stub_source() -> str:
    """The text of ``_ops.pyi``: the generated functions' signatures, for type checkers and IDEs.

    ``tests/test_typing.py`` checks the shipped stub against this, so it follows the op table.
    """
    lines = [
        '"""Signatures of the ops generated from the op table (written by ``_ops.stub_source``)."""',
        "",
        "from typing import Any",
        "",
        "PyTree = Any",
        "",
        f"__all__: list[str] = {sorted(FUNCTIONS)!r}",
        "",
    ]
    for name in sorted(FUNCTIONS):
        parameters = list(inspect.signature(FUNCTIONS[name]).parameters.values())
        rendered = []
        for i, p in enumerate(parameters):
            if p.kind is _P.KEYWORD_ONLY and (i == 0 or parameters[i - 1].kind is not _P.KEYWORD_ONLY):
                rendered.append("*")
            text = f"{p.name}: {'PyTree' if p.name in ('tensors', 'self') else 'Any'}"
            rendered.append(text if p.default is _P.empty else f"{text} = {p.default!r}")
            if p.kind is _P.POSITIONAL_ONLY and (
                i + 1 == len(parameters) or parameters[i + 1].kind is not _P.POSITIONAL_ONLY
            ):
                rendered.append("/")
        lines.append(f"def {name}({', '.join(rendered)}) -> PyTree: ...")
    return "\n".join(lines) + "\n"
