"""Train a small MLP on synthetic data with jforeach's AdamW on packed parameters.

The optimizer is ``optax.chain(jforeach.transforms.symlog(), jforeach.optim.adamw(...))``:
gradients are compressed with ``sign(g) * log1p(|g|)``, then AdamW updates the
parameters with torch's exact arithmetic. The parameters live in a ``jforeach.Packed``
(one flat buffer), so each optimizer step is a single fused loop over that buffer, and the
jitted train step donates the parameters and optimizer state so they are updated in place.

Run:  python examples/train_mlp.py --steps 300
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import optax
from tqdm import tqdm

import jforeach
import jforeach.optim
import jforeach.transforms


def make_data(key: jax.Array, n: int = 2048, dim: int = 16) -> tuple[jax.Array, jax.Array]:
    """Regression targets from a fixed random smooth function of the inputs."""
    kx, kw = jax.random.split(key)
    x = jax.random.normal(kx, (n, dim))
    w = jax.random.normal(kw, (dim, 1)) / jnp.sqrt(dim)
    y = jnp.sin(2.0 * x @ w) + 0.1 * jnp.cos(x[:, :1] * x[:, 1:2])
    return x, y


def init_mlp(key: jax.Array, sizes: tuple[int, ...] = (16, 64, 64, 1)) -> list[dict]:
    layers = []
    for k, (fan_in, fan_out) in zip(
        jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:], strict=True), strict=True
    ):
        w = jax.random.normal(k, (fan_in, fan_out)) * jnp.sqrt(2.0 / fan_in)
        layers.append({"w": w, "b": jnp.zeros(fan_out)})
    return layers


def mlp(params: list[dict], x: jax.Array) -> jax.Array:
    for layer in params[:-1]:
        x = jax.nn.gelu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss_fn(packed: jforeach.Packed, x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean((mlp(packed.unpack(), x) - y) ** 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="number of training steps")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    args = parser.parse_args()

    data_key, init_key = jax.random.split(jax.random.key(0))
    x, y = make_data(data_key)
    params = jforeach.pack(init_mlp(init_key))
    schedule = optax.warmup_cosine_decay_schedule(0.0, args.lr, max(args.steps // 20, 1), args.steps)
    tx = optax.chain(
        jforeach.transforms.symlog(),
        jforeach.optim.adamw(lr=schedule, weight_decay=1e-4),
    )
    opt_state = tx.init(params)

    def train_step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    # Donating params and opt_state lets XLA write the new values into their buffers; the
    # old `params` / `opt_state` must not be used after the call (they are rebound here).
    step = jax.jit(train_step, donate_argnums=(0, 1))

    print(f"{params.num_tensors} tensors, {sum(b.size for b in jax.tree.leaves(params))} floats")
    start = time.perf_counter()
    first = None
    with tqdm(range(args.steps), desc="train", unit="step") as bar:
        for i in bar:
            params, opt_state, loss = step(params, opt_state, x, y)
            if i % 25 == 0 or i == args.steps - 1:
                loss = float(loss)
                first = loss if first is None else first
                bar.set_postfix(loss=f"{loss:.4f}")
                if i % 100 == 0:
                    tqdm.write(f"step {i:5d}  loss {loss:.5f}")
    elapsed = time.perf_counter() - start
    print(f"loss {first:.5f} -> {float(loss):.5f} in {args.steps} steps ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
