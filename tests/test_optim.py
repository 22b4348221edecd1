"""Parity of jforeach.optim with torch.optim(..., foreach=True)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jforeach
import jforeach.optim

SHAPES = [(3, 4), (5,), (2, 2, 2)]
STEPS = 32
# Each float32 trajectory is judged by its distance from the same trajectory run by torch in
# float64 (the reference), against torch's own float32 distance from it, tensor by tensor:
#     max|jforeach float32 - torch float64| <= K * max|torch float32 - torch float64| + floor.
# Both float32 runs make the same operations in the same order (torch's _multi_tensor_*), so
# the float64 run sees the same dynamics amplify two sums of roundings of the same size; they
# differ only where XLA fuses a multiply-add into one FMA (one rounding instead of two) and
# where torch's kernels do (its vectorized add with alpha, and whatever the compiler contracted
# in the build for this CPU's capability), which moves individual roundings by half an ulp. The
# worst entry of a tensor is a maximum over a dozen such sums, so the two worst errors differ by
# a factor of order one (measured on an AVX-512 Xeon under XLA's AVX2/SSE4_2 ISAs and ATen's
# default/avx2 capabilities: at most 2.5 for SGD, Adam, RMSprop and Adagrad, 3.5 for one AdamW
# tensor whose torch error is under an ulp, which the floor covers); K = 3 leaves room for that
# and still fails an implementation that is measurably less accurate than torch (one that
# loses a rounding per step, or evaluates a cancelling difference in another order, is off by
# 10x and more). The measured ratios are printed at the end of the module.
K = 3.0
# The floor covers a tensor that torch's run happened to round luckily: FLOOR_ULPS units in the
# last place of the tensor's scale (for a displacement p_T - p_0, of the parameter's).
FLOOR_ULPS = 2.0
EPS = {np.dtype(np.float32): float(np.finfo(np.float32).eps), np.dtype(np.float64): float(np.finfo(np.float64).eps)}
# Loss 0.5 * CURVATURE * |p|^2 plus a fixed noise sequence: the gradient depends on the
# parameters, so a discrepancy feeds back into later steps instead of staying put.
CURVATURE = 0.5

TORCH = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}

CONFIGS = [
    ("sgd", {}),
    ("sgd", {"lr": 0.05, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}),
    ("sgd", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("sgd", {"lr": 0.02, "momentum": 0.5, "maximize": True}),
    ("adam", {}),
    ("adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("adam", {"lr": 0.05, "betas": (0.8, 0.99), "amsgrad": True, "maximize": True}),
    ("adam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True, "eps": 1e-3}),
    ("adamw", {}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.2, "amsgrad": True, "maximize": True}),
    ("rmsprop", {}),
    ("rmsprop", {"lr": 0.01, "alpha": 0.9, "centered": True}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5, "maximize": True, "eps": 1e-4}),
    ("adagrad", {}),
    (
        "adagrad",
        {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.5},
    ),
    ("adagrad", {"lr": 0.1, "maximize": True, "eps": 1e-3}),
]

# torch's state names -> jforeach state fields (optax's names), per optimizer.
STATE_FIELDS = {
    "sgd": {"momentum_buffer": "trace"},
    "adam": {"exp_avg": "mu", "exp_avg_sq": "nu", "max_exp_avg_sq": "nu_max"},
    "adamw": {"exp_avg": "mu", "exp_avg_sq": "nu", "max_exp_avg_sq": "nu_max"},
    "rmsprop": {"square_avg": "nu", "grad_avg": "mu", "momentum_buffer": "trace"},
    "adagrad": {"sum": "sum_of_squares"},
}

# Per optimizer, for the report at the end of the module: the direct jforeach-vs-torch float32
# relative error, both float32 runs' relative errors against torch float64, the worst ratio of
# their absolute errors in one tensor, and the most of the floor any tensor used.
WORST: dict[str, dict[str, float]] = {}


@pytest.fixture(scope="module", autouse=True)
def _report_worst():
    yield
    print("\nworst relative errors, float32 (reference: torch.optim float64, same trajectory):")
    print(f"  {'':8s} {'vs torch f32':>12s} {'jforeach':>10s} {'torch':>10s} {'ratio':>7s} {'floor ulps':>10s}")
    for name, row in sorted(WORST.items()):
        print(
            f"  {name:8s} {row['direct']:12.2e} {row['jforeach']:10.2e} {row['torch']:10.2e} "
            f"{row['ratio']:7.2f} {row['ulps']:10.2f}"
        )


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    noise = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(STEPS)]
    return params, noise


def _run_torch(name, kwargs, params, noise, schedule=None, dtype=torch.float32):
    """torch.optim's trajectory in ``dtype`` from the (float32) start and noise: params, states."""
    tparams = [torch.tensor(p).to(dtype) for p in params]
    opt = TORCH[name](tparams, **kwargs, foreach=True)
    for k, step_noise in enumerate(noise):
        if schedule is not None:
            opt.param_groups[0]["lr"] = float(schedule(k))
        for p, n in zip(tparams, step_noise, strict=True):
            p.grad = CURVATURE * p + torch.tensor(n).to(dtype)
        opt.step()
    states = {
        key: [None if opt.state[p].get(key) is None else opt.state[p][key].numpy() for p in tparams]
        for key in STATE_FIELDS[name]
    }
    return [p.numpy() for p in tparams], states


def _run_torch_pair(name, kwargs, params, noise, schedule=None):
    """torch's float32 trajectory and the float64 reference one."""
    return tuple(_run_torch(name, kwargs, params, noise, schedule, dtype) for dtype in (torch.float32, torch.float64))


def _run_jax(tx, params, noise, *, packed, before_step=None):
    """Runs the steps under jit; ``before_step(k, state)`` may change the state between steps."""
    params = [jnp.asarray(p) for p in params]
    if packed:
        params = jforeach.pack(params)
    state = tx.init(params)

    @jax.jit
    def step(params, state, step_noise):
        grads = jax.tree.map(lambda p, n: CURVATURE * p + n, params, step_noise)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for k, step_noise in enumerate(noise):
        step_noise = [jnp.asarray(n) for n in step_noise]
        if packed:
            step_noise = jforeach.pack(step_noise)
        if before_step is not None:
            before_step(k, state)
        params, state = step(params, state, step_noise)
    return params, state


def _as_list(tree):
    if isinstance(tree, jforeach.Packed):
        tree = tree.unpack()
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def _state_field(state, field):
    for sub in jax.tree.leaves(state, is_leaf=lambda x: hasattr(x, "_fields")):
        if hasattr(sub, "_fields") and field in sub._fields:
            return getattr(sub, field)
    return None


def _denominator(want, start=None):
    """|want| floored at 1% of the tensor's scale (the largest magnitude of ``want`` and ``start``).

    The floor keeps entries that cancelled to near zero, where a last-bit difference earlier in
    the trajectory is a large fraction of the value, from dominating.
    """
    want = np.abs(np.asarray(want, np.float64))
    scale = float(np.max(want, initial=0.0))
    if start is not None:
        scale = max(scale, float(np.max(np.abs(start), initial=0.0)))
    return np.maximum(want, max(1e-2 * scale, 1e-300))


def torch_ulps(ours, ref, *, start=None, stored=None, dtype=np.float32):
    """torch float32's distance from the float64 reference, in ulps of the stored values' scale
    (as :func:`_check_against_reference` measures it)."""
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    ulp = EPS[np.dtype(dtype)] * max(_scale(x) for x in ((ref, start) if stored is None else stored) if x is not None)
    return float(np.max(np.abs(ours - ref), initial=0.0)) / ulp if ulp else 0.0


def _rel_err(got, want, start=None):
    """Largest elementwise relative error, with the denominator of :func:`_denominator`."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want) / _denominator(want, start), initial=0.0))


def _scale(values, start=None):
    scale = float(np.max(np.abs(values), initial=0.0))
    return scale if start is None else max(scale, float(np.max(np.abs(start), initial=0.0)))


def _check_against_reference(
    what, got, ours, ref, *, start=None, stored=None, dtype=None, scale=1.0, stats=None, reference_ulps=0.0
):
    """jforeach's run ``got`` is no further from the reference ``ref`` than torch's run ``ours``, times K.

    ``max|got - ref| <= K * max|ours - ref| + FLOOR_ULPS * ulp`` over the tensor, where ``ulp`` is
    a unit in the last place (of ``dtype``, default ``got``'s) of the scale of the stored values
    ``stored`` (a tuple of arrays; default ``ref`` and ``start``). A trajectory's rounding errors are absolute, of the
    size of the terms that were rounded, also where they cancelled to a small entry; torch's worst
    error in the tensor measures them. ``scale`` converts torch's float32 error into ``dtype``'s
    precision. ``stats`` collects the relative errors (:func:`_rel_err`) for the report.
    ``reference_ulps``: torch's error to allow at least, in ulps (a model's worst, see
    ``tests/test_port_example.py``), where this tensor's own can be luckily small.
    """
    dtype = np.asarray(got).dtype if dtype is None else np.dtype(dtype)
    got, ours, ref = (np.asarray(x, np.float64) for x in (got, ours, ref))
    a_got = float(np.max(np.abs(got - ref), initial=0.0))
    a_ours = float(np.max(np.abs(ours - ref), initial=0.0)) * scale
    ulp = EPS[dtype] * max(_scale(x) for x in ((ref, start) if stored is None else stored) if x is not None)
    a_ours = max(a_ours, reference_ulps * ulp)
    ulps = max(a_got - K * a_ours, 0.0) / ulp if ulp else 0.0
    assert ulps <= FLOOR_ULPS, (
        f"{what}: jforeach is {a_got / ulp:.2f} ulps (of the values' scale) from torch's float64 trajectory, "
        f"torch float32 {a_ours / ulp:.2f}; bound {K} * {a_ours / ulp:.2f} + {FLOOR_ULPS}"
    )
    if stats is not None:
        stats["jforeach"] = max(stats["jforeach"], _rel_err(got, ref, start))
        stats["torch"] = max(stats["torch"], _rel_err(ours, ref, start) * scale)
        stats["ratio"] = max(stats["ratio"], a_got / a_ours if a_ours else 0.0)
        stats["ulps"] = max(stats["ulps"], ulps)


def _compare(name, got_params, got_state, torch32, torch64, p0):
    """jforeach's float32 trajectory (parameters, displacements, state) against torch's float64 one."""
    (t_params, t_states), (r_params, r_states) = torch32, torch64
    stats = {"jforeach": 0.0, "torch": 0.0, "ratio": 0.0, "ulps": 0.0}
    direct = 0.0
    got = _as_list(got_params)
    assert all(g.dtype == np.float32 for g in got), [g.dtype for g in got]
    for i, (g, t, r, p) in enumerate(zip(got, t_params, r_params, p0, strict=True)):
        _check_against_reference(f"{name}: parameter {i}", g, t, r, start=p, stats=stats)
        # The displacement from the start isolates the optimizer's contribution; its values are
        # differences of stored parameters, so the floor is in ulps of the parameters' scale.
        p64 = p.astype(np.float64)
        _check_against_reference(
            f"{name}: displacement {i}", g - p64, t - p64, r - p64, stored=(r, p), dtype=g.dtype, stats=stats
        )
        direct = max(direct, _rel_err(g, t, p))
    for key, field in STATE_FIELDS[name].items():
        got_field = _state_field(got_state, field)
        if t_states[key][0] is None:
            assert got_field is None, key
            continue
        for i, (g, t, r) in enumerate(zip(_as_list(got_field), t_states[key], r_states[key], strict=True)):
            assert g.dtype == np.float32, (key, g.dtype)
            _check_against_reference(f"{name}: {key} {i}", g, t, r, stats=stats)
            direct = max(direct, _rel_err(g, t))
    row = WORST.setdefault(name, dict.fromkeys(("direct", "jforeach", "torch", "ratio", "ulps"), 0.0))
    for key, value in {"direct": direct, **stats}.items():
        row[key] = max(row[key], value)
    return direct, stats


def _ids(configs):
    return [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in configs]


@pytest.mark.parametrize("packed", [False, True], ids=["pytree", "packed"])
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=_ids(CONFIGS))
def test_matches_torch_foreach(name, kwargs, packed):
    p0, noise = _problem()
    torch32, torch64 = _run_torch_pair(name, kwargs, p0, noise)
    tx = getattr(jforeach.optim, name)(**kwargs)
    got_params, got_state = _run_jax(tx, p0, noise, packed=packed)
    assert isinstance(got_params, jforeach.Packed) == packed
    direct, stats = _compare(name, got_params, got_state, torch32, torch64, p0)
    print(
        f"{name} {kwargs} packed={packed}: vs torch float32 {direct:.2e}; vs float64: "
        f"jforeach {stats['jforeach']:.2e}, torch {stats['torch']:.2e}, worst ratio {stats['ratio']:.2f}, "
        f"floor used {stats['ulps']:.2f} ulps"
    )


SCHEDULED = [
    ("sgd", {"momentum": 0.9, "weight_decay": 0.1}),
    ("adam", {"amsgrad": True}),
    ("adamw", {"weight_decay": 0.3}),
    ("rmsprop", {"momentum": 0.5, "centered": True}),
    ("adagrad", {"lr_decay": 0.1}),
]


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULED, ids=_ids(SCHEDULED))
def test_lr_schedule_matches_torch_param_group_lr(name, kwargs):
    schedule = optax.warmup_cosine_decay_schedule(0.0, 0.05, 5, STEPS, end_value=0.005)
    p0, noise = _problem(1)
    torch32, torch64 = _run_torch_pair(name, kwargs, p0, noise, schedule=schedule)
    tx = getattr(jforeach.optim, name)(lr=schedule, **kwargs)
    got_params, got_state = _run_jax(tx, p0, noise, packed=True)
    _compare(name, got_params, got_state, torch32, torch64, p0)


def test_dict_pytree_and_state_structure():
    params = {"w": jnp.ones((2, 3)), "b": {"x": jnp.zeros(3)}}
    tx = jforeach.optim.adam(lr=0.1, amsgrad=True)
    state = tx.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    updates, state = jax.jit(tx.update)(grads, state, params)
    assert jax.tree.structure(updates) == jax.tree.structure(params)
    new = optax.apply_updates(params, updates)
    np.testing.assert_allclose(new["w"], 0.9 * np.ones((2, 3)), rtol=1e-6)
    adam_state = _state_field(state, "mu")
    assert jax.tree.structure(adam_state) == jax.tree.structure(params)


def test_packed_state_is_packed():
    params = jforeach.pack([jnp.ones(3), jnp.ones((2, 2))])
    tx = jforeach.optim.adamw(amsgrad=True)
    state = tx.init(params)
    for field in ("mu", "nu", "nu_max"):
        assert isinstance(_state_field(state, field), jforeach.Packed)


def test_weight_decay_needs_params():
    tx = jforeach.optim.sgd(lr=0.1, weight_decay=0.1)
    params = [jnp.ones(2)]
    with pytest.raises(ValueError, match="params"):
        tx.update(params, tx.init(params))


INVALID = [
    ("sgd", {"lr": -0.1}, "Invalid learning rate"),
    ("sgd", {"momentum": -0.5}, "Invalid momentum value"),
    ("sgd", {"weight_decay": -1.0}, "Invalid weight_decay value"),
    ("sgd", {"nesterov": True}, "Nesterov momentum requires"),
    ("sgd", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "Nesterov momentum requires"),
    ("adam", {"lr": -1e-3}, "Invalid learning rate"),
    ("adam", {"lr": float("nan")}, "Invalid learning rate"),
    ("adam", {"eps": -1e-8}, "Invalid epsilon value"),
    ("adam", {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0"),
    ("adam", {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1"),
    ("adam", {"weight_decay": -0.1}, "Invalid weight_decay value"),
    ("adamw", {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1"),
    ("adamw", {"weight_decay": -0.1}, "Invalid weight_decay value"),
    ("rmsprop", {"lr": -0.1}, "Invalid learning rate"),
    ("rmsprop", {"alpha": -0.1}, "Invalid alpha value"),
    ("rmsprop", {"momentum": -0.1}, "Invalid momentum value"),
    ("rmsprop", {"eps": -1.0}, "Invalid epsilon value"),
    ("adagrad", {"lr_decay": -0.1}, "Invalid lr_decay value"),
    ("adagrad", {"initial_accumulator_value": -0.1}, "Invalid initial_accumulator_value"),
    ("adagrad", {"weight_decay": -0.1}, "Invalid weight_decay value"),
    ("adagrad", {"eps": -0.1}, "Invalid epsilon value"),
]


@pytest.mark.parametrize(("name", "kwargs", "message"), INVALID, ids=_ids([i[:2] for i in INVALID]))
def test_invalid_hyperparameters_raise_like_torch(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        TORCH[name]([torch.zeros(1)], **kwargs)
    with pytest.raises(ValueError, match=f"`jforeach.optim.{name}`: {message}"):
        getattr(jforeach.optim, name)(**kwargs)


def test_boundary_hyperparameters_accepted_like_torch():
    # torch accepts zero lr/eps/betas and SGD's nan lr; so does jforeach.
    for name, kwargs in [
        ("adam", {"lr": 0.0, "eps": 0.0, "betas": (0.0, 0.0)}),
        ("sgd", {"lr": float("nan")}),
        ("rmsprop", {"alpha": 0.0}),
    ]:
        TORCH[name]([torch.zeros(1)], **kwargs)
        getattr(jforeach.optim, name)(**kwargs)


FLOAT64_CONFIGS = [
    ("adam", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    ("adamw", {"lr": 0.05, "betas": (0.8, 0.99)}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
]


@pytest.mark.parametrize("packed", [False, True], ids=["pytree", "packed"])
@pytest.mark.parametrize(("name", "kwargs"), FLOAT64_CONFIGS, ids=_ids(FLOAT64_CONFIGS))
def test_float64_params_get_float64_accuracy(name, kwargs, packed):
    # the step's scalars (Adam's bias corrections) must be computed in float64 too
    assert jax.config.jax_enable_x64
    p0, noise = _problem(2)
    (t_params, _), (r_params, _) = _run_torch_pair(name, kwargs, p0, noise)
    p0 = [p.astype(np.float64) for p in p0]
    noise = [[n.astype(np.float64) for n in step] for step in noise]
    got_params, _ = _run_jax(getattr(jforeach.optim, name)(**kwargs), p0, noise, packed=packed)
    # torch's float32 distance from its float64 run measures how much this trajectory amplifies
    # roundings; float64 roundings are EPS64/EPS32 times smaller, and two float64 runs (jforeach's,
    # torch's) differ by at most the sum of their errors, which K covers.
    scale = EPS[np.dtype(np.float64)] / EPS[np.dtype(np.float32)]
    for i, (g, t, r, p) in enumerate(zip(_as_list(got_params), t_params, r_params, p0, strict=True)):
        assert g.dtype == np.float64
        _check_against_reference(f"{name}: float64 parameter {i}", g, t, r, start=p, scale=scale)
        _check_against_reference(f"{name}: float64 displacement {i}", g - p, t - p, r - p, stored=(r, p), scale=scale)


INJECTED = [
    ("sgd", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1}),
    ("sgd", {"lr": 0.05}),
    ("adam", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.2}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1}),
]


@pytest.mark.parametrize(("name", "kwargs"), INJECTED, ids=_ids(INJECTED))
def test_inject_hyperparams_under_jit_matches_torch_param_group_changes(name, kwargs):
    # optax.inject_hyperparams passes every numeric hyperparameter as an array, traced in a
    # jitted update; changing state.hyperparams["lr"] is torch's param_group["lr"] = ...
    lr = kwargs["lr"]

    def schedule(k):
        return lr if k < STEPS // 2 else lr / 4

    p0, noise = _problem(3)
    (t_params, _), (r_params, _) = _run_torch_pair(name, kwargs, p0, noise, schedule=schedule)
    tx = optax.inject_hyperparams(getattr(jforeach.optim, name))(**kwargs)

    def set_lr(k, state):
        state.hyperparams["lr"] = jnp.asarray(schedule(k), jnp.float32)

    params, _ = _run_jax(tx, p0, noise, packed=False, before_step=set_lr)
    for i, (g, t, r, p) in enumerate(zip(_as_list(params), t_params, r_params, p0, strict=True)):
        _check_against_reference(f"{name}: parameter {i}", g, t, r, start=p)
        p64 = p.astype(np.float64)
        _check_against_reference(f"{name}: displacement {i}", g - p64, t - p64, r - p64, stored=(r, p), dtype=g.dtype)


def test_betas_may_be_any_pair_of_numbers():
    params, grads = [jnp.array([1.0, -2.0])], [jnp.array([0.5, 0.25])]
    results = []
    for betas in ((0.8, 0.99), [0.8, 0.99], np.array([0.8, 0.99]), jnp.array([0.8, 0.99], jnp.float64)):
        tx = jforeach.optim.adam(lr=0.1, betas=betas)
        state = tx.init(params)
        for _ in range(3):
            updates, state = tx.update(grads, state, params)
        results.append(np.asarray(updates[0]))
    np.testing.assert_array_equal(results[1], results[0])
    np.testing.assert_array_equal(results[2], results[0])
    np.testing.assert_array_equal(results[3], results[0])
    assert not np.array_equal(results[0], np.asarray(jforeach.optim.adam(lr=0.1).update(grads, state, params)[0][0]))
    for bad in ((0.9,), (0.9, 0.99, 0.5), np.zeros((2, 1)), 0.9):
        with pytest.raises(ValueError, match="betas must be a pair"):
            jforeach.optim.adam(betas=bad)


@pytest.mark.parametrize("name", sorted(TORCH))
def test_array_lr_must_hold_one_element(name):
    params, grads = [jnp.array(1.0), jnp.ones(2)], [jnp.array(0.5), jnp.full(2, 0.5)]
    tx = getattr(jforeach.optim, name)(lr=jnp.array([0.1]))  # 1-element: as torch's Tensor lr
    updates, _ = tx.update(grads, tx.init(params), params)
    plain = getattr(jforeach.optim, name)(lr=0.1)
    want, _ = plain.update(grads, plain.init(params), params)
    for u, w in zip(updates, want, strict=True):
        assert u.shape == w.shape  # a 0-d parameter stays 0-d
        np.testing.assert_array_equal(np.asarray(u), np.asarray(w))
    with pytest.raises(ValueError, match="must hold one element"):
        getattr(jforeach.optim, name)(lr=np.array([0.1, 0.2]))


def test_0d_low_precision_params_keep_their_dtype_in_the_state():
    # torch's scalars are Python floats: a 0-d bfloat16 parameter keeps a bfloat16 momentum buffer
    # (a scan carry must not change dtype), and a float32 one in a float64 tree stays float32
    params = {"t": jnp.array(0.5, jnp.bfloat16), "w": jnp.ones(3, jnp.bfloat16)}
    tx = jforeach.optim.sgd(lr=0.1, momentum=0.9)
    state = tx.init(params)
    for _ in range(3):
        updates, state = jax.jit(tx.update)(params, state, params)
        params = optax.apply_updates(params, updates)
    buffer = _state_field(state, "trace")
    assert jax.tree.map(lambda b: b.dtype, buffer) == {"t": jnp.bfloat16, "w": jnp.bfloat16}
    assert params["t"].dtype == jnp.bfloat16
    mixed = {"a": jnp.ones(3, jnp.float64), "b": jnp.array(1.0, jnp.float32)}
    adam = jforeach.optim.adam(1e-3)
    updates, _ = adam.update(mixed, adam.init(mixed), mixed)
    assert updates["a"].dtype == jnp.float64 and updates["b"].dtype == jnp.float32


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_one_cycle_lr_cycling_betas0_matches_torch(name):
    # torch's OneCycleLR(cycle_momentum=True) on Adam/AdamW sets betas[0] every step: jforeach takes
    # the scheduler's momentum schedule as betas[0]
    from jforeach.optim import lr_scheduler

    kwargs = {"max_lr": 0.05, "total_steps": STEPS + 1, "pct_start": 0.3}
    p0, noise = _problem(4)
    runs = []
    for dtype in (torch.float32, torch.float64):
        tparams = [torch.tensor(p).to(dtype) for p in p0]
        opt = TORCH[name](tparams, lr=0.05, weight_decay=0.1, foreach=True)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, **kwargs)
        for step_noise in noise:
            for p, n in zip(tparams, step_noise, strict=True):
                p.grad = CURVATURE * p + torch.tensor(n).to(dtype)
            opt.step()
            sched.step()
        runs.append([p.numpy() for p in tparams])
    one_cycle = lr_scheduler.OneCycleLR(0.05, **kwargs)
    tx = getattr(jforeach.optim, name)(lr=one_cycle, betas=(one_cycle.momentum, 0.999), weight_decay=0.1)
    got, _ = _run_jax(tx, p0, noise, packed=True)
    for i, (g, t, r, p) in enumerate(zip(_as_list(got), *runs, p0, strict=True)):
        _check_against_reference(f"{name} one-cycle: parameter {i}", g, t, r, start=p)
    # the scheduled beta1 is really used: a constant one lands elsewhere
    fixed, _ = _run_jax(getattr(jforeach.optim, name)(lr=one_cycle, weight_decay=0.1), p0, noise, packed=True)
    assert not np.allclose(_as_list(fixed)[0], _as_list(got)[0], rtol=1e-4)
