"""Conversions between JAX and torch for the parity tests; torch is the oracle."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import torch

DTYPES = {
    "float32": (jnp.float32, torch.float32),
    "float64": (jnp.float64, torch.float64),
    "bfloat16": (jnp.bfloat16, torch.bfloat16),
    "float16": (jnp.float16, torch.float16),
    "int32": (jnp.int32, torch.int32),
    "int64": (jnp.int64, torch.int64),
    "bool": (jnp.bool_, torch.bool),
}
COMPLEX_DTYPES = {  # not in DTYPES: test_ops's matrix is real; complex operands have tests of their own
    "complex64": (jnp.complex64, torch.complex64),
    "complex128": (jnp.complex128, torch.complex128),
}
TOLERANCE = {  # rtol, atol: about two units in the last place
    "float32": (2e-6, 1e-6),
    "float64": (1e-13, 1e-14),
    "complex64": (2e-6, 1e-6),
    "complex128": (1e-13, 1e-14),
    "bfloat16": (1.6e-2, 1e-2),
    "float16": (2e-3, 1e-3),
}


def to_torch(x) -> torch.Tensor:
    a = np.asarray(x)
    if a.dtype == jnp.bfloat16:
        return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
    return torch.from_numpy(a.copy())


def to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.float().numpy()
    return t.numpy()


def jax_dtype_name(x) -> str:
    return np.dtype(x.dtype).name


_TORCH_NAMES = {v[1]: k for k, v in {**DTYPES, **COMPLEX_DTYPES}.items()}


def torch_dtype_name(t: torch.Tensor) -> str:
    return _TORCH_NAMES[t.dtype]


def assert_matches(got, want: torch.Tensor, *, rtol=None, atol=None, context=""):
    """Same dtype as torch and the same values (NaN where torch has NaN)."""
    name = torch_dtype_name(want)
    assert jax_dtype_name(got) == name, f"{context}: dtype {jax_dtype_name(got)} != torch {name}"
    assert tuple(got.shape) == tuple(want.shape), f"{context}: shape {got.shape} != torch {tuple(want.shape)}"
    g = np.asarray(got).astype(np.float64) if name == "bfloat16" else np.asarray(got)
    w = to_numpy(want)
    if name in TOLERANCE:
        r, a = TOLERANCE[name]
        wide = np.complex128 if name.startswith("complex") else np.float64
        np.testing.assert_allclose(
            g.astype(wide),
            w.astype(wide),
            rtol=rtol or r,
            atol=atol or a,
            equal_nan=True,
            err_msg=context,
        )
    else:
        np.testing.assert_array_equal(g, w, err_msg=context)
