"""examples/port_torch_loop.py: the torch training loop and its jforeach port agree, step by step.

The example runs the loop (AdamW in two groups, OneCycleLR with cycled beta1, GradScaler with one
injected inf gradient, clipping, EMA, checkpoints) in torch float32, torch float64 and jforeach
float32. The float32 runs are judged as tests/test_optim.py judges optimizer trajectories:
jforeach's distance from torch's float64 run is at most K times torch float32's own, plus a floor
of FLOOR_ULPS ulps of the values' scale. Scales and skipped steps must be identical, and also match
GradScaler's rules computed by hand.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest
from test_optim import _check_against_reference, torch_ulps

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "port_torch_loop.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("port_torch_loop", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ex = _load_example()
CFG = ex.Config()  # 50 steps: the inf at step 17, the checkpoint before step 30


@pytest.fixture(scope="module")
def torch_runs():
    data = ex.make_data(CFG)
    return {"torch32": ex.run_torch(CFG, data), "torch64": ex.run_torch(CFG, data, ex.torch.float64)}


@pytest.fixture(scope="module")
def results(torch_runs):
    """The plain-tree port (the one torch's checkpoint can resume)."""
    return {**torch_runs, **ex.run_port(CFG, torch_runs["torch32"]["checkpoint"])}


@pytest.fixture(scope="module")
def packed_results(torch_runs):
    """The Packed port: one Packed per parameter group."""
    return {**torch_runs, **ex.run_port(CFG, torch_runs["torch32"]["checkpoint"], packed=True)}


@pytest.fixture(params=["pytree", "packed"])
def either(request, results, packed_results):
    return results if request.param == "pytree" else packed_results


def _column(log, key):
    return np.array([row[key] for row in log])


def _expected_scales(cfg):
    """GradScaler's rules by hand: the scale each step uses (backoff 0.5 on an inf, growth 2.0
    after ``growth_interval`` finite steps in a row)."""
    scale, tracker, used = cfg.init_scale, 0, []
    for step in range(cfg.steps):
        used.append(scale)
        if step == cfg.inf_step:
            scale, tracker = scale * 0.5, 0
        else:
            tracker += 1
            if tracker == cfg.growth_interval:
                scale, tracker = scale * 2.0, 0
    return used


def _check_params(what, got, torch32, torch64, start):
    """Each tensor within K times torch float32's worst error over the model, plus the floor.

    torch's rounding errors on a trajectory are a few ulps in every tensor, but on one tensor they
    can cancel by luck (0.16 ulps on the last bias with XLA limited to AVX2, where jforeach's were
    2.7 and the other tensors' 1-5 for both): the model's worst measures the trajectory's rounding."""
    worst = max(torch_ulps(torch32[n], torch64[n], start=start[n]) for n in torch64)
    p0s = {n: start[n].astype(np.float64) for n in torch64}
    worst_displacement = max(
        torch_ulps(torch32[n] - p0s[n], torch64[n] - p0s[n], stored=(torch64[n], start[n])) for n in torch64
    )
    for name in torch64:
        _check_against_reference(
            f"{what} {name}", got[name], torch32[name], torch64[name], start=start[name], reference_ulps=worst
        )
        p0 = start[name].astype(np.float64)
        _check_against_reference(
            f"{what} {name} displacement",
            got[name] - p0,
            torch32[name] - p0,
            torch64[name] - p0,
            stored=(torch64[name], start[name]),
            dtype=np.float32,
            reference_ulps=worst_displacement,
        )


def _start():
    return {n: p.detach().numpy().copy() for n, p in ex.torch_model(CFG).named_parameters()}


def test_losses_and_final_parameters_follow_torch(either):
    t32, t64, jf = either["torch32"], either["torch64"], either["jforeach"]
    assert all(np.asarray(p).dtype == np.float32 for p in ex.flat(jf.params).values())
    _check_against_reference("loss", _column(jf.log, "loss"), _column(t32["log"], "loss"), _column(t64["log"], "loss"))
    _check_params("parameter", ex.flat(jf.params), t32["params"], t64["params"], _start())
    _check_params("EMA", ex.flat(jf.ema_state.params), t32["ema"], t64["ema"], _start())
    assert int(jf.ema_state.n_averaged) == CFG.steps  # torch's AveragedModel counts every update


def test_scales_and_skipped_steps_are_identical(either):
    t, j = either["torch32"]["log"], either["jforeach"].log
    expected = _expected_scales(CFG)
    assert [row["scale"] for row in t] == expected
    assert [row["scale"] for row in j] == expected
    skipped = [step == CFG.inf_step for step in range(CFG.steps)]
    assert [row["skipped"] for row in t] == skipped
    assert [row["skipped"] for row in j] == skipped
    assert [row["scale"] for row in either["torch64"]["log"]] == expected


def test_grad_norms_follow_torch(either):
    t32, t64 = (_column(either[run]["log"], "grad_norm") for run in ("torch32", "torch64"))
    j = _column(either["jforeach"].log, "grad_norm")
    ran = np.arange(CFG.steps) != CFG.inf_step
    _check_against_reference("total norm", j[ran], t32[ran], t64[ran], dtype=np.float32)
    assert (j[ran] > CFG.max_norm).any() and (j[ran] < CFG.max_norm).any()  # clipping was active, and not always
    # the skipped step runs no clipping: jforeach's state keeps the previous norm, torch returns inf
    assert np.isinf(t32[CFG.inf_step])
    assert j[CFG.inf_step] == j[CFG.inf_step - 1]


def test_resume_from_own_pickle_is_exact(either):
    full, own = either["jforeach"], either["resumed_own"]
    assert isinstance(own.params.get("decay"), ex.jforeach.Packed) == isinstance(
        full.params.get("decay"), ex.jforeach.Packed
    )
    assert own.log == full.log[CFG.resume_at :]
    for name, value in ex.flat(full.params).items():
        np.testing.assert_array_equal(ex.flat(own.params)[name], value)
    for name, value in ex.flat(full.ema_state.params).items():
        np.testing.assert_array_equal(ex.flat(own.ema_state.params)[name], value)
    assert int(own.ema_state.n_averaged) == int(full.ema_state.n_averaged)


def test_resume_from_torch_checkpoint_follows_torch(results):
    t32, t64, resumed = results["torch32"], results["torch64"], results["resumed_from_torch"]
    tail32, tail64 = t32["log"][CFG.resume_at :], t64["log"][CFG.resume_at :]
    assert [row["scale"] for row in resumed.log] == [row["scale"] for row in tail32]
    assert not any(row["skipped"] for row in resumed.log)
    _check_against_reference(
        "resumed loss", _column(resumed.log, "loss"), _column(tail32, "loss"), _column(tail64, "loss")
    )
    _check_params("resumed parameter", ex.flat(resumed.params), t32["params"], t64["params"], _start())
    _check_params("resumed EMA", ex.flat(resumed.ema_state.params), t32["ema"], t64["ema"], _start())
    assert int(resumed.ema_state.n_averaged) == CFG.steps


def test_packed_layout_is_packed_and_matches_the_tree(results, packed_results):
    params = packed_results["jforeach"].params
    assert sorted(params) == ["decay", "no_decay"]
    assert all(isinstance(p, ex.jforeach.Packed) for p in params.values())
    assert [len(p.buffers) for p in params.values()] == [1, 1]  # one float32 buffer per group
    # the same loop on the other layout: the same skipped step and scales, losses to float32 rounding
    packed_log, tree_log = packed_results["jforeach"].log, results["jforeach"].log
    assert [(r["scale"], r["skipped"]) for r in packed_log] == [(r["scale"], r["skipped"]) for r in tree_log]


def test_report_prints_the_side_by_side_table(results, capsys):
    ex.print_report(results)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["step", "torch", "loss", "jforeach", "loss", "torch", "norm", "jforeach", "norm"] + [
        "scale",
        "skipped",
    ]
    rows = {int(line.split()[0]): line for line in lines[1 : CFG.steps + 1]}
    assert sorted(rows) == list(range(CFG.steps))
    assert rows[CFG.inf_step].rstrip().endswith("yes")
    assert not any(rows[s].rstrip().endswith("yes") for s in rows if s != CFG.inf_step)
    assert any(line.startswith("final max |param difference|") for line in lines)
