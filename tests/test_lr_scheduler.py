"""jforeach.optim.lr_scheduler against torch 2.13's schedulers, step by step.

The reference: a torch optimizer on one float64 parameter, its scheduler stepped after each
``optimizer.step()``, ``get_last_lr()[0]`` recorded (and the group's momentum, for the cyclic
schedulers). A jforeach schedule at count ``k`` must give torch's value after ``k`` steps:

- a Python int count: the same Python float, bit for bit (the same arithmetic in the same order);
- an integer array count under ``jit`` (and eagerly, for one configuration of each scheduler:
  op-by-op dispatch is slow on the shared CI machine): within ``rtol=1e-12``, plus an absolute
  allowance of four float64 ulps of the schedule's largest value, for ``jnp.cos`` /
  ``jnp.power`` versus Python's ``math`` (one ulp of ``cos`` near -1 is a large *relative* error
  of ``1 + cos``, i.e. of a learning rate near ``eta_min = 0``). Tabulated values are exact.
"""

from __future__ import annotations

import math
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jforeach
from jforeach import lr_scheduler as jls

TLS = torch.optim.lr_scheduler
N = 240  # steps per configuration
LR = 0.1


def torch_values(build, n=N, *, lr=LR, adam=False):
    """torch's lr (and momentum, or betas[0] for Adam) after 0..n scheduler steps."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    if adam:
        opt = torch.optim.Adam([p], lr=lr)
    else:
        opt = torch.optim.SGD([p], lr=lr, momentum=0.9)
    key = "betas" if adam else "momentum"

    def momentum():
        value = opt.param_groups[0][key]
        return value[0] if adam else value

    with warnings.catch_warnings():  # torch's own advice about call order is not under test
        warnings.simplefilter("ignore", UserWarning)
        sched = build(opt)
        lrs, moms = [sched.get_last_lr()[0]], [momentum()]
        for _ in range(n):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr()[0])
            moms.append(momentum())
    return np.array(lrs, np.float64), np.array(moms, np.float64)


def assert_schedule_matches(sched, want, *, start=0, context="", eager=False):
    ks = list(range(start, start + len(want)))
    got_py = [sched(k) for k in ks]
    assert all(isinstance(v, float) for v in got_py), context
    np.testing.assert_array_equal(np.array(got_py), want, err_msg=f"{context}: int counts")
    atol = 4 * 2.0**-53 * float(np.max(np.abs(want[np.isfinite(want)]), initial=0.0))
    counts = jnp.arange(start, start + len(want), dtype=jnp.int32)
    if eager:
        values = sched(counts)
        assert values.dtype == jnp.float64, context
        np.testing.assert_allclose(np.asarray(values), want, rtol=1e-12, atol=atol, err_msg=f"{context}: eager")
    jitted = jax.jit(jax.vmap(sched))(counts)
    np.testing.assert_allclose(np.asarray(jitted), want, rtol=1e-12, atol=atol, err_msg=f"{context}: jit")


def scale_fn(x):
    return 1 / (1.0 + 0.05 * x)


CASES = {
    "StepLR-30-0.1": (lambda: jls.StepLR(LR, 30), lambda o: TLS.StepLR(o, 30)),
    "StepLR-7-0.5": (lambda: jls.StepLR(LR, 7, gamma=0.5), lambda o: TLS.StepLR(o, 7, gamma=0.5)),
    "StepLR-1-0.97": (lambda: jls.StepLR(LR, 1, 0.97), lambda o: TLS.StepLR(o, 1, 0.97)),
    "StepLR-13-1.5": (lambda: jls.StepLR(LR, 13, 1.5), lambda o: TLS.StepLR(o, 13, 1.5)),
    "MultiStepLR-3": (lambda: jls.MultiStepLR(LR, [30, 80, 150]), lambda o: TLS.MultiStepLR(o, [30, 80, 150])),
    "MultiStepLR-repeats-0": (
        lambda: jls.MultiStepLR(LR, [0, 5, 5, 200], 0.5),
        lambda o: TLS.MultiStepLR(o, [0, 5, 5, 200], 0.5),
    ),
    "MultiStepLR-unsorted-negative": (
        lambda: jls.MultiStepLR(LR, [200, 10, -3], gamma=0.3),
        lambda o: TLS.MultiStepLR(o, [200, 10, -3], gamma=0.3),
    ),
    "MultiStepLR-none": (lambda: jls.MultiStepLR(LR, []), lambda o: TLS.MultiStepLR(o, [])),
    "ConstantLR-default": (lambda: jls.ConstantLR(LR), lambda o: TLS.ConstantLR(o)),
    "ConstantLR-0.5-0": (lambda: jls.ConstantLR(LR, 0.5, 0), lambda o: TLS.ConstantLR(o, 0.5, 0)),
    "ConstantLR-0.25-200": (lambda: jls.ConstantLR(LR, 0.25, 200), lambda o: TLS.ConstantLR(o, 0.25, 200)),
    "ConstantLR-0-0": (lambda: jls.ConstantLR(LR, 0.0, 0), lambda o: TLS.ConstantLR(o, 0.0, 0)),
    "LinearLR-default": (lambda: jls.LinearLR(LR), lambda o: TLS.LinearLR(o)),
    "LinearLR-decay": (lambda: jls.LinearLR(LR, 1.0, 0.1, 100), lambda o: TLS.LinearLR(o, 1.0, 0.1, 100)),
    "LinearLR-to-0": (lambda: jls.LinearLR(LR, 0.5, 0.0, 200), lambda o: TLS.LinearLR(o, 0.5, 0.0, 200)),
    "LinearLR-0-iters": (lambda: jls.LinearLR(LR, 0.2, 0.9, 0), lambda o: TLS.LinearLR(o, 0.2, 0.9, 0)),
    "ExponentialLR-0.99": (lambda: jls.ExponentialLR(LR, 0.99), lambda o: TLS.ExponentialLR(o, 0.99)),
    "ExponentialLR-0.9": (lambda: jls.ExponentialLR(LR, gamma=0.9), lambda o: TLS.ExponentialLR(o, gamma=0.9)),
    "ExponentialLR-1.01": (lambda: jls.ExponentialLR(LR, 1.01), lambda o: TLS.ExponentialLR(o, 1.01)),
    "PolynomialLR-default": (lambda: jls.PolynomialLR(LR), lambda o: TLS.PolynomialLR(o)),
    "PolynomialLR-100-2": (lambda: jls.PolynomialLR(LR, 100, 2.0), lambda o: TLS.PolynomialLR(o, 100, 2.0)),
    "PolynomialLR-200-0.5": (
        lambda: jls.PolynomialLR(LR, total_iters=200, power=0.5),
        lambda o: TLS.PolynomialLR(o, total_iters=200, power=0.5),
    ),
    "PolynomialLR-1-3": (lambda: jls.PolynomialLR(LR, 1, 3.0), lambda o: TLS.PolynomialLR(o, 1, 3.0)),
    "CosineAnnealingLR-10": (lambda: jls.CosineAnnealingLR(LR, 10), lambda o: TLS.CosineAnnealingLR(o, 10)),
    "CosineAnnealingLR-100-eta": (
        lambda: jls.CosineAnnealingLR(LR, 100, 0.001),
        lambda o: TLS.CosineAnnealingLR(o, 100, 0.001),
    ),
    "CosineAnnealingLR-37-eta": (
        lambda: jls.CosineAnnealingLR(LR, T_max=37, eta_min=0.05),
        lambda o: TLS.CosineAnnealingLR(o, T_max=37, eta_min=0.05),
    ),
    "CosineAnnealingLR-300": (lambda: jls.CosineAnnealingLR(LR, 300), lambda o: TLS.CosineAnnealingLR(o, 300)),
    "CosineAnnealingLR-eta-above": (
        lambda: jls.CosineAnnealingLR(LR, 7, 0.2),
        lambda o: TLS.CosineAnnealingLR(o, 7, 0.2),
    ),
    "CAWR-10": (lambda: jls.CosineAnnealingWarmRestarts(LR, 10), lambda o: TLS.CosineAnnealingWarmRestarts(o, 10)),
    "CAWR-5-2-eta": (
        lambda: jls.CosineAnnealingWarmRestarts(LR, 5, 2, 0.001),
        lambda o: TLS.CosineAnnealingWarmRestarts(o, 5, 2, 0.001),
    ),
    "CAWR-3-3": (
        lambda: jls.CosineAnnealingWarmRestarts(LR, T_0=3, T_mult=3),
        lambda o: TLS.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=3),
    ),
    "CAWR-50-int-eta": (
        lambda: jls.CosineAnnealingWarmRestarts(LR, 50, 1, 0),
        lambda o: TLS.CosineAnnealingWarmRestarts(o, 50, 1, 0),
    ),
    "CyclicLR-triangular": (
        lambda: jls.CyclicLR(LR, 0.01, 0.1, step_size_up=20),
        lambda o: TLS.CyclicLR(o, 0.01, 0.1, step_size_up=20),
    ),
    "CyclicLR-triangular2": (
        lambda: jls.CyclicLR(LR, 0.01, 0.1, 10, 30, mode="triangular2"),
        lambda o: TLS.CyclicLR(o, 0.01, 0.1, 10, 30, mode="triangular2"),
    ),
    "CyclicLR-exp_range": (
        lambda: jls.CyclicLR(LR, 0.001, 0.1, 15, mode="exp_range", gamma=0.99, base_momentum=0.7),
        lambda o: TLS.CyclicLR(o, 0.001, 0.1, 15, mode="exp_range", gamma=0.99, base_momentum=0.7),
    ),
    "CyclicLR-scale_fn-cycle": (
        lambda: jls.CyclicLR(LR, 0.01, 0.2, 7, 3, scale_fn=scale_fn),
        lambda o: TLS.CyclicLR(o, 0.01, 0.2, 7, 3, scale_fn=scale_fn),
    ),
    "CyclicLR-scale_fn-iterations": (
        lambda: jls.CyclicLR(LR, 0.01, 0.2, 12, mode="bogus", scale_fn=scale_fn, scale_mode="iterations"),
        lambda o: TLS.CyclicLR(o, 0.01, 0.2, 12, mode="bogus", scale_fn=scale_fn, scale_mode="iterations"),
    ),
    "CyclicLR-no-momentum": (
        lambda: jls.CyclicLR(LR, 0.05, 0.1, 9, cycle_momentum=False),
        lambda o: TLS.CyclicLR(o, 0.05, 0.1, 9, cycle_momentum=False),
    ),
    "OneCycleLR-cos": (lambda: jls.OneCycleLR(LR, 1.0, N), lambda o: TLS.OneCycleLR(o, 1.0, N)),
    "OneCycleLR-epochs-linear": (
        lambda: jls.OneCycleLR(LR, 0.5, epochs=10, steps_per_epoch=30, pct_start=0.25, anneal_strategy="linear"),
        lambda o: TLS.OneCycleLR(o, 0.5, epochs=10, steps_per_epoch=30, pct_start=0.25, anneal_strategy="linear"),
    ),
    "OneCycleLR-three-phase": (
        lambda: jls.OneCycleLR(LR, 2.0, 400, three_phase=True, base_momentum=0.8),
        lambda o: TLS.OneCycleLR(o, 2.0, 400, three_phase=True, base_momentum=0.8),
    ),
    "OneCycleLR-three-phase-linear": (
        lambda: jls.OneCycleLR(
            LR,
            1.0,
            N,
            pct_start=0.4,
            anneal_strategy="linear",
            div_factor=10.0,
            final_div_factor=100.0,
            three_phase=True,
        ),
        lambda o: TLS.OneCycleLR(
            o,
            1.0,
            N,
            pct_start=0.4,
            anneal_strategy="linear",
            div_factor=10.0,
            final_div_factor=100.0,
            three_phase=True,
        ),
    ),
    "OneCycleLR-no-momentum": (
        lambda: jls.OneCycleLR(LR, 0.3, N, cycle_momentum=False),
        lambda o: TLS.OneCycleLR(o, 0.3, N, cycle_momentum=False),
    ),
    "LambdaLR-power": (lambda: jls.LambdaLR(LR, lambda k: 0.95**k), lambda o: TLS.LambdaLR(o, lambda k: 0.95**k)),
    "LambdaLR-inverse": (
        lambda: jls.LambdaLR(LR, lambda k: 1.0 / (1 + k)),
        lambda o: TLS.LambdaLR(o, lambda k: 1.0 / (1 + k)),
    ),
    "MultiplicativeLR-constant": (
        lambda: jls.MultiplicativeLR(LR, lambda k: 0.95),
        lambda o: TLS.MultiplicativeLR(o, lambda k: 0.95),
    ),
    "MultiplicativeLR-python-only": (  # not traceable: called with Python ints when the schedule is built
        lambda: jls.MultiplicativeLR(LR, lambda k: 1.02 if k % 7 == 0 else 0.995, horizon=500),
        lambda o: TLS.MultiplicativeLR(o, lambda k: 1.02 if k % 7 == 0 else 0.995),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_schedule_matches_torch(case):
    make_jf, make_torch = CASES[case]
    lrs, moms = torch_values(make_torch)
    sched = make_jf()
    assert_schedule_matches(sched, lrs, context=case)
    if getattr(sched, "cycle_momentum", False):
        # torch writes the cycled momentum into the group at every step, the initial one included
        assert_schedule_matches(sched.momentum, moms, context=f"{case} momentum")
    elif hasattr(sched, "cycle_momentum"):
        assert sched.momentum is None
        np.testing.assert_array_equal(moms, 0.9)  # torch left the optimizer's momentum alone


def test_array_counts_outside_jit():
    """The same jnp code eagerly, on array counts (one configuration per code path)."""
    for case in ["StepLR-7-0.5", "CAWR-5-2-eta"]:
        make_jf, make_torch = CASES[case]
        lrs, _ = torch_values(make_torch, 120)
        assert_schedule_matches(make_jf(), lrs, context=case, eager=True)


@pytest.mark.parametrize(
    "make_jf, make_torch",
    [
        (lambda: jls.OneCycleLR(LR, 1.0, 120), lambda o: TLS.OneCycleLR(o, 1.0, 120)),
        (lambda: jls.CyclicLR(LR, 0.01, 0.1, 10), lambda o: TLS.CyclicLR(o, 0.01, 0.1, 10)),
    ],
    ids=["OneCycleLR", "CyclicLR"],
)
def test_momentum_schedule_is_adams_beta1(make_jf, make_torch):
    """With Adam torch cycles betas[0]; the same ``.momentum`` schedule gives it."""
    lrs, beta1 = torch_values(make_torch, 120, adam=True)
    sched = make_jf()
    assert_schedule_matches(sched, lrs, context="lr")
    assert_schedule_matches(sched.momentum, beta1, context="betas[0]")


@pytest.mark.parametrize(
    "make_jf, make_torch, gamma",
    [
        (lambda: jls.ExponentialLR(LR, 0.999), lambda o: TLS.ExponentialLR(o, 0.999), 0.999),
        (lambda: jls.StepLR(LR, 1, 0.998), lambda o: TLS.StepLR(o, 1, 0.998), 0.998),
        (lambda: jls.CosineAnnealingLR(LR, 10, 0.001), lambda o: TLS.CosineAnnealingLR(o, 10, 0.001), None),
    ],
    ids=["ExponentialLR", "StepLR", "CosineAnnealingLR"],
)
def test_past_the_table_the_closed_form_continues(make_jf, make_torch, gamma):
    """Past ``_EXACT_STEPS`` the closed form: as close to torch as torch's recursion is to it."""
    start, n = jls._EXACT_STEPS - 50, 300
    lrs, _ = torch_values(make_torch, start + n)
    sched = make_jf()
    ks = np.arange(len(lrs))
    if gamma is not None:
        closed = LR * gamma**ks
    else:
        closed = 0.001 + (LR - 0.001) * (1 + np.cos(np.pi * ks / 10)) / 2
    drift = np.max(np.abs(lrs - closed)[start:] / np.abs(lrs[start:]))  # torch's own drift from the closed form
    got = np.asarray(jax.jit(jax.vmap(sched))(jnp.arange(start, start + n + 1)))
    got_py = np.array([sched(int(k)) for k in range(start, start + n + 1)])
    np.testing.assert_array_equal(got_py[:50], lrs[start : start + 50])  # still the table
    for values in (got, got_py):
        error = np.max(np.abs(values - lrs[start:]) / np.abs(lrs[start:]))
        assert error <= 2 * drift + 1e-15, (error, drift)
        assert error < 1e-11


SEQUENTIAL = {
    "warmup-cosine": (
        lambda: [jls.LinearLR(LR, 0.1, total_iters=10), jls.CosineAnnealingLR(LR, 100)],
        lambda o: [TLS.LinearLR(o, 0.1, total_iters=10), TLS.CosineAnnealingLR(o, 100)],
        [10],
    ),
    "constant-exp-step": (
        lambda: [jls.ConstantLR(LR, 0.5, 5), jls.ExponentialLR(LR, 0.98), jls.StepLR(LR, 20, 0.5)],
        lambda o: [TLS.ConstantLR(o, 0.5, 5), TLS.ExponentialLR(o, 0.98), TLS.StepLR(o, 20, 0.5)],
        [3, 40],
    ),
    "multiplicative-restarts-from-current-lr": (
        lambda: [jls.ExponentialLR(LR, 0.9), jls.MultiplicativeLR(LR, lambda k: 0.99)],
        lambda o: [TLS.ExponentialLR(o, 0.9), TLS.MultiplicativeLR(o, lambda k: 0.99)],
        [7],
    ),
    "cosine-eta-restart": (
        lambda: [jls.StepLR(LR, 20, 0.5), jls.CosineAnnealingLR(LR, 30, 0.013), jls.MultiStepLR(LR, [0, 50])],
        lambda o: [TLS.StepLR(o, 20, 0.5), TLS.CosineAnnealingLR(o, 30, 0.013), TLS.MultiStepLR(o, [0, 50])],
        [20, 200],
    ),
    "milestone-0": (
        lambda: [jls.ExponentialLR(LR, 0.9), jls.LinearLR(LR, 0.5, total_iters=20)],
        lambda o: [TLS.ExponentialLR(o, 0.9), TLS.LinearLR(o, 0.5, total_iters=20)],
        [0],
    ),
    "repeated-milestone": (
        lambda: [jls.ConstantLR(LR), jls.ExponentialLR(LR, 0.5), jls.PolynomialLR(LR, 100, 2.0)],
        lambda o: [TLS.ConstantLR(o), TLS.ExponentialLR(o, 0.5), TLS.PolynomialLR(o, 100, 2.0)],
        [30, 30],
    ),
    "warm-restarts-lambda": (
        lambda: [jls.CosineAnnealingWarmRestarts(LR, 10, 2), jls.LambdaLR(LR, lambda k: 1.0 / (1 + k))],
        lambda o: [TLS.CosineAnnealingWarmRestarts(o, 10, 2), TLS.LambdaLR(o, lambda k: 1.0 / (1 + k))],
        [150],
    ),
}


@pytest.mark.parametrize("case", sorted(SEQUENTIAL))
def test_sequential_lr_matches_torch(case):
    make_jf, make_torch, milestones = SEQUENTIAL[case]
    lrs, _ = torch_values(lambda o: TLS.SequentialLR(o, make_torch(o), milestones))
    sched = jls.SequentialLR(LR, make_jf(), milestones)
    assert_schedule_matches(sched, lrs, context=case)


CHAINED = {
    "constant-exp": (
        lambda: [jls.ConstantLR(LR, 0.1, 2), jls.ExponentialLR(LR, 0.9)],
        lambda o: [TLS.ConstantLR(o, 0.1, 2), TLS.ExponentialLR(o, 0.9)],
    ),
    "linear-multistep-settles": (
        lambda: [jls.LinearLR(LR, 0.2, total_iters=25), jls.MultiStepLR(LR, [40, 90])],
        lambda o: [TLS.LinearLR(o, 0.2, total_iters=25), TLS.MultiStepLR(o, [40, 90])],
    ),
    "step-cosine-eta": (
        lambda: [jls.StepLR(LR, 17, 0.7), jls.CosineAnnealingLR(LR, 40, 0.002)],
        lambda o: [TLS.StepLR(o, 17, 0.7), TLS.CosineAnnealingLR(o, 40, 0.002)],
    ),
    "warm-restarts-then-exp": (
        lambda: [jls.CosineAnnealingWarmRestarts(LR, 25), jls.ExponentialLR(LR, 0.995)],
        lambda o: [TLS.CosineAnnealingWarmRestarts(o, 25), TLS.ExponentialLR(o, 0.995)],
    ),
    "multiplicative-polynomial": (
        lambda: [jls.MultiplicativeLR(LR, lambda k: 0.999), jls.PolynomialLR(LR, 200, 1.5)],
        lambda o: [TLS.MultiplicativeLR(o, lambda k: 0.999), TLS.PolynomialLR(o, 200, 1.5)],
    ),
}


@pytest.mark.parametrize("case", sorted(CHAINED))
def test_chained_scheduler_matches_torch(case):
    make_jf, make_torch = CHAINED[case]
    lrs, _ = torch_values(lambda o: TLS.ChainedScheduler(make_torch(o)))
    sched = jls.ChainedScheduler(make_jf(), horizon=N + 1)
    assert_schedule_matches(sched, lrs, context=case)


def test_chained_scheduler_horizon():
    settles = jls.ChainedScheduler([jls.LinearLR(LR, 0.2, total_iters=25), jls.MultiStepLR(LR, [40, 90])])
    assert settles.horizon == 91 and settles(10**6) == settles(91)  # exact forever: every member settled
    assert float(settles(jnp.asarray(10**6))) == settles(91)
    bounded = jls.ChainedScheduler([jls.ExponentialLR(LR, 0.9)], horizon=50)
    with pytest.raises(ValueError, match=r"`jforeach.optim.lr_scheduler.ChainedScheduler`: count 50 is past horizon"):
        bounded(50)
    assert np.isnan(float(bounded(jnp.asarray(50)))) and float(bounded(jnp.asarray(49))) == bounded(49)


# CyclicLR and OneCycleLR in composites. torch's schedulers share the param group: CyclicLR sets
# the lr to its base_lr (so initial_lr, when it is constructed first), OneCycleLR overwrites
# initial_lr, max_lr, min_lr (and both the momentum bounds), reads them back at every step, and a
# scheduler constructed after them takes that initial_lr as its base lr (hence lr=0.02 =
# max_lr / div_factor below). The momentum is whatever the last cycling scheduler's step wrote.
CYCLIC_COMPOSITES = {
    "seq-linear-cyclic-sgd": (
        lambda: [jls.LinearLR(LR, 0.1, total_iters=10), jls.CyclicLR(LR, 0.01, 0.1, step_size_up=15)],
        lambda o: [TLS.LinearLR(o, 0.1, total_iters=10), TLS.CyclicLR(o, 0.01, 0.1, step_size_up=15)],
        [20],
        False,
    ),
    "seq-constant-onecycle-adam": (  # SequentialLR restarts ConstantLR from OneCycleLR's initial_lr
        lambda: [jls.ConstantLR(LR, 0.5, 10), jls.OneCycleLR(LR, 0.5, 300)],
        lambda o: [TLS.ConstantLR(o, 0.5, 10), TLS.OneCycleLR(o, 0.5, 300)],
        [30],
        True,
    ),
    "seq-onecycle-exponential-adam": (
        lambda: [jls.OneCycleLR(LR, 0.5, 100), jls.ExponentialLR(0.02, 0.98)],
        lambda o: [TLS.OneCycleLR(o, 0.5, 100), TLS.ExponentialLR(o, 0.98)],
        [100],
        True,
    ),
    "seq-cyclic-first-steplr-sgd": (  # CyclicLR first: initial_lr is its base_lr; the momentum stays
        lambda: [jls.CyclicLR(LR, 0.01, 0.1, 10, mode="triangular2"), jls.StepLR(0.01, 20, 0.5)],
        lambda o: [TLS.CyclicLR(o, 0.01, 0.1, 10, mode="triangular2"), TLS.StepLR(o, 20, 0.5)],
        [55],
        False,
    ),
    "seq-two-onecycles-adam": (  # the first runs its own phases with the second's lrs and momenta
        lambda: [jls.OneCycleLR(LR, 0.2, 50), jls.OneCycleLR(LR, 0.05, 200, 0.3, three_phase=True, **MOMS)],
        lambda o: [TLS.OneCycleLR(o, 0.2, 50), TLS.OneCycleLR(o, 0.05, 200, 0.3, three_phase=True, **MOMS)],
        [50],
        True,
    ),
    "seq-step-cyclic-step-sgd": (  # the momentum before, during and after the cyclic segment
        lambda: [jls.StepLR(LR, 7), jls.CyclicLR(LR, 0.02, 0.2, 6, 9, **MOMS), jls.StepLR(LR, 11, 0.7)],
        lambda o: [TLS.StepLR(o, 7), TLS.CyclicLR(o, 0.02, 0.2, 6, 9, **MOMS), TLS.StepLR(o, 11, 0.7)],
        [40, 120],
        False,
    ),
    "chained-cyclic-exponential-sgd": (
        lambda: [jls.CyclicLR(LR, 0.01, 0.1, 7, 13), jls.ExponentialLR(0.01, 0.99)],
        lambda o: [TLS.CyclicLR(o, 0.01, 0.1, 7, 13), TLS.ExponentialLR(o, 0.99)],
        None,
        False,
    ),
    "chained-exponential-cyclic-no-momentum-adam": (  # CyclicLR's first step uses the group's initial_lr
        lambda: [jls.ExponentialLR(LR, 0.99), jls.CyclicLR(LR, 0.01, 0.1, 9, cycle_momentum=False)],
        lambda o: [TLS.ExponentialLR(o, 0.99), TLS.CyclicLR(o, 0.01, 0.1, 9, cycle_momentum=False)],
        None,
        True,
    ),
    "chained-onecycle-cyclic-adam": (  # the last one that cycles the momentum sets it
        lambda: [jls.OneCycleLR(LR, 0.4, 300, anneal_strategy="linear"), jls.CyclicLR(LR, 0.01, 0.05, 20, **MOMS)],
        lambda o: [TLS.OneCycleLR(o, 0.4, 300, anneal_strategy="linear"), TLS.CyclicLR(o, 0.01, 0.05, 20, **MOMS)],
        None,
        True,
    ),
}
MOMS = {"base_momentum": 0.8, "max_momentum": 0.9}


def _composite(milestones, members):
    return jls.ChainedScheduler(members) if milestones is None else jls.SequentialLR(LR, members, milestones)


def _torch_composite(milestones, members):
    return (
        TLS.ChainedScheduler(members)
        if milestones is None
        else TLS.SequentialLR(members[0].optimizer, members, milestones)
    )


@pytest.mark.parametrize("case", sorted(CYCLIC_COMPOSITES))
def test_cyclic_schedulers_in_composites_match_torch_with_their_momentum(case):
    make_jf, make_torch, milestones, adam = CYCLIC_COMPOSITES[case]
    lrs, moms = torch_values(lambda o: _torch_composite(milestones, make_torch(o)), adam=adam)
    sched = _composite(milestones, make_jf())
    assert_schedule_matches(sched, lrs, context=case)
    if sched.momentum is None:  # no member cycles it: torch's stays the optimizer's
        assert set(moms) == {0.9}, case
    else:
        assert len(set(moms)) > 10, case
        assert_schedule_matches(sched.momentum, moms, context=f"{case}: momentum")


def test_onecycle_in_a_composite_raises_where_torch_steps_past_its_total_steps():
    def torch_steps(milestones, make):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=LR, momentum=0.9)
        sched, lrs = _torch_composite(milestones, make(opt)), []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(N):
                lrs.append(sched.get_last_lr()[0])
                opt.step()
                try:
                    sched.step()
                except ValueError as error:
                    return np.array(lrs), len(lrs), str(error)
        raise AssertionError("torch did not raise")

    cases = [
        (
            [60],
            lambda: [jls.OneCycleLR(LR, 0.3, 40), jls.StepLR(0.012, 5)],
            lambda o: [TLS.OneCycleLR(o, 0.3, 40), TLS.StepLR(o, 5)],
        ),
        (
            None,
            lambda: [jls.OneCycleLR(LR, 0.4, 120), jls.ConstantLR(0.016, 0.5, 30)],
            lambda o: [TLS.OneCycleLR(o, 0.4, 120), TLS.ConstantLR(o, 0.5, 30)],
        ),
    ]
    for milestones, make_jf, make_torch in cases:
        lrs, fails_at, message = torch_steps(milestones, make_torch)
        sched = _composite(milestones, make_jf())
        assert_schedule_matches(sched, lrs, context=str(milestones))
        for k in (fails_at, fails_at + 30):  # torch's first error, from the step that failed
            with pytest.raises(ValueError, match=f"`: {re.escape(message)}$"):
                sched(k)
            assert np.isnan(float(sched(jnp.asarray(k))))
            if sched.momentum is not None:
                assert np.isnan(float(sched.momentum(jnp.asarray(k))))


def test_a_scheduler_after_onecycle_or_a_first_cyclic_must_have_torchs_base_lr():
    with pytest.raises(
        ValueError, match=r"index 1 has lr=0.1, but its base lr in torch, .*OneCycleLR at index 0.* is 0.02"
    ):
        jls.SequentialLR(LR, [jls.OneCycleLR(LR, 0.5, 100), jls.ExponentialLR(LR, 0.98)], [100])
    with pytest.raises(
        ValueError, match=r"index 1 has lr=0.1, but its base lr in torch, .*CyclicLR at index 0.* is 0.01"
    ):
        jls.ChainedScheduler([jls.CyclicLR(LR, 0.01, 0.1, 7), jls.ExponentialLR(LR, 0.99)])
    with pytest.raises(ValueError, match=r"index 0 has lr=0.2, but the optimizer's lr is 0.1"):
        jls.SequentialLR(LR, [jls.StepLR(0.2, 3), jls.OneCycleLR(LR, 0.5, 100)], [10])


def test_optax_inject_hyperparams_reproduces_torch_sgd_with_onecycle():
    """SGD with OneCycleLR(cycle_momentum=True): lr and momentum both scheduled, 60 steps, vs torch."""
    steps, target, curvature = 60, np.array([1.0, -2.0, 0.5, 3.0]), np.array([0.5, 1.0, 2.0, 3.0])

    def run_torch(dtype):
        p = torch.nn.Parameter(torch.zeros(4, dtype=dtype))
        opt = torch.optim.SGD([p], lr=LR, momentum=0.9, weight_decay=1e-3, foreach=True)
        sched = TLS.OneCycleLR(opt, max_lr=0.4, total_steps=steps, pct_start=0.25)
        t, h = torch.tensor(target, dtype=dtype), torch.tensor(curvature, dtype=dtype)
        path = []
        for _ in range(steps):
            p.grad = h * (p.detach() - t) + 0.1 * torch.tanh(3 * p.detach())
            opt.step()
            sched.step()
            path.append(p.detach().double().numpy().copy())
        return np.array(path)

    def run_jax(dtype):
        sched = jls.OneCycleLR(LR, max_lr=0.4, total_steps=steps, pct_start=0.25)
        tx = optax.inject_hyperparams(jforeach.optim.sgd)(lr=sched, momentum=sched.momentum, weight_decay=1e-3)
        params = [jnp.zeros(4, dtype)]
        state = tx.init(params)
        t, h = jnp.asarray(target, dtype), jnp.asarray(curvature, dtype)

        @jax.jit
        def step(params, state):
            p = params[0]
            grads = [h * (p - t) + 0.1 * jnp.tanh(3 * p)]
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        path = []
        for _ in range(steps):
            params, state = step(params, state)
            assert params[0].dtype == dtype
            path.append(np.asarray(params[0], np.float64))
        return np.array(path)

    torch64, jax64 = run_torch(torch.float64), run_jax(jnp.float64)
    np.testing.assert_allclose(jax64, torch64, rtol=1e-12, atol=1e-14)
    torch32_error = np.max(np.abs(run_torch(torch.float32) - torch64))
    jax32_error = np.max(np.abs(run_jax(jnp.float32) - torch64))
    assert jax32_error <= 4 * torch32_error + 1e-7, (jax32_error, torch32_error)


PLATEAU_CONFIGS = [
    dict(),
    dict(mode="max", factor=0.5, patience=2),
    dict(threshold_mode="abs", threshold=0.05, patience=1, cooldown=2),
    dict(mode="max", threshold_mode="abs", threshold=0.0, patience=0, min_lr=0.02, factor=0.3),
    dict(patience=3, cooldown=1, min_lr=[1e-3], eps=0.01, factor=0.5),
    dict(threshold=0.0, patience=0, factor=0.9, eps=0.0),
]


def _metrics(seed, n=240):
    rng = np.random.default_rng(seed)
    level = np.cumsum(rng.normal(0.0, 0.05, n)) + 2.0
    values = np.round(level + rng.normal(0.0, 0.03, n), 2)  # rounding makes ties and exact plateaus
    values[50:70] = values[49]  # an exact plateau
    return values


@pytest.mark.parametrize("config", PLATEAU_CONFIGS, ids=str)
def test_reduce_lr_on_plateau_matches_torch(config):
    metrics = _metrics(len(str(config)))
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=LR)
    torch_sched = TLS.ReduceLROnPlateau(opt, **config)
    want = []
    for m in metrics:
        opt.step()
        torch_sched.step(float(m))
        want.append((torch_sched.get_last_lr()[0], torch_sched.num_bad_epochs, torch_sched.cooldown_counter))
    want = np.array(want)
    assert len(set(want[:, 0])) > 1, "the sequence should trigger reductions"

    plateau = jls.ReduceLROnPlateau(LR, **config)

    @jax.jit
    def run(metrics):
        def body(state, m):
            state = plateau.step(state, m)
            return state, (state.lr, state.num_bad_epochs, state.cooldown_counter)

        return jax.lax.scan(body, plateau.init(), metrics)[1]

    got = np.stack([np.asarray(x, np.float64) for x in run(jnp.asarray(metrics))], axis=1)
    np.testing.assert_array_equal(got, want)
    state = plateau.init()  # eagerly, the same decisions
    for m in metrics[:60]:
        state = plateau.step(state, m)
    assert float(state.lr) == want[59, 0] and int(state.num_bad_epochs) == want[59, 1]


BAD = [
    # (jforeach call, torch call, exception, message), for the conditions torch checks
    (lambda: jls.ConstantLR(LR, factor=1.5), lambda o: TLS.ConstantLR(o, 1.5), ValueError, "between 0 and 1"),
    (lambda: jls.ConstantLR(LR, factor=-0.1), lambda o: TLS.ConstantLR(o, -0.1), ValueError, "between 0 and 1"),
    (lambda: jls.LinearLR(LR, start_factor=0), lambda o: TLS.LinearLR(o, 0), ValueError, "Starting"),
    (lambda: jls.LinearLR(LR, end_factor=1.5), lambda o: TLS.LinearLR(o, end_factor=1.5), ValueError, "Ending"),
    (
        lambda: jls.MultiplicativeLR(LR, 0.9),
        lambda o: TLS.MultiplicativeLR(o, 0.9),
        TypeError,
        "lr_lambda should be a function",
    ),
    (
        lambda: jls.CosineAnnealingWarmRestarts(LR, 0),
        lambda o: TLS.CosineAnnealingWarmRestarts(o, 0),
        ValueError,
        "T_0",
    ),
    (
        lambda: jls.CosineAnnealingWarmRestarts(LR, 2.5),
        lambda o: TLS.CosineAnnealingWarmRestarts(o, 2.5),
        ValueError,
        "positive integer T_0",
    ),
    (
        lambda: jls.CosineAnnealingWarmRestarts(LR, 5, 0),
        lambda o: TLS.CosineAnnealingWarmRestarts(o, 5, 0),
        ValueError,
        "T_mult >= 1",
    ),
    (
        lambda: jls.CosineAnnealingWarmRestarts(LR, 5, 1.5),
        lambda o: TLS.CosineAnnealingWarmRestarts(o, 5, 1.5),
        ValueError,
        "T_mult",
    ),
    (
        lambda: jls.CosineAnnealingWarmRestarts(LR, 5, 1, "0"),
        lambda o: TLS.CosineAnnealingWarmRestarts(o, 5, 1, "0"),
        ValueError,
        "float or int eta_min",
    ),
    (
        lambda: jls.CyclicLR(LR, 0.01, 0.1, mode="cubic"),
        lambda o: TLS.CyclicLR(o, 0.01, 0.1, mode="cubic"),
        ValueError,
        "mode is invalid",
    ),
    (lambda: jls.OneCycleLR(LR, 1.0), lambda o: TLS.OneCycleLR(o, 1.0), ValueError, "either total_steps OR"),
    (lambda: jls.OneCycleLR(LR, 1.0, epochs=3), lambda o: TLS.OneCycleLR(o, 1.0, epochs=3), ValueError, "either"),
    (lambda: jls.OneCycleLR(LR, 1.0, 0), lambda o: TLS.OneCycleLR(o, 1.0, 0), ValueError, "total_steps, but got 0"),
    (lambda: jls.OneCycleLR(LR, 1.0, 10.0), lambda o: TLS.OneCycleLR(o, 1.0, 10.0), ValueError, "integer total_steps"),
    (
        lambda: jls.OneCycleLR(LR, 1.0, epochs=0, steps_per_epoch=5),
        lambda o: TLS.OneCycleLR(o, 1.0, epochs=0, steps_per_epoch=5),
        ValueError,
        "integer epochs",
    ),
    (
        lambda: jls.OneCycleLR(LR, 1.0, epochs=2, steps_per_epoch=2.0),
        lambda o: TLS.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=2.0),
        ValueError,
        "integer steps_per_epoch",
    ),
    (
        lambda: jls.OneCycleLR(LR, 1.0, 100, pct_start=1.5),
        lambda o: TLS.OneCycleLR(o, 1.0, 100, pct_start=1.5),
        ValueError,
        "pct_start",
    ),
    (
        lambda: jls.OneCycleLR(LR, 1.0, 100, pct_start=1),
        lambda o: TLS.OneCycleLR(o, 1.0, 100, pct_start=1),
        ValueError,
        "pct_start",
    ),
    (
        lambda: jls.OneCycleLR(LR, 1.0, 100, anneal_strategy="exp"),
        lambda o: TLS.OneCycleLR(o, 1.0, 100, anneal_strategy="exp"),
        ValueError,
        "anneal_strategy must be one of",
    ),
    (
        lambda: jls.SequentialLR(LR, [jls.ExponentialLR(LR, 0.9)], [3]),
        lambda o: TLS.SequentialLR(o, [TLS.ExponentialLR(o, 0.9)], [3]),
        ValueError,
        "one more than the number of milestone",
    ),
    (lambda: jls.SequentialLR(LR, [], []), lambda o: TLS.SequentialLR(o, [], []), ValueError, "at least one"),
    (lambda: jls.ChainedScheduler([]), lambda o: TLS.ChainedScheduler([]), ValueError, "at least one"),
    (
        lambda: jls.SequentialLR(LR, [jls.ReduceLROnPlateau(LR)], []),
        lambda o: TLS.SequentialLR(o, [TLS.ReduceLROnPlateau(o)], []),
        ValueError,
        "does not support `ReduceLROnPlateau`",
    ),
    (
        lambda: jls.ReduceLROnPlateau(LR, factor=1.0),
        lambda o: TLS.ReduceLROnPlateau(o, factor=1.0),
        ValueError,
        "Factor",
    ),
    (
        lambda: jls.ReduceLROnPlateau(LR, mode="up"),
        lambda o: TLS.ReduceLROnPlateau(o, mode="up"),
        ValueError,
        "mode up is unknown",
    ),
    (
        lambda: jls.ReduceLROnPlateau(LR, threshold_mode="pct"),
        lambda o: TLS.ReduceLROnPlateau(o, threshold_mode="pct"),
        ValueError,
        "threshold mode pct is unknown",
    ),
    (
        lambda: jls.ReduceLROnPlateau(LR, min_lr=[0.1, 0.2]),
        lambda o: TLS.ReduceLROnPlateau(o, min_lr=[0.1, 0.2]),
        ValueError,
        "expected 1 min_lrs, got 2",
    ),
]


@pytest.mark.parametrize("index", range(len(BAD)))
def test_bad_configurations_raise_like_torch(index):
    make_jf, make_torch, error, message = BAD[index]
    p = torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(error, match=message):
        make_torch(torch.optim.SGD([p], lr=LR, momentum=0.9))
    with pytest.raises(error, match=r"^`jforeach\.optim\.lr_scheduler\.\w+`: .*" + message):
        make_jf()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: jls.StepLR(LR, 0), "positive integer step_size"),
        (lambda: jls.ConstantLR(LR, 0.0, 3), "factor 0 cannot be undone"),
        (lambda: jls.CosineAnnealingLR(LR, 0), "T_max must be nonzero"),
        (lambda: jls.MultiplicativeLR(LR, lambda k: 0.9, horizon=0), "positive integer horizon"),
        (lambda: jls.CyclicLR(LR, 0.01, 0.1, 0, 0), "must be nonzero"),
        (lambda: jls.SequentialLR(LR, [jls.ExponentialLR(0.2, 0.9)], []), "has lr=0.2, but the optimizer's lr is 0.1"),
        (lambda: jls.ChainedScheduler([jls.StepLR(LR, 3), jls.StepLR(0.3, 3)]), "index 1 has lr=0.3"),
    ],
)
def test_configurations_torch_fails_on_later_raise_at_construction(make, message):
    """torch divides by zero (or mixes optimizers) at a later step; jforeach says so when built."""
    with pytest.raises(ValueError, match=r"^`jforeach\.optim\.lr_scheduler\.\w+`: .*" + message):
        make()


def test_bad_counts_and_members():
    sched = jls.StepLR(LR, 3)
    with pytest.raises(ValueError, match=r"`jforeach.optim.lr_scheduler.StepLR`: count must be non-negative"):
        sched(-1)
    with pytest.raises(TypeError, match=r"`jforeach.optim.lr_scheduler.StepLR`: count must be an integer"):
        sched(jnp.asarray(2.0))
    with pytest.raises(TypeError, match="is not a jforeach scheduler"):
        jls.ChainedScheduler([lambda k: 0.1])
    with pytest.raises(TypeError, match="lr must be a number"):
        jls.StepLR(lambda k: 0.1, 3)
    one = jls.OneCycleLR(LR, 1.0, 10)
    with pytest.raises(ValueError, match="Tried to step 11 times. The specified number of total steps is 10"):
        one(11)
    assert np.isnan(float(one(jnp.asarray(11)))) and math.isfinite(float(one(jnp.asarray(10))))
    multiplicative = jls.MultiplicativeLR(LR, lambda k: 0.9, horizon=20)
    with pytest.raises(ValueError, match="count 20 is past horizon=20"):
        multiplicative(20)


def test_schedule_is_traced_once_under_jit():
    traces = []
    sched = jls.CosineAnnealingWarmRestarts(LR, 5, 2)

    @jax.jit
    def f(count):
        traces.append(None)
        return sched(count)

    values = [float(f(jnp.asarray(k, jnp.int32))) for k in range(40)]
    assert len(traces) == 1
    np.testing.assert_allclose(values, [sched(k) for k in range(40)], rtol=1e-12, atol=1e-16)
