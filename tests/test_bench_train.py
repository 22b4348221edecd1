"""The transformer train-step benchmark at its smallest size: every variant trains the same model alike."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jforeach import bench
from jforeach.bench import train as bt

_IMPLS = (bt.PER_LEAF, bt.FLATTEN, bt.PACKED_JFOREACH)
# LLVM's optimization level halves XLA:CPU's compile time of these steps; it does not change their values
_FAST_COMPILE = {"xla_backend_optimization_level": 0}


def _float64_losses(cfg: bt.Config, steps: int) -> list[float]:
    """The same AdamW trajectory in float64 (conftest turns on x64), written without jforeach."""
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), bt.init_params(cfg))
    tx = optax.adamw(bt.LR, b1=bt.BETAS[0], b2=bt.BETAS[1], eps=bt.EPS, weight_decay=bt.WEIGHT_DECAY)
    state, batch = tx.init(params), bt.make_batch(cfg)

    def step(params, state):
        loss, grads = jax.value_and_grad(lambda p: bt.loss_fn(cfg, p, batch))(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    compiled = jax.jit(step).lower(params, state).compile(_FAST_COMPILE)
    losses = []
    for _ in range(steps):
        params, state, loss = compiled(params, state)
        losses.append(float(loss))
    return losses


def test_train_section_variants_give_the_same_losses(tmp_path, monkeypatch, capsys):
    cfg = bt.TINY
    real = bt.run_train_bench

    def tiny(quick, **kwargs):
        return real(quick, config=cfg, impls=_IMPLS, rounds=1, compiler_options=_FAST_COMPILE, **kwargs)

    # through the bench command, at the smallest size: the rows reach the table, bench.json and bench.png
    monkeypatch.setattr(bt, "run_train_bench", tiny)
    monkeypatch.setattr(bench, "_load_torch", lambda: (None, "torch: not used by the train section"))  # 2 s saved
    assert bench.main(["--ops", "train", "--out", str(tmp_path)]) == 0
    assert bt.PACKED_JFOREACH in capsys.readouterr().out
    assert (tmp_path / "bench.png").stat().st_size > 0
    rows = [r for r in json.loads((tmp_path / "bench.json").read_text())["rows"] if r["section"] == "train"]

    assert [r["impl"] for r in rows] == list(_IMPLS)
    assert len(bt.init_params(cfg)) == cfg.num_arrays == rows[0]["arrays"] == 22
    assert len(bt.init_params(bt.FULL)) == bt.FULL.num_arrays == 150
    for row in rows:
        assert row["case"] == cfg.describe()
        assert row["ms"] > 0 and row["compile_s"] >= row["lower_s"] > 0
        assert len(row["losses"]) == bt.CHECK_STEPS

    reference = _float64_losses(cfg, bt.CHECK_STEPS)
    # an untrained model predicts about uniformly (loss ~ log(vocab)), and three AdamW steps lower it
    assert abs(reference[0] - math.log(cfg.vocab)) < 0.05
    assert reference[-1] < reference[0] - 1e-3
    # float32 per leaf is the yardstick: the flattened and the packed runs may be as far from the
    # float64 run as it is, times 3, plus 8 float32 ulps of the loss
    ulp = np.spacing(np.float32(reference[0]))
    base = [abs(a - b) for a, b in zip(rows[0]["losses"], reference, strict=True)]
    for row in rows:
        for k, (loss, ref) in enumerate(zip(row["losses"], reference, strict=True)):
            assert abs(loss - ref) <= 3 * base[k] + 8 * ulp, (row["impl"], k, loss, ref)
