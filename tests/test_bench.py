"""`python -m jforeach bench` on a tiny configuration: rows, json, png; no timings."""

import importlib.util
import json

import pytest

from jforeach import bench

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _expected_impls() -> set[str]:
    impls = {bench.FOR_LOOP, bench.MAP, bench.JIT_TREE_MAP, bench.FLAT, bench.JF_LIST, bench.JF_PACKED}
    if importlib.util.find_spec("torch") is not None:
        impls |= {bench.TORCH_FOREACH, bench.TORCH_LOOP}
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
        assert rows[bench.FLAT]["vs_limit"] == pytest.approx(1.0)
        assert rows[bench.JIT_TREE_MAP]["compile_s"] >= 0

    if bench.JF_LIST in expected:
        assert [t["case"] for t in result["targets"]] == ["log1p_ 20x100", "norm 20x100"]
        assert result["targets"][0]["list/jit(tree_map)"] > 0

    compile_rows = [r for r in result["rows"] if r["section"] == "compile"]
    if bench.JF_PACKED in expected:
        assert [r["n"] for r in compile_rows] == [3, 30]
        assert all(r["compile_s"] >= 0 and r["pack_s"] > 0 for r in compile_rows)
    else:
        assert compile_rows == []

    table = capsys.readouterr().out
    assert "log1p_ 20x100" in table and bench.FLAT in table
    assert (tmp_path / "bench.png").read_bytes().startswith(_PNG_SIGNATURE)


def test_bench_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--sizes", "20by100"])
    with pytest.raises(SystemExit):
        bench.main(["--ops", "log1p,nope"])
    assert "nope" in capsys.readouterr().err


def test_format_table_aligns_columns():
    rows = [
        {"case": "c", "impl": "flat kernel", "ms": 1.0, "vs_limit": 1.0, "compile_s": 0.5},
        {"case": "c", "impl": "x", "ms": 12.25, "vs_limit": 12.25, "compile_s": None},
    ]
    lines = bench._format_table(rows, torch_column=False).splitlines()
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
    from jforeach import _bench_optim

    sizes = _bench_optim._resnet_like_sizes(26_800_000)
    assert len(sizes) == 161 and sum(sizes) == 26_800_000 and min(sizes) >= 1
    assert sizes == _bench_optim._resnet_like_sizes(26_800_000)  # fixed seed


def test_interleaved_ms_takes_one_sample_per_runner_per_round():
    from jforeach import _bench_optim

    calls: list[tuple[str, int]] = []
    runners = {name: (lambda steps, name=name: calls.append((name, steps))) for name in ("a", "b")}
    samples = _bench_optim._interleaved_ms(runners, rounds=3, sample_s=0.0)
    assert {name: len(ms) for name, ms in samples.items()} == {"a": 3, "b": 3}
    assert all(ms >= 0 for values in samples.values() for ms in values)
    # warm-up: two single steps and one burst each, then the rounds alternate a, b
    assert calls[:6] == [("a", 1)] * 3 + [("b", 1)] * 3
    assert calls[6:] == [("a", 1), ("b", 1)] * 3


def test_optim_bench_rows_on_a_tiny_case(monkeypatch):
    from jforeach import _bench_optim

    case = _bench_optim.Case("tiny", [30, 7, 100], [(5, 6), (6, 5)])  # Muon: one wide, one tall
    monkeypatch.setattr(_bench_optim, "_cases", lambda quick: [case])
    monkeypatch.setattr(_bench_optim, "TRIAD_FLOATS", 4096)
    rows = _bench_optim.run_optim_bench(True, skip=("optax", "foreach=True"), optimizers=("adam",))
    # Muon's rows without running it (its compile and torch's bfloat16 products are the slow part):
    # its matrices set the limit, and its implementations are labelled as the others'
    rows += _bench_optim.run_optim_bench(True, skip=("torch", "jforeach", "optax"), optimizers=("muon",))
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
    muon = [label for label, _ in _bench_optim._impls("muon", _bench_optim.OPTIMIZERS["muon"], "cpu")]
    assert muon == ["torch.optim single-tensor cpu", "optax per leaf, jit+donate", "jforeach Packed, jit+donate"]
    table = _bench_optim.format_table(rows)
    assert "muon: tiny" in table and "x torch" in table
    with pytest.raises(ValueError, match="unknown optimizers"):
        _bench_optim.run_optim_bench(True, optimizers=("lbfgs",))


def test_optim_bench_covers_every_optimizer_with_torch_and_optax_counterparts():
    # every jforeach.optim optimizer is in the section; torch's fused flag, and optax's
    # counterparts, exist where the table says (checked without running a step)
    import inspect

    import jforeach.optim
    from jforeach import _bench_optim

    optimizers = {n for n in jforeach.optim.__all__ if n.islower() and callable(getattr(jforeach.optim, n))}
    optimizers -= {"state_from_torch", "state_to_torch", "torch_order"}
    assert set(_bench_optim.OPTIMIZERS) == optimizers
    torch = pytest.importorskip("torch")
    for name, spec in _bench_optim.OPTIMIZERS.items():
        params = inspect.signature(getattr(torch.optim, spec.torch_name).__init__).parameters
        assert ("fused" in params) == spec.fused, name
        assert ("foreach" in params) == spec.foreach, name
        getattr(jforeach.optim, name)(_bench_optim.LR, **spec.kwargs)
        if spec.optax is not None:
            assert isinstance(spec.optax(), _bench_optim.optax.GradientTransformation)
