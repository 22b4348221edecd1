"""Packed multi-tensor buffers (issue 3): layout, every op family against the list path, transformations,
optax, bad input, and 10,000 tensors."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jforeach

F32, BF16, I32 = jnp.float32, jnp.bfloat16, jnp.int32


def mixed_tree():
    """float32, bfloat16, int32 and bool leaves; nested dict/list/tuple; 0-d and zero-size arrays."""
    rng = np.random.default_rng(0)
    return {
        "w": jnp.asarray(rng.normal(size=(3, 4)), F32),
        "b": [jnp.asarray(1.5, BF16), jnp.arange(5, dtype=I32) - 2],
        "mask": jnp.asarray([[True, False, True], [False, False, True]]),
        "nested": {"deep": (jnp.asarray([0.25, -4.0], F32), jnp.asarray(7, I32))},
        "z": jnp.zeros((0, 2), F32),
        "h": jnp.asarray(rng.normal(size=(2, 3)), BF16),
    }


def float_tree():
    """Five float tensors (float32 and bfloat16; one 0-d, one zero-size), values in (0.5, 2)."""
    rng = np.random.default_rng(1)
    return [
        jnp.asarray(rng.uniform(0.5, 2.0, (3, 4)), F32),
        jnp.asarray(rng.uniform(0.5, 2.0, (5,)), BF16),
        jnp.asarray(1.25, F32),
        jnp.asarray(rng.uniform(0.5, 2.0, (2, 2)), BF16),
        jnp.zeros((0,), F32),
    ]


def other_tree():
    return [jnp.sqrt(x) + 0.5 for x in float_tree()]


N = 5  # tensors in float_tree


def assert_trees_equal(got, want, *, exact: bool = False) -> None:
    assert jax.tree.structure(got) == jax.tree.structure(want), (jax.tree.structure(got), jax.tree.structure(want))
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        if exact:
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
        else:
            rtol = 8e-3 if g.dtype == BF16 else 2e-6
            np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64), rtol=rtol, atol=1e-7)


# ------------------------------------------------------------------------------------------------
# pack / unpack


def test_roundtrip_is_exact():
    tree = mixed_tree()
    packed = jforeach.pack(tree)
    assert isinstance(packed, jforeach.Packed)
    assert packed.num_tensors == len(jax.tree.leaves(tree)) == 8
    assert_trees_equal(packed.unpack(), tree, exact=True)
    assert_trees_equal(jforeach.unpack(packed), tree, exact=True)
    assert_trees_equal(packed.unpack(), tree, exact=True)  # unpacking does not consume


def test_one_buffer_per_dtype_in_leaf_order():
    tree = mixed_tree()
    packed = jforeach.pack(tree)
    leaves = jax.tree.leaves(tree)
    order: dict = {}
    for leaf in leaves:
        order.setdefault(np.dtype(leaf.dtype), []).append(np.asarray(leaf).ravel())
    assert [b.dtype for b in packed.buffers] == list(order)
    assert len(packed.buffers) == 4  # bfloat16, int32, bool, float32
    for buf, parts in zip(packed.buffers, order.values(), strict=True):
        assert buf.ndim == 1
        np.testing.assert_array_equal(np.asarray(buf), np.concatenate(parts))
    assert jax.tree.leaves(packed) == list(packed.buffers)


def test_layout_is_reported():
    tree = mixed_tree()
    layout = jforeach.pack(tree).layout
    leaves = jax.tree.leaves(tree)
    assert isinstance(layout, jforeach.Layout)
    assert layout.treedef == jax.tree.structure(tree)
    assert layout.shapes == tuple(leaf.shape for leaf in leaves)
    assert layout.dtypes == tuple(np.dtype(leaf.dtype) for leaf in leaves)
    assert layout.num_tensors == 8
    f32 = next(g for g in layout.groups if g.dtype == np.float32)
    # float32 leaves in leaf order: nested.deep[0] (2), w (12), z (0)
    assert [layout.shapes[m] for m in f32.members] == [(2,), (3, 4), (0, 2)]
    assert f32.offsets == (0, 2, 14) and f32.sizes == (2, 12, 0) and f32.length == 14
    assert "8 tensors" in repr(layout) and "float32[14]" in repr(layout)
    assert jforeach.pack(mixed_tree()).layout == layout  # layouts compare by value
    assert hash(jforeach.pack(mixed_tree()).layout) == hash(layout)


def test_pack_converts_numpy_and_scalars():
    packed = jforeach.pack({"a": np.arange(3, dtype=np.float32), "b": np.float32(2.5), "c": [np.ones(2, np.int32)]})
    tree = packed.unpack()
    assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(tree))
    np.testing.assert_array_equal(tree["a"], [0.0, 1.0, 2.0])
    assert tree["b"].dtype == F32 and float(tree["b"]) == 2.5
    assert tree["c"][0].dtype == I32


def test_pack_edge_cases():
    assert jforeach.pack([]).unpack() == []
    assert jforeach.pack({}).unpack() == {}
    packed = jforeach.pack(float_tree())
    assert jforeach.pack(packed) is packed
    with pytest.raises(TypeError, match="Packed"):
        jforeach.unpack(float_tree())
    with pytest.raises(TypeError, match=r"\[1\]"):
        jforeach.pack([jnp.ones(2), "not an array"])


# ------------------------------------------------------------------------------------------------
# Every op family on a Packed equals the list path
#
# Each entry is f(tensors, other): on the list path both are lists, on the packed path both Packed.

SCALARS = [1.0, 2.0, -0.5, 3.0, 0.25]

OUT_OF_PLACE = {
    "log1p": lambda t, o: jforeach.log1p(t),
    "sqrt": lambda t, o: jforeach.sqrt(t),
    "neg": lambda t, o: jforeach.neg(t),
    "frac": lambda t, o: jforeach.frac(t),
    "sigmoid": lambda t, o: jforeach.sigmoid(t),
    "add_scalar_alpha": lambda t, o: jforeach.add(t, 1.5, alpha=2.0),
    "add_int_scalar": lambda t, o: jforeach.add(t, 2),
    "sub_scalar_list": lambda t, o: jforeach.sub(t, SCALARS),
    "mul_scalar_list_int": lambda t, o: jforeach.mul(t, [1, 2, 3, 4, 5]),
    "mul_0d_array": lambda t, o: jforeach.mul(t, jnp.asarray(3.0, F32)),
    "div_packed": lambda t, o: jforeach.div(t, o),
    "add_packed_alpha": lambda t, o: jforeach.add(t, o, alpha=-0.5),
    "maximum_packed": lambda t, o: jforeach.maximum(t, o),
    "clamp_min_scalar": lambda t, o: jforeach.clamp_min(t, 1.0),
    "clamp_max_scalar_list": lambda t, o: jforeach.clamp_max(t, SCALARS),
    "pow_scalar": lambda t, o: jforeach.pow(t, 2.5),
    "pow_scalar_list": lambda t, o: jforeach.pow(t, SCALARS),
    "pow_packed": lambda t, o: jforeach.pow(t, o),
    "pow_scalar_base": lambda t, o: jforeach.pow(2.0, t),
    "addcmul_scalar": lambda t, o: jforeach.addcmul(t, o, o, value=0.5),
    "addcmul_scalar_list": lambda t, o: jforeach.addcmul(t, t, o, value=SCALARS),
    "addcdiv_array_value": lambda t, o: jforeach.addcdiv(t, o, t, jnp.asarray(SCALARS, F32)),
    "lerp_scalar": lambda t, o: jforeach.lerp(t, o, 0.3),
    "lerp_scalar_list": lambda t, o: jforeach.lerp(t, o, [0.1, 0.9, 0.5, 0.6, 0.0]),
    "lerp_packed": lambda t, o: jforeach.lerp(t, o, jforeach.sigmoid(o)),
    "clone": lambda t, o: jforeach.clone(t),
}


def _both(call):
    """(list-path result, Packed-path result unpacked)."""
    listed = call(float_tree(), other_tree())
    packed = call(jforeach.pack(float_tree()), jforeach.pack(other_tree()))
    assert isinstance(packed, jforeach.Packed)
    assert len(packed.buffers) == 2  # float32 and bfloat16 stay apart
    return listed, packed.unpack()


@pytest.mark.parametrize("name", list(OUT_OF_PLACE))
def test_out_of_place_equals_list_path(name):
    listed, packed = _both(OUT_OF_PLACE[name])
    assert_trees_equal(packed, listed)


def test_ops_on_int_and_bool_buffers_equal_list_path():
    tree = mixed_tree()
    for call in (
        lambda t: jforeach.add(t, 3),
        lambda t: jforeach.mul(t, list(range(1, 9))),
        lambda t: jforeach.maximum(t, t),
        lambda t: jforeach.add(t, 0.5),  # int and bool become float32
        lambda t: jforeach.sign(t),
    ):
        packed = call(jforeach.pack(tree))
        assert_trees_equal(packed.unpack(), call(tree))


IN_PLACE = {
    "log1p_": lambda t, o: jforeach.log1p_(t),
    "add_scalar_list_": lambda t, o: jforeach.add_(t, SCALARS, alpha=2),
    "mul_packed_": lambda t, o: jforeach.mul_(t, o),
    "sub_self_": lambda t, o: jforeach.sub_(t, t, alpha=0.5),
    "pow_": lambda t, o: jforeach.pow_(t, 2),
    "addcdiv_": lambda t, o: jforeach.addcdiv_(t, o, t, value=SCALARS),
    "lerp_": lambda t, o: jforeach.lerp_(t, o, 0.75),
    "clamp_max_": lambda t, o: jforeach.clamp_max_(t, 1.0),
    "zero_": lambda t, o: jforeach.zero_(t),
    "copy_": lambda t, o: jforeach.copy_(t, o),
}
OUT_OF_PLACE_OF = {
    "log1p_": lambda t, o: jforeach.log1p(t),
    "add_scalar_list_": lambda t, o: jforeach.add(t, SCALARS, alpha=2),
    "mul_packed_": lambda t, o: jforeach.mul(t, o),
    "sub_self_": lambda t, o: jforeach.sub(t, t, alpha=0.5),
    "pow_": lambda t, o: jforeach.pow(t, 2),
    "addcdiv_": lambda t, o: jforeach.addcdiv(t, o, t, value=SCALARS),
    "lerp_": lambda t, o: jforeach.lerp(t, o, 0.75),
    "clamp_max_": lambda t, o: jforeach.clamp_max(t, 1.0),
    "zero_": lambda t, o: [jnp.zeros_like(x) for x in t],
    "copy_": lambda t, o: jforeach.clone(o),
}


@pytest.mark.parametrize("name", list(IN_PLACE))
def test_in_place_donates_and_updates_the_callers_packed(name):
    packed, other = jforeach.pack(float_tree()), jforeach.pack(other_tree())
    old = packed.buffers
    pointers = [b.unsafe_buffer_pointer() for b in old]
    out = IN_PLACE[name](packed, other)
    assert out is packed
    assert all(b.is_deleted() for b in old)
    assert [b.unsafe_buffer_pointer() for b in packed.buffers] == pointers
    assert not any(b.is_deleted() for b in other.buffers)
    assert_trees_equal(packed.unpack(), OUT_OF_PLACE_OF[name](float_tree(), other_tree()))


def test_in_place_right_after_pack_reuses_the_buffer():
    # pack() assembles buffers on the host; a device buffer that still shares that host memory
    # (jax's zero-copy device_put on CPU) cannot be donated, and XLA silently allocates a new one.
    reused = []
    for i in range(12):
        packed = jforeach.pack([jnp.full(4096, i, F32), jnp.ones((3, 2), F32)])
        (old,) = packed.buffers
        pointer = old.unsafe_buffer_pointer()
        jforeach.log1p_(packed)
        assert old.is_deleted()
        reused.append(packed.buffers[0].unsafe_buffer_pointer() == pointer)
    assert all(reused), reused


def test_in_place_inside_jit_equals_out_of_place():
    packed = jforeach.pack(float_tree())
    got = jax.jit(lambda p: jforeach.mul_(jforeach.log1p_(p), SCALARS))(packed)
    assert isinstance(got, jforeach.Packed)
    assert not any(b.is_deleted() for b in packed.buffers)
    assert_trees_equal(got.unpack(), jforeach.mul(jforeach.log1p(float_tree()), SCALARS))


def test_packed_nested_in_a_container_is_updated_in_place():
    packed = jforeach.pack(float_tree())
    state = {"params": packed, "step": jnp.zeros((), F32)}
    jforeach.add_(state, 1.0)
    assert state["params"] is packed  # the caller's Packed now holds the results, not deleted buffers
    assert not any(b.is_deleted() for b in packed.buffers)
    assert_trees_equal(packed.unpack(), jforeach.add(float_tree(), 1.0))


def test_no_retrace_for_same_layout(jax_compiles):
    packed = jforeach.pack(float_tree())
    for _ in range(2):  # the whole path, then the plan it leaves (the fast path), before counting
        jforeach.mul(packed, SCALARS)
        jforeach.add_(packed, 0.5)
    traced, compiled = len(jax_compiles.traces), len(jax_compiles.compiles)
    for value in (1.0, 2.0, 3.0):
        jforeach.mul(jforeach.pack(float_tree()), [value] * N)  # a new Packed with an equal layout
        jforeach.add_(packed, value)
    assert jax_compiles.traces[traced:] == [] and jax_compiles.compiles[compiled:] == []
    assert_trees_equal(packed.unpack(), jforeach.add(float_tree(), 7.0))  # 0.5 + 0.5 + 1 + 2 + 3


# ------------------------------------------------------------------------------------------------
# Reductions: per-tensor results


def _reduce_both(call, tree):
    listed = call(tree)
    result = call(jforeach.pack(tree))
    assert isinstance(result, jforeach.Packed)
    unpacked = result.unpack()
    assert jax.tree.structure(unpacked) == jax.tree.structure(tree)
    assert all(leaf.shape == () for leaf in jax.tree.leaves(unpacked))
    return listed, unpacked


@pytest.mark.parametrize("ord_", [1, 2, 3, 0.5, math.inf, -math.inf, 0], ids=str)
def test_norm_per_tensor(ord_):
    tree = [x - 1.0 for x in float_tree()[:4]]
    if abs(ord_) != math.inf:  # the +-inf norms of an empty tensor are undefined (see below)
        tree.append(jnp.zeros((0,), F32))
    listed, packed = _reduce_both(lambda t: jforeach.norm(t, ord_), tree)
    assert_trees_equal(packed, listed)
    # and against numpy, tensor by tensor
    for got, x in zip(packed, tree, strict=True):
        want = np.linalg.norm(np.asarray(x, np.float64).ravel(), ord_) if x.size else 0.0
        rtol = 1e-2 if x.dtype == BF16 else 1e-5
        np.testing.assert_allclose(float(got), want, rtol=rtol)


@pytest.mark.parametrize("ord_", [math.inf, -math.inf], ids=str)
def test_inf_norm_of_empty_tensor_is_an_error_like_the_list_path(ord_):
    tree = [jnp.ones(3, F32), jnp.zeros((0,), F32)]
    with pytest.raises(ValueError, match="empty"):
        jforeach.norm(tree, ord_)
    with pytest.raises(ValueError, match="empty"):
        jforeach.norm(jforeach.pack(tree), ord_)


@pytest.mark.parametrize("ord_", [1, 2, 3], ids=str)
def test_powsum_per_tensor(ord_):
    listed, packed = _reduce_both(lambda t: jforeach.powsum(t, ord_), float_tree())
    assert_trees_equal(packed, listed)


def test_norm_with_dtype():
    listed, packed = _reduce_both(lambda t: jforeach.norm(t, 2, dtype=jnp.float64), float_tree())
    assert all(x.dtype == jnp.float64 for x in packed)
    assert_trees_equal(packed, listed)


def test_max_per_tensor():
    tree = [x for x in float_tree()[:4]] + [jnp.asarray([-3, 5, 2], I32)]
    listed, packed = _reduce_both(jforeach.max, tree)
    assert_trees_equal(packed, listed, exact=True)
    assert [float(x) for x in packed] == [float(np.asarray(x, np.float64).max()) for x in tree]


# ------------------------------------------------------------------------------------------------
# Transformations and optax


def _loss(tree):
    return sum(jnp.sum(jnp.asarray(x, F32) ** 2) * (i + 1) for i, x in enumerate(jax.tree.leaves(tree)))


def test_grad_returns_packed_with_same_layout():
    tree = [x for x in float_tree()]
    packed = jforeach.pack(tree)
    grads = jax.grad(lambda p: _loss(p.unpack()))(packed)
    assert isinstance(grads, jforeach.Packed)
    assert grads.layout == packed.layout
    assert_trees_equal(grads.unpack(), jax.grad(_loss)(tree))


def test_jit_over_packed():
    packed = jforeach.pack(float_tree())

    @jax.jit
    def f(p):
        return jforeach.addcmul(p, p, p, value=0.5), jforeach.norm(p), p.unpack()

    out, norms, tree = f(packed)
    assert isinstance(out, jforeach.Packed) and out.layout == packed.layout
    assert_trees_equal(out.unpack(), jforeach.addcmul(float_tree(), float_tree(), float_tree(), value=0.5))
    assert_trees_equal(norms.unpack(), jforeach.norm(float_tree()))
    assert_trees_equal(tree, float_tree(), exact=True)


def test_tree_map_gives_packed():
    packed = jforeach.pack(mixed_tree())
    zeros = jax.tree.map(jnp.zeros_like, packed)
    assert isinstance(zeros, jforeach.Packed) and zeros.layout == packed.layout
    assert_trees_equal(zeros.unpack(), jax.tree.map(jnp.zeros_like, mixed_tree()), exact=True)


def test_optax_adam_on_packed_equals_tree():
    tree = [x.astype(F32) for x in float_tree()]
    opt = optax.adam(1e-3)

    @jax.jit
    def step(params, state):
        grads = jax.grad(lambda p: _loss(jforeach.unpack(p) if isinstance(p, jforeach.Packed) else p))(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    packed, tree_params = jforeach.pack(tree), tree
    p_state, t_state = opt.init(packed), opt.init(tree_params)
    assert isinstance(p_state[0].mu, jforeach.Packed)
    for _ in range(3):
        packed, p_state = step(packed, p_state)
        tree_params, t_state = step(tree_params, t_state)
    assert isinstance(packed, jforeach.Packed)
    assert_trees_equal(packed.unpack(), tree_params)
    assert_trees_equal(p_state[0].nu.unpack(), t_state[0].nu)


# ------------------------------------------------------------------------------------------------
# Bad input


def _different_layouts():
    base = float_tree()
    return {
        "shape": [base[0].reshape(4, 3), *base[1:]],
        "dtype": [base[0].astype(BF16), *base[1:]],
        "structure": tuple(base),
        "count": base[:4],
    }


@pytest.mark.parametrize("which", ["shape", "dtype", "structure", "count"])
def test_packed_with_different_layout_is_a_value_error(which):
    packed, other = jforeach.pack(float_tree()), jforeach.pack(_different_layouts()[which])
    before = [np.asarray(b) for b in packed.buffers]
    with pytest.raises(ValueError, match="different layouts"):
        jforeach.add_(packed, other)
    with pytest.raises(ValueError, match="different layouts"):
        jforeach.lerp(packed, other, 0.5)
    for b, w in zip(packed.buffers, before, strict=True):
        assert not b.is_deleted()
        np.testing.assert_array_equal(np.asarray(b), w)


def test_packed_mixed_with_list_is_a_type_error():
    packed, tree = jforeach.pack(float_tree()), float_tree()
    before = [np.asarray(b) for b in packed.buffers]
    with pytest.raises(TypeError, match="Packed"):
        jforeach.add_(packed, tree)
    with pytest.raises(TypeError, match="Packed"):
        jforeach.mul_(tree, packed)
    with pytest.raises(TypeError, match="Packed"):
        jforeach.addcmul(packed, packed, tree)
    assert not any(x.is_deleted() for x in tree)
    for b, w in zip(packed.buffers, before, strict=True):
        np.testing.assert_array_equal(np.asarray(b), w)


def test_packed_errors_before_donation():
    packed = jforeach.pack(mixed_tree())  # has int32 and bool buffers
    before = [np.asarray(b) for b in packed.buffers]
    with pytest.raises(TypeError, match="can't be cast"):
        jforeach.log1p_(packed)
    with pytest.raises(ValueError, match="8 arrays but other has 2 scalars"):
        jforeach.add_(packed, [1, 2])
    for b, w in zip(packed.buffers, before, strict=True):
        assert not b.is_deleted()
        np.testing.assert_array_equal(np.asarray(b), w)


def test_stale_packed_after_donation_is_a_value_error():
    packed = jforeach.pack(float_tree())
    # A second Packed object over the same buffers, e.g. kept from before an in-place call.
    stale = jax.tree.unflatten(jax.tree.structure(packed), jax.tree.leaves(packed))
    jforeach.mul_(packed, 2.0)
    assert all(b.is_deleted() for b in stale.buffers)
    with pytest.raises(ValueError, match="donated"):
        stale.unpack()
    with pytest.raises(ValueError, match="donated"):
        jforeach.unpack(stale)
    with pytest.raises(ValueError, match="donated"):
        jforeach.exp(stale)
    with pytest.raises(ValueError, match="donated"):
        jforeach.exp_(stale)
    assert_trees_equal(packed.unpack(), jforeach.mul(float_tree(), 2.0))


def test_stale_packed_as_operand_is_a_value_error():
    packed, other = jforeach.pack(float_tree()), jforeach.pack(other_tree())
    stale = jax.tree.unflatten(jax.tree.structure(other), jax.tree.leaves(other))
    jforeach.sqrt_(other)
    before = [np.asarray(b) for b in packed.buffers]
    with pytest.raises(ValueError, match="donated"):
        jforeach.add(packed, stale)
    with pytest.raises(ValueError, match="donated"):
        jforeach.add_(packed, stale)
    for b, w in zip(packed.buffers, before, strict=True):
        assert not b.is_deleted()
        np.testing.assert_array_equal(np.asarray(b), w)


# ------------------------------------------------------------------------------------------------
# 10,000 tensors


def test_ten_thousand_tensors():
    n = 10_000
    rng = np.random.default_rng(3)
    sizes = rng.integers(0, 6, n)
    values = [rng.normal(size=(int(s),)).astype(np.float32) for s in sizes]
    tree = [jnp.asarray(v) if i % 10 else jnp.asarray(v, BF16) for i, v in enumerate(values)]
    packed = jforeach.pack(tree)
    assert packed.num_tensors == n and len(packed.buffers) == 2
    assert sum(b.shape[0] for b in packed.buffers) == int(sizes.sum())
    out = packed.unpack()
    assert len(out) == n
    for i in (0, 1, 9, 10, 4321, n - 1):
        assert out[i].dtype == tree[i].dtype and out[i].shape == tree[i].shape
        np.testing.assert_array_equal(np.asarray(out[i]), np.asarray(tree[i]))
    jforeach.add_(packed, 1.0)
    norms = jforeach.norm(packed, 1).unpack()
    out = packed.unpack()
    for i in (0, 1, 9, 10, 4321, n - 1):
        want = np.asarray(tree[i], np.float32) + 1
        rtol = 1e-2 if i % 10 == 0 else 1e-6
        np.testing.assert_allclose(np.asarray(out[i], np.float32), want, rtol=rtol)
        np.testing.assert_allclose(float(norms[i]), np.abs(np.asarray(out[i], np.float64)).sum(), rtol=rtol)


def test_packed_inside_a_container():
    tree = {"a": jnp.ones(3, jnp.float32), "b": jnp.full(4, 2.0, jnp.float32)}
    holder = {"p": jforeach.pack(tree), "w": jnp.ones(2, jnp.float32)}
    # elementwise ops are right on the buffers, and the caller's Packed is repointed
    jforeach.add_(holder, 1.0)
    np.testing.assert_array_equal(np.asarray(holder["p"].unpack()["b"]), np.full(4, 3.0))
    np.testing.assert_array_equal(np.asarray(holder["w"]), np.full(2, 2.0))
    # per-tensor semantics are not: reductions and per-tensor numbers raise, naming the problem
    for call in (
        lambda: jforeach.norm(holder),
        lambda: jforeach.max([holder["p"]]),
        lambda: jforeach.mul(holder, [2.0, 3.0, 4.0]),
    ):
        with pytest.raises(TypeError, match="Packed inside a container"):
            call()
    norms = jforeach.norm(holder["p"]).unpack()  # the Packed by itself: per tensor
    np.testing.assert_allclose([float(norms["a"]), float(norms["b"])], [np.sqrt(12.0), 6.0], rtol=1e-6)


def test_scalar_list_of_0d_arrays_on_a_packed():
    tree = [jnp.ones(3, jnp.float32), jnp.full(2, 2.0, jnp.float32)]
    scalars = [jnp.array(2.0, jnp.float32), jnp.array(3.0, jnp.float32)]
    got = jforeach.mul(jforeach.pack(tree), scalars).unpack()
    want = [np.full(3, 2.0, np.float32), np.full(2, 6.0, np.float32)]  # each tensor times its own scalar
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(np.asarray(g), w)


@pytest.mark.parametrize(
    ("name", "tensors", "others"),
    [
        ("mul", [np.ones(3, np.int32), np.full(2, 2, np.int32)], [np.array(2.5), np.array(1.5)]),
        ("add", [np.array([True, False]), np.array([True])], [np.array(2, np.int32)] * 2),
        ("pow", [np.full(3, 2, np.int32), np.full(2, 3, np.int32)], [np.array(2, np.int32), np.array(-1, np.int32)]),
    ],
    ids=["mul-int-f64", "add-bool-int32", "pow-int-negative"],
)
def test_list_of_0d_arrays_on_a_packed_promotes_like_torch_tensor_list(name, tensors, others):
    want = getattr(torch, f"_foreach_{name}")([torch.tensor(t) for t in tensors], [torch.tensor(o) for o in others])
    packed = jforeach.pack([jnp.asarray(t) for t in tensors])
    got = getattr(jforeach, name)(packed, [jnp.asarray(o) for o in others]).unpack()
    for g, w in zip(got, want, strict=True):
        assert str(g.dtype) == str(w.dtype).removeprefix("torch."), (g.dtype, w.dtype)
        np.testing.assert_allclose(np.asarray(g, np.float64), w.double().numpy())
