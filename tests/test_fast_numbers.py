"""Numbers on the per-call plan: a Python number reaches the kernel as a cached device scalar.

The fast path hands a Scalar operand to the kernel as the device scalar jit would make of it,
cached by value (``_engine._on_device``), so repeated calls skip the conversion and transfer. The
values must be exactly the number's, whatever it is (a repeated one, a new one every call, -0.0,
NaN, infinities, ints past int32, complex numbers), and a new value must never compile anything.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _torch_ref import assert_matches, to_torch

import jforeach

F32 = jnp.float32
VALUES = [0.5, 0.5, -0.0, 0.0, math.nan, math.inf, -math.inf, 3, -7, 2**40, 1.5, 1e-30, 0.5]


def _arrays(dtype=F32):
    rng = np.random.default_rng(0)
    return [jnp.asarray(rng.uniform(-2, 2, s), dtype) for s in [(4,), (2, 3), ()]]


@pytest.mark.parametrize("container", ["list", "packed"])
@pytest.mark.parametrize("op", ["mul_", "add_", "clamp_min_", "div_"])
def test_every_number_gives_torchs_values_and_no_new_compile(op, container, jax_compiles):
    xs = _arrays()
    ts = [to_torch(x) for x in xs]
    tensors = jforeach.pack(xs) if container == "packed" else [jnp.array(x, copy=True) for x in xs]
    getattr(jforeach, op)(tensors, 0.25)  # the first call: the whole path, which leaves the plan
    getattr(torch, f"_foreach_{op}")(ts, 0.25)
    before = len(jax_compiles.compiles)
    for v in VALUES:
        getattr(jforeach, op)(tensors, v)
        getattr(torch, f"_foreach_{op}")(ts, v)
        got = tensors.unpack() if container == "packed" else tensors
        for g, t in zip(got, ts, strict=True):
            assert_matches(g, t, context=f"{op}({v!r}) on a {container}")
    kernels = [c for c in jax_compiles.compiles[before:] if op in c]
    # an int past int32 travels as a float: one more kernel signature, once; nothing else compiles
    assert len(kernels) <= 1, kernels


def test_complex_numbers_on_complex_tensors():
    xs = [jnp.asarray(np.array([1 + 2j, -0.5j]), jnp.complex64), jnp.asarray(np.array(3 - 1j), jnp.complex64)]
    ts = [to_torch(x) for x in xs]
    for v in [2j, 2j, 1.5 - 0.5j, complex(math.nan, 0), 2]:
        jforeach.mul_(xs, v)
        torch._foreach_mul_(ts, v)
        for g, t in zip(xs, ts, strict=True):  # complex64: each part a few float32 roundings off
            assert g.dtype == jnp.complex64
            np.testing.assert_allclose(np.asarray(g), t.numpy(), rtol=4 * np.finfo(np.float32).eps, err_msg=f"{v!r}")
