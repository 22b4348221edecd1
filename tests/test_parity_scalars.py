"""torch 2.13 parity of number operands: which values torch rejects, and how it computes with the rest.

Each test covers a class of behaviour over ops, overloads, dtypes and values, with torch as the oracle:
c10's overflow check on numbers, integers beyond int64, bool and 0-d bases of ``pow``, ``powsum``'s
``dtype=``, float16/bfloat16 operands rounded to the tensor's dtype, torch's order of operations,
true division by large divisors, and ``cosh``'s accuracy.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import torch
from _torch_ref import DTYPES, to_numpy, to_torch

import jforeach

INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "bool"]
FLOAT_DTYPES = ["float16", "bfloat16", "float32", "float64"]
# (jax, torch) for every dtype tested here: the suite's, and the narrow integers
DT = {
    **DTYPES,
    "int8": (jnp.int8, torch.int8),
    "int16": (jnp.int16, torch.int16),
    "uint8": (jnp.uint8, torch.uint8),
}


def _tensors(dtype, values=((1, 2, 0), (2, 1))):
    jdt, tdt = DT[dtype]
    jax_list = [jnp.asarray(np.array(v), jdt) for v in values]
    return jax_list, lambda: [torch.tensor(v, dtype=tdt) for v in values]


def _torch_outcome(fn):
    """('raises', message) or ('ok', results)."""
    try:
        return "ok", fn()
    except (RuntimeError, TypeError, ValueError, NotImplementedError, OverflowError) as error:
        return "raises", str(error)


def _assert_equal(got, want, context):
    """Same dtype, bit-equal values (NaN where torch has NaN); where torch's value is subnormal, 0:
    XLA:CPU flushes subnormals (a documented limitation, not this file's subject)."""
    assert len(got) == len(want), context
    for g, w in zip(got, want, strict=True):
        assert str(g.dtype) == str(w.dtype).removeprefix("torch."), f"{context}: {g.dtype} != {w.dtype}"
        w = to_numpy(w).astype(np.float64)
        if jnp.issubdtype(g.dtype, jnp.floating):
            w = np.where(np.abs(w) < float(jnp.finfo(g.dtype).tiny), 0.0, w)
        np.testing.assert_array_equal(np.asarray(g, np.float64), w, err_msg=context)


# ---------------------------------------------------------------------------------------------
# c10's overflow check on numbers

# Every op with a number operand, and how each passes the number (torch and jforeach alike).
_NUMBER_CALLS = {
    "add": lambda m, xs, v: m._foreach_add(xs, v) if m is torch else m.add(xs, v),
    "sub": lambda m, xs, v: m._foreach_sub(xs, v) if m is torch else m.sub(xs, v),
    "mul": lambda m, xs, v: m._foreach_mul(xs, v) if m is torch else m.mul(xs, v),
    "div": lambda m, xs, v: m._foreach_div(xs, v) if m is torch else m.div(xs, v),
    "add_alpha": lambda m, xs, v: m._foreach_add(xs, xs, alpha=v) if m is torch else m.add(xs, xs, alpha=v),
    "sub_alpha": lambda m, xs, v: m._foreach_sub(xs, xs, alpha=v) if m is torch else m.sub(xs, xs, alpha=v),
    "clamp_min": lambda m, xs, v: m._foreach_clamp_min(xs, v) if m is torch else m.clamp_min(xs, v),
    "clamp_max": lambda m, xs, v: m._foreach_clamp_max(xs, v) if m is torch else m.clamp_max(xs, v),
    "maximum": lambda m, xs, v: m._foreach_maximum(xs, v) if m is torch else m.maximum(xs, v),
    "minimum": lambda m, xs, v: m._foreach_minimum(xs, v) if m is torch else m.minimum(xs, v),
    "pow": lambda m, xs, v: m._foreach_pow(xs, v) if m is torch else m.pow(xs, v),
    "addcmul": lambda m, xs, v: m._foreach_addcmul(xs, xs, xs, v) if m is torch else m.addcmul(xs, xs, xs, v),
    "addcdiv": lambda m, xs, v: m._foreach_addcdiv(xs, xs, xs, v) if m is torch else m.addcdiv(xs, xs, xs, v),
    "lerp": lambda m, xs, v: m._foreach_lerp(xs, xs, v) if m is torch else m.lerp(xs, xs, v),
}
_SCALAR_ONLY = {"add_alpha", "sub_alpha"}  # alpha is one number
# ints at the edges of int8/uint8/int32/int64 and float16, floats beyond float16/float32, inf, NaN
_VALUES = [127, 128, -128, 255, -255, -256, 70000, -(2**31) - 1, 2**63 - 1, -(2**63)]
_VALUES += [1.5, -1.5, 7e4, 1e39, 1e300, float("inf"), float("nan")]


@pytest.mark.parametrize("name", list(_NUMBER_CALLS))
def test_numbers_that_do_not_fit_raise_where_torch_raises(name):
    """torch raises "value cannot be converted to type X without overflow" for clamp_min & co. (to the
    result dtype), pow (the result dtype, unless float32/float64), addcmul/addcdiv/lerp (their opmath),
    alpha (the result dtype; sub: -alpha), never for add/sub/mul/div's other: jforeach raises a
    ValueError exactly then, for every dtype, value and overload, naming the value. Where torch returns,
    jforeach gives its dtypes: one abstract call (no compile) over all those dtypes at once."""
    call = _NUMBER_CALLS[name]
    dtypes = INT_DTYPES + FLOAT_DTYPES
    tensors = {d: _tensors(d, ((1, 2, 0),)) for d in dtypes}
    for as_list in (False, True) if name not in _SCALAR_ONLY else (False,):
        for value in _VALUES:
            if name == "sub_alpha" and value == -(2**63):
                continue  # torch subtracts by adding -alpha, which wraps back to -(2**63): x + 2**63 * y
            accepted = {}
            for dtype in dtypes:
                xs, make_torch = tensors[dtype]
                operand = [value] if as_list else value
                kind, want = _torch_outcome(
                    lambda operand=operand, make_torch=make_torch: call(torch, make_torch(), operand)
                )
                if kind == "ok":
                    accepted[dtype] = str(want[0].dtype).removeprefix("torch.")
                    continue
                shown = re.escape(repr(value))
                match = f"{name.removesuffix('_alpha')}`: .*={shown} cannot be converted to .* without overflow"
                with pytest.raises((TypeError, ValueError), match=match if "without overflow" in want else None):
                    call(jforeach, xs, operand)
            xs = [tensors[d][0][0] for d in accepted]
            operand = [value] * len(xs) if as_list else value
            got = jax.eval_shape(lambda t, operand=operand: call(jforeach, t, operand), xs)
            assert [str(g.dtype) for g in got] == list(accepted.values()), f"{name}({operand!r})"


def test_clamp_min_below_int32_raises_instead_of_wrapping():
    xs = [jnp.asarray([-2, 3, 8, 2], jnp.int32)]
    with pytest.raises(RuntimeError, match="without overflow"):
        torch._foreach_clamp_min([torch.tensor([-2, 3, 8, 2], dtype=torch.int32)], [-2147483649])
    for operand in (-2147483649, [-2147483649]):
        with pytest.raises(ValueError, match=r"clamp_min_`: other=-2147483649 cannot be converted to int32"):
            jforeach.clamp_min_(xs, operand)
        assert not xs[0].is_deleted()  # raised before donation
    np.testing.assert_array_equal(np.asarray(xs[0]), [-2, 3, 8, 2])


def test_a_number_that_does_not_fit_raises_on_a_packed_and_per_entry():
    """On a Packed too; a ScalarList entry is checked against its own tensor only."""
    tree = [jnp.asarray([1, 2], jnp.int8), jnp.asarray([1.0, 2.0], jnp.float32)]
    torch_tree = [torch.tensor([1, 2], dtype=torch.int8), torch.tensor([1.0, 2.0])]
    got = jforeach.clamp_min(jforeach.pack(tree), [0, 300]).unpack()  # 300 is for the float32 tensor
    _assert_equal(got, torch._foreach_clamp_min(torch_tree, [0, 300]), "clamp_min per entry")
    with pytest.raises(RuntimeError, match="without overflow"):
        torch._foreach_clamp_min(torch_tree, [300, 0])
    packed = jforeach.pack(tree)
    with pytest.raises(ValueError, match=r"other=300 cannot be converted to int8 without overflow \(tensor 0"):
        jforeach.clamp_min_(packed, [300, 0])
    with pytest.raises(ValueError, match="value=inf cannot be converted to int8"):
        jforeach.addcmul_(packed, packed, packed, float("inf"))
    assert all(not b.is_deleted() for b in packed.buffers)


# ---------------------------------------------------------------------------------------------
# Integers beyond int64


@pytest.mark.parametrize("name", sorted(set(_NUMBER_CALLS) - _SCALAR_ONLY))
@pytest.mark.parametrize("value", [2**64 - 1])
def test_ints_beyond_int64_are_floats_on_float_tensors_like_torch(name, value):
    """torch holds 2**63 .. 2**64 - 1 as a uint64 Scalar: on float tensors it is that float (float16:
    inf, or an overflow error where torch checks). One list of float32, float64 and float16 tensors."""
    values = [(1.0, 2.0, 0.5), (0.25,), (3.0, 1.0)]
    dtypes = ["float32", "float64", "float16"]
    xs = [_tensors(d, (v,))[0][0] for d, v in zip(dtypes, values, strict=True)]
    ts = lambda: [_tensors(d, (v,))[1]()[0] for d, v in zip(dtypes, values, strict=True)]  # noqa: E731
    for operand in (value, [value] * 3, [2**63 + 2**40, 0.5, value]):
        kind, want = _torch_outcome(lambda operand=operand: _NUMBER_CALLS[name](torch, ts(), operand))
        if kind == "raises":
            assert "without overflow" in want, want
            with pytest.raises(ValueError, match="cannot be converted to float16 without overflow"):
                _NUMBER_CALLS[name](jforeach, xs, operand)
            continue
        _assert_equal(_NUMBER_CALLS[name](jforeach, xs, operand), want, f"{name}({operand})")


def test_lerp_weight_beyond_int64_in_place():
    xs = [jnp.asarray([1.0, 2.0], jnp.float32)]
    ts = [torch.tensor([1.0, 2.0])]
    torch._foreach_lerp_(ts, [torch.tensor([0.0, 1.0])], 2**64 - 1)
    jforeach.lerp_(xs, [jnp.asarray([0.0, 1.0], jnp.float32)], 2**64 - 1)
    _assert_equal(xs, ts, "lerp_ weight 2**64 - 1")


@pytest.mark.parametrize("value", [2**63, 2**64 - 1])
def test_ints_beyond_int64_raise_on_integer_tensors(value):
    """torch wraps them into add/mul of integer tensors and rejects them elsewhere; jforeach rejects."""
    for operand in (value, [value], [value, 0.5][:1]):
        with pytest.raises(ValueError, match="does not fit in int64"):
            jforeach.add([jnp.asarray([1, 2], jnp.int32)], operand)
    with pytest.raises(RuntimeError, match="without overflow"):
        torch._foreach_clamp_min([torch.tensor([1, 2])], value)
    with pytest.raises(ValueError, match=r"other=\d+ does not fit in int64 \(tensor 0, int64"):
        jforeach.clamp_min(jforeach.pack([jnp.asarray([1, 2], jnp.int64)]), [value])


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 2**70])
@pytest.mark.parametrize("mixed", [False, True])
def test_ints_torch_cannot_hold_raise_alone_and_in_a_mixed_list(value, mixed):
    ts = [torch.ones(2), torch.ones(2)]
    xs = [jnp.ones(2, jnp.float32), jnp.ones(2, jnp.float32)]
    operand = [1.5, value] if mixed else [value, value]
    with pytest.raises(OverflowError):
        torch._foreach_addcmul(ts, ts, ts, operand)
    with pytest.raises(ValueError, match=f"value: an entry, {value}, does not fit in int64"):
        jforeach.addcmul(xs, xs, xs, operand)
    with pytest.raises(OverflowError):
        torch._foreach_add(ts, value)
    with pytest.raises(ValueError, match=f"other={value} does not fit in int64"):
        jforeach.add(xs, value)


# ---------------------------------------------------------------------------------------------
# pow: bool tensors, 0-d bases


@pytest.mark.parametrize("exponent", [True, False, 2, 0, 2.0, 0.5, [True, False], [2, 0], [2.5, 0.0]])
def test_pow_of_bool_tensors_like_torch(exponent):
    xs, make_torch = _tensors("bool", ((True, False, True), (False,)))
    kind, want = _torch_outcome(lambda: torch._foreach_pow(make_torch(), exponent))
    assert kind == "ok", want
    _assert_equal(jforeach.pow(xs, exponent), want, f"pow(bool, {exponent})")
    if exponent in (True, [True, False]):
        _assert_equal(jforeach.pow(jforeach.pack(xs), exponent).unpack(), want, f"pow(packed bool, {exponent})")


def test_pow_of_bool_tensors_to_bool_tensors_is_not_implemented_like_torch():
    xs, make_torch = _tensors("bool", ((True, False), (False,)))
    with pytest.raises(NotImplementedError):
        torch._foreach_pow(make_torch(), make_torch())
    with pytest.raises(TypeError, match="not implemented"):
        jforeach.pow(xs, xs)


@pytest.mark.parametrize("base", [np.float32(2.5), np.float64(2.5), np.int64(-2), np.bool_(True)])
def test_pow_with_a_0d_array_base_like_torch(base):
    """torch takes a 0-d tensor where it takes the base number: its item, promoting as a number."""
    tensors = [np.array([1.0, 2.0, -1.0], np.float32), np.array([0, 1, 3], np.int64), np.array([1.5], np.float16)]
    torch_base = torch.tensor(base)
    kind, want = _torch_outcome(lambda: torch._foreach_pow(torch_base, [to_torch(t) for t in tensors]))
    for jax_base in (jnp.asarray(base), np.asarray(base))[: 2 if base.dtype == np.float32 else 1]:
        if kind == "raises":
            with pytest.raises((TypeError, ValueError)):
                jforeach.pow(jax_base, [jnp.asarray(t) for t in tensors])
            continue
        _assert_equal(jforeach.pow(jax_base, [jnp.asarray(t) for t in tensors]), want, f"pow({base!r}, tensors)")
    # a 0-d array raised to a number is still the tensor form
    assert float(jforeach.pow(jnp.asarray(base), 2)) == float(torch._foreach_pow([torch_base], 2)[0])


@pytest.mark.parametrize("as_list", [False, True])
def test_integer_pow_wraps_like_torch_for_every_exponent_bit(as_list):
    """XLA's integer pow reads the exponent's low 6 bits only (2 ** 64 gave 1); torch wraps modulo
    2**bits. Numbers go to int32/int64 tensors (torch's exponent must fit the tensor's dtype), tensors
    of int64 exponents to every integer dtype."""
    base = (2, 3, -3, 1, 0, -1, 5)
    xs = [_tensors(d, (base,))[0][0] for d in ("int32", "int64")]
    for exponent in (63, 64, 65, 100, 127, 128, 2**30 + 3, 2**31 - 1):
        operand = [exponent] * len(xs) if as_list else exponent
        want = torch._foreach_pow([to_torch(x) for x in xs], operand)
        _assert_equal(jforeach.pow(xs, operand), want, f"pow(ints, {exponent})")
    xs = [_tensors(d, (base,))[0][0] for d in ("int8", "int16", "int32", "int64")]
    xs.append(jnp.asarray([2, 3, 253, 1, 0, 255, 5], jnp.uint8))
    exponents = [jnp.asarray([64, 100, 2**40 + 3, 2**62 + 1, 7, 65, 128], jnp.int64) for _ in xs]
    want = torch._foreach_pow([to_torch(x) for x in xs], [to_torch(e) for e in exponents])
    _assert_equal(jforeach.pow(xs, exponents), want, "pow(ints, int64 tensors)")


# ---------------------------------------------------------------------------------------------
# powsum / norm dtype=

_REDUCTION_INPUTS = ["bool", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
_REDUCTION_OUTS = [None, "float16", "bfloat16", "float32", "float64", "int32"]


@pytest.mark.parametrize("name", ["powsum", "norm"])
@pytest.mark.parametrize("dtype", _REDUCTION_INPUTS)
def test_reduction_dtype_rules_like_torch(name, dtype):
    """powsum takes any floating dtype= (narrowing too) for any input, and needs one for integer and
    bool input; norm one at least as wide as a floating input. Raises, or torch's dtype (traced
    abstractly; the values are checked below and in test_ops)."""
    xs, make_torch = _tensors(dtype, ((1, 2, 0), (3,)))
    for out in _REDUCTION_OUTS:
        jdt, tdt = (None, None) if out is None else DT[out]
        kind, want = _torch_outcome(lambda tdt=tdt: getattr(torch, f"_foreach_{name}")(make_torch(), 2, dtype=tdt))
        if kind == "raises":
            with pytest.raises(TypeError, match="dtype=|not defined"):
                getattr(jforeach, name)(xs, 2, jdt)
            continue
        got = jax.eval_shape(lambda t, jdt=jdt: getattr(jforeach, name)(t, 2, jdt), xs)
        assert [str(g.dtype) for g in got] == [str(w.dtype).removeprefix("torch.") for w in want], (dtype, out)


def test_powsum_rounds_to_the_dtype_first_like_torch():
    """float64 input with dtype=float16 is rounded to float16, then squared in float32 (1.0020 where
    the float64 sum rounded once gives 1.0010). float32: within an ulp (torch accumulates in float64)."""
    for a in (np.array([1.00048828125 + 1e-7]), np.array([1.00048828125 + 1e-7, 3.0001, 2.0**-20])):
        for out_j, out_t in [(jnp.float16, torch.float16), (jnp.bfloat16, torch.bfloat16)]:
            want = torch._foreach_powsum([torch.tensor(a)], 2, dtype=out_t)
            _assert_equal(jforeach.powsum([jnp.asarray(a)], 2, out_j), want, f"powsum dtype={out_t}")
            packed = jforeach.powsum(jforeach.pack([jnp.asarray(a)]), 2, out_j).unpack()
            _assert_equal(packed, want, f"powsum of a Packed, dtype={out_t}")
        want = torch._foreach_powsum([torch.tensor(a)], 2, dtype=torch.float32)[0].item()
        got = float(jforeach.powsum([jnp.asarray(a)], 2, jnp.float32)[0])
        assert abs(got - want) <= np.spacing(np.float32(want))
    want = torch._foreach_powsum([torch.tensor([70000.0])], 0.5, dtype=torch.float16)  # inf: 70000 overflows first
    _assert_equal(jforeach.powsum([jnp.asarray([70000.0], jnp.float32)], 0.5, jnp.float16), want, "powsum overflow")


# ---------------------------------------------------------------------------------------------
# float16/bfloat16: operands rounded to the tensor's dtype, or kept in float32, as torch's kernels do


def _random(dtype, n=4096, seed=0, scale=3.0, positive=False):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n) * scale
    a = np.abs(a) + 0.05 if positive else a
    jdt, tdt = DT[dtype]
    return jnp.asarray(a, jdt), to_torch(jnp.asarray(a, jdt))


_S = 2.2123456789  # not a float16/bfloat16 number: rounding it first changes a third of the results
_S32 = (jnp.asarray(_S, jnp.float32), torch.tensor(_S))  # a 0-d float32 array: a Scalar for add, a Tensor for mul
# name: the call in jforeach or torch (m), f(m, op) being m's op; xs, ys, zs lists, z0 a 0-d float32
_ROUNDING_CALLS = {
    "add": lambda m, f, xs, ys, zs, z0: f(m, "add")(xs, _S),
    "add_list": lambda m, f, xs, ys, zs, z0: f(m, "add")(xs, [_S] * len(xs)),
    "add_0d": lambda m, f, xs, ys, zs, z0: f(m, "add")(xs, z0),
    "add_0d_list": lambda m, f, xs, ys, zs, z0: f(m, "add")(xs, [z0] * len(xs)),
    "add_alpha": lambda m, f, xs, ys, zs, z0: f(m, "add")(xs, ys, alpha=_S),
    "sub": lambda m, f, xs, ys, zs, z0: f(m, "sub")(xs, _S),
    "sub_alpha": lambda m, f, xs, ys, zs, z0: f(m, "sub")(xs, ys, alpha=_S),
    "mul": lambda m, f, xs, ys, zs, z0: f(m, "mul")(xs, _S),
    "mul_0d": lambda m, f, xs, ys, zs, z0: f(m, "mul")(xs, z0),
    "div": lambda m, f, xs, ys, zs, z0: f(m, "div")(xs, _S),
    "div_list": lambda m, f, xs, ys, zs, z0: f(m, "div")(xs, [_S] * len(xs)),
    "clamp_min": lambda m, f, xs, ys, zs, z0: f(m, "clamp_min")(xs, _S),
    "maximum": lambda m, f, xs, ys, zs, z0: f(m, "maximum")(xs, [_S] * len(xs)),
    "addcmul": lambda m, f, xs, ys, zs, z0: f(m, "addcmul")(xs, ys, zs, _S),
    "addcdiv": lambda m, f, xs, ys, zs, z0: f(m, "addcdiv")(xs, ys, zs, [_S] * len(xs)),
    "lerp": lambda m, f, xs, ys, zs, z0: f(m, "lerp")(xs, ys, 0.3),
}


def _fn(module, name):
    return getattr(torch, f"_foreach_{name}") if module is torch else getattr(jforeach, name)


@pytest.mark.parametrize("name", list(_ROUNDING_CALLS))
def test_reduced_float_operands_are_rounded_where_torch_rounds(name):
    """torch's CPU add/sub cast a number (or 0-d tensor, or alpha) to a float16 tensor's dtype before
    computing in float32; mul, div, clamp, addcmul, addcdiv and lerp keep it in float32. Bit-equal
    results over 4,096 values of float16 and of bfloat16 (these kernels round once, as XLA does)."""
    lists = [[_random(d, seed=s, positive=s == 2) for d in ("float16", "bfloat16")] for s in range(3)]
    jax_lists = [[j for j, _ in one] for one in lists]
    torch_lists = [[t for _, t in one] for one in lists]
    call = _ROUNDING_CALLS[name]
    got = call(jforeach, _fn, *jax_lists, _S32[0])
    _assert_equal(got, call(torch, _fn, *torch_lists, _S32[1]), name)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_reduced_float_pow_rounds_exponent_and_base_like_torch(dtype):
    """pow rounds the exponent (and the base of pow(number, tensors)) to the tensor's dtype: within an
    ulp of the dtype everywhere (XLA's and torch's float32 pow differ in the last float32 bit), and far
    closer to torch than a float32 exponent is."""
    x, xt = _random(dtype, positive=True)
    for got, want in [
        (jforeach.pow([x], _S)[0], torch._foreach_pow([xt], _S)[0]),
        (jforeach.pow([x], [_S])[0], torch._foreach_pow([xt], [_S])[0]),
        (jforeach.pow(_S, [x])[0], torch._foreach_pow(_S, [xt])[0]),
    ]:
        g, w = np.asarray(got, np.float64), to_numpy(want).astype(np.float64)
        spacing = np.spacing(np.abs(w).astype(np.float32)) * (2.0**13 if dtype == "float16" else 2.0**16)
        assert np.all(np.abs(g - w) <= spacing), dtype
        assert np.mean(g == w) > 0.995, np.mean(g == w)


def test_reduced_float_scalar_examples():
    f16 = torch.float16
    cases = [
        (
            jforeach.add([jnp.asarray([-2.334], jnp.float16)], [2.212]),
            torch._foreach_add([torch.tensor([-2.334], dtype=f16)], [2.212]),
        ),
        (
            jforeach.sub([jnp.asarray([np.inf], jnp.float16)], 2**63 - 1),
            torch._foreach_sub([torch.tensor([np.inf], dtype=f16)], 2**63 - 1),
        ),
    ]
    for got, want in cases:
        _assert_equal(got, want, "example")
    assert float(cases[0][0][0][0]) == pytest.approx(-0.1211, abs=1e-4)
    assert np.isnan(float(cases[1][0][0][0]))


# ---------------------------------------------------------------------------------------------
# Order of operations


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_addcdiv_multiplies_first_like_torch(dtype):
    """torch's kernel computes self + value * t1 / t2, i.e. (value * t1) / t2: bit-equal on random
    data, and at overflow (value * t1 overflows where t1 / t2 would not)."""
    (xj, xt), (yj, yt), (zj, zt) = (_random(dtype, seed=s, positive=s == 2) for s in range(3))
    for value in (_S, -0.001, 3e4):
        _assert_equal(jforeach.addcdiv([xj], [yj], [zj], value), torch._foreach_addcdiv([xt], [yt], [zt], value), dtype)
    big = {"float64": (1e300, 1e10, 1e10), "float32": (1e30, 1e10, 1e10), "float16": (6e4, 100.0, 1e30)}
    big["bfloat16"] = big["float32"]
    t1, t2, value = big[dtype]
    jdt, tdt = DT[dtype]
    args = [np.array([t1, -t1, 1.0]), np.array([t2, t2, 0.0])]
    got = jforeach.addcdiv_([jnp.zeros(3, jdt)], [jnp.asarray(args[0], jdt)], [jnp.asarray(args[1], jdt)], value)
    want = [torch.zeros(3, dtype=tdt)]
    torch._foreach_addcdiv_(want, [torch.tensor(args[0], dtype=tdt)], [torch.tensor(args[1], dtype=tdt)], value)
    _assert_equal(got, want, f"{dtype} addcdiv_ at overflow")
    assert np.isinf(np.asarray(got[0], np.float64)[0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_addcmul_lerp_add_sub_follow_torch_bit_for_bit(dtype):
    """addcmul (torch's CPU kernel fuses self + (value * t1) * t2 into an fma, as XLA:CPU does),
    lerp (its two formulas), add/sub with alpha: bit-equal to torch on random data."""
    (xj, xt), (yj, yt), (zj, zt) = (_random(dtype, seed=s) for s in range(3))
    pairs = [
        (jforeach.addcmul([xj], [yj], [zj], _S), torch._foreach_addcmul([xt], [yt], [zt], _S)),
        (jforeach.lerp([xj], [yj], 0.3), torch._foreach_lerp([xt], [yt], 0.3)),
        (jforeach.lerp([xj], [yj], 0.7), torch._foreach_lerp([xt], [yt], 0.7)),
        (jforeach.lerp([xj], [yj], [yj]), torch._foreach_lerp([xt], [yt], [yt])),
        (jforeach.add([xj], [yj], alpha=_S), torch._foreach_add([xt], [yt], alpha=_S)),
        (jforeach.sub([xj], [yj], alpha=_S), torch._foreach_sub([xt], [yt], alpha=_S)),
    ]
    for i, (got, want) in enumerate(pairs):
        _assert_equal(got, want, f"{dtype} case {i}")


# ---------------------------------------------------------------------------------------------
# Division by a number: a true division


_DIVIDENDS = np.array([1e7, np.inf, -np.inf, -3.0, 1.0, np.nan, 0.0, 2.5e30, 1e-3], np.float32)


def _normal_or_zero(w):
    # XLA:CPU flushes subnormal results to zero (torch keeps them): compared where torch's is normal
    return (np.abs(w) >= np.finfo(np.float32).tiny) | (w == 0) | ~np.isfinite(w)


@pytest.mark.parametrize("divisor", [3e38, -1e38, 8.6e37, 8.4e37, 7.1])
def test_division_by_a_number_is_a_true_division(divisor):
    """XLA:CPU turns x / c into x * (1 / c): 1 ulp off a third of the time, and 0 (inf / c NaN) once
    1 / c is subnormal, |c| > 2**126. Every way to pass c, on lists, a Packed, and inside jit."""
    rng = np.random.default_rng(0)
    a = np.concatenate([_DIVIDENDS, rng.standard_normal(2048).astype(np.float32) * 1e3])
    x = jnp.asarray(a)
    want = torch._foreach_div([torch.tensor(a)], divisor)[0].numpy()
    keep = _normal_or_zero(want)
    c32 = jnp.asarray(divisor, jnp.float32)
    results = {
        "Scalar": jforeach.div([x], divisor)[0],
        "ScalarList": jforeach.div([x], [divisor])[0],
        "0-d Tensor": jforeach.div([x], c32)[0],
        "Packed Scalar": jforeach.div(jforeach.pack([x]), divisor).unpack()[0],
        "Packed ScalarList": jforeach.div(jforeach.pack([x, x[:3]]), [divisor, 1.0]).unpack()[0],
        "Packed 0-d Tensor": jforeach.div(jforeach.pack([x]), c32).unpack()[0],
        "jit Scalar": jax.jit(lambda v, c: jforeach.div(v, c))([x], divisor)[0],
        "jit 0-d Tensor": jax.jit(lambda v, c: jforeach.div(v, c))([x], c32)[0],
        "in place": jforeach.div_([jnp.array(x, copy=True)], divisor)[0],
    }
    for how, got in results.items():
        got = np.asarray(got)
        np.testing.assert_array_equal(got[keep], want[keep], err_msg=f"{how}, divisor {divisor}")
        assert np.all(got[~keep] == 0), how  # flushed, not garbage


# ---------------------------------------------------------------------------------------------
# cosh


def _ulps(got, ref, dtype):
    """|got - ref| in units of the dtype's spacing at ref, where ref is finite in the dtype."""
    finite = np.abs(ref) <= float(np.finfo(dtype).max)
    assert np.all(np.isinf(got[~finite])), "overflows where the true value overflows"
    spacing = np.spacing(np.abs(ref[finite]).astype(dtype)).astype(np.float64)
    return np.abs(got[finite].astype(np.float64) - ref[finite]) / spacing, np.isinf(got[finite])


def test_cosh_float32_ulp_error_on_a_dense_grid():
    """Within 1.5 ulp of the float64 cosh on 420,000 points of [-89.5, 89.5] and up to the overflow
    (XLA's cosh: 24 ulp above |x| = 20). torch's vectorized kernel is within 0.62 ulp, but returns
    inf from |x| = 88.72, where cosh is finite up to 89.4159."""
    x = np.concatenate([np.linspace(-89.5, 89.5, 400_001), np.linspace(88.5, 89.42, 20_001)]).astype(np.float32)
    ref = np.cosh(x.astype(np.float64))
    ours, ours_inf = _ulps(np.asarray(jforeach.cosh([jnp.asarray(x)])[0]), ref, np.float32)
    theirs, theirs_inf = _ulps(torch._foreach_cosh([torch.tensor(x)])[0].numpy(), ref, np.float32)
    assert ours[~ours_inf].max() <= 1.5 and not ours_inf.any()
    assert theirs[~theirs_inf].max() <= 1.0
    assert np.abs(x[np.abs(ref) <= np.finfo(np.float32).max][theirs_inf]).min() > 88.7
    assert ours.max() <= 3 * theirs[~theirs_inf].max()
    special = jforeach.cosh([jnp.asarray([np.inf, -np.inf, np.nan, 0.0], jnp.float32)])[0]
    np.testing.assert_array_equal(np.asarray(special), [np.inf, np.inf, np.nan, 1.0])


def test_cosh_float64_ulp_error():
    """Within 1.7 ulp of a 120-bit cosh on 3,000 points up to float64's overflow (jnp.cosh: 495 ulp;
    torch: 0.5 ulp, and inf from 709.78 where cosh is finite up to 710.47)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-710.4, 710.4, 1500), rng.uniform(-20, 20, 1000), rng.uniform(-1, 1, 500)])
    mpmath.mp.prec = 120
    ref = [mpmath.cosh(mpmath.mpf(float(v))) for v in x]
    got = np.asarray(jforeach.cosh([jnp.asarray(x)])[0])
    errors = [abs(mpmath.mpf(float(g)) - r) / np.spacing(float(r)) for g, r in zip(got, ref, strict=True)]
    assert float(max(errors)) <= 1.7
    torch_got = torch._foreach_cosh([torch.tensor(x)])[0].numpy()
    torch_errors = [
        abs(mpmath.mpf(float(g)) - r) / np.spacing(float(r))
        for g, r in zip(torch_got, ref, strict=True)
        if np.isfinite(g)
    ]
    assert float(max(torch_errors)) <= 0.51  # torch's (libm's): correctly rounded or nearly
