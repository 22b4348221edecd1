"""A Packed in the training loops people write: a donated, jitted step compiles once."""

from __future__ import annotations

import pickle

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jforeach
import jforeach.optim


def _params():
    rng = np.random.default_rng(0)
    return {"w": jnp.asarray(rng.standard_normal((4, 3)), jnp.float32), "b": jnp.zeros(3, jnp.float32)}


def _loss(params, x):
    return jnp.sum((x @ params["w"] + params["b"]) ** 2)


@pytest.mark.parametrize(
    "make_tx", [lambda: jforeach.optim.adamw(1e-2), lambda: optax.adamw(1e-2)], ids=["jforeach-adamw", "optax-adamw"]
)
def test_donated_jitted_step_on_a_packed_compiles_once_also_after_restore(make_tx):
    tx = make_tx()
    x = jnp.asarray(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))

    def step(p, s, x):
        grads = jax.grad(lambda q: _loss(q.unpack(), x))(p)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s

    jitted = jax.jit(step, donate_argnums=(0, 1))
    p = jforeach.pack(_params())
    s = tx.init(p)
    for _ in range(3):
        p, s = jitted(p, s, x)
    p, s = pickle.loads(pickle.dumps((p, s)))  # a checkpoint restore
    for _ in range(2):
        p, s = jitted(p, s, x)
    assert jitted._cache_size() == 1
    # the same five steps on the plain tree land on the same parameters
    q, r = _params(), tx.init(_params())
    plain = jax.jit(lambda q, r, x: _plain_step(tx, q, r, x))
    for _ in range(5):
        q, r = plain(q, r, x)
    for name in ("w", "b"):
        np.testing.assert_allclose(np.asarray(p.unpack()[name]), np.asarray(q[name]), rtol=1e-6, atol=1e-7)


def _plain_step(tx, q, r, x):
    grads = jax.grad(_loss)(q, x)
    updates, r = tx.update(grads, r, q)
    return optax.apply_updates(q, updates), r
