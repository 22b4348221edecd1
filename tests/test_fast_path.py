"""The fast path: a call whose signature ran before repeats its plan, and still checks what can change.

Each test makes a plan (two calls), checks that the next call takes it (``_engine._call``, the whole
path, is not entered), then changes one thing a plan must not assume (a deleted array, a dtype, a
shape, the structure, the operand's kind, a value torch rejects, aliasing, a trace) and checks the
call gives what the whole path gives: the same error before anything is donated, or torch's values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _torch_ref import assert_matches, to_torch

import jforeach
from jforeach import _engine

F32 = jnp.float32


def arrays(n=3, dtype=F32, shape=(4,), start=1.0):
    return [
        jnp.asarray(np.linspace(start + i, start + i + 1, int(np.prod(shape))).reshape(shape), dtype) for i in range(n)
    ]


def host(tree):
    return [np.asarray(x).copy() for x in jax.tree.leaves(tree)]


@pytest.fixture
def whole_path(monkeypatch):
    """Counts the calls that take the whole path (classification from scratch)."""
    calls = []
    original = _engine._call
    _engine._PLANS.clear()  # (a plan from an earlier test would make the first call fast too)

    def counting(*args, **kwargs):
        calls.append(args[0].name)
        return original(*args, **kwargs)

    monkeypatch.setattr(_engine, "_call", counting)
    return calls


def planned(call):
    """Run ``call`` twice: the first call makes the plan."""
    call()
    call()


def assert_untouched(xs, before):
    for i, (x, b) in enumerate(zip(xs, before, strict=True)):
        assert not x.is_deleted(), f"tensors[{i}] was donated by a rejected call"
        np.testing.assert_array_equal(np.asarray(x), b)


# ------------------------------------------------------------------------------------------------
# The plan is taken, and gives torch's values


@pytest.mark.parametrize(
    ("name", "call", "reference"),
    [
        ("log1p_", lambda x, y, v: jforeach.log1p_(x), lambda x, y, v: torch._foreach_log1p_(x)),
        ("mul_ Scalar", lambda x, y, v: jforeach.mul_(x, v), lambda x, y, v: torch._foreach_mul_(x, v)),
        (
            "mul_ ScalarList",
            lambda x, y, v: jforeach.mul_(x, [v, 2 * v, -v]),
            lambda x, y, v: torch._foreach_mul_(x, [v, 2 * v, -v]),
        ),
        (
            "mul_ Tensor",
            lambda x, y, v: jforeach.mul_(x, jnp.asarray(v, F32)),
            lambda x, y, v: torch._foreach_mul_(x, torch.tensor(v, dtype=torch.float32)),
        ),
        ("add_ List", lambda x, y, v: jforeach.add_(x, y), lambda x, y, v: torch._foreach_add_(x, y)),
        (
            "add_ alpha",
            lambda x, y, v: jforeach.add_(x, y, alpha=v),
            lambda x, y, v: torch._foreach_add_(x, y, alpha=v),
        ),
        (
            "addcmul_ value",
            lambda x, y, v: jforeach.addcmul_(x, y, y, value=v),
            lambda x, y, v: torch._foreach_addcmul_(x, y, y, value=v),
        ),
        (
            "addcdiv_ ScalarList",
            lambda x, y, v: jforeach.addcdiv_(x, y, y, [v, -v, 0.5]),
            lambda x, y, v: torch._foreach_addcdiv_(x, y, y, [v, -v, 0.5]),
        ),
        ("pow_ Scalar", lambda x, y, v: jforeach.pow_(x, v), lambda x, y, v: torch._foreach_pow_(x, v)),
        ("sub out-of-place", lambda x, y, v: jforeach.sub(x, v), lambda x, y, v: torch._foreach_sub(x, v)),
    ],
)
@pytest.mark.parametrize("container", ["list", "dict", "packed"])
def test_repeated_calls_take_the_plan_with_torchs_values(whole_path, name, call, reference, container):
    xs, ys = arrays(), arrays(start=-2.5)  # (no zero in ys: addcdiv divides by it)
    tx, ty = [to_torch(x) for x in xs], [to_torch(y) for y in ys]
    if container == "dict":
        xs, ys = dict(zip("abc", xs, strict=True)), dict(zip("abc", ys, strict=True))
    elif container == "packed":
        xs, ys = jforeach.pack(xs), jforeach.pack(ys)
    for step, v in enumerate([0.5, 1.5, -0.25, 2.0]):  # a new value every call: no new plan, no retrace
        out = call(xs, ys, v)
        want = reference(tx, ty, v)
        got = out.unpack() if container == "packed" else out
        got = list(got.values()) if isinstance(got, dict) else got
        for g, w in zip(got, want if want is not None else tx, strict=True):
            assert_matches(g, w, context=f"{name} step {step}")
    assert len(whole_path) == 1, whole_path  # the first call only


def test_new_values_do_not_retrace_on_a_packed_scalar_list(jax_compiles):
    """The numbers of a ScalarList are an argument of the kernel (one array), never compiled in."""
    n = 1000
    p = jforeach.pack([jnp.full((3,), 1.0 + i, F32) for i in range(n)])
    jforeach.mul_(p, [1.0] * n)
    rng = np.random.default_rng(0)
    expected = np.concatenate([np.ravel(x) for x in p.unpack()])
    traced, compiled = len(jax_compiles.traces), len(jax_compiles.compiles)
    for _ in range(3):
        values = rng.uniform(-2, 2, n).tolist()
        jforeach.mul_(p, values)
        expected = expected * np.repeat(np.asarray(values, np.float32), 3)
        np.testing.assert_allclose(np.concatenate([np.ravel(x) for x in p.unpack()]), expected, rtol=1e-6)
    assert jax_compiles.traces[traced:] == [] and jax_compiles.compiles[compiled:] == []


# ------------------------------------------------------------------------------------------------
# What can change between calls


def a_deleted_array():
    holder = [jnp.ones(4, F32)]
    dead = holder[0]
    jforeach.exp_(holder)
    return dead


@pytest.mark.parametrize("n", [3, _engine.CHUNK + 76])
def test_a_deleted_tensor_is_named_before_anything_is_donated(whole_path, n):
    xs = arrays(n)
    planned(lambda: jforeach.mul_(xs, 0.5))
    xs[n - 2] = a_deleted_array()
    before = host([x for i, x in enumerate(xs) if i != n - 2])
    with pytest.raises(ValueError, match=rf"`jforeach.mul_`: tensors\[{n - 2}\] was deleted"):
        jforeach.mul_(xs, 0.5)
    assert_untouched([x for i, x in enumerate(xs) if i != n - 2], before)


def test_a_deleted_operand_is_named_before_anything_is_donated():
    xs, ys = arrays(), arrays()
    planned(lambda: jforeach.add_(xs, ys))
    ys[1] = a_deleted_array()
    before = host(xs)
    with pytest.raises(ValueError, match=r"`jforeach.add_`: other\[1\] was deleted"):
        jforeach.add_(xs, ys)
    assert_untouched(xs, before)


def test_a_deleted_packed_buffer_is_an_error_before_anything_is_donated():
    p, q = jforeach.pack(arrays()), jforeach.pack(arrays())
    planned(lambda: jforeach.add_(p, q))
    stale = jforeach.Packed(q.buffers, q.layout)  # the same buffers, which the next call donates
    jforeach.mul_(q, 2.0)
    before = host(p.buffers)
    with pytest.raises(ValueError, match=r"`jforeach.add_`: the buffers of the Packed other were donated"):
        jforeach.add_(p, stale)
    assert_untouched(list(p.buffers), before)
    with pytest.raises(ValueError, match=r"`jforeach.mul_`: the buffers of the Packed tensors were donated"):
        jforeach.mul_(stale, 2.0)


def test_a_new_dtype_is_checked_as_the_first_call_was():
    xs = arrays()
    planned(lambda: jforeach.log1p_(xs))
    ints = [jnp.arange(4, dtype=jnp.int32), *arrays(2)]
    before = host(ints)
    with pytest.raises(TypeError, match=r"`jforeach.log1p_`: tensors\[0\] .*can't be cast to the input dtype int32"):
        jforeach.log1p_(ints)
    assert_untouched(ints, before)
    halves = arrays(dtype=jnp.float16)  # a new dtype the op takes: torch's values
    t = [to_torch(x) for x in halves]
    jforeach.log1p_(halves)
    for g, w in zip(halves, torch._foreach_log1p(t), strict=True):
        assert_matches(g, w)


def test_a_new_dtype_in_a_long_list_is_checked_before_the_first_chunk_donates():
    n = _engine.CHUNK + 76
    xs = arrays(n)
    planned(lambda: jforeach.sqrt_(xs))
    xs[-1] = jnp.arange(4, dtype=jnp.int32)
    before = host(xs)
    with pytest.raises(TypeError, match=rf"tensors\[{n - 1}\] .*can't be cast"):
        jforeach.sqrt_(xs)
    assert_untouched(xs, before)


def test_a_new_shape_structure_or_length_is_what_the_whole_path_makes_of_it():
    xs, ys = arrays(), arrays()
    planned(lambda: jforeach.add_(xs, ys))
    bigger = arrays(shape=(2, 3))
    want = [np.asarray(x) + np.asarray(y) for x, y in zip(bigger, bigger, strict=True)]
    jforeach.add_(bigger, arrays(shape=(2, 3)))
    for g, w in zip(bigger, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), w)
    before = host(xs)
    with pytest.raises(ValueError, match="tensors has 3 arrays but other has 2"):
        jforeach.add_(xs, ys[:2])
    with pytest.raises(ValueError, match=r"the result has shape \(2, 4\) but the tensor it is written"):
        jforeach.add_(xs, [ys[0], jnp.ones((2, 4), F32), ys[2]])
    with pytest.raises(ValueError, match="structure of other"):
        jforeach.add_(xs, tuple(ys))
    assert_untouched(xs, before)
    p, q = jforeach.pack(arrays()), jforeach.pack(arrays())
    planned(lambda: jforeach.add_(p, q))
    other = jforeach.pack(arrays(shape=(2, 2)))
    with pytest.raises(ValueError, match="Packed with different layouts: shapes of tensor 0"):
        jforeach.add_(p, other)


def test_a_new_operand_kind_is_classified_again():
    """One call site, the operand changing kind: each call gives torch's result for that overload."""
    ints = [jnp.arange(1, 5, dtype=jnp.int32) + i for i in range(3)]
    t = [to_torch(x) for x in ints]
    for operand, torch_operand in [
        (2, 2),
        (2.5, 2.5),  # an int tensor by a float: float32, as torch
        ([1, 2, 3], [1, 2, 3]),
        ([0.5, 1.0, 2.0], [0.5, 1.0, 2.0]),
        (jnp.asarray(2.0, jnp.float64), torch.tensor(2.0, dtype=torch.float64)),  # 0-d tensor: its dtype counts
        (jnp.asarray(3, jnp.int32), torch.tensor(3, dtype=torch.int32)),
        ([jnp.asarray(2.0, jnp.float64)] * 3, [torch.tensor(2.0, dtype=torch.float64)] * 3),  # list of 0-d tensors
        (ints, t),
        (2, 2),
    ]:
        for _ in range(2):
            got = jforeach.mul(ints, operand)
        for g, w in zip(got, torch._foreach_mul(t, torch_operand), strict=True):
            assert_matches(g, w, context=repr(operand))


def test_alpha_one_is_compiled_in_and_any_other_alpha_is_an_argument():
    xs, ys = arrays(), arrays()
    t, u = [to_torch(x) for x in xs], [to_torch(y) for y in ys]
    for alpha in (None, 1, 2, 1, -3, None):
        kwargs = {} if alpha is None else {"alpha": alpha}
        jforeach.sub_(xs, ys, **kwargs)
        torch._foreach_sub_(t, u, **kwargs)
        for g, w in zip(xs, t, strict=True):
            assert_matches(g, w, context=f"alpha={alpha}")
    ints = [jnp.arange(4, dtype=jnp.int32)] * 2
    planned(lambda: jforeach.add(ints, ints, alpha=1))
    with pytest.raises(TypeError, match="alpha must not be a floating point number"):
        jforeach.add(ints, ints, alpha=1.0)


# ------------------------------------------------------------------------------------------------
# Values torch rejects


def torch_rejects(fn):
    with pytest.raises(RuntimeError):
        fn()


@pytest.mark.parametrize("container", ["list", "packed"])
def test_a_number_out_of_the_dtypes_range_after_a_good_one(container):
    xs = [jnp.arange(4, dtype=jnp.int8) + i for i in range(3)]
    t = [to_torch(x) for x in xs]
    tensors = jforeach.pack(xs) if container == "packed" else xs
    planned(lambda: jforeach.clamp_min(tensors, 1))
    torch_rejects(lambda: torch._foreach_clamp_min(t, 1000))
    with pytest.raises(ValueError, match="other=1000 cannot be converted to int8 without overflow"):
        jforeach.clamp_min(tensors, 1000)
    planned(lambda: jforeach.clamp_min(tensors, [1, 2, 3]))
    torch_rejects(lambda: torch._foreach_clamp_min(t, [1, 2, 1000]))
    with pytest.raises(ValueError, match="other=1000 cannot be converted to int8 without overflow"):
        jforeach.clamp_min(tensors, [1, 2, 1000])
    with pytest.raises(ValueError, match="does not fit in int64"):
        jforeach.clamp_min(tensors, 2**70)
    got = jforeach.clamp_min(tensors, [1, 2, 3])  # the plan still gives torch's values
    got = got.unpack() if container == "packed" else got
    for g, w in zip(got, torch._foreach_clamp_min(t, [1, 2, 3]), strict=True):
        assert g.dtype == np.int8 and w.dtype == torch.int8
        np.testing.assert_array_equal(np.asarray(g), w.numpy())


def test_a_float_bound_beyond_float16_after_a_good_one():
    xs = arrays(dtype=jnp.float16)
    planned(lambda: jforeach.clamp_max_(xs, [1.0, 2.0, 3.0]))
    torch_rejects(lambda: torch._foreach_clamp_max([to_torch(x) for x in xs], [1.0, 2.0, 1e6]))
    before = host(xs)
    with pytest.raises(ValueError, match="cannot be converted to float16 without overflow"):
        jforeach.clamp_max_(xs, [1.0, 2.0, 1e6])
    assert_untouched(xs, before)


@pytest.mark.parametrize("exponent", [-1, [2, -2, 1]])
def test_pow_negative_integer_exponents_after_good_ones(exponent):
    ints = [jnp.arange(1, 5, dtype=jnp.int32)] * 3
    floats = arrays()
    good = 2 if isinstance(exponent, int) else [2, 2, 1]
    planned(lambda: jforeach.pow(ints, good))
    planned(lambda: jforeach.pow(floats, good))
    torch_rejects(lambda: torch._foreach_pow([to_torch(x) for x in ints], exponent))
    with pytest.raises(ValueError, match="integers to negative integer powers are not allowed"):
        jforeach.pow(ints, exponent)
    t = [to_torch(x) for x in floats]
    for g, w in zip(jforeach.pow(floats, exponent), torch._foreach_pow(t, exponent), strict=True):
        assert_matches(g, w)


# ------------------------------------------------------------------------------------------------
# Aliasing and traces


def test_aliasing_after_a_plan_of_distinct_arrays():
    xs, ys = arrays(), arrays()
    planned(lambda: jforeach.add_(xs, ys))
    want = [2 * np.asarray(x) for x in xs]
    jforeach.add_(xs, xs)  # an operand that is a donated tensor: copied first, as the whole path does
    for g, w in zip(xs, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), w)
    planned(lambda: jforeach.add_(xs, 1.0))
    twice = [xs[0], xs[1], xs[0]]
    before = host(twice)
    with pytest.raises(ValueError, match=r"the same array is tensors\[0\] and tensors\[2\]"):
        jforeach.add_(twice, 1.0)
    assert_untouched(twice, before)
    p, q = jforeach.pack(arrays()), jforeach.pack(arrays())
    planned(lambda: jforeach.add_(p, q))
    want = 2 * np.asarray(p.buffers[0])
    jforeach.add_(p, p)
    np.testing.assert_allclose(np.asarray(p.buffers[0]), want)


def test_inside_jit_after_a_plan_computes_functionally():
    xs, ys = arrays(), arrays()
    planned(lambda: jforeach.add_(xs, ys, alpha=2.0))

    @jax.jit
    def step(a, b):
        jforeach.add_(a, b, alpha=2.0)  # traced arrays: nothing donated, the lists updated
        return a

    want = [np.asarray(x) + 2 * np.asarray(y) for x, y in zip(xs, ys, strict=True)]
    got = step(list(xs), list(ys))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), w)

    @jax.jit
    def leaky(alpha):
        jforeach.add_(xs, ys, alpha=alpha)  # concrete arrays from outside, a traced operand
        return alpha

    with pytest.raises(ValueError, match="the tensors are concrete arrays but an operand is traced"):
        leaky(2.0)


def test_released_kernels_are_made_again():
    xs = arrays()
    planned(lambda: jforeach.mul_(xs, 3.0))
    want = [3 * np.asarray(x) for x in xs]
    _engine._KERNELS.clear()
    jforeach.mul_(xs, 3.0)
    for g, w in zip(xs, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), w)


@pytest.mark.parametrize("weak", [True, False])
def test_a_0d_tensor_that_is_also_the_number_operand_of_its_own_in_place_call(weak, capfd):
    """``add_([a, b], a)`` with a 0-d ``a``: torch's values on every call, and the plan sees the
    aliasing before it runs (it used to hand XLA the donated buffer twice, which XLA refused, logging
    an error, before the whole path ran)."""
    for _ in range(3):
        a = jnp.asarray(2.0) if weak else jnp.asarray(2.0, jnp.float32)
        xs = [a, jnp.arange(3.0)]
        want = [to_torch(x) for x in xs]
        torch._foreach_add_(want, want[0])
        jforeach.add_(xs, a)
        for g, w in zip(xs, want, strict=True):
            assert_matches(g, w)
    assert "previously donated" not in capfd.readouterr().err
