"""ScalarLists on the per-call plan: a list of floats passed again is neither read nor sent again.

The fast path keeps a list of Python floats by identity (``_engine._NUMBER_LISTS``) and, when the
same list object comes again with equal contents, reuses the host array it made of it and, from
then on, a device array (``_engine._NUMBERS_ON_DEVICE``). Equality is a safe test only for finite,
non-integral floats (an int or a bool equals an integral float, 0.0 equals -0.0), so only such
lists are kept. Whatever happens to the list between calls (an entry changed in place, to a
float, an int, a bool, a zero of either sign, NaN; entries added or removed; x64 switched) every
call must give torch's values and torch's errors.
"""

from __future__ import annotations

import math
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _torch_ref import assert_matches, to_torch

import jforeach
from jforeach import _engine

F32 = jnp.float32
N = 5


def _arrays(dtype=F32, seed=0):
    rng = np.random.default_rng(seed)
    return [jnp.asarray(rng.uniform(0.5, 2.0, (i % 3 + 1,)), dtype) for i in range(N)]


def _torch_or_error(fn, *args):
    try:
        return fn(*args), None
    except (RuntimeError, TypeError, ValueError) as e:
        return None, e


def _mutations(rng):
    """What a caller may do to a list it passes again: each a function of the list, in place."""
    choices = [
        lambda s: s.__setitem__(int(rng.integers(len(s))), float(rng.uniform(-2, 2))),  # another float
        lambda s: s.__setitem__(int(rng.integers(len(s))), int(rng.integers(-3, 4))),  # an int
        lambda s: s.__setitem__(int(rng.integers(len(s))), bool(rng.integers(2))),  # a bool
        lambda s: s.__setitem__(int(rng.integers(len(s))), [0.0, -0.0][int(rng.integers(2))]),  # a zero
        lambda s: s.__setitem__(int(rng.integers(len(s))), math.nan),
        lambda s: s.__setitem__(int(rng.integers(len(s))), float(int(rng.integers(1, 4)))),  # an integral float
        lambda s: None,  # nothing: the kept list
        lambda s: None,
    ]
    return choices


@pytest.mark.parametrize("container", ["list", "packed"])
@pytest.mark.parametrize("op", ["mul_", "add_", "sub_", "div_", "clamp_min_"])
def test_a_list_changed_in_place_between_calls_gives_torchs_values(op, container):
    rng = np.random.default_rng(zlib.crc32(f"{op} {container}".encode()))
    xs = _arrays()
    ts = [to_torch(x) for x in xs]
    tensors = jforeach.pack(xs) if container == "packed" else list(xs)
    scalars = rng.uniform(0.3, 0.9, N).tolist()  # non-integral floats: kept
    mutations = _mutations(rng)
    for step in range(40):
        mutations[int(rng.integers(len(mutations)))](scalars)
        want, error = _torch_or_error(getattr(torch, f"_foreach_{op}"), ts, list(scalars))
        if error is not None:
            with pytest.raises((TypeError, ValueError, RuntimeError)):
                getattr(jforeach, op)(tensors, scalars)
            # torch's per-tensor loop may have changed the tensors before the one it rejects;
            # jforeach changes none: go on from jforeach's
            ts = [to_torch(x) for x in (tensors.unpack() if container == "packed" else tensors)]
            continue
        out = getattr(jforeach, op)(tensors, scalars)
        got = out.unpack() if container == "packed" else out
        for g, t in zip(got, ts, strict=True):
            assert_matches(g, t, context=f"{op} step {step} with {scalars!r} on a {container}")
        if not all(map(math.isfinite, scalars)) or any(abs(v) > 1e3 for v in scalars):
            scalars[:] = rng.uniform(0.3, 0.9, N).tolist()  # (start again from finite values, kept)
            xs = _arrays(seed=step)
            ts = [to_torch(x) for x in xs]
            tensors = jforeach.pack(xs) if container == "packed" else list(xs)


def test_an_int_that_equals_a_kept_float_gives_torchs_result_dtype():
    """Out of place on integer tensors, an int entry keeps its tensor integral where a float makes
    it float: a list holding an integral float is never kept, so equality cannot confuse them."""
    xs = [jnp.arange(3, dtype=jnp.int32), jnp.arange(2, dtype=jnp.int32)]
    ts = [to_torch(x) for x in xs]
    scalars = [2.0, 0.5]
    for _ in range(3):
        for g, t in zip(jforeach.mul(xs, scalars), torch._foreach_mul(ts, scalars), strict=True):
            assert_matches(g, t)
    scalars[0] = 2  # equal to 2.0, another meaning
    got = jforeach.mul(xs, scalars)
    want = torch._foreach_mul(ts, scalars)
    assert got[0].dtype == jnp.int32 and want[0].dtype == torch.int32
    for g, t in zip(got, want, strict=True):
        assert_matches(g, t)


def test_a_signed_zero_after_a_kept_list():
    xs = [jnp.asarray([1.0, -2.0], F32), jnp.asarray([3.0], F32)]
    scalars = [0.5, 0.25]
    jforeach.mul(xs, scalars)
    jforeach.mul(xs, scalars)
    scalars[0] = -0.0
    got = jforeach.mul(xs, scalars)
    assert np.signbit(np.asarray(got[0])).tolist() == [True, False]  # 1 * -0.0 = -0.0, -2 * -0.0 = 0.0


def test_entries_added_or_removed():
    xs = [jnp.ones(2, F32) for _ in range(3)]
    scalars = [0.5, 0.25, 0.125]
    jforeach.mul(xs, scalars)
    jforeach.mul(xs, scalars)
    scalars.append(0.75)
    with pytest.raises(ValueError, match="4"):
        jforeach.mul(xs, scalars)
    scalars.pop()
    scalars.pop()
    with pytest.raises(ValueError):
        jforeach.mul(xs, scalars)


def test_a_kept_list_is_sent_to_the_device_once_and_compiles_nothing_new(jax_compiles):
    n = 1000
    p = jforeach.pack([jnp.full((3,), 1.0 + i, F32) for i in range(n)])
    scalars = np.random.default_rng(0).uniform(0.9, 1.1, n).tolist()
    jforeach.mul_(p, scalars)  # the whole path: the plan, and the list kept
    expected = np.concatenate([np.full(3, (1.0 + i) * np.float32(s), np.float32) for i, s in enumerate(scalars)])
    compiled = len(jax_compiles.compiles)
    for _ in range(4):
        jforeach.mul_(p, scalars)
        expected = expected * np.repeat(np.asarray(scalars, np.float32), 3)
    host = _engine._NUMBER_LISTS[id(scalars)].host
    assert isinstance(_engine._NUMBERS_ON_DEVICE[id(host)], jax.Array)
    np.testing.assert_allclose(np.concatenate([np.ravel(x) for x in p.unpack()]), expected, rtol=4e-7)
    assert jax_compiles.compiles[compiled:] == []


def test_lists_of_integral_floats_zeros_or_nan_are_not_kept():
    xs = [jnp.ones(2, F32), jnp.ones(1, F32)]
    for scalars in ([1.0, 0.5], [0.5, -0.0], [0.5, math.nan], [0.5, math.inf], [1, 2]):
        jforeach.mul(xs, scalars)
        jforeach.mul(xs, scalars)
        assert id(scalars) not in _engine._NUMBER_LISTS, scalars


@pytest.mark.parametrize("x64", [False, True])
def test_x64_switched_with_the_same_list(x64):
    xs = [jnp.ones(2, F32), jnp.ones(1, F32)]
    scalars = [1 / 3, 0.1]
    jforeach.mul(xs, scalars)
    jforeach.mul(xs, scalars)
    with jax.enable_x64(x64):
        ys = [jnp.ones(2, jnp.float64 if x64 else F32), jnp.ones(1, jnp.float64 if x64 else F32)]
        got = jforeach.mul(ys, scalars)
        want = torch._foreach_mul([to_torch(y) for y in ys], scalars)
        for g, t in zip(got, want, strict=True):
            assert_matches(g, t)


# ------------------------------------------------------------------------------------------------
# Lists of mixed number types on a Packed: each tensor's own entry decides for it, as in torch


@pytest.mark.parametrize("op", ["mul", "add", "sub", "div", "clamp_min", "mul_", "add_", "sub_"])
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_mixed_number_types_on_a_packed_follow_each_tensors_entry(op, dtype):
    """Generated lists mixing ints, floats and bools: jforeach's Packed call gives torch's values, or
    raises where torch does; the one case torch accepts and a Packed cannot hold (one buffer's
    tensors given different result dtypes) is a TypeError that says so."""
    rng = np.random.default_rng(zlib.crc32(f"{op} {dtype}".encode()))
    jdtype = jnp.float32 if dtype == "float32" else jnp.int32
    fn, ref = getattr(jforeach, op), getattr(torch, f"_foreach_{op}")
    for trial in range(12):
        xs = [jnp.asarray(rng.integers(1, 5, (i % 2 + 1,)), jdtype) for i in range(4)]
        pick = [lambda: float(rng.uniform(0.5, 2)), lambda: int(rng.integers(1, 4)), lambda: bool(rng.integers(2))]
        scalars = [pick[int(rng.integers(3))]() for _ in xs]
        torch_in = [to_torch(x) for x in xs]
        results, error = _torch_or_error(ref, torch_in, list(scalars))
        if op.endswith("_"):
            results = torch_in  # in place: the tensors torch changed
        packed = jforeach.pack(xs)
        if error is not None:
            with pytest.raises((TypeError, ValueError, RuntimeError)):
                fn(packed, scalars)
            assert all(not b.is_deleted() for b in packed.buffers)  # a rejected call loses nothing
            continue
        distinct = {str(t.dtype) for t in results}
        if len(distinct) > 1:  # torch gives the tensors of one dtype different result dtypes
            with pytest.raises(TypeError, match="different result dtypes"):
                fn(packed, scalars)
            continue
        out = fn(packed, scalars)
        for g, t in zip(out.unpack(), results, strict=True):
            assert_matches(g, t, context=f"{op} {scalars!r} on {dtype} (trial {trial})")


def test_a_list_first_kept_inside_set_mesh_does_not_place_later_results():
    mesh = jax.make_mesh((1,), ("x",))
    scalars = [0.8125, 0.40625]  # (values no other test uses)
    with jax.set_mesh(mesh):
        inside = [jnp.arange(4.0), jnp.arange(2.0)]
        for _ in range(3):
            jforeach.mul(inside, scalars)
    for container in ("list", "packed"):
        xs = [jnp.arange(4.0), jnp.arange(2.0)]
        tensors = jforeach.pack(xs) if container == "packed" else xs
        for _ in range(3):
            out = jforeach.mul(tensors, scalars)
            first = out.buffers[0] if container == "packed" else out[0]
            assert not first.committed and isinstance(first.sharding, jax.sharding.SingleDeviceSharding)


def test_a_call_inside_jit_keeps_no_tracer():
    scalars = [0.375, 0.625]

    @jax.jit
    def step(xs):
        return jforeach.mul(xs, scalars)

    xs = [jnp.arange(3.0), jnp.arange(2.0)]
    for _ in range(2):
        got = step(xs)
    assert not any(isinstance(a, jax.core.Tracer) for a in _engine._NUMBERS_ON_DEVICE.values())
    for g, t in zip(got, torch._foreach_mul([to_torch(x) for x in xs], scalars), strict=True):
        assert_matches(g, t)
    for g, t in zip(jforeach.mul(xs, scalars), torch._foreach_mul([to_torch(x) for x in xs], scalars), strict=True):
        assert_matches(g, t)  # and outside, after it


def _at_the_address_of(kept, other):
    """Make ``other`` look, to the store, like a list at the address ``kept`` had (CPython reuses the
    address of a freed list at once): its entry, filed under ``id(other)``."""
    _engine._NUMBER_LISTS[id(other)] = _engine._NUMBER_LISTS[id(kept)]


@pytest.mark.parametrize("shape", [(3,), (1,)])
def test_a_list_of_arrays_at_a_kept_lists_address_is_a_tensor_list(shape):
    """Arrays are never compared with kept numbers (one element arrays equal to them would have been
    taken for them, longer ones raised "truth value ... ambiguous")."""
    xs = [jnp.ones(shape, jnp.float16), jnp.ones(shape, jnp.float16)]
    kept = [0.5, 1.25]
    for _ in range(2):
        jforeach.add(xs, kept)
    others = [jnp.full(shape, 0.5, F32), jnp.full(shape, 1.25, F32)]
    _at_the_address_of(kept, others)
    got = jforeach.add(xs, others)
    want = torch._foreach_add([to_torch(x) for x in xs], [to_torch(o) for o in others])
    for g, t in zip(got, want, strict=True):
        assert_matches(g, t)  # float32 results: a TensorList, not a ScalarList of float16 tensors


@pytest.mark.parametrize(
    "entry", [np.float64(0.5), np.float32(0.5), "fraction", "subclass", 0.5 + 0j, np.complex64(0.5), "array"]
)
def test_an_equal_number_of_another_type_is_not_the_kept_float(entry):
    import fractions

    class F(float):
        pass

    others = {"fraction": fractions.Fraction(1, 2), "subclass": F(0.5), "array": jnp.float32(0.5)}
    entry = others.get(entry, entry) if isinstance(entry, str) else entry
    xs = [jnp.ones(2, jnp.float16), jnp.ones(1, jnp.float16)]
    scalars = [0.5, 1.25]
    for _ in range(2):
        jforeach.mul(xs, scalars)
    scalars[0] = entry  # == 0.5
    fresh = list(scalars)
    got, error = _torch_or_error(jforeach.mul, xs, scalars)
    want, fresh_error = _torch_or_error(jforeach.mul, xs, fresh)  # the whole path's answer
    assert type(error) is type(fresh_error)
    if error is None:
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype and np.array_equal(np.asarray(g), np.asarray(w))


def test_pow_with_tiny_exponents_of_a_list_kept_by_another_op():
    with jax.enable_x64(True):
        xs = [jnp.asarray([0.0, -2.0, 3.0], F32)]
        scalars = [-1e-300]
        for _ in range(2):
            jforeach.mul(xs, scalars)  # kept (finite, non-integral) by mul
        for _ in range(2):
            jforeach.pow(xs, [0.5])  # pow's plan for one float
        got = jforeach.pow(xs, scalars)
        want = torch._foreach_pow([to_torch(x) for x in xs], scalars)
        for g, t in zip(got, want, strict=True):
            assert_matches(g, t)  # inf, nan, 1: a flushed exponent would give 1, 1, 1


def test_a_training_loop_with_a_new_list_every_step():
    params = [jnp.ones(3, F32), jnp.ones(2, F32)]
    grads = [jnp.full(3, 0.1, F32), jnp.full(2, 0.1, F32)]
    tp, tg = [to_torch(p) for p in params], [to_torch(g) for g in grads]
    for step in range(20):
        lrs = [0.01 * 0.9**step, 0.02 * 0.9**step]  # a new list each step, at a reused address
        jforeach.mul_(params, lrs)
        torch._foreach_mul_(tp, lrs)
        del lrs
        jforeach.add_(params, [g * 2 for g in grads])  # a new list of arrays, perhaps at that address
        torch._foreach_add_(tp, [g * 2 for g in tg])
        for p, t in zip(params, tp, strict=True):
            assert_matches(p, t, context=f"step {step}")


@pytest.mark.parametrize("container", ["list", "packed"])
@pytest.mark.parametrize("number", ["fraction", "decimal"])
def test_numbers_torch_does_not_take_are_rejected_as_torch_rejects_them(number, container):
    """torch's Scalar is a bool, int, float or complex (numpy's scalars too): a Fraction or a Decimal,
    alone or in a list, is a TypeError there (jforeach took a list of them as complex numbers)."""
    import decimal
    import fractions

    value = fractions.Fraction(5, 4) if number == "fraction" else decimal.Decimal("1.25")
    xs = [jnp.ones(2, F32), jnp.ones(1, F32)]
    tensors = jforeach.pack(xs) if container == "packed" else xs
    for operand in (value, [0.5, value], [value, value]):
        with pytest.raises(TypeError):
            torch._foreach_mul([to_torch(x) for x in xs], operand)
        with pytest.raises(TypeError, match=type(value).__name__):
            jforeach.mul_(tensors, operand)
        buffers = tensors.buffers if container == "packed" else tensors
        assert not any(b.is_deleted() for b in buffers)
