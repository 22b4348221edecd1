"""The op table: one row per torch foreach op. The public API and the parity tests both come from it.

Each row says how the op computes one tensor (``fn``), which operands it takes, how torch decides the
result dtype, which inputs torch rejects, how each operand is passed and documented, and an example.
Adding an op is adding a row here: ``python -m jforeach._gen_api`` writes its ``jforeach.NAME`` /
``jforeach.NAME_`` into ``_api.py``, ``tests/test_ops.py`` checks it against ``torch._foreach_NAME`` and
``tests/test_table.py`` checks the row's example against torch.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from . import _norms

# An operand overload, torch's names: Scalar (one number for every tensor), ScalarList (one number per
# tensor), List (a tensor per tensor: a pytree of the same structure) and Tensor (one array for all).
Overload = Literal["Scalar", "ScalarList", "List", "Tensor"]

# How the result dtype is decided (see ``_kernels.result_dtype``):
#   "float"   integer/bool input gives float32 (log1p, div, ...)
#   "same"    the dtype of the input (abs, ceil, neg, ...)
#   "promote" torch.result_type over the input and the operands (add, maximum, pow, ...)
DtypeRule = Literal["float", "same", "promote"]

ALL = frozenset({"bool", "int", "float", "complex"})
NO_BOOL = frozenset({"int", "float", "complex"})
REAL = frozenset({"bool", "int", "float"})
REAL_NO_BOOL = frozenset({"int", "float"})
INEXACT = frozenset({"float", "complex"})
FLOAT = frozenset({"float"})


@dataclasses.dataclass(frozen=True)
class Operand:
    """A non-``tensors`` argument of an op."""

    name: str
    overloads: tuple[Overload, ...]
    default: object = inspect.Parameter.empty  # empty: a required argument
    promotes: bool = True  # takes part in result-dtype promotion (addcmul's ``value`` does not)
    # torch's Tensor overload of add/sub promotes a 0-d array like a number; mul/div like a 0-d tensor
    zero_dim_as_number: bool = True
    # a list of (strongly typed) 0-d arrays is torch's TensorList, except lerp's weight: numbers
    zero_dim_list_as_tensors: bool = True
    # torch converts a number operand to this dtype with c10's overflow check ("value cannot be
    # converted to type X without overflow"): "result" the result dtype (clamp_min, alpha), "opmath"
    # the dtype the kernel computes in (addcmul's value, lerp's weight), "pow" the result dtype
    # unless it is float32/float64 (pow's kernel takes those exponents as doubles), "-result" the
    # negated number to the result dtype (sub's alpha: torch subtracts by adding -alpha); "" no check
    overflow_check: Literal["", "result", "-result", "opmath", "pow"] = ""
    # how the caller passes it: "positional" only (torch's tensor lists and ``other``), "keyword" only
    # (``alpha``), or "either" (``value``, ``ord``, ``dtype``)
    passed: Literal["positional", "keyword", "either"] = "positional"
    doc: str = ""  # its entry under ``Args:`` in the docstring
    annotation: str = ""  # its type in ``_api.py``; "" derives it from ``overloads`` (``_gen_api``)
    # torch's overload choice reads whether the caller passed it (``alpha``): ``_api.py`` tells a
    # passed default from none
    presence_matters: bool = False


@dataclasses.dataclass(frozen=True)
class Example:
    """A doctest of an op: ``jforeach.NAME(<tensors>, <operands>)`` prints ``result``.

    The out-of-place doctest is that call; the in-place one is ``xs = <tensors>``,
    ``_ = jforeach.NAME_(xs, <operands>)``, ``xs``, printing the same ``result``. ``tests/test_table.py``
    checks ``result`` against torch's answer to the same call.
    """

    tensors: str  # Python source of the ``tensors`` argument, written with ``jnp``
    operands: str  # Python source of the arguments after ``tensors`` ("" for none), as the call has them
    result: str  # what the call prints (jax's repr)


@dataclasses.dataclass(frozen=True)
class Op:
    """One row of the table."""

    name: str
    family: Literal["unary", "binary", "pointwise", "reduction", "other"]
    fn: Callable[..., jax.Array]
    operands: tuple[Operand, ...] = ()
    dtype_rule: DtypeRule = "same"
    accepts: frozenset[str] = ALL  # dtype categories of ``tensors`` torch accepts
    result_accepts: frozenset[str] = ALL  # result dtype categories torch implements (pow: not bool)
    number_result_accepts: frozenset[str] = ALL  # the same, when an operand is a number (clamp_min)
    array_result_accepts: frozenset[str] = ALL  # the same, when no operand is a number (pow: not bool)
    # torch's CPU kernel casts every operand to the result dtype before computing in opmath (add, sub,
    # pow): a float16 tensor plus 2.212 adds float16(2.212). mul, div, addcmul, lerp keep them in opmath.
    operands_in_result_dtype: bool = False
    bool_operands: bool = True  # False: any bool operand is rejected, as torch's sub does
    same_dtype_operands: bool = False  # every array operand must have the dtype of the tensor (lerp, mm)
    integral_divisor_pair: bool = False  # addcdiv: tensor1 and tensor2 both integral is rejected
    on_packed: bool = True  # False: per-tensor shapes matter (mm), a Packed's flat buffers cannot serve
    reads_tensors: bool = True  # False (zero_, copy_): the result's sharding cannot follow the tensor's
    inplace: bool = True
    outplace: bool = True
    torch_name: str = ""  # the op torch's slow path applies per tensor, for the docstring
    jnp_name: str = ""
    test_domain: tuple[float, float] = (-3.0, 3.0)  # where tests draw float inputs from
    example: Example | None = None
    # the row of another form of the same public function, chosen by its arguments: ``pow``'s
    # ``jforeach.pow(2.0, tensors)`` (torch's ScalarAndTensor), whose ``tensors`` is the exponent
    scalar_base: Op | None = None
    note: str = ""  # a paragraph of the docstring after the summary (out of place)

    @property
    def reduction(self) -> _norms.Reduction:
        """What a ``"reduction"`` row computes (its ``fn``): the one place norm, powsum and max differ."""
        if not isinstance(self.fn, _norms.Reduction):
            raise TypeError(f"{self.name} is not a reduction")
        return self.fn

    @property
    def doc_torch(self) -> str:
        return self.torch_name or f"torch.{self.name}"

    @property
    def doc_jnp(self) -> str:
        return self.jnp_name or f"jax.numpy.{self.name}"


def _asin(x):
    """``jnp.arcsin``, except below 2**-30, where asin(x) is x in float32 and float64 alike: XLA's
    asin halves x on the way, which flushes the smallest normal numbers to zero (asin(FLT_MIN) gave 0)."""
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return jnp.arcsin(x)
    return jnp.where(jnp.abs(x) < 2.0**-30, x, jnp.arcsin(x))


def _frac(x):
    return x - jnp.trunc(x)


def _sign(x):
    if x.dtype == jnp.bool_:
        return x
    sign = jnp.sign(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return sign
    # torch's sign of NaN is 0, and of -0.0 is +0.0
    return jnp.where(jnp.isnan(x) | (x == 0), jnp.zeros_like(sign), sign)


def _rounding(fn):
    # torch's ceil/floor/round/trunc return integers unchanged.
    return lambda x: x if jnp.issubdtype(x.dtype, jnp.integer) else fn(x)


def _maximum(x, other):
    """torch's maximum / clamp_min: NaN from either side, and ``x`` where the two are equal (so
    ``maximum(-0.0, 0.0)`` is -0.0, as torch's kernels keep the tensor's value)."""
    if x.dtype == jnp.bool_:
        return x | other
    return jnp.where((other > x) | _isnan(other), other, x)


def _minimum(x, other):
    """torch's minimum / clamp_max (see :func:`_maximum`)."""
    if x.dtype == jnp.bool_:
        return x & other
    return jnp.where((other < x) | _isnan(other), other, x)


def _isnan(x):
    return jnp.isnan(x) if jnp.issubdtype(x.dtype, jnp.inexact) else jnp.zeros(jnp.shape(x), jnp.bool_)


def _reciprocal(x):
    return 1 / x


# ln 2 = hi + lo with hi's low bits zero, so that k * hi is exact for |k| < 2**8 (float32) / 2**20 (float64)
_LN2_SPLIT = {
    np.dtype(np.float32): (np.float32(0.693145751953125), np.float32(1.4286068203094173e-06)),
    np.dtype(np.float64): (np.float64(6.93147180369123816490e-01), np.float64(1.90821492927058770002e-10)),
}


def _cosh(x):
    """cosh to 1.5 ulp in float32 and float64 (``jnp.cosh``: 24 ulp in float32 for |x| > 20).

    XLA's cosh is exp(x + log(1/2)) + exp(-x + log(1/2)); the rounding of x + log(1/2) is an error of
    |x| ulp of the result. Here (e^a + 1/e^a) / 2 for a = |x| below 9 (float64: 19); above, where 1/e^a
    is under half an ulp, e^a / 2 = 2**(k-1) e^r with a = k ln 2 + r reduced exactly (Cody and Waite),
    finite up to float32's overflow at 89.4159 (torch's vectorized float32 cosh is inf above 88.72).
    """
    dtype = np.dtype(x.dtype)
    if dtype not in _LN2_SPLIT:  # complex: XLA's; float16/bfloat16 arrive here as float32
        return jnp.cosh(x)
    hi, lo = _LN2_SPLIT[dtype]
    bits, mant, bias, limit = (32, 23, 127, 100.0) if dtype == np.float32 else (64, 52, 1023, 800.0)
    a = jnp.abs(x)
    t = jnp.exp(a)
    small = 0.5 * t + 0.5 / t
    b = jnp.minimum(a, dtype.type(limit))  # inf (and anything past the overflow) stays past it
    k = jnp.round(b * dtype.type(1 / np.log(2.0)))
    r = (b - k * hi) - k * lo
    # 2**(k-2) as two exact powers of two, each within the exponent range
    int_type = jnp.int32 if bits == 32 else jnp.int64
    m = k.astype(int_type) - 2
    m1 = m // 2

    def pow2(e):
        return jax.lax.bitcast_convert_type((e + bias) << mant, x.dtype)

    big = (jnp.exp(r) * 2) * pow2(m1) * pow2(m - m1)
    return jnp.where(a >= (9 if bits == 32 else 19), big, small)


_UNARY_TENSORS = "[jnp.array([0.25, 0.5]), jnp.array(0.75)]"
_BINARY_TENSORS = "[jnp.array([1.0, 2.0]), jnp.array(3.0)]"
_REDUCED_TENSORS = "{'b': jnp.array([1.0, -2.0]), 'w': jnp.array([[3.0, 4.0]])}"


def _unary(name: str, prints: str, fn: Callable[..., jax.Array], **kw) -> Op:
    """A unary row; its example applies it to ``_UNARY_TENSORS`` and prints ``prints``."""
    return Op(name, "unary", fn, example=Example(_UNARY_TENSORS, "", prints), **kw)


_UNARY: list[Op] = [
    _unary("abs", "[Array([0.25, 0.5 ], dtype=float32), Array(0.75, dtype=float32)]", jnp.abs, accepts=NO_BOOL),
    _unary(
        "acos",
        "[Array([1.3181161, 1.0471976], dtype=float32), Array(0.7227342, dtype=float32)]",
        jnp.arccos,
        dtype_rule="float",
        test_domain=(-0.99, 0.99),
        jnp_name="jax.numpy.arccos",
    ),
    _unary(
        "asin",
        "[Array([0.25268024, 0.5235988 ], dtype=float32), Array(0.8480621, dtype=float32)]",
        _asin,
        dtype_rule="float",
        test_domain=(-0.99, 0.99),
        jnp_name="jax.numpy.arcsin",
    ),
    _unary(
        "atan",
        "[Array([0.24497868, 0.46364754], dtype=float32), Array(0.6435011, dtype=float32)]",
        jnp.arctan,
        dtype_rule="float",
        jnp_name="jax.numpy.arctan",
    ),
    _unary(
        "ceil", "[Array([1., 1.], dtype=float32), Array(1., dtype=float32)]", _rounding(jnp.ceil), accepts=REAL_NO_BOOL
    ),
    _unary(
        "cos",
        "[Array([0.9689124 , 0.87758255], dtype=float32), Array(0.73168886, dtype=float32)]",
        jnp.cos,
        dtype_rule="float",
    ),
    _unary(
        "cosh",
        "[Array([1.0314131, 1.127626 ], dtype=float32), Array(1.2946833, dtype=float32)]",
        _cosh,
        dtype_rule="float",
    ),
    _unary(
        "erf",
        "[Array([0.27632636, 0.5204999 ], dtype=float32), Array(0.7111556, dtype=float32)]",
        jax.lax.erf,
        dtype_rule="float",
        accepts=REAL,
        jnp_name="jax.lax.erf",
    ),
    _unary(
        "erfc",
        "[Array([0.7236736 , 0.47950017], dtype=float32), Array(0.2888444, dtype=float32)]",
        jax.lax.erfc,
        dtype_rule="float",
        accepts=REAL,
        jnp_name="jax.lax.erfc",
    ),
    _unary(
        "exp",
        "[Array([1.2840254, 1.6487212], dtype=float32), Array(2.117, dtype=float32)]",
        jnp.exp,
        dtype_rule="float",
    ),
    _unary(
        "expm1",
        "[Array([0.2840254, 0.6487213], dtype=float32), Array(1.1170001, dtype=float32)]",
        jnp.expm1,
        dtype_rule="float",
    ),
    _unary(
        "floor",
        "[Array([0., 0.], dtype=float32), Array(0., dtype=float32)]",
        _rounding(jnp.floor),
        accepts=REAL_NO_BOOL,
    ),
    _unary(
        "frac",
        "[Array([0.25, 0.5 ], dtype=float32), Array(0.75, dtype=float32)]",
        _frac,
        accepts=FLOAT,
        torch_name="torch.frac",
        jnp_name="jax.numpy.trunc",
    ),
    _unary(
        "lgamma",
        "[Array([1.2880225, 0.5723648], dtype=float32), Array(0.20328093, dtype=float32)]",
        jax.lax.lgamma,
        dtype_rule="float",
        accepts=REAL,
        test_domain=(0.1, 5.0),
        jnp_name="jax.lax.lgamma",
    ),
    _unary(
        "log",
        "[Array([-1.3862944, -0.6931472], dtype=float32), Array(-0.2876821, dtype=float32)]",
        jnp.log,
        dtype_rule="float",
        test_domain=(0.01, 5.0),
    ),
    _unary(
        "log10",
        "[Array([-0.60206, -0.30103], dtype=float32), Array(-0.12493875, dtype=float32)]",
        jnp.log10,
        dtype_rule="float",
        test_domain=(0.01, 5.0),
    ),
    _unary(
        "log1p",
        "[Array([0.22314355, 0.4054651 ], dtype=float32), Array(0.5596158, dtype=float32)]",
        jnp.log1p,
        dtype_rule="float",
        test_domain=(-0.99, 5.0),
    ),
    _unary(
        "log2",
        "[Array([-2., -1.], dtype=float32), Array(-0.4150375, dtype=float32)]",
        jnp.log2,
        dtype_rule="float",
        test_domain=(0.01, 5.0),
    ),
    _unary(
        "neg",
        "[Array([-0.25, -0.5 ], dtype=float32), Array(-0.75, dtype=float32)]",
        jnp.negative,
        accepts=NO_BOOL,
        jnp_name="jax.numpy.negative",
    ),
    _unary(
        "reciprocal",
        "[Array([4., 2.], dtype=float32), Array(1.3333334, dtype=float32)]",
        _reciprocal,
        dtype_rule="float",
        test_domain=(0.1, 5.0),
        jnp_name="jax.numpy.reciprocal",
    ),
    _unary(
        "round",
        "[Array([0., 0.], dtype=float32), Array(1., dtype=float32)]",
        _rounding(jnp.round),
        accepts=REAL_NO_BOOL,
    ),
    _unary(
        "rsqrt",
        "[Array([2.       , 1.4142135], dtype=float32), Array(1.1547005, dtype=float32)]",
        jax.lax.rsqrt,
        dtype_rule="float",
        test_domain=(0.01, 5.0),
        jnp_name="jax.lax.rsqrt",
    ),
    _unary(
        "sigmoid",
        "[Array([0.5621765 , 0.62245935], dtype=float32), Array(0.6791787, dtype=float32)]",
        jax.nn.sigmoid,
        dtype_rule="float",
        jnp_name="jax.nn.sigmoid",
    ),
    _unary("sign", "[Array([1., 1.], dtype=float32), Array(1., dtype=float32)]", _sign, accepts=REAL),
    _unary(
        "sin",
        "[Array([0.24740396, 0.47942555], dtype=float32), Array(0.6816388, dtype=float32)]",
        jnp.sin,
        dtype_rule="float",
    ),
    _unary(
        "sinh",
        "[Array([0.2526123 , 0.52109534], dtype=float32), Array(0.82231677, dtype=float32)]",
        jnp.sinh,
        dtype_rule="float",
    ),
    _unary(
        "sqrt",
        "[Array([0.5       , 0.70710677], dtype=float32), Array(0.8660254, dtype=float32)]",
        jnp.sqrt,
        dtype_rule="float",
        test_domain=(0.0, 5.0),
    ),
    _unary(
        "tan",
        "[Array([0.25534192, 0.5463025 ], dtype=float32), Array(0.93159646, dtype=float32)]",
        jnp.tan,
        dtype_rule="float",
        test_domain=(-1.4, 1.4),
    ),
    _unary(
        "tanh",
        "[Array([0.24491866, 0.46211717], dtype=float32), Array(0.635149, dtype=float32)]",
        jnp.tanh,
        dtype_rule="float",
    ),
    _unary(
        "trunc",
        "[Array([0., 0.], dtype=float32), Array(0., dtype=float32)]",
        _rounding(jnp.trunc),
        accepts=REAL_NO_BOOL,
    ),
]

_ALL_OVERLOADS: tuple[Overload, ...] = ("Scalar", "ScalarList", "List", "Tensor")
_NO_TENSOR: tuple[Overload, ...] = ("Scalar", "ScalarList", "List")


def _add(x, other, alpha):
    if x.dtype == jnp.bool_:
        return x | (other & (alpha != 0))
    return x + alpha * other


def _sub(x, other, alpha):
    return x - alpha * other


def _mul(x, other):
    return x & other if x.dtype == jnp.bool_ else x * other


def _div(x, other):
    if jnp.shape(other) == jnp.shape(x) or not jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.true_divide(x, other)
    # XLA:CPU divides by a broadcast divisor as a multiplication by its reciprocal: 1 ulp off a third
    # of the time, and 0 for every x once the reciprocal is subnormal (|other| > 2**126, flushed). A
    # divisor that depends on x keeps the division a division (NaN / 1 is the NaN that NaN / c is).
    return jnp.true_divide(x, jnp.where(jnp.isnan(x), jnp.ones((), x.dtype), other))


def _pow(x, exponent):
    if x.dtype == jnp.bool_:  # a bool tensor to a bool number (torch): x ** True is x, x ** False is True
        return x | ~exponent
    if jnp.iscomplexobj(x):
        return _complex_pow(x, exponent)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        return jnp.power(x, exponent)
    # integers to negative powers, as torch: 1 and -1 keep magnitude 1, everything else truncates to 0
    x, exponent = jnp.broadcast_arrays(x, exponent)
    negative = jnp.where(x == 1, 1, jnp.where(x == -1, jnp.where(exponent % 2 == 0, 1, -1), 0)).astype(x.dtype)
    return jnp.where(exponent < 0, negative, _int_pow(x, jnp.maximum(exponent, 0)))


def _complex_pow(x, exponent):
    """``x ** exponent`` for complex ``x``; at a zero base torch's values (XLA's are NaN there, from
    ``exp(exponent * log(0))``): 1 for a zero exponent, 0 for an exponent of positive real part,
    ``inf+nanj`` for a negative real part, NaN for a nonzero imaginary exponent."""
    x, exponent = jnp.broadcast_arrays(x, jnp.asarray(exponent, x.dtype))
    re, im = jnp.real(exponent), jnp.imag(exponent)
    nan, inf = jnp.nan, jnp.inf
    at_zero = jnp.where(
        (re == 0) & (im == 0), 1, jnp.where(re > 0, 0, jnp.where(re < 0, complex(inf, nan), complex(nan, nan)))
    ).astype(x.dtype)
    return jnp.where(x == 0, at_zero, jnp.power(x, exponent))


def _int_pow(x, exponent):
    """x ** exponent, wrapping like torch's: square and multiply over every bit of the exponent.

    XLA's integer pow reads only the exponent's low 6 bits (2 ** 64 gives 1, 2 ** 100 gives 2 ** 36).
    """

    def step(_, carry):
        result, base, exponent = carry
        return jnp.where((exponent & 1) == 1, result * base, result), base * base, exponent >> 1

    bits = jnp.iinfo(x.dtype).bits
    result, base, exponent = jax.lax.fori_loop(0, bits, step, (jnp.ones_like(x), x, exponent))
    # base ** (2 ** bits) is 0 or 1 modulo 2 ** bits: higher exponent bits multiply by that
    return jnp.where(exponent != 0, result * base, result)


def _pow_scalar_base(exponent, base):
    return _pow(jnp.broadcast_to(base, exponent.shape), exponent)


_OTHER_DOC = (
    "A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors`` "
    "(combined leaf by leaf, with broadcasting)."
)
_TREE_DOC = "A tree with the structure of ``tensors``."


def _binary(name, fn, overloads=_NO_TENSOR, dtype_rule: DtypeRule = "promote", accepts=ALL, jnp_name="", **kw):
    return Op(
        name,
        "binary",
        fn,
        (Operand("other", overloads, overflow_check="result", doc=_OTHER_DOC),),
        dtype_rule=dtype_rule,
        accepts=accepts,
        jnp_name=jnp_name,
        **kw,
    )


# torch's _foreach_pow.ScalarAndTensor, ``jforeach.pow(2.0, tensors)``: the other form of the pow row
_POW_SCALAR_BASE = Op(
    "pow_scalar_base",
    "binary",
    _pow_scalar_base,
    (
        Operand(
            "self",
            ("Scalar",),
            doc="The number (or a 0-d array, taken as a number of its kind) raised to every tensor.",
        ),
    ),
    dtype_rule="promote",
    result_accepts=NO_BOOL,
    operands_in_result_dtype=True,
    inplace=False,
    test_domain=(-2.0, 2.0),
    jnp_name="jax.numpy.power",
    note=(
        "``jforeach.pow(number, tensors)`` raises the number (or a 0-d array, taken as a number of its kind) to "
        "every tensor (torch's ScalarAndTensor)."
    ),
    example=Example(_BINARY_TENSORS, "2.0", "[Array([2., 4.], dtype=float32), Array(8., dtype=float32)]"),
)

_ALPHA = Operand(
    "alpha",
    ("Scalar",),
    default=1,
    promotes=False,
    overflow_check="result",
    passed="keyword",
    doc="Multiplier of ``other`` (torch's ``alpha``).",
    presence_matters=True,
)
_BINARY: list[Op] = [
    Op(
        "add",
        "binary",
        _add,
        (Operand("other", _ALL_OVERLOADS, doc=_OTHER_DOC), _ALPHA),
        dtype_rule="promote",
        operands_in_result_dtype=True,
        example=Example(
            _BINARY_TENSORS,
            "[jnp.array([10.0, 20.0]), jnp.array(30.0)], alpha=2",
            "[Array([21., 42.], dtype=float32), Array(63., dtype=float32)]",
        ),
    ),
    Op(
        "sub",
        "binary",
        _sub,
        (Operand("other", _ALL_OVERLOADS, doc=_OTHER_DOC), dataclasses.replace(_ALPHA, overflow_check="-result")),
        dtype_rule="promote",
        operands_in_result_dtype=True,
        accepts=NO_BOOL,
        bool_operands=False,
        jnp_name="jax.numpy.subtract",
        example=Example(
            _BINARY_TENSORS,
            "[jnp.array([10.0, 20.0]), jnp.array(30.0)], alpha=2",
            "[Array([-19., -38.], dtype=float32), Array(-57., dtype=float32)]",
        ),
    ),
    Op(
        "mul",
        "binary",
        _mul,
        (Operand("other", _ALL_OVERLOADS, zero_dim_as_number=False, doc=_OTHER_DOC),),
        dtype_rule="promote",
        jnp_name="jax.numpy.multiply",
        example=Example(_BINARY_TENSORS, "[2.0, 4.0]", "[Array([2., 4.], dtype=float32), Array(12., dtype=float32)]"),
    ),
    Op(
        "div",
        "binary",
        _div,
        (Operand("other", _ALL_OVERLOADS, zero_dim_as_number=False, doc=_OTHER_DOC),),
        dtype_rule="float",
        jnp_name="jax.numpy.true_divide",
        example=Example(
            _BINARY_TENSORS, "[2.0, 4.0]", "[Array([0.5, 1. ], dtype=float32), Array(0.75, dtype=float32)]"
        ),
    ),
    _binary(
        "clamp_min",
        _maximum,
        accepts=REAL,
        result_accepts=REAL,  # a complex number or array operand: torch's clamp is not defined for complex
        number_result_accepts=NO_BOOL,
        jnp_name="jax.numpy.maximum",
        example=Example(_BINARY_TENSORS, "[1.5, 3.5]", "[Array([1.5, 2. ], dtype=float32), Array(3.5, dtype=float32)]"),
    ),
    _binary(
        "clamp_max",
        _minimum,
        accepts=REAL,
        result_accepts=REAL,  # a complex number or array operand: torch's clamp is not defined for complex
        number_result_accepts=NO_BOOL,
        jnp_name="jax.numpy.minimum",
        example=Example(_BINARY_TENSORS, "[1.5, 3.5]", "[Array([1. , 1.5], dtype=float32), Array(3., dtype=float32)]"),
    ),
    _binary(
        "maximum",
        _maximum,
        accepts=REAL,
        result_accepts=REAL,  # a complex number or array operand: torch's clamp is not defined for complex
        number_result_accepts=NO_BOOL,
        example=Example(
            _BINARY_TENSORS,
            "[jnp.array([0.0, 5.0]), jnp.array(4.0)]",
            "[Array([1., 5.], dtype=float32), Array(4., dtype=float32)]",
        ),
    ),
    _binary(
        "minimum",
        _minimum,
        accepts=REAL,
        result_accepts=REAL,  # a complex number or array operand: torch's clamp is not defined for complex
        number_result_accepts=NO_BOOL,
        example=Example(
            _BINARY_TENSORS,
            "[jnp.array([0.0, 5.0]), jnp.array(4.0)]",
            "[Array([0., 2.], dtype=float32), Array(3., dtype=float32)]",
        ),
    ),
    Op(
        "pow",
        "binary",
        _pow,
        (
            Operand(
                "exponent",
                _NO_TENSOR,
                overflow_check="pow",
                doc="A number, a sequence of numbers (one per tensor), or a tree with the structure of ``tensors``.",
            ),
        ),
        dtype_rule="promote",
        array_result_accepts=NO_BOOL,  # a bool tensor to a bool number is bool; to a bool tensor, unimplemented
        operands_in_result_dtype=True,
        test_domain=(0.1, 3.0),
        jnp_name="jax.numpy.power",
        scalar_base=_POW_SCALAR_BASE,
        example=Example(
            _BINARY_TENSORS, "[0.5, 3.0]", "[Array([1.       , 1.4142135], dtype=float32), Array(27., dtype=float32)]"
        ),
    ),
]


def _addcmul(x, tensor1, tensor2, value):
    return x + value * tensor1 * tensor2


def _addcdiv(x, tensor1, tensor2, value):
    # torch's CPU kernel: self + value * t1 / t2, i.e. (value * t1) / t2 (it overflows where value * t1 does)
    return x + (value * tensor1) / tensor2


def _lerp(x, end, weight):
    # torch's lerp kernel: the formula switches at |weight| = 0.5 for exact endpoints.
    return jnp.where(jnp.abs(weight) < 0.5, x + weight * (end - x), end - (end - x) * (1 - weight))


_VALUE = Operand(
    "value",
    ("Scalar", "ScalarList", "Tensor"),
    default=1,
    promotes=False,
    overflow_check="opmath",
    passed="either",
    doc="A number, a sequence of numbers or a 1-D array with one entry per tensor.",
)
_POINTWISE: list[Op] = [
    Op(
        "addcmul",
        "pointwise",
        _addcmul,
        (Operand("tensor1", ("List",), doc=_TREE_DOC), Operand("tensor2", ("List",), doc=_TREE_DOC), _VALUE),
        dtype_rule="promote",
        result_accepts=NO_BOOL,  # a bool tensor is fine when the operands promote it (torch: float32)
        torch_name="torch.addcmul",
        jnp_name="jax.numpy.multiply",
        example=Example(
            "[jnp.array([1.0, 2.0])]",
            "[jnp.array([3.0, 4.0])], [jnp.array([0.5, 2.0])], value=2",
            "[Array([ 4., 18.], dtype=float32)]",
        ),
    ),
    Op(
        "addcdiv",
        "pointwise",
        _addcdiv,
        (Operand("tensor1", ("List",), doc=_TREE_DOC), Operand("tensor2", ("List",), doc=_TREE_DOC), _VALUE),
        dtype_rule="promote",
        result_accepts=INEXACT,  # any tensor; two integral divisors raise (integral_divisor_pair)
        integral_divisor_pair=True,
        torch_name="torch.addcdiv",
        jnp_name="jax.numpy.true_divide",
        example=Example(
            "[jnp.array([1.0, 2.0])]",
            "[jnp.array([3.0, 4.0])], [jnp.array([0.5, 2.0])], value=2",
            "[Array([13.,  6.], dtype=float32)]",
        ),
    ),
    Op(
        "lerp",
        "pointwise",
        _lerp,
        (
            Operand("end", ("List",), doc=_TREE_DOC),
            Operand(
                "weight",
                ("Scalar", "ScalarList", "List"),
                zero_dim_list_as_tensors=False,
                overflow_check="opmath",
                doc="A number, a sequence of numbers (one per tensor), or a tree with the structure of ``tensors``.",
            ),
        ),
        dtype_rule="same",
        accepts=INEXACT,
        same_dtype_operands=True,
        torch_name="torch.lerp",
        jnp_name="jax.numpy.where",
        example=Example(
            "[jnp.array([0.0, 1.0])]", "[jnp.array([1.0, 3.0])], 0.25", "[Array([0.25, 1.5 ], dtype=float32)]"
        ),
    ),
]


def _mm(x, mat2):
    if x.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm needs matrices, got shapes {x.shape} and {mat2.shape}")
    return jnp.matmul(x, mat2, preferred_element_type=x.dtype)


_MATMUL: list[Op] = [
    Op(
        "mm",
        "binary",
        _mm,
        (
            Operand(
                "mat2",
                ("List",),
                doc="A tree with the structure of ``tensors`` of matrices to multiply each tensor by.",
            ),
        ),
        dtype_rule="same",
        accepts=REAL_NO_BOOL,
        same_dtype_operands=True,
        on_packed=False,
        inplace=False,
        test_domain=(-2.0, 2.0),
        jnp_name="jax.numpy.matmul",
        example=Example(
            "[jnp.ones((2, 3))]", "[jnp.arange(3.0).reshape(3, 1)]", "[Array([[3.],\n       [3.]], dtype=float32)]"
        ),
    ),
]


_ORD = Operand(
    "ord",
    ("Scalar",),
    default=2,
    passed="either",
    doc="The order of the norm: any real number, ``inf`` or ``-inf`` (0 counts non-zeros).",
)
_DTYPE = Operand(
    "dtype",
    ("Scalar",),
    default=None,
    passed="either",
    doc="Compute and return in this floating dtype (must not narrow the input dtype).",
    annotation="DTypeLike | None",
)
_REDUCTIONS: list[Op] = [
    Op(
        "norm",
        "reduction",
        _norms.NORM,
        (_ORD, _DTYPE),
        accepts=INEXACT,
        inplace=False,
        torch_name="torch.linalg.vector_norm",
        jnp_name="jax.numpy.linalg.norm",
        example=Example(_REDUCED_TENSORS, "", "{'b': Array(2.236068, dtype=float32), 'w': Array(5., dtype=float32)}"),
    ),
    Op(
        "powsum",
        "reduction",
        _norms.POWSUM,
        (_ORD, _DTYPE),
        accepts=ALL,  # integer and bool tensors need a floating dtype= (see _kernels.reduction_dtype); complex: |x|
        inplace=False,
        torch_name="torch.linalg.vector_norm",
        jnp_name="jax.numpy.sum",
        example=Example(_REDUCED_TENSORS, "1", "{'b': Array(3., dtype=float32), 'w': Array(7., dtype=float32)}"),
    ),
    Op(
        "max",
        "reduction",
        _norms.MAX,
        accepts=REAL,
        inplace=False,
        torch_name="torch.max",
        jnp_name="jax.numpy.max",
        example=Example(_REDUCED_TENSORS, "", "{'b': Array(1., dtype=float32), 'w': Array(4., dtype=float32)}"),
    ),
]


def _zero(x):
    return jnp.zeros_like(x)


def _copy(x, src):
    return jnp.broadcast_to(src, x.shape)


def _clone(x):
    return x


_OTHER: list[Op] = [
    Op(
        "zero",
        "other",
        _zero,
        outplace=False,
        reads_tensors=False,
        torch_name="torch.Tensor.zero_",
        jnp_name="jax.numpy.zeros_like",
        example=Example(_BINARY_TENSORS, "", "[Array([0., 0.], dtype=float32), Array(0., dtype=float32)]"),
    ),
    Op(
        "copy",
        "other",
        _copy,
        (
            Operand(
                "src",
                ("List",),
                doc="A tree with the structure of ``tensors``, broadcast into each tensor and cast to its dtype.",
            ),
        ),
        outplace=False,
        reads_tensors=False,
        torch_name="torch.Tensor.copy_",
        jnp_name="jax.numpy.broadcast_to",
        example=Example(
            _BINARY_TENSORS,
            "[jnp.array([5.0, 6.0]), jnp.array(7.0)]",
            "[Array([5., 6.], dtype=float32), Array(7., dtype=float32)]",
        ),
    ),
    Op(
        "clone",
        "other",
        _clone,
        inplace=False,
        torch_name="torch.clone",
        jnp_name="jax.numpy.copy",
        example=Example(_BINARY_TENSORS, "", "[Array([1., 2.], dtype=float32), Array(3., dtype=float32)]"),
    ),
]

OPS: dict[str, Op] = {op.name: op for op in _UNARY + _BINARY + _MATMUL + _POINTWISE + _REDUCTIONS + _OTHER}
UNARY_OPS = [op.name for op in _UNARY]
BINARY_OPS = [op.name for op in _BINARY]
