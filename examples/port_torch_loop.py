"""A complete torch training loop and its jforeach port, run side by side on the same model.

One small MLP (float32, fixed seed, synthetic regression data) is trained twice with the loop a
torch user has: AdamW with two parameter groups (no weight decay on the biases), OneCycleLR (with
its cycled beta1), GradScaler loss scaling (one step gets an injected inf gradient and is skipped),
gradient clipping with the total norm logged, and an EMA of the parameters. torch 2.13 runs it on
the CPU; JAX runs it as one jitted step with the parameters, optimizer state and EMA donated.
Halfway, both save a checkpoint: jforeach resumes from its own (a pickle) and from torch's
(``state_dicts`` converted by ``jforeach.optim.state_from_torch``).

The table shows both runs step by step; the summary compares both float32 runs with torch's
float64 run of the same loop. ``docs/porting.md`` explains every piece.

Run:  python examples/port_torch_loop.py [--steps 50]
"""

from __future__ import annotations

import argparse
import io
import pickle
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import jforeach
import jforeach.amp
import jforeach.optim
import jforeach.transforms
from jforeach.optim import lr_scheduler, state_from_torch, swa_utils, torch_order

PyTree = Any


class Config(NamedTuple):
    """The loop's settings, the same for torch and jforeach."""

    steps: int = 50
    sizes: tuple[int, ...] = (8, 32, 32, 1)
    n_data: int = 256
    batch: int = 64
    max_lr: float = 0.02
    weight_decay: float = 0.1
    max_norm: float = 0.5
    init_scale: float = 2.0**10
    growth_interval: int = 8
    inf_step: int = 17  # this step's gradient gets an inf: GradScaler skips it
    ema_decay: float = 0.9
    resume_at: int = 30  # both sides checkpoint before this step
    seed: int = 0


def make_data(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of a smooth random function, float32, from a fixed seed."""
    rng = np.random.default_rng(cfg.seed)
    x = rng.standard_normal((cfg.n_data, cfg.sizes[0]))
    w = rng.standard_normal((cfg.sizes[0], cfg.sizes[-1])) / np.sqrt(cfg.sizes[0])
    y = np.sin(2.0 * x @ w) + 0.1 * np.cos(x[:, :1] * x[:, 1:2])
    return x.astype(np.float32), y.astype(np.float32)


def batch_of(cfg: Config, step: int) -> slice:
    start = (step * cfg.batch) % cfg.n_data
    return slice(start, start + cfg.batch)


# ---------------------------------------------------------------------------------------
# torch


class TorchMLP(torch.nn.Module):
    def __init__(self, sizes: tuple[int, ...]):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.tanh(layer(x))
        return self.layers[-1](x)


def torch_model(cfg: Config, dtype: torch.dtype = torch.float32) -> TorchMLP:
    """torch's default initialization from the seed, in float32 (float64 holds the same numbers)."""
    torch.manual_seed(cfg.seed)
    return TorchMLP(cfg.sizes).to(dtype)


def torch_param_names(model: torch.nn.Module) -> list[str]:
    """The parameters in the optimizer's order: the decayed group (weights), then the biases."""
    names = [name for name, _ in model.named_parameters()]
    return [n for n in names if n.endswith("weight")] + [n for n in names if not n.endswith("weight")]


def run_torch(cfg: Config, data: tuple[np.ndarray, np.ndarray], dtype: torch.dtype = torch.float32) -> dict:
    """The torch loop. Returns the per-step log, the final parameters and EMA, and the checkpoint."""
    x_all, y_all = (torch.from_numpy(a).to(dtype) for a in data)
    model = torch_model(cfg, dtype)
    params = dict(model.named_parameters())
    decay = [params[n] for n in torch_param_names(model) if n.endswith("weight")]
    no_decay = [params[n] for n in torch_param_names(model) if not n.endswith("weight")]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.max_lr,
        foreach=True,
    )
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.max_lr, total_steps=cfg.steps)
    scaler = torch.amp.GradScaler("cpu", init_scale=cfg.init_scale, growth_interval=cfg.growth_interval)
    ema = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema_decay)
    )
    log, checkpoint = [], None
    for step in range(cfg.steps):
        if step == cfg.resume_at:
            buffer = io.BytesIO()
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "scaler": scaler.state_dict(),
                    "ema": ema.state_dict(),
                },
                buffer,
            )
            checkpoint = buffer.getvalue()
        x, y = x_all[batch_of(cfg, step)], y_all[batch_of(cfg, step)]
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2)
        scaler.scale(loss).backward()
        if step == cfg.inf_step:
            with torch.no_grad():
                decay[0].grad[0, 0] = float("inf")
        scaler.unscale_(opt)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_norm)
        scale = scaler.get_scale()
        scaler.step(opt)  # skipped when unscale_ found an inf or NaN
        scaler.update()
        sched.step()
        ema.update_parameters(model)
        log.append(
            {
                "loss": loss.item(),
                "grad_norm": grad_norm.item(),
                "scale": scale,
                "skipped": scaler.get_scale() < scale,  # the scale backs off exactly on a skipped step
            }
        )
    return {
        "log": log,
        "params": {n: p.detach().numpy().copy() for n, p in model.named_parameters()},
        "ema": {n: p.detach().numpy().copy() for n, p in ema.module.named_parameters()},
        "checkpoint": checkpoint,
    }


# ---------------------------------------------------------------------------------------
# jforeach


def jax_params(named: dict[str, Any], cfg: Config) -> dict:
    """torch's ``named_parameters()`` (tensors or arrays) as the pytree ``{"layers": [{"weight", "bias"}]}``."""

    def array(value: Any) -> jax.Array:
        return jnp.asarray(np.asarray(value.detach().numpy() if hasattr(value, "detach") else value))

    return {
        "layers": [
            {"weight": array(named[f"layers.{i}.weight"]), "bias": array(named[f"layers.{i}.bias"])}
            for i in range(len(cfg.sizes) - 1)
        ]
    }


def grouped(params: dict) -> dict[str, jforeach.Packed]:
    """The Packed layout: one Packed per parameter group, ``{"decay": weights, "no_decay": biases}``."""
    layers = params["layers"]
    return {
        "decay": jforeach.pack([layer["weight"] for layer in layers]),
        "no_decay": jforeach.pack([layer["bias"] for layer in layers]),
    }


def as_tree(params: dict) -> dict:
    """The parameters (or gradients) as the plain tree, from either layout."""
    if not isinstance(params.get("decay"), jforeach.Packed):
        return params
    pairs = zip(params["decay"].unpack(), params["no_decay"].unpack(), strict=True)
    return {"layers": [{"weight": w, "bias": b} for w, b in pairs]}


def mlp(params: dict, x: jax.Array) -> jax.Array:
    params = as_tree(params)
    for layer in params["layers"][:-1]:
        x = jnp.tanh(x @ layer["weight"].T + layer["bias"])
    last = params["layers"][-1]
    return x @ last["weight"].T + last["bias"]


def loss_fn(params: dict, x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean((mlp(params, x) - y) ** 2)


def make_optimizer(cfg: Config) -> optax.GradientTransformation:
    """GradScaler around clipping and AdamW in two groups, its lr and beta1 from OneCycleLR.

    torch's scheduler steps on every iteration, a skipped one too, while AdamW's step counter
    does not move: the schedules are injected with ``inject_hyperparams``, whose count is the
    iteration's. (``grad_scaler`` advances the schedules' counters inside it on a skipped step as
    well, so ``jforeach.optim.adam(lr=sched, betas=(sched.momentum, 0.999))`` inside it would too.)
    """
    sched = lr_scheduler.OneCycleLR(cfg.max_lr, max_lr=cfg.max_lr, total_steps=cfg.steps)

    def scaled_adamw(lr: jax.Array, beta1: jax.Array) -> optax.GradientTransformation:
        betas = (lambda count: beta1, 0.999)  # beta1 may be a schedule: here the injected value
        # jforeach.optim.adamw(lr, betas, weight_decay) is this chain with the decay on every leaf
        adamw = optax.chain(
            jforeach.optim.adam(lr, betas),
            optax.masked(jforeach.transforms.add_decoupled_weight_decay(cfg.weight_decay, lr), decay_mask),
        )
        inner = optax.chain(jforeach.transforms.clip_by_norm(cfg.max_norm), adamw)
        return jforeach.amp.grad_scaler(inner, init_scale=cfg.init_scale, growth_interval=cfg.growth_interval)

    return optax.inject_hyperparams(scaled_adamw)(lr=sched, beta1=sched.momentum)


def decay_mask(params: dict) -> dict:
    """True for the weights (torch's first param_group), False for the biases; for the Packed
    layout a prefix of its tree (each group is one Packed: a mask cannot reach inside one)."""
    if isinstance(params.get("decay"), jforeach.Packed):
        return {"decay": True, "no_decay": False}
    return jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key == "weight", params)


def with_inf(grads: dict, poison: jax.Array) -> dict:
    """The gradients with ``layers.0.weight[0, 0]`` replaced by inf where ``poison`` (torch's injection)."""
    tree = as_tree(grads)
    layers = [dict(layer) for layer in tree["layers"]]
    first = layers[0]["weight"]
    layers[0]["weight"] = first.at[0, 0].set(jnp.where(poison, jnp.inf, first[0, 0]))
    return grouped({"layers": layers}) if tree is not grads else {"layers": layers}


def scaler_state(opt_state: Any) -> jforeach.amp.GradScalerState:
    return opt_state.inner_state  # inject_hyperparams' state holds the grad scaler's


def make_step(cfg: Config, tx: optax.GradientTransformation, ema: swa_utils.AveragedModel) -> Any:
    """The jitted training step; the parameters, optimizer state and EMA are donated."""

    def train_step(params: dict, opt_state: Any, ema_state: Any, x: jax.Array, y: jax.Array, poison: jax.Array):
        def scaled_loss(p: dict) -> tuple[jax.Array, jax.Array]:
            loss = loss_fn(p, x, y)
            return jforeach.amp.scale_loss(loss, scaler_state(opt_state)), loss

        grads, loss = jax.grad(scaled_loss, has_aux=True)(params)
        grads = with_inf(grads, poison)
        scale = scaler_state(opt_state).scale
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        ema_state = ema.update(ema_state, params)
        logged = {
            "loss": loss,
            "grad_norm": optax.tree_utils.tree_get(opt_state, "total_norm"),  # the last step that ran
            "scale": scale,
            "skipped": scaler_state(opt_state).found_inf > 0,
        }
        return params, opt_state, ema_state, logged

    return jax.jit(train_step, donate_argnums=(0, 1, 2))


class JaxRun(NamedTuple):
    log: list[dict]
    params: dict
    ema_state: swa_utils.AveragedParams
    checkpoint: bytes | None


def run_jforeach(
    cfg: Config, data: tuple[np.ndarray, np.ndarray], state: tuple[dict, Any, Any], start: int, step_fn: Any
) -> JaxRun:
    """Steps ``start .. cfg.steps - 1`` from ``state = (params, opt_state, ema_state)``; pickles the
    state before ``cfg.resume_at``."""
    x_all, y_all = (jnp.asarray(a) for a in data)
    params, opt_state, ema_state = state
    log, checkpoint = [], None
    for step in range(start, cfg.steps):
        if step == cfg.resume_at:
            checkpoint = pickle.dumps((params, opt_state, ema_state))  # before the step donates them
        x, y = x_all[batch_of(cfg, step)], y_all[batch_of(cfg, step)]
        params, opt_state, ema_state, logged = step_fn(params, opt_state, ema_state, x, y, step == cfg.inf_step)
        log.append({k: v.item() for k, v in jax.device_get(logged).items()})
    return JaxRun(log, params, ema_state, checkpoint)


def resume_from_torch(
    cfg: Config, checkpoint: bytes, tx: optax.GradientTransformation, ema: swa_utils.AveragedModel
) -> tuple[dict, Any, Any]:
    """jforeach's ``(params, opt_state, ema_state)`` from torch's checkpoint."""
    saved = torch.load(io.BytesIO(checkpoint))
    params = jax_params(saved["model"], cfg)
    order = torch_order(torch_param_names(torch_model(cfg)), params)
    template = tx.init(params)
    scaler = scaler_state(template)
    inner = state_from_torch(scaler.inner_state, saved["optimizer"], order)
    scaler = scaler._replace(
        scale=jnp.asarray(saved["scaler"]["scale"], jnp.float32),
        growth_tracker=jnp.asarray(saved["scaler"]["_growth_tracker"], jnp.int32),
        inner_state=inner,
    )
    # the schedules' count is the scheduler's (it stepped on the skipped step, AdamW did not)
    # (one array each: the step donates every buffer of the state, and one buffer cannot go twice)
    last_epoch = saved["scheduler"]["last_epoch"]
    opt_state = template._replace(
        count=jnp.asarray(last_epoch, jnp.int32),
        hyperparams_states={
            k: s._replace(count=jnp.asarray(last_epoch, jnp.int32)) for k, s in template.hyperparams_states.items()
        },
        inner_state=scaler,
    )
    named_ema = {k.removeprefix("module."): v for k, v in saved["ema"].items() if k.startswith("module.")}
    ema_template = ema.init(params)
    ema_state = swa_utils.AveragedParams(
        jax_params(named_ema, cfg),
        jnp.asarray(saved["ema"]["n_averaged"].item(), ema_template.n_averaged.dtype),
    )
    return params, opt_state, ema_state


def flat(params: dict) -> dict[str, np.ndarray]:
    """The JAX parameters (either layout) by torch's names."""
    layers = as_tree(params)["layers"]
    return {f"layers.{i}.{k}": np.asarray(layer[k]) for i, layer in enumerate(layers) for k in ("weight", "bias")}


def run_port(cfg: Config, torch_checkpoint: bytes | None, *, packed: bool = False) -> dict[str, JaxRun]:
    """jforeach's loop, its resume from its own pickle and (plain tree only) from torch's checkpoint."""
    data = make_data(cfg)
    tx = make_optimizer(cfg)
    ema = swa_utils.averaged_model(swa_utils.get_ema_multi_avg_fn(cfg.ema_decay))
    step_fn = make_step(cfg, tx, ema)
    params = jax_params(dict(torch_model(cfg).named_parameters()), cfg)
    if packed:
        params = grouped(params)
    full = run_jforeach(cfg, data, (params, tx.init(params), ema.init(params)), 0, step_fn)
    assert full.checkpoint is not None
    out = {
        "jforeach": full,
        "resumed_own": run_jforeach(cfg, data, pickle.loads(full.checkpoint), cfg.resume_at, step_fn),
    }
    if torch_checkpoint is not None and not packed:  # state_from_torch maps torch's parameters to tree leaves
        state = resume_from_torch(cfg, torch_checkpoint, tx, ema)
        out["resumed_from_torch"] = run_jforeach(cfg, data, state, cfg.resume_at, step_fn)
    return out


def run(cfg: Config | None = None, *, packed: bool = False) -> dict:
    """torch's float32 loop and its float64 reference run, then jforeach's (see :func:`run_port`)."""
    cfg = Config() if cfg is None else cfg
    data = make_data(cfg)
    torch32 = run_torch(cfg, data)
    torch64 = run_torch(cfg, data, torch.float64)
    return {"torch32": torch32, "torch64": torch64, **run_port(cfg, torch32["checkpoint"], packed=packed)}


def print_report(results: dict) -> None:
    """The side-by-side table, then the final parameter differences."""
    t, j = results["torch32"]["log"], results["jforeach"].log
    header = ("step", "torch loss", "jforeach loss", "torch norm", "jforeach norm", "scale", "skipped")
    print("  ".join(f"{h:>{w}}" for h, w in zip(header, (4, 12, 13, 10, 13, 5, 7), strict=True)))
    for step, (a, b) in enumerate(zip(t, j, strict=True)):
        scale = f"{a['scale']:g}" if a["scale"] == b["scale"] else f"{a['scale']:g}/{b['scale']:g}"
        skipped = {(False, False): "", (True, True): "yes"}.get((a["skipped"], b["skipped"]), "DIFFERENT")
        note = "*" if b["skipped"] else " "
        print(
            f"{step:4d}  {a['loss']:12.7f}  {b['loss']:13.7f}  {a['grad_norm']:10.6f}  {b['grad_norm']:12.6f}{note}  "
            f"{scale:>5}  {skipped:>7}"
        )
    print("* a skipped step runs no clipping: the state keeps the last total norm (torch returns the inf one)")

    def worst(params: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> float:
        return max(float(np.max(np.abs(params[k].astype(np.float64) - other[k]))) for k in other)

    t32, t64 = results["torch32"]["params"], results["torch64"]["params"]
    jf = flat(results["jforeach"].params)
    print(f"final max |param difference|, jforeach vs torch float32: {worst(jf, t32):.3g}")
    print(f"  from torch's float64 run: jforeach {worst(jf, t64):.3g}, torch float32 {worst(t32, t64):.3g}")
    own = flat(results["resumed_own"].params)
    print(f"resumed from jforeach's pickle: {worst(own, jf):.3g} from the run it left")
    if "resumed_from_torch" in results:
        ft = flat(results["resumed_from_torch"].params)
        print(
            f"resumed from torch's checkpoint: {worst(ft, t32):.3g} from torch float32, {worst(ft, t64):.3g} "
            "from torch float64"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Config()
    parser.add_argument("--steps", type=int, default=defaults.steps, help="number of training steps")
    parser.add_argument("--packed", action="store_true", help="one jforeach.Packed per parameter group")
    args = parser.parse_args()
    cfg = defaults._replace(steps=args.steps, resume_at=min(defaults.resume_at, args.steps - 1))
    print_report(run(cfg, packed=args.packed))


if __name__ == "__main__":
    main()
