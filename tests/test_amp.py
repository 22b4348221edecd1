"""jforeach.amp against torch 2.13's AMP ops and torch.amp.GradScaler (CPU)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from _torch_ref import DTYPES, to_numpy, to_torch

import jforeach
from jforeach import amp

F32 = jnp.float32
SHAPES = [(3, 4), (), (0,), (5,), (2, 1, 3)]


def _f32(x):
    return jnp.asarray(x, F32)


def _as_float64(x):
    return np.asarray(x).astype(np.float64)


def _grads_np(rng, dtypes, bad=None):
    """Gradients of mixed shapes and dtypes; ``bad = (tensor, value)`` puts an inf/NaN in one."""
    arrays = []
    for i, shape in enumerate(SHAPES):
        dtype = DTYPES[dtypes[i % len(dtypes)]][0]
        a = (rng.standard_normal(shape) * 3000.0).astype(np.float32)
        if bad is not None and bad[0] == i:
            a.reshape(-1)[0] = bad[1]
        arrays.append(np.asarray(jnp.asarray(a, dtype)))
    return arrays


def _container(arrays, kind):
    tree = [jnp.asarray(a) for a in arrays]
    if kind == "dict":
        return {f"g{i}": a for i, a in enumerate(tree)}
    if kind == "packed":
        return jforeach.pack(tree)
    return tree


def _unpacked(tree):
    if isinstance(tree, jforeach.Packed):
        tree = tree.unpack()
    if isinstance(tree, dict):
        return [tree[f"g{i}"] for i in range(len(tree))]
    return list(tree)


# ---------------------------------------------------------------------------------------
# non_finite_check_and_unscale_


@pytest.mark.parametrize("kind", ["list", "dict", "packed"])
@pytest.mark.parametrize(
    "dtypes", [["float16"], ["bfloat16"], ["float32"], ["float64"], ["float16", "float32", "bfloat16", "float64"]]
)
def test_non_finite_check_and_unscale_matches_torch_bitwise(dtypes, kind):
    rng = np.random.default_rng(len(dtypes) + len(kind))
    inv_scales = [1 / 3, 2.0**-16, 1 / 65537, 1.0, 7.5]
    cases = [(0.0, None), (2.0, None), (0.0, (0, np.inf)), (2.0, (3, np.nan)), (0.0, (4, -np.inf))]
    rotated = cases[len(dtypes) % 5 :] + cases[: len(dtypes) % 5]
    for inv_scale, (found0, bad) in zip(np.float32(inv_scales), rotated, strict=True):
        arrays = _grads_np(rng, dtypes, bad)
        want = [to_torch(a) for a in arrays]
        found_t = torch.full((), found0)
        torch._amp_foreach_non_finite_check_and_unscale_(want, found_t, torch.tensor(inv_scale))
        grads = _container(arrays, kind)
        found = amp.non_finite_check_and_unscale_(grads, _f32(found0), jnp.asarray(inv_scale))
        assert found.dtype == F32 and found.shape == ()
        np.testing.assert_array_equal(np.asarray(found), found_t.numpy())
        for g, w in zip(_unpacked(grads), want, strict=True):
            assert g.dtype == DTYPES[str(w.dtype).removeprefix("torch.")][0]
            np.testing.assert_array_equal(_as_float64(g), to_numpy(w).astype(np.float64))


def test_non_finite_check_and_unscale_donates_and_updates_the_callers_list():
    grads = [jnp.ones((64,), F32) * 4, jnp.full((3, 3), 8.0, jnp.float16)]
    old = list(grads)
    pointers = [g.unsafe_buffer_pointer() for g in grads]
    found = amp.non_finite_check_and_unscale_(grads, _f32(0.0), _f32(0.25))
    assert float(found) == 0.0
    assert all(o.is_deleted() for o in old)
    assert [g.unsafe_buffer_pointer() for g in grads] == pointers
    np.testing.assert_array_equal(grads[0], np.ones(64, np.float32))
    np.testing.assert_array_equal(grads[1], np.full((3, 3), 2.0, np.float16))


def test_non_finite_check_and_unscale_on_a_packed_updates_it_in_place():
    p = jforeach.pack({"a": jnp.array([2.0, jnp.nan], jnp.bfloat16), "b": jnp.ones(3, F32)})
    old = p.buffers
    found = amp.non_finite_check_and_unscale_(p, _f32(0.0), _f32(0.5))
    assert float(found) == 1.0
    assert all(b.is_deleted() for b in old)
    out = p.unpack()
    np.testing.assert_array_equal(_as_float64(out["a"]), [1.0, np.nan])
    np.testing.assert_array_equal(out["b"], [0.5, 0.5, 0.5])


def test_non_finite_check_and_unscale_under_jit():
    arrays = _grads_np(np.random.default_rng(3), ["float16", "float32"], bad=(1, np.inf))
    want = [to_torch(a) for a in arrays]
    found_t = torch.zeros(())
    torch._amp_foreach_non_finite_check_and_unscale_(want, found_t, torch.tensor(np.float32(1 / 3)))

    @jax.jit
    def unscale(grads, found_inf, inv_scale):
        found_inf = amp.non_finite_check_and_unscale_(grads, found_inf, inv_scale)
        return grads, found_inf  # the list holds the traced results

    grads, found = unscale([jnp.asarray(a) for a in arrays], _f32(0.0), _f32(1 / 3))
    assert float(found) == float(found_t)
    for g, w in zip(grads, want, strict=True):
        np.testing.assert_array_equal(_as_float64(g), to_numpy(w).astype(np.float64))


def test_non_finite_check_and_unscale_of_nothing_keeps_found_inf():
    assert float(amp.non_finite_check_and_unscale_([], _f32(2.0), _f32(0.5))) == 2.0


@pytest.mark.parametrize(
    ("grads", "found_inf", "inv_scale", "error", "match"),
    [
        ((jnp.ones(2, F32),), _f32(0), _f32(1), TypeError, "grads is a tuple, which cannot be updated in place"),
        (jnp.ones(2, F32), _f32(0), _f32(1), TypeError, "grads is a single array"),
        ([jnp.ones(2, jnp.int32)], _f32(0), _f32(1), TypeError, r"grads\[0\] has dtype int32"),
        ([jnp.ones(2, F32)], _f32(0), jnp.ones((), jnp.float64), TypeError, "inv_scale must be a float32 array"),
        ([jnp.ones(2, F32)], jnp.zeros(2, F32), _f32(1), ValueError, r"found_inf must have one element"),
        ([jnp.ones(2, F32)], 0.0, _f32(1), TypeError, "found_inf must be a one-element float32 array"),
    ],
)
def test_non_finite_check_and_unscale_rejects_bad_input_before_donating(grads, found_inf, inv_scale, error, match):
    leaves = jax.tree.leaves(grads)
    with pytest.raises(error, match=r"`jforeach\.amp\.non_finite_check_and_unscale_`: " + match):
        amp.non_finite_check_and_unscale_(grads, found_inf, inv_scale)
    assert not any(leaf.is_deleted() for leaf in leaves)


def test_non_finite_check_and_unscale_rejects_one_array_twice():
    a = jnp.ones(2, F32)
    with pytest.raises(ValueError, match="the same array is gradient 0 and gradient 1"):
        amp.non_finite_check_and_unscale_([a, a], _f32(0), _f32(1))
    assert not a.is_deleted()


# ---------------------------------------------------------------------------------------
# update_scale_

SCALE_CONFIGS = [  # growth, backoff, interval: float32 factors, and factors only float64 holds
    (2.0, 0.5, 1),
    (2.0, 0.5, 3),
    (1.5, 0.25, 2),
    (1.1, 0.9, 2),
    (3.7, 0.123, 4),
    (1.0000001, 1 / 3, 1),
]


@pytest.mark.parametrize("x64", [True, False], ids=["x64", "32-bit"])
def test_update_scale_matches_torch_over_random_sequences(x64):
    rng = np.random.default_rng(7)
    with jax.enable_x64(x64):
        for growth, backoff, interval in SCALE_CONFIGS:
            for _ in range(3):
                init = np.float32(np.exp(rng.uniform(-10, 30)))
                scale_t, tracker_t = torch.tensor(init), torch.zeros((), dtype=torch.int32)
                scale, tracker = jnp.asarray(init), jnp.zeros((), jnp.int32)
                for step in range(30):
                    found = float(rng.choice([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, np.nan]))
                    torch._amp_update_scale_(scale_t, tracker_t, torch.tensor(found), growth, backoff, interval)
                    found_j = jnp.asarray(found, F32)
                    scale, tracker = amp.update_scale_(scale, tracker, found_j, growth, backoff, interval)
                    assert scale.dtype == F32 and tracker.dtype == jnp.int32
                    assert np.asarray(scale).tobytes() == scale_t.numpy().tobytes(), (growth, backoff, step)
                    assert int(tracker) == int(tracker_t)


@pytest.mark.parametrize("x64", [True, False], ids=["x64", "32-bit"])
@pytest.mark.parametrize("growth", [2.0, 1.1])
def test_update_scale_does_not_grow_past_float32(x64, growth):
    with jax.enable_x64(x64):
        scale_t, tracker_t = torch.tensor(np.float32(1e38)), torch.zeros((), dtype=torch.int32)
        scale, tracker = _f32(1e38), jnp.zeros((), jnp.int32)
        for _ in range(30):
            torch._amp_update_scale_(scale_t, tracker_t, torch.zeros(()), growth, 0.5, 1)
            scale, tracker = amp.update_scale_(scale, tracker, _f32(0.0), growth, 0.5, 1)
            assert np.asarray(scale).tobytes() == scale_t.numpy().tobytes()
        assert np.isfinite(float(scale)) and float(scale) * growth > float(np.finfo(np.float32).max)


def test_times_double_emulation_in_32_bit_mode_matches_float64_rounding():
    # the int32 emulation of torch's float * double product and its two roundings, over many scales
    # (decimal factors such as 1.1 put many products within 2**-53 of a float32 rounding tie)
    rng = np.random.default_rng(11)
    scales = np.exp(rng.uniform(-60, 60, 50_000)).astype(np.float32)
    with jax.enable_x64(False):
        times = jax.jit(amp._times_significands)  # one compile: the factor's limbs are arguments
        for factor in [*rng.uniform(0.01, 0.99, 20), *rng.uniform(1.01, 9.0, 20), 1.1, 0.9, 1 / 3]:
            limbs, eg = amp._double_parts(float(factor))
            got = np.asarray(times(jnp.asarray(scales), limbs, eg, np.float32(factor)))
            want = (scales.astype(np.float64) * factor).astype(np.float32)
            np.testing.assert_array_equal(got, want, err_msg=f"factor {factor!r}")


def test_update_scale_keeps_one_element_shapes_and_works_under_jit():
    step = jax.jit(lambda s, t, f: amp.update_scale_(s, t, f, 2.0, 0.5, 2))
    scale, tracker = step(jnp.full((1,), 8.0, F32), jnp.ones((1,), jnp.int32), jnp.zeros((1,), F32))
    assert scale.shape == (1,) and tracker.shape == (1,)
    assert float(scale[0]) == 16.0 and int(tracker[0]) == 0


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((jnp.ones((), jnp.float64), jnp.zeros((), jnp.int32), _f32(0)), TypeError, "scale must be a float32"),
        ((_f32(1), jnp.zeros((), jnp.int64), _f32(0)), TypeError, "growth_tracker must be a int32"),
        ((_f32(1), jnp.zeros((), jnp.int32), jnp.zeros(3, F32)), ValueError, "found_inf must have one element"),
    ],
)
def test_update_scale_rejects_bad_tensors(args, error, match):
    with pytest.raises(error, match=r"`jforeach\.amp\.update_scale_`: " + match):
        amp.update_scale_(*args, 2.0, 0.5, 2)


def test_update_scale_rejects_non_number_factors():
    args = (_f32(1), jnp.zeros((), jnp.int32), _f32(0))
    with pytest.raises(TypeError, match="scale_growth_factor must be a real number"):
        amp.update_scale_(*args, "2", 0.5, 2)
    with pytest.raises(TypeError, match="growth_interval must be an int"):
        amp.update_scale_(*args, 2.0, 0.5, 2.0)


# ---------------------------------------------------------------------------------------
# grad_scaler against torch.amp.GradScaler

PARAM_SHAPES = {"w": (4, 3), "b": (5,), "s": ()}
INJECT = {2: np.inf, 3: np.nan, 9: -np.inf, 20: np.nan, 21: np.inf, 22: np.inf, 45: np.inf}
STEPS = 64


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    init = {k: rng.standard_normal(s) for k, s in PARAM_SHAPES.items()}
    weights = {k: rng.uniform(0.5, 2.0, s) for k, s in PARAM_SHAPES.items()}
    centers = {k: rng.standard_normal(s) for k, s in PARAM_SHAPES.items()}
    return init, weights, centers


def _loss(params, weights, centers, xp):
    return sum(0.5 * xp.sum(weights[k] * (params[k] - centers[k]) ** 2 + 0.1 * params[k] ** 4) for k in PARAM_SHAPES)


def _inject_at(step):
    """Which tensor and value an injected inf/NaN goes into at ``step`` (or None)."""
    if step not in INJECT:
        return None
    return list(PARAM_SHAPES)[step % len(PARAM_SHAPES)], INJECT[step]


def _torch_run(opt_name, dtype, scaler_kw, seed=0, make=None, log=None):
    """torch's loop; ``make(params) -> (optimizer, scheduler)`` replaces the plain optimizer, and
    ``log`` collects the lr (and beta1) each step used."""
    init, weights, centers = _problem(seed)
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    params = {k: torch.tensor(v, dtype=tdtype, requires_grad=True) for k, v in init.items()}
    weights = {k: torch.tensor(v, dtype=tdtype) for k, v in weights.items()}
    centers = {k: torch.tensor(v, dtype=tdtype) for k, v in centers.items()}
    sched = None
    if make is not None:
        opt, sched = make(list(params.values()))
    elif opt_name == "sgd":
        opt = torch.optim.SGD(params.values(), lr=0.01, momentum=0.9, foreach=True)
    else:
        opt = torch.optim.Adam(params.values(), lr=0.05, foreach=True)
    scaler = torch.amp.GradScaler("cpu", **scaler_kw)
    scales, skipped = [], []
    for step in range(STEPS):
        opt.zero_grad()
        scaler.scale(_loss(params, weights, centers, torch)).backward()
        if (bad := _inject_at(step)) is not None:
            params[bad[0]].grad.view(-1)[0] = bad[1]
        if log is not None:
            log.append((opt.param_groups[0]["lr"], opt.param_groups[0].get("betas", (None,))[0]))
        scaler.step(opt)
        skipped.append(sum(v.item() for v in scaler._found_inf_per_device(opt).values()) > 0)
        scaler.update()
        if sched is not None:
            sched.step()  # every iteration, skipped or not, as a torch training loop does
        scales.append(np.float32(scaler.get_scale()))
    return {k: p.detach().numpy() for k, p in params.items()}, scales, skipped


def _jax_run(opt_name, dtype, scaler_kw, packed, seed=0, inner=None, states=None):
    """jforeach's loop; ``inner`` replaces the plain optimizer, ``states`` collects each step's state."""
    init, weights, centers = _problem(seed)
    params = {k: jnp.asarray(v, dtype) for k, v in init.items()}
    weights = {k: jnp.asarray(v, dtype) for k, v in weights.items()}
    centers = {k: jnp.asarray(v, dtype) for k, v in centers.items()}
    if inner is None:
        inner = jforeach.optim.sgd(lr=0.01, momentum=0.9) if opt_name == "sgd" else jforeach.optim.adam(lr=0.05)
    tx = amp.grad_scaler(inner, **scaler_kw)
    if packed:
        params = jforeach.pack(params)
    state = tx.init(params)

    def loss(p):
        return _loss(p.unpack() if packed else p, weights, centers, jnp)

    names = list(PARAM_SHAPES)

    def inject(grads, which, value):  # an inf/NaN into element 0 of tensor `which` (none for -1)
        if not packed:
            return {
                k: g.reshape(-1).at[0].set(jnp.where(which == names.index(k), value, g.reshape(-1)[0])).reshape(g.shape)
                for k, g in grads.items()
            }
        keys = sorted(PARAM_SHAPES)  # the Packed's leaf order
        buffers = list(grads.buffers)
        for b, group in enumerate(grads.layout.groups):
            for member, offset in zip(group.members, group.offsets, strict=True):
                hit = which == names.index(keys[member])
                buffers[b] = buffers[b].at[offset].set(jnp.where(hit, value, buffers[b][offset]))
        return jforeach.Packed(buffers, grads.layout)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(p, s, which, value):
        grads = inject(jax.grad(lambda q: amp.scale_loss(loss(q), s))(p), which, value)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s

    scales, skipped = [], []
    for k in range(STEPS):
        bad = _inject_at(k)
        which, value = (-1, 0.0) if bad is None else (names.index(bad[0]), bad[1])
        params, state = step(params, state, which, value)
        if states is not None:
            states.append(jax.tree.map(np.asarray, state))
        scales.append(np.asarray(state.scale))
        skipped.append(bool(state.found_inf))
    out = params.unpack() if packed else params
    return {k: np.asarray(v) for k, v in out.items()}, scales, skipped


def _distance(a, b):
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)), initial=0.0)) for k in a)


SCALER_CONFIGS = [
    {"init_scale": 2.0**10, "growth_interval": 5},
    {"init_scale": 3000.0, "growth_factor": 3.0, "backoff_factor": 0.3, "growth_interval": 3},
]


@pytest.mark.parametrize(
    ("opt_name", "scaler_kw", "packed"),
    [
        ("sgd", SCALER_CONFIGS[0], False),
        ("adam", SCALER_CONFIGS[0], True),
        ("adam", SCALER_CONFIGS[1], False),
        ("sgd", SCALER_CONFIGS[1], True),
    ],
    ids=["sgd-pow2-pytree", "adam-pow2-packed", "adam-non-pow2-pytree", "sgd-non-pow2-packed"],
)
def test_grad_scaler_matches_torch_grad_scaler(opt_name, scaler_kw, packed):
    t32, t_scales, t_skipped = _torch_run(opt_name, np.float32, scaler_kw)
    t64, t64_scales, t64_skipped = _torch_run(opt_name, np.float64, scaler_kw)
    j32, j_scales, j_skipped = _jax_run(opt_name, np.float32, scaler_kw, packed)
    assert j_skipped == t_skipped == t64_skipped
    assert sum(t_skipped) == len(INJECT)  # the injected steps, skipped
    assert len(set(t_scales)) > 5  # the scale both grew and backed off
    np.testing.assert_array_equal(np.array(j_scales), np.array(t_scales))
    if not packed:
        j64, j64_scales, _ = _jax_run(opt_name, np.float64, scaler_kw, packed)
        np.testing.assert_array_equal(np.array(j64_scales), np.array(t64_scales))
        for k in t64:
            np.testing.assert_allclose(j64[k], t64[k], rtol=1e-12, atol=1e-13)
    # float32 drift from the float64 trajectory: no worse than torch's own, times a small factor
    assert _distance(j32, t64) <= 4 * _distance(t32, t64) + 1e-7


def test_grad_scaler_in_32_bit_mode_matches_torch_scales():
    kw = {"init_scale": 3000.0, "growth_factor": 1.1, "backoff_factor": 0.7, "growth_interval": 2}
    t32, t_scales, t_skipped = _torch_run("sgd", np.float32, kw)
    with jax.enable_x64(False):
        j32, j_scales, j_skipped = _jax_run("sgd", np.float32, kw, packed=False)
    assert j_skipped == t_skipped
    np.testing.assert_array_equal(np.array(j_scales), np.array(t_scales))
    for k in t32:
        np.testing.assert_allclose(j32[k], t32[k], rtol=1e-5, atol=1e-6)


def _low_precision_grads(dtype, steps, seed=1):
    """Scaled gradients as a float16/bfloat16 backward pass would give them: they overflow at a large scale."""
    rng = np.random.default_rng(seed)
    grads = [{k: rng.standard_normal(s).astype(np.float32) for k, s in PARAM_SHAPES.items()} for _ in range(steps)]
    for step in range(steps):  # and inf/NaN at the chosen steps (bfloat16's range does not overflow)
        if (bad := _inject_at(step)) is not None:
            grads[step][bad[0]].reshape(-1)[0] = bad[1]
    return grads


def _torch_low_precision_run(unscaled, grad_dtype, kw, param_dtype=None):
    """GradScaler's steps on ``grad_dtype`` gradients, with its ops (GradScaler refuses float16 gradients).

    ``param_dtype=torch.float64``: the float64 reference on the same (rounded, overflowing) gradients.
    """
    init, _, _ = _problem(2)
    param_dtype = param_dtype or grad_dtype
    params = {k: torch.tensor(v, dtype=param_dtype) for k, v in init.items()}
    opt = torch.optim.SGD(params.values(), lr=0.01, momentum=0.9, foreach=True)
    scale = torch.full((), kw["init_scale"], dtype=torch.float32)
    tracker = torch.zeros((), dtype=torch.int32)
    scales, skipped = [], []
    for g in unscaled:
        # a low-precision backward pass: overflows at large scales
        grads = [torch.tensor(v).mul(scale).to(grad_dtype).to(param_dtype) for v in g.values()]
        for p, x in zip(params.values(), grads, strict=True):
            p.grad = x
        found_inf = torch.zeros(())
        inv_scale = scale.double().reciprocal().float()  # GradScaler.unscale_
        torch._amp_foreach_non_finite_check_and_unscale_(grads, found_inf, inv_scale)
        if not found_inf.item():
            opt.step()
        skipped.append(bool(found_inf.item()))
        torch._amp_update_scale_(scale, tracker, found_inf, kw["growth_factor"], kw["backoff_factor"], kw["interval"])
        scales.append(np.float32(scale.item()))
    return {k: to_numpy(p) for k, p in params.items()}, scales, skipped


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_grad_scaler_on_low_precision_packed_matches_torch(dtype):
    jdtype, tdtype = DTYPES[dtype]
    kw = {"init_scale": 2.0**16, "growth_factor": 2.0, "backoff_factor": 0.5}
    unscaled = _low_precision_grads(dtype, 64)
    want, t_scales, t_skipped = _torch_low_precision_run(unscaled, tdtype, {**kw, "interval": 4})
    ref64, ref_scales, _ = _torch_low_precision_run(unscaled, tdtype, {**kw, "interval": 4}, torch.float64)
    assert ref_scales == t_scales

    init, _, _ = _problem(2)
    params = jforeach.pack({k: jnp.asarray(v, jdtype) for k, v in init.items()})
    tx = amp.grad_scaler(jforeach.optim.sgd(lr=0.01, momentum=0.9), growth_interval=4, **kw)
    state = tx.init(params)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(p, s, g):
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s

    j_scales, j_skipped = [], []
    for g in unscaled:
        scale = np.float32(state.scale)
        grads = jforeach.pack({k: (jnp.asarray(v) * scale).astype(jdtype) for k, v in g.items()})
        params, state = step(params, state, grads)
        j_scales.append(np.asarray(state.scale))
        j_skipped.append(bool(state.found_inf))
    assert j_skipped == t_skipped and len(INJECT) <= sum(t_skipped) < 40
    np.testing.assert_array_equal(np.array(j_scales), np.array(t_scales))
    got = {k: np.asarray(v).astype(np.float64) for k, v in params.unpack().items()}
    assert all(v.dtype == jdtype for v in jax.tree.leaves(params.unpack()))
    ulp = float(jnp.finfo(jdtype).eps)
    assert _distance(got, ref64) <= 2 * _distance(want, ref64) + ulp
    assert _distance(got, want) <= 4 * ulp


def test_grad_scaler_with_an_optax_optimizer_skips_non_finite_steps():
    init, weights, centers = _problem(4)
    params = {k: jnp.asarray(v, F32) for k, v in init.items()}
    ref_params = dict(params)
    tx = amp.grad_scaler(optax.adam(0.05), init_scale=2.0**8, growth_interval=3)
    ref_tx = optax.adam(0.05)
    state, ref_state = tx.init(params), ref_tx.init(params)
    ref_update = jax.jit(ref_tx.update)
    scale_step = jax.jit(tx.update)
    scaled_grad = jax.jit(lambda p, s: jax.grad(lambda q: amp.scale_loss(_loss(q, weights, centers, jnp), s))(p))
    ref_grad = jax.jit(jax.grad(lambda p: _loss(p, weights, centers, jnp)))
    for k in range(30):
        grads = scaled_grad(params, state)
        if (bad := _inject_at(k)) is not None:
            grads[bad[0]] = grads[bad[0]].reshape(-1).at[0].set(bad[1]).reshape(grads[bad[0]].shape)
        updates, state = scale_step(grads, state, params)
        params = optax.apply_updates(params, updates)
        if bad is None:  # the plain optimizer on the unscaled loss, on the steps the scaler keeps
            ref_updates, ref_state = ref_update(ref_grad(ref_params), ref_state, ref_params)
            ref_params = optax.apply_updates(ref_params, ref_updates)
        assert bool(state.found_inf) == (bad is not None)
    for key in params:
        np.testing.assert_allclose(params[key], ref_params[key], rtol=1e-6, atol=1e-7)
    assert int(state.inner_state[0].count) == 30 - sum(k in INJECT for k in range(30))


def test_grad_scaler_disabled_is_the_inner_optimizer_as_torch_disabled_scaler():
    p_t = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = torch.optim.SGD([p_t], lr=0.5)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss_t = scaler.scale((p_t**2).sum())
    loss_t.backward()
    p_t.grad[0] = float("inf")
    scaler.step(opt)
    scaler.update()

    tx = amp.grad_scaler(jforeach.optim.sgd(lr=0.5), enabled=False)
    params = [jnp.array([1.0, 2.0], F32)]
    state = tx.init(params)
    assert float(state.scale) == scaler.get_scale() == 1.0
    loss = amp.scale_loss(jnp.sum(params[0] ** 2), state)
    assert float(loss) == float(loss_t.detach())
    grads = [jnp.array([np.inf, 4.0], F32)]
    updates, state = tx.update(grads, state, params)
    np.testing.assert_array_equal(optax.apply_updates(params, updates)[0], p_t.detach().numpy())


@pytest.mark.parametrize(
    ("loss", "ndim"), [("float16", 0), ("float16", 1), ("bfloat16", 0), ("float32", 0), ("float64", 0), ("float64", 2)]
)
def test_scale_loss_has_torchs_dtype_and_value(loss, ndim):
    jdtype, tdtype = DTYPES[loss]
    value = np.full((3,) * ndim, 0.3, np.float32)
    scaler = torch.amp.GradScaler("cpu", init_scale=3.0)
    want = scaler.scale(torch.tensor(value).to(tdtype))
    state = amp.grad_scaler(optax.sgd(0.1), init_scale=3.0).init([jnp.zeros(1)])
    got = amp.scale_loss(jnp.asarray(value, jdtype), state)
    assert got.dtype == DTYPES[str(want.dtype).removeprefix("torch.")][0]
    np.testing.assert_array_equal(_as_float64(got), to_numpy(want).astype(np.float64))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"growth_factor": 1.0}, ValueError, r"the growth factor must be > 1\.0, got 1\.0"),
        ({"backoff_factor": 1.0}, ValueError, r"the backoff factor must be < 1\.0, got 1\.0"),
        ({"backoff_factor": 0.0}, ValueError, r"the backoff factor must be > 0\.0"),
        ({"growth_interval": 0}, ValueError, "the growth interval must be > 0, got 0"),
        ({"growth_interval": 2.5}, TypeError, "growth_interval must be an int"),
        ({"init_scale": float("inf")}, ValueError, "the initial scale must be a positive, finite float32"),
        ({"init_scale": 1e39}, ValueError, "the initial scale must be a positive, finite float32"),
        ({"init_scale": -1.0}, ValueError, "the initial scale must be a positive"),
        ({"growth_factor": "2"}, TypeError, "growth_factor must be a real number"),
        ({"enabled": 1}, TypeError, "enabled must be a bool"),
    ],
)
def test_grad_scaler_validates_like_torch(kwargs, error, match):
    with pytest.raises(error, match=r"`jforeach\.amp\.grad_scaler`: " + match):
        amp.grad_scaler(optax.sgd(0.1), **kwargs)


def test_grad_scaler_disabled_skips_validation_as_torch():
    torch.amp.GradScaler("cpu", growth_factor=0.5, enabled=False)  # torch checks only when enabled
    amp.grad_scaler(optax.sgd(0.1), growth_factor=0.5, enabled=False)


def test_grad_scaler_rejects_a_non_transformation():
    with pytest.raises(TypeError, match=r"`jforeach\.amp\.grad_scaler`: tx must be an optax\.GradientTransformation"):
        amp.grad_scaler(lambda g: g)


# -- a skipped step and the schedules: torch's scheduler.step() runs, optimizer.step() does not ---------


def _scheduled(name):
    """(torch's optimizer and scheduler over params, jforeach's optimizer) for a config ``name``."""
    lr_scheduler = jforeach.optim.lr_scheduler
    if name == "adamw-steplr":

        def make(params):
            opt = torch.optim.AdamW(params, lr=0.05, weight_decay=0.1, foreach=True)
            return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.7)

        return make, jforeach.optim.adamw(lr=lr_scheduler.StepLR(0.05, step_size=5, gamma=0.7), weight_decay=0.1)
    if name == "adam-onecycle-betas":

        def make(params):
            opt = torch.optim.Adam(params, lr=0.05, foreach=True)
            return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=STEPS, pct_start=0.25)

        sched = lr_scheduler.OneCycleLR(0.05, max_lr=0.1, total_steps=STEPS, pct_start=0.25)
        return make, jforeach.optim.adam(lr=sched, betas=(sched.momentum, 0.999))
    if name == "adagrad-lr-decay-exponential":

        def make(params):
            opt = torch.optim.Adagrad(params, lr=0.1, lr_decay=0.05, foreach=True)
            return opt, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.97)

        return make, jforeach.optim.adagrad(lr=lr_scheduler.ExponentialLR(0.1, gamma=0.97), lr_decay=0.05)
    assert name == "inject-adamw-onecycle"

    def make(params):
        opt = torch.optim.AdamW(params, lr=0.05, weight_decay=0.1, foreach=True)
        return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=STEPS, cycle_momentum=False)

    sched = lr_scheduler.OneCycleLR(0.05, max_lr=0.1, total_steps=STEPS, cycle_momentum=False)
    return make, optax.inject_hyperparams(jforeach.optim.adamw)(lr=sched, weight_decay=0.1)


SCHEDULED = ["adamw-steplr", "adam-onecycle-betas", "adagrad-lr-decay-exponential", "inject-adamw-onecycle"]


@pytest.mark.parametrize("packed", [False, True], ids=["pytree", "packed"])
@pytest.mark.parametrize("name", SCHEDULED)
def test_grad_scaler_skips_keep_the_optimizer_step_and_advance_the_schedule_as_torch(name, packed):
    from test_optim import _check_against_reference

    kw = SCALER_CONFIGS[0]
    make, inner = _scheduled(name)
    log32, log64 = [], []
    t32, t_scales, t_skipped = _torch_run("", np.float32, kw, make=make, log=log32)
    t64, _, t64_skipped = _torch_run("", np.float64, kw, make=make, log=log64)
    states = []
    j32, j_scales, j_skipped = _jax_run("", np.float32, kw, packed, inner=inner, states=states)
    assert j_skipped == t_skipped == t64_skipped and sum(t_skipped) == len(INJECT)
    np.testing.assert_array_equal(np.array(j_scales), np.array(t_scales))
    init = _problem()[0]
    # jforeach float32 no further from torch's float64 run than torch float32, times K (over all the
    # parameters at once: one 0-d parameter alone can land within an ulp of float64 by luck)
    flat = [np.concatenate([np.ravel(run[k]) for k in sorted(t64)]) for run in (j32, t32, t64, init)]
    _check_against_reference(f"{name}: parameters", *flat[:3], start=flat[3])
    # the counters: every update call advances the schedule's, only the steps that ran the optimizer's
    taken = np.cumsum([not s for s in t_skipped])
    schedules = (optax.ScaleByScheduleState, optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)
    for k, state in enumerate(states):
        schedule_counts = {int(n.count) for n in _nodes_of(state, lambda n: isinstance(n, schedules))}
        assert schedule_counts == {k + 1}, (k, schedule_counts)
        steps = [int(n.count) for n in _nodes_of(state, lambda n: type(n).__name__ in OPTIMIZER_STEPS)]
        assert steps == [taken[k]], (k, steps)
    if name.startswith("inject"):  # the lr of every step, skipped ones too, is torch's
        lrs = [float(s.inner_state.hyperparams["lr"]) for s in states]
        np.testing.assert_allclose(lrs, [lr for lr, _ in log64], rtol=1e-12)


# the states whose counter is torch's optimizer step
OPTIMIZER_STEPS = ("ScaleByAdamState", "AdagradStepState")


def _nodes_of(state, pick):
    return [n for n in jax.tree.leaves(state, is_leaf=pick) if pick(n)]


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_grad_scaler_skip_advances_optax_schedule_counters_only(jit):
    """optax's own states: ScaleByAdamState (torch's step) stays, the schedules' counters advance."""
    sched = optax.linear_schedule(1.0, 0.0, 10)
    tx = amp.grad_scaler(
        optax.chain(
            optax.scale_by_adam(),
            optax.scale_by_learning_rate(sched),
            optax.inject_hyperparams(optax.scale)(step_size=lambda count: 2.0 + count),
        ),
        init_scale=4.0,
    )
    params = [jnp.ones(3)]
    update = jax.jit(tx.update) if jit else tx.update
    state = tx.init(params)
    _, state = update([jnp.ones(3)], state, params)  # a step that runs
    adam, before = state.inner_state[0], state.inner_state
    updates, state = update([jnp.array([1.0, jnp.nan, 1.0])], state, params)  # skipped
    assert float(state.found_inf) == 1.0 and all(not jnp.any(u) for u in updates)
    adam_after, lr_state, inject = state.inner_state
    assert int(adam_after.count) == int(adam.count) == 1
    np.testing.assert_array_equal(adam_after.mu[0], adam.mu[0])
    np.testing.assert_array_equal(adam_after.nu[0], adam.nu[0])
    assert int(before[1].count) == 1 and int(lr_state.count) == 2  # the schedule counted the skipped call
    assert int(inject.count) == 2 and float(inject.hyperparams["step_size"]) == 3.0  # this call's value
