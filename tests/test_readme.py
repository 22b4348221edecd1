"""The README's code runs as written and prints what it says."""

import pathlib
import re

import jax
import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_ten_line_example_runs_and_its_comments_are_true():
    code = _python_blocks()[0]
    namespace: dict = {}
    with jax.enable_x64(False):
        exec(compile(code, str(README), "exec"), namespace)
    np.testing.assert_allclose([float(x) for x in namespace["xs"]], np.log1p([1.0, 2.0, 3.0]), rtol=1e-6)
    assert {k: float(v) for k, v in namespace["norms"].items()} == {"b": 0.0, "w": 3.0}
    state = namespace["state"]
    assert jax.tree.structure(state) is not None
    xs = np.log1p([1.0, 2.0, 3.0])
    np.testing.assert_allclose([float(y) for y in namespace["ys"]], xs + 0.5 * xs * xs, rtol=1e-6)


def test_the_two_commands_come_first():
    lines = README.read_text().splitlines()
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert block == [
        'pip install -e ".[bench]" && python -m jforeach',
        'pip install -e ".[test]" && python -m pytest -q',
    ]
    assert (README.parent / ".ci" / "run").read_text().count("python -m pytest -q") == 1
