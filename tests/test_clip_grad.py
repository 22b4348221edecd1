"""jforeach.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils (torch 2.13, CPU)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _torch_ref import DTYPES, to_numpy, to_torch

import jforeach

SHAPES = [(3, 4), (), (0,), (7,), (2, 1, 3)]
NORM_TYPES = [1.0, 2.0, 3.5, float("inf")]
# ulp bounds: a norm of norms and one multiply; bfloat16/float16 round the total and the coefficient
ULPS = {"float32": 8, "float64": 8, "float16": 2, "bfloat16": 2}


def _ulp(x, dtype):
    x = np.abs(np.asarray(x, np.float64))
    info = jnp.finfo(DTYPES[dtype][0])
    tiny = float(info.tiny)
    return np.exp2(np.floor(np.log2(np.maximum(x, tiny)))) * float(info.eps)


def _assert_ulps(got, want, dtype, n):
    got64, want64 = np.asarray(got).astype(np.float64), np.asarray(want).astype(np.float64)
    assert np.array_equal(np.isnan(got64), np.isnan(want64))
    finite = np.isfinite(want64)
    np.testing.assert_array_equal(got64[~finite & ~np.isnan(want64)], want64[~finite & ~np.isnan(want64)])
    err = np.abs(got64[finite] - want64[finite])
    assert np.all(err <= n * _ulp(want64[finite], dtype)), (got64, want64)


def _grads(dtypes, seed=0, scale=1.0, bad=None):
    rng = np.random.default_rng(seed)
    out = []
    for i, shape in enumerate(SHAPES):
        a = (scale * rng.standard_normal(shape)).astype(np.float32)
        if bad is not None and i == bad[0]:
            a.reshape(-1)[0] = bad[1]
        out.append(np.array(jnp.asarray(a, DTYPES[dtypes[i % len(dtypes)]][0])))
    return out


def _torch_clip_norm(arrays, max_norm, norm_type):
    params = [torch.zeros(a.shape, dtype=to_torch(a).dtype, requires_grad=True) for a in arrays]
    for p, a in zip(params, arrays, strict=True):
        p.grad = to_torch(a)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type, foreach=True)
    return [p.grad for p in params], total


def _tree(arrays, kind):
    leaves = [jnp.asarray(a) for a in arrays]
    if kind == "dict":
        return {f"g{i}": a for i, a in enumerate(leaves)}
    return jforeach.pack(leaves) if kind == "packed" else leaves


def _leaves(tree):
    if isinstance(tree, jforeach.Packed):
        return tree.unpack()
    return [tree[f"g{i}"] for i in range(len(tree))] if isinstance(tree, dict) else tree


MIXED = ["float32", "float16", "float64", "bfloat16"]
CLIP_CASES = [
    *[(dtypes, "list") for dtypes in (["float32"], ["float64"], ["float16"], ["bfloat16"], MIXED)],
    *[(dtypes, "packed") for dtypes in (["float16"], MIXED)],
]


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize(("dtypes", "kind"), CLIP_CASES, ids=[f"{'-'.join(d)}-{k}" for d, k in CLIP_CASES])
def test_clip_grad_norm_matches_torch(dtypes, kind, norm_type):
    for scale, max_norm in [(1.0, 0.5), (0.01, 10.0)]:  # clipped, and below max_norm
        if norm_type == float("inf"):  # torch: no inf norm of an empty tensor; drop it
            arrays = [a for a in _grads(dtypes, scale=scale) if a.size]
        else:
            arrays = _grads(dtypes, scale=scale)
        want, want_total = _torch_clip_norm(arrays, max_norm, norm_type)
        grads = _tree(arrays, kind)
        total = jforeach.clip_grad_norm_(grads, max_norm, norm_type)
        name = str(want_total.dtype).removeprefix("torch.")
        assert total.dtype == DTYPES[name][0] and total.shape == ()
        # each tensor's norm is rounded to its dtype: the least precise one bounds the total's error
        least = max(dtypes, key=lambda d: float(jnp.finfo(DTYPES[d][0]).eps))
        _assert_ulps(total, to_numpy(want_total), least, ULPS[least])
        for g, w in zip(_leaves(grads), want, strict=True):
            wname = str(w.dtype).removeprefix("torch.")
            assert g.dtype == DTYPES[wname][0] and g.shape == tuple(w.shape)
            _assert_ulps(g, to_numpy(w), least, ULPS[wname] + ULPS[least])


@pytest.mark.parametrize("kind", ["list", "packed"])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("norm_type", [2.0, float("inf")])
def test_clip_grad_norm_of_non_finite_grads_matches_torch(bad, norm_type, kind):
    arrays = [a for a in _grads(["float32"], bad=(3, bad)) if a.size]
    want, want_total = _torch_clip_norm(arrays, 1.0, norm_type)
    grads = _tree(arrays, kind)
    total = jforeach.clip_grad_norm_(grads, 1.0, norm_type)
    np.testing.assert_array_equal(np.asarray(total), want_total.numpy())
    for g, w in zip(_leaves(grads), want, strict=True):
        np.testing.assert_array_equal(np.asarray(g), w.numpy())


def test_clip_grad_norm_error_if_nonfinite_raises_before_changing_anything():
    grads = [jnp.array([1.0, jnp.inf]), jnp.ones(3)]
    old = list(grads)
    params = [torch.zeros(2, requires_grad=True)]
    params[0].grad = torch.tensor([1.0, float("inf")])
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match=r"`jforeach\.clip_grad_norm_`: the total norm of order 2\.0"):
        jforeach.clip_grad_norm_(grads, 1.0, error_if_nonfinite=True)
    assert grads[0] is old[0] and not old[0].is_deleted()
    np.testing.assert_array_equal(grads[1], np.ones(3))


def test_clip_grad_norm_error_if_nonfinite_under_jit_fails_the_call():
    clip = jax.jit(lambda g: jforeach.clip_grad_norm_(g, 1.0, error_if_nonfinite=True))
    np.testing.assert_allclose(clip([jnp.array([3.0, 4.0])]), 5.0)
    with pytest.raises(jax.errors.JaxRuntimeError, match="non-finite"):
        jax.block_until_ready(clip([jnp.array([3.0, jnp.nan])]))


def test_clip_grad_norm_donates_and_updates_the_callers_containers():
    grads = {"a": jnp.full((128,), 3.0), "nested": [jnp.full((4,), 4.0, jnp.float16)]}
    old = [grads["a"], grads["nested"][0]]
    pointers = [x.unsafe_buffer_pointer() for x in old]
    total = jforeach.clip_grad_norm_(grads, 1.0)
    assert all(x.is_deleted() for x in old)
    assert [grads["a"].unsafe_buffer_pointer(), grads["nested"][0].unsafe_buffer_pointer()] == pointers
    want = np.sqrt(128 * 9.0 + 4 * 16.0)
    np.testing.assert_allclose(float(total), want, rtol=1e-6)
    np.testing.assert_allclose(grads["a"], 3.0 / want, rtol=2e-6)


def test_clip_grad_norm_on_a_packed_updates_it_in_place():
    p = jforeach.pack([jnp.array([3.0, 0.0]), jnp.array(4.0)])
    old = p.buffers
    total = jforeach.clip_grad_norm_(p, 1.0)
    assert float(total) == 5.0 and all(b.is_deleted() for b in old)
    np.testing.assert_allclose(np.concatenate([np.ravel(x) for x in p.unpack()]), [0.6, 0.0, 0.8], rtol=1e-6)


def test_clip_grad_norm_under_jit_returns_the_total_and_the_clipped_grads():
    arrays = _grads(["float32"], scale=3.0)
    want, want_total = _torch_clip_norm(arrays, 1.0, 2.0)

    @jax.jit
    def clip(grads):
        total = jforeach.clip_grad_norm_(grads, 1.0)
        return grads, total

    grads, total = clip([jnp.asarray(a) for a in arrays])
    _assert_ulps(total, want_total.numpy(), "float32", 8)
    for g, w in zip(grads, want, strict=True):
        _assert_ulps(g, w.numpy(), "float32", 16)


def test_clip_grad_norm_of_no_grads_is_torchs_zero():
    want = torch.nn.utils.clip_grad_norm_([], 1.0)
    total = jforeach.clip_grad_norm_([], 1.0)
    assert total.dtype == jnp.float32 and float(total) == float(want) == 0.0


@pytest.mark.parametrize("kind", ["list", "packed"])
@pytest.mark.parametrize("norm_type", [float("inf"), -1.0])
def test_clip_grad_norm_of_an_empty_grad_raises_like_torch(norm_type, kind):
    params = [torch.zeros(0, requires_grad=True)]
    params[0].grad = torch.zeros(0)
    with pytest.raises(RuntimeError, match="empty tensor"):
        torch.nn.utils.clip_grad_norm_(params, 1.0, norm_type)
    grads = _tree([np.zeros(0, np.float32), np.ones(2, np.float32)], kind)
    with pytest.raises(ValueError, match=r"`jforeach\.clip_grad_norm_`: the .* norm of an empty gradient"):
        jforeach.clip_grad_norm_(grads, 1.0, norm_type)


@pytest.mark.parametrize(
    ("grads", "kwargs", "error", "match"),
    [
        ((jnp.ones(2),), {}, TypeError, "grads is a tuple, which cannot be updated in place"),
        (jnp.ones(2), {}, TypeError, "grads is a single array"),
        ([jnp.ones(2, jnp.int32)], {}, TypeError, r"grads\[0\] has dtype int32"),
        ([jnp.ones(2)], {"max_norm": "1"}, TypeError, "max_norm must be a real number"),
        ([jnp.ones(2)], {"norm_type": None}, TypeError, "norm_type must be a real number"),
        ([jnp.ones(2)], {"foreach": 1}, TypeError, "foreach must be None, True or False"),
    ],
)
def test_clip_grad_norm_rejects_bad_input_before_donating(grads, kwargs, error, match):
    leaves = jax.tree.leaves(grads)
    kwargs = {"max_norm": 1.0, **kwargs}
    with pytest.raises(error, match=r"`jforeach\.clip_grad_norm_`: " + match):
        jforeach.clip_grad_norm_(grads, **kwargs)
    assert not any(leaf.is_deleted() for leaf in leaves)


def test_clip_grad_norm_rejects_one_array_twice():
    a = jnp.ones(2)
    with pytest.raises(ValueError, match="the same array is gradient 0 and gradient 1"):
        jforeach.clip_grad_norm_([a, a], 1.0)
    assert not a.is_deleted()


@pytest.mark.parametrize(("dtypes", "kind"), [(["float32"], "dict"), (["bfloat16"], "list"), (MIXED, "packed")])
def test_clip_grad_value_matches_torch_bitwise(dtypes, kind):
    arrays = _grads(dtypes, scale=2.0, bad=(4, np.nan))
    arrays[0].reshape(-1)[:2] = [np.inf, -np.inf]
    for clip_value in [0.7, 1e-3]:
        params = [torch.zeros(a.shape, dtype=to_torch(a).dtype, requires_grad=True) for a in arrays]
        for p, a in zip(params, arrays, strict=True):
            p.grad = to_torch(a)
        torch.nn.utils.clip_grad_value_(params, clip_value, foreach=True)
        grads = _tree(arrays, kind)
        assert jforeach.clip_grad_value_(grads, clip_value) is None
        for g, p in zip(_leaves(grads), params, strict=True):
            np.testing.assert_array_equal(np.asarray(g).astype(np.float64), to_numpy(p.grad).astype(np.float64))


def test_clip_grad_value_donates_and_works_under_jit():
    grads = [jnp.array([-3.0, 0.5, 2.0])]
    old = grads[0]
    jforeach.clip_grad_value_(grads, 1.0)
    assert old.is_deleted()
    np.testing.assert_array_equal(grads[0], [-1.0, 0.5, 1.0])

    def clipped(g):
        jforeach.clip_grad_value_(g, 0.25)
        return g

    np.testing.assert_array_equal(jax.jit(clipped)([jnp.array([-3.0, 0.1])])[0], [-0.25, 0.1])


def test_clip_grad_value_rejects_bad_input():
    with pytest.raises(TypeError, match=r"`jforeach\.clip_grad_value_`: grads is a tuple"):
        jforeach.clip_grad_value_((jnp.ones(2),), 1.0)
    with pytest.raises(TypeError, match=r"`jforeach\.clip_grad_value_`: clip_value must be a real number"):
        jforeach.clip_grad_value_([jnp.ones(2)], None)
