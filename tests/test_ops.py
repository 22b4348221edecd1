"""Every op x overload x dtype against ``torch._foreach_*``, driven by the library's own op table.

torch is the oracle: where torch raises, jforeach must raise (TypeError or ValueError); where torch
returns, jforeach must return the same dtype and the same values, out of place and in place.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _torch_ref import DTYPES, assert_matches, to_torch

import jforeach
from jforeach._table import BINARY_OPS, OPS, UNARY_OPS

SHAPES = [(3, 4), (5,), ()]
ALL_DTYPES = list(DTYPES)
FLOATS = ["float32", "float64", "bfloat16", "float16"]


def make(dtype: str, domain=(-3.0, 3.0), seed=0, shapes=SHAPES):
    """Random tensors in ``domain``: (jax list, a function giving a fresh torch list)."""
    rng = np.random.default_rng(seed)
    jdt, _ = DTYPES[dtype]
    arrays = []
    for shape in shapes:
        if dtype == "bool":
            a = rng.random(shape) < 0.5
        elif dtype.startswith("int"):
            lo, hi = math.floor(domain[0]), math.ceil(domain[1])
            a = rng.integers(lo, hi + 1, shape)
        else:
            a = rng.uniform(*domain, shape)
        arrays.append(jnp.asarray(a, jdt))
    return arrays, lambda: [to_torch(a) for a in arrays]


def check(name, jax_call, torch_call, context):
    """Runs both; both must raise, or both return matching tensors."""
    try:
        want = torch_call()
    except (RuntimeError, TypeError, ValueError) as error:
        with pytest.raises((TypeError, ValueError)):
            jax_call()
        return f"raises like torch ({str(error)[:40]})"
    got = jax_call()
    assert len(got) == len(want), context
    for g, w in zip(got, want, strict=True):
        assert_matches(g, w, context=context)
    return "ok"


def run_both_ways(name, xs_jax, make_torch, jax_args, torch_args, context, jax_kwargs=None, torch_kwargs=None):
    jax_kwargs = jax_kwargs or {}
    torch_kwargs = torch_kwargs or {}
    op = OPS[name]
    if op.outplace:
        check(
            name,
            lambda: getattr(jforeach, name)(list(xs_jax), *jax_args, **jax_kwargs),
            lambda: getattr(torch, f"_foreach_{name}")(make_torch(), *torch_args(), **torch_kwargs),
            f"{context} out-of-place",
        )
    if op.inplace:

        def torch_inplace():
            ts = make_torch()
            getattr(torch, f"_foreach_{name}_")(ts, *torch_args(), **torch_kwargs)
            return ts

        def jax_inplace():
            fresh = [jnp.array(x, copy=True) for x in xs_jax]
            out = getattr(jforeach, f"{name}_")(fresh, *jax_args, **jax_kwargs)
            assert out is fresh  # the caller's list is updated and returned
            return fresh

        check(name, jax_inplace, torch_inplace, f"{context} in-place")


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("name", UNARY_OPS)
def test_unary(name, dtype):
    xs, make_torch = make(dtype, OPS[name].test_domain)
    run_both_ways(name, xs, make_torch, (), lambda: (), f"{name} {dtype}")


def _scalar_operands(name):
    if name == "pow":
        return {"float": 2.0, "half": 0.5, "int": 2, "list": [2.0, 0.5, 3.0], "intlist": [2, 1, 3]}
    return {"float": 1.5, "int": 2, "bool": True, "list": [1.5, -0.5, 2.25], "intlist": [2, -1, 3]}


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("name", BINARY_OPS)
def test_binary_scalar_and_scalarlist(name, dtype):
    xs, make_torch = make(dtype, OPS[name].test_domain)
    for label, value in _scalar_operands(name).items():
        run_both_ways(name, xs, make_torch, (value,), lambda v=value: (v,), f"{name} {dtype} {label}={value}")


@pytest.mark.parametrize("other_dtype", ["same", "float32", "bfloat16", "int32"])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("name", BINARY_OPS)
def test_binary_list(name, dtype, other_dtype):
    xs, make_torch = make(dtype, OPS[name].test_domain)
    odt = dtype if other_dtype == "same" else other_dtype
    domain = (0.5, 2.5) if name in ("div", "pow") else (-3.0, 3.0)
    # the first operand is a (4,) row, broadcast against the (3, 4) tensor
    others, make_torch_others = make(odt, domain, seed=1, shapes=[(4,), *SHAPES[1:]])
    run_both_ways(name, xs, make_torch, (others,), lambda: (make_torch_others(),), f"{name} {dtype} with {odt} list")
    if name in ("add", "sub"):
        for alpha in (2, 0.5):
            run_both_ways(name, xs, make_torch, (others,), lambda: (make_torch_others(),),
                          f"{name} {dtype} with {odt} list alpha={alpha}", {"alpha": alpha}, {"alpha": alpha})


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("name", ["add", "mul", "div"])
def test_binary_tensor_overload(name, dtype):
    xs, make_torch = make(dtype)
    for value in (jnp.array(1.5, jnp.float32), jnp.array(3, jnp.int32), jnp.array(2.5, jnp.float64)):
        run_both_ways(name, xs, make_torch, (value,), lambda v=value: (to_torch(v),),
                      f"{name} {dtype} Tensor {value.dtype}")


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_pow_scalar_base(dtype):
    xs, make_torch = make(dtype, (-2.0, 2.0))
    for base in (2.0, 3, 0.5):
        check(
            "pow",
            lambda b=base: jforeach.pow(b, xs),
            lambda b=base: torch._foreach_pow(b, make_torch()),
            f"pow({base}, {dtype})",
        )


def test_pow_int_negative_exponent_raises_like_torch():
    xs, make_torch = make("int32", (1.0, 3.0))
    with pytest.raises(RuntimeError):
        torch._foreach_pow(make_torch(), -1)
    with pytest.raises(ValueError, match="negative integer powers"):
        jforeach.pow(xs, -1)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
def test_addcmul_addcdiv(name, dtype):
    xs, make_torch = make(dtype)
    t1, make_t1 = make(dtype, seed=1)
    t2, make_t2 = make(dtype, (0.5, 2.5), seed=2)
    values = {
        "default": None,
        "scalar": 0.5,
        "int": 2,
        "list": [0.5, 2.0, -1.0],
        "tensor": jnp.array([0.5, 2.0, -1.0], jnp.float32),
    }
    for label, value in values.items():
        jax_args = (t1, t2) if value is None else (t1, t2, value)

        def torch_args(v=value):
            base = (make_t1(), make_t2())
            if v is None:
                return base
            return (*base, to_torch(v) if isinstance(v, jnp.ndarray) else v)

        run_both_ways(name, xs, make_torch, jax_args, torch_args, f"{name} {dtype} value={label}")


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_lerp(dtype):
    xs, make_torch = make(dtype)
    ends, make_ends = make(dtype, seed=1)
    weights, make_weights = make(dtype, (0.0, 1.0), seed=2)
    for label, (jw, tw) in {
        "scalar": (0.3, lambda: 0.3),
        "big scalar": (0.8, lambda: 0.8),
        "list": ([0.3, 0.7, 1.2], lambda: [0.3, 0.7, 1.2]),
        "tensors": (weights, make_weights),
    }.items():
        run_both_ways("lerp", xs, make_torch, (ends, jw), lambda tw=tw: (make_ends(), tw()), f"lerp {dtype} {label}")


def test_lerp_rejects_mixed_dtypes_like_torch():
    xs, make_torch = make("bfloat16")
    ends, make_ends = make("float32", seed=1)
    with pytest.raises(RuntimeError):
        torch._foreach_lerp(make_torch(), make_ends(), 0.5)
    with pytest.raises(TypeError, match="lerp"):
        jforeach.lerp(xs, ends, 0.5)


ORDS = [1, 2, 3, 0.5, -1, math.inf, -math.inf, 0]


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_norm(dtype):
    xs, make_torch = make(dtype)
    for ord_ in ORDS:
        check("norm", lambda o=ord_: jforeach.norm(xs, o), lambda o=ord_: torch._foreach_norm(make_torch(), o),
              f"norm {dtype} ord={ord_}")
    for out in ("float32", "float64", "bfloat16"):
        check(
            "norm",
            lambda o=out: jforeach.norm(xs, 2, DTYPES[o][0]),
            lambda o=out: torch._foreach_norm(make_torch(), 2, dtype=DTYPES[o][1]),
            f"norm {dtype} dtype={out}",
        )


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_powsum(dtype):
    xs, make_torch = make(dtype)
    for ord_ in (1, 2, 3, 0.5):
        check("powsum", lambda o=ord_: jforeach.powsum(xs, o), lambda o=ord_: torch._foreach_powsum(make_torch(), o),
              f"powsum {dtype} ord={ord_}")


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_max(dtype):
    xs, make_torch = make(dtype)
    check("max", lambda: jforeach.max(xs), lambda: torch._foreach_max(make_torch()), f"max {dtype}")


def test_reductions_of_special_values():
    x = [jnp.array([jnp.nan, 1.0], jnp.float32), jnp.array([jnp.inf, -2.0], jnp.float32), jnp.zeros(0, jnp.float32)]
    t = lambda: [to_torch(a) for a in x]  # noqa: E731
    for ord_ in (2, 1, 0):
        for g, w in zip(jforeach.norm(x, ord_), torch._foreach_norm(t(), ord_), strict=True):
            assert_matches(g, w, context=f"norm ord={ord_}")
    for g, w in zip(jforeach.norm(x[:2], math.inf), torch._foreach_norm(t()[:2], math.inf), strict=True):
        assert_matches(g, w, context="norm ord=inf")
    with pytest.raises(RuntimeError):
        torch._foreach_norm(t(), math.inf)
    with pytest.raises(ValueError, match="empty"):
        jforeach.norm(x, math.inf)
    for g, w in zip(jforeach.max(x[:2]), torch._foreach_max(t()[:2]), strict=True):
        assert_matches(g, w, context="max")
    with pytest.raises(ValueError, match="empty"):
        jforeach.max(x)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_zero_copy_clone(dtype):
    xs, make_torch = make(dtype)
    src, make_src = make("float32", seed=3)
    ts = make_torch()
    torch._foreach_zero_(ts)
    out = jforeach.zero_([jnp.array(x, copy=True) for x in xs])
    for g, w in zip(out, ts, strict=True):
        assert_matches(g, w, context="zero_")
    ts = make_torch()
    torch._foreach_copy_(ts, make_src())
    out = jforeach.copy_([jnp.array(x, copy=True) for x in xs], src)
    for g, w in zip(out, ts, strict=True):
        assert_matches(g, w, context="copy_")
    for g, w in zip(jforeach.clone(xs), torch._foreach_clone(make_torch()), strict=True):
        assert_matches(g, w, context="clone")


def test_the_article_values_are_corrected():
    xs = [jnp.array(1.0, jnp.float32), jnp.array(2.0, jnp.float32), jnp.array(3.0, jnp.float32)]
    jforeach.log1p_(xs)
    ts = [torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)]
    torch._foreach_log1p_(ts)
    for g, w in zip(xs, ts, strict=True):
        assert_matches(g, w)
    np.testing.assert_allclose([float(x) for x in xs], [0.6931472, 1.0986123, 1.3862944], rtol=1e-7)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_mm(dtype):
    xs, make_torch = make(dtype, (-2.0, 2.0), shapes=[(2, 3), (4, 1), (1, 1)])
    mats, make_mats = make(dtype, (-2.0, 2.0), seed=1, shapes=[(3, 5), (1, 2), (1, 3)])
    run_both_ways("mm", xs, make_torch, (mats,), lambda: (make_mats(),), f"mm {dtype}")
    other, make_other = make("float64" if dtype == "float32" else "float32", seed=1, shapes=[(3, 5), (1, 2), (1, 3)])
    check("mm", lambda: jforeach.mm(xs, other), lambda: torch._foreach_mm(make_torch(), make_other()), "mm mixed")


def test_every_torch_foreach_op_is_here():
    torch_ops = {n.removeprefix("_foreach_") for n in dir(torch) if n.startswith("_foreach_")}
    missing = sorted(n for n in torch_ops if not hasattr(jforeach, n))
    assert missing == [], f"torch ops without a jforeach function: {missing}"
