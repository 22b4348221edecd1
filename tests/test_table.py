"""Every row of the op table has what its public functions are made from, and its example is torch's answer.

A row's example is rendered into the doctests of ``jforeach.NAME`` and ``jforeach.NAME_`` (``_gen_api``);
the doctests check jforeach prints ``result``, and this file checks ``result`` is what
``torch._foreach_NAME`` (and ``torch._foreach_NAME_``) computes for the same call.
"""

from __future__ import annotations

import functools
import importlib
import inspect

import numpy as np
import pytest
import torch
from _torch_ref import assert_matches

from jforeach import _binding, _gen_api
from jforeach._table import OPS, Op

ROWS = dict(OPS)
ROWS |= {f"{op.name}.scalar_base": op.scalar_base for op in ROWS.values() if op.scalar_base is not None}


class _TorchJnp:
    """What an example's ``jnp.`` calls mean in torch."""

    array = staticmethod(torch.tensor)
    ones = staticmethod(torch.ones)
    arange = staticmethod(torch.arange)


def _leaves(tree):
    """A list, or a dict's values in key order (as jax flattens it)."""
    return [tree[k] for k in sorted(tree)] if isinstance(tree, dict) else list(tree)


def _printed(result: str) -> list[np.ndarray]:
    """The arrays an example prints, read back at the printed precision (float32: exactly)."""
    tree = eval(result, {"Array": lambda values, dtype: np.asarray(values, dtype), "float32": np.float32})
    return _leaves(tree)


def _torch_call(op: Op):
    """(the torch tensors, the operands' positional and keyword arguments) of the row's example."""
    example = op.example
    tensors = _leaves(eval(example.tensors, {"jnp": _TorchJnp}))
    split = eval(f"_split({example.operands})", {"jnp": _TorchJnp, "_split": lambda *a, **k: (a, k)})
    return tensors, *split


def test_every_row_is_a_public_function():
    assert all(op.outplace or op.inplace for op in OPS.values())
    assert {name.removesuffix("_") for name in _gen_api.public_names()} == set(OPS)


@pytest.mark.parametrize("name", list(ROWS))
def test_row_has_a_signature_docs_and_an_example(name):
    op = ROWS[name]
    signature = _binding.signature(op)  # raises for operands passed in an impossible order
    assert list(signature.parameters) == ["tensors", *(spec.name for spec in op.operands)]
    for spec in op.operands:
        assert spec.doc.endswith("."), f"{name}: {spec.name} has no doc"
        assert _gen_api.annotation(spec), f"{name}: {spec.name} has no type"
        has_default = spec.default is not inspect.Parameter.empty
        assert has_default == (spec.passed != "positional"), f"{name}: {spec.name} is optional iff it has a default"
    assert op.example is not None and op.example.tensors and op.example.result, f"{name} has no example"
    if name.endswith(".scalar_base"):
        assert op.note, f"{name}: the form is not documented"
    else:  # the docstring's See also: and summary name functions that exist
        for dotted in (op.doc_torch, op.doc_jnp):
            module, *path = dotted.split(".")
            assert functools.reduce(getattr, path, importlib.import_module(module)), dotted


@pytest.mark.parametrize("name", list(ROWS))
def test_example_is_torchs_answer(name):
    op = ROWS[name]
    want = _printed(op.example.result)
    if name.endswith(".scalar_base"):  # jforeach.pow(2.0, tensors): the operands come first
        tensors, args, kwargs = _torch_call(op)
        results = {"out of place": list(torch._foreach_pow(*args, tensors, **kwargs))}
    else:
        results = {}
        if op.outplace:
            tensors, args, kwargs = _torch_call(op)
            results["out of place"] = list(getattr(torch, f"_foreach_{op.name}")(tensors, *args, **kwargs))
        if op.inplace:  # the in-place doctest prints the tensors after the call: the same result
            tensors, args, kwargs = _torch_call(op)
            getattr(torch, f"_foreach_{op.name}_")(tensors, *args, **kwargs)
            results["in place"] = tensors
    for form, got in results.items():
        assert len(got) == len(want), f"{name} {form}"
        for printed, answer in zip(want, got, strict=True):
            assert_matches(printed, answer, context=f"{name} {form}: the example prints {op.example.result}")
