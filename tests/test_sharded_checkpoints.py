"""orbax-checkpoint save/restore of a sharded Packed and its optimizer state, on 8 virtual CPU devices.

With a target (bit-exact, the same shardings, the train step not compiled again), without one (bare
buffers with their saved shardings), and onto another mesh shape (saved on 8 devices in 1-D, restored
onto (4, 2)). The recipes are the ones docs/checkpoints.md gives; the checks are in
``_sharded_checks.py`` and run in one fresh process (the device count is fixed when jax starts).
"""

from __future__ import annotations

import _multidevice
import pytest

pytest.importorskip("orbax.checkpoint")

CHECKS = ["sharded_checkpoint_round_trips", "sharded_checkpoint_onto_another_mesh"]


def test_sharded_checkpoints():
    # one test, one process for every check: pytest-xdist would run a module fixture once per worker
    results = _multidevice.run_checks(CHECKS, devices=8, xla_flags=_multidevice.FAST_COMPILE)
    failed = {name: error for name, error in results.items() if error != "ok"}
    assert not failed, "\n".join(f"--- check_{name}\n{error}" for name, error in failed.items())


def test_pickle_of_a_sharded_packed_and_of_its_structure():
    import pickle

    import jax
    import numpy as np
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    import jforeach

    sharding = NamedSharding(jax.make_mesh((1,), ("data",)), P("data"))  # one device: a mesh all the same
    tree = {"w": np.arange(6.0, dtype=np.float32).reshape(2, 3), "b": np.ones(3, np.float32)}
    p = jforeach.pack(tree, sharding=sharding)
    # docs/checkpoints.md's structure saved next to an orbax checkpoint, for a restore without model code
    structure = pickle.loads(pickle.dumps(jax.eval_shape(lambda: p)))
    assert structure.layout is p.layout
    restored = pickle.loads(pickle.dumps(p))
    assert restored.layout is p.layout
    # JAX's pickled arrays come back on one device; a sharded Packed's buffers, on its layout's sharding
    assert restored.buffers[0].committed and restored.buffers[0].sharding.is_equivalent_to(sharding, 1)
    placed = jax.device_put(restored, sharding)
    np.testing.assert_array_equal(np.asarray(placed.buffers[0]), np.asarray(p.buffers[0]))
    assert jax.tree.map(np.asarray, placed.unpack()).keys() == tree.keys()


def test_unpickling_onto_a_process_without_the_mesh_devices_says_so():
    import jax
    import numpy as np
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    import jforeach

    p = jforeach.pack([np.ones(3, np.float32)], sharding=NamedSharding(jax.make_mesh((1,), ("data",)), P("data")))
    rebuild, fields = p.layout.__reduce__()
    tag, ids, *rest = fields[4]  # the mesh by its device ids
    assert ids == [jax.devices()[0].id]
    absent = max(d.id for d in jax.devices()) + 1  # as an 8-device pickle read by a 1-device process
    with pytest.raises(ValueError, match=rf"has no devices \[{absent}\]"):
        rebuild(*fields[:4], (tag, [absent], *rest))
