"""jforeach.transforms inside optax chains, checked against numpy and torch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from test_optim import _check_against_reference

import jforeach
import jforeach.transforms as jt

SHAPES = [(3, 4), (5,), (2, 2, 2)]


def _grads(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(scale * rng.standard_normal(s)).astype(np.float32) for s in SHAPES]


def _tree(arrays, packed):
    tree = [jnp.asarray(a) for a in arrays]
    return jforeach.pack(tree) if packed else tree


def _leaves(tree):
    if isinstance(tree, jforeach.Packed):
        tree = tree.unpack()
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def _apply_chain(tx, grads, packed, params=None):
    updates = _tree(grads, packed)
    params = updates if params is None else _tree(params, packed)
    state = tx.init(params)
    out, _ = jax.jit(tx.update)(updates, state, params)
    assert isinstance(out, jforeach.Packed) == packed
    return _leaves(out)


PACKED = pytest.mark.parametrize("packed", [False, True], ids=["pytree", "packed"])


@PACKED
def test_log1p_in_chain(packed):
    grads = [np.abs(g) for g in _grads()]
    out = _apply_chain(optax.chain(jt.log1p(), optax.scale(-0.5)), grads, packed)
    for o, g in zip(out, grads, strict=True):
        np.testing.assert_allclose(o, -0.5 * np.log1p(g), rtol=1e-6)


def test_log1p_below_minus_one_is_nan():
    tx = jt.log1p()
    out, _ = tx.update([jnp.array([-2.0, -1.0, -0.5])], tx.init(None))
    assert np.isnan(out[0][0])
    assert np.isneginf(out[0][1])
    np.testing.assert_allclose(out[0][2], np.log1p(np.float32(-0.5)), rtol=1e-6)


@PACKED
def test_symlog_in_chain(packed):
    grads = _grads(scale=10.0)
    out = _apply_chain(optax.chain(jt.symlog(), optax.scale(-0.1)), grads, packed)
    for o, g in zip(out, grads, strict=True):
        np.testing.assert_allclose(o, -0.1 * np.sign(g) * np.log1p(np.abs(g)), rtol=1e-6)


def test_symlog_is_odd_and_finite():
    x = jnp.array([-1e30, -3.0, 0.0, 3.0, 1e30], jnp.float32)
    tx = jt.symlog()
    out = np.asarray(tx.update([x], tx.init(None))[0][0])
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out, -out[::-1])


def _torch_clip(grads, max_norm, norm_type):
    params = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.tensor(g)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type, foreach=True)
    return [p.grad.numpy() for p in params], float(total)


@PACKED
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_by_norm_matches_torch(max_norm, norm_type, packed):
    grads = _grads(1)
    want, _ = _torch_clip(grads, max_norm, norm_type)
    out = _apply_chain(jt.clip_by_norm(max_norm, norm_type), grads, packed)
    for o, w in zip(out, want, strict=True):
        np.testing.assert_allclose(o, w, rtol=1e-6, atol=1e-7)


@PACKED
@pytest.mark.parametrize("norm_type", [2.0, 3.0])
def test_clip_by_norm_of_float16_updates_computes_the_total_in_float32(norm_type, packed):
    # the squares of these float16 norms overflow float16; torch's vector_norm computes in float32
    grads = [np.array([300.0, -300.0], np.float16), np.array([30.0, -40.0, 50.0], np.float16)]
    params = [torch.zeros(g.shape, dtype=torch.float16, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_norm_(params, 1.0, norm_type, foreach=True)
    updates = [jnp.asarray(g) for g in grads]
    tx = jt.clip_by_norm(1.0, norm_type)
    out, _ = tx.update(jforeach.pack(updates) if packed else updates, tx.init(None))
    for o, p in zip(_leaves(out), params, strict=True):
        assert o.dtype == np.float16
        np.testing.assert_allclose(o.astype(np.float32), p.grad.numpy().astype(np.float32), rtol=2e-3)


def _torch_clip_then_sgd(params, grads, dtype):
    tparams = [torch.tensor(p).to(dtype).requires_grad_() for p in params]
    opt = torch.optim.SGD(tparams, lr=0.1, momentum=0.9, foreach=True)
    for g in grads:
        for p, x in zip(tparams, g, strict=True):
            p.grad = torch.tensor(x).to(dtype)
        torch.nn.utils.clip_grad_norm_(tparams, 1.0, foreach=True)
        opt.step()
    return [p.detach().numpy() for p in tparams]


@PACKED
def test_clip_by_norm_then_sgd_in_chain(packed):
    # judged as test_optim's trajectories: no further from torch's float64 run than torch float32 is
    grads, params = _grads(2), _grads(3)
    steps = [[x * (k + 1) for x in grads] for k in range(3)]
    tx = optax.chain(jt.clip_by_norm(1.0), jforeach.optim.sgd(lr=0.1, momentum=0.9))
    state = tx.init(_tree(params, packed))
    jparams = _tree(params, packed)
    step = jax.jit(lambda p, s, g: tx.update(g, s, p))
    for g in steps:
        updates, state = step(jparams, state, _tree(g, packed))
        jparams = optax.apply_updates(jparams, updates)
    torch32 = _torch_clip_then_sgd(params, steps, torch.float32)
    torch64 = _torch_clip_then_sgd(params, steps, torch.float64)
    for i, (o, t, r, p) in enumerate(zip(_leaves(jparams), torch32, torch64, params, strict=True)):
        assert o.dtype == np.float32
        _check_against_reference(f"clip_by_norm + sgd: parameter {i}", o, t, r, start=p)
        p64 = p.astype(np.float64)
        _check_against_reference(
            f"clip_by_norm + sgd: displacement {i}", o - p64, t - p64, r - p64, stored=(r, p), dtype=o.dtype
        )


def test_clip_by_norm_error_if_nonfinite():
    bad = [jnp.array([1.0, jnp.inf]), jnp.ones(2)]
    tx = jt.clip_by_norm(1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="non-finite"):
        tx.update(bad, tx.init(None))
    # Under jit the check runs on the host as a callback and fails the call.
    with pytest.raises(Exception, match="non-finite"):
        jax.block_until_ready(jax.jit(tx.update)(bad, tx.init(None)))
    # Finite inputs pass under jit, and without the flag non-finite ones scale through.
    jax.block_until_ready(jax.jit(tx.update)([jnp.ones(2)], tx.init(None)))
    out, _ = jt.clip_by_norm(1.0).update(bad, optax.EmptyState())
    assert np.isnan(np.asarray(out[1])).all() or np.all(np.asarray(out[1]) == 0)


def test_clip_by_norm_rejects_non_numbers():
    with pytest.raises(ValueError, match="max_norm and norm_type must be real numbers"):
        jt.clip_by_norm("big")


@PACKED
def test_weight_decay_transforms(packed):
    grads, params = _grads(4), _grads(5)
    coupled = _apply_chain(jt.add_decayed_weights(0.1), grads, packed, params)
    for o, g, p in zip(coupled, grads, params, strict=True):
        np.testing.assert_allclose(o, g + np.float32(0.1) * p, rtol=1e-6)
    decoupled = _apply_chain(jt.add_decoupled_weight_decay(0.1, 0.5), grads, packed, params)
    for o, g, p in zip(decoupled, grads, params, strict=True):
        np.testing.assert_allclose(p + o, p * np.float32(0.95) + g, rtol=1e-6, atol=1e-7)


def test_weight_decay_requires_params():
    for tx in (jt.add_decayed_weights(0.1), jt.add_decoupled_weight_decay(0.1, 1e-3)):
        with pytest.raises(ValueError, match="params"):
            tx.update([jnp.ones(2)], tx.init([jnp.ones(2)]))


def test_scale_by_learning_rate_schedule_counts_steps():
    schedule = optax.linear_schedule(1.0, 0.0, 4)
    tx = jt.scale_by_learning_rate(schedule)
    state = tx.init(None)
    step = jax.jit(tx.update)
    got = []
    for _ in range(5):
        u, state = step([jnp.ones(())], state)
        got.append(float(u[0]))
    np.testing.assert_allclose(got, [-1.0, -0.75, -0.5, -0.25, 0.0])


def test_trace_first_step_is_clone_like_torch():
    grads = [_grads(6), _grads(7), _grads(8)]
    tp = {
        dtype: [torch.zeros(s, dtype=dtype, requires_grad=True) for s in SHAPES]
        for dtype in (torch.float32, torch.float64)
    }
    opts = [torch.optim.SGD(ps, lr=1.0, momentum=0.9, dampening=0.5, foreach=True) for ps in tp.values()]
    tx = optax.chain(jt.trace(0.9, dampening=0.5), jt.scale_by_learning_rate(1.0))
    params = [jnp.zeros(s) for s in SHAPES]
    state = tx.init(params)
    for k, g in enumerate(grads):
        for (dtype, ps), opt in zip(tp.items(), opts, strict=True):
            for p, x in zip(ps, g, strict=True):
                p.grad = torch.tensor(x).to(dtype)
            opt.step()
        updates, state = tx.update([jnp.asarray(x) for x in g], state, params)
        params = optax.apply_updates(params, updates)
        if k == 0:  # the buffer is the gradient itself (not dampened): params are -g, bit for bit
            for o, w in zip(params, tp[torch.float32], strict=True):
                np.testing.assert_array_equal(np.asarray(o), w.detach().numpy())
    # then judged as test_optim's trajectories, against torch's float64 run
    for i, (o, t, r) in enumerate(zip(params, tp[torch.float32], tp[torch.float64], strict=True)):
        _check_against_reference(f"trace: parameter {i}", np.asarray(o), t.detach().numpy(), r.detach().numpy())


@PACKED
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_by_norm_state_holds_torchs_total_norm(norm_type, packed):
    # the number torch.nn.utils.clip_grad_norm_ returns, from the state of a chain, under jit
    grads = _grads(2, scale=3.0)
    _, want_total = _torch_clip(grads, 1.0, norm_type)
    tx = optax.chain(jt.clip_by_norm(1.0, norm_type), jforeach.optim.sgd(lr=0.1))
    params = _tree(grads, packed)
    state = tx.init(params)
    for _ in range(2):  # a scan-like loop: the state keeps its dtype from init on
        _, state = jax.jit(tx.update)(_tree(grads, packed), state, params)
    total = optax.tree_utils.tree_get(state, "total_norm")
    assert total.dtype == jnp.float32
    np.testing.assert_allclose(float(total), float(want_total), rtol=2e-7)


# Each public stateful transform under its optax name, chained with the learning rate, against the
# torch optimizer that has its arithmetic; the state fields (optax's names) hold torch's state keys.
# (jforeach.optim rounds the lr into the step as torch does; a separate scale_by_learning_rate does
# not, which the float64-reference bound absorbs.)
OPTAX_NAMED = [
    ("scale_by_adam", lambda: jt.scale_by_adam(0.8, 0.9, 1e-6), "Adam", {"betas": (0.8, 0.9), "eps": 1e-6},
     {"mu": "exp_avg", "nu": "exp_avg_sq"}),
    ("scale_by_amsgrad", lambda: jt.scale_by_amsgrad(0.8, 0.9, 1e-6), "Adam",
     {"betas": (0.8, 0.9), "eps": 1e-6, "amsgrad": True},
     {"mu": "exp_avg", "nu": "exp_avg_sq", "nu_max": "max_exp_avg_sq"}),
    ("trace", lambda: jt.trace(0.9, True), "SGD", {"momentum": 0.9, "nesterov": True}, {"trace": "momentum_buffer"}),
    ("scale_by_rms", lambda: jt.scale_by_rms(0.9, 1e-6), "RMSprop", {"alpha": 0.9, "eps": 1e-6}, {"nu": "square_avg"}),
    ("scale_by_stddev", lambda: jt.scale_by_stddev(0.9, 1e-6), "RMSprop",
     {"alpha": 0.9, "eps": 1e-6, "centered": True}, {"nu": "square_avg", "mu": "grad_avg"}),
    ("scale_by_rss", lambda: jt.scale_by_rss(0.1, 1e-8), "Adagrad",
     {"initial_accumulator_value": 0.1, "eps": 1e-8}, {"sum_of_squares": "sum"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "make", "torch_name", "kwargs", "fields"), OPTAX_NAMED, ids=[c[0] for c in OPTAX_NAMED]
)
def test_optax_named_transforms_follow_torch(name, make, torch_name, kwargs, fields):
    lr, steps = 0.05, 4
    start = _grads(9)
    noise = [_grads(10 + k) for k in range(steps)]
    runs = {}
    for dtype in (torch.float32, torch.float64):
        tparams = [torch.tensor(p).to(dtype) for p in start]
        opt = getattr(torch.optim, torch_name)(tparams, lr=lr, **kwargs, foreach=True)
        for g in noise:
            for p, x in zip(tparams, g, strict=True):
                p.grad = p + torch.tensor(x).to(dtype)
            opt.step()
        runs[dtype] = (
            [p.numpy() for p in tparams],
            {k: [opt.state[p][k].numpy() for p in tparams] for k in fields.values()},
        )
    tx = optax.chain(make(), jt.scale_by_learning_rate(lr))
    params = [jnp.asarray(p) for p in start]
    state = tx.init(params)
    step = jax.jit(tx.update)
    for g in noise:
        updates, state = step(jax.tree.map(lambda p, x: p + x, params, [jnp.asarray(x) for x in g]), state, params)
        params = optax.apply_updates(params, updates)
    inner = state[0]
    assert type(inner).__name__ in jt.__all__ and set(fields) <= set(inner._fields), type(inner)
    (t32, s32), (t64, s64) = runs[torch.float32], runs[torch.float64]
    for i, (o, t, r) in enumerate(zip(params, t32, t64, strict=True)):
        _check_against_reference(f"{name}: parameter {i}", np.asarray(o), t, r, start=start[i])
    for field, key in fields.items():
        for i, (o, t, r) in enumerate(zip(getattr(inner, field), s32[key], s64[key], strict=True)):
            _check_against_reference(f"{name}: {field} ({key}) {i}", np.asarray(o), t, r)


def test_add_decayed_weights_mask_and_learning_rate_sign():
    params = {"b": jnp.array([2.0], jnp.float32), "w": jnp.array([4.0], jnp.float32)}
    grads = {"b": jnp.array([1.0], jnp.float32), "w": jnp.array([1.0], jnp.float32)}
    for mask in ({"b": False, "w": True}, lambda p: {"b": False, "w": True}):
        tx = jt.add_decayed_weights(0.5, mask)
        out, _ = tx.update(grads, tx.init(params), params)
        assert float(out["b"][0]) == 1.0 and float(out["w"][0]) == 3.0  # 1 + 0.5 * 4 on w only
    tx = jt.scale_by_learning_rate(0.25, flip_sign=False)
    assert float(tx.update(grads, tx.init(params))[0]["w"][0]) == 0.25


def test_torch_argument_forms_are_errors_naming_optax_order():
    # trace's second positional argument is optax's nesterov; torch's dampening is keyword-only
    with pytest.raises(TypeError, match=r"`jforeach\.transforms\.trace`: nesterov must be a bool, got 0\.5"):
        jt.trace(0.9, 0.5)
    for make in (jt.scale_by_adam, jt.scale_by_amsgrad):
        with pytest.raises(TypeError, match=r"b1 is one decay rate, got \(0\.9, 0\.999\)"):
            make((0.9, 0.999))
    assert jt.trace(0.9, np.bool_(True)) is not None  # a numpy bool is a bool
