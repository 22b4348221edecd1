"""Numbers on the per-call plan: a Python number that comes again reaches the kernel as a cached
device scalar.

The fast path hands a Scalar operand it has seen before to the kernel as the device scalar jit
would make of it, cached by value (``_engine._device_scalar``), so repeated calls skip the
conversion and transfer. The values must be exactly the number's, whatever it is (a repeated one,
a new one every call, -0.0, NaN, infinities, ints past int32, complex numbers with a zero part),
with x64 on and off, and the cache must never hold a tracer or an array placed on a mesh.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _torch_ref import assert_matches, to_torch

import jforeach
from jforeach import _engine

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


def test_a_value_that_comes_again_is_cached_on_the_device():
    xs = _arrays()
    jforeach.mul_(xs, 0.75)  # the whole path
    jforeach.mul_(xs, 0.75)  # the plan: seen once
    jforeach.mul_(xs, 0.75)  # seen again: a device scalar
    cached = [a for (kind, value, _), a in _engine._DEVICE_SCALARS.items() if kind is float and value == 0.75]
    assert cached and all(isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer) for a in cached)
    assert all(a.weak_type and not a.committed for a in cached)


@pytest.mark.parametrize("x64", [True, False])
def test_x64_on_and_off(x64):
    with jax.enable_x64(x64):
        xs = [jnp.asarray(np.arange(3.0), jnp.float32), jnp.asarray(np.arange(4), jnp.int32)]
        ts = [to_torch(x) for x in xs]
        for v in [3, 3, 3, 2**31 - 1, -5, -5]:
            jforeach.mul_(xs, v)
            torch._foreach_mul_(ts, v)
            for g, t in zip(xs, ts, strict=True):
                assert_matches(g, t, context=f"x64={x64} mul_({v})")


def test_a_value_first_used_inside_set_mesh_does_not_place_later_results():
    mesh = jax.make_mesh((1,), ("x",))
    value = 0.8125  # (a value no other test uses)
    with jax.set_mesh(mesh):
        inside = [jnp.arange(4.0)]
        for _ in range(3):
            jforeach.mul(inside, value)
    xs = [jnp.arange(4.0)]
    for _ in range(3):
        out = jforeach.mul(xs, value)
        assert not out[0].committed and isinstance(out[0].sharding, jax.sharding.SingleDeviceSharding)
    jforeach.mul_(xs, value)
    assert not xs[0].committed


def test_a_call_inside_jit_caches_no_tracer():
    xs = [jnp.arange(3.0)]
    value = 0.6875
    jforeach.mul(xs, value)  # the whole path: the plan, which the traced calls below take
    for _ in range(3):  # (a new function each time: each is traced, the value first seen inside a trace)
        out = jax.jit(lambda: jforeach.mul(xs, value))()  # the tensors closed over: concrete
        np.testing.assert_array_equal(np.asarray(out[0]), np.arange(3.0) * value)
    assert any(v == value for _, v, _ in _engine._DEVICE_SCALARS)
    assert not any(isinstance(a, jax.core.Tracer) for a in _engine._DEVICE_SCALARS.values())
    with jax.checking_leaks():
        jax.jit(lambda: jforeach.mul(xs, value))()


def test_complex_zero_parts_keep_their_signs():
    """0j and -0-0j compare equal: a value cached for one must not serve the other."""
    x = jnp.asarray(np.array([complex(-0.0, -0.0), 1 + 1j]), jnp.complex64)

    def signs(v):
        out = np.asarray(jforeach.add([x], v)[0])
        return np.signbit(out.real).tolist(), np.signbit(out.imag).tolist()

    _engine._DEVICE_SCALARS.clear()
    _engine._SEEN_ONCE.clear()
    alone = signs(complex(-0.0, -0.0))  # the whole path, nothing cached
    for _ in range(3):
        signs(0j)
    assert signs(complex(-0.0, -0.0)) == alone
    assert alone[0][0] and alone[1][0]  # -0 + -0 keeps both signs
