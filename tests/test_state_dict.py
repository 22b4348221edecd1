"""torch.optim state_dict() <-> jforeach optimizer states (jforeach._state_dict), against torch 2.13.

Each optimizer trains K steps on one side, hands its state over, and both sides continue K steps:
jforeach's continuation is judged as tests/test_optim.py judges trajectories (its distance from
torch's float64 continuation of the same checkpoint, against torch float32's, times a small factor).
"""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from test_optim import CURVATURE, _check_against_reference

import jforeach
import jforeach.optim
from jforeach._state_dict import state_from_torch, state_to_torch, torch_order

K = 10  # steps before the hand-over, and after it


class _Net(torch.nn.Module):
    """named_parameters(): gain, offset, z_in.weight, z_in.bias, a_out.weight, a_out.bias; JAX's leaves
    sort them a_out.bias, a_out.weight, gain, offset, z_in.bias, z_in.weight (offset and z_in.bias
    have one shape: a wrong order would not show as a shape error)."""

    def __init__(self):
        super().__init__()
        self.z_in = torch.nn.Linear(3, 4)
        self.a_out = torch.nn.Linear(4, 2)
        self.gain = torch.nn.Parameter(torch.ones(()))
        self.offset = torch.nn.Parameter(torch.zeros(4))


NAMED = [(name, tuple(p.shape)) for name, p in _Net().named_parameters()]
NAMES = [name for name, _ in NAMED]

TORCH = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}
CONFIGS = [
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.2}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.5}),
]
KEYS = {  # torch's per-parameter state keys of these configurations
    "sgd": ["momentum_buffer"],
    "adam": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    "adamw": ["exp_avg", "exp_avg_sq"],
    "rmsprop": ["square_avg", "momentum_buffer", "grad_avg"],
    "adagrad": ["sum"],
}


def _ids(configs):
    return [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in configs]


# ---------------------------------------------------------------------------------------
# the problem, by torch's parameter names


def _problem(seed=0, steps=2 * K):
    rng = np.random.default_rng(seed)
    start = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in NAMED}
    noise = [{name: rng.standard_normal(shape).astype(np.float32) for name, shape in NAMED} for _ in range(steps)]
    return start, noise


def _tree(by_name, packed=False):
    """The JAX tree of ``{torch name: array}``: nested dicts, keys in JAX's (sorted) order."""
    tree: dict = {}
    for name, value in by_name.items():
        *outer, last = name.split(".")
        node = tree
        for key in outer:
            node = node.setdefault(key, {})
        node[last] = jnp.asarray(value)
    return jforeach.pack(tree) if packed else tree


def _by_name(tree):
    if isinstance(tree, jforeach.Packed):
        tree = tree.unpack()
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {".".join(str(k.key) for k in path): np.asarray(leaf) for path, leaf in flat}


def _field(state, name):
    for node in jax.tree.leaves(state, is_leaf=lambda x: hasattr(x, "_fields")):
        if hasattr(node, "_fields") and name in node._fields:
            return getattr(node, name)
    raise AssertionError(f"no field {name}")


# ---------------------------------------------------------------------------------------
# torch's side


def _torch_params(by_name, dtype=torch.float32):
    return [torch.tensor(by_name[name]).to(dtype) for name in NAMES]


def _torch_steps(opt, tparams, noise):
    for step_noise in noise:
        for p, name in zip(tparams, NAMES, strict=True):
            p.grad = CURVATURE * p + torch.tensor(step_noise[name]).to(p.dtype)
        opt.step()


def _torch_result(opt, tparams, keys):
    named = list(zip(NAMES, tparams, strict=True))
    params = {name: p.numpy().copy() for name, p in named}
    states = {key: {name: opt.state[p][key].numpy().copy() for name, p in named} for key in keys}
    return params, states


def _torch_continuation(name, kwargs, start, state_dict, noise):
    """torch float32 and float64 continuing from the same checkpoint (float32 params, loaded state)."""
    out = []
    for dtype in (torch.float32, torch.float64):
        tparams = _torch_params(start, dtype)
        opt = TORCH[name](tparams, **kwargs, foreach=True)
        opt.load_state_dict(copy.deepcopy(state_dict))  # load_state_dict keeps the tensors it is given
        _torch_steps(opt, tparams, noise)
        out.append(_torch_result(opt, tparams, KEYS[name]))
    return out


# ---------------------------------------------------------------------------------------
# jforeach's side


def _jax_runner(tx, packed):
    @jax.jit
    def step(params, state, noise):
        grads = jax.tree.map(lambda p, n: CURVATURE * p + n, params, noise)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def run(params, state, noise):
        for step_noise in noise:
            params, state = step(params, state, _tree(step_noise, packed))
        return params, state

    return run


def _compare(what, params, state, keys, torch32, torch64, start):
    (t_params, t_states), (r_params, r_states) = torch32, torch64
    got = _by_name(params)
    for name in NAMES:
        g, t, r, p = got[name], t_params[name], r_params[name], start[name].astype(np.float64)
        assert g.dtype == np.float32
        _check_against_reference(f"{what}: {name}", g, t, r, start=p)
        _check_against_reference(f"{what}: displacement {name}", g - p, t - p, r - p, stored=(r, p), dtype=g.dtype)
    for key in keys:
        field = _by_name(_field(state, key))
        for name in NAMES:
            _check_against_reference(f"{what}: {key} {name}", field[name], t_states[key][name], r_states[key][name])


def _assert_same_state_dict(got, want):
    assert set(got) == {"state", "param_groups"}
    assert got["param_groups"] == want["param_groups"]
    assert set(got["state"]) == set(want["state"])
    for i, entry in want["state"].items():
        assert set(got["state"][i]) == set(entry), (i, set(got["state"][i]), set(entry))
        for key, value in entry.items():
            mine = got["state"][i][key]
            assert isinstance(mine, torch.Tensor) and mine.dtype == value.dtype, (i, key, mine, value)
            assert torch.equal(mine, value), (i, key)


@pytest.mark.parametrize("packed", [False, True], ids=["pytree", "packed"])
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=_ids(CONFIGS))
def test_hand_over_both_ways_continues_like_torch(name, kwargs, packed):
    start, noise = _problem()
    tx = getattr(jforeach.optim, name)(**kwargs)
    run = _jax_runner(tx, packed)
    template = tx.init(_tree(start, packed))
    order = torch_order(_Net().named_parameters(), _tree(start, packed))

    # torch -> jforeach: torch trains K steps, jforeach and torch continue K steps from its checkpoint
    tparams = _torch_params(start)
    opt = TORCH[name](tparams, **kwargs, foreach=True)
    _torch_steps(opt, tparams, noise[:K])
    saved = copy.deepcopy(opt.state_dict())  # state_dict() holds the live tensors
    middle = {n: p.numpy().copy() for n, p in zip(NAMES, tparams, strict=True)}
    state = state_from_torch(template, saved, order)
    assert jax.tree.structure(state) == jax.tree.structure(template)
    assert [x.dtype for x in jax.tree.leaves(state)] == [x.dtype for x in jax.tree.leaves(template)]
    for key in KEYS[name]:  # the hand-over itself is exact
        field = _by_name(_field(state, key))
        for i, n in enumerate(NAMES):
            np.testing.assert_array_equal(field[n], saved["state"][i][key].numpy(), err_msg=f"{key} {n}")
    if name != "sgd":
        assert all(int(c) == K for c in jax.tree.leaves(state) if c.ndim == 0 and c.dtype == jnp.int32)
    # ... and converts back to torch's state_dict, bit for bit
    _assert_same_state_dict(state_to_torch(state, order, param_groups=saved["param_groups"]), saved)
    params, state = run(_tree(middle, packed), state, noise[K:])
    torch32, torch64 = _torch_continuation(name, kwargs, middle, saved, noise[K:])
    _compare(f"{name} from torch", params, state, KEYS[name], torch32, torch64, middle)

    # jforeach -> torch: jforeach trains K steps, torch and jforeach continue K steps from its state
    params, state = run(_tree(start, packed), template, noise[:K])
    middle = _by_name(params)
    groups = TORCH[name](_torch_params(start), **kwargs, foreach=True).state_dict()["param_groups"]
    handed = state_to_torch(state, order, param_groups=groups)
    assert handed["param_groups"] == groups
    for key in KEYS[name]:
        field = _by_name(_field(state, key))
        for i, n in enumerate(NAMES):
            np.testing.assert_array_equal(handed["state"][i][key].numpy(), field[n], err_msg=f"{key} {n}")
    assert all(("step" in e) == (name != "sgd") for e in handed["state"].values())
    params, state = run(params, state, noise[K:])
    torch32, torch64 = _torch_continuation(name, kwargs, middle, handed, noise[K:])
    _compare(f"{name} to torch", params, state, KEYS[name], torch32, torch64, middle)
