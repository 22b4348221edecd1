"""Checkpointing a Packed and an optimizer state holding Packed: orbax with a target, orbax without one, pickle.

The recipes tested here are the ones docs/checkpoints.md gives.
"""

from __future__ import annotations

import base64
import os
import pickle
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jforeach
import jforeach.optim

ocp = pytest.importorskip("orbax.checkpoint")

_TXS = {"jforeach-adamw": lambda: jforeach.optim.adamw(1e-2), "optax-adamw": lambda: optax.adamw(1e-2)}


def _tree():
    rng = np.random.default_rng(0)
    return {
        "w": jnp.asarray(rng.standard_normal((4, 3)), jnp.float32),
        "b": jnp.asarray(rng.standard_normal(3), jnp.float32),
        "scale": jnp.ones((), jnp.float32),
    }


def _loss(params, x):
    return jnp.sum((params["scale"] * (x @ params["w"]) + params["b"]) ** 2)


def _train_step(tx):
    x = jnp.asarray(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))

    def step(p, s):
        grads = jax.grad(lambda q: _loss(q.unpack(), x))(p)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s

    return jax.jit(step, donate_argnums=(0, 1))


def _committed_start(tx):
    """Packed params and their optimizer state, committed to one device as orbax restores them."""
    params = jforeach.pack(_tree())
    return jax.device_put((params, tx.init(params)), jax.devices()[0])


def _host(tree):
    """Bit patterns of every leaf, to compare restored values exactly (NaN and -0.0 included)."""
    return [np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(tree)]


def _assert_same_state(restored, saved_bytes, like):
    assert jax.tree.structure(restored) == jax.tree.structure(like)
    assert restored[0].layout is like[0].layout  # the one interned layout object, not a copy
    assert _host(restored) == saved_bytes
    for got, want in zip(jax.tree.leaves(restored), jax.tree.leaves(like), strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype


@pytest.mark.parametrize("name", list(_TXS))
def test_orbax_round_trip_with_an_eval_shape_target(tmp_path, name):
    tx = _TXS[name]()
    step = _train_step(tx)
    p, s = _committed_start(tx)
    for _ in range(2):
        p, s = step(p, s)
    abstract = jax.eval_shape(lambda: (p, s))
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "ckpt", (p, s))
    checkpointer.wait_until_finished()
    saved = _host((p, s))

    restored = checkpointer.restore(tmp_path / "ckpt", abstract)
    assert isinstance(restored[0], jforeach.Packed)
    assert int(optax.tree_utils.tree_get(restored[1], "count")) == 2
    _assert_same_state(restored, saved, (p, s))

    # the restored state runs in the same executable: no second compile, the same next step
    p_next, s_next = step(p, s)
    r_next, q_next = step(*restored)
    assert step._cache_size() == 1
    assert _host((r_next, q_next)) == _host((p_next, s_next))


def test_orbax_checkpoint_manager_with_a_tx_init_target(tmp_path):
    tx = jforeach.optim.adamw(1e-2)
    step = _train_step(tx)
    p, s = _committed_start(tx)
    manager = ocp.CheckpointManager(tmp_path / "run", options=ocp.CheckpointManagerOptions(max_to_keep=2))
    for k in range(1, 4):
        p, s = step(p, s)
        manager.save(k, args=ocp.args.StandardSave((p, s)))
        manager.wait_until_finished()
    saved = _host((p, s))
    assert manager.all_steps() == [2, 3]

    # a fresh start builds the target: packed initial params and tx.init of them (values are ignored)
    target = _committed_start(tx)
    restored = manager.restore(manager.latest_step(), args=ocp.args.StandardRestore(target))
    _assert_same_state(restored, saved, (p, s))
    restored = step(*restored)
    assert step._cache_size() == 1
    manager.close()


def test_orbax_without_a_target_returns_bare_buffers(tmp_path):
    tx = jforeach.optim.adamw(1e-2)
    p, s = _committed_start(tx)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "ckpt", {"params": p, "opt": s})
    checkpointer.wait_until_finished()

    raw = checkpointer.restore(tmp_path / "ckpt")
    # orbax keeps no pytree types without a target: the Packed is its list of buffers, the optimizer's
    # NamedTuple a dict; the layout (which tensor lives where) is not in the checkpoint
    assert isinstance(raw["params"], list) and not isinstance(raw["params"], jforeach.Packed)
    assert [np.asarray(b).tobytes() for b in raw["params"]] == [np.asarray(b).tobytes() for b in p.buffers]
    assert isinstance(raw["opt"][0][0], dict) and set(raw["opt"][0][0]) >= {"count", "mu", "nu"}
    # the leaves are in order: any target's structure puts them back
    rebuilt = jax.tree.unflatten(jax.tree.structure({"params": p, "opt": s}), jax.tree.leaves(raw))
    assert rebuilt["params"].layout is p.layout and _host(rebuilt) == _host({"params": p, "opt": s})


def test_orbax_with_the_structure_saved_alongside_restores_without_model_code(tmp_path):
    tx = jforeach.optim.adamw(1e-2)
    step = _train_step(tx)
    p, s = _committed_start(tx)
    p, s = step(p, s)
    structure = base64.b64encode(pickle.dumps(jax.eval_shape(lambda: (p, s)))).decode()
    manager = ocp.CheckpointManager(tmp_path / "run")
    items = {"state": ocp.args.StandardSave((p, s)), "structure": ocp.args.JsonSave({"pickle": structure})}
    manager.save(1, args=ocp.args.Composite(**items))
    manager.wait_until_finished()
    saved = _host((p, s))
    manager.close()

    manager = ocp.CheckpointManager(tmp_path / "run")
    step_k = manager.latest_step()
    meta = manager.restore(step_k, args=ocp.args.Composite(structure=ocp.args.JsonRestore()))
    target = pickle.loads(base64.b64decode(meta.structure["pickle"]))
    restored = manager.restore(step_k, args=ocp.args.Composite(state=ocp.args.StandardRestore(target))).state
    _assert_same_state(restored, saved, (p, s))
    step(*restored)
    assert step._cache_size() == 1
    manager.close()


def test_orbax_rejects_a_target_with_another_layout(tmp_path):
    p = jforeach.pack(_tree())
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "ckpt", p)
    checkpointer.wait_until_finished()
    bigger = jforeach.pack({**_tree(), "extra": jnp.zeros(2, jnp.float32)})
    with pytest.raises(ValueError, match=r"\(18,\) is not compatible with the stored shape: \(16,\)"):
        checkpointer.restore(tmp_path / "ckpt", jax.eval_shape(lambda: bigger))


@pytest.mark.parametrize("name", list(_TXS))
def test_pickle_round_trip_in_a_committed_loop(name):
    tx = _TXS[name]()
    step = _train_step(tx)
    p, s = _committed_start(tx)
    p, s = step(p, s)
    restored = pickle.loads(pickle.dumps((p, s)))
    _assert_same_state(restored, _host((p, s)), (p, s))
    # pickle gives uncommitted arrays; committing them again keeps the one executable
    assert not restored[0].buffers[0].committed
    restored = jax.device_put(restored, jax.devices()[0])
    restored = step(*restored)
    assert step._cache_size() == 1
    # used as they come back, they are another signature for jit: a second compile (a JAX rule, as
    # for any tree: committed and uncommitted arrays compile apart)
    step(*pickle.loads(pickle.dumps(restored)))
    assert step._cache_size() == 2


_SAVE_IN_ANOTHER_PROCESS = textwrap.dedent(
    """
    import pickle, sys
    import jax, jax.numpy as jnp, numpy as np
    import jforeach
    rng = np.random.default_rng(0)
    tree = {
        "w": jnp.asarray(rng.standard_normal((4, 3)), jnp.float32),
        "b": jnp.asarray(rng.standard_normal(3), jnp.float32),
        "scale": jnp.ones((), jnp.float32),
    }
    p = jforeach.pack(tree)
    hash(p.layout)  # any jit call or op hashes it
    sys.stdout.buffer.write(pickle.dumps(p))
    """
)


def test_pickle_from_another_process_has_an_equal_layout():
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"  # another string hashing than ours
    env = {**os.environ, "PYTHONHASHSEED": seed, "JAX_PLATFORMS": "cpu"}
    blob = subprocess.run(
        [sys.executable, "-c", _SAVE_IN_ANOTHER_PROCESS], env=env, capture_output=True, check=True, timeout=120
    ).stdout
    restored = pickle.loads(blob)
    fresh = jforeach.pack(_tree())
    assert _host(restored) == _host(fresh)
    assert restored.layout is fresh.layout and hash(restored.layout) == hash(fresh.layout)
    np.testing.assert_array_equal(jforeach.add(restored, fresh).buffers[0], 2 * fresh.buffers[0])
    # a step compiled for this process's Packed runs the unpickled one without compiling again
    tx = optax.adamw(1e-2)
    step = _train_step(tx)
    step(fresh, tx.init(fresh))
    step(restored, tx.init(restored))
    assert step._cache_size() == 1
