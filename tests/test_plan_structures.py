"""A tree operand must have the structure of ``tensors``, also when an earlier call left a plan.

The per-call plan (``_engine._fast_call``) keys a call by its containers. A list of arrays and a
dict of as many arrays once shared a key, so after a list + list call had left its plan, a list +
dict call (and a dict + list one) was computed position by position instead of raising. Every
pairing of containers is checked here after each kind of earlier call, against numpy's values
where the structures agree and the structure error where they do not.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jforeach

SHAPES = [(3,), (2, 2), ()]


def _arrays(start: float) -> list[jax.Array]:
    return [jnp.asarray(start + np.arange(np.prod(s), dtype=np.float32).reshape(s)) for s in SHAPES]


CONTAINERS = {
    "list": lambda xs: list(xs),
    "tuple": lambda xs: tuple(xs),
    "dict": lambda xs: dict(zip("abc", xs, strict=True)),
    "dict of other keys": lambda xs: dict(zip("xyz", xs, strict=True)),
}
OPS = {
    "add": (lambda xs, ys: jforeach.add(xs, ys), lambda x, y: x + y),
    "add_": (lambda xs, ys: jforeach.add_(xs, ys), lambda x, y: x + y),
    "add_ alpha": (lambda xs, ys: jforeach.add_(xs, ys, alpha=2), lambda x, y: x + 2 * y),
    "lerp_": (lambda xs, ys: jforeach.lerp_(xs, ys, 0.25), lambda x, y: x + 0.25 * (y - x)),
}


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("earlier", [None, *CONTAINERS])
def test_every_pairing_of_containers_after_any_earlier_call(op, earlier):
    call, reference = OPS[op]
    for tensors_kind, other_kind in itertools.product(CONTAINERS, repeat=2):
        if earlier is not None:  # leave a plan: the same tensors container, with the earlier operand container
            warm = CONTAINERS[tensors_kind](_arrays(1.0))
            try:
                call(warm, CONTAINERS[earlier](_arrays(-2.0)))
            except ValueError:
                pass
        xs_host, ys_host = _arrays(1.0), _arrays(-2.0)
        xs = CONTAINERS[tensors_kind]([jnp.array(x, copy=True) for x in xs_host])
        ys = CONTAINERS[other_kind](ys_host)
        label = f"{op}: {tensors_kind} tensors, {other_kind} operand, after {earlier}"
        if jax.tree.structure(xs) != jax.tree.structure(ys):
            with pytest.raises(ValueError, match="differs from the structure of tensors") as info:
                call(xs, ys)
            assert str(jax.tree.structure(ys)) in str(info.value), label
            assert all(not x.is_deleted() for x in jax.tree.leaves(xs)), label  # nothing donated
            continue
        got = jax.tree.leaves(call(xs, ys))
        for g, x, y in zip(got, xs_host, ys_host, strict=True):
            want = reference(np.asarray(x, np.float64), np.asarray(y, np.float64)).astype(np.float32)
            assert np.all(np.abs(np.asarray(g) - want) <= np.spacing(np.abs(want))), (label, g, want)  # 1 ulp
