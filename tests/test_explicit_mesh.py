"""``pack(..., sharding=P(...))`` with the mesh of ``jax.set_mesh``, in this process (one device).

The 8-device checks of today's mesh idioms are in ``_sharded_checks.py`` (run by test_sharding.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import jforeach


def test_bare_partition_spec_uses_the_set_mesh():
    mesh = jax.make_mesh((1,), ("data",))
    assert mesh.axis_types == (AxisType.Explicit,)
    tree = {"w": np.arange(6.0, dtype=np.float32).reshape(2, 3), "b": np.ones(3, np.float32)}
    with jax.set_mesh(mesh):
        p = jforeach.pack(tree, sharding=P("data"))
        q = jax.jit(lambda t: jforeach.pack(t, sharding=P("data")))(tree)
    want = NamedSharding(mesh, P("data"))
    assert p.layout.sharding == want
    assert q.layout.sharding.spec == P("data") and q.layout.sharding.mesh == mesh.abstract_mesh  # jit's view
    assert q.buffers[0].sharding.is_equivalent_to(want, 1)
    assert p.buffers[0].sharding.is_equivalent_to(want, 1)
    for got in (p.unpack(), q.unpack(), jforeach.log1p(p).unpack()):
        assert got.keys() == tree.keys()
    np.testing.assert_array_equal(np.asarray(jforeach.log1p(p).unpack()["w"]), np.log1p(tree["w"]))


def test_bare_partition_spec_without_a_mesh():
    with pytest.raises(
        ValueError, match=r"`jforeach.pack`: sharding=P\('data',\) is a PartitionSpec but no mesh is set"
    ):
        jforeach.pack([jnp.ones(3)], sharding=P("data"))


def test_partition_spec_of_a_1d_buffer():
    with jax.set_mesh(jax.make_mesh((1,), ("data",))):
        with pytest.raises(ValueError, match="`jforeach.pack`: the buffers are 1-D"):
            jforeach.pack([jnp.ones(3)], sharding=P("data", None))
    with pytest.raises(TypeError, match="`jforeach.pack`: sharding must be a jax.sharding.Sharding"):
        jforeach.pack([jnp.ones(3)], sharding="data")
