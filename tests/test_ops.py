"""Every op x overload x dtype against ``torch._foreach_*``, driven by the library's own op table.

torch is the oracle: where torch raises, jforeach must raise (TypeError or ValueError); where torch
returns, jforeach must return the same dtype and the same values, out of place and in place.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _torch_ref import DTYPES, assert_matches, jax_dtype_name, to_torch, torch_dtype_name

import jforeach
from jforeach._table import BINARY_OPS, OPS, UNARY_OPS

SHAPES = [(3, 6), ()]  # a matrix and a 0-d tensor: 19 values per dtype, two arrays to compile
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


def check_all_dtypes(name, dtypes, build, *, kwargs=None, context="", group=lambda case: None):
    """One op over many dtype cases with one jforeach call per direction.

    ``build(case)`` returns ``(xs, make_torch, jax_args, torch_args)`` for one case. torch
    runs each case separately; the cases torch accepts are concatenated into one jforeach call (one
    kernel to compile), and each case torch rejects must be rejected by jforeach on its own.

    In place, jforeach's kernel is the out-of-place one followed by a cast into the tensor's dtype
    (``_kernels.apply_one``), so the in-place values are compiled and compared for the first case of
    each ``group(case)`` and for every case where torch's in-place result differs from its
    out-of-place one in dtype; every other accepted case is checked by abstract evaluation
    (accepted, the tensor's dtype and shape), which compiles nothing. Rejections are checked on
    every case in both directions.
    """
    kwargs = kwargs or {}
    op = OPS[name]
    modes = [m for m, ok in (("out", op.outplace), ("in", op.inplace)) if ok]
    out_dtypes = {}  # case -> torch's out-of-place result dtypes, to pick the in-place cases to compile
    for mode in modes:
        accepted, abstract = [], []  # compiled and compared; in place, traced only
        compiled_groups = set()  # in place: the groups whose first accepted case is compiled
        for case in dtypes:
            xs, make_torch, jax_args, torch_args = build(case)
            label = f"{context} {name} {case} {mode}-of-place"
            try:
                if mode == "out":
                    want = getattr(torch, f"_foreach_{name}")(make_torch(), *torch_args(), **kwargs)
                    out_dtypes[case] = [w.dtype for w in want]
                else:
                    want = make_torch()
                    getattr(torch, f"_foreach_{name}_")(want, *torch_args(), **kwargs)
            except (RuntimeError, TypeError, ValueError):
                fresh = [jnp.array(x, copy=True) for x in xs]
                with pytest.raises((TypeError, ValueError)):
                    getattr(jforeach, name if mode == "out" else f"{name}_")(fresh, *jax_args, **kwargs)
                assert not any(x.is_deleted() for x in fresh), f"{label}: a rejected call donated"
                continue
            same_dtypes = out_dtypes.get(case) == [w.dtype for w in want]
            if mode == "in" and group(case) in compiled_groups and same_dtypes:
                abstract.append((xs, jax_args, want, label))
                continue
            compiled_groups.add(group(case))
            accepted.append((xs, jax_args, want, label))
        if abstract:
            _check_inplace_abstractly(name, abstract, kwargs)
        if not accepted:
            continue
        xs = [jnp.array(x, copy=True) for a in accepted for x in a[0]]
        jax_args = [_concat_operand(parts) for parts in zip(*(a[1] for a in accepted), strict=True)]
        if mode == "out":
            got = getattr(jforeach, name)(xs, *jax_args, **kwargs)
        else:
            got = getattr(jforeach, f"{name}_")(xs, *jax_args, **kwargs)
            assert got is xs  # the caller's list is updated and returned
        start = 0
        for case_xs, _, want, label in accepted:
            for j, w in enumerate(want):
                assert_matches(got[start + j], w, context=label)
            start += len(case_xs)


def _check_inplace_abstractly(name, cases, kwargs):
    """The in-place call of all ``(xs, jax_args, want, label)`` cases traced at once, compiling nothing:
    accepted, and each tensor keeps torch's dtype and shape."""
    xs = [x for case in cases for x in case[0]]
    jax_args = [_concat_operand(parts) for parts in zip(*(case[1] for case in cases), strict=True)]
    got = jax.eval_shape(lambda ts: getattr(jforeach, f"{name}_")(ts, *jax_args, **kwargs), xs)
    assert len(got) == len(xs), name
    start = 0
    for case_xs, _, want, label in cases:
        assert len(want) == len(case_xs), label
        for g, w in zip(got[start : start + len(case_xs)], want, strict=True):
            assert (jax_dtype_name(g), tuple(g.shape)) == (torch_dtype_name(w), tuple(w.shape)), label
        start += len(case_xs)


def _concat_operand(parts):
    """Joins one operand of several cases: lists are concatenated, a shared number stays one number."""
    if isinstance(parts[0], list):
        return [v for part in parts for v in part]
    if isinstance(parts[0], jnp.ndarray) and parts[0].ndim == 1:
        return jnp.concatenate(parts)  # addcmul's 1-D value: one entry per tensor
    if all(p is parts[0] for p in parts):
        return parts[0]
    raise ValueError("cases must share their Scalar operands")


@pytest.mark.parametrize("name", UNARY_OPS)
def test_unary(name):
    check_all_dtypes(name, ALL_DTYPES, lambda d: (*make(d, OPS[name].test_domain), (), lambda: ()))


def _scalar_operands(name):
    if name == "pow":
        return {
            "float": 2.0,
            "half": 0.5,
            "int": 2,
            "list": [3.0, 0.5],
            "intlist": [3, 2],
            "mixed": [2, 0.5],
        }
    return {
        "float": 1.5,
        "int": 2,
        "bool": True,
        "list": [2.25, -0.5],
        "intlist": [3, -1],
        "mixed": [-1, 0.5],
    }


@pytest.mark.parametrize(
    ("name", "operand"), [(name, operand) for name in BINARY_OPS for operand in _scalar_operands(name)]
)
def test_binary_scalar_and_scalarlist(name, operand):
    value = _scalar_operands(name)[operand]
    check_all_dtypes(
        name,
        ALL_DTYPES,
        lambda d: (*make(d, OPS[name].test_domain), (value,), lambda: (value,)),
        context=f"{operand}={value}",
    )


OTHER_DTYPES = ["same", "float32", "bfloat16", "int32"]  # the List operand's dtype ("same": the tensor's)


@pytest.mark.parametrize("name", BINARY_OPS)
def test_binary_list(name):
    """Every tensor dtype against a List of each of ``OTHER_DTYPES``: a List's arrays promote one by
    one with their tensors, so all these cases go into one jforeach call per direction (in place, the
    first case of each List dtype is compiled, as when each List dtype was a call of its own)."""
    domain = (0.5, 2.5) if name in ("div", "pow") else (-3.0, 3.0)

    def build(case):
        dtype, other_dtype = case
        xs, make_torch = make(dtype, OPS[name].test_domain)
        # the first operand is a (6,) row, broadcast against the (3, 6) tensor
        odt = dtype if other_dtype == "same" else other_dtype
        others, make_others = make(odt, domain, seed=1, shapes=[(6,), *SHAPES[1:]])
        return xs, make_torch, (others,), lambda: (make_others(),)

    def cases(other_dtypes):
        return [(dtype, other) for other in other_dtypes for dtype in ALL_DTYPES]

    def other_dtype(case):
        return case[1]

    check_all_dtypes(name, cases(OTHER_DTYPES), build, context="with a list", group=other_dtype)
    # alpha's rules read the result's dtype, which the seven tensor dtypes with a same-dtype and a
    # float32 list already span; the bfloat16 and int32 lists add no result dtype alpha could meet
    if name in ("add", "sub"):
        for alpha in (2, 0.5):
            check_all_dtypes(
                name,
                cases(OTHER_DTYPES[:2]),
                build,
                kwargs={"alpha": alpha},
                context=f"alpha={alpha}",
                group=other_dtype,
            )


@pytest.mark.parametrize("name", ["add", "mul", "div"])
def test_binary_tensor_overload(name):
    for value in (jnp.array(1.5, jnp.float32), jnp.array(3, jnp.int32), jnp.array(2.5, jnp.float64)):
        check_all_dtypes(
            name,
            ALL_DTYPES,
            lambda d, v=value: (*make(d), (v,), lambda: (to_torch(v),)),
            context=f"Tensor {value.dtype}",
        )


def check_merged(cases, jax_call, torch_call, context=""):
    """``jax_call(xs)`` against ``torch_call(make_torch)`` for every ``(label, xs, make_torch)`` case.

    As in :func:`check_all_dtypes`: the cases torch accepts go into one jforeach call, and each case
    torch rejects must be rejected by jforeach on its own, donating nothing.
    """
    accepted = []
    for label, xs, make_torch in cases:
        try:
            want = torch_call(make_torch)
        except (RuntimeError, TypeError, ValueError):
            fresh = [jnp.array(x, copy=True) for x in xs]
            with pytest.raises((TypeError, ValueError)):
                jax_call(fresh)
            assert not any(x.is_deleted() for x in fresh), f"{context} {label}: a rejected call donated"
            continue
        accepted.append((label, xs, want))
    if not accepted:
        return
    got = jax_call([jnp.array(x, copy=True) for _, xs, _ in accepted for x in xs])
    start = 0
    for label, xs, want in accepted:
        assert len(want) == len(xs), label
        for j, w in enumerate(want):
            assert_matches(got[start + j], w, context=f"{context} {label}")
        start += len(xs)


def test_pow_scalar_base():
    cases = [(dtype, *make(dtype, (-2.0, 2.0))) for dtype in ALL_DTYPES]
    for base in (2.0, 3, 0.5):
        check_merged(
            cases,
            lambda xs, b=base: jforeach.pow(b, xs),
            lambda make_torch, b=base: torch._foreach_pow(b, make_torch()),
            f"pow({base}, tensors)",
        )


def test_pow_int_negative_exponent_raises_like_torch():
    xs, make_torch = make("int32", (1.0, 3.0))
    with pytest.raises(RuntimeError):
        torch._foreach_pow(make_torch(), -1)
    with pytest.raises(ValueError, match="negative integer powers"):
        jforeach.pow(xs, -1)


@pytest.mark.parametrize("value", ["default", "scalar", "int", "list", "mixed", "tensor"])
@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
def test_addcmul_addcdiv(name, value):
    v = {
        "default": None,
        "scalar": 0.5,
        "int": 2,
        "list": [2.0, -1.0],
        "mixed": [-1, 0.5],
        "tensor": jnp.array([2.0, -1.0], jnp.float32),
    }[value]

    def build(dtype):
        xs, make_torch = make(dtype)
        t1, make_t1 = make(dtype, seed=1)
        t2, make_t2 = make(dtype, (0.5, 2.5), seed=2)
        if v is None:
            return xs, make_torch, (t1, t2), lambda: (make_t1(), make_t2())
        torch_v = to_torch(v) if isinstance(v, jnp.ndarray) else v
        return xs, make_torch, (t1, t2, v), lambda: (make_t1(), make_t2(), torch_v)

    check_all_dtypes(name, ALL_DTYPES, build, context=f"value={value}")


@pytest.mark.parametrize("weight", ["scalar", "big scalar", "list", "tensors"])
def test_lerp(weight):
    def build(dtype):
        xs, make_torch = make(dtype)
        ends, make_ends = make(dtype, seed=1)
        weights, make_weights = make(dtype, (0.0, 1.0), seed=2)
        jw, tw = {
            "scalar": (0.3, lambda: 0.3),
            "big scalar": (0.8, lambda: 0.8),
            "list": ([0.3, 1.2], lambda: [0.3, 1.2]),  # both of torch's lerp formulas
            "tensors": (weights, make_weights),
        }[weight]
        return xs, make_torch, (ends, jw), lambda: (make_ends(), tw())

    check_all_dtypes("lerp", ALL_DTYPES, build, context=weight)


def test_lerp_rejects_mixed_dtypes_like_torch():
    xs, make_torch = make("bfloat16")
    ends, make_ends = make("float32", seed=1)
    with pytest.raises(RuntimeError):
        torch._foreach_lerp(make_torch(), make_ends(), 0.5)
    with pytest.raises(TypeError, match="lerp"):
        jforeach.lerp(xs, ends, 0.5)


ORDS = [1, 2, 3, 0.5, -1, math.inf, -math.inf, 0]


@pytest.mark.parametrize("ord_", ORDS)
def test_norm(ord_):
    check_all_dtypes("norm", ALL_DTYPES, lambda d: (*make(d), (ord_,), lambda: (ord_,)), context=f"ord={ord_}")


@pytest.mark.parametrize("out", ["float32", "float64", "bfloat16"])
def test_norm_dtype(out):
    jdt, tdt = DTYPES[out]
    check_all_dtypes("norm", ALL_DTYPES, lambda d: (*make(d), (2, jdt), lambda: (2, tdt)), context=f"dtype={out}")


@pytest.mark.parametrize("ord_", [1, 2, 3, 0.5, 0])
def test_powsum(ord_):
    check_all_dtypes("powsum", ALL_DTYPES, lambda d: (*make(d), (ord_,), lambda: (ord_,)), context=f"ord={ord_}")


def test_max():
    check_all_dtypes("max", ALL_DTYPES, lambda d: (*make(d), (), lambda: ()))


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


def test_zero_copy_clone():
    cases = [(dtype, *make(dtype)) for dtype in ALL_DTYPES]
    src, make_src = make("float32", seed=3)

    def torch_zero(make_torch):
        ts = make_torch()
        torch._foreach_zero_(ts)
        return ts

    def torch_copy(make_torch):
        ts = make_torch()
        torch._foreach_copy_(ts, make_src())
        return ts

    def jax_zero(xs):
        out = jforeach.zero_(xs)
        assert out is xs
        return xs

    def jax_copy(xs):
        out = jforeach.copy_(xs, src * (len(xs) // len(src)))  # the float32 sources, once per case
        assert out is xs
        return xs

    check_merged(cases, jax_zero, torch_zero, "zero_")
    check_merged(cases, jax_copy, torch_copy, "copy_")
    check_merged(cases, jforeach.clone, lambda make_torch: torch._foreach_clone(make_torch()), "clone")


def test_the_article_values_are_corrected():
    xs = [jnp.array(1.0, jnp.float32), jnp.array(2.0, jnp.float32), jnp.array(3.0, jnp.float32)]
    jforeach.log1p_(xs)
    ts = [torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)]
    torch._foreach_log1p_(ts)
    for g, w in zip(xs, ts, strict=True):
        assert_matches(g, w)
    np.testing.assert_allclose([float(x) for x in xs], [0.6931472, 1.0986123, 1.3862944], rtol=1e-7)


def test_mm():
    def build(dtype):
        xs, make_torch = make(dtype, (-2.0, 2.0), shapes=[(2, 3), (4, 1), (1, 1)])
        mats, make_mats = make(dtype, (-2.0, 2.0), seed=1, shapes=[(3, 5), (1, 2), (1, 3)])
        return xs, make_torch, (mats,), lambda: (make_mats(),)

    check_all_dtypes("mm", ALL_DTYPES, build)
    xs, make_torch = make("float32", shapes=[(2, 3)])
    other, make_other = make("float64", seed=1, shapes=[(3, 5)])
    check("mm", lambda: jforeach.mm(xs, other), lambda: torch._foreach_mm(make_torch(), make_other()), "mm mixed")


def test_every_torch_foreach_op_is_here():
    torch_ops = {n.removeprefix("_foreach_") for n in dir(torch) if n.startswith("_foreach_")}
    missing = sorted(n for n in torch_ops if not hasattr(jforeach, n))
    assert missing == [], f"torch ops without a jforeach function: {missing}"


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_unary_ops_keep_the_smallest_normal_numbers(dtype):
    """Inputs at the bottom of the normal range, where an intermediate that halves them flushes to 0
    (XLA's asin of FLT_MIN was 0): within 4 ulps of torch, signs of zeros included."""
    jdt, tdt = DTYPES[dtype]
    tiny = float(np.finfo(np.float64 if dtype == "float64" else np.float32).tiny)
    values = np.array([tiny, 1.5 * tiny, 3 * tiny, -tiny, 1e-300 if dtype == "float64" else 1e-30])
    x = jnp.asarray(values, jdt)
    for name in UNARY_OPS:
        if not OPS[name].outplace or (name == "erf" and dtype == "bfloat16"):
            continue  # (torch's bfloat16 erf: see test_reduced_precision_erf_is_within_torchs_bound)
        try:
            want = getattr(torch, f"_foreach_{name}")([to_torch(x)])[0]
        except RuntimeError:
            continue  # an op torch does not define for floats
        got = np.asarray(getattr(jforeach, name)([x])[0]).astype(np.float64)
        w = want.double().numpy()
        spacing = np.spacing(np.abs(w).astype(np.float64 if dtype == "float64" else np.float32)).astype(np.float64)
        same = (np.abs(got - w) <= 4 * spacing) & (np.signbit(got) == np.signbit(w))
        assert (same | (np.isnan(got) & np.isnan(w))).all(), (name, got, w)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_reduced_precision_erf_is_within_torchs_bound(dtype):
    """torch's CPU erf for bfloat16/float16 tensors is Abramowitz and Stegun's 7.1.26 in float32
    (an absolute error of 1.5e-7, 3.0e-7 measured over [-4, 4] with the float32 evaluation), then
    rounded: tiny inputs give 0 there (erf(1e-8) is 1.1e-8). jforeach's erf is XLA's, accurate to
    a few ulps; the two agree within torch's bound plus one rounding of the result."""
    jdt, tdt = DTYPES[dtype]
    values = np.concatenate([np.linspace(-4, 4, 2001), np.logspace(-12, 0, 200), -np.logspace(-12, 0, 200)])
    x = jnp.asarray(values, jdt)
    got = np.asarray(jforeach.erf([x])[0]).astype(np.float64)
    want = torch._foreach_erf([to_torch(x)])[0].double().numpy()
    ulp = np.abs(want) * float(jnp.finfo(jdt).eps) + float(jnp.finfo(jdt).smallest_normal)
    assert (np.abs(got - want) <= 4e-7 + ulp).all()
    true = np.array([math.erf(v) for v in np.asarray(x).astype(np.float64)])
    true_ulp = np.abs(true) * float(jnp.finfo(jdt).eps) + float(jnp.finfo(jdt).smallest_normal)
    assert (np.abs(got - true) <= true_ulp).all()  # and jforeach's is erf within an ulp


_COMPLEX_OPERANDS = ("a complex number", "a ScalarList with a complex entry", "complex64 tensors")


@pytest.mark.parametrize("name", BINARY_OPS)
@pytest.mark.parametrize("dtype", ["float32", "int32", "complex64"])
def test_complex_operands_as_torch(name, dtype):
    """A complex number, a ScalarList holding one, or complex tensors, on real and complex tensors:
    torch's values and dtypes, or an error where torch raises (clamp_min and maximum took a complex
    number and gave complex results, where torch's clamp is not defined for complex)."""
    rng = np.random.default_rng(7)
    jdt = jnp.complex64 if dtype == "complex64" else DTYPES[dtype][0]
    xs = [jnp.asarray(rng.uniform(0.5, 3.0, s) + (0.25j if dtype == "complex64" else 0), jdt) for s in SHAPES]
    others = [jnp.asarray(rng.uniform(0.5, 3.0, s) - 0.5j, jnp.complex64) for s in SHAPES]
    for form in _COMPLEX_OPERANDS:
        if form == "a complex number":
            jax_args, torch_args = (1.5 - 0.5j,), lambda: (1.5 - 0.5j,)
        elif form == "a ScalarList with a complex entry":
            jax_args, torch_args = ([1.5 - 0.5j, 2.0],), lambda: ([1.5 - 0.5j, 2.0],)
        else:
            jax_args, torch_args = (others,), lambda: ([to_torch(o) for o in others],)
        run_both_ways(
            name, xs, lambda: [to_torch(x) for x in xs], jax_args, torch_args, f"{name} on {dtype} with {form}"
        )


@pytest.mark.parametrize("name", ["addcmul", "addcdiv", "lerp", "add", "sub"])
@pytest.mark.parametrize("dtype", ["float32", "complex64"])
@pytest.mark.parametrize("number", [0.3 - 0.2j, 0.3 + 0j, "list"])
def test_complex_value_weight_and_alpha_as_torch(name, dtype, number):
    """A complex ``value`` (addcmul, addcdiv), ``weight`` (lerp) or ``alpha`` (add, sub), or a ScalarList
    with a complex entry: torch converts value and weight to the result dtype with c10's overflow
    check, which a nonzero imaginary part fails on real tensors (jforeach dropped it), and rejects a
    complex alpha for real results even when its imaginary part is 0 (jforeach took it)."""
    rng = np.random.default_rng(11)
    jdt = jnp.complex64 if dtype == "complex64" else jnp.float32
    shift = 0.25j if dtype == "complex64" else 0.0
    xs, t1, t2 = ([jnp.asarray(rng.uniform(0.5, 3.0, s) + shift, jdt) for s in SHAPES] for _ in "abc")
    number = [0.3 - 0.2j, 0.5] if number == "list" else number
    torch_lists = lambda *lists: [[to_torch(t) for t in ts] for ts in lists]  # noqa: E731
    if name == "lerp":
        args, torch_args, kwargs = (t1, number), lambda: (*torch_lists(t1), number), {}
    elif name in ("add", "sub"):
        if isinstance(number, list):
            return  # alpha is one number
        args, torch_args, kwargs = (t1,), lambda: tuple(torch_lists(t1)), {"alpha": number}
    elif isinstance(number, list):
        args, torch_args, kwargs = (t1, t2, number), lambda: (*torch_lists(t1, t2), number), {}
    else:
        args, torch_args, kwargs = (t1, t2), lambda: tuple(torch_lists(t1, t2)), {"value": number}
    run_both_ways(
        name, xs, lambda: [to_torch(x) for x in xs], args, torch_args, f"{name} {dtype} {number}", kwargs, kwargs
    )
