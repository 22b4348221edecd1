"""Checks that need 8 CPU devices; run by ``_multidevice.run_checks`` in a fresh process.

``python tests/_sharded_checks.py NAME ...`` runs ``check_NAME`` for each name and prints one line
``__CHECK_RESULTS__ {"NAME": "ok" | traceback}``. Importing this module does nothing (pytest imports it
for doctests); jax is configured only under ``__main__``.
"""

from __future__ import annotations

import json
import math
import sys
import traceback

import numpy as np

MARKER = "__CHECK_RESULTS__ "


def _setup():
    import jax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    assert jax.device_count() == 8, f"expected 8 devices, got {jax.devices()}"
    mesh = Mesh(np.array(jax.devices()), ("x",))
    return mesh, NamedSharding(mesh, PartitionSpec("x")), NamedSharding


def _same_sharding(a, b) -> bool:
    return a.sharding.is_equivalent_to(b.sharding, a.ndim)


def _assert_tree_equal(got, want, rtol=0.0, atol=0.0):
    import jax

    assert jax.tree.structure(got) == jax.tree.structure(want), (jax.tree.structure(got), jax.tree.structure(want))
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        g64, w64 = np.asarray(g).astype(np.float64), np.asarray(w).astype(np.float64)
        np.testing.assert_allclose(g64, w64, rtol=rtol, atol=atol)


# ------------------------------------------------------------------------------------------------
# The list path (test_contracts.py)


def _sharded_list():
    import jax
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec as P

    mesh, row, NamedSharding = _setup()
    rng = np.random.default_rng(0)
    host = [
        rng.uniform(0.5, 2.0, (16, 4)).astype(np.float32),
        rng.uniform(0.5, 2.0, (8,)).astype(np.float32),
        rng.uniform(0.5, 2.0, (4, 8)).astype(np.float32),
        rng.uniform(0.5, 2.0, (3,)).astype(np.float32),
    ]
    specs = [P("x"), P("x"), P(None, "x"), P()]
    shardings = [NamedSharding(mesh, s) for s in specs]
    # jnp.copy: buffers XLA owns. A buffer jax.device_put shares with numpy memory (zero-copy) cannot
    # be reused by a donating call; XLA silently copies instead, which would hide what is tested here.
    return host, shardings, lambda: [jnp.copy(jax.device_put(h, s)) for h, s in zip(host, shardings, strict=True)]


def check_list_outplace_keeps_sharding():
    import jax
    import jax.numpy as jnp

    import jforeach

    host, shardings, make = _sharded_list()
    xs = make()
    plain = [jnp.asarray(h) for h in host]
    for x, s in zip(xs, shardings, strict=True):
        assert x.sharding.is_equivalent_to(s, x.ndim)
    calls = [
        lambda t: jforeach.log1p(t),
        lambda t: jforeach.add(t, t, alpha=0.5),
        lambda t: jforeach.mul(t, [1.0, 2.0, 3.0, 4.0]),
        lambda t: jforeach.addcmul(t, t, t, value=0.25),
        lambda t: jforeach.lerp(t, jforeach.exp(t), 0.3),
        lambda t: jforeach.pow(t, 2.0),
        lambda t: jax.jit(jforeach.sqrt)(t),
    ]
    for call in calls:
        got, want = call(xs), call(plain)
        for g, x in zip(got, xs, strict=True):
            assert _same_sharding(g, x), (g.sharding, x.sharding)
        _assert_tree_equal(got, want)
    norms = jforeach.norm(xs, 2)
    for n, h in zip(norms, host, strict=True):
        np.testing.assert_allclose(np.asarray(n), np.linalg.norm(h.astype(np.float64).ravel()), rtol=1e-6)


def check_list_inplace_keeps_sharding():
    import jax.numpy as jnp

    import jforeach

    host, shardings, make = _sharded_list()
    xs = make()
    old = list(xs)
    pointers = [[s.data.unsafe_buffer_pointer() for s in x.addressable_shards] for x in xs]
    out = jforeach.mul_(xs, 3.0)
    assert out is xs
    for o, x, s, ptrs, h in zip(old, xs, shardings, pointers, host, strict=True):
        assert o.is_deleted()
        assert x.sharding.is_equivalent_to(s, x.ndim), (x.sharding, s)
        assert [sh.data.unsafe_buffer_pointer() for sh in x.addressable_shards] == ptrs
        np.testing.assert_array_equal(np.asarray(x), np.asarray(jnp.asarray(h) * jnp.float32(3.0)))
    jforeach.log1p_(xs)
    want = jforeach.log1p([jnp.asarray(h) * jnp.float32(3.0) for h in host])
    _assert_tree_equal(xs, want)
    for x, s in zip(xs, shardings, strict=True):
        assert x.sharding.is_equivalent_to(s, x.ndim)
    # zero_ and copy_ never read their tensors: the results must still land in the donated, sharded buffers
    for call, values in (
        (lambda: jforeach.zero_(xs), [np.zeros_like(h) for h in host]),
        (lambda: jforeach.copy_(xs, [jnp.asarray(h) for h in host]), host),
    ):
        old = list(xs)
        call()
        for o, x, s, ptrs in zip(old, xs, shardings, pointers, strict=True):
            assert o.is_deleted()
            assert x.sharding.is_equivalent_to(s, x.ndim), (x.sharding, s)
            assert [sh.data.unsafe_buffer_pointer() for sh in x.addressable_shards] == ptrs
        _assert_tree_equal(xs, [np.asarray(v) for v in values])
    # with an uncommitted single-device array in the same call: only the sharded one is pinned
    mixed = [xs[0], jnp.ones(5, jnp.float32)]
    jforeach.zero_(mixed)
    assert mixed[0].sharding.is_equivalent_to(shardings[0], mixed[0].ndim)
    _assert_tree_equal(mixed, [np.zeros_like(host[0]), np.zeros(5, np.float32)])


# ------------------------------------------------------------------------------------------------
# Packed (test_sharding.py)


def _tree():
    import jax.numpy as jnp

    rng = np.random.default_rng(1)
    return {
        "w": rng.uniform(0.5, 2.0, (13, 7)).astype(np.float32),
        "b": [rng.uniform(0.5, 2.0, (5,)).astype(np.float32), np.float32(1.5)],
        "h": jnp.asarray(rng.uniform(0.5, 2.0, (33,)), jnp.bfloat16),
        "i": np.arange(10, dtype=np.int32),
        "z": np.zeros((0, 3), np.float32),
    }


def _float_tree():
    rng = np.random.default_rng(2)
    return [rng.uniform(0.5, 2.0, s).astype(np.float32) for s in [(13, 7), (5,), (), (2, 3, 4)]]


def check_packed_layout():
    import jax

    import jforeach

    _, sharding, _ = _setup()
    tree = _tree()
    packed = jforeach.pack(tree, sharding=sharding)
    plain = jforeach.pack(tree)
    assert len(packed.buffers) == 3  # float32, bfloat16, int32
    for buf, ref in zip(packed.buffers, plain.buffers, strict=True):
        assert buf.sharding.is_equivalent_to(sharding, 1), buf.sharding
        assert buf.dtype == ref.dtype
        used = ref.shape[0]  # unsharded buffers have no padding
        assert buf.shape[0] % 8 == 0 and used <= buf.shape[0] < used + 8, (buf.shape, used)
        shard_bytes = [s.data.nbytes for s in buf.addressable_shards]
        assert len(shard_bytes) == 8
        assert set(shard_bytes) == {math.ceil(used / 8) * buf.dtype.itemsize}, (shard_bytes, used)
        # each device holds about 1/8 of the data: at most one element of padding per device more
        assert max(shard_bytes) <= ref.nbytes / 8 + buf.dtype.itemsize
    # padding is zeros and never visible after unpack
    for buf, ref in zip(packed.buffers, plain.buffers, strict=True):
        full = np.asarray(buf)
        np.testing.assert_array_equal(full[: ref.shape[0]], np.asarray(ref))
        assert not full[ref.shape[0] :].any()
    _assert_tree_equal(packed.unpack(), jax.tree.map(np.asarray, tree))


def check_packed_padding_invisible_after_ops():
    import jax

    import jforeach

    _, sharding, _ = _setup()
    tree = _float_tree()
    packed = jforeach.pack(tree, sharding=sharding)
    (buf,) = packed.buffers
    assert buf.shape[0] > sum(x.size for x in tree)  # 91 + 5 + 1 + 24 = 121 -> 128: there is padding
    shifted = jforeach.add(packed, 5.0)
    want = [x + np.float32(5.0) for x in tree]
    _assert_tree_equal(shifted.unpack(), want)
    assert not np.asarray(shifted.buffers[0])[121:].any()  # ops keep the padding zero
    for ord_ in (1, 2, 0, float("inf"), float("-inf")):
        norms = jforeach.norm(shifted, ord_).unpack()
        expect = [np.linalg.norm(w.astype(np.float64).ravel(), ord_) for w in want]
        np.testing.assert_allclose([float(n) for n in norms], expect, rtol=1e-5, err_msg=f"ord={ord_}")
    maxes = jforeach.max(jforeach.neg(shifted)).unpack()  # padding -5 must not win over real values
    np.testing.assert_allclose([float(m) for m in maxes], [(-w).max() for w in want], rtol=1e-6)
    assert jax.tree.structure(maxes) == jax.tree.structure(tree)


def check_packed_padding_and_whole_buffer_reductions():
    import jax
    import optax

    import jforeach

    _, sharding, _ = _setup()
    tree = _float_tree()
    sp, pp = jforeach.pack(tree, sharding=sharding), jforeach.pack(tree)
    want_norm = float(optax.global_norm(jforeach.add(pp, 1.0).unpack()))
    np.testing.assert_allclose(float(optax.global_norm(jforeach.add(sp, 1.0))), want_norm, rtol=1e-6)
    # code mapping over the buffers writes the padding; clip_by_norm's total norm must not see it
    clip = jforeach.transforms.clip_by_norm(1.0)
    got, _ = clip.update(jax.tree.map(lambda b: b + 1, sp), clip.init(sp))
    want, _ = clip.update(jax.tree.map(lambda b: b + 1, pp), clip.init(pp))
    _assert_tree_equal(got.unpack(), want.unpack(), rtol=1e-6)
    # eps=0 makes 0 / 0 in the padding of Adam's update; it must not reach the parameters
    opt = optax.chain(jforeach.transforms.clip_by_norm(1.0), jforeach.optim.adamw(0.1, eps=0.0))

    @jax.jit
    def step(p, state):
        g = jax.grad(lambda p: sum(jax.numpy.sum(x**2) for x in p.unpack()))(p)
        updates, state = opt.update(g, state, p)
        return optax.apply_updates(p, updates), state

    s_state, p_state = opt.init(sp), opt.init(pp)
    for _ in range(3):
        sp, s_state = step(sp, s_state)
        pp, p_state = step(pp, p_state)
    assert np.isfinite(np.asarray(sp.buffers[0])).all()
    _assert_tree_equal(sp.unpack(), pp.unpack(), rtol=1e-6, atol=1e-7)


def check_packed_ops_keep_sharding():
    import jforeach

    _, sharding, _ = _setup()
    tree = _float_tree()
    sp = jforeach.pack(tree, sharding=sharding)
    pp = jforeach.pack(tree)
    calls = [
        lambda p: jforeach.log1p(p),
        lambda p: jforeach.add(p, 1.5, alpha=2.0),
        lambda p: jforeach.mul(p, [1.0, 2.0, 3.0, 4.0]),
        lambda p: jforeach.add(p, p, alpha=0.5),
        lambda p: jforeach.addcmul(p, p, p, value=[0.1, 0.2, 0.3, 0.4]),
        lambda p: jforeach.addcdiv(p, p, jforeach.exp(p), value=0.5),
        lambda p: jforeach.lerp(p, jforeach.sqrt(p), [0.1, 0.6, 0.9, 0.2]),
        lambda p: jforeach.clamp_max(p, 1.2),
        lambda p: jforeach.pow(p, 3),
    ]
    for i, call in enumerate(calls):
        got, want = call(sp), call(pp)
        for buf in got.buffers:
            assert buf.sharding.is_equivalent_to(sharding, 1), (i, buf.sharding)
        _assert_tree_equal(got.unpack(), want.unpack(), rtol=1e-6)
    for ord_ in (1, 2, 3):
        _assert_tree_equal(jforeach.norm(sp, ord_).unpack(), jforeach.norm(pp, ord_).unpack(), rtol=1e-5)


def check_packed_inplace_sharded():
    import jforeach

    _, sharding, _ = _setup()
    tree = _float_tree()
    sp = jforeach.pack(tree, sharding=sharding)
    (old,) = sp.buffers
    pointers = [s.data.unsafe_buffer_pointer() for s in old.addressable_shards]
    out = jforeach.log1p_(sp)
    assert out is sp and old.is_deleted()
    (new,) = sp.buffers
    assert new.sharding.is_equivalent_to(sharding, 1)
    assert [s.data.unsafe_buffer_pointer() for s in new.addressable_shards] == pointers
    _assert_tree_equal(sp.unpack(), jforeach.log1p(jforeach.pack(tree)).unpack())
    # zero_ never reads its buffer; its constant result must still land in it, sharded
    jforeach.zero_(sp)
    assert new.is_deleted()
    (zeroed,) = sp.buffers
    assert zeroed.sharding.is_equivalent_to(sharding, 1), zeroed.sharding
    assert [s.data.unsafe_buffer_pointer() for s in zeroed.addressable_shards] == pointers
    assert not np.asarray(zeroed).any()


def check_packed_unpack_in_jit():
    import jax

    import jforeach

    _, sharding, _ = _setup()
    tree = _float_tree()
    sp = jforeach.pack(tree, sharding=sharding)

    @jax.jit
    def f(p):
        return [x * 2 for x in p.unpack()]

    _assert_tree_equal(f(sp), [x * np.float32(2) for x in tree])

    @jax.jit
    def g(tree):  # pack inside jit too: the buffers get the sharding constraint
        return jforeach.pack(tree, sharding=sharding)

    p = g(tree)
    assert p.buffers[0].sharding.is_equivalent_to(sharding, 1), p.buffers[0].sharding
    _assert_tree_equal(p.unpack(), tree)


def check_packed_adam_sharded():
    import jax
    import optax

    import jforeach

    _, sharding, _ = _setup()
    tree = _float_tree()
    opt = optax.adam(1e-2)

    def loss(t):
        return sum(jax.numpy.sum(x**2 * (i + 1)) for i, x in enumerate(t))

    @jax.jit
    def step_packed(p, state):
        g = jax.grad(lambda p: loss(p.unpack()))(p)
        updates, state = opt.update(g, state, p)
        return optax.apply_updates(p, updates), state

    @jax.jit
    def step_tree(t, state):
        g = jax.grad(loss)(t)
        updates, state = opt.update(g, state, t)
        return optax.apply_updates(t, updates), state

    sp = jforeach.pack(tree, sharding=sharding)
    sp_state = opt.init(sp)
    t = [jax.numpy.asarray(x) for x in tree]
    t_state = opt.init(t)
    for _ in range(3):
        sp, sp_state = step_packed(sp, sp_state)
        t, t_state = step_tree(t, t_state)
    assert isinstance(sp, jforeach.Packed)
    assert sp.buffers[0].sharding.is_equivalent_to(sharding, 1), sp.buffers[0].sharding
    mu = sp_state[0].mu
    assert isinstance(mu, jforeach.Packed)
    assert mu.buffers[0].sharding.is_equivalent_to(sharding, 1), mu.buffers[0].sharding  # ZeRO-style state
    _assert_tree_equal(sp.unpack(), t, rtol=1e-6, atol=1e-7)


def main(names: list[str]) -> None:
    results = {}
    for name in names:
        try:
            globals()[f"check_{name}"]()
            results[name] = "ok"
        except BaseException:  # noqa: BLE001 - reported to the test
            results[name] = traceback.format_exc()
    print(MARKER + json.dumps(results), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
