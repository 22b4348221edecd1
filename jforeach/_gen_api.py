"""Writes ``_api.py``, the public op functions, from the op table: ``python -m jforeach._gen_api``.

One ``def`` per row and form (``jforeach.log1p``, ``jforeach.log1p_``): typed parameters passed as the
row says (torch's positional and keyword structure), the docstring and doctest rendered from the row,
and a body that calls ``_engine.call`` with the operands in the row's order. ``tests/test_typing.py``
checks that the checked-in ``_api.py`` is :func:`api_source`'s text.
"""

from __future__ import annotations

import pathlib
import textwrap

from ._table import OPS, Op, Operand

_WIDTH = 120  # the project's line length (pyproject.toml)
_TYPES = {"Scalar": "Scalar", "ScalarList": "Sequence[Scalar]", "List": "PyTree", "Tensor": "ArrayLike"}
_SUMMARIES = {  # by the row's family; the other families apply their op to every tensor
    "binary": "Applies ``{torch}`` between every tensor and ``{operand}``",
    "reduction": "Computes ``{torch}`` of every tensor",
}
_INPLACE = """\
Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
updated in place with the results, so torch-style code keeps working; the updated tree is also
returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
Inside a JAX transformation nothing can be donated and the same values are computed functionally."""
_HEADER = '''\
"""The public ops: one function per row of the op table and form (``jforeach.log1p``, ``jforeach.log1p_``).

Written from ``_table.py`` by ``python -m jforeach._gen_api``; edit the table, not this file
(``tests/test_typing.py`` checks that the two agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from jax.typing import ArrayLike, DTypeLike

from . import _engine
from ._binding import ALPHA_DEFAULT, is_scalar_base, named_binding_errors, scalar_base
from ._table import OPS
from .packed import Packed

PyTree: TypeAlias = Any  # a list, tuple, dict or any pytree whose leaves are arrays (ArrayLike)
Scalar: TypeAlias = ArrayLike  # a Python or numpy number, or a 0-d array
'''


def forms(op: Op) -> list[tuple[str, bool]]:
    """The row's public functions: ``(name, inplace)`` for ``NAME`` and ``NAME_`` where it has them."""
    candidates = ((op.name, False, op.outplace), (op.name + "_", True, op.inplace))
    return [(name, inplace) for name, inplace, has in candidates if has]


def public_names() -> list[str]:
    return sorted(name for op in OPS.values() for name, _ in forms(op))


def annotation(spec: Operand) -> str:
    """The operand's type in ``_api.py``: the row's, or one per torch overload it takes."""
    return spec.annotation or " | ".join(dict.fromkeys(_TYPES[overload] for overload in spec.overloads))


def _parameters(op: Op) -> list[str]:
    texts, kinds = ["tensors: PyTree | Packed"], ["positional"]
    for spec in op.operands:
        text = f"{spec.name}: {annotation(spec)}"
        if spec.presence_matters:
            assert spec.default == 1, "ALPHA_DEFAULT stands for a default of 1"
            text += " = ALPHA_DEFAULT"
        elif spec.passed != "positional":
            text += f" = {spec.default!r}"
        texts.append(text)
        kinds.append(spec.passed)
    last_positional = max(i for i, kind in enumerate(kinds) if kind == "positional")
    first_keyword = kinds.index("keyword") if "keyword" in kinds else -1
    params = []
    for i, text in enumerate(texts):
        params += ["*", text] if i == first_keyword else [text]
        params += ["/"] if i == last_positional else []
    return params


def _def_lines(name: str, params: list[str]) -> list[str]:
    """``def name(params) -> PyTree:`` as ``ruff format`` lays it out in 120 columns."""
    one = f"def {name}({', '.join(params)}) -> PyTree:"
    if len(one) <= _WIDTH:
        return [one]
    if len(inner := "    " + ", ".join(params)) <= _WIDTH:
        return [f"def {name}(", inner, ") -> PyTree:"]
    return [f"def {name}(", *(f"    {p}," for p in params), ") -> PyTree:"]


def _wrapped(text: str, indent: str = "", hanging: str = "") -> list[str]:
    return textwrap.wrap(text, _WIDTH - 4, initial_indent=indent, subsequent_indent=hanging or indent)


def example_lines(op: Op, public: str, inplace: bool) -> list[str]:
    """The doctest of ``public`` from the row's example (the in-place one derived from it)."""
    example = op.example
    assert example is not None, f"the {op.name} row has no example"
    operands = f", {example.operands}" if example.operands else ""
    if inplace:
        lines = [f">>> xs = {example.tensors}", f">>> _ = jforeach.{public}(xs{operands})", ">>> xs"]
    else:
        lines = [f">>> jforeach.{public}({example.tensors}{operands})"]
    lines += example.result.splitlines()
    if op.scalar_base is not None and not inplace:
        base = op.scalar_base.example
        assert base is not None, f"the {op.name} row's scalar_base has no example"
        lines += [f">>> jforeach.{public}({base.operands}, {base.tensors})", *base.result.splitlines()]
    return lines


def docstring_lines(op: Op, public: str, inplace: bool) -> list[str]:
    """The docstring of ``public``, Google style, unindented."""
    first = op.operands[0].name if op.operands else ""
    summary = _SUMMARIES.get(op.family, "Applies ``{torch}`` to every tensor").format(torch=op.doc_torch, operand=first)
    if inplace:
        summary += ", in place (donating the input buffers)."
    else:
        summary += "." if op.family != "reduction" else ", returning one 0-d array per tensor."
    lines = [summary, ""]
    if op.scalar_base is not None and not inplace:
        lines += [*_wrapped(op.scalar_base.note), ""]
    if inplace:
        lines += [*_INPLACE.splitlines(), ""]
    lines += ["Args:", "  tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`."]
    for spec in op.operands:
        lines += _wrapped(f"{spec.name}: {spec.doc}", "  ", "    ")
    returns = "The updated ``tensors``." if inplace else "A new tree with the structure of ``tensors``."
    if op.family == "reduction":
        returns = "A tree with the structure of ``tensors`` whose leaves are 0-d arrays (a Packed for a Packed)."
    lines += ["", "Returns:", f"  {returns}", "", "Raises:"]
    raises = [
        "ValueError: if an operand's structure or length does not match ``tensors``"
        + (", or the same array appears twice in ``tensors``." if inplace else "."),
        "TypeError: for a leaf that is not an array, or a dtype torch rejects"
        + (" (in place: a result dtype that cannot be cast back, e.g. float into int)." if inplace else "."),
    ]
    lines += [line for text in raises for line in _wrapped(text, "  ", "    ")]
    lines += ["", "Examples:", "  >>> import jax.numpy as jnp", "  >>> import jforeach"]
    lines += [f"  {line}" for line in example_lines(op, public, inplace)]
    lines += ["", "See also:", f"  ``torch._foreach_{public}``, ``{op.doc_jnp}``."]
    return lines


def _body_lines(op: Op, public: str, inplace: bool) -> list[str]:
    names = [spec.name for spec in op.operands]
    given = "False"
    lines = []
    for spec in op.operands:
        if spec.presence_matters:  # torch's overload choice reads whether the caller passed it
            lines.append(f"given = {spec.name} is not ALPHA_DEFAULT")
            names[names.index(spec.name)] = f"{spec.name} if given else {spec.default!r}"
            given = "given"
    operands = "()" if not names else f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"
    tail = ")" if given == "False" else f", {given})"
    if op.scalar_base is not None and not inplace:
        (spec,) = op.operands  # pow(number, tensors): the number comes first, the tensors second
        lines += [
            f"if is_scalar_base(tensors, {spec.name}):",
            f'    return _engine.call({_scalar_base_constant(op)}, {spec.name}, (tensors,), False, "{public}")',
        ]
    lines.append(f'return _engine.call("{op.name}", tensors, {operands}, {inplace}, "{public}"{tail}')
    return lines


def _scalar_base_constant(op: Op) -> str:
    return f"_{op.name.upper()}_SCALAR_BASE"


def function_source(op: Op, public: str, inplace: bool) -> str:
    doc = docstring_lines(op, public, inplace)
    lines = [f'@named_binding_errors(OPS["{op.name}"])', *_def_lines(public, _parameters(op))]
    lines.append(f'    """{doc[0]}')
    lines += [f"    {line}".rstrip() for line in doc[1:]]
    lines.append('    """')
    lines += [f"    {line}" for line in _body_lines(op, public, inplace)]
    return "\n".join(lines) + "\n"


def api_source() -> str:
    """The text of ``_api.py``."""
    functions = [function_source(op, name, inplace) for op in OPS.values() for name, inplace in forms(op)]
    functions.sort(key=lambda source: source.split("\ndef ", 1)[1].split("(", 1)[0])
    all_names = "".join(f'    "{name}",\n' for name in public_names())
    forms_of_rows = "".join(
        f'{_scalar_base_constant(op)} = scalar_base(OPS["{op.name}"])  # jforeach.{op.name}(number, tensors)\n'
        for op in OPS.values()
        if op.scalar_base is not None
    )
    return _HEADER + f"\n__all__ = [\n{all_names}]\n\n{forms_of_rows}\n\n" + "\n\n".join(functions)


def main() -> None:
    path = pathlib.Path(__file__).with_name("_api.py")
    path.write_text(api_source())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
