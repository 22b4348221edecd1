"""The public ops are real, typed functions written from the op table, and type checkers see them."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import jax.numpy as jnp
import pytest

import jforeach
from jforeach import _api, _gen_api

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_api_module_is_the_generators_output():
    assert pathlib.Path(_api.__file__).read_text() == _gen_api.api_source(), (
        "regenerate jforeach/_api.py: python -m jforeach._gen_api"
    )


def test_package_reexports_every_op_explicitly():
    init = (REPO / "jforeach" / "__init__.py").read_text()
    for name in _gen_api.public_names():
        assert f"from ._api import {name} as {name}\n" in init, name
        assert getattr(jforeach, name) is getattr(_api, name), name
        assert name in jforeach.__all__, name
    assert "import *" not in init


def test_mypy_accepts_a_typed_use_and_flags_wrong_ones(tmp_path):
    good = """\
        import jax.numpy as jnp
        import numpy as np

        import jforeach

        xs = [jnp.ones(3), jnp.zeros(())]
        a = jforeach.add(xs, 1.0, alpha=2)
        b = jforeach.addcmul_(xs, xs, xs, value=np.float32(0.5))
        c = jforeach.norm(jforeach.pack(xs), 2, dtype=jnp.float32)
        d = jforeach.pow(2.0, xs)
        e = jforeach.clamp_min(xs, [0.0, 1.0])
    """
    wrong = {  # each call on its own line: what mypy must say about it
        "jforeach.add(xs, 1.0, 2)": "Too many positional arguments",  # alpha is keyword-only
        "jforeach.mul(xs, other=2.0)": 'Unexpected keyword argument "other"',  # other is positional-only
        'jforeach.norm(xs, ord="fro")': 'Argument "ord" to "norm" has incompatible type "str"',
        'jforeach.add(xs, 1.0, alpha="2")': 'Argument "alpha" to "add" has incompatible type "str"',
        "jforeach.log1p(xs, 1)": 'Too many arguments for "log1p"',
    }
    source = textwrap.dedent(good) + "".join(f"{call}\n" for call in wrong)
    path = tmp_path / "use_jforeach.py"
    path.write_text(source)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    first_wrong = len(textwrap.dedent(good).splitlines()) + 1
    for line, (call, message) in enumerate(wrong.items(), start=first_wrong):
        at_line = [e for e in errors if f"{path.name}:{line}: error: " in e]
        assert any(message in e for e in at_line), f"mypy did not flag {call}: {result.stdout}{result.stderr}"
    # (mypy may name the file by the path its cache saw first: compare the name and line only)
    assert all(f"{path.name}:" in e and int(e.split(":")[1]) >= first_wrong for e in errors), (
        f"mypy rejects a typed use: {result.stdout}"
    )


def test_binding_errors_name_the_call_and_its_signature():
    xs = [jnp.ones(2)]
    calls = {
        "`jforeach.add(tensors, other, /, *, alpha=1)`: too many positional arguments": lambda: jforeach.add(xs, xs, 3),
        "`jforeach.mul(tensors, other, /)`: got an unexpected keyword argument 'alpha'": lambda: jforeach.mul(
            xs, 2.0, alpha=2
        ),
        "`jforeach.addcmul_(tensors, tensor1, tensor2, /, value=1)`: missing a required argument: 'tensor2'": (
            lambda: jforeach.addcmul_(xs, xs)
        ),
        "`jforeach.norm(tensors, /, ord=2, dtype=None)`: too many positional arguments": lambda: jforeach.norm(
            xs, 2, None, 3
        ),
        "`jforeach.pow(tensors, exponent, /)`: missing a required argument: 'exponent'": lambda: jforeach.pow(xs),
        "`jforeach.zero_(tensors, /)`: 'tensors' parameter is positional only, but was passed as a keyword": (
            lambda: jforeach.zero_(tensors=xs)
        ),
    }
    for message, call in calls.items():
        with pytest.raises(TypeError) as error:
            call()
        assert str(error.value) == message
    assert not xs[0].is_deleted()
