"""The public ops: one function per row of the op table and form (``jforeach.log1p``, ``jforeach.log1p_``).

Written from ``_table.py`` by ``python -m jforeach._gen_api``; edit the table, not this file
(``tests/test_typing.py`` checks that the two agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from jax.typing import ArrayLike, DTypeLike

from . import _engine
from ._binding import ALPHA_DEFAULT, is_scalar_base, named_binding_errors, scalar_base
from ._table import OPS
from .packed import Packed

PyTree: TypeAlias = Any  # a list, tuple, dict or any pytree whose leaves are arrays (ArrayLike)
Scalar: TypeAlias = ArrayLike  # a Python or numpy number, or a 0-d array

__all__ = [
    "abs",
    "abs_",
    "acos",
    "acos_",
    "add",
    "add_",
    "addcdiv",
    "addcdiv_",
    "addcmul",
    "addcmul_",
    "asin",
    "asin_",
    "atan",
    "atan_",
    "ceil",
    "ceil_",
    "clamp_max",
    "clamp_max_",
    "clamp_min",
    "clamp_min_",
    "clone",
    "copy_",
    "cos",
    "cos_",
    "cosh",
    "cosh_",
    "div",
    "div_",
    "erf",
    "erf_",
    "erfc",
    "erfc_",
    "exp",
    "exp_",
    "expm1",
    "expm1_",
    "floor",
    "floor_",
    "frac",
    "frac_",
    "lerp",
    "lerp_",
    "lgamma",
    "lgamma_",
    "log",
    "log10",
    "log10_",
    "log1p",
    "log1p_",
    "log2",
    "log2_",
    "log_",
    "max",
    "maximum",
    "maximum_",
    "minimum",
    "minimum_",
    "mm",
    "mul",
    "mul_",
    "neg",
    "neg_",
    "norm",
    "pow",
    "pow_",
    "powsum",
    "reciprocal",
    "reciprocal_",
    "round",
    "round_",
    "rsqrt",
    "rsqrt_",
    "sigmoid",
    "sigmoid_",
    "sign",
    "sign_",
    "sin",
    "sin_",
    "sinh",
    "sinh_",
    "sqrt",
    "sqrt_",
    "sub",
    "sub_",
    "tan",
    "tan_",
    "tanh",
    "tanh_",
    "trunc",
    "trunc_",
    "zero_",
]

_POW_SCALAR_BASE = scalar_base(OPS["pow"])  # jforeach.pow(number, tensors)


@named_binding_errors(OPS["abs"])
def abs(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.abs`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.abs([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.25, 0.5 ], dtype=float32), Array(0.75, dtype=float32)]

    See also:
      ``torch._foreach_abs``, ``jax.numpy.abs``.
    """
    return _engine.call("abs", tensors, (), False, "abs")


@named_binding_errors(OPS["abs"])
def abs_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.abs`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.abs_(xs)
      >>> xs
      [Array([0.25, 0.5 ], dtype=float32), Array(0.75, dtype=float32)]

    See also:
      ``torch._foreach_abs_``, ``jax.numpy.abs``.
    """
    return _engine.call("abs", tensors, (), True, "abs_")


@named_binding_errors(OPS["acos"])
def acos(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.acos`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.acos([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([1.3181161, 1.0471976], dtype=float32), Array(0.7227342, dtype=float32)]

    See also:
      ``torch._foreach_acos``, ``jax.numpy.arccos``.
    """
    return _engine.call("acos", tensors, (), False, "acos")


@named_binding_errors(OPS["acos"])
def acos_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.acos`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.acos_(xs)
      >>> xs
      [Array([1.3181161, 1.0471976], dtype=float32), Array(0.7227342, dtype=float32)]

    See also:
      ``torch._foreach_acos_``, ``jax.numpy.arccos``.
    """
    return _engine.call("acos", tensors, (), True, "acos_")


@named_binding_errors(OPS["add"])
def add(
    tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree | ArrayLike, /, *, alpha: Scalar = ALPHA_DEFAULT
) -> PyTree:
    """Applies ``torch.add`` between every tensor and ``other``.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).
      alpha: Multiplier of ``other`` (torch's ``alpha``).

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.add([jnp.array([1.0, 2.0]), jnp.array(3.0)], [jnp.array([10.0, 20.0]), jnp.array(30.0)], alpha=2)
      [Array([21., 42.], dtype=float32), Array(63., dtype=float32)]

    See also:
      ``torch._foreach_add``, ``jax.numpy.add``.
    """
    given = alpha is not ALPHA_DEFAULT
    return _engine.call("add", tensors, (other, alpha if given else 1), False, "add", given)


@named_binding_errors(OPS["add"])
def add_(
    tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree | ArrayLike, /, *, alpha: Scalar = ALPHA_DEFAULT
) -> PyTree:
    """Applies ``torch.add`` between every tensor and ``other``, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).
      alpha: Multiplier of ``other`` (torch's ``alpha``).

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]
      >>> _ = jforeach.add_(xs, [jnp.array([10.0, 20.0]), jnp.array(30.0)], alpha=2)
      >>> xs
      [Array([21., 42.], dtype=float32), Array(63., dtype=float32)]

    See also:
      ``torch._foreach_add_``, ``jax.numpy.add``.
    """
    given = alpha is not ALPHA_DEFAULT
    return _engine.call("add", tensors, (other, alpha if given else 1), True, "add_", given)


@named_binding_errors(OPS["addcdiv"])
def addcdiv(
    tensors: PyTree | Packed, tensor1: PyTree, tensor2: PyTree, /, value: Scalar | Sequence[Scalar] | ArrayLike = 1
) -> PyTree:
    """Applies ``torch.addcdiv`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      tensor1: A tree with the structure of ``tensors``.
      tensor2: A tree with the structure of ``tensors``.
      value: A number, a sequence of numbers or a 1-D array with one entry per tensor.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.addcdiv([jnp.array([1.0, 2.0])], [jnp.array([3.0, 4.0])], [jnp.array([0.5, 2.0])], value=2)
      [Array([13.,  6.], dtype=float32)]

    See also:
      ``torch._foreach_addcdiv``, ``jax.numpy.true_divide``.
    """
    return _engine.call("addcdiv", tensors, (tensor1, tensor2, value), False, "addcdiv")


@named_binding_errors(OPS["addcdiv"])
def addcdiv_(
    tensors: PyTree | Packed, tensor1: PyTree, tensor2: PyTree, /, value: Scalar | Sequence[Scalar] | ArrayLike = 1
) -> PyTree:
    """Applies ``torch.addcdiv`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      tensor1: A tree with the structure of ``tensors``.
      tensor2: A tree with the structure of ``tensors``.
      value: A number, a sequence of numbers or a 1-D array with one entry per tensor.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0])]
      >>> _ = jforeach.addcdiv_(xs, [jnp.array([3.0, 4.0])], [jnp.array([0.5, 2.0])], value=2)
      >>> xs
      [Array([13.,  6.], dtype=float32)]

    See also:
      ``torch._foreach_addcdiv_``, ``jax.numpy.true_divide``.
    """
    return _engine.call("addcdiv", tensors, (tensor1, tensor2, value), True, "addcdiv_")


@named_binding_errors(OPS["addcmul"])
def addcmul(
    tensors: PyTree | Packed, tensor1: PyTree, tensor2: PyTree, /, value: Scalar | Sequence[Scalar] | ArrayLike = 1
) -> PyTree:
    """Applies ``torch.addcmul`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      tensor1: A tree with the structure of ``tensors``.
      tensor2: A tree with the structure of ``tensors``.
      value: A number, a sequence of numbers or a 1-D array with one entry per tensor.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.addcmul([jnp.array([1.0, 2.0])], [jnp.array([3.0, 4.0])], [jnp.array([0.5, 2.0])], value=2)
      [Array([ 4., 18.], dtype=float32)]

    See also:
      ``torch._foreach_addcmul``, ``jax.numpy.multiply``.
    """
    return _engine.call("addcmul", tensors, (tensor1, tensor2, value), False, "addcmul")


@named_binding_errors(OPS["addcmul"])
def addcmul_(
    tensors: PyTree | Packed, tensor1: PyTree, tensor2: PyTree, /, value: Scalar | Sequence[Scalar] | ArrayLike = 1
) -> PyTree:
    """Applies ``torch.addcmul`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      tensor1: A tree with the structure of ``tensors``.
      tensor2: A tree with the structure of ``tensors``.
      value: A number, a sequence of numbers or a 1-D array with one entry per tensor.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0])]
      >>> _ = jforeach.addcmul_(xs, [jnp.array([3.0, 4.0])], [jnp.array([0.5, 2.0])], value=2)
      >>> xs
      [Array([ 4., 18.], dtype=float32)]

    See also:
      ``torch._foreach_addcmul_``, ``jax.numpy.multiply``.
    """
    return _engine.call("addcmul", tensors, (tensor1, tensor2, value), True, "addcmul_")


@named_binding_errors(OPS["asin"])
def asin(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.asin`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.asin([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.25268024, 0.5235988 ], dtype=float32), Array(0.8480621, dtype=float32)]

    See also:
      ``torch._foreach_asin``, ``jax.numpy.arcsin``.
    """
    return _engine.call("asin", tensors, (), False, "asin")


@named_binding_errors(OPS["asin"])
def asin_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.asin`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.asin_(xs)
      >>> xs
      [Array([0.25268024, 0.5235988 ], dtype=float32), Array(0.8480621, dtype=float32)]

    See also:
      ``torch._foreach_asin_``, ``jax.numpy.arcsin``.
    """
    return _engine.call("asin", tensors, (), True, "asin_")


@named_binding_errors(OPS["atan"])
def atan(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.atan`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.atan([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.24497868, 0.46364754], dtype=float32), Array(0.6435011, dtype=float32)]

    See also:
      ``torch._foreach_atan``, ``jax.numpy.arctan``.
    """
    return _engine.call("atan", tensors, (), False, "atan")


@named_binding_errors(OPS["atan"])
def atan_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.atan`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.atan_(xs)
      >>> xs
      [Array([0.24497868, 0.46364754], dtype=float32), Array(0.6435011, dtype=float32)]

    See also:
      ``torch._foreach_atan_``, ``jax.numpy.arctan``.
    """
    return _engine.call("atan", tensors, (), True, "atan_")


@named_binding_errors(OPS["ceil"])
def ceil(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.ceil`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.ceil([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([1., 1.], dtype=float32), Array(1., dtype=float32)]

    See also:
      ``torch._foreach_ceil``, ``jax.numpy.ceil``.
    """
    return _engine.call("ceil", tensors, (), False, "ceil")


@named_binding_errors(OPS["ceil"])
def ceil_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.ceil`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.ceil_(xs)
      >>> xs
      [Array([1., 1.], dtype=float32), Array(1., dtype=float32)]

    See also:
      ``torch._foreach_ceil_``, ``jax.numpy.ceil``.
    """
    return _engine.call("ceil", tensors, (), True, "ceil_")


@named_binding_errors(OPS["clamp_max"])
def clamp_max(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.clamp_max`` between every tensor and ``other``.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.clamp_max([jnp.array([1.0, 2.0]), jnp.array(3.0)], [1.5, 3.5])
      [Array([1. , 1.5], dtype=float32), Array(3., dtype=float32)]

    See also:
      ``torch._foreach_clamp_max``, ``jax.numpy.minimum``.
    """
    return _engine.call("clamp_max", tensors, (other,), False, "clamp_max")


@named_binding_errors(OPS["clamp_max"])
def clamp_max_(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.clamp_max`` between every tensor and ``other``, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]
      >>> _ = jforeach.clamp_max_(xs, [1.5, 3.5])
      >>> xs
      [Array([1. , 1.5], dtype=float32), Array(3., dtype=float32)]

    See also:
      ``torch._foreach_clamp_max_``, ``jax.numpy.minimum``.
    """
    return _engine.call("clamp_max", tensors, (other,), True, "clamp_max_")


@named_binding_errors(OPS["clamp_min"])
def clamp_min(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.clamp_min`` between every tensor and ``other``.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.clamp_min([jnp.array([1.0, 2.0]), jnp.array(3.0)], [1.5, 3.5])
      [Array([1.5, 2. ], dtype=float32), Array(3.5, dtype=float32)]

    See also:
      ``torch._foreach_clamp_min``, ``jax.numpy.maximum``.
    """
    return _engine.call("clamp_min", tensors, (other,), False, "clamp_min")


@named_binding_errors(OPS["clamp_min"])
def clamp_min_(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.clamp_min`` between every tensor and ``other``, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]
      >>> _ = jforeach.clamp_min_(xs, [1.5, 3.5])
      >>> xs
      [Array([1.5, 2. ], dtype=float32), Array(3.5, dtype=float32)]

    See also:
      ``torch._foreach_clamp_min_``, ``jax.numpy.maximum``.
    """
    return _engine.call("clamp_min", tensors, (other,), True, "clamp_min_")


@named_binding_errors(OPS["clone"])
def clone(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.clone`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.clone([jnp.array([1.0, 2.0]), jnp.array(3.0)])
      [Array([1., 2.], dtype=float32), Array(3., dtype=float32)]

    See also:
      ``torch._foreach_clone``, ``jax.numpy.copy``.
    """
    return _engine.call("clone", tensors, (), False, "clone")


@named_binding_errors(OPS["copy"])
def copy_(tensors: PyTree | Packed, src: PyTree, /) -> PyTree:
    """Applies ``torch.Tensor.copy_`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      src: A tree with the structure of ``tensors``, broadcast into each tensor and cast to its dtype.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]
      >>> _ = jforeach.copy_(xs, [jnp.array([5.0, 6.0]), jnp.array(7.0)])
      >>> xs
      [Array([5., 6.], dtype=float32), Array(7., dtype=float32)]

    See also:
      ``torch._foreach_copy_``, ``jax.numpy.broadcast_to``.
    """
    return _engine.call("copy", tensors, (src,), True, "copy_")


@named_binding_errors(OPS["cos"])
def cos(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.cos`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.cos([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.9689124 , 0.87758255], dtype=float32), Array(0.73168886, dtype=float32)]

    See also:
      ``torch._foreach_cos``, ``jax.numpy.cos``.
    """
    return _engine.call("cos", tensors, (), False, "cos")


@named_binding_errors(OPS["cos"])
def cos_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.cos`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.cos_(xs)
      >>> xs
      [Array([0.9689124 , 0.87758255], dtype=float32), Array(0.73168886, dtype=float32)]

    See also:
      ``torch._foreach_cos_``, ``jax.numpy.cos``.
    """
    return _engine.call("cos", tensors, (), True, "cos_")


@named_binding_errors(OPS["cosh"])
def cosh(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.cosh`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.cosh([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([1.0314131, 1.127626 ], dtype=float32), Array(1.2946833, dtype=float32)]

    See also:
      ``torch._foreach_cosh``, ``jax.numpy.cosh``.
    """
    return _engine.call("cosh", tensors, (), False, "cosh")


@named_binding_errors(OPS["cosh"])
def cosh_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.cosh`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.cosh_(xs)
      >>> xs
      [Array([1.0314131, 1.127626 ], dtype=float32), Array(1.2946833, dtype=float32)]

    See also:
      ``torch._foreach_cosh_``, ``jax.numpy.cosh``.
    """
    return _engine.call("cosh", tensors, (), True, "cosh_")


@named_binding_errors(OPS["div"])
def div(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree | ArrayLike, /) -> PyTree:
    """Applies ``torch.div`` between every tensor and ``other``.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.div([jnp.array([1.0, 2.0]), jnp.array(3.0)], [2.0, 4.0])
      [Array([0.5, 1. ], dtype=float32), Array(0.75, dtype=float32)]

    See also:
      ``torch._foreach_div``, ``jax.numpy.true_divide``.
    """
    return _engine.call("div", tensors, (other,), False, "div")


@named_binding_errors(OPS["div"])
def div_(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree | ArrayLike, /) -> PyTree:
    """Applies ``torch.div`` between every tensor and ``other``, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]
      >>> _ = jforeach.div_(xs, [2.0, 4.0])
      >>> xs
      [Array([0.5, 1. ], dtype=float32), Array(0.75, dtype=float32)]

    See also:
      ``torch._foreach_div_``, ``jax.numpy.true_divide``.
    """
    return _engine.call("div", tensors, (other,), True, "div_")


@named_binding_errors(OPS["erf"])
def erf(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.erf`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.erf([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.27632636, 0.5204999 ], dtype=float32), Array(0.7111556, dtype=float32)]

    See also:
      ``torch._foreach_erf``, ``jax.lax.erf``.
    """
    return _engine.call("erf", tensors, (), False, "erf")


@named_binding_errors(OPS["erf"])
def erf_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.erf`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.erf_(xs)
      >>> xs
      [Array([0.27632636, 0.5204999 ], dtype=float32), Array(0.7111556, dtype=float32)]

    See also:
      ``torch._foreach_erf_``, ``jax.lax.erf``.
    """
    return _engine.call("erf", tensors, (), True, "erf_")


@named_binding_errors(OPS["erfc"])
def erfc(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.erfc`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.erfc([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.7236736 , 0.47950017], dtype=float32), Array(0.2888444, dtype=float32)]

    See also:
      ``torch._foreach_erfc``, ``jax.lax.erfc``.
    """
    return _engine.call("erfc", tensors, (), False, "erfc")


@named_binding_errors(OPS["erfc"])
def erfc_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.erfc`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.erfc_(xs)
      >>> xs
      [Array([0.7236736 , 0.47950017], dtype=float32), Array(0.2888444, dtype=float32)]

    See also:
      ``torch._foreach_erfc_``, ``jax.lax.erfc``.
    """
    return _engine.call("erfc", tensors, (), True, "erfc_")


@named_binding_errors(OPS["exp"])
def exp(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.exp`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.exp([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([1.2840254, 1.6487212], dtype=float32), Array(2.117, dtype=float32)]

    See also:
      ``torch._foreach_exp``, ``jax.numpy.exp``.
    """
    return _engine.call("exp", tensors, (), False, "exp")


@named_binding_errors(OPS["exp"])
def exp_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.exp`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.exp_(xs)
      >>> xs
      [Array([1.2840254, 1.6487212], dtype=float32), Array(2.117, dtype=float32)]

    See also:
      ``torch._foreach_exp_``, ``jax.numpy.exp``.
    """
    return _engine.call("exp", tensors, (), True, "exp_")


@named_binding_errors(OPS["expm1"])
def expm1(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.expm1`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.expm1([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.2840254, 0.6487213], dtype=float32), Array(1.1170001, dtype=float32)]

    See also:
      ``torch._foreach_expm1``, ``jax.numpy.expm1``.
    """
    return _engine.call("expm1", tensors, (), False, "expm1")


@named_binding_errors(OPS["expm1"])
def expm1_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.expm1`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.expm1_(xs)
      >>> xs
      [Array([0.2840254, 0.6487213], dtype=float32), Array(1.1170001, dtype=float32)]

    See also:
      ``torch._foreach_expm1_``, ``jax.numpy.expm1``.
    """
    return _engine.call("expm1", tensors, (), True, "expm1_")


@named_binding_errors(OPS["floor"])
def floor(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.floor`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.floor([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0., 0.], dtype=float32), Array(0., dtype=float32)]

    See also:
      ``torch._foreach_floor``, ``jax.numpy.floor``.
    """
    return _engine.call("floor", tensors, (), False, "floor")


@named_binding_errors(OPS["floor"])
def floor_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.floor`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.floor_(xs)
      >>> xs
      [Array([0., 0.], dtype=float32), Array(0., dtype=float32)]

    See also:
      ``torch._foreach_floor_``, ``jax.numpy.floor``.
    """
    return _engine.call("floor", tensors, (), True, "floor_")


@named_binding_errors(OPS["frac"])
def frac(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.frac`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.frac([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.25, 0.5 ], dtype=float32), Array(0.75, dtype=float32)]

    See also:
      ``torch._foreach_frac``, ``jax.numpy.trunc``.
    """
    return _engine.call("frac", tensors, (), False, "frac")


@named_binding_errors(OPS["frac"])
def frac_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.frac`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.frac_(xs)
      >>> xs
      [Array([0.25, 0.5 ], dtype=float32), Array(0.75, dtype=float32)]

    See also:
      ``torch._foreach_frac_``, ``jax.numpy.trunc``.
    """
    return _engine.call("frac", tensors, (), True, "frac_")


@named_binding_errors(OPS["lerp"])
def lerp(tensors: PyTree | Packed, end: PyTree, weight: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.lerp`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      end: A tree with the structure of ``tensors``.
      weight: A number, a sequence of numbers (one per tensor), or a tree with the structure of ``tensors``.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.lerp([jnp.array([0.0, 1.0])], [jnp.array([1.0, 3.0])], 0.25)
      [Array([0.25, 1.5 ], dtype=float32)]

    See also:
      ``torch._foreach_lerp``, ``jax.numpy.where``.
    """
    return _engine.call("lerp", tensors, (end, weight), False, "lerp")


@named_binding_errors(OPS["lerp"])
def lerp_(tensors: PyTree | Packed, end: PyTree, weight: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.lerp`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      end: A tree with the structure of ``tensors``.
      weight: A number, a sequence of numbers (one per tensor), or a tree with the structure of ``tensors``.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.0, 1.0])]
      >>> _ = jforeach.lerp_(xs, [jnp.array([1.0, 3.0])], 0.25)
      >>> xs
      [Array([0.25, 1.5 ], dtype=float32)]

    See also:
      ``torch._foreach_lerp_``, ``jax.numpy.where``.
    """
    return _engine.call("lerp", tensors, (end, weight), True, "lerp_")


@named_binding_errors(OPS["lgamma"])
def lgamma(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.lgamma`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.lgamma([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([1.2880225, 0.5723648], dtype=float32), Array(0.20328093, dtype=float32)]

    See also:
      ``torch._foreach_lgamma``, ``jax.lax.lgamma``.
    """
    return _engine.call("lgamma", tensors, (), False, "lgamma")


@named_binding_errors(OPS["lgamma"])
def lgamma_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.lgamma`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.lgamma_(xs)
      >>> xs
      [Array([1.2880225, 0.5723648], dtype=float32), Array(0.20328093, dtype=float32)]

    See also:
      ``torch._foreach_lgamma_``, ``jax.lax.lgamma``.
    """
    return _engine.call("lgamma", tensors, (), True, "lgamma_")


@named_binding_errors(OPS["log"])
def log(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.log`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.log([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([-1.3862944, -0.6931472], dtype=float32), Array(-0.2876821, dtype=float32)]

    See also:
      ``torch._foreach_log``, ``jax.numpy.log``.
    """
    return _engine.call("log", tensors, (), False, "log")


@named_binding_errors(OPS["log10"])
def log10(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.log10`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.log10([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([-0.60206, -0.30103], dtype=float32), Array(-0.12493875, dtype=float32)]

    See also:
      ``torch._foreach_log10``, ``jax.numpy.log10``.
    """
    return _engine.call("log10", tensors, (), False, "log10")


@named_binding_errors(OPS["log10"])
def log10_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.log10`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.log10_(xs)
      >>> xs
      [Array([-0.60206, -0.30103], dtype=float32), Array(-0.12493875, dtype=float32)]

    See also:
      ``torch._foreach_log10_``, ``jax.numpy.log10``.
    """
    return _engine.call("log10", tensors, (), True, "log10_")


@named_binding_errors(OPS["log1p"])
def log1p(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.log1p`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.log1p([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.22314355, 0.4054651 ], dtype=float32), Array(0.5596158, dtype=float32)]

    See also:
      ``torch._foreach_log1p``, ``jax.numpy.log1p``.
    """
    return _engine.call("log1p", tensors, (), False, "log1p")


@named_binding_errors(OPS["log1p"])
def log1p_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.log1p`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.log1p_(xs)
      >>> xs
      [Array([0.22314355, 0.4054651 ], dtype=float32), Array(0.5596158, dtype=float32)]

    See also:
      ``torch._foreach_log1p_``, ``jax.numpy.log1p``.
    """
    return _engine.call("log1p", tensors, (), True, "log1p_")


@named_binding_errors(OPS["log2"])
def log2(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.log2`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.log2([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([-2., -1.], dtype=float32), Array(-0.4150375, dtype=float32)]

    See also:
      ``torch._foreach_log2``, ``jax.numpy.log2``.
    """
    return _engine.call("log2", tensors, (), False, "log2")


@named_binding_errors(OPS["log2"])
def log2_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.log2`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.log2_(xs)
      >>> xs
      [Array([-2., -1.], dtype=float32), Array(-0.4150375, dtype=float32)]

    See also:
      ``torch._foreach_log2_``, ``jax.numpy.log2``.
    """
    return _engine.call("log2", tensors, (), True, "log2_")


@named_binding_errors(OPS["log"])
def log_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.log`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.log_(xs)
      >>> xs
      [Array([-1.3862944, -0.6931472], dtype=float32), Array(-0.2876821, dtype=float32)]

    See also:
      ``torch._foreach_log_``, ``jax.numpy.log``.
    """
    return _engine.call("log", tensors, (), True, "log_")


@named_binding_errors(OPS["max"])
def max(tensors: PyTree | Packed, /) -> PyTree:
    """Computes ``torch.max`` of every tensor, returning one 0-d array per tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A tree with the structure of ``tensors`` whose leaves are 0-d arrays (a Packed for a Packed).

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.max({'b': jnp.array([1.0, -2.0]), 'w': jnp.array([[3.0, 4.0]])})
      {'b': Array(1., dtype=float32), 'w': Array(4., dtype=float32)}

    See also:
      ``torch._foreach_max``, ``jax.numpy.max``.
    """
    return _engine.call("max", tensors, (), False, "max")


@named_binding_errors(OPS["maximum"])
def maximum(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.maximum`` between every tensor and ``other``.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.maximum([jnp.array([1.0, 2.0]), jnp.array(3.0)], [jnp.array([0.0, 5.0]), jnp.array(4.0)])
      [Array([1., 5.], dtype=float32), Array(4., dtype=float32)]

    See also:
      ``torch._foreach_maximum``, ``jax.numpy.maximum``.
    """
    return _engine.call("maximum", tensors, (other,), False, "maximum")


@named_binding_errors(OPS["maximum"])
def maximum_(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.maximum`` between every tensor and ``other``, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]
      >>> _ = jforeach.maximum_(xs, [jnp.array([0.0, 5.0]), jnp.array(4.0)])
      >>> xs
      [Array([1., 5.], dtype=float32), Array(4., dtype=float32)]

    See also:
      ``torch._foreach_maximum_``, ``jax.numpy.maximum``.
    """
    return _engine.call("maximum", tensors, (other,), True, "maximum_")


@named_binding_errors(OPS["minimum"])
def minimum(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.minimum`` between every tensor and ``other``.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.minimum([jnp.array([1.0, 2.0]), jnp.array(3.0)], [jnp.array([0.0, 5.0]), jnp.array(4.0)])
      [Array([0., 2.], dtype=float32), Array(3., dtype=float32)]

    See also:
      ``torch._foreach_minimum``, ``jax.numpy.minimum``.
    """
    return _engine.call("minimum", tensors, (other,), False, "minimum")


@named_binding_errors(OPS["minimum"])
def minimum_(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.minimum`` between every tensor and ``other``, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]
      >>> _ = jforeach.minimum_(xs, [jnp.array([0.0, 5.0]), jnp.array(4.0)])
      >>> xs
      [Array([0., 2.], dtype=float32), Array(3., dtype=float32)]

    See also:
      ``torch._foreach_minimum_``, ``jax.numpy.minimum``.
    """
    return _engine.call("minimum", tensors, (other,), True, "minimum_")


@named_binding_errors(OPS["mm"])
def mm(tensors: PyTree | Packed, mat2: PyTree, /) -> PyTree:
    """Applies ``torch.mm`` between every tensor and ``mat2``.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      mat2: A tree with the structure of ``tensors`` of matrices to multiply each tensor by.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.mm([jnp.ones((2, 3))], [jnp.arange(3.0).reshape(3, 1)])
      [Array([[3.],
             [3.]], dtype=float32)]

    See also:
      ``torch._foreach_mm``, ``jax.numpy.matmul``.
    """
    return _engine.call("mm", tensors, (mat2,), False, "mm")


@named_binding_errors(OPS["mul"])
def mul(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree | ArrayLike, /) -> PyTree:
    """Applies ``torch.mul`` between every tensor and ``other``.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.mul([jnp.array([1.0, 2.0]), jnp.array(3.0)], [2.0, 4.0])
      [Array([2., 4.], dtype=float32), Array(12., dtype=float32)]

    See also:
      ``torch._foreach_mul``, ``jax.numpy.multiply``.
    """
    return _engine.call("mul", tensors, (other,), False, "mul")


@named_binding_errors(OPS["mul"])
def mul_(tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree | ArrayLike, /) -> PyTree:
    """Applies ``torch.mul`` between every tensor and ``other``, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]
      >>> _ = jforeach.mul_(xs, [2.0, 4.0])
      >>> xs
      [Array([2., 4.], dtype=float32), Array(12., dtype=float32)]

    See also:
      ``torch._foreach_mul_``, ``jax.numpy.multiply``.
    """
    return _engine.call("mul", tensors, (other,), True, "mul_")


@named_binding_errors(OPS["neg"])
def neg(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.neg`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.neg([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([-0.25, -0.5 ], dtype=float32), Array(-0.75, dtype=float32)]

    See also:
      ``torch._foreach_neg``, ``jax.numpy.negative``.
    """
    return _engine.call("neg", tensors, (), False, "neg")


@named_binding_errors(OPS["neg"])
def neg_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.neg`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.neg_(xs)
      >>> xs
      [Array([-0.25, -0.5 ], dtype=float32), Array(-0.75, dtype=float32)]

    See also:
      ``torch._foreach_neg_``, ``jax.numpy.negative``.
    """
    return _engine.call("neg", tensors, (), True, "neg_")


@named_binding_errors(OPS["norm"])
def norm(tensors: PyTree | Packed, /, ord: Scalar = 2, dtype: DTypeLike | None = None) -> PyTree:
    """Computes ``torch.linalg.vector_norm`` of every tensor, returning one 0-d array per tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      ord: The order of the norm: any real number, ``inf`` or ``-inf`` (0 counts non-zeros).
      dtype: Compute and return in this floating dtype (must not narrow the input dtype).

    Returns:
      A tree with the structure of ``tensors`` whose leaves are 0-d arrays (a Packed for a Packed).

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.norm({'b': jnp.array([1.0, -2.0]), 'w': jnp.array([[3.0, 4.0]])})
      {'b': Array(2.236068, dtype=float32), 'w': Array(5., dtype=float32)}

    See also:
      ``torch._foreach_norm``, ``jax.numpy.linalg.norm``.
    """
    return _engine.call("norm", tensors, (ord, dtype), False, "norm")


@named_binding_errors(OPS["pow"])
def pow(tensors: PyTree | Packed, exponent: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.pow`` between every tensor and ``exponent``.

    ``jforeach.pow(number, tensors)`` raises the number (or a 0-d array, taken as a number of its kind) to every tensor
    (torch's ScalarAndTensor).

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      exponent: A number, a sequence of numbers (one per tensor), or a tree with the structure of ``tensors``.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.pow([jnp.array([1.0, 2.0]), jnp.array(3.0)], [0.5, 3.0])
      [Array([1.       , 1.4142135], dtype=float32), Array(27., dtype=float32)]
      >>> jforeach.pow(2.0, [jnp.array([1.0, 2.0]), jnp.array(3.0)])
      [Array([2., 4.], dtype=float32), Array(8., dtype=float32)]

    See also:
      ``torch._foreach_pow``, ``jax.numpy.power``.
    """
    if is_scalar_base(tensors, exponent):
        return _engine.call(_POW_SCALAR_BASE, exponent, (tensors,), False, "pow")
    return _engine.call("pow", tensors, (exponent,), False, "pow")


@named_binding_errors(OPS["pow"])
def pow_(tensors: PyTree | Packed, exponent: Scalar | Sequence[Scalar] | PyTree, /) -> PyTree:
    """Applies ``torch.pow`` between every tensor and ``exponent``, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      exponent: A number, a sequence of numbers (one per tensor), or a tree with the structure of ``tensors``.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]
      >>> _ = jforeach.pow_(xs, [0.5, 3.0])
      >>> xs
      [Array([1.       , 1.4142135], dtype=float32), Array(27., dtype=float32)]

    See also:
      ``torch._foreach_pow_``, ``jax.numpy.power``.
    """
    return _engine.call("pow", tensors, (exponent,), True, "pow_")


@named_binding_errors(OPS["powsum"])
def powsum(tensors: PyTree | Packed, /, ord: Scalar = 2, dtype: DTypeLike | None = None) -> PyTree:
    """Computes ``torch.linalg.vector_norm`` of every tensor, returning one 0-d array per tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      ord: The order of the norm: any real number, ``inf`` or ``-inf`` (0 counts non-zeros).
      dtype: Compute and return in this floating dtype (must not narrow the input dtype).

    Returns:
      A tree with the structure of ``tensors`` whose leaves are 0-d arrays (a Packed for a Packed).

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.powsum({'b': jnp.array([1.0, -2.0]), 'w': jnp.array([[3.0, 4.0]])}, 1)
      {'b': Array(3., dtype=float32), 'w': Array(7., dtype=float32)}

    See also:
      ``torch._foreach_powsum``, ``jax.numpy.sum``.
    """
    return _engine.call("powsum", tensors, (ord, dtype), False, "powsum")


@named_binding_errors(OPS["reciprocal"])
def reciprocal(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.reciprocal`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.reciprocal([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([4., 2.], dtype=float32), Array(1.3333334, dtype=float32)]

    See also:
      ``torch._foreach_reciprocal``, ``jax.numpy.reciprocal``.
    """
    return _engine.call("reciprocal", tensors, (), False, "reciprocal")


@named_binding_errors(OPS["reciprocal"])
def reciprocal_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.reciprocal`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.reciprocal_(xs)
      >>> xs
      [Array([4., 2.], dtype=float32), Array(1.3333334, dtype=float32)]

    See also:
      ``torch._foreach_reciprocal_``, ``jax.numpy.reciprocal``.
    """
    return _engine.call("reciprocal", tensors, (), True, "reciprocal_")


@named_binding_errors(OPS["round"])
def round(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.round`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.round([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0., 0.], dtype=float32), Array(1., dtype=float32)]

    See also:
      ``torch._foreach_round``, ``jax.numpy.round``.
    """
    return _engine.call("round", tensors, (), False, "round")


@named_binding_errors(OPS["round"])
def round_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.round`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.round_(xs)
      >>> xs
      [Array([0., 0.], dtype=float32), Array(1., dtype=float32)]

    See also:
      ``torch._foreach_round_``, ``jax.numpy.round``.
    """
    return _engine.call("round", tensors, (), True, "round_")


@named_binding_errors(OPS["rsqrt"])
def rsqrt(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.rsqrt`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.rsqrt([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([2.       , 1.4142135], dtype=float32), Array(1.1547005, dtype=float32)]

    See also:
      ``torch._foreach_rsqrt``, ``jax.lax.rsqrt``.
    """
    return _engine.call("rsqrt", tensors, (), False, "rsqrt")


@named_binding_errors(OPS["rsqrt"])
def rsqrt_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.rsqrt`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.rsqrt_(xs)
      >>> xs
      [Array([2.       , 1.4142135], dtype=float32), Array(1.1547005, dtype=float32)]

    See also:
      ``torch._foreach_rsqrt_``, ``jax.lax.rsqrt``.
    """
    return _engine.call("rsqrt", tensors, (), True, "rsqrt_")


@named_binding_errors(OPS["sigmoid"])
def sigmoid(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.sigmoid`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.sigmoid([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.5621765 , 0.62245935], dtype=float32), Array(0.6791787, dtype=float32)]

    See also:
      ``torch._foreach_sigmoid``, ``jax.nn.sigmoid``.
    """
    return _engine.call("sigmoid", tensors, (), False, "sigmoid")


@named_binding_errors(OPS["sigmoid"])
def sigmoid_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.sigmoid`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.sigmoid_(xs)
      >>> xs
      [Array([0.5621765 , 0.62245935], dtype=float32), Array(0.6791787, dtype=float32)]

    See also:
      ``torch._foreach_sigmoid_``, ``jax.nn.sigmoid``.
    """
    return _engine.call("sigmoid", tensors, (), True, "sigmoid_")


@named_binding_errors(OPS["sign"])
def sign(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.sign`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.sign([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([1., 1.], dtype=float32), Array(1., dtype=float32)]

    See also:
      ``torch._foreach_sign``, ``jax.numpy.sign``.
    """
    return _engine.call("sign", tensors, (), False, "sign")


@named_binding_errors(OPS["sign"])
def sign_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.sign`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.sign_(xs)
      >>> xs
      [Array([1., 1.], dtype=float32), Array(1., dtype=float32)]

    See also:
      ``torch._foreach_sign_``, ``jax.numpy.sign``.
    """
    return _engine.call("sign", tensors, (), True, "sign_")


@named_binding_errors(OPS["sin"])
def sin(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.sin`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.sin([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.24740396, 0.47942555], dtype=float32), Array(0.6816388, dtype=float32)]

    See also:
      ``torch._foreach_sin``, ``jax.numpy.sin``.
    """
    return _engine.call("sin", tensors, (), False, "sin")


@named_binding_errors(OPS["sin"])
def sin_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.sin`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.sin_(xs)
      >>> xs
      [Array([0.24740396, 0.47942555], dtype=float32), Array(0.6816388, dtype=float32)]

    See also:
      ``torch._foreach_sin_``, ``jax.numpy.sin``.
    """
    return _engine.call("sin", tensors, (), True, "sin_")


@named_binding_errors(OPS["sinh"])
def sinh(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.sinh`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.sinh([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.2526123 , 0.52109534], dtype=float32), Array(0.82231677, dtype=float32)]

    See also:
      ``torch._foreach_sinh``, ``jax.numpy.sinh``.
    """
    return _engine.call("sinh", tensors, (), False, "sinh")


@named_binding_errors(OPS["sinh"])
def sinh_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.sinh`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.sinh_(xs)
      >>> xs
      [Array([0.2526123 , 0.52109534], dtype=float32), Array(0.82231677, dtype=float32)]

    See also:
      ``torch._foreach_sinh_``, ``jax.numpy.sinh``.
    """
    return _engine.call("sinh", tensors, (), True, "sinh_")


@named_binding_errors(OPS["sqrt"])
def sqrt(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.sqrt`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.sqrt([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.5       , 0.70710677], dtype=float32), Array(0.8660254, dtype=float32)]

    See also:
      ``torch._foreach_sqrt``, ``jax.numpy.sqrt``.
    """
    return _engine.call("sqrt", tensors, (), False, "sqrt")


@named_binding_errors(OPS["sqrt"])
def sqrt_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.sqrt`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.sqrt_(xs)
      >>> xs
      [Array([0.5       , 0.70710677], dtype=float32), Array(0.8660254, dtype=float32)]

    See also:
      ``torch._foreach_sqrt_``, ``jax.numpy.sqrt``.
    """
    return _engine.call("sqrt", tensors, (), True, "sqrt_")


@named_binding_errors(OPS["sub"])
def sub(
    tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree | ArrayLike, /, *, alpha: Scalar = ALPHA_DEFAULT
) -> PyTree:
    """Applies ``torch.sub`` between every tensor and ``other``.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).
      alpha: Multiplier of ``other`` (torch's ``alpha``).

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.sub([jnp.array([1.0, 2.0]), jnp.array(3.0)], [jnp.array([10.0, 20.0]), jnp.array(30.0)], alpha=2)
      [Array([-19., -38.], dtype=float32), Array(-57., dtype=float32)]

    See also:
      ``torch._foreach_sub``, ``jax.numpy.subtract``.
    """
    given = alpha is not ALPHA_DEFAULT
    return _engine.call("sub", tensors, (other, alpha if given else 1), False, "sub", given)


@named_binding_errors(OPS["sub"])
def sub_(
    tensors: PyTree | Packed, other: Scalar | Sequence[Scalar] | PyTree | ArrayLike, /, *, alpha: Scalar = ALPHA_DEFAULT
) -> PyTree:
    """Applies ``torch.sub`` between every tensor and ``other``, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.
      other: A number for every tensor; a sequence of numbers, one per tensor; a tree with the structure of ``tensors``
        (combined leaf by leaf, with broadcasting).
      alpha: Multiplier of ``other`` (torch's ``alpha``).

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]
      >>> _ = jforeach.sub_(xs, [jnp.array([10.0, 20.0]), jnp.array(30.0)], alpha=2)
      >>> xs
      [Array([-19., -38.], dtype=float32), Array(-57., dtype=float32)]

    See also:
      ``torch._foreach_sub_``, ``jax.numpy.subtract``.
    """
    given = alpha is not ALPHA_DEFAULT
    return _engine.call("sub", tensors, (other, alpha if given else 1), True, "sub_", given)


@named_binding_errors(OPS["tan"])
def tan(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.tan`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.tan([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.25534192, 0.5463025 ], dtype=float32), Array(0.93159646, dtype=float32)]

    See also:
      ``torch._foreach_tan``, ``jax.numpy.tan``.
    """
    return _engine.call("tan", tensors, (), False, "tan")


@named_binding_errors(OPS["tan"])
def tan_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.tan`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.tan_(xs)
      >>> xs
      [Array([0.25534192, 0.5463025 ], dtype=float32), Array(0.93159646, dtype=float32)]

    See also:
      ``torch._foreach_tan_``, ``jax.numpy.tan``.
    """
    return _engine.call("tan", tensors, (), True, "tan_")


@named_binding_errors(OPS["tanh"])
def tanh(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.tanh`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.tanh([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0.24491866, 0.46211717], dtype=float32), Array(0.635149, dtype=float32)]

    See also:
      ``torch._foreach_tanh``, ``jax.numpy.tanh``.
    """
    return _engine.call("tanh", tensors, (), False, "tanh")


@named_binding_errors(OPS["tanh"])
def tanh_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.tanh`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.tanh_(xs)
      >>> xs
      [Array([0.24491866, 0.46211717], dtype=float32), Array(0.635149, dtype=float32)]

    See also:
      ``torch._foreach_tanh_``, ``jax.numpy.tanh``.
    """
    return _engine.call("tanh", tensors, (), True, "tanh_")


@named_binding_errors(OPS["trunc"])
def trunc(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.trunc`` to every tensor.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      A new tree with the structure of ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> jforeach.trunc([jnp.array([0.25, 0.5]), jnp.array(0.75)])
      [Array([0., 0.], dtype=float32), Array(0., dtype=float32)]

    See also:
      ``torch._foreach_trunc``, ``jax.numpy.trunc``.
    """
    return _engine.call("trunc", tensors, (), False, "trunc")


@named_binding_errors(OPS["trunc"])
def trunc_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.trunc`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]
      >>> _ = jforeach.trunc_(xs)
      >>> xs
      [Array([0., 0.], dtype=float32), Array(0., dtype=float32)]

    See also:
      ``torch._foreach_trunc_``, ``jax.numpy.trunc``.
    """
    return _engine.call("trunc", tensors, (), True, "trunc_")


@named_binding_errors(OPS["zero"])
def zero_(tensors: PyTree | Packed, /) -> PyTree:
    """Applies ``torch.Tensor.zero_`` to every tensor, in place (donating the input buffers).

    Runs one ``jax.jit`` kernel whose ``tensors`` buffers are donated: the results reuse their
    memory and the input arrays are deleted. Lists and dicts of the caller (at every level) are
    updated in place with the results, so torch-style code keeps working; the updated tree is also
    returned: rebind it for tuples, NamedTuples and single arrays (a ``Packed`` is updated in place).
    Inside a JAX transformation nothing can be donated and the same values are computed functionally.

    Args:
      tensors: A list, tuple, dict, any pytree of arrays, or a :class:`jforeach.Packed`.

    Returns:
      The updated ``tensors``.

    Raises:
      ValueError: if an operand's structure or length does not match ``tensors``, or the same array appears twice in
        ``tensors``.
      TypeError: for a leaf that is not an array, or a dtype torch rejects (in place: a result dtype that cannot be cast
        back, e.g. float into int).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jforeach
      >>> xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]
      >>> _ = jforeach.zero_(xs)
      >>> xs
      [Array([0., 0.], dtype=float32), Array(0., dtype=float32)]

    See also:
      ``torch._foreach_zero_``, ``jax.numpy.zeros_like``.
    """
    return _engine.call("zero", tensors, (), True, "zero_")
