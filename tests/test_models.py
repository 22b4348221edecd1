"""flax (nnx) and equinox transformers trained on packed parameters.

Each test builds a small transformer (two blocks, 38 parameter arrays: embeddings, attention, MLP,
layer norms, biases; width 16, so compiling dominates), trains it for 10 steps with a donated, jitted step and an
``optax.chain`` of clipping, a masked weight decay (none on biases and norms) and AdamW, once on the
plain parameter tree and once on a ``jforeach.Packed`` of it, and compares the losses.

The bound: the two runs do the same arithmetic, except where a reduction's order differs (the total
gradient norm of the clipping is summed over buffers instead of leaves, and XLA fuses a flat buffer's
update differently), so they differ by float32 rounding only. Its size is measured, not guessed: the
same plain-tree training is run in float64, and the packed float32 losses must be no further from it
than the plain float32 losses are, times 3, plus 2 ulps of the loss (the criterion of the optimizer
tests, ``_check_against_reference`` in ``tests/test_optim.py``). The two float32 runs must also agree
with each other within that same budget.

Compile time: the blocks run in one ``lax.scan`` over their parameters, stacked inside the model
(each block keeps arrays of its own, so the tree has 16 per block), and the steps compile with less
LLVM optimization. Unrolled, one step's gradient of the nine-block model took 33 s to compile on the
2-core VM. Two blocks are what the check needs (the packed and the plain runs are compared on the
same tree, stacked blocks included); a step's compile time grows with the number of arrays, so the
benchmark (``python -m jforeach bench --ops train``) keeps the large model and
``tests/test_many_tensors.py`` covers trees of thousands of arrays.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jforeach

equinox = pytest.importorskip("equinox")
nnx = pytest.importorskip("flax.nnx")
eqx = equinox

VOCAB, D, HEADS, SEQ, BATCH, LAYERS, STEPS, LR = 11, 16, 2, 8, 4, 2, 10, 1e-2
K, FLOOR_ULPS = 3.0, 2.0
# The steps compile with less LLVM optimization (XLA:CPU): this test is about values, and the same
# options hold for all three runs it compares
COMPILER_OPTIONS = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _batches() -> list[jax.Array]:
    """One batch of random tokens, every step: the models learn it, so the loss falls steadily."""
    rng = np.random.default_rng(0)
    return [jnp.asarray(rng.integers(0, VOCAB, size=(BATCH, SEQ + 1)), jnp.int32)] * STEPS


def _names(path) -> list[str]:
    return [str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", "")))) for k in path]


def decay(path, leaf) -> bool:
    """The transformer recipe: decay the kernels and embeddings, not the biases or the layer norms."""
    names = _names(path)
    return "bias" not in names and not any(n.startswith("ln") for n in names)


def _initial_params(abstract):
    """Values for the parameters of an abstract model (``jax.eval_shape``), from numpy: building a
    model eagerly runs an op per array, and jitting its initializers costs a compile."""
    rng = np.random.default_rng(1)

    def value(path, leaf):
        names = _names(path)
        if "bias" in names:
            return jnp.zeros(leaf.shape, leaf.dtype)
        if any(n.startswith("ln") for n in names):  # a layer norm's scale
            return jnp.ones(leaf.shape, leaf.dtype)
        return jnp.asarray(0.2 * rng.standard_normal(leaf.shape), leaf.dtype)

    return jax.tree_util.tree_map_with_path(value, abstract)


def _as_float64(tree):
    return jax.tree.map(lambda x: x.astype(jnp.float64) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def _train(params, loss_fn, tx, *, packed: bool) -> list[float]:
    """STEPS steps of ``tx`` on ``loss_fn(tree, tokens)``; ``params`` packed (grouped by ``decay``) or not."""
    if packed:
        params = jforeach.pack(params, group_by=decay)
    state = tx.init(params)
    traces = []

    @functools.partial(jax.jit, donate_argnums=(0, 1), compiler_options=COMPILER_OPTIONS)
    def step(params, state, tokens):
        traces.append(1)

        def loss(p):
            return loss_fn(p.unpack() if packed else p, tokens)

        value, grads = jax.value_and_grad(loss)(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    losses = []
    for tokens in _batches():
        old = jax.tree.leaves(params)
        params, state, value = step(params, state, tokens)
        assert all(b.is_deleted() for b in old)  # the step ran in the donated buffers
        losses.append(float(value))
    assert len(traces) == 1
    if packed:
        assert len(params.buffers) == 2 and set(params.group_labels) == {True, False}
    return losses


def _compare(losses_packed, losses_plain, losses_64):
    got, ours, ref = (np.asarray(x, np.float64) for x in (losses_packed, losses_plain, losses_64))
    ulp = np.finfo(np.float32).eps * np.max(np.abs(ref))
    err_packed, err_plain = np.max(np.abs(got - ref)), np.max(np.abs(ours - ref))
    assert err_packed <= K * err_plain + FLOOR_ULPS * ulp, (err_packed, err_plain, ulp)
    assert np.max(np.abs(got - ours)) <= (K + 1) * err_plain + FLOOR_ULPS * ulp, (got - ours, err_plain)
    assert ours[-1] < ours[0] - 0.05  # it trains
    return err_packed, err_plain


def _train_and_compare(params, loss_fn, tx):
    """Trains plain float32, packed float32 and plain float64 from ``params``; checks them with :func:`_compare`."""
    copy = functools.partial(jax.tree.map, jnp.copy)
    plain = _train(copy(params), loss_fn, tx, packed=False)
    packed = _train(copy(params), loss_fn, tx, packed=True)
    reference = _train(_as_float64(params), loss_fn, tx, packed=False)
    err_packed, err_plain = _compare(packed, plain, reference)
    print(f"losses {plain[0]:.6f} -> {plain[-1]:.6f}; from float64: packed {err_packed:.2e}, plain {err_plain:.2e}")


# -- flax nnx -----------------------------------------------------------------------------------------


class NnxBlock(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.ln1 = nnx.LayerNorm(D, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(num_heads=HEADS, in_features=D, decode=False, rngs=rngs)
        self.ln2 = nnx.LayerNorm(D, rngs=rngs)
        self.up = nnx.Linear(D, 4 * D, rngs=rngs)
        self.down = nnx.Linear(4 * D, D, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        x = x + self.attn(self.ln1(x), mask=mask)
        return x + self.down(jax.nn.gelu(self.up(self.ln2(x))))


class NnxTransformer(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.embed = nnx.Embed(VOCAB, D, rngs=rngs)
        self.pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (SEQ, D), jnp.float32))
        self.blocks = nnx.List([NnxBlock(rngs) for _ in range(LAYERS)])
        self.ln_f = nnx.LayerNorm(D, rngs=rngs)
        self.head = nnx.Linear(D, VOCAB, rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        x = self.embed(tokens) + self.pos[...]
        mask = nnx.make_causal_mask(tokens)
        # the blocks run in one lax.scan over their parameters stacked here (each block keeps arrays
        # of its own): XLA compiles one block, not one per block, so the test's compile time stays small
        splits = [nnx.split(block) for block in self.blocks]
        stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *(state for _, state in splits))

        def body(x, state):
            return nnx.merge(splits[0][0], state)(x, mask), None

        x, _ = jax.lax.scan(body, x, stacked)
        return self.head(self.ln_f(x))


def test_flax_nnx_transformer_on_packed_params():
    model = nnx.eval_shape(lambda: NnxTransformer(nnx.Rngs(0)))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)  # pack the Param state only
    params = _initial_params(params)
    assert len(jax.tree.leaves(params)) == 6 + 16 * LAYERS

    def loss_fn(params, tokens):
        model = nnx.merge(graphdef, params, rest)
        logits = model(tokens[:, :-1])
        return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()

    # torch's AdamW with a no-decay group, after clip_grad_norm_ (see docs/packed-models.md)
    tx = optax.chain(
        jforeach.transforms.clip_by_norm(1.0),
        jforeach.optim.adam(lr=LR),
        optax.masked(jforeach.transforms.add_decoupled_weight_decay(0.1, LR), lambda p: jforeach.labels(p, decay)),
    )
    _train_and_compare(params, loss_fn, tx)


# -- equinox ------------------------------------------------------------------------------------------


class EqxBlock(eqx.Module):
    ln1: eqx.nn.LayerNorm
    attn: eqx.nn.MultiheadAttention
    ln2: eqx.nn.LayerNorm
    up: eqx.nn.Linear
    down: eqx.nn.Linear

    def __init__(self, key: jax.Array):
        k1, k2, k3 = jax.random.split(key, 3)
        f32 = jnp.float32
        self.ln1 = eqx.nn.LayerNorm(D, dtype=f32)
        self.attn = eqx.nn.MultiheadAttention(
            HEADS,
            D,
            use_query_bias=True,
            use_key_bias=True,
            use_value_bias=True,
            use_output_bias=True,
            dtype=f32,
            key=k1,
        )
        self.ln2 = eqx.nn.LayerNorm(D, dtype=f32)
        self.up = eqx.nn.Linear(D, 4 * D, dtype=f32, key=k2)
        self.down = eqx.nn.Linear(4 * D, D, dtype=f32, key=k3)

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:  # one sequence: (SEQ, D)
        h = jax.vmap(self.ln1)(x)
        x = x + self.attn(h, h, h, mask=mask)
        return x + jax.vmap(lambda v: self.down(jax.nn.gelu(self.up(self.ln2(v)))))(x)


class EqxTransformer(eqx.Module):
    embed: eqx.nn.Embedding
    pos: jax.Array
    blocks: list[EqxBlock]
    ln_f: eqx.nn.LayerNorm
    head: eqx.nn.Linear

    def __init__(self, key: jax.Array):
        keys = jax.random.split(key, LAYERS + 3)
        self.embed = eqx.nn.Embedding(VOCAB, D, dtype=jnp.float32, key=keys[0])
        self.pos = 0.02 * jax.random.normal(keys[1], (SEQ, D), jnp.float32)
        self.blocks = [EqxBlock(k) for k in keys[3:]]
        self.ln_f = eqx.nn.LayerNorm(D, dtype=jnp.float32)
        self.head = eqx.nn.Linear(D, VOCAB, dtype=jnp.float32, key=keys[2])

    def __call__(self, tokens: jax.Array) -> jax.Array:  # one sequence: (SEQ,)
        x = jax.vmap(self.embed)(tokens) + self.pos
        mask = jnp.tril(jnp.ones((SEQ, SEQ), bool))
        # the blocks run in one lax.scan over their parameters stacked here (as in the flax model)
        parts = [eqx.partition(block, eqx.is_array) for block in self.blocks]
        stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *(dynamic for dynamic, _ in parts))

        def body(x, dynamic):
            return eqx.combine(dynamic, parts[0][1])(x, mask), None

        x, _ = jax.lax.scan(body, x, stacked)
        return jax.vmap(lambda v: self.head(self.ln_f(v)))(x)


def test_equinox_transformer_on_packed_params():
    model = eqx.filter_eval_shape(EqxTransformer, jax.random.key(0))
    params, static = eqx.partition(model, lambda x: isinstance(x, jax.ShapeDtypeStruct))
    params = _initial_params(params)
    assert eqx.is_inexact_array(jax.tree.leaves(params)[0])  # what eqx.partition(model, eqx.is_inexact_array) gives
    assert len(jax.tree.leaves(params)) == 6 + 16 * LAYERS

    def loss_fn(params, tokens):
        model = eqx.combine(params, static)
        logits = jax.vmap(model)(tokens[:, :-1])
        return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()

    # optax's own AdamW, its decay masked by the same labels
    tx = optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.adamw(LR, weight_decay=0.1, mask=lambda p: jforeach.labels(p, decay)),
    )
    _train_and_compare(params, loss_fn, tx)
