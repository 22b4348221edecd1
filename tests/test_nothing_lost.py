"""A rejected call loses nothing: every check runs over the whole call before any buffer is donated.

Lists over 1,024 arrays run as several kernels (chunks); a failure the last chunk would meet must be
found before the first chunk donates. Errors name the jforeach function and the global position.
"""

from __future__ import annotations

import gc

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import jforeach
from jforeach import _engine

LONG = _engine.CHUNK + 76  # two chunks


def fresh(n, shape=(2,), dtype=jnp.float32):
    return [jnp.asarray(np.full(shape, 1.0 + i), dtype) for i in range(n)]


def a_deleted_array():
    holder = [jnp.asarray(np.ones(2, np.float32))]
    dead = holder[0]
    jforeach.exp_(holder)
    assert dead.is_deleted()
    return dead


def snapshot(arrays):
    return [None if a.is_deleted() else np.asarray(a).copy() for a in arrays]


def assert_untouched(arrays, before, skip=()):
    for i, (a, b) in enumerate(zip(arrays, before, strict=True)):
        if i in skip:
            continue
        assert not a.is_deleted(), f"array {i} was deleted by a rejected call"
        np.testing.assert_array_equal(np.asarray(a), b)


def test_the_reproducer_loses_nothing():
    xs = fresh(1100)
    xs[1050] = a_deleted_array()
    held = list(xs)
    before = snapshot(xs)
    with pytest.raises(
        ValueError, match=r"`jforeach.log1p_`: tensors\[1050\] was deleted \(donated to an earlier call\)"
    ):
        jforeach.log1p_(xs)
    assert xs == held  # the caller's list still holds its arrays
    assert_untouched(xs, before, skip={1050})


@pytest.mark.parametrize("n", [3, LONG])
@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("add_", lambda xs, ys: jforeach.add_(xs, ys)),
        ("addcmul_", lambda xs, ys: jforeach.addcmul_(xs, ys, ys, value=0.5)),
        ("copy_", lambda xs, ys: jforeach.copy_(xs, ys)),
        ("lerp_", lambda xs, ys: jforeach.lerp_(xs, ys, 0.25)),
        ("add", lambda xs, ys: jforeach.add(xs, ys)),
    ],
)
def test_a_deleted_operand_is_named_and_nothing_is_donated(n, name, call):
    xs, ys = fresh(n), fresh(n)
    ys[n - 2] = a_deleted_array()
    before = snapshot(xs)
    with pytest.raises(ValueError, match=rf"`jforeach.{name}`: \w+\[{n - 2}\] was deleted"):
        call(xs, ys)
    assert_untouched(xs, before)


def test_a_deleted_tensor_in_a_dict_is_named_by_its_key():
    tree = {"a": jnp.ones(2), "b": a_deleted_array()}
    with pytest.raises(ValueError, match=r"`jforeach.mul_`: tensors\['b'\] was deleted"):
        jforeach.mul_(tree, 2.0)
    assert not tree["a"].is_deleted()


def test_a_deleted_packed_operand_raises_before_donating():
    p, q = jforeach.pack(fresh(4)), jforeach.pack(fresh(4))
    jforeach.exp_(jforeach.Packed(q.buffers, q.layout))  # deletes q's buffers
    buffers = p.buffers
    with pytest.raises(ValueError, match="donated"):
        jforeach.add_(p, q)
    assert not any(b.is_deleted() for b in buffers) and p.buffers == buffers


@pytest.mark.parametrize("tensors", [lambda a: [a, None], lambda a: (a, None)], ids=["list", "tuple"])
@pytest.mark.parametrize("fname", ["log1p_", "log1p", "norm", "zero_"])
def test_none_in_a_tensor_list_is_a_type_error(tensors, fname):
    """torch's TensorList: ``torch._foreach_log1p_([a, None])`` raises."""
    a = jnp.ones(2)
    with pytest.raises(TypeError):
        torch._foreach_log1p_([torch.ones(2), None])
    with pytest.raises(TypeError, match=rf"`jforeach.{fname}`: tensors\[1\] is None"):
        getattr(jforeach, fname)(tensors(a))
    assert not a.is_deleted()


@pytest.mark.parametrize(
    "tensors",
    [lambda a: {"w": a, "b": None}, lambda a: {"w": [a], "b": {"c": None}}, lambda a: [a, {"skip": None}]],
    ids=["dict", "nested", "list-of-dict"],
)
def test_none_deeper_in_a_pytree_is_an_empty_subtree(tensors):
    """As in JAX (``eqx.partition`` leaves None for what it filters out): no leaf, nothing to do."""
    a = jnp.asarray(np.array([0.5, 2.0], np.float32))
    tree = tensors(a)
    out = jforeach.log1p(tree)
    assert jax.tree.structure(out) == jax.tree.structure(tree)
    np.testing.assert_allclose(np.asarray(jax.tree.leaves(out)[0]), np.log1p([0.5, 2.0]), rtol=1e-6)
    jforeach.mul_(tree, 2.0)
    np.testing.assert_array_equal(np.asarray(jax.tree.leaves(tree)[0]), [1.0, 4.0])


def test_none_tensors_and_none_operand_entries():
    with pytest.raises(TypeError, match="`jforeach.log1p_`: tensors is None"):
        jforeach.log1p_(None)
    xs = fresh(2)
    with pytest.raises(TypeError, match=r"`jforeach.add_`: other\[1\] is None"):
        jforeach.add_(xs, [jnp.ones(2), None])
    assert_untouched(xs, snapshot(fresh(2)))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda xs, ys: jforeach.add_(xs, ys),
            TypeError,
            r"`jforeach.add_`: tensors\[1090\] \(shape \(2,\)\): .*broadcast",
        ),
        (
            lambda xs, ys: jforeach.copy_(xs, ys),
            ValueError,
            r"`jforeach.copy_`: tensors\[1090\] \(shape \(2,\)\): .*broadcast",
        ),
        (
            lambda xs, ys: jforeach.addcmul_(xs, ys, ys),
            TypeError,
            r"`jforeach.addcmul_`: tensors\[1090\] \(shape \(2,\)\): .*broadcast",
        ),
    ],
)
def test_chunked_errors_name_the_global_position(call, error, message):
    xs, ys = fresh(1100), fresh(1100)
    ys[1090] = jnp.ones(5)
    before = snapshot(xs)
    with pytest.raises(error, match=message):
        call(xs, ys)
    assert_untouched(xs, before)


def test_chunked_dtype_error_names_the_global_position():
    xs = fresh(1100)
    xs[1090] = jnp.ones(2, jnp.int32)
    before = snapshot(xs)
    with pytest.raises(TypeError, match=r"`jforeach.log1p_`: tensors\[1090\] \(shape \(2,\)\): result type float32"):
        jforeach.log1p_(xs)
    assert_untouched(xs, before)


def test_an_unexpected_keyword_names_the_function():
    with pytest.raises(
        TypeError, match=r"`jforeach.mul\(tensors, other, /\)`: got an unexpected keyword argument 'alpha'"
    ):
        jforeach.mul(fresh(2), 2.0, alpha=2)


# ------------------------------------------------------------------------------------------------
# Tracers never reach a container that outlives the trace


@pytest.mark.parametrize("packed", [False, True], ids=["list", "packed"])
def test_in_place_on_closed_over_arrays_inside_jit_raises(packed):
    params = fresh(2)
    if packed:
        params = jforeach.pack(params)
    held = params.buffers if packed else list(params)

    @jax.jit
    def step(new):
        jforeach.lerp_(params, new, 0.1)
        return params

    new = [x + 1 for x in fresh(2)]
    new = jforeach.pack(new) if packed else new
    with pytest.raises(ValueError, match=r"`jforeach.lerp_`: the tensors are concrete arrays but an operand is traced"):
        step(new)
    now = params.buffers if packed else params
    assert all(type(a) is type(held[0]) for a in now)  # no tracer was written back
    assert list(now) == list(held)
    # the documented ways: pass the tensors in, or use the out-of-place op and return it
    inside = jax.jit(lambda ps, new: jforeach.lerp_(ps, new, 0.1))(params, new)
    outside = jax.jit(lambda new: jforeach.lerp(params, new, 0.1))(new)
    for got in (inside, outside):
        got = got.unpack() if packed else got
        np.testing.assert_allclose(np.asarray(got[0]), [1.1, 1.1], rtol=1e-6)  # 1 + 0.1 (2 - 1)
        np.testing.assert_allclose(np.asarray(got[1]), [2.1, 2.1], rtol=1e-6)


def test_in_place_on_arrays_made_inside_jit_still_works():
    @jax.jit
    def f(x):
        xs = [x, x * 2]
        jforeach.mul_(xs, 3.0)  # the list lives inside the trace: nothing leaks
        return xs

    out = f(jnp.ones(2))
    np.testing.assert_array_equal(np.asarray(out[1]), [6.0, 6.0])


def test_numpy_in_place_without_x64_would_lose_precision():
    wide = np.ones(2, np.float64)
    with jax.enable_x64(False):
        with pytest.raises(TypeError, match=r"`jforeach.mul_`: tensors\[0\] is a float64 numpy array"):
            jforeach.mul_([wide], 2.0)
    np.testing.assert_array_equal(wide, [1.0, 1.0])


# ------------------------------------------------------------------------------------------------
# Generated hostile calls: every rejected call leaves every input alive and unchanged

FAULTS = ["deleted tensor", "deleted operand", "none tensor", "int tensor", "wide operand", "short operand"]
OPS = {
    "add_": (lambda xs, ys: jforeach.add_(xs, ys, alpha=0.5), ValueError),
    "mul_": (lambda xs, ys: jforeach.mul_(xs, ys), ValueError),
    "addcdiv_": (lambda xs, ys: jforeach.addcdiv_(xs, ys, ys, value=0.5), ValueError),
    "lerp_": (lambda xs, ys: jforeach.lerp_(xs, ys, 0.3), ValueError),
    "copy_": (lambda xs, ys: jforeach.copy_(xs, ys), ValueError),
}


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    n=st.sampled_from([2, 5, LONG]),
    fault=st.sampled_from(FAULTS),
    name=st.sampled_from(sorted(OPS)),
    where=st.floats(0.0, 1.0),
)
def test_generated_rejected_calls_lose_nothing(n, fault, name, where):
    xs, ys = fresh(n), fresh(n)
    i = min(int(where * n), n - 1)
    victims = list(range(n))
    if fault == "deleted tensor":
        xs[i] = a_deleted_array()
        victims.remove(i)
    elif fault == "deleted operand":
        ys[i] = a_deleted_array()
    elif fault == "none tensor":
        xs[i] = None
        victims.remove(i)
    elif fault == "int tensor":  # float results cannot be written into int32 (copy_ converts: not a fault)
        xs[i] = jnp.ones(2, jnp.int32)
        if name == "copy_":
            ys[i] = jnp.ones(3)
    elif fault == "wide operand":  # would change the tensor's shape
        ys[i] = jnp.ones((3, 2))
    elif fault == "short operand":
        ys = ys[:-1]
    held = list(xs)
    before = {k: np.asarray(xs[k]).copy() for k in victims}
    operands_before = [None if y.is_deleted() else np.asarray(y).copy() for y in ys]
    call, _ = OPS[name]
    with pytest.raises((TypeError, ValueError), match=rf"`jforeach.{name}`: "):
        call(xs, ys)
    assert xs == held
    for k in victims:
        assert not xs[k].is_deleted(), (fault, name, n, i, k)
        np.testing.assert_array_equal(np.asarray(xs[k]), before[k])
    for y, b in zip(ys, operands_before, strict=True):
        if b is not None:
            assert not y.is_deleted()
            np.testing.assert_array_equal(np.asarray(y), b)


# ------------------------------------------------------------------------------------------------
# Compiled kernels are released: a long-running process stays within its memory maps


def _memory_maps() -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def test_kernels_are_released_beyond_the_budget(monkeypatch):
    """48 distinct signatures, with the kernel cache's budget cut to 4 units.

    Each new shape is one more executable (one unit); without release, every one would stay loaded
    (on XLA:CPU, 3-30 memory maps each). Arrays are made with numpy so that no JAX program but the
    kernels is compiled.
    """
    monkeypatch.setattr(_engine._KERNELS, "budget", 4)
    _engine._KERNELS.trim()
    rng = np.random.default_rng(0)
    calls = [
        (lambda x, k: jforeach.add([x], float(k)), lambda a, k: a + k),
        (lambda x, k: jforeach.mul_([x], 2.0), lambda a, k: a * 2),
        (lambda x, k: jforeach.norm([x]), lambda a, k: np.linalg.norm(a)),
        (lambda x, k: jforeach.sqrt([x]), lambda a, k: np.sqrt(a)),
    ]
    sizes = list(range(1, 13))
    warm = np.ones(1000, np.float32)
    jforeach.add([jnp.asarray(warm)], 1.0)
    gc.collect()
    start = _memory_maps()
    peak = 0
    for k, size in enumerate(sizes * 4):
        a = rng.uniform(0.5, 2.0, size).astype(np.float32)
        fn, reference = calls[k % len(calls)]
        out = fn(jnp.asarray(a), k)
        np.testing.assert_allclose(np.asarray(out[0]), reference(a, k), rtol=1e-5)
        assert _engine._KERNELS.weight <= 4
        if k % 8 == 0:
            gc.collect()
            peak = max(peak, _memory_maps() - start)
    # 48 signatures, at least 3 maps each if all were kept; at most 4 executables are held at a time
    assert len(_engine._KERNELS) <= 4
    assert peak < 100, peak


def test_first_use_inside_jit_keeps_later_calls_right():
    """The engine learns JAX's concrete array type on first use; inside a trace that must not be a tracer."""
    import subprocess
    import sys

    code = """
import jax, jax.numpy as jnp, numpy as np, jforeach
def f(a, b):
    xs = [a]
    jforeach.copy_(xs, [b])
    return xs[0]
assert np.asarray(jax.jit(f)(jnp.zeros(2), jnp.ones(2))).tolist() == [1.0, 1.0]
xs = [jnp.asarray(np.ones(2, np.float32))]
old = xs[0]
jforeach.mul_(xs, 3.0)
assert old.is_deleted() and np.asarray(xs[0]).tolist() == [3.0, 3.0]
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
