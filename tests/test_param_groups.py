"""Parameter groups on a Packed: ``pack(group_by=...)``, ``Packed.labels`` / ``jforeach.labels`` for
``optax.masked`` and ``optax.multi_transform``, checked against torch.optim's ``param_groups``."""

from __future__ import annotations

import functools
import json
import pickle
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from _multidevice import REPO, env_with_devices
from _torch_ref import to_numpy, to_torch
from jax.sharding import PartitionSpec as P
from test_optim import _check_against_reference

import jforeach

# torch's names, in torch's registration order; JAX orders the dict keys alphabetically
NAMES = ["embed.weight", "l1.weight", "l1.bias", "norm.weight", "norm.bias", "l2.weight", "l2.bias"]
SHAPES = {
    "embed.weight": (5, 4),
    "l1.weight": (8, 4),
    "l1.bias": (8,),
    "norm.weight": (8,),
    "norm.bias": (8,),
    "l2.weight": (3, 8),
    "l2.bias": (3,),
}


def _tree(values: dict[str, np.ndarray]) -> dict:
    out: dict = {}
    for name, v in values.items():
        mod, leaf = name.split(".")
        out.setdefault(mod, {})[leaf] = jnp.asarray(v)
    return out


def _initial() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {n: rng.normal(size=s).astype(np.float32) for n, s in SHAPES.items()}


def _grads(steps: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    return [{n: rng.normal(size=s).astype(np.float32) for n, s in SHAPES.items()} for _ in range(steps)]


def decay(path, leaf) -> bool:
    """The transformer recipe: weight decay on matrices, none on biases and norms."""
    return leaf.ndim >= 2 and path[0].key != "norm"


def group(path, leaf) -> str:
    return "decay" if decay(path, leaf) else "no_decay"


def _flat(tree: dict) -> dict[str, np.ndarray]:
    return {f"{mod}.{leaf}": np.asarray(v) for mod, sub in tree.items() for leaf, v in sub.items()}


# -- layouts -------------------------------------------------------------------------------------


def test_group_by_gives_each_label_its_buffers():
    params = _tree(_initial())
    params["step"] = jnp.array(3, jnp.int32)
    p = jforeach.pack(params, group_by=lambda path, leaf: path[0].key == "step" or decay(path, leaf))
    # leaf order: embed.weight, l1.bias, l1.weight, l2.bias, l2.weight, norm.bias, norm.weight, step
    assert [(g.label, g.dtype.name, g.members) for g in p.layout.groups] == [
        (True, "float32", (0, 2, 4)),
        (False, "float32", (1, 3, 5, 6)),
        (True, "int32", (7,)),
    ]
    assert [g.length for g in p.layout.groups] == [20 + 32 + 24, 8 + 3 + 8 + 8, 1]
    assert repr(p.layout) == "Layout(8 tensors in float32[76] True, float32[27] False, int32[1] True)"
    assert "labels=[True, False, True]" in repr(p)
    jax.tree.map(np.testing.assert_array_equal, p.unpack(), params)


def test_group_by_forms_agree_and_default_is_unchanged():
    params = _tree(_initial())
    by_callable = jforeach.pack(params, group_by=group).layout
    by_tree = jforeach.pack(params, group_by=jax.tree_util.tree_map_with_path(group, params)).layout
    linear = {"weight": "decay", "bias": "no_decay"}
    by_prefix = jforeach.pack(params, group_by={"embed": "decay", "l1": linear, "l2": linear, "norm": "no_decay"})
    assert by_callable is by_tree is by_prefix.layout  # equal layouts are one object
    default = jforeach.pack(params).layout
    assert [g.label for g in default.groups] == [None] and len(default.groups) == 1
    one_label = jforeach.pack(params, group_by=lambda path, leaf: "all").layout
    # same buffers, another label: a different layout (a Packed of one cannot meet a Packed of the other)
    assert [g.members for g in one_label.groups] == [g.members for g in default.groups]
    assert one_label != default and hash(one_label) != hash(default)
    with pytest.raises(ValueError, match="different layouts"):
        jforeach.add(jforeach.pack(params), jforeach.pack(params, group_by=lambda path, leaf: "all"))


def test_group_by_errors():
    params = _tree(_initial())
    with pytest.raises(ValueError, match=r"`jforeach.pack`: group_by must have the structure"):
        jforeach.pack(params, group_by={"embed": True})
    with pytest.raises(TypeError, match=r"`jforeach.pack`: group_by gives tensor \['embed'\]\['weight'\] the label"):
        jforeach.pack(params, group_by=lambda path, leaf: leaf)  # an array is no label


def test_labels_in_the_packed_structure():
    params = _tree(_initial())
    p = jforeach.pack(params, group_by=group)
    labels = p.labels(group)
    assert jax.tree.structure(labels) == jax.tree.structure(p)
    assert jax.tree.leaves(labels) == ["decay", "no_decay"]
    assert jax.tree.leaves(jforeach.labels(p, decay)) == [True, False]  # coarser labels than the buffers'
    # the plain tree: the labels as optax takes them
    assert jforeach.labels(params, group) == jax.tree_util.tree_map_with_path(group, params)
    mask = {"embed": True, "l1": {"bias": False, "weight": True}, "l2": False, "norm": False}
    assert jforeach.labels(params, mask) is mask


def test_labels_of_a_buffer_with_mixed_labels_name_the_tensors():
    p = jforeach.pack(_tree(_initial()))  # no group_by: one buffer
    with pytest.raises(ValueError) as info:
        p.labels(decay)
    assert str(info.value) == (
        "`jforeach.Packed.labels`: buffer 0 (float32) holds tensors with different labels: ['embed']['weight'] "
        "is True and ['l1']['bias'] is False; pack with `jforeach.pack(tree, group_by=<the same labels>)` so that "
        "every buffer holds one label"
    )
    with pytest.raises(ValueError, match="`jforeach.labels`|`jforeach.Packed.labels`"):
        jforeach.labels(p, group)


# -- ops on a grouped Packed: the same values as torch's foreach ops on the tensors ----------------


@pytest.mark.parametrize("name", ["add", "mul", "addcmul", "lerp", "sqrt", "norm", "max"])
def test_ops_on_a_grouped_packed_match_torch(name):
    values = _initial()
    values = {n: np.abs(v) + 0.5 for n, v in values.items()}
    other = {n: (v * 0.25 - 0.1).astype(np.float32) for n, v in values.items()}
    p = jforeach.pack(_tree(values), group_by=group)
    q = jforeach.pack(_tree(other), group_by=group)
    ts = [to_torch(values[n]) for n in NAMES]
    us = [to_torch(other[n]) for n in NAMES]
    weights = [0.5 + i / 10 for i in range(len(NAMES))]  # a ScalarList in leaf order
    leaf_order = sorted(NAMES)
    by_leaf = [weights[leaf_order.index(n)] for n in NAMES]
    got, want = {
        "add": lambda: (jforeach.add(p, q, alpha=2.0), torch._foreach_add(ts, us, alpha=2.0)),
        "mul": lambda: (jforeach.mul(p, weights), torch._foreach_mul(ts, by_leaf)),
        "addcmul": lambda: (jforeach.addcmul(p, q, q, value=0.3), torch._foreach_addcmul(ts, us, us, value=0.3)),
        "lerp": lambda: (jforeach.lerp(p, q, 0.25), torch._foreach_lerp(ts, us, 0.25)),
        "sqrt": lambda: (jforeach.sqrt(p), torch._foreach_sqrt(ts)),
        "norm": lambda: (jforeach.norm(p), torch._foreach_norm(ts)),
        "max": lambda: (jforeach.max(p), torch._foreach_max(ts)),
    }[name]()
    assert got.layout.groups[0].label == "decay"
    flat = _flat(got.unpack())
    for n, w in zip(NAMES, want, strict=True):
        # elementwise ops: each float32 operation of torch's order within 1 ulp (torch's own sqrt is 1 ulp
        # off the correctly rounded value on AMD's AVX-512 CPUs, where XLA's is exact); norms: a few ulps
        if name == "norm":
            np.testing.assert_allclose(flat[n], to_numpy(w), rtol=4 * np.finfo(np.float32).eps, err_msg=f"{name} {n}")
        else:
            np.testing.assert_array_max_ulp(flat[n], to_numpy(w), maxulp=1)


def test_in_place_op_on_grouped_packed_donates():
    p = jforeach.pack(_tree(_initial()), group_by=group)
    old = p.buffers
    jforeach.mul_(p, 0.5)
    assert all(b.is_deleted() for b in old)
    got = _flat(p.unpack())
    for n, v in _initial().items():
        np.testing.assert_array_equal(got[n], v * np.float32(0.5))


# -- optimizers with parameter groups, against torch.optim's param_groups --------------------------

STEPS = 10


def _torch_run(make_opt, dtype, *, clip=None):
    """torch's trajectory in ``dtype``: the parameters after each of STEPS steps, in torch's order."""
    params = [torch.nn.Parameter(to_torch(_initial()[n]).to(dtype)) for n in NAMES]
    opt = make_opt(dict(zip(NAMES, params, strict=True)))
    for grads in _grads(STEPS):
        for t, n in zip(params, NAMES, strict=True):
            t.grad = to_torch(grads[n]).to(dtype)
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip, foreach=True)
        opt.step()
    return {n: to_numpy(t).astype(np.float64) for n, t in zip(NAMES, params, strict=True)}, opt


def _jax_run(tx, packed: bool):
    params = _tree(_initial())
    if packed:
        params = jforeach.pack(params, group_by=group)
    state = tx.init(params)
    traces = []

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params, state, grads):
        traces.append(1)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for g in _grads(STEPS):
        grads = _tree(g)
        if packed:
            grads = jforeach.pack(grads, group_by=group)
        old = params.buffers if packed else jax.tree.leaves(params)
        params, state = step(params, state, grads)
        assert all(b.is_deleted() for b in old)  # the step ran in the donated buffers
    assert len(traces) == 1
    return _flat(params.unpack() if packed else params), state


def _groups_of(named):
    decay_names = [n for n in NAMES if n.endswith("weight") and not n.startswith("norm")]
    return [named[n] for n in decay_names], [named[n] for n in NAMES if n not in decay_names]


def _check(what, got, torch32, torch64):
    start = _initial()
    for n in NAMES:
        _check_against_reference(f"{what} {n}", got[n], torch32[n], torch64[n], start=start[n])


@pytest.mark.parametrize("packed", [False, True], ids=["tree", "packed"])
def test_multi_transform_is_torch_param_groups(packed):
    """torch.optim.AdamW with two groups of different lr, weight_decay and betas is
    ``optax.multi_transform`` of two ``jforeach.optim.adamw``, labelled by ``jforeach.labels``."""
    tx = optax.multi_transform(
        {
            "decay": jforeach.optim.adamw(lr=0.01, weight_decay=0.1),
            "no_decay": jforeach.optim.adamw(lr=0.02, betas=(0.8, 0.99), weight_decay=0.0),
        },
        param_labels=lambda p: jforeach.labels(p, group),
    )

    def make(named):
        decay_params, other = _groups_of(named)
        groups = [
            {"params": decay_params, "lr": 0.01, "weight_decay": 0.1},
            {"params": other, "lr": 0.02, "betas": (0.8, 0.99), "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, foreach=True)

    got, _ = _jax_run(tx, packed)
    (t32, _), (t64, _) = _torch_run(make, torch.float32), _torch_run(make, torch.float64)
    _check("AdamW groups", got, t32, t64)


@pytest.mark.parametrize("packed", [False, True], ids=["tree", "packed"])
def test_masked_decay_after_clipping_is_torch_param_groups(packed):
    """clip_grad_norm_ and torch.optim.Adam whose no-decay group has weight_decay=0: clipping, then
    ``optax.add_decayed_weights`` masked by ``jforeach.labels``, then Adam. The decay is L2 here, as in
    torch's Adam (grad + wd * param); ``state_to_torch`` carries the state over to that optimizer."""
    tx = optax.chain(
        jforeach.transforms.clip_by_norm(1.0),
        optax.add_decayed_weights(0.1, mask=lambda p: jforeach.labels(p, decay)),
        jforeach.optim.adam(lr=0.05),
    )

    def make(named):
        decay_params, other = _groups_of(named)
        groups = [{"params": decay_params, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}]
        return torch.optim.Adam(groups, lr=0.05, foreach=True)

    got, state = _jax_run(tx, packed)
    (t32, opt32), (t64, _) = _torch_run(make, torch.float32, clip=1.0), _torch_run(make, torch.float64, clip=1.0)
    _check("Adam groups", got, t32, t64)

    # the state goes to a torch Adam with the same groups, whose parameters are ours: one more step agrees
    leaf_order = sorted(NAMES)
    decay_names = [n for n in NAMES if n.endswith("weight") and not n.startswith("norm")]
    torch_order_names = decay_names + [n for n in NAMES if n not in decay_names]  # the groups' order
    order = [leaf_order.index(n) for n in torch_order_names]
    params = [torch.nn.Parameter(torch.from_numpy(got[n].copy())) for n in NAMES]
    fresh = make(dict(zip(NAMES, params, strict=True)))
    sd = jforeach.optim.state_to_torch(state, order, param_groups=fresh.state_dict()["param_groups"])
    fresh.load_state_dict(sd)
    theirs = opt32.state_dict()["state"]
    for i, n in enumerate(torch_order_names):
        mine = fresh.state_dict()["state"][i]
        assert float(mine["step"]) == float(theirs[i]["step"]) == STEPS, n
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(to_numpy(mine[key]), to_numpy(theirs[i][key]), rtol=1e-4, atol=1e-6)


def test_a_torch_group_that_fits_no_multi_transform_label_is_an_error():
    """A multi_transform state converts label by label (tests/test_state_dict.py); a torch group that is
    not exactly one label's parameters (here all seven in one group) is refused, not written wrongly."""
    params = jforeach.pack(_tree(_initial()), group_by=group)
    tx = optax.multi_transform(
        {"decay": jforeach.optim.adamw(lr=0.01), "no_decay": jforeach.optim.adamw(lr=0.02, weight_decay=0.0)},
        param_labels=lambda p: jforeach.labels(p, group),
    )
    state = tx.init(params)
    with pytest.raises(ValueError, match="fits no optax.multi_transform label"):
        jforeach.optim.state_to_torch(state, param_groups=[{"params": list(range(7)), "lr": 0.01}])


def test_grouped_packed_under_masked_keeps_its_groups():
    """Inside optax.masked the Packed's other groups are ``optax.MaskedNode()``: ops run on the rest,
    the structure survives pickling, and unpack shows the masked tensors as masked."""
    p = jforeach.pack(_tree(_initial()), group_by=group)
    masked = jax.tree.map(lambda m, b: b if m else optax.MaskedNode(), p.labels(decay), p)
    assert jax.tree.structure(masked) != jax.tree.structure(p)
    assert [g.label for g in masked.layout.groups] == ["decay"]
    doubled = jforeach.mul(masked, 2.0)
    assert jax.tree.structure(doubled) == jax.tree.structure(masked)
    tree = doubled.unpack()
    assert isinstance(tree["l1"]["bias"], optax.MaskedNode)
    np.testing.assert_array_equal(tree["l1"]["weight"], 2 * _initial()["l1.weight"])
    again = pickle.loads(pickle.dumps(doubled))
    assert jax.tree.structure(again) == jax.tree.structure(doubled)


_SHARDED = """
import functools, json, jax, jax.numpy as jnp, numpy as np, optax, jforeach
from jax.sharding import PartitionSpec as P
rng = np.random.default_rng(0)
tree = {"w": rng.normal(size=(5, 7)).astype(np.float32), "b": rng.normal(size=7).astype(np.float32),
        "ln": {"scale": np.ones(3, np.float32)}}
decay = lambda path, leaf: leaf.ndim >= 2
def run(params):
    tx = optax.multi_transform(
        {True: jforeach.optim.adamw(lr=0.1, weight_decay=0.1), False: jforeach.optim.adamw(lr=0.2, weight_decay=0.0)},
        param_labels=lambda p: jforeach.labels(p, decay))
    state = tx.init(params)
    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(p, s):
        loss = lambda q: sum(jnp.sum(jnp.sin(x)) for x in jax.tree.leaves(
            q.unpack() if isinstance(q, jforeach.Packed) else q))
        u, s = tx.update(jax.grad(loss)(p), s, p)
        return optax.apply_updates(p, u), s
    for _ in range(3):
        params, state = step(params, state)
    return params
want = run(jax.tree.map(jnp.asarray, tree))
with jax.set_mesh(jax.make_mesh((8,), ("data",))):  # Explicit axes, jax's default
    p = jforeach.pack(tree, group_by=decay, sharding=P("data"))
    out = run(p)
    specs = [str(b.sharding.spec) for b in out.buffers]
    pieces = [b.addressable_shards[0].data.shape[0] * 8 == b.shape[0] for b in out.buffers]
    got = out.unpack()
rel = lambda a, b: float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b))))
diff = jax.tree.map(rel, got, want)
print("RESULT", json.dumps({"labels": out.group_labels, "specs": specs, "pieces": pieces, "diff": diff}))
"""


def test_grouped_packed_sharded_over_8_devices():
    """A grouped Packed sharded over 8 devices (an Explicit mesh) trains with per-group AdamW as the
    plain tree does on one device, its buffers staying split over the devices."""
    proc = subprocess.run(
        [sys.executable, "-c", _SHARDED], env=env_with_devices(8), capture_output=True, text=True, timeout=400, cwd=REPO
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    assert result["labels"] == [False, True]
    assert result["specs"] == [str(P("data"))] * 2 and all(result["pieces"])
    # elementwise AdamW on the same gradients: the same float32 operations, a few ulps at most
    assert max(jax.tree.leaves(result["diff"])) <= 4 * np.finfo(np.float32).eps, result["diff"]
