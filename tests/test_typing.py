"""The shipped type stub of the generated ops follows the op table."""

import pathlib

from jforeach import _ops


def test_stub_matches_the_generated_functions():
    stub = pathlib.Path(_ops.__file__).with_suffix(".pyi").read_text()
    assert stub == _ops.stub_source(), "regenerate jforeach/_ops.pyi from _ops.stub_source()"
