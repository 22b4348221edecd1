"""One of the two processes of ``test_sharding.py::test_two_processes``.

Run as ``python tests/_two_process_worker.py PROCESS_ID PORT`` with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``: the two processes form one JAX runtime of 8
CPU devices over loopback (gloo collectives) on ``jax.make_mesh``'s default (Explicit) axes, pack a
tree whose leaves are already global arrays spread over both processes (on device: nothing is fetched
to a host), update it with jforeach ops and an optax step whose loss unpacks the parameters, and each
compares the result with a numpy reference of its own.
Prints ``WORKER OK`` and exits 0 on success; any failure raises.
"""

from __future__ import annotations

import sys

import numpy as np

LR, B1, B2, EPS = 1e-2, 0.9, 0.999, 1e-8


def make_tree() -> dict[str, list[np.ndarray]]:
    # The same values in both processes (as in any multi-controller program).
    rng = np.random.default_rng(0)
    return {
        "a": [rng.uniform(0.5, 2.0, (16, 7)).astype(np.float32), rng.uniform(0.5, 2.0, (5,)).astype(np.float32)],
        "b": [rng.uniform(0.5, 2.0, ()).astype(np.float32), rng.uniform(0.5, 2.0, (3, 3)).astype(np.float32)],
    }


def reference(tree: dict[str, list[np.ndarray]]) -> tuple[dict, dict]:
    """numpy: p = log1p(p) * [per-tensor scale]; p += 1; one Adam step with gradient 2 p."""
    scales = [1.0, 2.0, 3.0, 4.0]
    leaves = tree["a"] + tree["b"]  # leaf order: sorted keys
    params = [np.log1p(x.astype(np.float64)) * s + 1.0 for x, s in zip(leaves, scales, strict=True)]
    grads = [2 * p for p in params]
    updated = []
    for p, g in zip(params, grads, strict=True):
        m, v = (1 - B1) * g, (1 - B2) * g * g
        m_hat, v_hat = m / (1 - B1), v / (1 - B2)
        updated.append(p - LR * m_hat / (np.sqrt(v_hat) + EPS))
    as_tree = {"a": params[:2], "b": params[2:]}
    return as_tree, {"a": updated[:2], "b": updated[2:]}


def main(process_id: int, port: int) -> None:
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id, initialization_timeout=60
    )
    import jax.numpy as jnp
    import optax
    from jax.sharding import AxisType, NamedSharding, PartitionSpec

    import jforeach

    assert jax.process_count() == 2, jax.process_count()
    assert jax.device_count() == 8 and jax.local_device_count() == 4, (jax.device_count(), jax.local_device_count())
    mesh = jax.make_mesh((8,), ("x",))
    assert mesh.axis_types == (AxisType.Explicit,)
    sharding = NamedSharding(mesh, PartitionSpec("x"))

    tree = make_tree()
    # the leaves as a multi-process program has them: global arrays, the big one split over both processes
    specs = {"a": [PartitionSpec("x"), PartitionSpec()], "b": [PartitionSpec(), PartitionSpec()]}
    global_tree = jax.tree.map(
        lambda x, spec: jax.make_array_from_callback(x.shape, NamedSharding(mesh, spec), lambda index: x[index]),
        tree,
        specs,
    )
    assert not any(leaf.is_fully_addressable for leaf in jax.tree.leaves(global_tree))
    with jax.set_mesh(mesh):  # a bare PartitionSpec names the set mesh's axes
        packed = jforeach.pack(global_tree, sharding=PartitionSpec("x"))
    (buf,) = packed.buffers
    assert not buf.is_fully_addressable
    assert buf.sharding.is_equivalent_to(sharding, 1), buf.sharding
    assert buf.shape[0] % 8 == 0
    assert len(buf.addressable_shards) == 4
    assert all(s.data.shape == (buf.shape[0] // 8,) for s in buf.addressable_shards)

    # Ops outside jit on arrays spread over both processes: in place (donating) and out of place.
    old = packed.buffers[0]
    same = jforeach.log1p_(packed)
    assert same is packed and old.is_deleted()
    packed = jforeach.mul(packed, [1.0, 2.0, 3.0, 4.0])
    assert packed.buffers[0].sharding.is_equivalent_to(sharding, 1)

    # One step of a training loop inside jit: a jforeach op, then optax.adam on the Packed.
    opt = optax.adam(LR, b1=B1, b2=B2, eps=EPS)
    state = opt.init(packed)

    def loss(p):  # the parameters unpacked in the loss: its gradient is 2 p, a Packed of p's layout
        return sum(jnp.sum(x**2) for x in jax.tree.leaves(p.unpack()))

    @jax.jit
    def step(p, state):
        p = jforeach.add(p, 1.0)
        grads = jax.grad(loss)(p)
        updates, state = opt.update(grads, state, p)
        return p, optax.apply_updates(p, updates), state

    before, after, state = step(packed, state)
    assert after.buffers[0].sharding.is_equivalent_to(sharding, 1), after.buffers[0].sharding

    want_before, want_after = reference(tree)
    for got_tree, want_tree in ((before, want_before), (after, want_after)):
        got = got_tree.unpack()  # not fully addressable: sliced in a program (Explicit axes), replicated out
        assert jax.tree.structure(got) == jax.tree.structure(want_tree)
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want_tree), strict=True):
            assert g.shape == w.shape and g.dtype == jnp.float32, (g.shape, w.shape, g.dtype)
            np.testing.assert_allclose(np.asarray(g.addressable_data(0)), w, rtol=2e-6, atol=1e-6)

    # Per-tensor reductions over the sharded buffer.
    norms = jforeach.norm(after).unpack()
    for g, w in zip(jax.tree.leaves(norms), jax.tree.leaves(want_after), strict=True):
        np.testing.assert_allclose(np.asarray(g.addressable_data(0)), np.linalg.norm(w.ravel()), rtol=1e-5)

    print(f"WORKER OK {process_id}", flush=True)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
