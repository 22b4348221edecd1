"""Checks that need 8 CPU devices; run by ``_multidevice.run_checks`` in a fresh process.

``python tests/_sharded_checks.py NAME ...`` runs ``check_NAME`` for each name and prints one line
``__CHECK_RESULTS__ {"NAME": "ok" | traceback}``. Importing this module does nothing (pytest imports it
for doctests); jax is configured only under ``__main__``.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
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


def _meshes():
    """(name, sharding factory, context) for every way a user builds a 1-D data mesh today."""
    import contextlib

    import jax
    from jax.sharding import AxisType, Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    explicit = jax.make_mesh((8,), ("data",))
    assert explicit.axis_types == (AxisType.Explicit,), explicit.axis_types  # jax's default
    auto = jax.make_mesh((8,), ("data",), axis_types=(AxisType.Auto,))
    legacy = Mesh(np.array(jax.devices()), ("data",))
    return [
        ("explicit", lambda: NamedSharding(explicit, P("data")), contextlib.nullcontext),
        ("explicit+set_mesh+P", lambda: P("data"), lambda: jax.set_mesh(explicit)),
        ("auto", lambda: NamedSharding(auto, P("data")), contextlib.nullcontext),
        ("legacy", lambda: NamedSharding(legacy, P("data")), contextlib.nullcontext),
        ("auto+set_mesh+P", lambda: P("data"), lambda: jax.set_mesh(auto)),
    ], explicit


def _odd_tree():
    """Sizes 91, 5, 1, 24, 3 (float32: 124 elements) and 7 (bfloat16): none a multiple of 8."""
    import jax.numpy as jnp

    rng = np.random.default_rng(3)
    return {
        "w": rng.uniform(0.5, 2.0, (13, 7)).astype(np.float32),
        "b": [rng.uniform(-2.0, 2.0, (5,)).astype(np.float32), np.float32(-1.25)],
        "c": rng.uniform(0.5, 2.0, (2, 3, 4)).astype(np.float32),
        "d": rng.uniform(0.5, 2.0, (3,)).astype(np.float32),
        "h": jnp.asarray(rng.uniform(0.5, 2.0, (7,)), jnp.bfloat16),
    }


def _assert_exact(got, want, what):
    import jax

    assert jax.tree.structure(got) == jax.tree.structure(want), (what, jax.tree.structure(got))
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype, (what, g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w), err_msg=what)


def _assert_kept(p, sharding, what):
    for buf in p.buffers:
        assert buf.sharding.is_equivalent_to(sharding, 1), (what, buf.sharding)


def _collectives(fn, *args):
    import re

    import jax

    text = jax.jit(fn).lower(*args).compile().as_text()
    return set(re.findall(r"(all-gather|all-reduce|all-to-all|collective-permute|reduce-scatter)[-.\w]*\(", text))


def check_todays_meshes_ops():
    """Every op family, unpack and grad through unpack, equal to the same calls on the unsharded tree."""
    import jax
    import jax.numpy as jnp

    import jforeach

    cases, _ = _meshes()
    tree = _odd_tree()
    plain = jforeach.pack(tree)

    def loss(t):
        return sum(jnp.sum(jnp.asarray(x, jnp.float32) ** 2 * (i + 1)) for i, x in enumerate(jax.tree.leaves(t)))

    def everything(p):  # one program per layout: unary, binary (Packed, scalar, scalar list), addcmul, ...
        return {
            "log1p": jforeach.log1p(p),
            "add list alpha": jforeach.add(p, jforeach.exp(p), alpha=0.5),
            "mul scalar": jforeach.mul(p, 3.0),
            "mul scalarlist": jforeach.mul(p, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            "addcmul": jforeach.addcmul(p, p, jforeach.abs(p), value=0.25),
            "lerp": jforeach.lerp(p, jforeach.neg(p), 0.3),
            "zeros": jforeach.zero_(jforeach.clone(p)),
            "grad": jax.grad(lambda q: loss(q.unpack()))(p),
        }

    def reductions(p):
        out = {f"norm {o}": jforeach.norm(p, o) for o in (1, float("inf"), float("-inf"), 0)}
        return {**out, "max": jforeach.max(p), "max neg": jforeach.max(jforeach.neg(p)), "powsum": jforeach.powsum(p)}

    want = jax.jit(everything)(plain)
    want_reductions = reductions(plain)
    want_norm = jforeach.norm(plain)
    want_mul = jforeach.mul(plain, 2.0)
    want_plain_scalarlist = jforeach.mul(plain, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unpack()
    nan_tree = {**tree, "w": np.full((13, 7), np.nan, np.float32)}
    for name, make_sharding, context in cases:
        with context():
            if "set_mesh" in name:  # an unsharded Packed next to the mesh: its segment ids may go anywhere
                got_plain = jforeach.mul(plain, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unpack()
                _assert_exact(got_plain, want_plain_scalarlist, f"{name}: unsharded Packed, scalar list")
            sp = jforeach.pack(tree, sharding=make_sharding())
            sharding = sp.buffers[0].sharding
            assert sharding.spec == jax.sharding.PartitionSpec("data"), (name, sharding)
            assert sp.layout.sharding == sharding and len(sp.buffers) == 2
            assert [b.shape[0] for b in sp.buffers] == [128, 8], (name, sp)
            _assert_exact(sp.unpack(), plain.unpack(), f"{name}: unpack")
            _assert_exact(jax.jit(lambda p: p.unpack())(sp), plain.unpack(), f"{name}: unpack in jit")
            if name in ("legacy", "auto+set_mesh+P"):  # the layout of "auto": the ops' kernels are its
                _assert_exact(jforeach.log1p(sp).unpack(), want["log1p"].unpack(), f"{name}: log1p")
                continue
            got = jax.jit(everything)(sp)
            for what in want:
                assert got[what].layout is sp.layout, (name, what)
                _assert_kept(got[what], sharding, f"{name}: {what}")  # the results stay sharded as packed
                _assert_exact(got[what].unpack(), want[what].unpack(), f"{name}: {what}")
                assert not np.asarray(got[what].buffers[0])[124:].any(), (name, what)  # the padding stays zero
            # per-tensor reductions, outside jit (the engine's kernels) and inside
            _assert_tree_equal(jforeach.norm(sp).unpack(), want_norm.unpack(), rtol=2e-7)  # summation order
            if name not in ("explicit", "auto"):  # the other idioms give these two layouts
                continue
            got = jax.jit(reductions)(sp)
            for what in want_reductions:
                exact = not what.startswith("powsum") and what != "norm 1"
                _assert_tree_equal(got[what].unpack(), want_reductions[what].unpack(), rtol=0 if exact else 2e-7)
            if name == "explicit":  # each device reduces its piece: one number per tensor crosses devices
                comms = _collectives(reductions, sp)
                assert "all-gather" not in comms and "all-reduce" in comms, comms
                # a NaN in one device's piece reaches the result
                nan = jforeach.max(jforeach.pack(nan_tree, sharding=make_sharding())).unpack()
                assert np.isnan(float(nan["w"])) and not np.isnan(float(nan["d"])), nan
                # in place: donated, the same device memory, still sharded; zero_ never reads its buffer
                old = sp.buffers[0]
                pointers = [s.data.unsafe_buffer_pointer() for s in old.addressable_shards]
                jforeach.mul_(sp, 2.0)
                assert old.is_deleted(), name
                assert [s.data.unsafe_buffer_pointer() for s in sp.buffers[0].addressable_shards] == pointers
                _assert_exact(sp.unpack(), want_mul.unpack(), f"{name}: mul_")
                jforeach.zero_(sp)
                _assert_kept(sp, sharding, f"{name}: zero_")
                assert not any(np.asarray(b).any() for b in sp.buffers)
                # the list path on arrays sharded over the Explicit axis: zero_'s result pinned into them
                xs = [jnp.copy(jax.device_put(np.ones((16, 3), np.float32), sharding)), jnp.ones(5)]
                old = xs[0]
                jforeach.zero_(xs)
                assert old.is_deleted() and xs[0].sharding.is_equivalent_to(sharding, 2), xs[0].sharding
                assert not np.asarray(xs[0]).any() and not np.asarray(xs[1]).any()
                # pack inside jit: placed as asked, also from leaves sharded over the Explicit axis
                leaves = [jax.device_put(np.arange(16.0, dtype=np.float32), sharding), np.ones(3, np.float32)]
                packed = jax.jit(lambda t, s=sharding: jforeach.pack(t, sharding=s))(leaves)
                _assert_kept(packed, sharding, "pack in jit")
                _assert_exact(packed.unpack(), [np.arange(16.0, dtype=np.float32), np.ones(3, np.float32)], "pack")


def check_todays_meshes_optimizers():
    """jforeach.optim.adamw and optax.adam in a donated jitted step, equal to the unsharded step."""
    import jax
    import jax.numpy as jnp
    import optax

    import jforeach

    cases, _ = _meshes()
    cases = {name: (make, context) for name, make, context in cases}
    tree = {k: v for k, v in _odd_tree().items() if k != "h"}

    def loss(t):
        return sum(jnp.sum(jnp.sin(x) * (i + 1)) for i, x in enumerate(jax.tree.leaves(t)))

    runs = (
        ("jforeach.optim.adamw", jforeach.optim.adamw(lr=1e-2, weight_decay=0.1), ("explicit", "auto+set_mesh+P")),
        ("optax.adam", optax.adam(1e-2), ("explicit+set_mesh+P", "legacy")),
    )
    for opt_name, opt, names in runs:

        def step(p, state, opt=opt):
            g = jax.grad(lambda q: loss(q.unpack()))(p)
            updates, state = opt.update(g, state, p)
            return optax.apply_updates(p, updates), state

        plain = jforeach.pack(tree)
        plain_state = opt.init(plain)
        for _ in range(3):
            plain, plain_state = jax.jit(step)(plain, plain_state)
        for name in names:
            what = f"{name}: {opt_name}"
            make_sharding, context = cases[name]
            with context():
                donated = jax.jit(step, donate_argnums=(0, 1))
                sp = jforeach.pack(tree, sharding=make_sharding())
                sharding = sp.buffers[0].sharding
                state = opt.init(sp)
                for _ in range(3):
                    old = sp.buffers[0]
                    sp, state = donated(sp, state)
                    assert old.is_deleted(), what
                _assert_kept(sp, sharding, what)
                moments = [x for x in jax.tree.leaves(state) if x.shape == sp.buffers[0].shape]
                assert len(moments) == 2, what
                for leaf in moments:  # sharded as the parameters (ZeRO-style)
                    assert leaf.sharding.is_equivalent_to(sharding, 1), (what, leaf.sharding)
                # the same arithmetic; XLA fuses the sharded program's pieces on their own (FMA placement)
                _assert_tree_equal(sp.unpack(), plain.unpack(), rtol=4e-7, atol=1e-8)
                if name == "explicit":  # the update itself moves no buffer between devices
                    comms = _collectives(opt.update, jax.tree.map(jnp.ones_like, sp), state, sp)
                    assert "all-gather" not in comms, (what, comms)


def check_todays_meshes_shard_map():
    """jax.shard_map over functions of a Packed: elementwise ops and optimizer updates on each
    device's piece; per-tensor reductions combine the pieces with one collective; unpack raises."""
    import jax
    import jax.numpy as jnp
    import optax

    import jforeach

    _, explicit = _meshes()
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    tree = {k: v for k, v in _odd_tree().items() if k != "h"}
    sp = jforeach.pack(tree, sharding=NamedSharding(explicit, P("data")))
    plain = jforeach.pack(tree)
    spec = jax.tree.map(lambda _: P("data"), sp)

    def elementwise(p):
        q = jforeach.addcmul(jforeach.log1p(jforeach.abs(p)), p, p, value=0.5)
        q = jforeach.mul(q, [1.0, 2.0, 3.0, 4.0, 5.0])
        return jforeach.add(q, 1.0)  # the padding stays zero: each piece knows where it lies

    got = jax.jit(jax.shard_map(elementwise, mesh=explicit, in_specs=(spec,), out_specs=spec))(sp)
    _assert_kept(got, sp.buffers[0].sharding, "shard_map elementwise")
    _assert_exact(got.unpack(), jax.jit(elementwise)(plain).unpack(), "shard_map elementwise")
    assert not np.asarray(got.buffers[0])[124:].any()

    scalar_spec = jax.tree.map(lambda _: P(), jforeach.norm(plain))
    for reduce in (lambda p: jforeach.norm(p), lambda p: jforeach.max(p), lambda p: jforeach.norm(p, float("-inf"))):
        got = jax.jit(jax.shard_map(reduce, mesh=explicit, in_specs=(spec,), out_specs=scalar_spec))(sp)
        _assert_tree_equal(got.unpack(), reduce(plain).unpack(), rtol=2e-7)

    # the total norm of clipping combines the pieces too (each device clipped by its own piece's norm)
    nan_tree = {**tree, "w": np.where(np.arange(91).reshape(13, 7) == 40, np.float32(np.nan), tree["w"])}
    with_nan = jforeach.pack(nan_tree, sharding=NamedSharding(explicit, P("data")))
    for norm_type in (2.0, 3.0, float("inf")):
        tx = jforeach.transforms.clip_by_norm(0.5, norm_type)

        def clip(g, tx=tx):
            updates, state = tx.update(g, tx.init(g))
            return updates, optax.tree_utils.tree_get(state, "total_norm")

        for p, ref in ((sp, plain), (with_nan, jforeach.pack(nan_tree))):
            clipped, total = jax.jit(jax.shard_map(clip, mesh=explicit, in_specs=(spec,), out_specs=(spec, P())))(p)
            want_clipped, want_total = clip(ref)
            _assert_tree_equal(total, want_total, rtol=2e-6)
            _assert_tree_equal(clipped.unpack(), want_clipped.unpack(), rtol=2e-6)
        total_fn = jax.shard_map(
            lambda g, n=norm_type: jforeach.clip_grad_norm_(g, 0.5, n), mesh=explicit, in_specs=(spec,), out_specs=P()
        )
        _assert_tree_equal(jax.jit(total_fn)(sp), clip(plain)[1], rtol=2e-6)

    opt = jforeach.optim.adamw(lr=1e-2)
    state = opt.init(sp)
    state_spec = jax.tree.map(lambda x: P("data") if x.ndim == 1 and x.shape == sp.buffers[0].shape else P(), state)

    def update(g, s, p):
        updates, s = opt.update(g, s, p)
        return optax.apply_updates(p, updates), s

    grads = jforeach.cos(sp)
    mapped = jax.shard_map(update, mesh=explicit, in_specs=(spec, state_spec, spec), out_specs=(spec, state_spec))
    new, _ = jax.jit(mapped)(grads, state, sp)
    want, _ = update(jforeach.cos(plain), opt.init(plain), plain)
    _assert_tree_equal(new.unpack(), want.unpack(), rtol=2.5e-7)  # FMA placement

    try:
        jax.jit(jax.shard_map(lambda p: p.unpack(), mesh=explicit, in_specs=(spec,), out_specs=P()))(sp)
    except ValueError as e:
        assert "`jforeach.unpack`" in str(e) and "shard_map" in str(e), e
    else:
        raise AssertionError("unpack of a piece inside shard_map must raise")
    del jnp


# ------------------------------------------------------------------------------------------------
# 2-D meshes (test_mesh_2d.py)

_COLLECTIVE = r"(all-gather|all-reduce|all-to-all|collective-permute|reduce-scatter)[-.\w]*\("


def _meshes_2d():
    """Every way to lay a buffer on a (4, 2) mesh of Explicit or Auto axes: split over both axes (8
    pieces), over 'data' only (4 pieces, replicated over 'model'), fully replicated (1 piece), and a
    bare P under jax.set_mesh. Returns (name, sharding factory, context, pieces, full) tuples and the
    two meshes; ``full`` marks the cases that run every check (a split spec on each axis type), the
    others run the cheap ones (each sharded reduction compiles one branch per piece: seconds)."""
    import contextlib

    import jax
    from jax.sharding import AxisType, NamedSharding
    from jax.sharding import PartitionSpec as P

    explicit = jax.make_mesh((4, 2), ("data", "model"))
    assert explicit.axis_types == (AxisType.Explicit, AxisType.Explicit), explicit.axis_types  # jax's default
    auto = jax.make_mesh((4, 2), ("data", "model"), axis_types=(AxisType.Auto, AxisType.Auto))
    both, data, whole = P(("data", "model")), P("data"), P()
    null = contextlib.nullcontext
    cases = [
        (f"{kind} {spec}", lambda m=mesh, s=spec: NamedSharding(m, s), null, pieces, full)
        for kind, mesh, fulls in (("explicit", explicit, (both,)), ("auto", auto, (data,)))
        for spec, pieces in ((both, 8), (data, 4), (whole, 1))
        for full in [spec in fulls]
    ]
    cases.append(("explicit set_mesh+P(('data','model'))", lambda: both, lambda: jax.set_mesh(explicit), 8, False))
    cases.append(("auto set_mesh+P('data')", lambda: data, lambda: jax.set_mesh(auto), 4, False))
    return cases, explicit, auto


def _tree_2d():
    """Sizes 91, 5, 24, 3: one float32 buffer of 123 elements, padded to 128 for 8 pieces and to 124
    for 4 (the 1-D checks cover several dtypes; one buffer keeps these programs small)."""
    tree = _odd_tree()
    return {"w": tree["w"], "b": tree["b"][0], "c": tree["c"], "d": tree["d"]}


def _assert_pieces(p, pieces, what):
    """Each of the 8 devices holds 1/pieces of every buffer, the part its mesh coordinates select
    (devices that differ only along the other axis hold the same part)."""
    for buf in p.buffers:
        shards = buf.addressable_shards
        assert len(shards) == 8, (what, len(shards))
        assert buf.shape[0] % pieces == 0, (what, buf.shape)
        assert {s.data.shape for s in shards} == {(buf.shape[0] // pieces,)}, (what, [s.data.shape for s in shards])
        assert len({s.index[0].start or 0 for s in shards}) == pieces, (what, [s.index for s in shards])
        whole = np.asarray(buf)
        for s in shards:
            np.testing.assert_array_equal(np.asarray(s.data), whole[s.index], err_msg=what)


def _assert_ulps(got, want, ulps, what):
    """The same structure, shapes and dtypes, and float32 values at most ``ulps`` units in the last
    place apart (0, and any other dtype: bit-equal)."""
    import jax

    assert jax.tree.structure(got) == jax.tree.structure(want), (what, jax.tree.structure(got))
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype, (what, g.shape, w.shape, g.dtype, w.dtype)
        g, w = np.asarray(g), np.asarray(w)
        if ulps == 0 or g.dtype != np.float32:
            np.testing.assert_array_equal(g, w, err_msg=what)
            continue
        steps = np.abs(g.view(np.int32).astype(np.int64) - w.view(np.int32).astype(np.int64))
        assert (np.signbit(g) == np.signbit(w)).all() and steps.max(initial=0) <= ulps, (what, steps.max(), g, w)


def _comms(compiled) -> set[str]:
    return set(re.findall(_COLLECTIVE, compiled.as_text()))


def check_mesh_2d_ops():
    """Every op family, unpack, grad through unpack and the reductions on a (4, 2) mesh, equal to the
    unsharded Packed; the results stay split as packed and reductions gather no buffer."""
    import jax
    import jax.numpy as jnp

    import jforeach

    cases, _, _ = _meshes_2d()
    tree = _tree_2d()
    plain = jforeach.pack(tree)
    scalars = [1.0, 2.0, 3.0, 4.0]

    def loss(t):
        return sum(jnp.sum(jnp.asarray(x, jnp.float32) ** 2 * (i + 1)) for i, x in enumerate(jax.tree.leaves(t)))

    def cheap(p):
        return {
            "mul scalarlist": jforeach.mul(p, scalars),
            "grad": jax.grad(lambda q: loss(q.unpack()))(p),
        }

    def everything(p):  # one program: unary, binary (Packed, scalar, scalar list), ternary, ...
        return {
            **cheap(p),
            "log1p": jforeach.log1p(p),
            "add list alpha": jforeach.add(p, jforeach.exp(p), alpha=0.5),
            "mul scalar": jforeach.mul(p, 3.0),
            "addcmul": jforeach.addcmul(p, p, jforeach.abs(p), value=0.25),
            "addcdiv scalarlist": jforeach.addcdiv(p, p, jforeach.exp(p), [0.5, 1.0, 1.5, 2.0]),
            "lerp": jforeach.lerp(p, jforeach.neg(p), 0.3),
            "pow": jforeach.pow(p, 2.0),
            "clamp_min": jforeach.clamp_min(p, 1.0),
            "maximum list": jforeach.maximum(p, jforeach.neg(p)),
            "mul tensor": jforeach.mul(p, jnp.asarray(2.5, jnp.float32)),
            "pow number": jforeach.pow(2.0, p),
            "zeros": jforeach.zero_(jforeach.clone(p)),
            "copy_": jforeach.copy_(jforeach.clone(p), jforeach.sqrt(jforeach.abs(p))),
        }

    def reductions(p):  # pieces combined by a sum and by a max (a min, every order: the 1-D checks, shard_map)
        return {"norm": jforeach.norm(p), "max": jforeach.max(p)}

    def ulps(what):  # XLA simplifies the two programs apart: addcdiv's value times quotient may round twice more
        return 2 if what.startswith("addcdiv") else 0

    want = jax.jit(everything)(plain)
    want_reductions = reductions(plain)
    want_mul = jforeach.mul(plain, 2.0)
    for name, make_sharding, context, pieces, full in cases:
        with context():
            sp = jforeach.pack(tree, sharding=make_sharding())
            sharding = sp.buffers[0].sharding
            assert sp.layout.sharding.is_equivalent_to(sharding, 1) and len(sp.buffers) == 1, (name, sharding)
            assert sp.buffers[0].shape == ({8: 128, 4: 124, 1: 123}[pieces],), (name, sp)
            _assert_pieces(sp, pieces, f"{name}: pack")
            _assert_exact(sp.unpack(), plain.unpack(), f"{name}: unpack")
            got, unpacked = jax.jit(lambda p, f=everything if full else cheap: (f(p), p.unpack()))(sp)
            _assert_exact(unpacked, plain.unpack(), f"{name}: unpack in jit")
            for what in got:
                assert got[what].layout is sp.layout, (name, what)
                _assert_kept(got[what], sharding, f"{name}: {what}")
                _assert_pieces(got[what], pieces, f"{name}: {what}")
                _assert_ulps(got[what].unpack(), want[what].unpack(), ulps(what), f"{name}: {what}")
                assert not np.asarray(got[what].buffers[0])[123:].any(), (name, what)  # the padding stays zero
            if name in ("explicit P('data',)", "explicit P()"):  # the engine's own kernel, outside jit
                _assert_tree_equal(jforeach.norm(sp).unpack(), want_reductions["norm"].unpack(), rtol=4e-7)
            if not full:
                continue
            compiled = jax.jit(reductions).lower(sp).compile()
            # each device reduces its piece; one number per tensor crosses devices
            assert "all-gather" not in _comms(compiled) and "all-reduce" in _comms(compiled), (name, compiled)
            reduced = compiled(sp)
            for what in want_reductions:  # a max or min is exact; a sum of squares in another order
                _assert_tree_equal(reduced[what].unpack(), want_reductions[what].unpack(), rtol=4e-7 * (what == "norm"))
            # in place: donated, the same device memory, still split as packed
            old = sp.buffers[0]
            pointers = [s.data.unsafe_buffer_pointer() for s in old.addressable_shards]
            jforeach.mul_(sp, 2.0)
            assert old.is_deleted(), name
            assert [s.data.unsafe_buffer_pointer() for s in sp.buffers[0].addressable_shards] == pointers, name
            _assert_pieces(sp, pieces, f"{name}: mul_")
            _assert_exact(sp.unpack(), want_mul.unpack(), f"{name}: mul_")


def _committed(state, mesh):
    """``state`` with its uncommitted leaves (optax's step count, made by ``jnp.zeros``) replicated on
    ``mesh``, where a step's output puts them: else the second step compiles again (a JAX rule, for
    any tree: committed and uncommitted arguments compile apart)."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    replicated = NamedSharding(mesh, PartitionSpec())
    return jax.tree.map(lambda x: x if x.committed else jax.device_put(x, replicated), state)


def check_mesh_2d_optimizers():
    """jforeach.optim.adamw and optax.adamw in a donated jitted step on a (4, 2) mesh: one compile,
    parameters and moments split as packed, the update moves no buffer, the unsharded step's values."""
    import jax
    import jax.numpy as jnp
    import optax

    import jforeach

    cases, _, _ = _meshes_2d()
    cases = {name: case for name, *case in cases}
    tree = _tree_2d()

    def loss(t):
        return sum(jnp.sum(jnp.sin(x) * (i + 1)) for i, x in enumerate(jax.tree.leaves(t)))

    runs = (
        (
            "jforeach.optim.adamw",
            jforeach.optim.adamw(lr=1e-2, weight_decay=0.1),
            ("explicit P(('data', 'model'),)", "auto P('data',)"),
        ),
        (
            "optax.adamw",
            optax.adamw(1e-2, weight_decay=0.1),
            ("explicit P('data',)",),
        ),
    )

    def make_step(opt):  # a new function each time: jax.jit's compile cache is per function

        def step(p, state):
            g = jax.grad(lambda q: loss(q.unpack()))(p)
            updates, state = opt.update(g, state, p)
            return optax.apply_updates(p, updates), state

        return step

    for opt_name, opt, names in runs:
        plain = jforeach.pack(tree)
        plain_state = opt.init(plain)
        plain_step = jax.jit(make_step(opt))
        for _ in range(3):
            plain, plain_state = plain_step(plain, plain_state)
        for name in names:
            what = f"{name}: {opt_name}"
            make_sharding, context, pieces, _ = cases[name]
            with context():
                donated = jax.jit(make_step(opt), donate_argnums=(0, 1))
                sp = jforeach.pack(tree, sharding=make_sharding())
                sharding = sp.buffers[0].sharding
                state = _committed(opt.init(sp), sharding.mesh)
                for _ in range(3):
                    old = sp.buffers[0]
                    sp, state = donated(sp, state)
                    assert old.is_deleted(), what
                assert donated._cache_size() == 1, (what, donated._cache_size())  # the step compiled once
                _assert_kept(sp, sharding, what)
                _assert_pieces(sp, pieces, what)
                moments = [x for x in jax.tree.leaves(state) if x.shape == sp.buffers[0].shape]
                assert len(moments) == 2, what
                for leaf in moments:  # split as the parameters (ZeRO-style)
                    assert leaf.sharding.is_equivalent_to(sharding, 1), (what, leaf.sharding)
                    assert {s.data.shape for s in leaf.addressable_shards} == {(leaf.shape[0] // pieces,)}, what
                # the same arithmetic; XLA fuses the sharded program's pieces on their own (FMA placement)
                _assert_tree_equal(sp.unpack(), plain.unpack(), rtol=4e-7, atol=1e-8)
                if name == "explicit P(('data', 'model'),)":  # the update itself moves no buffer between devices
                    compiled = jax.jit(opt.update).lower(jforeach.cos(sp), state, sp).compile()
                    assert not _comms(compiled) - {"all-reduce"}, (what, _comms(compiled))


def check_mesh_2d_shard_map():
    """jax.shard_map over functions of a Packed on a (4, 2) mesh: elementwise ops and an AdamW update
    on each device's piece; per-tensor reductions reduce the piece and add one all-reduce over the
    buffer's axes; a Packed passed whole (P()) is reduced on every device; a Packed passed with
    another spec than its own raises a clear error."""
    import jax
    import optax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    import jforeach

    _, explicit, auto = _meshes_2d()
    tree = _tree_2d()
    plain = jforeach.pack(tree)
    scalar_spec = jax.tree.map(lambda _: P(), jforeach.norm(plain))

    def body(p):
        q = jforeach.addcmul(jforeach.log1p(jforeach.abs(p)), p, p, value=0.5)
        q = jforeach.add(jforeach.mul(q, [1.0, 2.0, 3.0, 4.0]), 1.0)  # the padding stays zero
        return q, jforeach.norm(p), jforeach.max(q)

    want = jax.jit(body)(plain)
    both = P(("data", "model"))
    for mesh, spec, pieces in ((explicit, both, 8), (auto, P("data"), 4)):
        what = f"{mesh.axis_types[0]} {spec}"
        sp = jforeach.pack(tree, sharding=NamedSharding(mesh, spec))
        pspec = jax.tree.map(lambda _, s=spec: s, sp)
        mapped = jax.shard_map(body, mesh=mesh, in_specs=(pspec,), out_specs=(pspec, scalar_spec, scalar_spec))
        compiled = jax.jit(mapped).lower(sp).compile()
        assert "all-reduce" in _comms(compiled) and "all-gather" not in _comms(compiled), (what, _comms(compiled))
        got = compiled(sp)
        _assert_kept(got[0], sp.buffers[0].sharding, what)
        _assert_pieces(got[0], pieces, what)
        _assert_exact(got[0].unpack(), want[0].unpack(), f"{what}: elementwise")
        assert not np.asarray(got[0].buffers[0])[123:].any(), what
        _assert_tree_equal(got[1].unpack(), want[1].unpack(), rtol=4e-7)  # a sum of squares in another order
        _assert_exact(got[2].unpack(), want[2].unpack(), f"{what}: max")

    # an optimizer update on each device's piece, split over both axes
    sp = jforeach.pack(tree, sharding=NamedSharding(explicit, both))
    pspec = jax.tree.map(lambda _: both, sp)
    opt = jforeach.optim.adamw(lr=1e-2)
    state = opt.init(sp)
    state_spec = jax.tree.map(lambda x: both if x.shape == sp.buffers[0].shape else P(), state)

    def update(g, s, p):
        updates, s = opt.update(g, s, p)
        return optax.apply_updates(p, updates), s

    mapped = jax.shard_map(update, mesh=explicit, in_specs=(pspec, state_spec, pspec), out_specs=(pspec, state_spec))
    new, _ = jax.jit(mapped)(jforeach.cos(sp), state, sp)
    _assert_pieces(new, 8, "shard_map adamw")
    ref, _ = jax.jit(update)(jforeach.cos(plain), opt.init(plain), plain)
    _assert_tree_equal(new.unpack(), ref.unpack(), rtol=2.5e-7)  # FMA placement

    # passed whole (on Auto axes shard_map gathers it; Explicit ones take only the array's own spec):
    # every device holds the whole buffer and reduces it alone
    sp = jforeach.pack(tree, sharding=NamedSharding(auto, both))
    whole = jax.tree.map(lambda _: P(), sp)
    got = jax.jit(jax.shard_map(lambda p: jforeach.norm(p), mesh=auto, in_specs=(whole,), out_specs=scalar_spec))(sp)
    _assert_tree_equal(got.unpack(), want[1].unpack(), rtol=4e-7)

    # passed with another spec (pieces over 'data' of a buffer split over both axes): a clear error
    data = jax.tree.map(lambda _: P("data"), sp)
    for name, fn in (("norm", jforeach.norm), ("log1p", jforeach.log1p)):
        out_specs = scalar_spec if name == "norm" else data
        try:
            jax.jit(jax.shard_map(fn, mesh=auto, in_specs=(data,), out_specs=out_specs))(sp)
        except ValueError as e:
            message = str(e)
            assert message.startswith(f"`jforeach.{name}`: a buffer of 128 elements arrived as a piece of 32"), e
            assert "in_specs=P(('data', 'model'),)" in message, e
        else:
            raise AssertionError(f"{name} of a piece cut by another spec must raise")


# ------------------------------------------------------------------------------------------------
# Checkpoints of sharded buffers (test_sharded_checkpoints.py)


def _concrete_target(abstract, mesh):
    """``jax.eval_shape``'s tree with shardings on ``mesh``, for orbax to place the arrays by.

    Under sharding in types, eval_shape's shardings are on an AbstractMesh, which orbax cannot place
    (``_device_assignment is not implemented for jax.sharding.AbstractMesh``); a leaf without a spec
    (optax's step count, made uncommitted by ``jnp.zeros``) goes replicated, where a step puts it.
    """
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    def concrete(x):
        spec = getattr(x.sharding, "spec", PartitionSpec())
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=NamedSharding(mesh, spec))

    return jax.tree.map(concrete, abstract)


def _checkpoint_run(tx):
    """(fresh, make_step): a fresh sharded Packed with its optimizer state, and a donated train step."""
    import jax
    import jax.numpy as jnp
    import optax
    from jax.sharding import NamedSharding

    import jforeach

    tree = _tree_2d()

    def fresh(mesh, spec, commit=True):
        p = jforeach.pack(tree, sharding=NamedSharding(mesh, spec))
        state = tx.init(p)
        return p, (_committed(state, mesh) if commit else state)

    def loss(t):
        return sum(jnp.sum(jnp.sin(x) * (i + 1)) for i, x in enumerate(jax.tree.leaves(t)))

    def make_step():  # a new function each time: its own compile cache, whose compiles are counted
        def step(p, state):
            updates, state = tx.update(jax.grad(lambda q: loss(q.unpack()))(p), state, p)
            return optax.apply_updates(p, updates), state

        return jax.jit(step, donate_argnums=(0, 1))

    return fresh, make_step


def _bits(tree):
    """Bit patterns of every leaf, to compare restored values exactly."""
    import jax

    return [np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(tree)]


def _shardings_equal(got, want, what):
    import jax

    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert g.committed and g.sharding.is_equivalent_to(w.sharding, g.ndim), (what, g.sharding, w.sharding)


def check_sharded_checkpoint_round_trips():
    """orbax save/restore of a Packed sharded over 8 devices and its AdamW state (jforeach's and
    optax's): with a target, bit-exact, the same shardings and layout, the train step not compiled
    again; without one, bare buffers with their saved shardings, which the target's structure rebuilds."""
    import pickle
    import tempfile

    import jax
    import optax
    import orbax.checkpoint as ocp
    from jax.sharding import PartitionSpec as P

    import jforeach

    mesh = jax.make_mesh((8,), ("data",))
    checkpointer = ocp.StandardCheckpointer()
    txs = (("jforeach.optim.adamw", jforeach.optim.adamw(1e-2, weight_decay=0.1)), ("optax.adamw", optax.adamw(1e-2)))
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, tx) in enumerate(txs):
            fresh, make_step = _checkpoint_run(tx)
            step = make_step()
            p, s = fresh(mesh, P("data"))
            for _ in range(2):
                p, s = step(p, s)
            path = f"{tmp}/{k}"
            checkpointer.save(path, (p, s))
            checkpointer.wait_until_finished()
            saved, like = _bits((p, s)), jax.tree.map(lambda x: x, (p, s))

            target = _concrete_target(jax.eval_shape(lambda fresh=fresh: fresh(mesh, P("data"), commit=False)), mesh)
            restored = checkpointer.restore(path, target)
            assert isinstance(restored[0], jforeach.Packed) and restored[0].layout is p.layout, name
            assert jax.tree.structure(restored) == jax.tree.structure((p, s)), name
            assert _bits(restored) == saved, name
            _shardings_equal(restored, like, name)
            _assert_pieces(restored[0], 8, name)
            # pickle: JAX brings arrays back on one device; a Packed's buffers come back on its layout's
            # mesh, so that its ops and the step take it as it is (they raised a mesh mismatch)
            unpickled = pickle.loads(pickle.dumps((p, s)))
            assert _bits(unpickled) == saved, name
            _shardings_equal(unpickled[0].buffers, p.buffers, f"{name}, pickled")
            _assert_pieces(unpickled[0], 8, name)
            np.testing.assert_array_equal(
                np.asarray(jforeach.norm(unpickled[0]).buffers[0]), np.asarray(jforeach.norm(p).buffers[0])
            )
            # the step compiled before the checkpoint runs the restored state: the same next step
            want = _bits(step(p, s))
            assert _bits(step(*restored)) == want and step._cache_size() == 1, (name, step._cache_size())
            assert _bits(make_step()(*unpickled)) == want, name  # (its own step: the count comes back uncommitted)

            if k:
                continue
            # without a target: orbax's metadata knows lists, dicts and arrays, and the arrays' shardings
            raw = checkpointer.restore(path)
            assert isinstance(raw[0], list) and not isinstance(raw[0], jforeach.Packed), type(raw[0])
            leaves = jax.tree.leaves(raw)
            assert [np.asarray(b).tobytes() for b in leaves] == saved
            _shardings_equal(leaves, jax.tree.leaves(like), "without a target")
            rebuilt = jax.tree.unflatten(jax.tree.structure(like), leaves)
            assert rebuilt[0].layout is like[0].layout
            assert _bits(step(*rebuilt)) == want and step._cache_size() == 1, step._cache_size()


def check_sharded_checkpoint_onto_another_mesh():
    """Saved on 8 devices in 1-D, restored onto a (4, 2) mesh: split over both axes the buffers have
    the saved lengths and orbax places them as the target asks; over 'data' only (4 pieces: less
    padding) orbax refuses the length unless told ``strict=False``, which cuts the zero padding (and
    pads it again on the way back)."""
    import tempfile

    import jax
    import orbax.checkpoint as ocp
    from jax.sharding import PartitionSpec as P

    import jforeach

    tx = jforeach.optim.adamw(1e-2, weight_decay=0.1)
    fresh, make_step = _checkpoint_run(tx)
    line, grid = jax.make_mesh((8,), ("data",)), jax.make_mesh((4, 2), ("data", "model"))
    checkpointer = ocp.StandardCheckpointer()
    with tempfile.TemporaryDirectory() as tmp:
        step = make_step()
        p, s = fresh(line, P("data"))
        for _ in range(2):
            p, s = step(p, s)
        checkpointer.save(f"{tmp}/ckpt", (p, s))
        checkpointer.wait_until_finished()
        saved = _bits((p, s))
        tensors = jax.tree.map(np.asarray, _unpacked((p, s)))
        p_next, _ = step(p, s)

        both = P(("data", "model"))
        grid_step = make_step()
        grid_step(*fresh(grid, both))  # a loop on the new mesh: its step compiled before the restore
        target = _concrete_target(jax.eval_shape(lambda: fresh(grid, both, commit=False)), grid)
        restored = checkpointer.restore(f"{tmp}/ckpt", target)
        assert restored[0].layout is target[0].layout and restored[0].layout.sharding.mesh == grid
        assert _bits(restored) == saved  # the same buffer lengths, the same bits
        _shardings_equal(restored, target, "onto (4, 2)")
        _assert_pieces(restored[0], 8, "onto (4, 2)")
        got, _ = grid_step(*restored)
        assert grid_step._cache_size() == 1, grid_step._cache_size()
        _assert_tree_equal(got.unpack(), p_next.unpack(), rtol=4e-7, atol=1e-8)  # the 1-D mesh's next step

        target = _concrete_target(jax.eval_shape(lambda: fresh(grid, P("data"), commit=False)), grid)
        try:
            checkpointer.restore(f"{tmp}/ckpt", target)
        except ValueError as e:
            assert "(124,) is not compatible with the stored shape: (128,)" in str(e), e
        else:
            raise AssertionError("orbax must refuse a buffer of another length")
        restored = checkpointer.restore(f"{tmp}/ckpt", target, strict=False)
        _shardings_equal(restored, target, "onto (4, 2) over 'data'")
        _assert_pieces(restored[0], 4, "onto (4, 2) over 'data'")
        _assert_exact(_unpacked(restored), tensors, "strict=False")  # every tensor bit-exact: only padding was cut
        assert not np.asarray(restored[0].buffers[0])[123:].any()
        # and back: saved with 124 elements, restored onto 8 pieces of 16, zero-padded
        checkpointer.save(f"{tmp}/short", restored)
        checkpointer.wait_until_finished()
        target = _concrete_target(jax.eval_shape(lambda: fresh(line, P("data"), commit=False)), line)
        back = checkpointer.restore(f"{tmp}/short", target, strict=False)
        assert back[0].layout is p.layout and _bits(back) == saved, "strict=False, padded back"
        _shardings_equal(back, target, "strict=False, padded back")


def _unpacked(tree):
    """``tree`` with every Packed in it unpacked: the tensors, without the buffers' padding."""
    import jax

    import jforeach

    packed = lambda x: isinstance(x, jforeach.Packed)  # noqa: E731
    return jax.tree.map(lambda x: x.unpack() if packed(x) else x, tree, is_leaf=packed)


def main(names: list[str]) -> None:
    results = {}
    for name in names:
        start = time.perf_counter()
        try:
            globals()[f"check_{name}"]()
            results[name] = "ok"
        except BaseException:  # noqa: BLE001 - reported to the test
            results[name] = traceback.format_exc()
        print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    print(MARKER + json.dumps(results), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
