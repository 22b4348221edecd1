"""Many tensors through one Packed: unpack inside jit compiles one kernel per shape, not per tensor.

The 2,000 and 10,000 tensor compile times are measured by ``python -m jforeach bench --ops unpack``; these
tests check the values, the gradients, the structure of the compiled program, and the two memory
contracts of pack/unpack outside jit (the host copy is released, an unpacked Packed still donates).
"""

import re
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jforeach

_BLOCK = ((8, 8), (8, 32), (32,), (32, 8), (8,))


def _tree(n, seed=0):
    rng = np.random.default_rng(seed)
    return {f"p{i:04d}": rng.standard_normal(_BLOCK[i % len(_BLOCK)]).astype(np.float32) for i in range(n)}


def _mixed():
    rng = np.random.default_rng(1)
    return {
        "w": rng.standard_normal((5, 3)).astype(np.float32),
        "b": rng.standard_normal(3).astype(np.float32),
        "empty": np.zeros((0, 4), np.float32),
        "scalar": np.float32(2.5),
        "w64": rng.standard_normal((2, 2)),
        "steps": np.arange(7, dtype=np.int32),
        "flag": np.array([True, False]),
        "c": (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64),
        "bf": jnp.asarray(rng.standard_normal(4), jnp.bfloat16),
        "nan": np.array([np.nan, -0.0, np.inf], np.float32),
    }


def _loss(tree):
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]
    return sum(jnp.sum(jnp.sin(x.astype(jnp.float32)) * (i + 1)) for i, x in enumerate(leaves))


def test_unpack_in_jit_gives_every_tensor_bit_for_bit():
    tree = _mixed()
    got = jax.jit(lambda p: p.unpack())(jforeach.pack(tree))
    assert jax.tree.structure(got) == jax.tree.structure(tree)
    for key, want in tree.items():
        want = np.asarray(want)
        assert got[key].dtype == want.dtype and got[key].shape == want.shape, key
        # bit patterns, so that -0.0 and NaN payloads count too
        np.testing.assert_array_equal(
            np.asarray(got[key]).reshape(-1).view(np.uint8), want.reshape(-1).view(np.uint8), err_msg=key
        )


def test_grad_through_unpack_is_the_tree_gradient_exactly():
    tree = _tree(20)
    packed = jforeach.pack(tree)
    got = jax.jit(jax.grad(lambda p: _loss(p.unpack())))(packed)
    want = jax.jit(jax.grad(_loss))(jax.tree.map(jnp.asarray, tree))
    assert got.layout is packed.layout
    for key in tree:  # the same arithmetic per tensor, so the same bits: cos(x) * (i + 1)
        np.testing.assert_array_equal(np.asarray(got.unpack()[key]), np.asarray(want[key]), err_msg=key)
    # and against numpy in float64: d/dx sum(sin(x) * k) = k cos(x), within 4 float32 ulps of the scale k
    eps = np.finfo(np.float32).eps
    for i, key in enumerate(tree):
        exact = np.cos(tree[key].astype(np.float64)) * (i + 1)
        np.testing.assert_allclose(np.asarray(got.unpack()[key]), exact, rtol=0, atol=4 * eps * (i + 1), err_msg=key)


def test_grad_through_unpack_of_mixed_dtypes_and_the_gaps():
    tree = _mixed()
    packed = jforeach.pack(tree)
    got = jax.jit(jax.grad(lambda p: _loss(p.unpack()), allow_int=True))(packed)
    keys = sorted(tree)  # leaf order
    floats = [k for k in keys if jnp.issubdtype(np.asarray(tree[k]).dtype, jnp.floating)]
    for g, buf in zip(packed.layout.groups, got.buffers, strict=True):
        if jnp.issubdtype(g.dtype, jnp.complexfloating):  # not in the loss: a zero gradient
            np.testing.assert_array_equal(np.asarray(buf), np.zeros(g.length, g.dtype))
            continue
        if not jnp.issubdtype(g.dtype, jnp.floating):
            assert buf.dtype == jax.dtypes.float0  # integer and bool tensors have no gradient
            continue
        host = np.asarray(buf)
        covered = np.zeros(g.length, bool)
        for m, off, size in zip(g.members, g.offsets, g.sizes, strict=True):
            covered[off : off + size] = True
            x = np.asarray(tree[keys[m]]).astype(np.float64).reshape(-1)
            with np.errstate(invalid="ignore"):  # cos(inf) is NaN, in XLA as in numpy
                want = np.cos(x) * (floats.index(keys[m]) + 1)
            # the loss computes in float32; a bfloat16 gradient is then rounded to bfloat16
            tol = 4 * max(np.finfo(np.float32).eps, np.finfo(g.dtype).eps) * (floats.index(keys[m]) + 1)
            np.testing.assert_allclose(host[off : off + size].astype(np.float64), want, rtol=0, atol=tol)
        assert not host[~covered].any()  # gaps and padding get no gradient


def test_jvp_through_unpack_is_the_unpacked_tangent():
    tree = _tree(12)
    packed = jforeach.pack(tree)
    tangent = jforeach.pack(_tree(12, seed=3))
    primal, dot = jax.jit(lambda p, t: jax.jvp(lambda q: q.unpack(), (p,), (t,)))(packed, tangent)
    for key in tree:
        np.testing.assert_array_equal(np.asarray(primal[key]), tree[key])
        np.testing.assert_array_equal(np.asarray(dot[key]), _tree(12, seed=3)[key])


def test_vmap_over_buffers_of_unpack():
    packed = jforeach.pack(_tree(10))
    stacked = jax.tree.map(lambda b: jnp.stack([b, 2 * b]), packed)
    got = jax.jit(jax.vmap(lambda p: p.unpack()))(stacked)
    for key, want in _tree(10).items():
        np.testing.assert_array_equal(np.asarray(got[key]), np.stack([want, 2 * want]))


def _kernel_bodies(compiled_text):
    """The distinct fused computations of a compiled HLO module, names and metadata stripped."""
    bodies = set()
    for match in re.finditer(r"^(?!ENTRY)%?[\w.\-]+ \([^\n]*\{\n(.*?)\n\}", compiled_text, re.S | re.M):
        body = re.sub(r"%[\w.\-]+", "%v", match.group(1))
        body = re.sub(r", metadata=\{[^}]*\}", "", body)
        bodies.add(body)
    return bodies


def test_unpack_compiles_one_kernel_per_shape_not_per_tensor():
    n = 60
    packed = jforeach.pack(_tree(n))
    text = jax.jit(lambda p: p.unpack()).lower(packed).compile().as_text()
    lowered = jax.jit(lambda p: p.unpack()).lower(packed).as_text()
    # one dynamic_slice of the (float32) buffer per tensor (the offsets' own int32 ones aside)
    assert len(re.findall(r"stablehlo\.dynamic_slice [^\n]*-> tensor<\d+xf32>", lowered)) == n
    bodies = _kernel_bodies(text)
    # five shapes (a few kernels each at most) where n constant slices would need n
    assert 1 <= len(bodies) <= 3 * len(_BLOCK), len(bodies)
    # the count is sensitive: the same tensors cut at constant offsets give one body per tensor
    offsets = np.cumsum([np.prod(s, dtype=int) for s in (_BLOCK[i % len(_BLOCK)] for i in range(n))])[:-1]
    constant = jax.jit(lambda b: jnp.split(b, offsets)).lower(packed.buffers[0]).compile().as_text()
    assert len(_kernel_bodies(constant)) >= n - 1


def test_grad_compiles_one_kernel_per_shape_and_one_gradient_buffer():
    n = 100
    packed = jforeach.pack(_tree(n))
    loss = lambda p: sum(jnp.sum(jnp.tanh(x) * x) for x in jax.tree.leaves(p.unpack()))  # noqa: E731
    text = jax.jit(jax.grad(loss)).lower(packed).compile().as_text()
    assert len(_kernel_bodies(text)) <= 4 * len(_BLOCK)
    # the gradient is assembled once: the program makes no full-size buffer per tensor (a transposed
    # slice would pad each tensor's gradient back to the whole buffer)
    entry = text[text.index("\nENTRY") :]
    full = re.findall(rf"= f32\[{packed.layout.groups[0].length}\]", entry)
    assert 1 <= len(full) <= 3, len(full)
    assert " pad(" not in text


def test_unpack_outside_jit_leaves_the_packed_donatable():
    packed = jforeach.pack(_tree(6))
    old = packed.buffers[0]
    pointer = old.unsafe_buffer_pointer()
    tree = packed.unpack()  # held while the in-place op runs
    jforeach.mul_(packed, 2.0)
    assert old.is_deleted()
    assert packed.buffers[0].unsafe_buffer_pointer() == pointer
    for key, want in _tree(6).items():
        np.testing.assert_array_equal(np.asarray(tree[key]), want)  # the unpacked copy is untouched
        np.testing.assert_array_equal(np.asarray(packed.unpack()[key]), want * 2)


_MEMORY = textwrap.dedent(
    """
    import gc, json
    import jax, jax.numpy as jnp, numpy as np
    import jforeach

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    n, each = 32, 1 << 20                      # 32 float32 arrays of 4 MiB: 128 MiB
    tree = [jnp.full((each,), float(i), jnp.float32) for i in range(n)]
    jax.block_until_ready(tree)
    jforeach.pack([jnp.ones(3)])               # compile pack's copy once, outside the measurement
    gc.collect()
    gc.disable()                               # no automatic collection may release what pack holds
    before = rss()
    packed = jforeach.pack(tree)
    jax.block_until_ready(packed.buffers)
    held = rss() - before
    ok = bool(np.asarray(packed.buffers[0][each * 5]) == 5.0)
    print(json.dumps({"held": held, "buffers": n * each * 4, "ok": ok}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_pack_releases_its_host_copy_before_returning():
    out = subprocess.run([sys.executable, "-c", _MEMORY], capture_output=True, text=True, timeout=120, check=True)
    result = eval(out.stdout.strip().splitlines()[-1].replace("true", "True").replace("false", "False"))
    assert result["ok"]
    # held after return: the buffers (one copy of the tree) and allocator slack, not the host copy too
    assert result["held"] <= 1.1 * result["buffers"] + (16 << 20), result


@pytest.mark.parametrize("limit", [6, 0], ids=["second_tensor_past_it", "all_past_it"])
def test_offsets_past_int32_are_cut_at_constant_offsets(monkeypatch, limit):
    """A buffer over 2**31 elements cannot take int32 offsets: tensors ending past the limit are cut
    at constant offsets (the limit is lowered here, so that no 8 GB buffer is needed)."""
    from jforeach import packed as packed_module

    tree = {"a": np.arange(5, dtype=np.float32), "b": np.full(3, -2.0, np.float32)}
    p = jforeach.pack(tree)
    monkeypatch.setattr(packed_module, "_INT32_LIMIT", limit)
    got = jax.jit(lambda q: q.unpack())(p)
    for k in tree:
        np.testing.assert_array_equal(np.asarray(got[k]), tree[k])
    grad = jax.grad(lambda q: sum(jnp.sum(x * x) for x in jax.tree.leaves(q.unpack())))(p)
    np.testing.assert_array_equal(np.asarray(grad.buffers[0])[:8], np.concatenate([2 * tree["a"], 2 * tree["b"]]))


def _model_loss(t, x):
    return jnp.sum(jnp.tanh(x @ t["w"].T) ** 2) + jnp.sum(t["b"] * jnp.sin(x))


def _model(seed):
    rng = np.random.default_rng(seed)
    w, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    tree = {"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}
    return tree, jnp.asarray(rng.standard_normal((5, 4)), jnp.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_example_gradients_through_unpack_are_the_trees(seed):
    """vmap of grad with the parameters unbatched (per-example gradients, as DP-SGD takes them)."""
    tree, xs = _model(seed)
    packed = jforeach.pack(tree)
    per = jax.jit(jax.vmap(jax.grad(lambda q, x: _model_loss(q.unpack(), x)), in_axes=(None, 0)))(packed, xs)
    want = jax.vmap(jax.grad(_model_loss), in_axes=(None, 0))(tree, xs)
    for i in range(xs.shape[0]):
        row = jforeach.pack(jax.tree.map(lambda a, i=i: a[i], want))
        assert row.layout == packed.layout
        np.testing.assert_allclose(np.asarray(per.buffers[0][i]), np.asarray(row.buffers[0]), rtol=1e-6, atol=1e-6)


def test_hessian_through_unpack_is_the_trees(seed=1):
    tree, xs = _model(seed)
    packed = jforeach.pack(tree)
    got = jax.jit(jax.hessian(lambda q: _model_loss(q.unpack(), xs[0])))(packed)
    flat = lambda t: jnp.concatenate([jnp.ravel(t["b"]), jnp.ravel(t["w"])])  # noqa: E731 - leaf order
    unflat = lambda v: {"b": v[:4], "w": v[4:].reshape(3, 4)}  # noqa: E731
    want = jax.hessian(lambda v: _model_loss(unflat(v), xs[0]))(flat(tree))
    assert [g.dtype for g in packed.layout.groups] == [np.dtype(np.float32)]
    # float32 both ways, the same arithmetic fused differently: a few ulps of the entries (order 1)
    np.testing.assert_allclose(np.asarray(got.buffers[0].buffers[0]), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_unpack_of_a_gradient_with_integer_tensors_outside_jit():
    """``grad(..., allow_int=True)`` gives an integer or bool buffer as a numpy float0 array; unpack
    gives each of its tensors as such an array, as the same grad of the tree does."""
    tree = {"f": jnp.arange(3.0), "i": jnp.arange(4, dtype=jnp.int32).reshape(2, 2), "m": jnp.array([True, False])}
    loss = lambda t: jnp.sum(t["f"] ** 2)  # noqa: E731
    got = jax.grad(lambda p: loss(p.unpack()), allow_int=True)(jforeach.pack(tree)).unpack()
    want = jax.grad(loss, allow_int=True)(tree)
    assert set(got) == set(want)
    for key in want:
        assert got[key].dtype == want[key].dtype and got[key].shape == want[key].shape, key
    np.testing.assert_array_equal(np.asarray(got["f"]), np.asarray(want["f"]))
