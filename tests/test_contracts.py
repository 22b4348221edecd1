"""The JAX-side contracts of the list/pytree path (issue 2).

Per-op values and dtypes against torch are in ``test_ops.py``; this file checks what torch cannot:
donation really aliases, the caller's containers are updated, transformations work, nothing retraces,
bad input is rejected before anything is donated, and shardings are kept.
"""

from __future__ import annotations

import subprocess
import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jforeach
from jforeach import _engine

F32 = jnp.float32


def fresh() -> list[jax.Array]:
    """Three float32 arrays (1-D, 2-D, 0-d) computed by XLA, so that donation can reuse their buffers.

    (A buffer that ``jax.device_put`` shares with numpy memory cannot be reused: XLA copies instead.)
    """
    return [jnp.arange(1.0, 4.0, dtype=F32), jnp.full((2, 2), 0.5, F32), jnp.array(2.0, F32)]


def host(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def assert_alive(tree) -> None:
    for x in jax.tree.leaves(tree):
        assert not x.is_deleted()


def assert_intact(tree, before: list[np.ndarray]) -> None:
    """Every leaf of ``tree`` is alive and holds the values ``before``."""
    leaves = jax.tree.leaves(tree)
    assert len(leaves) == len(before)
    for x, b in zip(leaves, before, strict=True):
        if isinstance(x, jax.Array):
            assert not x.is_deleted()
        np.testing.assert_array_equal(np.asarray(x), b)


def assert_values(got, want, rtol=1e-6) -> None:
    """``want`` has ``got``'s containers; its leaves may be numbers or lists of numbers."""
    treedef = jax.tree.structure(got)
    got_leaves, want_leaves = treedef.flatten_up_to(got), treedef.flatten_up_to(want)
    for g, w in zip(got_leaves, want_leaves, strict=True):
        assert g.shape == np.shape(w)
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64), rtol=rtol)


# ------------------------------------------------------------------------------------------------
# The torch-style example and donation


def test_torch_style_example():
    xs = [jnp.array(1.0, F32), jnp.array(2.0, F32), jnp.array(3.0, F32)]
    out = jforeach.log1p_(xs)
    assert out is xs
    assert [x.dtype for x in xs] == [F32] * 3
    np.testing.assert_allclose([float(x) for x in xs], [0.6931472, 1.0986123, 1.3862944], rtol=1e-7)


def test_torch_style_example_default_dtype():
    xs = [jnp.array(1.0), jnp.array(2.0), jnp.array(3.0)]
    dtype = xs[0].dtype
    jforeach.log1p_(xs)
    assert [x.dtype for x in xs] == [dtype] * 3
    np.testing.assert_allclose([float(x) for x in xs], np.log1p([1.0, 2.0, 3.0]), rtol=1e-6)


def test_in_place_donates_and_reuses_buffers():
    xs = fresh()
    old = list(xs)
    pointers = [x.unsafe_buffer_pointer() for x in xs]
    want = [np.log1p(h) for h in host(xs)]
    jforeach.log1p_(xs)
    for o, x, p in zip(old, xs, pointers, strict=True):
        assert o.is_deleted()
        assert x.unsafe_buffer_pointer() == p
    assert_values(xs, want)


IN_PLACE_CALLS = {
    "exp_": (lambda t: jforeach.exp_(t), lambda h: np.exp(h)),
    "zero_": (lambda t: jforeach.zero_(t), lambda h: np.zeros_like(h)),
    "copy_": (lambda t: jforeach.copy_(t, [jnp.full(x.shape, 7.0, F32) for x in t]), lambda h: np.full_like(h, 7.0)),
    "clamp_min_": (lambda t: jforeach.clamp_min_(t, 1.5), lambda h: np.maximum(h, 1.5)),
    "lerp_": (lambda t: jforeach.lerp_(t, [x * 3 for x in t], [0.5, 0.25, 1.0]), None),
}


@pytest.mark.parametrize("name", list(IN_PLACE_CALLS))
def test_every_in_place_kind_donates(name):
    call, reference = IN_PLACE_CALLS[name]
    xs = fresh()
    old = list(xs)
    pointers = [x.unsafe_buffer_pointer() for x in xs]
    call(xs)
    assert [o.is_deleted() for o in old] == [True] * 3
    assert [x.unsafe_buffer_pointer() for x in xs] == pointers
    if reference is None:  # lerp: x + w (3x - x)
        reference_values = [h + w * 2 * h for h, w in zip(host(fresh()), [0.5, 0.25, 1.0], strict=True)]
    else:
        reference_values = [reference(h) for h in host(fresh())]
    assert_values(xs, reference_values)


def test_in_place_kernel_aliases_its_inputs():
    xs = fresh()
    nbytes = sum(x.nbytes for x in xs)
    jforeach.log1p_(xs)  # populates the kernel cache
    kernel = _engine._kernel("log1p", (), True, True, None)
    compiled = kernel.lower(xs, []).compile()
    assert compiled.memory_analysis().alias_size_in_bytes == nbytes
    outplace = _engine._kernel("log1p", (), False, False, None)
    assert outplace.lower(xs, []).compile().memory_analysis().alias_size_in_bytes == 0


def test_in_place_donates_only_tensors_not_operands():
    xs, ys = fresh(), [jnp.copy(x) for x in fresh()]
    old = list(xs)
    pointers = [x.unsafe_buffer_pointer() for x in xs]
    jforeach.addcmul_(xs, ys, ys, value=0.5)
    assert all(o.is_deleted() for o in old)
    assert [x.unsafe_buffer_pointer() for x in xs] == pointers
    assert_alive(ys)
    assert_values(xs, [h + 0.5 * h * h for h in host(fresh())])


def test_out_of_place_keeps_inputs():
    xs = fresh()
    ys = jforeach.exp(xs)
    assert ys is not xs
    assert_alive(xs)
    assert_values(ys, [np.exp(h) for h in host(xs)])


# ------------------------------------------------------------------------------------------------
# Containers


class Pair(NamedTuple):
    w: jax.Array
    b: jax.Array


def test_in_place_updates_dict():
    a, b, c = fresh()
    d = {"w": a, "b": b, "s": c}
    out = jforeach.mul_(d, 2.0)
    assert out is d
    assert a.is_deleted() and b.is_deleted() and c.is_deleted()
    assert_alive(d)
    assert_values(d, {"w": [2.0, 4.0, 6.0], "b": np.ones((2, 2)), "s": 4.0})


def test_in_place_updates_nested_containers_at_every_level():
    a, b, c = fresh()
    inner = [a, b]
    middle = {"layer": inner, "scale": c}
    tree = [middle, jnp.ones(3, F32)]
    want = [{"layer": [[2.0, 3.0, 4.0], np.full((2, 2), 1.5)], "scale": 3.0}, np.full(3, 2.0)]
    out = jforeach.add_(tree, 1.0)
    assert out is tree and tree[0] is middle and middle["layer"] is inner
    assert_alive(tree)
    assert_values(tree, want)


def test_in_place_tuple_returns_new_tuple_around_updated_list():
    a, b, c = fresh()
    inner = [a, b]
    t = (inner, c)
    out = jforeach.neg_(t)
    assert type(out) is tuple and out is not t
    assert out[0] is inner  # the list inside is updated in place
    assert c.is_deleted() and not out[1].is_deleted()
    assert_alive(inner)
    assert_values(out, ([[-1.0, -2.0, -3.0], np.full((2, 2), -0.5)], -2.0))


def test_in_place_namedtuple_returns_new_namedtuple():
    a, b, _ = fresh()
    p = Pair(a, b)
    out = jforeach.sqrt_(p)
    assert type(out) is Pair and out is not p
    assert a.is_deleted() and b.is_deleted()
    assert_alive(out)
    assert_values(out, Pair(np.sqrt([1.0, 2.0, 3.0]), np.full((2, 2), np.sqrt(0.5))))


def test_in_place_single_array_returns_new_array():
    x = jnp.arange(1.0, 4.0, dtype=F32)
    pointer = x.unsafe_buffer_pointer()
    y = jforeach.reciprocal_(x)
    assert isinstance(y, jax.Array) and y is not x
    assert x.is_deleted() and y.unsafe_buffer_pointer() == pointer
    np.testing.assert_allclose(np.asarray(y), [1.0, 0.5, 1 / 3], rtol=1e-6)


def test_out_of_place_keeps_structure():
    tree = {"a": [jnp.ones(2, F32), (jnp.zeros((), F32),)], "b": Pair(jnp.ones(1, F32), jnp.ones((1, 1), F32))}
    out = jforeach.add(tree, 1.0)
    assert jax.tree.structure(out) == jax.tree.structure(tree)
    assert type(out["b"]) is Pair
    assert_values(out, jax.tree.map(lambda x: np.asarray(x) + 1, tree))


# ------------------------------------------------------------------------------------------------
# Transformations


def test_in_place_inside_jit_equals_out_of_place():
    xs = fresh()
    before = host(xs)
    got = jax.jit(lambda t: jforeach.log1p_(t))(xs)
    assert_intact(xs, before)  # the jit's arguments are not donated
    assert_values(got, [np.log1p(h) for h in before])
    got = jax.jit(lambda t, w: jforeach.lerp_(t, jforeach.exp(t), w))(xs, [0.25, 0.5, 0.75])
    want = jforeach.lerp(xs, jforeach.exp(xs), [0.25, 0.5, 0.75])
    assert_values(got, want)
    assert_intact(xs, before)


def test_in_place_inside_vmap_equals_out_of_place():
    batch = [jnp.stack([x, x + 1]) for x in fresh()]
    before = host(batch)
    got = jax.vmap(lambda t: jforeach.addcdiv_(t, t, jforeach.exp(t), value=2.0))(batch)
    assert_intact(batch, before)
    assert_values(got, [h + 2.0 * h / np.exp(h) for h in before])
    assert_values(jax.vmap(jforeach.sigmoid)(batch), [1 / (1 + np.exp(-h)) for h in before])


def test_traced_scalar_list():
    xs = fresh()
    got = jax.jit(lambda t, s: jforeach.mul(t, [s, 2 * s, 3 * s]))(xs, jnp.float32(2.0))
    assert_values(got, [h * s for h, s in zip(host(xs), [2.0, 4.0, 6.0], strict=True)])


def _loss(t):
    return sum(jnp.sum(y) for y in jforeach.log1p(t))


def test_grad_of_log1p():
    xs = fresh()
    grads = jax.grad(_loss)(xs)
    assert_values(grads, [1 / (1 + h) for h in host(xs)])
    assert_values(jax.jit(jax.grad(_loss))(xs), grads)


def test_grad_through_in_place_equals_out_of_place():
    xs = fresh()
    g_in = jax.grad(lambda t: sum(jnp.sum(y) for y in jforeach.log1p_(list(t))))(xs)
    assert_values(g_in, jax.grad(_loss)(xs))
    assert_alive(xs)


def test_grad_of_operands_and_norm():
    xs, ys, zs = fresh(), jforeach.exp(fresh()), jforeach.sin(fresh())
    g = jax.grad(lambda a, b: sum(jnp.sum(y) for y in jforeach.addcmul(xs, a, b, value=0.5)), argnums=(0, 1))(ys, zs)
    assert_values(g[0], [0.5 * h for h in host(zs)])
    assert_values(g[1], [0.5 * h for h in host(ys)])
    g_norm = jax.grad(lambda t: sum(jforeach.norm(t, 2)))(xs)
    assert_values(g_norm, [h / np.linalg.norm(h) for h in host(xs)])


def test_jvp():
    xs, ts = fresh(), jforeach.cos(fresh())
    primal, tangent = jax.jvp(jforeach.exp, (xs,), (ts,))
    assert_values(primal, [np.exp(h) for h in host(xs)])
    assert_values(tangent, [np.exp(h) * t for h, t in zip(host(xs), host(ts), strict=True)])


def test_vmap_of_reduction():
    batch = [jnp.stack([x, 2 * x]) for x in fresh()]
    got = jax.vmap(lambda t: jforeach.norm(t, 1))(batch)
    want = [[np.abs(h).sum(), 2 * np.abs(h).sum()] for h in host(fresh())]
    assert_values(got, want)


# ------------------------------------------------------------------------------------------------
# Compile once


def test_no_retrace_for_new_values_and_scalars(jax_compiles):
    xs = fresh()
    for _ in range(2):  # the whole path, then the plan it leaves (the fast path), before counting
        jforeach.add(xs, 1.0)
        jforeach.mul(xs, [1.0, 2.0, 3.0])
        jforeach.sub_(xs, 0.5)
    new_arrays, new_shape = fresh(), [jnp.ones(5, F32)]
    traced, compiled = len(jax_compiles.traces), len(jax_compiles.compiles)
    for value in (2.0, 3.0, -1.5):
        out = jforeach.add(xs, value)
        assert_values(out, [h + value for h in host(xs)])
        jforeach.mul(xs, [value, 1.0, 0.0])
        jforeach.sub_(xs, value)
    jforeach.add(new_arrays, 4.0)  # new arrays, same shapes and dtypes
    assert jax_compiles.traces[traced:] == [] and jax_compiles.compiles[compiled:] == []
    # The log does count: a new shape is one new trace of the kernel, and one compile.
    jforeach.add(new_shape, 1.0)
    assert jax_compiles.traces[traced:] == ["add"] and jax_compiles.compiles[compiled:] == ["jit(add)"]


# ------------------------------------------------------------------------------------------------
# Bad input: a clear error, nothing donated


def _mixed():
    """A float32 tensor first, so a donation before the error would show as a deleted array."""
    return [jnp.arange(1.0, 4.0, dtype=F32), jnp.arange(3, dtype=jnp.int32)]


BAD_INPUT = [
    # id, tensors factory, call, exception, message pattern
    ("other_too_short", fresh, lambda t: jforeach.add_(t, fresh()[:2]), ValueError, "3 arrays but other has 2"),
    (
        "other_too_long",
        fresh,
        lambda t: jforeach.mul_(t, [*fresh(), fresh()[0]]),
        ValueError,
        "3 arrays but other has 4",
    ),
    (
        "scalar_list_length",
        fresh,
        lambda t: jforeach.mul_(t, [1.0, 2.0]),
        ValueError,
        "3 arrays but other has 2 scalars",
    ),
    (
        "scalar_list_length_out_of_place",
        fresh,
        lambda t: jforeach.lerp(t, t, [0.5]),
        ValueError,
        "3 arrays but weight has 1",
    ),
    ("int_in_place", _mixed, lambda t: jforeach.log1p_(t), TypeError, "float32 can't be cast to the input dtype int32"),
    ("int_in_place_div", _mixed, lambda t: jforeach.div_(t, 2), TypeError, "can't be cast to the input dtype int32"),
    ("string_leaf", fresh, lambda t: jforeach.add_([*t, "x"], 1.0), TypeError, r"tensors\[3\] is a str"),
    (
        "object_leaf",
        fresh,
        lambda t: jforeach.exp_({"w": t[0], "b": object()}),
        TypeError,
        r"tensors\['b'\] is a object",
    ),
    (
        "object_leaf_in_other",
        fresh,
        lambda t: jforeach.add_(t, [t[0], object(), t[2]]),
        TypeError,
        r"other\[1\] is a object",
    ),
    ("same_array_twice", fresh, lambda t: jforeach.add_([t[0], t[1], t[0]], 1.0), ValueError, "same array"),
    ("shape_growth", fresh, lambda t: jforeach.add_(t, [t[0], t[1], jnp.ones((2, 2), F32)]), ValueError, "shape"),
    ("float_alpha_int", _mixed, lambda t: jforeach.add_(t, t, alpha=0.5), TypeError, "alpha"),
    ("float_alpha_int_out_of_place", _mixed, lambda t: jforeach.sub(t, 1, alpha=1.5), TypeError, "alpha"),
    ("int_negative_pow", _mixed, lambda t: jforeach.pow_(t, -1), ValueError, "negative"),
    ("int_negative_pow_list", _mixed, lambda t: jforeach.pow(t, [2, -2]), ValueError, "negative"),
]


@pytest.mark.parametrize(("make", "call", "exc", "match"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
def test_bad_input_raises_before_donation(make, call, exc, match):
    tensors = make()
    before = host(tensors)
    with pytest.raises(exc, match=match):
        call(tensors)
    assert_intact(tensors, before)


def test_different_structures_names_both():
    xs = fresh()
    other = {"a": jnp.ones(3, F32), "b": jnp.ones((2, 2), F32), "c": jnp.ones((), F32)}
    before = host(xs)
    with pytest.raises(ValueError) as info:
        jforeach.add_(xs, other)
    assert str(jax.tree.structure(other)) in str(info.value)
    assert str(jax.tree.structure(xs)) in str(info.value)
    assert_intact(xs, before)
    assert_alive(other)


def test_already_donated_array_is_an_error_that_donates_nothing():
    xs = fresh()
    old = xs[0]
    jforeach.add_(xs, 1.0)
    survivor = xs[1]
    with pytest.raises((ValueError, RuntimeError), match="deleted|donated"):
        jforeach.add_([survivor, old], 1.0)
    assert not survivor.is_deleted()
    assert_values(survivor, np.full((2, 2), 1.5))


def test_add_in_place_with_itself():
    xs = fresh()
    want = [2 * h for h in host(xs)]
    out = jforeach.add_(xs, xs)
    assert out is xs
    assert_alive(xs)
    assert_values(xs, want)
    jforeach.addcmul_(xs, xs, xs, value=1.0)  # x + x * x, every operand aliasing the donated buffer
    assert_values(xs, [w + w * w for w in want])


# ------------------------------------------------------------------------------------------------
# Scale and edge shapes

# Long lists run as kernels of ``_engine.CHUNK`` arrays. Here the chunk is 64 arrays, so that many
# chunks cost little to compile; the chunking does not depend on the size, and lists over the real
# 1,024 run in tests/test_differential.py, tests/test_fast_path.py and tests/test_nothing_lost.py
SMALL_CHUNK = 64
N_LARGE = 20 * SMALL_CHUNK + 17  # 21 chunks, the last one short
SPOTS = (0, 1, 63, 64, 65, 127, 128, 777, N_LARGE - 2, N_LARGE - 1)  # include chunk boundaries


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(_engine, "CHUNK", SMALL_CHUNK)
    monkeypatch.setattr(_engine, "_PLANS", {})  # call plans made with the real chunk size stay out


@pytest.fixture
def large_list(small_chunks):
    base = jnp.arange(N_LARGE, dtype=F32)
    return lambda: list(base * 1)  # 0-d arrays with values 0 .. N_LARGE - 1, in buffers XLA owns


def test_large_list_in_place(large_list):
    xs = large_list()
    old = list(xs)
    pointers = [xs[i].unsafe_buffer_pointer() for i in SPOTS]
    weights = [float(i % 7) for i in range(N_LARGE)]
    out = jforeach.add_(xs, weights, alpha=2)
    assert out is xs and len(xs) == N_LARGE
    assert all(o.is_deleted() for o in old)
    assert not any(x.is_deleted() for x in xs)
    assert [xs[i].unsafe_buffer_pointer() for i in SPOTS] == pointers
    for i in SPOTS:
        assert float(xs[i]) == i + 2.0 * (i % 7)


def test_large_list_out_of_place(large_list, jax_compiles):
    xs = large_list()
    ys = jforeach.addcmul(xs, xs, [jnp.float32(2.0)] * N_LARGE, value=0.5)
    assert len(ys) == N_LARGE
    assert_alive(xs)
    for i in SPOTS:
        assert float(ys[i]) == i + i
    traced, compiled = len(jax_compiles.traces), len(jax_compiles.compiles)
    zs = jforeach.addcmul(ys, xs, xs, value=1.0)
    assert jax_compiles.traces[traced:] == [] and jax_compiles.compiles[compiled:] == []  # the first call's kernels
    np.testing.assert_allclose([float(zs[i]) for i in SPOTS], [2.0 * i + i * i for i in SPOTS], rtol=1e-7)


def _last_int(xs):
    xs[-1] = jnp.asarray(7, jnp.int32)
    return lambda: jforeach.log1p_(xs)


def _first_twice(xs):
    xs[-1] = xs[0]
    return lambda: jforeach.add_(xs, 1.0)


def _last_grows(xs):
    other = list(xs)
    other[-1] = jnp.ones(3, F32)
    return lambda: jforeach.sub_(xs, other)


def _short_scalars(xs):
    return lambda: jforeach.mul_(xs, [2.0] * (len(xs) - 1))


@pytest.mark.parametrize(
    ("setup", "exc", "match"),
    [
        (_last_int, TypeError, "can't be cast"),
        (_first_twice, ValueError, "same array"),
        (_last_grows, ValueError, "shape"),
        (_short_scalars, ValueError, f"{N_LARGE} arrays but other has {N_LARGE - 1} scalars"),
    ],
    ids=["int_at_the_end", "same_array_first_and_last", "shape_growth_at_the_end", "scalar_list_length"],
)
def test_large_list_error_at_the_end_donates_nothing(large_list, setup, exc, match):
    xs = large_list()
    call = setup(xs)
    kept = list(xs)
    with pytest.raises(exc, match=match):
        call()
    assert xs == kept
    assert not any(x.is_deleted() for x in xs)
    for i in SPOTS[:-1]:
        assert float(xs[i]) == i


def _mixed_int_list(n: int, mixed_at: int) -> tuple[list, list[float]]:
    return [jnp.arange(3, dtype=jnp.int32) + i for i in range(n)], [1] * mixed_at + [0.5] + [2] * (n - mixed_at - 1)


@pytest.mark.parametrize("mixed_at", [SMALL_CHUNK - 1, SMALL_CHUNK])  # last in a chunk, first in the next
def test_long_mixed_scalar_list_promotes_per_entry_in_every_chunk(small_chunks, mixed_at):
    n = 3 * SMALL_CHUNK + 5
    xs, scalars = _mixed_int_list(n, mixed_at)
    got = jforeach.add(xs, scalars)
    want = torch._foreach_add([torch.tensor(np.asarray(x)) for x in xs], scalars)
    for i in sorted({0, mixed_at, SMALL_CHUNK - 1, SMALL_CHUNK, SMALL_CHUNK + 1, 2 * SMALL_CHUNK, n - 1}):
        assert str(got[i].dtype) == str(want[i].dtype).removeprefix("torch."), i
        np.testing.assert_array_equal(np.asarray(got[i]), want[i].numpy())


def test_long_mixed_scalar_list_in_place_raises_before_donating(small_chunks):
    n = 3 * SMALL_CHUNK + 5
    xs, scalars = _mixed_int_list(n, 2 * SMALL_CHUNK + 3)  # the float entry that cannot be cast is in the third chunk
    kept = list(xs)
    with pytest.raises(TypeError, match="can't be cast"):
        jforeach.add_(xs, scalars)
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch._foreach_add_([torch.tensor(np.asarray(x)) for x in xs], scalars)
    assert xs == kept and not any(x.is_deleted() for x in xs)


def _with_nans(sizes: list[int], nan_in: set[int]) -> list[np.ndarray]:
    rng = np.random.default_rng(len(sizes))
    arrays = [rng.uniform(-2, 2, size).astype(np.float32) for size in sizes]
    for k in nan_in:
        arrays[k][-1] = np.nan  # last: where XLA:CPU's vectorized max loses it
    return arrays


@pytest.mark.parametrize(
    "sizes",
    [[4096, 4096], [5000, 7, 5000], [20_000, 9, 3, 20_000, 4096]],
    ids=["equal_runs", "segments", "slices_and_segments"],
)
@pytest.mark.parametrize(("name", "ord_"), [("max", None), ("norm", float("inf")), ("norm", float("-inf"))])
def test_max_and_inf_norms_propagate_nan_like_torch(sizes, name, ord_):
    arrays = _with_nans(sizes, {0, len(sizes) - 2})
    args = () if ord_ is None else (ord_,)
    want = [float(t) for t in getattr(torch, f"_foreach_{name}")([torch.tensor(a) for a in arrays], *args)]
    as_list = [float(v) for v in getattr(jforeach, name)([jnp.asarray(a) for a in arrays], *args)]
    packed = getattr(jforeach, name)(jforeach.pack([jnp.asarray(a) for a in arrays]), *args)
    np.testing.assert_array_equal(as_list, want)
    np.testing.assert_array_equal([float(v) for v in packed.unpack()], want)


def test_sign_of_nan_is_zero_like_torch():
    values = np.array([np.nan, -2.0, 0.0, 3.0], np.float32)
    want = torch._foreach_sign([torch.tensor(values)])[0].numpy()
    np.testing.assert_array_equal(np.asarray(jforeach.sign([jnp.asarray(values)])[0]), want)
    np.testing.assert_array_equal(np.asarray(jforeach.sign(jforeach.pack([jnp.asarray(values)])).unpack()[0]), want)


@pytest.mark.parametrize("ord_", [-1, -0.5, float("-inf"), float("inf")])
def test_norm_of_an_empty_tensor_without_identity_raises_like_torch(ord_):
    with pytest.raises(RuntimeError, match="empty tensor"):
        torch._foreach_norm([torch.zeros(0)], ord_)
    xs = [jnp.ones(2, F32), jnp.zeros((3, 0), F32)]
    with pytest.raises(ValueError, match="empty tensor"):
        jforeach.norm(xs, ord_)


def test_addcdiv_of_two_integral_tensors_raises_like_torch():
    x, ints, floats = np.zeros(3, np.float32), np.arange(1, 4, dtype=np.int32), np.ones(3, np.float32)
    with pytest.raises(RuntimeError, match="Integer division"):
        torch._foreach_addcdiv([torch.tensor(x)], [torch.tensor(ints)], [torch.tensor(ints)])
    xs = [jnp.asarray(x)]
    with pytest.raises(TypeError, match="integer division"):
        jforeach.addcdiv_(xs, [jnp.asarray(ints)], [jnp.asarray(ints)])
    assert_alive(xs)
    want = torch._foreach_addcdiv([torch.tensor(x)], [torch.tensor(ints)], [torch.tensor(floats)])[0].numpy()
    np.testing.assert_array_equal(np.asarray(jforeach.addcdiv(xs, [jnp.asarray(ints)], [jnp.asarray(floats)])[0]), want)


@pytest.mark.parametrize("pack", [False, True], ids=["list", "packed"])
def test_pow_checks_negative_integer_exponents_per_tensor_like_torch(pack):
    floats, ints = np.array([2.0, 1.0], np.float32), np.array([3], np.int32)
    for exponents in ([-1, 2], [-1.0, -1.0]):  # a negative int on the float tensor; negative floats
        want = torch._foreach_pow([torch.tensor(floats), torch.tensor(ints)], exponents)
        xs = [jnp.asarray(floats), jnp.asarray(ints)]
        got = jforeach.pow(jforeach.pack(xs) if pack else xs, exponents)
        for g, w in zip(got.unpack() if pack else got, want, strict=True):
            assert str(g.dtype) == str(w.dtype).removeprefix("torch.")
            np.testing.assert_allclose(np.asarray(g), w.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="negative integer powers"):
        torch._foreach_pow([torch.tensor(floats), torch.tensor(ints)], [2, -1])
    xs = [jnp.asarray(floats), jnp.asarray(ints)]
    target = jforeach.pack(xs) if pack else xs
    with pytest.raises(ValueError, match=r"negative integer powers are not allowed \(tensor 1"):
        jforeach.pow_(target, [2, -1])
    assert_alive(target)


_TENSOR_LIST_CASES = [
    ("add", [np.array([1, 2], np.int32)], [np.array(2.5, np.float64)]),
    ("add", [np.array([True, False])], [np.array(2, np.int32)]),
    ("pow", [np.array(3.0, np.float32)], [np.array(0.9, np.float64)]),
    ("pow", [np.array([2, 3], np.int32)], [np.array(-1, np.int64)]),
    ("clamp_min", [np.array(1.0, np.float32), np.array([0.5, 2.0], np.float32)], [np.array(1.5, np.float64)] * 2),
    ("maximum", [np.array([True, False])], [np.array(True)]),
    ("lerp", [np.array([1.0, 2.0], np.float32)], [np.array([0.0, 0.0], np.float32)], [np.array(0.25, np.float64)]),
]


@pytest.mark.parametrize("case", _TENSOR_LIST_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(_TENSOR_LIST_CASES)])
def test_a_list_of_0d_arrays_is_a_tensor_list_like_torch(case):
    name, tensors, *others = case
    want = getattr(torch, f"_foreach_{name}")(
        [torch.tensor(t) for t in tensors], *[[torch.tensor(o) for o in os] for os in others]
    )
    got = getattr(jforeach, name)([jnp.asarray(t) for t in tensors], *[[jnp.asarray(o) for o in os] for os in others])
    for g, w in zip(got, want, strict=True):
        assert str(g.dtype) == str(w.dtype).removeprefix("torch."), (g.dtype, w.dtype)
        np.testing.assert_allclose(np.asarray(g, np.float64), w.double().numpy(), rtol=1e-6)


def test_integers_in_a_mixed_scalar_list_stay_exact():
    big = 2**53 + 1 if jax.config.jax_enable_x64 else 2**24 + 1  # not representable in the float type
    tensors = [np.array([0], np.int64 if jax.config.jax_enable_x64 else np.int32), np.zeros(1, np.float32)]
    want = torch._foreach_add([torch.tensor(t) for t in tensors], [big, 0.5])
    got = jforeach.add([jnp.asarray(t) for t in tensors], [big, 0.5])
    assert int(got[0][0]) == int(want[0][0]) == big
    assert float(got[1][0]) == float(want[1][0]) == 0.5


def test_error_messages_name_the_problem():
    xs = [jnp.ones(2, F32), jnp.ones(3, F32)]
    with pytest.raises(TypeError, match=r"tensors\[1\] \(shape \(3,\)\): .*broadcast"):
        jforeach.add_(xs, [jnp.ones(2, F32), jnp.ones(5, F32)])
    assert_alive(xs)
    with pytest.raises(RuntimeError, match="0 dim"):  # torch's Tensor overload takes only 0-d tensors
        torch._foreach_add([torch.ones(2), torch.ones(1)], torch.tensor([2.5, 0.5]))
    with pytest.raises(ValueError, match=r"does not broadcast to the shape \(1,\) of tensor 1"):
        jforeach.add_(xs[:1] + [jnp.ones(1, F32)], np.array([2.5, 0.5], np.float32))
    with pytest.raises(TypeError, match="other must be a number .*; got 'a'"):
        jforeach.add(xs, "a")
    with pytest.raises(TypeError, match="other must be .*; got None"):
        jforeach.add(xs, None)
    with pytest.raises(TypeError, match=r"other\[1\] is None"):
        jforeach.add(xs, [1.0, None])
    with pytest.raises(TypeError, match="mm does not take a Packed"):
        packed = jforeach.pack([jnp.ones((2, 2), F32)])
        jforeach.mm(packed, packed)
    too_big, int_name = (2**70, "int64") if jax.config.jax_enable_x64 else (2**40, "int32")
    with pytest.raises(ValueError, match=f"other={too_big} does not fit in {int_name}"):
        jforeach.add([jnp.ones(2, jnp.int32)], too_big)
    if not jax.config.jax_enable_x64:  # a numpy int64 would wrap silently into int32
        with pytest.raises(ValueError, match="does not fit in int32"):
            jforeach.mul([jnp.ones(2, F32)], np.int64(2**40))


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
def test_bool_alpha_only_for_bool_results_like_torch(dtype):
    x = np.ones(2, dtype)
    try:
        want = torch._foreach_add([torch.tensor(x)], [torch.tensor(x)], alpha=True)[0].numpy()
    except RuntimeError as e:
        assert "Boolean alpha" in str(e)
        with pytest.raises(TypeError, match="bool alpha"):
            jforeach.add([jnp.asarray(x)], [jnp.asarray(x)], alpha=True)
    else:
        got = jforeach.add([jnp.asarray(x)], [jnp.asarray(x)], alpha=True)[0]
        np.testing.assert_array_equal(np.asarray(got), want)


def test_powsum_takes_orders_zero_and_infinite_literally_like_torch():
    """torch's powsum is the sum of |x| ** ord for every order: 0 counts every element (0 ** 0 = 1,
    where the 0-norm counts non-zeros), +inf gives inf, -inf inf where an element is 0."""
    arrays = [
        np.array([0.5, 2.0], np.float32),
        np.zeros(0, np.float32),
        np.array([1.0, 0.5], np.float32),
        np.array([0.0, -3.0, 0.0], np.float32),
    ]
    for ord_ in (float("inf"), float("-inf"), -1.0, 0, 0.0, False):
        want = [float(t) for t in torch._foreach_powsum([torch.tensor(a) for a in arrays], ord_)]
        got = [float(v) for v in jforeach.powsum([jnp.asarray(a) for a in arrays], ord_)]
        packed = [float(v) for v in jforeach.powsum(jforeach.pack([jnp.asarray(a) for a in arrays]), ord_).unpack()]
        assert got == want == packed, ord_


def test_a_tuple_of_0d_arrays_is_a_tensor_list_too():
    tensors = [np.array([1, 2], np.int32), np.array([3], np.int32)]
    others = (np.array(2.5, np.float64), np.array(0.5, np.float64))
    want = torch._foreach_add([torch.tensor(t) for t in tensors], [torch.tensor(o) for o in others])
    got = jforeach.add([jnp.asarray(t) for t in tensors], tuple(jnp.asarray(o) for o in others))
    for g, w in zip(got, want, strict=True):
        assert str(g.dtype) == str(w.dtype).removeprefix("torch.")
        np.testing.assert_allclose(np.asarray(g), w.numpy())


def test_ints_too_wide_for_the_int_type_in_a_scalar_list():
    # torch takes ints up to 2**64 - 1 (uint64) and treats them as floats on float tensors
    too_big = 2**63 + 2**40 if jax.config.jax_enable_x64 else 2**40
    got = jforeach.add([jnp.ones(2, F32)] * 2, [too_big, 2.5])  # mixed: the int travels as a float
    want = torch._foreach_add([torch.ones(2)] * 2, [too_big, 2.5])
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.asarray(g), w.numpy())
    with pytest.raises(ValueError, match=r"other=\d+ does not fit in int"):
        jforeach.add([jnp.ones(2, jnp.int32)] * 2, [too_big, too_big])
    with pytest.raises(ValueError, match="other: an entry, 1180591620717411303424, does not fit"):
        jforeach.add([jnp.ones(2, F32)] * 2, [2**70, 2.5])  # beyond uint64: torch raises too


def test_zero_size_and_0d_arrays():
    xs = [jnp.zeros((0,), F32), jnp.zeros((2, 0, 3), F32), jnp.array(3.0, F32), jnp.ones(2, F32) * 2]
    out = jforeach.add(xs, 1.0)
    assert [o.shape for o in out] == [(0,), (2, 0, 3), (), (2,)]
    assert_values(out, [np.zeros(0), np.zeros((2, 0, 3)), 4.0, [3.0, 3.0]])
    norms = jforeach.norm(xs)
    assert_values(norms, [0.0, 0.0, 3.0, np.sqrt(8.0)])
    zero_d = xs[2]
    jforeach.mul_(xs, 2.0)
    assert zero_d.is_deleted()
    assert_alive(xs)
    assert_values(xs, [np.zeros(0), np.zeros((2, 0, 3)), 6.0, [4.0, 4.0]])


def test_max_of_zero_size_is_an_error():
    xs = [jnp.ones(2, F32), jnp.zeros((0,), F32)]
    with pytest.raises(ValueError, match="empty"):
        jforeach.max(xs)


@pytest.mark.parametrize("empty", [[], {}, ()], ids=["list", "dict", "tuple"])
def test_empty_containers(empty):
    assert jforeach.add(empty, 1.0) == empty
    assert jforeach.norm(empty) == empty
    assert jforeach.mul(empty, []) == empty
    out = jforeach.add_(empty, empty)
    assert out == empty
    if isinstance(empty, list | dict):
        assert out is empty


# ------------------------------------------------------------------------------------------------
# Dtypes and leaf types


def _to_torch(x: jax.Array) -> torch.Tensor:
    if x.dtype == jnp.bfloat16:
        return torch.tensor(np.asarray(x, np.float32)).to(torch.bfloat16)
    return torch.tensor(np.asarray(x))


def _assert_like_torch(got: list[jax.Array], want: list[torch.Tensor]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype.name == str(w.dtype).removeprefix("torch."), (g.dtype, w.dtype)
        rtol = 1e-2 if g.dtype == jnp.bfloat16 else 1e-6
        np.testing.assert_allclose(np.asarray(g, np.float64), w.double().numpy(), rtol=rtol)


MIXED_CALLS = {
    "log1p": (lambda t: jforeach.log1p(t), lambda t: torch._foreach_log1p(t)),
    "add_int": (lambda t: jforeach.add(t, 2), lambda t: torch._foreach_add(t, 2)),
    "add_float": (lambda t: jforeach.add(t, 1.5), lambda t: torch._foreach_add(t, 1.5)),
    "mul_scalar_list": (lambda t: jforeach.mul(t, [2, 0.5, 3]), lambda t: torch._foreach_mul(t, [2, 0.5, 3])),
    "maximum_list": (lambda t: jforeach.maximum(t, t), lambda t: torch._foreach_maximum(t, t)),
    "abs": (lambda t: jforeach.abs(t), lambda t: torch._foreach_abs(t)),
    "max": (lambda t: jforeach.max(t), lambda t: torch._foreach_max(t)),
}


@pytest.mark.parametrize("name", list(MIXED_CALLS))
def test_mixed_dtypes_in_one_list_like_torch(name):
    xs = [jnp.array([0.5, 1.5, 2.5], F32), jnp.array([[1.0, 2.0]], jnp.bfloat16), jnp.array([1, 4, 9], jnp.int32)]
    ours, theirs = MIXED_CALLS[name]
    _assert_like_torch(ours(xs), theirs([_to_torch(x) for x in xs]))


def test_mixed_dtypes_in_place_like_torch():
    xs = [jnp.array([0.5, 1.5, 2.5], F32), jnp.array([[1.0, 2.0]], jnp.bfloat16), jnp.array([1, 4, 9], jnp.int32)]
    ts = [_to_torch(x) for x in xs]
    jforeach.add_(xs, 2)
    torch._foreach_add_(ts, 2)
    _assert_like_torch(xs, ts)
    floats, tfloats = xs[:2], ts[:2]
    jforeach.mul_(floats, 1.5)
    torch._foreach_mul_(tfloats, 1.5)
    _assert_like_torch(floats, tfloats)
    _assert_like_torch(jforeach.norm(floats), torch._foreach_norm(tfloats))


def test_numpy_and_python_scalar_leaves_are_converted():
    leaves = [np.arange(3, dtype=np.float32), 2.5, np.float32(1.5), np.ones((2, 2), np.int32)]
    out = jforeach.add(leaves, 1)
    assert all(isinstance(o, jax.Array) for o in out)
    assert out[0].dtype == F32 and out[2].dtype == F32 and out[3].dtype == jnp.int32
    assert_values(out, [[1.0, 2.0, 3.0], 3.5, 2.5, np.full((2, 2), 2)])
    # in place: a numpy array is mutable, so it is written into (as a torch tensor would be), in a
    # list, in a dict and by itself; an immutable Python number is replaced in its list
    arr = np.arange(3, dtype=np.float32)
    xs = [arr, 2.0]
    jforeach.mul_(xs, 3.0)
    assert xs[0] is arr and isinstance(xs[1], jax.Array)
    np.testing.assert_array_equal(arr, [0.0, 3.0, 6.0])
    assert_values(xs, [[0.0, 3.0, 6.0], 6.0])
    tree = {"w": np.ones((2, 2), np.float32)}
    w = tree["w"]
    jforeach.log1p_(tree)
    assert tree["w"] is w
    np.testing.assert_allclose(w, np.log1p(np.ones((2, 2))), rtol=1e-6)
    single = np.array([1.0, 4.0], np.float32)
    assert jforeach.sqrt_(single) is single
    np.testing.assert_array_equal(single, [1.0, 2.0])
    read_only = np.ones(2, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=r"`jforeach.mul_`: tensors\[0\] is a read-only numpy array"):
        jforeach.mul_([read_only], 2.0)
    np.testing.assert_array_equal(read_only, [1.0, 1.0])
    # numpy arrays as the other operand
    assert_values(
        jforeach.sub(fresh(), [np.ones(3, np.float32), np.ones((2, 2), np.float32), 1.0]),
        [[0.0, 1.0, 2.0], np.full((2, 2), -0.5), 1.0],
    )


# The list path on 8 sharded devices is checked in tests/test_sharding.py (one process for all).


def test_import_does_not_start_the_jax_backend():
    # jax.distributed.initialize and backend flags must still be settable after `import jforeach`
    code = "import jforeach; from jax._src import xla_bridge; print(len(xla_bridge._backends))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0", out.stdout + out.stderr


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_powsum_of_complex_tensors_is_of_their_magnitudes_like_torch(dtype):
    """torch's powsum takes complex tensors (the sum of |x| ** ord, in the real dtype)."""
    rng = np.random.default_rng(7)
    arrays = [
        (rng.standard_normal(5) + 1j * rng.standard_normal(5)).astype(dtype),
        np.zeros(0, dtype),
        np.array([0j, 2 - 1j], dtype),
    ]
    for ord_ in (0, 1, 2, 3.5, float("inf"), float("-inf"), -1.5):
        want = [t.numpy() for t in torch._foreach_powsum([torch.from_numpy(a.copy()) for a in arrays], ord_)]
        got = jforeach.powsum([jnp.asarray(a) for a in arrays], ord_)
        packed = jforeach.powsum(jforeach.pack([jnp.asarray(a) for a in arrays]), ord_).unpack()
        for w, g, p in zip(want, got, packed, strict=True):
            assert np.asarray(g).dtype == w.dtype == np.asarray(p).dtype, ord_
            # a sum of a few powers of magnitudes: a few units in the last place of the real dtype
            np.testing.assert_allclose(np.asarray(g), w, rtol=8 * np.finfo(w.dtype).eps, err_msg=str(ord_))
            np.testing.assert_allclose(np.asarray(p), w, rtol=8 * np.finfo(w.dtype).eps, err_msg=str(ord_))
