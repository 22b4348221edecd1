"""jforeach.optim.swa_utils against torch 2.13's swa_utils.

The averaging functions run torch's foreach ops (``lerp_``), so jforeach's results must equal
torch's to the ops' own tolerance (``tests/_torch_ref.TOLERANCE``: about two ulps, per update;
over 15 updates the averages stay within that, since each update is a contraction).
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _torch_ref import TOLERANCE

import jforeach
from jforeach import lr_scheduler as jls
from jforeach import swa_utils

SHAPES = [(3,), (2, 4), ()]
STEPS = 15


def _currents(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]


def _close(got, want, dtype, context):
    rtol, atol = TOLERANCE[dtype]
    for g, w in zip(got, want, strict=True):
        assert np.asarray(g).dtype == w.numpy().dtype, context
        np.testing.assert_allclose(np.asarray(g), w.numpy(), rtol=rtol, atol=atol, err_msg=context)


FNS = {
    "swa": (swa_utils.get_swa_multi_avg_fn, torch.optim.swa_utils.get_swa_multi_avg_fn),
    "ema-0.7": (
        lambda: swa_utils.get_ema_multi_avg_fn(0.7),
        lambda: torch.optim.swa_utils.get_ema_multi_avg_fn(0.7),
    ),
    "ema-0": (lambda: swa_utils.get_ema_multi_avg_fn(0.0), lambda: torch.optim.swa_utils.get_ema_multi_avg_fn(0.0)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("counter", ["int", "array"])
@pytest.mark.parametrize("fn", sorted(FNS))
@pytest.mark.parametrize("layout", ["list", "packed"])
def test_multi_avg_fn_matches_torch(fn, counter, dtype, layout):
    """From num_averaged == 0 on; an array counter is torch's tensor one (a float32 weight)."""
    make_jf, make_torch = FNS[fn]
    jf_fn, torch_fn = make_jf(), make_torch()
    currents = _currents(dtype)
    want = [torch.from_numpy(x.copy()) for x in _currents(dtype, seed=1)[0]]
    start = [jnp.asarray(x) for x in _currents(dtype, seed=1)[0]]
    got = jforeach.pack(start) if layout == "packed" else start
    for n, current in enumerate(currents):
        torch_fn(want, [torch.from_numpy(x) for x in current], torch.tensor(n) if counter == "array" else n)
        before = got.buffers[0] if layout == "packed" else got[0]
        current_jf = [jnp.asarray(x) for x in current]
        current_jf = jforeach.pack(current_jf) if layout == "packed" else current_jf
        result = jf_fn(got, current_jf, jnp.asarray(n) if counter == "array" else n)
        assert result is got  # in place: the caller's container holds the new arrays
        assert (got.buffers[0] if layout == "packed" else got[0]) is not before
        leaves = got.unpack() if layout == "packed" else got
        _close(leaves, want, dtype, f"{fn} step {n}")


def test_swa_weight_follows_torchs_types():
    """Python int: the float64 weight 1/3; a tensor counter: the float32 1/3, on float64 tensors."""
    for n, weight in [(2, 1 / 3), (np.int64(2), 1 / 3), (jnp.asarray(2), float(np.float32(1) / np.float32(3)))]:
        avg = [jnp.zeros(2, jnp.float64)]
        swa_utils.get_swa_multi_avg_fn()(avg, [jnp.ones(2, jnp.float64)], n)
        want = [torch.zeros(2, dtype=torch.float64)]
        torch.optim.swa_utils.get_swa_multi_avg_fn()(
            want, [torch.ones(2, dtype=torch.float64)], torch.tensor(2) if isinstance(n, jax.Array) else int(n)
        )
        assert float(avg[0][0]) == want[0][0].item() == weight


def test_integer_tensors():
    """EMA: torch's float32 blend, truncated by copy_; SWA: torch raises, so does jforeach."""
    ema_t = [torch.tensor([0, 3, -3, 50], dtype=torch.int64)]
    ema_j = [jnp.asarray([0, 3, -3, 50], jnp.int64)]
    for current in ([7, -7, 100, 9], [1, 2, 3, -40], [1000, -1000, 0, 5]):
        torch.optim.swa_utils.get_ema_multi_avg_fn(0.9)(ema_t, [torch.tensor(current)], 0)
        swa_utils.get_ema_multi_avg_fn(0.9)(ema_j, [jnp.asarray(current, jnp.int64)], 0)
        np.testing.assert_array_equal(np.asarray(ema_j[0]), ema_t[0].numpy())
        assert ema_j[0].dtype == jnp.int64
    with pytest.raises(RuntimeError):
        torch.optim.swa_utils.get_swa_multi_avg_fn()([torch.zeros(2, dtype=torch.int64)], [torch.ones(2)], 1)
    with pytest.raises(TypeError, match=r"`jforeach.optim.swa_utils.get_swa_multi_avg_fn`: integer tensors"):
        swa_utils.get_swa_multi_avg_fn()([jnp.zeros(2, jnp.int64)], [jnp.ones(2, jnp.int64)], 1)
    with pytest.raises(ValueError, match="mix floating and integer dtypes"):
        swa_utils.get_ema_multi_avg_fn()([jnp.zeros(2), jnp.zeros(2, jnp.int32)], [jnp.ones(2), jnp.ones(2)], 1)


@pytest.mark.parametrize("decay", [-0.1, 1.5])
def test_bad_decay_raises_like_torch(decay):
    with pytest.raises(ValueError, match="Invalid decay value"):
        torch.optim.swa_utils.get_ema_multi_avg_fn(decay)
    with pytest.raises(ValueError, match=r"^`jforeach.optim.swa_utils.get_ema_multi_avg_fn`: Invalid decay value"):
        swa_utils.get_ema_multi_avg_fn(decay)


class _Net(torch.nn.Module):
    def __init__(self, dtype):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2).to(dtype)
        self.register_buffer("stat", torch.zeros(2, dtype=dtype))  # a batch-norm-like statistic


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("avg", ["swa", "ema"])
@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("layout", ["tree", "packed"])
def test_averaged_model_matches_torch(dtype, avg, use_buffers, layout):
    """torch's AveragedModel.update_parameters vs jforeach's functional update under jit."""
    torch.manual_seed(0)
    net = _Net(getattr(torch, dtype))
    torch_fn = torch.optim.swa_utils.get_ema_multi_avg_fn(0.8) if avg == "ema" else None
    averaged = torch.optim.swa_utils.AveragedModel(net, multi_avg_fn=torch_fn, use_buffers=use_buffers)
    jf = swa_utils.averaged_model(swa_utils.get_ema_multi_avg_fn(0.8) if avg == "ema" else None)

    def tree():
        params = {k: jnp.asarray(v.detach().numpy()) for k, v in net.lin.named_parameters()}
        return {"params": params, "stat": jnp.asarray(net.stat.numpy())} if use_buffers else params

    def pack(t):
        return jforeach.pack(t) if layout == "packed" else t

    state = jf.init(pack(tree()))
    update = jax.jit(jf.update)
    rng = np.random.default_rng(1)
    for _ in range(12):
        with torch.no_grad():
            for v in [*net.lin.parameters(), net.stat]:
                v.add_(torch.from_numpy(rng.normal(size=v.shape).astype(dtype)))
        averaged.update_parameters(net)
        state = update(state, pack(tree()))
        got = state.params.unpack() if layout == "packed" else state.params
        if use_buffers:
            _close([got["stat"]], [averaged.module.stat], dtype, "stat")
            got = got["params"]
        want = dict(averaged.module.lin.named_parameters())
        _close([got[k] for k in sorted(got)], [want[k].detach() for k in sorted(got)], dtype, f"{avg}")
        assert int(state.n_averaged) == int(averaged.n_averaged)


SWALR_CASES = [
    dict(swa_lr=0.05),
    dict(swa_lr=0.01, anneal_epochs=3, anneal_strategy="linear"),
    dict(swa_lr=0.3, anneal_epochs=50),
    dict(swa_lr=0.02, anneal_epochs=0),
    dict(swa_lr=0.02, anneal_epochs=1, anneal_strategy="linear"),
]


def _torch_lrs(build, n=200, lr=0.1):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr)
    with warnings.catch_warnings():  # torch's advice about call order is not under test
        warnings.simplefilter("ignore", UserWarning)
        sched = build(opt)
        lrs = [sched.get_last_lr()[0]]
        for _ in range(n):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr()[0])
    return np.array(lrs)


@pytest.mark.parametrize("kwargs", SWALR_CASES, ids=str)
def test_swalr_matches_torch(kwargs):
    want = _torch_lrs(lambda o: torch.optim.swa_utils.SWALR(o, **kwargs))
    sched = swa_utils.SWALR(0.1, **kwargs)
    np.testing.assert_array_equal(np.array([sched(k) for k in range(len(want))]), want)
    got = jax.jit(jax.vmap(sched))(jnp.arange(len(want), dtype=jnp.int32))
    np.testing.assert_array_equal(np.asarray(got), want)  # a table lookup: exact


def test_swalr_after_another_schedule_in_sequential_lr():
    """torch's SWALR anneals from the lr it finds at the milestone; SequentialLR restarts it so."""
    want = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.SequentialLR(
            o, [torch.optim.lr_scheduler.ExponentialLR(o, 0.97), torch.optim.swa_utils.SWALR(o, 0.01, 20)], [60]
        )
    )
    sched = jls.SequentialLR(0.1, [jls.ExponentialLR(0.1, 0.97), swa_utils.SWALR(0.1, 0.01, 20)], [60])
    np.testing.assert_array_equal(np.array([sched(k) for k in range(len(want))]), want)
    got = jax.jit(jax.vmap(sched))(jnp.arange(len(want), dtype=jnp.int32))
    np.testing.assert_array_equal(np.asarray(got), want)
    # the documented alternative: SWALR started at the lr the first schedule reached
    decay, swalr = jls.ExponentialLR(0.1, 0.97), swa_utils.SWALR(jls.ExponentialLR(0.1, 0.97)(59), 0.01, 20)
    np.testing.assert_array_equal([swalr(k - 60) if k >= 60 else decay(k) for k in range(201)], want)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(anneal_strategy="exp"), "anneal_strategy must be one of"),
        (dict(anneal_epochs=-1), "anneal_epochs must be equal or greater than 0"),
        (dict(anneal_epochs=2.5), "anneal_epochs must be equal or greater than 0"),
    ],
)
def test_swalr_bad_arguments_raise_like_torch(kwargs, message):
    p = torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(ValueError, match=message):
        torch.optim.swa_utils.SWALR(torch.optim.SGD([p], lr=0.1), 0.05, **kwargs)
    with pytest.raises(ValueError, match=r"^`jforeach.optim.swa_utils.SWALR`: " + message):
        swa_utils.SWALR(0.1, 0.05, **kwargs)
