"""The tour notebook runs top to bottom at its quick sizes and prints the true log1p values.

The tests never rewrite the stored notebook: a copy executes in memory, in a temporary folder. To refresh the
stored outputs (full sizes, on a quiet machine: the timings go into the file), run
``python tests/test_notebook.py``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "tour.ipynb"


def _python3_kernelspec(folder: Path) -> Path:
    """A ``python3`` kernelspec that runs this interpreter; returns the Jupyter data dir holding it.

    Put first on ``JUPYTER_PATH``, it shadows any ``python3`` kernelspec of another environment (a user's
    ``~/.local/share/jupyter``), so the kernel always imports the jforeach under test.
    """
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    return folder


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def _tagged(nb, tag: str):
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def execute(nb, work: Path, *, quick: bool) -> None:
    """Runs ``nb`` in place in a fresh kernel of this interpreter, with ``work`` as the working directory."""
    with pytest.MonkeyPatch.context() as mp:
        jupyter_path = [str(_python3_kernelspec(work / "jupyter")), os.environ.get("JUPYTER_PATH", "")]
        mp.setenv("JUPYTER_PATH", os.pathsep.join(p for p in jupyter_path if p))
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p))
        if quick:
            mp.setenv("JFOREACH_TOUR_QUICK", "1")
        else:
            mp.delenv("JFOREACH_TOUR_QUICK", raising=False)
        mp.setenv("MPLBACKEND", "Agg")
        client = nbclient.NotebookClient(
            nb,
            timeout=120 if quick else 600,
            kernel_name="python3",
            record_timing=False,
            resources={"metadata": {"path": str(work)}},
        )
        client.execute()  # raises CellExecutionError on the first failing cell


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    execute(nb, tmp_path_factory.mktemp("tour"), quick=True)
    return nb


def test_runs_without_errors(executed):
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert "QUICK=True" in _stdout(executed.cells[1])


def test_prints_the_true_log1p_values(executed):
    text = _stdout(_tagged(executed, "log1p-values"))
    values = [float(v) for v in re.findall(r"Array\(([-+0-9.e]+), dtype=float32\)", text)]
    np.testing.assert_allclose(values, np.log1p([1.0, 2.0, 3.0]), rtol=1e-6)
    assert "1.62355139" not in text


def test_draws_the_plots_and_the_loss_falls(executed):
    pngs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 2  # the timing plot and the loss curve
    match = re.search(r"loss ([0-9.]+) -> ([0-9.]+) in", _stdout(_tagged(executed, "train-loss")))
    assert match, "the training cell did not print its loss"
    first, last = map(float, match.groups())
    assert last < 0.5 * first


if __name__ == "__main__":  # refresh the stored outputs at full sizes
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        execute(notebook, Path(tmp), quick=False)
    nbformat.write(notebook, NOTEBOOK)
    print(f"wrote {NOTEBOOK} ({NOTEBOOK.stat().st_size / 1e3:.0f} kB)")
