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
