"""One full train step of a small transformer, side by side: optax per leaf, ``optax.flatten``, jforeach Packed.

The model is written in plain ``jax.numpy`` as a dict of arrays (no flax or equinox): token and
position embeddings, ``layers`` pre-norm blocks (layer norm, causal multi-head attention with
biases, layer norm, GELU MLP with biases), a final layer norm and an output head with a bias. The
full size has 9 blocks of 16 arrays, 150 parameter arrays in all. One step is the forward pass,
the backward pass and an AdamW update, jitted with the parameters and the optimizer state donated:

- ``optax.adamw per leaf``: the parameter dict and ``optax.adamw``;
- ``optax.flatten(optax.adamw)``: the same dict, the optimizer state raveled into one vector;
- ``jforeach Packed + optax.adamw`` and ``jforeach Packed + jforeach.optim.adamw``: the parameters
  packed with ``jforeach.pack``, the loss unpacking them inside the step.

Every variant starts from the same parameters and trains on the same batch, so their losses agree
step by step (``tests/test_bench_train.py`` checks it). The implementations are timed in interleaved
rounds with the bench's one timer; ``compile_s`` is trace + lower + compile of the step
(``lower_s`` the trace and lowering alone).

``run_train_bench(quick)`` returns rows ``{"case", "impl", "ms", "compile_s", "lower_s", "losses"}``;
``python -m jforeach bench --ops train [--quick]`` prints them as a table.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jforeach
import jforeach.optim

from ._timing import Runner, interleaved

LR = 1e-3
WEIGHT_DECAY = 1e-2
BETAS = (0.9, 0.999)
EPS = 1e-8
CHECK_STEPS = 3

PER_LEAF = "optax.adamw per leaf"
FLATTEN = "optax.flatten(optax.adamw)"
PACKED_OPTAX = "jforeach Packed + optax.adamw"
PACKED_JFOREACH = "jforeach Packed + jforeach.optim.adamw"
IMPLS = (PER_LEAF, FLATTEN, PACKED_OPTAX, PACKED_JFOREACH)


@dataclasses.dataclass(frozen=True)
class Config:
    """The transformer's size and the batch it trains on."""

    vocab: int
    d_model: int
    heads: int
    d_ff: int
    layers: int
    seq: int
    batch: int

    @property
    def num_arrays(self) -> int:
        return 2 + 16 * self.layers + 4  # embeddings, blocks, final norm and head

    def describe(self) -> str:
        n = sum(math.prod(s) for s in _shapes(self).values())
        return (
            f"transformer {self.num_arrays} arrays, {n / 1e6:.2f}M params "
            f"(d={self.d_model}, L={self.layers}, batch {self.batch}x{self.seq})"
        )


FULL = Config(vocab=2048, d_model=256, heads=4, d_ff=1024, layers=9, seq=64, batch=8)
QUICK = Config(vocab=512, d_model=64, heads=4, d_ff=256, layers=9, seq=32, batch=4)
TINY = Config(vocab=32, d_model=16, heads=2, d_ff=32, layers=1, seq=8, batch=2)


# ----------------------------------------------------------------------
# The model: a dict of arrays and a loss in plain jax.numpy.


def _shapes(cfg: Config) -> dict[str, tuple[int, ...]]:
    d, f = cfg.d_model, cfg.d_ff
    shapes: dict[str, tuple[int, ...]] = {"embed": (cfg.vocab, d), "pos": (cfg.seq, d)}
    for i in range(cfg.layers):
        p = f"block{i:02d}."
        for name in ("ln1", "ln2"):
            shapes[p + name + ".scale"] = (d,)
            shapes[p + name + ".bias"] = (d,)
        for name in ("q", "k", "v", "o"):
            shapes[p + "attn." + name + ".w"] = (d, d)
            shapes[p + "attn." + name + ".b"] = (d,)
        shapes[p + "mlp.in.w"], shapes[p + "mlp.in.b"] = (d, f), (f,)
        shapes[p + "mlp.out.w"], shapes[p + "mlp.out.b"] = (f, d), (d,)
    shapes["ln_f.scale"], shapes["ln_f.bias"] = (d,), (d,)
    shapes["head.w"], shapes["head.b"] = (d, cfg.vocab), (cfg.vocab,)
    return shapes


def init_params(cfg: Config, seed: int = 0) -> dict[str, jax.Array]:
    """The model's parameters: a flat dict of float32 arrays (norm scales 1, biases 0, weights N(0, 0.02))."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in _shapes(cfg).items():
        if name.endswith(".scale"):
            value = np.ones(shape, np.float32)
        elif name.endswith((".b", ".bias")):
            value = np.zeros(shape, np.float32)
        else:
            value = (0.02 * rng.standard_normal(shape)).astype(np.float32)
        params[name] = jnp.asarray(value)
    return params


def make_batch(cfg: Config, seed: int = 1) -> tuple[jax.Array, jax.Array]:
    """Random tokens and their next-token targets, each ``(batch, seq)`` int32."""
    tokens = np.random.default_rng(seed).integers(0, cfg.vocab, size=(cfg.batch, cfg.seq + 1), dtype=np.int32)
    return jnp.asarray(tokens[:, :-1]), jnp.asarray(tokens[:, 1:])


def _layer_norm(x: jax.Array, scale: jax.Array, bias: jax.Array) -> jax.Array:
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + 1e-5) * scale + bias


def _attention(cfg: Config, p: dict[str, jax.Array], prefix: str, x: jax.Array) -> jax.Array:
    b, t, d = x.shape
    hd = d // cfg.heads

    def proj(name: str) -> jax.Array:
        y = x @ p[prefix + name + ".w"] + p[prefix + name + ".b"]
        return y.reshape(b, t, cfg.heads, hd).transpose(0, 2, 1, 3)

    q, k, v = proj("q"), proj("k"), proj("v")
    scores = (q @ k.transpose(0, 1, 3, 2)) / math.sqrt(hd)
    causal = jnp.tril(jnp.ones((t, t), dtype=bool))
    scores = jnp.where(causal, scores, jnp.finfo(scores.dtype).min)
    out = (jax.nn.softmax(scores, axis=-1) @ v).transpose(0, 2, 1, 3).reshape(b, t, d)
    return out @ p[prefix + "o.w"] + p[prefix + "o.b"]


def loss_fn(cfg: Config, params: dict[str, jax.Array], batch: tuple[jax.Array, jax.Array]) -> jax.Array:
    """Mean next-token cross-entropy of the transformer on ``batch``."""
    tokens, targets = batch
    x = params["embed"][tokens] + params["pos"][: tokens.shape[1]]
    for i in range(cfg.layers):
        p = f"block{i:02d}."
        h = _layer_norm(x, params[p + "ln1.scale"], params[p + "ln1.bias"])
        x = x + _attention(cfg, params, p + "attn.", h)
        h = _layer_norm(x, params[p + "ln2.scale"], params[p + "ln2.bias"])
        h = jax.nn.gelu(h @ params[p + "mlp.in.w"] + params[p + "mlp.in.b"])
        x = x + h @ params[p + "mlp.out.w"] + params[p + "mlp.out.b"]
    x = _layer_norm(x, params["ln_f.scale"], params["ln_f.bias"])
    logits = x @ params["head.w"] + params["head.b"]
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, targets))


# ----------------------------------------------------------------------
# The variants: one donated, jitted step each.


def _transform(impl: str) -> optax.GradientTransformation:
    if impl == PACKED_JFOREACH:
        return jforeach.optim.adamw(LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
    tx = optax.adamw(LR, b1=BETAS[0], b2=BETAS[1], eps=EPS, weight_decay=WEIGHT_DECAY)
    return optax.flatten(tx) if impl == FLATTEN else tx


@dataclasses.dataclass
class Variant:
    """One implementation's compiled step and its carried parameters and optimizer state."""

    compiled: Any
    params: Any
    state: Any
    batch: tuple[jax.Array, jax.Array]
    lower_s: float
    compile_s: float
    losses: list[float] = dataclasses.field(default_factory=list)

    def run(self, steps: int, *, record: bool = False) -> None:
        """Runs ``steps`` steps back to back and waits for them (with ``record``, keeps each loss)."""
        loss = None
        for _ in range(steps):
            self.params, self.state, loss = self.compiled(self.params, self.state, self.batch)
            if record:
                self.losses.append(float(loss))
        jax.block_until_ready((self.params, self.state, loss))

    def unpacked_params(self) -> dict[str, jax.Array]:
        return self.params.unpack() if isinstance(self.params, jforeach.Packed) else self.params


def build(impl: str, cfg: Config, *, seed: int = 0, compiler_options: dict[str, Any] | None = None) -> Variant:
    """The donated, jitted train step of ``impl`` on ``cfg``, traced, lowered and compiled (timed).

    ``compiler_options`` go to XLA (the tests lower the CPU backend's optimization level to compile faster).
    """
    tx = _transform(impl)
    packed = impl in (PACKED_OPTAX, PACKED_JFOREACH)
    params: Any = init_params(cfg, seed)
    if packed:
        params = jforeach.pack(params)

        def loss_of(p: Any, batch: Any) -> jax.Array:
            return loss_fn(cfg, p.unpack(), batch)
    else:

        def loss_of(p: Any, batch: Any) -> jax.Array:
            return loss_fn(cfg, p, batch)

    def step(params: Any, state: Any, batch: Any) -> tuple[Any, Any, jax.Array]:
        loss, grads = jax.value_and_grad(loss_of)(params, batch)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    state = tx.init(params)
    batch = make_batch(cfg)
    start = time.perf_counter()
    lowered = jax.jit(step, donate_argnums=(0, 1)).lower(params, state, batch)
    lower_s = time.perf_counter() - start
    compiled = lowered.compile(compiler_options)
    compile_s = time.perf_counter() - start
    return Variant(compiled, params, state, batch, lower_s, compile_s)


def run_train_bench(
    quick: bool,
    *,
    config: Config | None = None,
    impls: tuple[str, ...] = IMPLS,
    rounds: int | None = None,
    compiler_options: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """Measures one full train step (forward, backward, AdamW) per implementation.

    Args:
        quick: the small model (d=64) and 5 rounds instead of the full one (d=256) and 10.
        config: another model size (``TINY`` is the tests'); overrides ``quick``'s.
        impls: the implementations to run, among ``IMPLS``.
        rounds: timed rounds (default: 5 with ``quick``, else 10).
        compiler_options: XLA compiler options for every step (default: none).
        progress: called with a line as each implementation compiles and is measured.

    Returns:
        One dict per implementation: ``case``, ``impl``, ``ms`` (median over the interleaved rounds
        of one step), ``compile_s`` (trace + lower + compile seconds), ``lower_s`` (trace + lower
        alone), ``losses`` (the losses of the first ``CHECK_STEPS`` steps, run before the timing from
        the same start in every implementation, so they agree across rows) and ``arrays``.
    """
    cfg = config or (QUICK if quick else FULL)
    rounds = rounds or (5 if quick else 10)
    say = progress or (lambda line: None)
    case = cfg.describe()
    variants: dict[str, Variant] = {}
    for impl in impls:
        variants[impl] = build(impl, cfg, compiler_options=compiler_options)
        variants[impl].run(CHECK_STEPS, record=True)
        say(f"{case}: {impl} compiled in {variants[impl].compile_s:.2f} s (lowered in {variants[impl].lower_s:.2f} s)")
    runners: dict[str, Runner] = {impl: v.run for impl, v in variants.items()}
    timings = interleaved(runners, rounds, 0.02 if jax.default_backend() == "gpu" else 0.0)
    rows = []
    for impl, v in variants.items():
        ms = 1e3 * timings[impl].median_s
        rows.append(
            {
                "case": case,
                "impl": impl,
                "ms": ms,
                "compile_s": v.compile_s,
                "lower_s": v.lower_s,
                "losses": v.losses,
                "arrays": cfg.num_arrays,
            }
        )
        say(f"{case}: {impl} {ms:.3f} ms")
    del variants, runners
    gc.collect()
    return rows
