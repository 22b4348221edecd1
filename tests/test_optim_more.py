"""Parity of Adadelta, Adamax, NAdam, RAdam, Rprop and ASGD with torch.optim(..., foreach=True).

Trajectories and their tolerance are test_optim's: a float32 run is judged by its distance from
torch's float64 run, against torch float32's distance from it, times K, plus a floor of a few ulps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from test_optim import (
    CURVATURE,
    EPS,
    STEPS,
    K,
    _as_list,
    _check_against_reference,
    _ids,
    _problem,
    _rel_err,
    _run_jax,
    _state_field,
)

import jforeach
import jforeach.optim  # noqa: F401 - defines the helpers _optim_more imports
from jforeach import _optim_more

TORCH = {
    "adadelta": torch.optim.Adadelta,
    "adamax": torch.optim.Adamax,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
    "rprop": torch.optim.Rprop,
    "asgd": torch.optim.ASGD,
    "adafactor": torch.optim.Adafactor,
}

# torch's per-parameter state keys; jforeach's fields have the same names. Those in SCALARS are
# float32 0-d tensors in torch, equal for every parameter, and one 0-d array in jforeach.
STATE_KEYS = {
    "adadelta": ("square_avg", "acc_delta"),
    "adamax": ("exp_avg", "exp_inf"),
    "nadam": ("exp_avg", "exp_avg_sq", "mu_product"),
    "radam": ("exp_avg", "exp_avg_sq"),
    "rprop": ("prev", "step_size"),
    "asgd": ("ax", "eta", "mu"),
    "adafactor": ("row_var", "col_var", "variance"),  # per tensor, one or the other (None in jforeach)
}
SCALARS = {"mu_product", "eta", "mu"}

# Every option torch validates, each in some configuration; the noise (std 1 against a gradient
# 0.5 p) makes gradient signs flip, which Rprop's masking and Adamax's running maximum need.
CONFIGS = [
    ("adadelta", {}),
    ("adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1}),
    ("adadelta", {"eps": 1e-3, "maximize": True}),
    ("adamax", {}),
    ("adamax", {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("adamax", {"lr": 0.05, "eps": 1e-3, "maximize": True}),
    ("nadam", {}),
    ("nadam", {"lr": 0.05, "weight_decay": 0.1}),
    ("nadam", {"lr": 0.05, "weight_decay": 0.2, "decoupled_weight_decay": True, "betas": (0.8, 0.99)}),
    ("nadam", {"lr": 0.05, "momentum_decay": 0.05, "eps": 1e-3, "maximize": True}),
    ("radam", {}),
    ("radam", {"lr": 0.05, "weight_decay": 0.1}),
    # beta2=0.9: rho_t > 5 from step 7, and past step 9 the float32 rho_t takes its direct branch
    ("radam", {"lr": 0.05, "betas": (0.8, 0.9), "weight_decay": 0.2, "decoupled_weight_decay": True}),
    ("radam", {"lr": 0.05, "eps": 1e-3, "maximize": True}),
    ("rprop", {}),
    ("rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    ("rprop", {"lr": 0.02, "maximize": True}),
    ("asgd", {}),
    ("asgd", {"lr": 0.05, "lambd": 1e-2, "t0": 10.0, "weight_decay": 0.1}),
    ("asgd", {"lr": 0.02, "alpha": 0.5, "t0": 5.0, "maximize": True}),  # alpha=0.5: torch's pow is sqrt
    ("adafactor", {}),
    ("adafactor", {"lr": 0.05, "beta2_decay": -0.5, "eps": (1e-2, 1e-3), "d": 1.5, "weight_decay": 0.1}),
    ("adafactor", {"lr": 0.02, "eps": (None, 0.5), "maximize": True}),
]


def _step_torch(opt, tparams, noise, schedule, dtype):
    """torch's steps on ``tparams``: the gradient of the quadratic plus each step's noise, lr from ``schedule``."""
    for k, step_noise in enumerate(noise):
        if schedule is not None:
            opt.param_groups[0]["lr"] = float(schedule(k))
        for p, n in zip(tparams, step_noise, strict=True):
            p.grad = CURVATURE * p + torch.tensor(n).to(dtype)
        opt.step()


def _run_torch(name, kwargs, params, noise, schedule=None, dtype=torch.float32):
    """torch.optim's trajectory in ``dtype`` from the (float32) start and noise: params, states, step."""
    tparams = [torch.tensor(p).to(dtype) for p in params]
    opt = TORCH[name](tparams, **kwargs, foreach=True)
    _step_torch(opt, tparams, noise, schedule, dtype)
    states = {key: [_numpy_or_none(opt.state[p].get(key)) for p in tparams] for key in STATE_KEYS[name]}
    steps = {float(opt.state[p]["step"]) for p in tparams}
    return [p.numpy() for p in tparams], states, steps


def _numpy_or_none(tensor):
    return None if tensor is None else tensor.numpy()


def _leaves_with_none(tree):
    if isinstance(tree, jforeach.Packed):
        tree = tree.unpack()
    return [None if x is None else np.asarray(x) for x in jax.tree.leaves(tree, is_leaf=lambda x: x is None)]


def _run_torch_pair(name, kwargs, params, noise, schedule=None):
    return tuple(_run_torch(name, kwargs, params, noise, schedule, dtype) for dtype in (torch.float32, torch.float64))


def _compare(name, got_params, got_state, torch32, torch64, p0, *, dtype=np.float32, product_ulps_per_step=None):
    """jforeach's trajectory (parameters, displacements, state) against torch's float64 one.

    For float64 parameters torch's float32 error is scaled to float64's precision; torch's
    float32 0-d scalar states are judged in float32 in both cases. ``product_ulps_per_step``
    bounds NAdam's ``mu_product`` where its factors are float32 numbers (32-bit mode) instead of
    torch's Python floats rounded: each factor's ulps, plus half an ulp for each product's
    rounding, add up over the steps.
    """
    (t_params, t_states, t_steps), (r_params, r_states, _) = torch32, torch64
    scale = EPS[np.dtype(dtype)] / EPS[np.dtype(np.float32)]
    worst = 0.0
    for i, (g, t, r, p) in enumerate(zip(_as_list(got_params), t_params, r_params, p0, strict=True)):
        assert g.dtype == dtype, (i, g.dtype)
        p = p.astype(dtype)
        _check_against_reference(f"{name}: parameter {i}", g, t, r, start=p, scale=scale)
        _check_against_reference(f"{name}: displacement {i}", g - p, t - p, r - p, stored=(r, p), scale=scale)
        worst = max(worst, _rel_err(g, t, p))
    assert {float(_state_field(got_state, "count"))} == t_steps
    for key in STATE_KEYS[name]:
        got = _state_field(got_state, key)
        assert got is not None, key
        if key in SCALARS:
            assert len({float(v) for v in t_states[key]}) == 1, (key, t_states[key])  # one per group in torch too
            got, want, ref = [np.asarray(got)], t_states[key][:1], r_states[key][:1]
            assert got[0].shape == () and got[0].dtype == np.float32, (key, got[0].shape, got[0].dtype)
            if key == "mu_product" and product_ulps_per_step is not None:
                bound = product_ulps_per_step * t_steps.pop() * EPS[np.dtype(np.float32)] * abs(float(want[0]))
                assert abs(float(got[0]) - float(want[0])) <= bound, (key, float(got[0]), float(want[0]), bound)
                continue
            for g, t, r in zip(got, want, ref, strict=True):
                _check_against_reference(f"{name}: {key}", g, t, r)
            continue
        for i, (g, t, r) in enumerate(zip(_leaves_with_none(got), t_states[key], r_states[key], strict=True)):
            assert (g is None) == (t is None), (key, i)
            if g is None:
                continue
            assert g.dtype == dtype and g.shape == t.shape, (key, g.dtype, g.shape)
            _check_against_reference(f"{name}: {key} {i}", g, t, r, scale=scale)
            worst = max(worst, _rel_err(g, t))
    return worst


def _alternate_layouts(configs):
    """Each optimizer's configurations alternate between a pytree and a Packed (both share one kernel body).

    Compiles dominate the time of this module; every option still runs on both layouts in some
    test (the float64, 32-bit, schedule and inject_hyperparams ones pick their own).
    """
    seen: dict[str, int] = {}
    out = []
    for name, kwargs in configs:
        seen[name] = seen.get(name, -1) + 1
        out.append((name, kwargs, seen[name] % 2 == 1))
    return out


LAYOUT_CONFIGS = _alternate_layouts(CONFIGS)


@pytest.mark.parametrize(
    ("name", "kwargs", "packed"),
    LAYOUT_CONFIGS,
    ids=[f"{i}-{'packed' if c[2] else 'pytree'}" for i, c in zip(_ids(CONFIGS), LAYOUT_CONFIGS, strict=True)],
)
def test_matches_torch_foreach(name, kwargs, packed):
    p0, noise = _problem()
    torch32, torch64 = _run_torch_pair(name, kwargs, p0, noise)
    got_params, got_state = _run_jax(getattr(_optim_more, name)(**kwargs), p0, noise, packed=packed)
    assert isinstance(got_params, jforeach.Packed) == packed
    worst = _compare(name, got_params, got_state, torch32, torch64, p0)
    print(f"{name} {kwargs} packed={packed}: worst relative difference from torch float32 {worst:.2e}")


# one configuration per optimizer with every term that has a scalar: float64 parameters get
# float64 arithmetic, and scalars computed as torch computes them (float64 where torch's are
# Python floats, float32 where torch's are float32 0-d tensors)
FLOAT64_CONFIGS = [CONFIGS[i] for i in (1, 4, 8, 12, 15, 18, 21)]


@pytest.mark.parametrize(("name", "kwargs"), FLOAT64_CONFIGS, ids=_ids(FLOAT64_CONFIGS))
def test_float64_params_get_float64_accuracy(name, kwargs):
    p0, noise = _problem(2)
    torch32, torch64 = _run_torch_pair(name, kwargs, p0, noise)
    p64 = [p.astype(np.float64) for p in p0]
    noise64 = [[n.astype(np.float64) for n in step] for step in noise]
    packed = name in ("adamax", "radam", "asgd", "adafactor")  # each layout for half of them
    got_params, got_state = _run_jax(getattr(_optim_more, name)(**kwargs), p64, noise64, packed=packed)
    _compare(name, got_params, got_state, torch32, torch64, p0, dtype=np.float64)


# In JAX's default 32-bit mode the scalars torch computes in Python floats are computed in float32.
# NAdam's float32 mu is at most this many ulps from torch's (test_float32_step_scalars_are_accurate).
NADAM_MU_ULPS = 2.0
X32_CONFIGS = [CONFIGS[i] for i in (4, 9, 10, 12, 18)]  # those with step scalars: not Adadelta, Rprop


@pytest.mark.parametrize(("name", "kwargs"), X32_CONFIGS, ids=_ids(X32_CONFIGS))
def test_matches_torch_in_32_bit_mode(name, kwargs):
    p0, noise = _problem(4)
    torch32, torch64 = _run_torch_pair(name, kwargs, p0, noise)
    with jax.enable_x64(False):
        got_params, got_state = _run_jax(getattr(_optim_more, name)(**kwargs), p0, noise, packed=True)
        _compare(name, got_params, got_state, torch32, torch64, p0, product_ulps_per_step=NADAM_MU_ULPS + 1.0)


SCHEDULED = [
    ("nadam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("radam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("rprop", {}),  # torch reads lr once, at the first step (here 0.01 of the warmup)
    ("asgd", {"lambd": 1e-2, "t0": 8.0}),
    ("adafactor", {"weight_decay": 0.1}),  # min(lr, 1 / sqrt(t)) is the scheduled lr: it enters the step and the decay
]


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULED, ids=_ids(SCHEDULED))
def test_lr_schedule_matches_torch_param_group_lr(name, kwargs):
    schedule = optax.warmup_cosine_decay_schedule(0.01, 0.05, 5, STEPS, end_value=0.005)
    p0, noise = _problem(1)
    torch32, torch64 = _run_torch_pair(name, kwargs, p0, noise, schedule=schedule)
    got_params, got_state = _run_jax(getattr(_optim_more, name)(lr=schedule, **kwargs), p0, noise, packed=True)
    _compare(name, got_params, got_state, torch32, torch64, p0)


INJECTED = [
    ("adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1}),
    ("nadam", {"lr": 0.05, "momentum_decay": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("radam", {"lr": 0.05, "weight_decay": 0.1}),
    ("rprop", {"lr": 0.05}),
    ("asgd", {"lr": 0.05, "lambd": 1e-2, "alpha": 0.5, "t0": 10.0, "weight_decay": 0.1}),
    ("adafactor", {"lr": 0.05, "beta2_decay": -0.5, "d": 1.5, "weight_decay": 0.1}),
]


@pytest.mark.parametrize(("name", "kwargs"), INJECTED, ids=_ids(INJECTED))
def test_inject_hyperparams_under_jit_matches_torch_param_group_changes(name, kwargs):
    # every numeric hyperparameter arrives as an array, traced in the jitted update;
    # state.hyperparams["lr"] = ... is torch's param_group["lr"] = ...
    lr = kwargs["lr"]

    def schedule(k):
        return lr if k < STEPS // 2 else lr / 4

    p0, noise = _problem(3)
    torch32, torch64 = _run_torch_pair(name, kwargs, p0, noise, schedule=schedule)
    tx = optax.inject_hyperparams(getattr(_optim_more, name))(**kwargs)

    def set_lr(k, state):
        state.hyperparams["lr"] = jnp.asarray(schedule(k), jnp.float32)

    params, state = _run_jax(tx, p0, noise, packed=False, before_step=set_lr)
    _compare(name, params, state.inner_state, torch32, torch64, p0)


def test_radam_float32_rectification_is_accurate():
    # float32's rho_t and rect against numpy float64 (torch's Python-float expression), every
    # step to 100,000, betas from the default to small ones
    t = np.arange(1, 100_001, dtype=np.float64)
    betas = (0.999, 0.9999, 0.99, 0.9, 0.5, 0.0)

    def rho_and_rect(t):  # every beta (a Python float, as the optimizer's) in one compiled program
        rhos = [_optim_more._radam_rho_t(b, t) for b in betas]
        return rhos, [_optim_more._radam_rect(b, r) for b, r in zip(betas, rhos, strict=True)]

    with jax.enable_x64(False):
        rhos32, rects32 = jax.jit(rho_and_rect)(t.astype(np.float32))
    for beta2, rho32, rect32 in zip(betas, rhos32, rects32, strict=True):
        rho_inf = 2 / (1 - beta2) - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            power = beta2**t
            rho = rho_inf - 2 * t * power / (1 - power)
            ratio = (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
            rect = np.where(rho > 5, np.sqrt(ratio), 0)
        # float32's own rounding of rho_t is half an ulp; 4 ulps bounds the arithmetic before it
        rho_ulps = np.abs(np.asarray(rho32, np.float64) - rho) / (np.abs(rho) * EPS[np.dtype(np.float32)])
        assert rho_ulps.max() <= 4, (beta2, rho_ulps.max(), t[rho_ulps.argmax()])
        assert np.array_equal(np.asarray(rect32) > 0, rect > 0), beta2  # the same steps are rectified
        on = rect > 0
        rect_ulps = np.abs(np.asarray(rect32, np.float64)[on] - rect[on]) / (rect[on] * EPS[np.dtype(np.float32)])
        # (rho_t - 4) magnifies rho_t's relative error by at most rho_t / (rho_t - 4) < 5
        assert rect_ulps.max(initial=0) <= 10, (beta2, rect_ulps.max())


def test_float32_step_scalars_are_accurate():
    # 32-bit mode's float32 NAdam mu against torch's Python-float one rounded to float32, and
    # Adamax's (and NAdam's, RAdam's) 1 - beta**t against float64, every step to 100,000
    t = np.arange(1, 100_001, dtype=np.float64)
    pairs = [(d, b) for d in (4e-3, 0.05, 1e-4, 1.0) for b in (0.9, 0.8, 0.99)]
    betas = (0.9, 0.999, 0.9999, 0.5)
    with jax.enable_x64(False):  # every (Python float) hyperparameter in one compiled program
        mus32, powers32 = jax.jit(
            lambda t: (
                [_optim_more._nadam_mu(b, d, t) for d, b in pairs],
                [_optim_more._one_minus_pow(b, t) for b in betas],
            )
        )(t.astype(np.float32))
    for (momentum_decay, beta1), mu32 in zip(pairs, mus32, strict=True):
        want = (beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))).astype(np.float32)
        ulps = np.abs(np.asarray(mu32, np.float64) - want) / np.spacing(want)
        assert ulps.max() <= NADAM_MU_ULPS, (momentum_decay, beta1, ulps.max())
    for beta, got in zip(betas, powers32, strict=True):
        want = 1 - beta**t
        ulps = np.abs(np.asarray(got, np.float64) - want) / (want * EPS[np.dtype(np.float32)])
        assert ulps.max() <= 4, (beta, ulps.max())


def test_nadam_and_asgd_need_params():
    params = [jnp.ones(2)]
    for name in ("nadam", "asgd"):
        tx = getattr(_optim_more, name)()
        with pytest.raises(ValueError, match=f"`jforeach.optim.{name}`: needs the current parameters"):
            tx.update(params, tx.init(params))


def test_states_are_packed_with_a_packed_params():
    params = jforeach.pack([jnp.ones(3), jnp.ones((2, 2))])
    for name, fields in STATE_KEYS.items():
        if name == "adafactor":  # factored shapes: its state is a tree of per-tensor arrays
            continue
        state = getattr(_optim_more, name)().init(params)
        for field in fields:
            value = _state_field(state, field)
            assert isinstance(value, jforeach.Packed) != (field in SCALARS), (name, field)


INVALID = [
    ("adadelta", {"lr": -0.1}, "Invalid learning rate"),
    ("adadelta", {"rho": 1.5}, "Invalid rho value"),
    ("adadelta", {"rho": -0.1}, "Invalid rho value"),
    ("adadelta", {"eps": -1e-6}, "Invalid epsilon value"),
    ("adadelta", {"weight_decay": -0.1}, "Invalid weight_decay value"),
    ("adamax", {"lr": -1e-3}, "Invalid learning rate"),
    ("adamax", {"eps": -1e-8}, "Invalid epsilon value"),
    ("adamax", {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0"),
    ("adamax", {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1"),
    ("adamax", {"weight_decay": -0.1}, "Invalid weight_decay value"),
    ("nadam", {"lr": float("nan")}, "Invalid learning rate"),
    ("nadam", {"eps": -1e-8}, "Invalid epsilon value"),
    ("nadam", {"betas": (-0.1, 0.999)}, "Invalid beta parameter at index 0"),
    ("nadam", {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1"),
    ("nadam", {"weight_decay": -0.1}, "Invalid weight_decay value"),
    ("nadam", {"momentum_decay": -1e-3}, "Invalid momentum_decay value"),
    ("radam", {"lr": -1e-3}, "Invalid learning rate"),
    ("radam", {"eps": -1e-8}, "Invalid epsilon value"),
    ("radam", {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0"),
    ("radam", {"betas": (0.9, 1.5)}, "Invalid beta parameter at index 1"),
    ("radam", {"weight_decay": -0.1}, "Invalid weight_decay value"),
    ("rprop", {"lr": -0.1}, "Invalid learning rate"),
    ("rprop", {"etas": (0.0, 1.2)}, "Invalid eta values: 0.0, 1.2"),
    ("rprop", {"etas": (0.5, 1.0)}, "Invalid eta values: 0.5, 1.0"),
    ("rprop", {"etas": (1.0, 1.2)}, "Invalid eta values"),
    ("asgd", {"lr": -0.1}, "Invalid learning rate"),
    ("asgd", {"weight_decay": -0.1}, "Invalid weight_decay value"),
    ("adafactor", {"lr": -0.1}, "Learning rate should be >= 0 but is: -0.1"),
    ("adafactor", {"beta2_decay": 0.5}, "beta2_decay should be <= 0 but is: 0.5"),
    ("adafactor", {"eps": (-1e-3, 1e-3)}, "epsilon1 should be >= 0 but is: -0.001"),
    ("adafactor", {"eps": (None, -1e-3)}, "epsilon2 should be >= 0 but is: -0.001"),
    ("adafactor", {"d": 0.5}, "Clipping threshold d should be >= 1 but is: 0.5"),
    ("adafactor", {"weight_decay": -0.1}, "weight_decay should be >= 0 but is: -0.1"),
]


@pytest.mark.parametrize(("name", "kwargs", "message"), INVALID, ids=_ids([i[:2] for i in INVALID]))
def test_invalid_hyperparameters_raise_like_torch(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        TORCH[name]([torch.zeros(1)], **kwargs)
    with pytest.raises(ValueError, match=f"`jforeach.optim.{name}`: {message}"):
        getattr(_optim_more, name)(**kwargs)


def test_boundary_hyperparameters_accepted_like_torch():
    # torch accepts these edges (and checks nothing else: ASGD's lambd/alpha/t0, Rprop's step_sizes)
    for name, kwargs in [
        ("adadelta", {"lr": 0.0, "rho": 0.0, "eps": 0.0}),
        ("adadelta", {"rho": 1.0}),
        ("adamax", {"lr": 0.0, "eps": 0.0, "betas": (0.0, 0.0)}),
        ("nadam", {"momentum_decay": 0.0, "betas": (0.0, 0.0)}),
        ("radam", {"betas": (0.0, 0.0), "eps": 0.0}),
        ("rprop", {"lr": 0.0, "etas": (1e-3, 1.001), "step_sizes": (5.0, 1.0)}),
        ("asgd", {"lr": 0.0, "lambd": -1.0, "alpha": -2.0, "t0": -5.0}),
        ("adafactor", {"lr": 0.0, "beta2_decay": 0.0, "eps": (0.0, 0.0), "d": 1.0}),
    ]:
        TORCH[name]([torch.zeros(1)], **kwargs)
        getattr(_optim_more, name)(**kwargs)


def test_torch_signatures_and_defaults():
    # every argument torch has, under its name and default, except the ones jforeach has no use for
    import inspect

    dropped = {"self", "params", "foreach", "capturable", "differentiable", "fused"}
    for name, cls in TORCH.items():
        want = {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items() if k not in dropped}
        got = {k: v.default for k, v in inspect.signature(getattr(_optim_more, name)).parameters.items()}
        assert got == want, name


# ---------------------------------------------------------------------------------------
# Muon: torch 2.13 has only _single_tensor_muon, whose Newton-Schulz iteration runs in bfloat16
# whatever the parameters' dtype. Both of torch's runs (float32 and float64 parameters) carry that
# bfloat16 rounding, so the reference is torch's Muon with the iteration in float64: the same
# algorithm, op by op, without the bfloat16 casts. jforeach's run in either dtype must be no further
# from it than torch's run in that dtype, times K (plus the floor).

MUON_SHAPES = [(3, 4), (6, 2)]  # wide, and tall (torch transposes it)
MUON_CONFIGS = [
    {},
    {"lr": 0.02, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
    {"lr": 0.02, "adjust_lr_fn": "match_rms_adamw", "ns_steps": 3, "eps": 1e-3},
    {"lr": 0.01, "adjust_lr_fn": "original", "ns_coefficients": (2.0, -1.5, 0.5), "weight_decay": 0.2, "momentum": 0},
]


def _muon_problem(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(np.float32) for s in MUON_SHAPES]
    noise = [[rng.standard_normal(s).astype(np.float32) for s in MUON_SHAPES] for _ in range(STEPS)]
    return params, noise


def _newton_schulz_float64(grad, ns_coefficients, ns_steps, eps):
    """torch.optim._muon._zeropower_via_newtonschulz with its bfloat16 casts taken out (the reference)."""
    a, b, c = ns_coefficients
    x = grad.to(torch.float64)
    if grad.size(0) > grad.size(1):
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(ns_steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if grad.size(0) > grad.size(1) else x


def _run_torch_muon(kwargs, params, noise, dtype, *, exact=False, schedule=None):
    """torch.optim.Muon's trajectory in ``dtype``: params and momentum buffers (exact: float64 Newton-Schulz)."""
    tparams = [torch.tensor(p).to(dtype) for p in params]
    opt = torch.optim.Muon(tparams, **kwargs)
    patch = pytest.MonkeyPatch()
    if exact:
        patch.setattr(torch.optim._muon, "_zeropower_via_newtonschulz", _newton_schulz_float64)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: a second OpenMP thread only waits (5x slower on a busy VM)
    try:
        _step_torch(opt, tparams, noise, schedule, dtype)
    finally:
        torch.set_num_threads(threads)
        patch.undo()
    assert all("step" not in opt.state[p] for p in tparams)  # torch's Muon keeps no step
    return [p.numpy() for p in tparams], [opt.state[p]["momentum_buffer"].numpy() for p in tparams]


def _compare_muon(kwargs, got_params, got_state, p0, noise, dtype, schedule=None):
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    t_params, t_bufs = _run_torch_muon(kwargs, p0, noise, torch_dtype, schedule=schedule)
    r_params, r_bufs = _run_torch_muon(kwargs, p0, noise, torch.float64, exact=True, schedule=schedule)
    got_bufs = _as_list(_state_field(got_state, "momentum_buffer"))
    for i, (g, t, r, p) in enumerate(zip(_as_list(got_params), t_params, r_params, p0, strict=True)):
        assert g.dtype == dtype and g.shape == MUON_SHAPES[i], (g.dtype, g.shape)
        p = p.astype(dtype)
        _check_against_reference(f"muon: parameter {i}", g, t, r, start=p)
        _check_against_reference(f"muon: displacement {i}", g - p, t - p, r - p, stored=(r, p))
    for i, (g, t, r) in enumerate(zip(got_bufs, t_bufs, r_bufs, strict=True)):
        assert g.dtype == dtype, g.dtype
        _check_against_reference(f"muon: momentum_buffer {i}", g, t, r)


# each configuration once (compiles dominate): every option, both dtypes and both layouts in some run
MUON_RUNS = [(0, np.float32, False), (1, np.float64, True), (2, np.float32, True), (3, np.float64, False)]


@pytest.mark.parametrize(
    ("config", "dtype", "packed"),
    MUON_RUNS,
    ids=[
        f"{i}-{np.dtype(d).name}-{'packed' if p else 'pytree'}"
        for i, (_, d, p) in zip(_ids([("muon", c) for c in MUON_CONFIGS]), MUON_RUNS, strict=True)
    ],
)
def test_muon_matches_torch(config, dtype, packed):
    kwargs = MUON_CONFIGS[config]
    p0, noise = _muon_problem(config)
    start = [p.astype(dtype) for p in p0]
    noise_d = [[n.astype(dtype) for n in step] for step in noise]
    got_params, got_state = _run_jax(_optim_more.muon(**kwargs), start, noise_d, packed=packed)
    assert isinstance(got_params, jforeach.Packed) == packed
    assert isinstance(_state_field(got_state, "momentum_buffer"), jforeach.Packed) == packed
    _compare_muon(kwargs, got_params, got_state, p0, noise, dtype)


def test_muon_inject_hyperparams_under_jit_matches_torch_param_group_lr():
    # every numeric hyperparameter traced under jit, ns_steps included; lr set between steps is
    # torch's param_group["lr"] = ... (an optax schedule takes the same path, as for the others)
    schedule = optax.warmup_cosine_decay_schedule(0.005, 0.05, 5, STEPS, end_value=0.01)
    p0, noise = _muon_problem(5)
    kwargs = {"weight_decay": 0.1, "adjust_lr_fn": "match_rms_adamw"}
    tx = optax.inject_hyperparams(_optim_more.muon)(lr=0.05, momentum=0.9, ns_steps=4, **kwargs)

    def set_lr(k, state):
        state.hyperparams["lr"] = jnp.asarray(schedule(k), jnp.float32)

    params, state = _run_jax(tx, p0, noise, packed=False, before_step=set_lr)
    _compare_muon(
        {"momentum": 0.9, "ns_steps": 4, **kwargs}, params, state.inner_state, p0, noise, np.float32, schedule
    )


@pytest.mark.parametrize("shape", [(96, 32)])  # tall: transposed (the trajectories have both)
def test_muon_newton_schulz_rounds_as_torch_bfloat16(shape):
    # torch's iteration is bfloat16 with float32 accumulation, every op one rounding of a float32
    # result. One iteration of jforeach's is torch's entry for entry, but where the libraries'
    # float32 sums of a long product differ in their last bit and flip a bfloat16 rounding (by one
    # bfloat16 ulp, a few entries of the 64-wide ones); later iterations mix such flips into every
    # entry, so after 5 the two are as far apart as bfloat16 runs are: each is as far from the
    # float64 iteration as the other (a float32 iteration would be ~100x closer to it).
    from torch.optim import _muon

    grad = torch.tensor(np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32))
    coefficients = (3.4445, -4.7750, 2.0315)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one, want = (_muon._zeropower_via_newtonschulz(grad, coefficients, k, 1e-7).float().numpy() for k in (1, 5))
    finally:
        torch.set_num_threads(threads)
    exact = _newton_schulz_float64(grad, coefficients, 5, 1e-7).numpy()
    ns = jax.jit(_optim_more._zeropower_via_newtonschulz, static_argnums=(1,))
    got_one, got = (
        ns(jnp.asarray(grad.numpy()), coefficients, 1, 1e-7),
        ns(jnp.asarray(grad.numpy()), coefficients, 5, 1e-7),
    )
    assert got.dtype == jnp.bfloat16 and got.shape == shape
    got_one, got = (np.asarray(x.astype(jnp.float32)).astype(np.float64) for x in (got_one, got))
    assert (got_one != one).mean() <= 0.01, (got_one != one).mean()
    # by a bfloat16 ulp of the terms summed (the matrix's scale: a flip near a cancellation is small)
    bf16_ulp = float(np.spacing(np.abs(one).max().astype(jnp.bfloat16)))
    assert np.abs(got_one - one).max() <= bf16_ulp, (np.abs(got_one - one).max(), bf16_ulp)
    torch_err, jf_err = np.abs(want - exact).max(), np.abs(got - exact).max()
    assert torch_err / K <= jf_err <= K * torch_err, (jf_err, torch_err)


def test_muon_rejects_what_torch_rejects():
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        torch.optim.Muon([torch.zeros(3)])
    tx = _optim_more.muon()
    for params, where in [
        ({"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}, r"params\['b'\]"),
        ([jnp.zeros((1, 2, 2))], r"params\[0\]"),
    ]:
        with pytest.raises(
            ValueError, match=rf"`jforeach.optim.muon`: Muon only supports 2D parameters .* \(2,\) at {where}|{where}"
        ):
            tx.init(params)
        with pytest.raises(ValueError, match=f"at {where}"):
            tx.init(jforeach.pack(params))
    params = [jnp.ones((2, 2))]
    state = tx.init(params)
    with pytest.raises(ValueError, match="`jforeach.optim.muon`: needs the current parameters"):
        tx.update(params, state)
    with pytest.raises(ValueError, match=r"shape \(4,\) at params\[0\]"):
        tx.update([jnp.ones(4)], state, [jnp.ones(4)])
    with pytest.raises(TypeError, match=r"params\[0\] is int32"):
        tx.init([jnp.ones((2, 2), jnp.int32)])


MUON_INVALID = [
    ({"lr": -0.1}, "Learning rate should be >= 0 but is: -0.1"),
    ({"momentum": -0.5}, "momentum should be >= 0 but is: -0.5"),
    ({"weight_decay": -0.1}, "weight decay should be >= 0 but is: -0.1"),
    ({"adjust_lr_fn": "sqrt"}, "Adjust learning rate function sqrt is not supported"),
    ({"ns_steps": 100}, "Number of steps must be less than 100 for computational efficiency"),
    ({"ns_coefficients": (1.0, 2.0)}, "Coefficients must be a tuple of exactly 3 values"),
]


@pytest.mark.parametrize(("kwargs", "message"), MUON_INVALID, ids=[next(iter(k)) for k, _ in MUON_INVALID])
def test_muon_invalid_hyperparameters_raise_like_torch(kwargs, message):
    # torch raises the last two at its first step; jforeach at construction
    with pytest.raises(ValueError, match=message):
        p = torch.zeros(2, 2, requires_grad=True)
        p.grad = torch.ones(2, 2)
        torch.optim.Muon([p], **kwargs).step()
    with pytest.raises(ValueError, match=f"`jforeach.optim.muon`: {message}"):
        _optim_more.muon(**kwargs)


def test_muon_signature_and_defaults_are_torch():
    import inspect

    want = {k: v.default for k, v in inspect.signature(torch.optim.Muon.__init__).parameters.items()}
    del want["self"], want["params"]
    got = {k: v.default for k, v in inspect.signature(_optim_more.muon).parameters.items()}
    assert got == want
    _optim_more.muon(lr=0.0, momentum=0.0, weight_decay=0.0, ns_steps=99, adjust_lr_fn="original")  # torch's edges


@pytest.mark.parametrize("packed", [False, True], ids=["pytree", "packed"])
def test_muon_state_dict_crosses_both_ways(packed):
    # torch -> jforeach: the buffers land in the jforeach leaves torch's named_parameters() order
    # names; jforeach -> torch: a fresh torch.optim.Muon loads them and takes the same step as the
    # torch optimizer that made them
    names = ["layer.weight", "head.weight"]  # torch's order; JAX's dict order is head, layer
    p0, noise = _muon_problem(7)
    tparams = [torch.tensor(p0[0]), torch.tensor(p0[1])]
    opt = torch.optim.Muon(tparams, lr=0.02)
    for step_noise in noise[:3]:
        for p, n in zip(tparams, step_noise, strict=True):
            p.grad = CURVATURE * p + torch.tensor(n)
        opt.step()
    params = {"layer": {"weight": jnp.asarray(tparams[0].numpy())}, "head": {"weight": jnp.asarray(tparams[1].numpy())}}
    if packed:
        params = jforeach.pack(params)
    tx = jforeach.optim.muon(lr=0.02)
    order = jforeach.optim.torch_order(names, params.unpack() if packed else params)
    state = jforeach.optim.state_from_torch(tx.init(params), opt.state_dict(), order)
    bufs = _state_field(state, "momentum_buffer")
    bufs = bufs.unpack() if packed else bufs
    for k, leaf in ((0, bufs["layer"]["weight"]), (1, bufs["head"]["weight"])):
        np.testing.assert_array_equal(np.asarray(leaf), opt.state[tparams[k]]["momentum_buffer"].numpy())

    groups = torch.optim.Muon([torch.zeros_like(p) for p in tparams], lr=0.02).state_dict()["param_groups"]
    handed = jforeach.optim.state_to_torch(state, order, param_groups=groups)
    assert all(set(entry) == {"momentum_buffer"} for entry in handed["state"].values())  # no step, as torch
    twin = [p.clone() for p in tparams]
    opt2 = torch.optim.Muon(twin, lr=0.02)
    opt2.load_state_dict(handed)
    for a, b, n in zip(tparams, twin, noise[3], strict=True):
        a.grad = CURVATURE * a + torch.tensor(n)
        b.grad = CURVATURE * b + torch.tensor(n)
    opt.step()
    opt2.step()
    for a, b in zip(tparams, twin, strict=True):
        assert torch.equal(a, b)
