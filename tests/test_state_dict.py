"""torch.optim state_dict() <-> jforeach optimizer states (jforeach._state_dict), against torch 2.13.

Each optimizer trains K steps on one side, hands its state over, and both sides continue K steps:
jforeach's continuation is judged as tests/test_optim.py judges trajectories (its distance from
torch's float64 continuation of the same checkpoint, against torch float32's, times a small factor).
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from test_optim import CURVATURE, _check_against_reference
from test_optim import TORCH as OPTIM_TORCH

import jforeach
import jforeach.optim
from jforeach import _optim_more, _state_dict
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
# torch.optim's other optimizers (jforeach._optim_more), one configuration each, on a Packed (quicker to compile)
TORCH = dict(
    OPTIM_TORCH,
    adadelta=torch.optim.Adadelta,
    adamax=torch.optim.Adamax,
    nadam=torch.optim.NAdam,
    radam=torch.optim.RAdam,
    rprop=torch.optim.Rprop,
    asgd=torch.optim.ASGD,
)
MORE = [
    ("adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1}),
    ("adamax", {"lr": 0.05, "betas": (0.8, 0.99)}),
    ("nadam", {"lr": 0.05}),
    ("radam", {"lr": 0.05}),  # its rectification starts at step 6
    ("rprop", {"lr": 0.05}),
    ("asgd", {"lr": 0.05, "t0": 5}),  # averaging starts after step 5
]
KEYS.update(
    adadelta=["square_avg", "acc_delta"],
    adamax=["exp_avg", "exp_inf"],
    nadam=["exp_avg", "exp_avg_sq", "mu_product"],
    radam=["exp_avg", "exp_avg_sq"],
    rprop=["prev", "step_size"],
    asgd=["ax", "eta", "mu"],
)
SCALARS = {"mu_product", "eta", "mu"}  # torch: a 0-d tensor per parameter, equal for all; jforeach: one


def _optimizer(name, kwargs):
    module = jforeach.optim if hasattr(jforeach.optim, name) else _optim_more
    return getattr(module, name)(**kwargs)


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


# torch's state key -> the field holding it, in the states with optax's names (the other
# optimizers' states name their fields as torch's keys)
OPTAX_FIELDS = {
    "ScaleByAdamState": {"exp_avg": "mu", "exp_avg_sq": "nu"},
    "ScaleByAmsgradState": {"exp_avg": "mu", "exp_avg_sq": "nu", "max_exp_avg_sq": "nu_max"},
    "TraceState": {"momentum_buffer": "trace"},
    "ScaleByRmsState": {"square_avg": "nu"},
    "ScaleByRStdDevState": {"square_avg": "nu", "grad_avg": "mu"},
    "ScaleByRssState": {"sum": "sum_of_squares"},
}


def _field_name(node, name):
    return OPTAX_FIELDS.get(type(node).__name__, {}).get(name, name)


def _node(state, name):
    """The first NamedTuple of the state (depth first, in chains and wrappers) with a field ``name``
    or the field holding torch's state key ``name``."""
    if hasattr(state, "_fields") and _field_name(state, name) in state._fields:
        return state
    if isinstance(state, tuple | list | dict):
        for child in state.values() if isinstance(state, dict) else state:
            found = _node(child, name)
            if found is not None:
                return found
    return None


def _field(state, name):
    node = _node(state, name)
    assert node is not None, f"no field {name}"
    return getattr(node, _field_name(node, name))


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


def _torch_continuation(name, kwargs, start, state_dict, noise, keys=None):
    """torch float32 and float64 continuing from the same checkpoint (float32 params, loaded state)."""
    out = []
    for dtype in (torch.float32, torch.float64):
        tparams = _torch_params(start, dtype)
        opt = TORCH[name](tparams, **kwargs, foreach=True)
        opt.load_state_dict(copy.deepcopy(state_dict))  # load_state_dict keeps the tensors it is given
        _torch_steps(opt, tparams, noise)
        out.append(_torch_result(opt, tparams, KEYS[name] if keys is None else keys))
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
        if key in SCALARS:
            assert len({float(v) for v in t_states[key].values()}) == 1, (key, t_states[key])
            got_scalar, t, r = np.asarray(_field(state, key)), t_states[key][NAMES[0]], r_states[key][NAMES[0]]
            _check_against_reference(f"{what}: {key}", got_scalar, t, r)
            continue
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


def _held(state, key):
    """A state field by torch's parameter names (a scalar one: the same value for each)."""
    field = _field(state, key)
    return {n: np.asarray(field) for n in NAMES} if key in SCALARS else _by_name(field)


@pytest.mark.parametrize(
    ("name", "kwargs", "packed"),
    [(*c, p) for c in CONFIGS for p in (False, True)] + [(*c, True) for c in MORE],
    ids=[f"{i}-{p}" for i in _ids(CONFIGS) for p in ("pytree", "packed")] + [f"{i}-packed" for i in _ids(MORE)],
)
def test_hand_over_both_ways_continues_like_torch(name, kwargs, packed):
    start, noise = _problem()
    tx = _optimizer(name, kwargs)
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
        field = _held(state, key)
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
        field = _held(state, key)
        for i, n in enumerate(NAMES):
            np.testing.assert_array_equal(handed["state"][i][key].numpy(), field[n], err_msg=f"{key} {n}")
    assert all(("step" in e) == (name != "sgd") for e in handed["state"].values())
    params, state = run(params, state, noise[K:])
    torch32, torch64 = _torch_continuation(name, kwargs, middle, handed, noise[K:])
    _compare(f"{name} to torch", params, state, KEYS[name], torch32, torch64, middle)


def test_inject_hyperparams_in_a_chain_take_torch_group_values_and_give_them_back():
    # torch's load_state_dict replaces the groups' hyperparameters: a scheduler's lr travels both ways
    kwargs = {"lr": 0.05, "weight_decay": 0.1}
    start, noise = _problem(1)
    tparams = _torch_params(start)
    opt = torch.optim.Adam(tparams, **kwargs, foreach=True)
    _torch_steps(opt, tparams, noise[:K])
    opt.param_groups[0]["lr"] = 0.02
    saved = copy.deepcopy(opt.state_dict())
    middle = {n: p.numpy().copy() for n, p in zip(NAMES, tparams, strict=True)}
    # clip_by_norm(1e6) multiplies by exactly 1 here: it only puts the optimizer inside a chain
    tx = optax.chain(jforeach.transforms.clip_by_norm(1e6), optax.inject_hyperparams(jforeach.optim.adam)(**kwargs))
    params = _tree(middle)
    order = torch_order(NAMES, params)
    state = state_from_torch(tx.init(params), saved, order)
    assert state[1].hyperparams["lr"] == np.float32(0.02) and state[1].hyperparams["lr"].dtype == jnp.float32
    assert int(state[1].count) == K and int(_node(state, "exp_avg").count) == K
    _assert_same_state_dict(state_to_torch(state, order, param_groups=saved["param_groups"]), saved)
    got, got_state = _jax_runner(tx, False)(params, state, noise[K:])
    keys = ["exp_avg", "exp_avg_sq"]
    torch32, torch64 = _torch_continuation("adam", kwargs, middle, saved, noise[K:], keys)
    _compare("adam, injected lr", got, got_state, keys, torch32, torch64, middle)
    # jforeach's param_group["lr"] = ... between steps goes into torch's groups (a copy of them)
    state[1].hyperparams["lr"] = jnp.asarray(0.01, jnp.float32)
    handed = state_to_torch(state, order, param_groups=saved["param_groups"])
    assert handed["param_groups"][0]["lr"] == float(np.float32(0.01))
    assert saved["param_groups"][0]["lr"] == 0.02
    assert {k: v for k, v in handed["param_groups"][0].items() if k != "lr"} == {
        k: v for k, v in saved["param_groups"][0].items() if k != "lr"
    }


@pytest.mark.parametrize("dampening", [0.0, 0.3])
def test_sgd_momentum_buffers_torch_has_not_made(dampening):
    # torch's SGD clones a parameter's first gradient into its buffer; "gain" has none for K steps
    kwargs = {"lr": 0.05, "momentum": 0.9, "dampening": dampening}
    start, noise = _problem(2)
    tparams = _torch_params(start)
    opt = torch.optim.SGD(tparams, **kwargs, foreach=True)
    for step_noise in noise[:K]:
        for p, name in zip(tparams[1:], NAMES[1:], strict=True):
            p.grad = CURVATURE * p + torch.tensor(step_noise[name])
        tparams[0].grad = None
        opt.step()
    saved = copy.deepcopy(opt.state_dict())
    assert 0 not in saved["state"] and set(saved["state"]) == set(range(1, len(NAMES)))
    middle = {n: p.numpy().copy() for n, p in zip(NAMES, tparams, strict=True)}
    tx = jforeach.optim.sgd(**kwargs)
    run = _jax_runner(tx, False)
    template = tx.init(_tree(middle))
    order = torch_order(NAMES, _tree(middle))
    if dampening:  # a zero buffer would give momentum * 0 + (1 - dampening) * grad, not the grad
        with pytest.raises(ValueError, match=r"torch parameter 0 has no momentum buffer .*dampening=0.3"):
            state_from_torch(template, saved, order)
    else:  # a zero buffer gives momentum * 0 + grad: torch's clone
        state = state_from_torch(template, saved, order)
        assert int(_field(state, "count")) == 1
        params, state = run(_tree(middle), state, noise[K:])
        torch32, torch64 = _torch_continuation("sgd", kwargs, middle, saved, noise[K:])
        _compare("sgd, one buffer missing", params, state, ["momentum_buffer"], torch32, torch64, middle)
    # no buffer at all (a fresh torch optimizer): jforeach's counter 0 starts every buffer from the next gradient
    fresh = torch.optim.SGD(_torch_params(middle), **kwargs, foreach=True).state_dict()
    state = state_from_torch(template, fresh, order)
    assert int(_field(state, "count")) == 0
    _assert_same_state_dict(state_to_torch(state, order, param_groups=fresh["param_groups"]), fresh)
    params, state = run(_tree(middle), state, noise[K:])
    torch32, torch64 = _torch_continuation("sgd", kwargs, middle, fresh, noise[K:])
    _compare("sgd from a fresh torch state", params, state, ["momentum_buffer"], torch32, torch64, middle)


# ---------------------------------------------------------------------------------------
# errors: raised before anything is built, naming the function, torch's index and the leaf


def _adam_checkpoint(amsgrad=False, steps=2):
    start, noise = _problem(3, steps)
    tparams = _torch_params(start)
    opt = torch.optim.Adam(tparams, lr=0.05, amsgrad=amsgrad, foreach=True)
    _torch_steps(opt, tparams, noise)
    return start, copy.deepcopy(opt.state_dict())


def _edited(state_dict, edit):
    state_dict = copy.deepcopy(state_dict)
    edit(state_dict["state"])
    return state_dict


def test_state_from_torch_rejects_what_does_not_fit():
    start, saved = _adam_checkpoint()
    params = _tree(start)
    template = jforeach.optim.adam(lr=0.05).init(params)
    order = torch_order(NAMES, params)
    fn = r"`jforeach\.optim\.state_from_torch`: "
    offset = NAMES.index("offset")
    cases = [
        (_edited(saved, lambda s: s[0].update(foo=torch.zeros(()))), "unknown state key 'foo'"),
        (
            _edited(saved, lambda s: s[1].update(exp_avg=torch.zeros(5))),
            r"parameter 1's 'exp_avg' has shape \(5,\) but ",
        ),
        (
            _edited(saved, lambda s: s[1].pop("exp_avg_sq")),
            r"parameter 1 \(jforeach leaf \['offset'\]\) has state but no",
        ),
        (
            _edited(saved, lambda s: s[2].update(step=torch.tensor(1.0))),
            "parameter 2 is at step 1 but parameter 0 at step 2",
        ),
        (_edited(saved, lambda s: s.pop(3)), "parameter 3 is at step 0 .it has no state: it never had a gradient"),
        (_edited(saved, lambda s: s.update({9: {}})), "an entry 9 for no parameter"),
        (_edited(saved, lambda s: s[0].update(step=torch.tensor(1.5))), "has step 1.5, not a count"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=fn + ".*" + message):
            state_from_torch(template, bad, order)
    # the leaf path names JAX's side of a shape mismatch
    with pytest.raises(ValueError, match=r"jforeach leaf \['offset'\] has shape \(4,\)"):
        state_from_torch(template, _edited(saved, lambda s: s[offset].update(exp_avg=torch.zeros(3))), order)
    with pytest.raises(ValueError, match=fn + "torch's state_dict has 6 parameters but the jforeach state has 5"):
        smaller = {k: v for k, v in params.items() if k != "gain"}
        state_from_torch(jforeach.optim.adam().init(smaller), saved, order)
    with pytest.raises(ValueError, match=fn + "order must hold each leaf index 0..5 once"):
        state_from_torch(template, saved, [0, 0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match=fn + "step=5 but torch's parameters are at step 2"):
        state_from_torch(template, saved, order, step=5)
    with pytest.raises(TypeError, match=fn + "state_dict must be"):
        state_from_torch(template, saved["state"], order)
    # amsgrad's buffer has no home in a jforeach adam built without amsgrad
    _, amsgrad = _adam_checkpoint(amsgrad=True)
    with pytest.raises(
        ValueError,
        match=fn + r"torch parameter 0 has state 'max_exp_avg_sq'.*ScaleByAdamState has no field for it, "
        r"ScaleByAmsgradState.nu_max holds it",
    ):
        state_from_torch(template, amsgrad, order)
    assert int(_node(template, "exp_avg").count) == 0  # the template is untouched


def test_state_to_torch_needs_groups_listing_the_parameters_and_a_step():
    start, _ = _problem(4, 0)
    params = _tree(start)
    order = torch_order(NAMES, params)
    tx = jforeach.optim.rmsprop(lr=0.01)  # a constant lr and no momentum: nothing counts steps
    state = tx.init(params)
    _, state = tx.update(params, state, params)
    groups = torch.optim.RMSprop(_torch_params(start), lr=0.01).state_dict()["param_groups"]
    fn = r"`jforeach\.optim\.state_to_torch`: "
    with pytest.raises(ValueError, match=fn + "the state keeps no step count .*pass step="):
        state_to_torch(state, order, param_groups=groups)
    with pytest.raises(ValueError, match=fn + r"param_groups must list the parameters 0..5"):
        state_to_torch(state, order, param_groups=[{**groups[0], "params": [0, 1, 2]}], step=1)
    with pytest.raises(ValueError, match=fn + "order must hold each leaf index"):
        state_to_torch(state, [0, 1], param_groups=groups, step=1)
    handed = state_to_torch(state, order, param_groups=groups, step=1)
    opt = torch.optim.RMSprop(_torch_params(start), lr=0.01)
    opt.load_state_dict(handed)
    assert all(float(opt.state[p]["step"]) == 1.0 for p in opt.param_groups[0]["params"])
    adam = jforeach.optim.adam()
    with pytest.raises(ValueError, match=fn + "step=3 but the state's step counters are at 0"):
        state_to_torch(adam.init(params), order, param_groups=groups, step=3)


def test_torch_order_matches_names_to_key_paths():
    class Head(NamedTuple):
        w: jax.Array
        b: jax.Array

    params = {"blocks": [{"w": jnp.zeros(2)}, {"w": jnp.zeros(3)}], "head": Head(jnp.zeros(4), jnp.zeros(5))}
    # JAX's leaves: blocks.0.w, blocks.1.w, head.w, head.b (a NamedTuple keeps its field order)
    names = ["head.w", "head.b", "blocks.0.w", "blocks.1.w"]
    assert torch_order(names, params) == [2, 3, 0, 1]
    assert torch_order(names, jforeach.pack(params)) == [2, 3, 0, 1]
    paths = [path for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
    assert torch_order(names, paths) == [2, 3, 0, 1]
    assert torch_order(["z.w", "a.b"], {"z.w": jnp.zeros(1), "a.b": jnp.zeros(1)}) == [1, 0]  # flat, torch-keyed
    fn = r"`jforeach\.optim\.torch_order`: "
    with pytest.raises(
        ValueError, match=fn + r"torch's parameter 1 'head\.bias' matches no JAX leaf; close: \['head\.b"
    ):
        torch_order(["head.w", "head.bias", "blocks.0.w", "blocks.1.w"], params)
    with pytest.raises(ValueError, match=fn + "torch's parameters 0 and 1 are both named 'head.w'"):
        torch_order(["head.w", "head.w"], params)
    with pytest.raises(
        ValueError, match=fn + r"no torch parameter is named like the JAX leaves \['blocks'\]\[1\]\['w'\]"
    ):
        torch_order(["head.w", "head.b", "blocks.0.w"], params)
    with pytest.raises(
        ValueError, match=fn + r"the JAX leaves \['a'\]\['b'\] and \['a\.b'\] both have the name 'a\.b'"
    ):
        torch_order(["a.b"], {"a": {"b": jnp.zeros(1)}, "a.b": jnp.zeros(1)})


def test_low_precision_states_cross_exactly_in_their_dtype():
    # torch's bfloat16 state is read through float32 (numpy has no bfloat16) and comes back bfloat16
    start, noise = _problem(5, 2)
    tparams = [p.to(torch.bfloat16) for p in _torch_params(start)]
    opt = torch.optim.Adam(tparams, lr=0.05, foreach=True)
    _torch_steps(opt, tparams, noise)
    saved = copy.deepcopy(opt.state_dict())
    params = jax.tree.map(lambda x: x.astype(jnp.bfloat16), _tree(start))
    order = torch_order(NAMES, params)
    state = state_from_torch(jforeach.optim.adam(lr=0.05).init(params), saved, order)
    for key in ("exp_avg", "exp_avg_sq"):
        field = _field(state, key)
        for i, name in enumerate(NAMES):
            leaf = field
            for part in name.split("."):
                leaf = leaf[part]
            assert leaf.dtype == jnp.bfloat16
            np.testing.assert_array_equal(np.asarray(leaf, np.float32), saved["state"][i][key].float().numpy())
    _assert_same_state_dict(state_to_torch(state, order, param_groups=saved["param_groups"]), saved)


def test_state_from_torch_fills_an_optimizer_inside_grad_scaler():
    # a wrapper's state (grad_scaler's inner_state, holding further states) is looked into, not taken
    # for a per-parameter field
    params = {"w": jnp.ones((2, 3), jnp.float32), "b": jnp.zeros(3, jnp.float32)}
    tx = jforeach.amp.grad_scaler(optax.chain(jforeach.transforms.clip_by_norm(1.0), jforeach.optim.adam(1e-2)))
    tw, tb = torch.nn.Parameter(torch.ones(2, 3)), torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.Adam([tw, tb], lr=1e-2, foreach=True)
    for k in range(2):
        tw.grad, tb.grad = torch.full((2, 3), 0.5 + k), torch.full((3,), -1.0 - k)
        opt.step()
    order = jforeach.optim.torch_order(["w", "b"], params)
    state = jforeach.optim.state_from_torch(tx.init(params), opt.state_dict(), order)
    exp_avg, exp_avg_sq = (optax.tree_utils.tree_get(state, key) for key in ("mu", "nu"))
    np.testing.assert_array_equal(np.asarray(exp_avg["w"]), opt.state[tw]["exp_avg"].numpy())
    np.testing.assert_array_equal(np.asarray(exp_avg_sq["b"]), opt.state[tb]["exp_avg_sq"].numpy())
    assert float(state.scale) == 2.0**16  # the scaler's own state is left as the template had it


# -- parameter groups: torch's param_groups as an optax.multi_transform, one optimizer state per label --------


def _label(path, leaf):
    return "decay" if leaf.ndim >= 2 else "no_decay"


GROUP_NAMES = {
    label: [n for n, shape in NAMED if _label(None, np.zeros(shape)) == label] for label in ("decay", "no_decay")
}
GROUP_KW = {
    "decay": {"lr": 0.01, "weight_decay": 0.1},
    "no_decay": {"lr": 0.02, "betas": (0.8, 0.99), "weight_decay": 0.0},
}
IN_GROUP_ORDER = GROUP_NAMES["decay"] + GROUP_NAMES["no_decay"]  # torch numbers the parameters group by group


def _grouped_torch(by_name, dtype=torch.float32):
    tparams = _torch_params(by_name, dtype)
    of = dict(zip(NAMES, tparams, strict=True))
    groups = [{"params": [of[n] for n in GROUP_NAMES[label]], **GROUP_KW[label]} for label in ("decay", "no_decay")]
    return torch.optim.AdamW(groups, foreach=True), tparams


def _grouped_moments(state, key):
    """``key`` of every label's state, by torch's parameter names."""
    out = {}
    for inner in _field(state, "inner_states").values():
        field = _field(inner, key)
        out.update(_by_name(field.unpack() if isinstance(field, jforeach.Packed) else field))
    return out


@pytest.mark.parametrize("packed", [False, True], ids=["pytree", "grouped-packed"])
def test_multi_transform_param_groups_hand_over_both_ways_continue_like_torch(packed):
    start, noise = _problem()
    tx = optax.multi_transform(
        {label: jforeach.optim.adamw(**kw) for label, kw in GROUP_KW.items()},
        param_labels=lambda p: jforeach.labels(p, _label),
    )

    def tree(by_name):
        plain = _tree(by_name)
        return jforeach.pack(plain, group_by=_label) if packed else plain

    @jax.jit
    def step(params, state, step_noise):
        grads = jax.tree.map(lambda p, n: CURVATURE * p + n, params, step_noise)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def run(params, state, noise):
        for step_noise in noise:
            params, state = step(params, state, tree(step_noise))
        return params, state

    template = tx.init(tree(start))
    order = torch_order(IN_GROUP_ORDER, tree(start))

    def continuation(middle, state_dict):
        out = []
        for dtype in (torch.float32, torch.float64):
            opt, tparams = _grouped_torch(middle, dtype)
            opt.load_state_dict(copy.deepcopy(state_dict))
            _torch_steps(opt, tparams, noise[K:])
            out.append(_torch_result(opt, tparams, ["exp_avg", "exp_avg_sq"]))
        return out

    def compare(what, params, state, torch32, torch64, middle):
        _compare(what, params, state, [], torch32, torch64, middle)
        for key in ("exp_avg", "exp_avg_sq"):
            got = _grouped_moments(state, key)
            for n in NAMES:
                _check_against_reference(f"{what}: {key} {n}", got[n], torch32[1][key][n], torch64[1][key][n])

    # torch -> jforeach: torch's AdamW with two groups trains K steps; both continue from its checkpoint
    opt, tparams = _grouped_torch(start)
    _torch_steps(opt, tparams, noise[:K])
    saved = copy.deepcopy(opt.state_dict())
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2, 3, 4, 5]]
    middle = {n: p.detach().numpy().copy() for n, p in zip(NAMES, tparams, strict=True)}
    state = state_from_torch(template, saved, order)
    assert jax.tree.structure(state) == jax.tree.structure(template)
    for key in ("exp_avg", "exp_avg_sq"):  # the hand-over itself is exact
        got = _grouped_moments(state, key)
        for i, n in enumerate(IN_GROUP_ORDER):
            np.testing.assert_array_equal(got[n], saved["state"][i][key].numpy(), err_msg=f"{key} {n}")
    assert {int(c) for c in jax.tree.leaves(state) if c.ndim == 0 and c.dtype == jnp.int32} == {K}
    _assert_same_state_dict(state_to_torch(state, order, param_groups=saved["param_groups"]), saved)
    params, state = run(tree(middle), state, noise[K:])
    compare("multi_transform from torch", params, state, *continuation(middle, saved), middle)

    # jforeach -> torch: jforeach trains K steps; torch loads its state_dict and both continue
    params, state = run(tree(start), template, noise[:K])
    middle = _by_name(params)
    groups = _grouped_torch(start)[0].state_dict()["param_groups"]
    handed = state_to_torch(state, order, param_groups=groups)
    assert handed["param_groups"] == groups and sorted(handed["state"]) == list(range(len(NAMES)))
    for key in ("exp_avg", "exp_avg_sq"):
        got = _grouped_moments(state, key)
        for i, n in enumerate(IN_GROUP_ORDER):
            np.testing.assert_array_equal(handed["state"][i][key].numpy(), got[n], err_msg=f"{key} {n}")
    params, state = run(params, state, noise[K:])
    compare("multi_transform to torch", params, state, *continuation(middle, handed), middle)


def test_multi_transform_labels_of_param_groups_are_checked():
    start, _ = _problem()
    tx = optax.multi_transform(
        {label: jforeach.optim.adamw(**kw) for label, kw in GROUP_KW.items()},
        param_labels=lambda p: jforeach.labels(p, _label),
    )
    template = tx.init(_tree(start))
    opt, tparams = _grouped_torch(start)
    _torch_steps(opt, tparams, _problem()[1][:2])
    saved = opt.state_dict()
    order = torch_order(IN_GROUP_ORDER, _tree(start))
    explicit = state_from_torch(template, saved, order, labels=["decay", "no_decay"])
    inferred = state_from_torch(template, saved, order)
    assert all(jnp.array_equal(a, b) for a, b in zip(jax.tree.leaves(explicit), jax.tree.leaves(inferred), strict=True))
    with pytest.raises(ValueError, match=r"`jforeach.optim.state_from_torch`: the multi_transform label 'decay' holds"):
        state_from_torch(template, saved, order, labels=["no_decay", "decay"])
    with pytest.raises(ValueError, match=r"state_from_torch`: torch.s param_groups\[\d\] .* fits no optax"):
        state_from_torch(template, saved, torch_order(NAMES, _tree(start)))  # the order of named_parameters()
    with pytest.raises(ValueError, match=r"labels must name one of the multi_transform labels"):
        state_to_torch(template, order, param_groups=saved["param_groups"], labels=["decay"])


def test_the_torch_key_table_covers_every_field_and_unknown_states_are_errors():
    # every field of every state the table knows, but the step counter, has one torch key
    for state_type, keys in _state_dict._TORCH_KEYS.items():
        assert set(keys) == set(state_type._fields) - {"count"}, state_type.__name__
    params = {"b": jnp.zeros(2), "w": jnp.ones((2, 2))}
    tx = jforeach.optim.adam(lr=0.1)
    ema = jforeach.optim.swa_utils.averaged_model()
    state = (tx.init(params), ema.init(params))  # an EMA's averaged parameters are no optimizer state
    groups = [{"lr": 0.1, "params": [0, 1]}]
    message = r"AveragedParams holds values per parameter \(params\) but is not an optimizer state with known torch"
    with pytest.raises(ValueError, match=message):
        state_to_torch(state, param_groups=groups, as_tensor=np.asarray)
    with pytest.raises(ValueError, match=message):
        state_from_torch(state, {"state": {}, "param_groups": groups})
    with pytest.raises(ValueError, match=message):  # also with no known optimizer state beside it
        state_to_torch(ema.init(params), param_groups=groups, step=0, as_tensor=np.asarray)
