"""pack builds a long buffer on its device piece by piece: its peak memory is the tree, the buffers and a
staging piece or two, the values are the tensors' bit for bit, and the buffers donate.

``packed.PIECE`` is lowered in the value tests, so that buffers around and past a piece stay small.
"""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jforeach
from jforeach import packed as packed_module

_C = 16  # the piece length in the value tests


def _bits(x):
    x = np.asarray(x)
    return x.reshape(-1).view(np.uint8)


def _want(tree, group):
    """The buffer numpy concatenation gives: the members raveled in order, then zeros to the length."""
    leaves = jax.tree.leaves(tree)
    parts = [np.ravel(np.asarray(leaves[m])) for m in group.members]
    used = np.concatenate(parts) if parts else np.zeros(0, group.dtype)
    return np.concatenate([used.astype(group.dtype), np.zeros(group.length - used.size, group.dtype)])


def _run(script, **env):
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _sized(length, dtype, seed):
    """Tensors of several shapes (an empty one, a transposed numpy view, a JAX array) totalling ``length``."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)

    def draw(shape):
        if dtype == np.bool_:
            return rng.random(shape) < 0.5
        if jnp.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
        x = rng.standard_normal(shape)
        if jnp.issubdtype(dtype, np.complexfloating):
            x = x + 1j * rng.standard_normal(shape)
        return x.astype(dtype)

    a = min(length, 6)
    tensors = [draw((a,)), np.zeros((0, 3), dtype)]
    rest = length - a
    b = rest // 3 // 2 * 2  # an even count, as a transposed (2, b/2) array
    if b:
        tensors.append(draw((b // 2, 2)).T)  # not contiguous: read in the buffer's order, not its memory's
    tensors.append(jnp.asarray(draw((rest - b,))))
    return tensors


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.complex64, jnp.bfloat16, np.bool_, np.uint32])
@pytest.mark.parametrize("length", [_C - 1, _C, _C + 1, 2 * _C + 3, 5 * _C - 2])
def test_values_are_the_numpy_concatenation_bit_for_bit(monkeypatch, dtype, length):
    monkeypatch.setattr(packed_module, "PIECE", _C)
    tree = _sized(length, dtype, seed=length)
    if np.dtype(dtype) == np.float32:  # -0.0, NaN and inf keep their bits across a piece boundary
        tree[0][: min(3, length)] = np.array([-0.0, np.nan, np.inf], np.float32)[: min(3, length)]
    packed = jforeach.pack(tree)
    (group,) = packed.layout.groups
    assert group.length == length
    np.testing.assert_array_equal(_bits(packed.buffers[0]), _bits(_want(tree, group)))
    for got, want in zip(packed.unpack(), tree, strict=True):
        np.testing.assert_array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, jnp.bfloat16])
def test_a_region_past_int32_offsets_is_written_with_int64_ones(monkeypatch, dtype, x64):
    """Pieces starting past what an int32 index holds are written with int64 starts (x64 on for that
    write alone), so a buffer of more than 2**31 elements is built in pieces too. The limit is lowered
    here: the values, the dtype and the global x64 flag must not change."""
    monkeypatch.setattr(packed_module, "PIECE", _C)
    monkeypatch.setattr(packed_module, "_INT32_LIMIT", 2 * _C)
    starts = []
    write = packed_module._write_piece
    monkeypatch.setattr(packed_module, "_write_piece", lambda b, p, s: starts.append(s) or write(b, p, s))
    for length in (3 * _C + 1, 5 * _C - 2):  # the last piece starts past the lowered limit
        tree = _sized(length, dtype, seed=length)
        with jax.enable_x64(x64):
            packed = jforeach.pack(tree)
            assert jax.config.jax_enable_x64 == x64  # (the write's x64 is its own)
        (group,) = packed.layout.groups
        assert packed.buffers[0].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(_bits(packed.buffers[0]), _bits(_want(tree, group)))
        assert {np.asarray(s).dtype for s in starts} == {np.dtype(np.int64)}, starts
        starts.clear()
        before = packed.buffers[0]
        jforeach.mul_(packed, 1)  # and it donates
        assert before.is_deleted() and packed.buffers[0].dtype == np.dtype(dtype)


def test_groups_each_buffer_its_members(monkeypatch):
    monkeypatch.setattr(packed_module, "PIECE", _C)
    rng = np.random.default_rng(3)
    tree = {
        "w1": rng.standard_normal((5, 9)).astype(np.float32),
        "b1": rng.standard_normal(3).astype(np.float32),
        "w2": jnp.asarray(rng.standard_normal((4, 8)), jnp.float32),
        "b2": rng.standard_normal(40).astype(np.float32),
        "n": np.arange(2 * _C + 3, dtype=np.int32),
    }
    packed = jforeach.pack(tree, group_by=lambda path, leaf: leaf.ndim > 1)
    assert [(g.label, g.dtype.name, g.length) for g in packed.layout.groups] == [
        (False, "float32", 43),
        (False, "int32", 2 * _C + 3),
        (True, "float32", 77),
    ]
    for g, buf in zip(packed.layout.groups, packed.buffers, strict=True):
        np.testing.assert_array_equal(_bits(buf), _bits(_want(tree, g)))


def test_many_short_buffers_are_copied_a_run_at_a_time(monkeypatch):
    monkeypatch.setattr(packed_module, "PIECE", _C)
    rng = np.random.default_rng(4)
    sizes = [5, 11, 16, 1, 9, 0, 7, 13, 2, 30]  # runs of at most 16 elements; the 30 one is written in pieces
    tree = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    packed = jforeach.pack(tree, group_by=list(range(len(sizes))))
    assert [g.length for g in packed.layout.groups] == sizes
    for g, buf in zip(packed.layout.groups, packed.buffers, strict=True):
        np.testing.assert_array_equal(_bits(buf), _bits(_want(tree, g)))
    old = packed.buffers[1]
    jforeach.add_(packed, 1.0)  # every buffer donates, whichever way it was made
    assert old.is_deleted()
    for got, want in zip(packed.unpack(), tree, strict=True):
        np.testing.assert_array_equal(np.asarray(got), want + np.float32(1))


def test_the_first_in_place_op_donates_the_buffer(monkeypatch):
    monkeypatch.setattr(packed_module, "PIECE", _C)
    tree = [np.arange(3 * _C + 1, dtype=np.float32), jnp.full((5,), -1.0, jnp.float32)]
    packed = jforeach.pack(tree)
    old = packed.buffers[0]
    pointer = old.unsafe_buffer_pointer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "donated buffers were not usable" would be one
        jforeach.mul_(packed, 2.0)
    assert old.is_deleted()
    assert packed.buffers[0].unsafe_buffer_pointer() == pointer
    want = 2 * np.concatenate([tree[0], np.full(5, -1.0, np.float32)])
    np.testing.assert_array_equal(np.asarray(packed.buffers[0]), want)


def test_buffers_keep_the_leaves_commitment(monkeypatch):
    monkeypatch.setattr(packed_module, "PIECE", _C)
    device = jax.devices()[0]
    committed = jforeach.pack([jax.device_put(np.ones(3 * _C, np.float32), device)])
    uncommitted = jforeach.pack([jnp.ones(3 * _C)])
    assert committed.buffers[0].committed and committed.buffers[0].devices() == {device}
    assert not uncommitted.buffers[0].committed  # as jnp arrays and optax's counts: one jit signature


_SHARDED = """
import json, warnings
warnings.simplefilter("error")
import jax, jax.numpy as jnp, numpy as np
import jforeach
from jforeach import packed as packed_module
from jax.sharding import NamedSharding, PartitionSpec as P

packed_module.PIECE = 16
rng = np.random.default_rng(5)
tree = {"a": rng.standard_normal((13, 7)).astype(np.float32), "b": jnp.arange(50.0), "i": np.arange(21, dtype=np.int8)}
results = []
for shape, names, spec in (((8,), ("data",), P("data")), ((4, 2), ("data", "model"), P("data"))):
    mesh = jax.make_mesh(shape, names, axis_types=(jax.sharding.AxisType.Explicit,) * len(shape))
    sharding = NamedSharding(mesh, spec)
    packed = jforeach.pack(tree, sharding=sharding)
    leaves = jax.tree.leaves(tree)
    for g, buf in zip(packed.layout.groups, packed.buffers, strict=True):
        used = np.concatenate([np.ravel(np.asarray(leaves[m])) for m in g.members])
        want = np.concatenate([used, np.zeros(g.length - used.size, g.dtype)])
        results.append({
            "length": g.length,
            "sharding": buf.sharding == sharding,
            "bits": bool(np.array_equal(np.asarray(buf).view(np.uint8), want.view(np.uint8))),
            "shards": sorted(int(s.data.shape[0]) for s in buf.addressable_shards),
        })
    old = packed.buffers[0]
    pointers = sorted(s.data.unsafe_buffer_pointer() for s in old.addressable_shards)
    jforeach.mul_(packed, 2)
    results.append({
        "donated": old.is_deleted(),
        "same_memory": sorted(s.data.unsafe_buffer_pointer() for s in packed.buffers[0].addressable_shards) == pointers,
    })
print(json.dumps(results))
"""


def test_a_sharded_target_gets_its_sharding_values_padding_and_donation():
    results = _run(_SHARDED, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    f32_8, i8_8, donation_8, f32_4, i8_4, donation_4 = results
    # float32 (91 + 50 = 141, padded to 144) and int8 (21, padded to 24): 18 and 3 elements a shard on
    # the 8-device axis; 36 and 6 on the 4-device one, each held twice (the "model" axis holds replicas)
    assert [r["length"] for r in (f32_8, i8_8, f32_4, i8_4)] == [144, 24, 144, 24], results
    assert f32_8["shards"] == [18] * 8 and i8_8["shards"] == [3] * 8, results
    assert f32_4["shards"] == [36] * 8 and i8_4["shards"] == [6] * 8, results
    for r in (f32_8, i8_8, f32_4, i8_4):
        assert r["sharding"] and r["bits"], r
    for r in (donation_8, donation_4):
        assert r["donated"] and r["same_memory"], r


_PEAK = """
import gc, json, sys
import jax, jax.numpy as jnp, numpy as np
import jforeach
from jforeach import packed as packed_module

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

def peak():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))

kind = sys.argv[1]
n, each = 100, (256 << 20) // 4 // 100          # 100 float32 tensors, 256 MiB in all
make = (lambda i: np.full((each,), float(i), np.float32)) if kind == "numpy" else (
    lambda i: jnp.full((each,), float(i), jnp.float32))
tree = [make(i) for i in range(n)]
jax.block_until_ready(tree)
sharding = None
if kind == "sharded":  # 8 devices, each holding 1/8 of the buffer
    mesh = jax.make_mesh((8,), ("data",), axis_types=(jax.sharding.AxisType.Explicit,))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
jforeach.pack([make(0)[: 2 * packed_module.PIECE + 1]])  # compile the piece writer and the zeros once
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")                                # the high-water mark starts again at the current size
start = rss()
reset = peak() <= start + (8 << 20)
group_by = (lambda path, leaf: str(path)) if kind == "groups" else None  # 100 buffers shorter than a piece
packed = jforeach.pack(tree, sharding=sharding, group_by=group_by)
jax.block_until_ready(packed.buffers)
grew, held = peak() - start, rss() - start
shards = sorted(packed.buffers[0].addressable_shards, key=lambda shard: shard.index[0].start or 0)
host = np.concatenate([np.asarray(shard.data) for shard in shards])
ok = sharding is None or packed.buffers[0].sharding == sharding
ok = ok and len(shards) == (1 if sharding is None else 8)
if group_by is None:
    ok = ok and all(float(host[i * each]) == i for i in (0, 37, 99))
else:
    ok = ok and len(packed.buffers) == n and all(float(packed.buffers[i][-1]) == i for i in (0, 37, 99))
print(json.dumps({"reset": reset, "grew": grew, "held": held, "buffers": n * each * 4,
                  "piece": packed_module.PIECE * 4, "ok": ok}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("kind", ["jax", "numpy", "sharded", "groups"])
def test_peak_memory_is_the_tree_plus_one_copy_of_the_buffers(kind):
    r = _run(_PEAK.replace("sys.argv[1]", repr(kind)), XLA_FLAGS="--xla_force_host_platform_device_count=8")
    assert r["ok"] and r["reset"], r
    # one copy of the buffers, two staging pieces (the host one and its device copy) and allocator slack;
    # a whole host copy, or a jitted copy of the whole buffer, would be 256 MiB more
    assert r["grew"] <= r["buffers"] + 2 * r["piece"] + (32 << 20), r
    assert r["held"] <= 1.05 * r["buffers"] + (16 << 20), r


def test_pack_of_numpy_leaves_inside_a_trace_is_the_programs():
    """Inside ``jit`` or ``eval_shape`` numpy leaves are the program's constants: ``pack`` concatenates
    them in the program (no transfer to a device from inside a trace)."""
    tree = {"a": np.arange(3, dtype=np.float32), "b": np.full((2, 2), -0.5, np.float32), "n": np.int32(7)}
    shapes = jax.eval_shape(lambda: jforeach.pack(tree))
    assert isinstance(shapes, jforeach.Packed) and shapes.layout == jforeach.pack(tree).layout
    got = jax.jit(lambda: jforeach.pack(tree))().unpack()
    for name, want in tree.items():
        np.testing.assert_array_equal(np.asarray(got[name]), want)
