"""`python -m jforeach bench` on a tiny configuration: rows, json, png; no timings."""

import ast
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest
import tomllib

from jforeach import bench
from jforeach.bench import _table, _timing, ops, percall
from jforeach.bench import optim as bench_optim

REPO = pathlib.Path(__file__).resolve().parents[1]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _expected_impls() -> set[str]:
    impls = {ops.FOR_LOOP, ops.MAP, ops.JIT_TREE_MAP, ops.FLAT, ops.JF_LIST, ops.JF_PACKED}
    if importlib.util.find_spec("torch") is not None:
        impls |= {ops.TORCH_FOREACH, ops.TORCH_LOOP}
    return impls


def test_bench_writes_rows_json_and_png(tmp_path, capsys):
    argv = ["--quick", "--ops", "log1p,norm", "--sizes", "20x100", "--repeat", "2"]
    argv += ["--compile-n", "3,30", "--out", str(tmp_path)]
    assert bench.main(argv) == 0

    result = json.loads((tmp_path / "bench.json").read_text())
    assert {"platform", "cpu_count", "jax", "jaxlib", "device_kind", "torch"} <= set(result["machine"])
    sweep = [r for r in result["rows"] if r["section"] == "sweep"]
    expected = _expected_impls()
    for case in ("log1p_ 20x100", "norm 20x100"):
        rows = {r["impl"]: r for r in sweep if r["case"] == case}
        assert set(rows) == expected, case
        for row in rows.values():
            assert row["ms"] > 0
            assert row["n"] == 20 and row["s"] == 100
        assert rows[ops.FLAT]["vs_limit"] == pytest.approx(1.0)
        assert rows[ops.JIT_TREE_MAP]["compile_s"] >= 0

    if ops.JF_LIST in expected:
        assert [t["case"] for t in result["targets"]] == ["log1p_ 20x100", "norm 20x100"]
        assert result["targets"][0]["list/jit(tree_map)"] > 0

    compile_rows = [r for r in result["rows"] if r["section"] == "compile"]
    if ops.JF_PACKED in expected:
        assert [r["n"] for r in compile_rows] == [3, 30]
        assert all(r["compile_s"] >= 0 and r["pack_s"] > 0 for r in compile_rows)
    else:
        assert compile_rows == []

    table = capsys.readouterr().out
    assert "log1p_ 20x100" in table and ops.FLAT in table
    assert (tmp_path / "bench.png").read_bytes().startswith(_PNG_SIGNATURE)


def test_bench_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--sizes", "20by100"])
    with pytest.raises(SystemExit):
        bench.main(["--ops", "log1p,nope"])
    assert "nope" in capsys.readouterr().err


def test_every_sweep_op_has_a_row():
    assert set(bench.SWEEP_OPS) == set(ops._OPS)


def test_bench_optimizer_options(capsys):
    assert bench._parse_optimizers("all") == list(bench_optim.OPTIMIZERS)
    assert bench._parse_optimizers("adam, muon") == ["adam", "muon"]
    with pytest.raises(SystemExit):
        bench.main(["--optimizers", "adam,lbfgs"])
    assert "lbfgs" in capsys.readouterr().err


def test_format_table_aligns_columns():
    rows = [
        {"case": "c", "impl": "flat kernel", "ms": 1.0, "vs_limit": 1.0, "compile_s": 0.5},
        {"case": "c", "impl": "x", "ms": 12.25, "vs_limit": 12.25, "compile_s": None},
    ]
    lines = _table.rows_table(rows, torch_column=False).splitlines()
    ms_end = lines[0].index(" ms") + 3
    assert lines[2][:ms_end].endswith(" 1.000")
    assert lines[3][:ms_end].endswith(" 12.250")
    assert lines[3].endswith("-")  # no compile time


def test_bench_without_the_bench_extra_says_what_to_install(monkeypatch, capsys):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "tqdm" else real_find_spec(name))
    assert bench.main(["--quick"]) == 2
    assert "pip install 'jforeach[bench]'" in capsys.readouterr().err


def test_resnet_like_sizes_sum_to_the_total():
    sizes = bench_optim._resnet_like_sizes(26_800_000)
    assert len(sizes) == 161 and sum(sizes) == 26_800_000 and min(sizes) >= 1
    assert sizes == bench_optim._resnet_like_sizes(26_800_000)  # fixed seed


def test_interleaved_takes_one_sample_per_runner_per_round():
    calls: list[tuple[str, int]] = []
    runners = {name: (lambda steps, name=name: calls.append((name, steps))) for name in ("a", "b")}
    timings = _timing.interleaved(runners, rounds=3, sample_s=0.0)
    assert {name: len(t.samples_s) for name, t in timings.items()} == {"a": 3, "b": 3}
    assert all(s >= 0 for t in timings.values() for s in t.samples_s)
    assert all(t.burst == 1 and t.calls == 3 and t.first_s >= 0 for t in timings.values())
    # warm-up: two single steps and one burst each, then the rounds alternate a, b
    assert calls[:6] == [("a", 1)] * 3 + [("b", 1)] * 3
    assert calls[6:] == [("a", 1), ("b", 1)] * 3


def test_interleaved_sizes_bursts_to_the_sample_time():
    import time

    calls: list[int] = []

    def run(steps: int) -> None:
        calls.append(steps)
        time.sleep(0.002 * steps)

    timing = _timing.interleaved({"a": run}, rounds=2, sample_s=1.0, max_burst=5)["a"]
    # hundreds of steps of 2 ms (or somewhat more on a busy machine) fill a second: capped at 5;
    # each sample is seconds per step
    assert timing.burst == 5 and calls == [1, 1, 5, 5, 5]
    assert all(0.002 <= s < 0.2 for s in timing.samples_s)
    assert timing.median_s == pytest.approx(np.median(timing.samples_s))


def test_optim_bench_rows_on_a_tiny_case(monkeypatch):
    case = bench_optim.Case("tiny", [30, 7, 100], [(5, 6), (6, 5)])  # Muon: one wide, one tall
    monkeypatch.setattr(bench_optim, "_cases", lambda quick: [case])
    monkeypatch.setattr(bench_optim, "TRIAD_FLOATS", 4096)
    rows = bench_optim.run_optim_bench(True, skip=("optax", "foreach=True"), optimizers=("adam",))
    # Muon's rows without running it (its compile and torch's bfloat16 products are the slow part):
    # its matrices set the limit, and its implementations are labelled as the others'
    rows += bench_optim.run_optim_bench(True, skip=("torch", "jforeach", "optax"), optimizers=("muon",))
    has_torch = importlib.util.find_spec("torch") is not None
    for name, floats, numel in (("adam", 7, 137), ("muon", 5, 60)):
        group = [r for r in rows if r["case"] == f"{name}: tiny"]
        assert {r["optimizer"] for r in group} == {name}
        impls = [r["impl"] for r in group]
        expected = []
        if name == "adam":
            expected.append("jforeach list, jit+donate")
            expected.append("jforeach Packed, jit+donate")
            if has_torch:
                expected.insert(0, "torch.optim fused=True cpu")
        assert impls[:-1] == expected
        assert impls[-1].startswith(f"bandwidth limit ({floats} floats/param @ ")
        gbps = float(impls[-1].split("@ ")[1].split(" GB/s")[0])
        # the label rounds the bandwidth to 0.1 GB/s
        assert group[-1]["ms"] * gbps == pytest.approx(floats * 4 * numel / 1e6, abs=0.051 * group[-1]["ms"])
        assert all(r["ms"] > 0 for r in group)
        assert all(r["compile_s"] > 0 for r in group if r["impl"].startswith("jforeach"))
    muon = [label for label, _ in bench_optim._impls("muon", bench_optim.OPTIMIZERS["muon"], "cpu")]
    assert muon == ["torch.optim single-tensor cpu", "optax per leaf, jit+donate", "jforeach Packed, jit+donate"]
    rows = [{"section": "optim", **r} for r in rows]
    _table.add_ratios(rows)
    table = _table.rows_table(rows, torch_column=True)
    assert "muon: tiny" in table and "x torch" in table
    for row in rows:  # over the case's bandwidth limit, and over torch's fused step where the case has one
        group = [r for r in rows if r["case"] == row["case"]]
        assert row["vs_limit"] == pytest.approx(row["ms"] / group[-1]["ms"])
        fused = [r for r in group if r["impl"] == "torch.optim fused=True cpu"]
        assert row["vs_torch"] == (pytest.approx(row["ms"] / fused[0]["ms"]) if fused else None)
    with pytest.raises(ValueError, match="unknown optimizers"):
        bench_optim.run_optim_bench(True, optimizers=("lbfgs",))


def test_optim_bench_covers_every_optimizer_with_torch_and_optax_counterparts():
    # every jforeach.optim optimizer is in the section; torch's fused flag, and optax's
    # counterparts, exist where the table says (checked without running a step)
    import inspect

    import jforeach.optim

    optimizers = {n for n in jforeach.optim.__all__ if n.islower() and callable(getattr(jforeach.optim, n))}
    optimizers -= {"state_from_torch", "state_to_torch", "torch_order"}
    assert set(bench_optim.OPTIMIZERS) == optimizers
    torch = pytest.importorskip("torch")
    for name, spec in bench_optim.OPTIMIZERS.items():
        params = inspect.signature(getattr(torch.optim, spec.torch_name).__init__).parameters
        assert ("fused" in params) == spec.fused, name
        assert ("foreach" in params) == spec.foreach, name
        getattr(jforeach.optim, name)(bench_optim.LR, **spec.kwargs)
        if spec.optax is not None:
            assert isinstance(spec.optax(), bench_optim.optax.GradientTransformation)


# ----------------------------------------------------------------------
# The per-call section.

_TINY = percall.Size(packed_tensors=6, tensor_floats=4, list_arrays=3, big=(7, 5))
_CASE_NAMES = [c.name for c in percall._cases()]
# the same op written in numpy (torch's arithmetic: addcmul is self + value * t1 * t2)
_NUMPY = {
    "log1p_": lambda x: np.log1p(x),
    "mul_ Scalar": lambda x: x * np.float32(0.5),
    "mul_ ScalarList": lambda x, s: x * s,
    "add_ TensorList": lambda x, o: x + o,
    "add_ TensorList alpha": lambda x, o: x + np.float32(0.5) * o,
    "addcmul_ value": lambda x, q, r: x + np.float32(0.5) * q * r,
    "addcmul_ ScalarList": lambda x, q, r, s: x + s * q * r,
    "mul_ Tensor": lambda x, t: x * t,
}


@pytest.mark.parametrize("packed", [True, False], ids=["Packed", "list"])
@pytest.mark.parametrize("name", _CASE_NAMES)
def test_percall_calls_compute_what_numpy_does(name, packed):
    # one call of each side of a case against numpy on the same data: the two sides time the same arithmetic
    case = next(c for c in percall._cases() if c.name == name)
    n, s = (6, 4) if packed else (3, 4)
    pair = percall._steps(case, n, s, packed)
    operands = [
        percall._data(n, s, 1 + i) if kind == "tensors" else np.float32(0.5) for i, kind in enumerate(case.operands)
    ]
    want = _NUMPY[name](percall._data(n, s, 0), *operands).ravel()
    before = pair.values()
    pair.jforeach()
    pair.bare()
    got, bare = pair.values()
    assert not np.allclose(before[0], want)  # the call changed the values
    # float32 throughout: the products and sums round as numpy's (XLA may contract a + b * c into one
    # rounding: 1 ulp); XLA's and numpy's float32 log1p differ by up to 2 ulp
    maxulp = 2 if name == "log1p_" else 1
    np.testing.assert_array_max_ulp(got, want.astype(np.float32), maxulp=maxulp)
    np.testing.assert_array_max_ulp(bare, want.astype(np.float32), maxulp=maxulp)
    np.testing.assert_array_equal(got, bare)  # the same kernel arithmetic on both sides


def test_percall_target_is_the_ratio_or_the_microseconds_whichever_is_larger():
    assert percall.met(11.0, 10.0, 1.15, 5.0)  # 1.10x
    assert percall.met(14.9, 10.0, 1.15, 5.0)  # 1.49x, but 4.9 us over
    assert not percall.met(15.1, 10.0, 1.15, 5.0)
    assert percall.met(114.0, 100.0, 1.15, 5.0)  # 14 us over, but 1.14x
    assert not percall.met(116.0, 100.0, 1.15, 5.0)
    assert percall.met(1049.0, 1000.0, 1.05, 0.0) and not percall.met(1051.0, 1000.0, 1.05, 0.0)


def test_percall_section_through_the_bench_command(tmp_path, monkeypatch, capsys):
    real = percall.run_percall_bench

    def tiny(quick, **kwargs):  # the smallest sizes, 5 ms per case: the rows are checked, not their timings
        return real(quick, size=_TINY, budget_s=0.005, **kwargs)

    monkeypatch.setattr(percall, "run_percall_bench", tiny)
    monkeypatch.setattr(bench, "_load_torch", lambda: (None, "torch: not used by the per-call section"))
    flag = jax.config.values["jax_cpu_enable_async_dispatch"]
    assert bench.main(["--ops", "percall", "--out", str(tmp_path)]) == 0
    assert jax.config.values["jax_cpu_enable_async_dispatch"] == flag  # restored
    out = capsys.readouterr().out
    assert "per-call cost" in out and "jforeach us" in out and "bare us" in out
    result = json.loads((tmp_path / "bench.json").read_text())
    rows = result["rows"]
    names = [f"{c} on a Packed of 6 x 4" for c in _CASE_NAMES] + [f"{c} on a list of 3 x 4" for c in _CASE_NAMES]
    assert [r["case"] for r in rows] == [*names, "log1p_ on a list of 7 x 5"]  # no other section ran
    for row in rows:
        assert row["section"] == "percall"
        assert row["jforeach_us"] > 0 and row["bare_us"] > 0 and row["pairs"] >= 3
        assert row["ratio"] == pytest.approx(row["jforeach_us"] / row["bare_us"])
        assert row["met"] == percall.met(row["jforeach_us"], row["bare_us"], row["target_ratio"], row["target_us"])
        # both chains ran the same calls from the same data
        assert row["max_rel_diff"] <= 2 * np.finfo(np.float32).eps, row["case"]
        assert f"{row['ratio']:.2f}" in out
    assert [(r["target_ratio"], r["target_us"]) for r in rows] == [(1.15, 5.0)] * 16 + [(1.05, 0.0)]
    # this process's CPU client was created before the bench ran, under the flag's default value
    assert {r["async_dispatch"] for r in rows} == {flag if jax.default_backend() == "cpu" else None}
    assert (tmp_path / "bench.png").read_bytes().startswith(_PNG_SIGNATURE)


def test_percall_in_a_fresh_process_creates_a_synchronous_cpu_client():
    code = (
        "import jax\n"
        "from jforeach.bench import percall\n"
        "print(percall.synchronous_dispatch(), jax.config.values['jax_cpu_enable_async_dispatch'])\n"
    )
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_percall_table_says_whether_each_target_is_met():
    rows = [
        {"case": "a", "jforeach_us": 12.0, "bare_us": 10.0, "ratio": 1.2, "target_ratio": 1.15, "target_us": 5.0},
        {"case": "big", "jforeach_us": 211.0, "bare_us": 200.0, "ratio": 1.055, "target_ratio": 1.05, "target_us": 0.0},
    ]
    for r in rows:
        r["met"] = percall.met(r["jforeach_us"], r["bare_us"], r["target_ratio"], r["target_us"])
    lines = percall.table(rows).splitlines()
    assert lines[0].split() == ["case", "jforeach", "us", "bare", "us", "ratio", "target"]
    assert lines[2].split()[1:4] == ["12.0", "10.0", "1.20"] and lines[2].endswith("1.15x or +5 us: met")
    assert lines[3].endswith("1.05x: missed")
    assert len(lines) == 4


def test_unpack_section_through_the_bench_command(tmp_path, capsys):
    argv = ["--ops", "unpack", "--unpack-n", "12", "--repeat", "1", "--out", str(tmp_path)]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "== unpack" in out and "Packed compile s" in out
    rows = json.loads((tmp_path / "bench.json").read_text())["rows"]
    assert [(r["section"], r["impl"], r["tensors"]) for r in rows] == [("unpack", "tree", 12), ("unpack", "Packed", 12)]
    for row in rows:
        assert row["ms"] > 0
        assert row["compile_s"] == pytest.approx(row["trace_s"] + row["lower_s"] + row["xla_s"])
    assert (tmp_path / "bench.png").read_bytes().startswith(_PNG_SIGNATURE)


# ----------------------------------------------------------------------
# The subpackage's place in the package.


def _imported_names(path: pathlib.Path) -> set[str]:
    """Every module path ``path`` imports, relative ones with their leading dots."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
            names |= {(base + "." if node.module else base) + a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


def test_no_other_module_imports_the_bench():
    # the bench belongs to the command line (python -m jforeach bench): the library never imports it
    for path in sorted((REPO / "jforeach").glob("*.py")):
        if path.name != "__main__.py":
            bench_imports = {n for n in _imported_names(path) if n.split(".")[-1] == "bench" or ".bench." in n}
            assert not bench_imports, path


def test_percall_uses_only_the_public_api():
    # the per-call path is being rewritten elsewhere in the package: the benchmark goes through what users call
    path = REPO / "jforeach" / "bench" / "percall.py"
    assert {n for n in _imported_names(path) if n.startswith("jforeach")} == {"jforeach"}
    tree = ast.parse(path.read_text())
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and getattr(n.value, "id", "") == "jforeach"}
    assert "pack" in used and not {a for a in used if a.startswith("_")}


def test_the_bench_has_no_doctests_and_pytest_does_not_collect_it():
    for path in (REPO / "jforeach" / "bench").glob("*.py"):
        assert ">>>" not in path.read_text(), path
    # the README's test command collects the package's doctests but leaves the bench out
    # (a subprocess running `pytest --collect-only` would say the same in 13 s)
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "jforeach" in options["testpaths"] and "--doctest-modules" in options["addopts"].split()
    assert "--ignore=jforeach/bench" in options["addopts"].split()
