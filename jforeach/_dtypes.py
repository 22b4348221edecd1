"""torch's type promotion, restated for JAX dtypes.

torch and ``jax.numpy`` agree on how two *arrays* promote, but not on how a scalar or a 0-d tensor
does: torch ranks operands as dimensioned tensors > 0-d tensors > Python numbers and lets a lower
rank raise the result only to a higher *category* (bool < integer < floating < complex), never to a
wider type of the same category. jforeach follows torch, so results match ``torch._foreach_*``.
"""

from __future__ import annotations

import enum

import jax
import jax.numpy as jnp
import numpy as np

DEFAULT_FLOAT = np.dtype(jnp.float32)
"""torch's default dtype: what integer input to a float-valued op becomes."""
DEFAULT_COMPLEX = np.dtype(jnp.complex64)
_REDUCED_FLOATS = (np.dtype(jnp.float16), np.dtype(jnp.bfloat16))


class Rank(enum.IntEnum):
    """How strongly an operand takes part in promotion (torch's ResultTypeState)."""

    NUMBER = 0  # a Python number, or a 0-d array passed where torch takes a Scalar
    ZERO_DIM = 1  # a 0-d tensor
    DIMENSIONED = 2  # a tensor with at least one dimension


def category(dtype: np.dtype) -> int:
    """0 bool, 1 integer, 2 floating, 3 complex."""
    if dtype == np.bool_:
        return 0
    if jnp.issubdtype(dtype, jnp.integer):
        return 1
    if jnp.issubdtype(dtype, jnp.floating):
        return 2
    return 3


def number_dtype(value: object) -> np.dtype:
    """The dtype torch gives a Python number taking part in promotion."""
    if isinstance(value, bool | np.bool_):
        return np.dtype(np.bool_)
    if isinstance(value, int | np.integer):
        return np.dtype(np.int64)
    if isinstance(value, float | np.floating):
        return DEFAULT_FLOAT
    return DEFAULT_COMPLEX


def rank_of(ndim: int) -> Rank:
    return Rank.DIMENSIONED if ndim else Rank.ZERO_DIM


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    # c10's combine_categories.
    if higher is None:
        return lower
    if lower is None:
        return higher
    h, lo = category(higher), category(lower)
    if h == 3:
        return higher
    if lo == 3:
        return to_complex(higher) if h == 2 else lower
    if h == 2:
        return higher
    if h == 0 or lo == 2:
        return np.dtype(jnp.promote_types(higher, lower))
    return higher


def to_complex(dtype: np.dtype) -> np.dtype:
    return np.dtype(jnp.complex128) if dtype == np.float64 else DEFAULT_COMPLEX


def result_type(*operands: tuple[np.dtype, Rank]) -> np.dtype:
    """torch.result_type over ``(dtype, rank)`` pairs; Python numbers pass ``number_dtype``."""
    by_rank: list[np.dtype | None] = [None, None, None]
    for dtype, rank in operands:
        dtype = np.dtype(dtype)
        current = by_rank[rank]
        by_rank[rank] = dtype if current is None else np.dtype(jnp.promote_types(current, dtype))
    dim, zero, number = by_rank[Rank.DIMENSIONED], by_rank[Rank.ZERO_DIM], by_rank[Rank.NUMBER]
    out = _combine(dim, _combine(zero, number))
    if out is None:
        raise ValueError("result_type needs at least one operand")
    return canonical(out)


def canonical(dtype: np.dtype) -> np.dtype:
    """The dtype JAX really uses (int64 is int32 while ``jax_enable_x64`` is off)."""
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def float_result(dtype: np.dtype) -> np.dtype:
    """Result dtype of a float-valued op (log1p, div, ...): integers and bool become float32."""
    return dtype if category(dtype) >= 2 else DEFAULT_FLOAT


def opmath(dtype: np.dtype) -> np.dtype:
    """The dtype torch computes in: float16 and bfloat16 in float32, others in themselves."""
    return DEFAULT_FLOAT if dtype in _REDUCED_FLOATS else dtype


def can_cast(result: np.dtype, out: np.dtype) -> bool:
    """torch's canCast for in-place results: never to a lower category."""
    return category(result) <= category(out)


def torch_name(dtype: np.dtype) -> str:
    return {
        "float32": "Float",
        "float64": "Double",
        "float16": "Half",
        "bfloat16": "BFloat16",
        "int32": "Int",
        "int64": "Long",
        "int16": "Short",
        "int8": "Char",
        "uint8": "Byte",
        "bool": "Bool",
        "complex64": "ComplexFloat",
        "complex128": "ComplexDouble",
    }.get(np.dtype(dtype).name, np.dtype(dtype).name)
