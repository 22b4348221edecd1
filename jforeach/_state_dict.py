"""torch.optim ``state_dict()`` <-> the state of a :mod:`jforeach.optim` optimizer.

jforeach keeps an optimizer's per-parameter state in NamedTuple states defined in jforeach: the
transforms' states have optax's names (``ScaleByAdamState(count, mu, nu)``, ``TraceState``, ...),
the other optimizers' states torch's (``NAdamState(count, exp_avg, exp_avg_sq, mu_product)``, ...).
One table, :data:`_TORCH_KEYS`, names the torch state key of each of their fields
(``ScaleByAdamState.mu`` is ``exp_avg``), and both directions use it; a jforeach state that holds
per-parameter values but is not in the table is an error. Each field holds a tree with the
parameters' structure, or a :class:`jforeach.Packed` of their layout, or (for a value torch keeps
per parameter but equal for all, NAdam's ``mu_product``) one 0-d array. Other states
(``clip_by_norm``'s total norm, a grad scaler's, optax's own) are not torch's optimizer state and
are left alone. torch's ``step`` is jforeach's step counters: every ``count`` field of the state
(jforeach's states, ``optax.ScaleByScheduleState`` of a learning-rate schedule,
``optax.inject_hyperparams``' count). The conversions work on any state built
that way, whatever the optimizer, wherever it sits in an ``optax.chain``, ``inject_hyperparams`` or
another wrapper; nothing here imports torch (tensors are read duck-typed, and :func:`state_to_torch`
imports torch only when it makes tensors itself).

torch's ``param_groups`` are the labels of an ``optax.multi_transform`` state: each label's state
converts with that label's groups (its masked trees, or a grouped Packed's buffers, hold only its
parameters).

torch numbers parameters in ``named_parameters()`` order, JAX orders dict keys alphabetically:
``order[i]`` is the leaf index (in the parameters' leaf order) of torch's parameter ``i``, and
:func:`torch_order` builds it from torch's names and the JAX tree.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jforeach import _optim_more, transforms
from jforeach import packed as _packed

__all__ = ["state_from_torch", "state_to_torch", "torch_order"]

PyTree = Any

_FROM = "`jforeach.optim.state_from_torch`"
_TO = "`jforeach.optim.state_to_torch`"
_ORDER = "`jforeach.optim.torch_order`"
# torch's SGD is the one torch.optim optimizer that keeps no ``step``: its only state is this
# buffer, and ``None`` (or no state) means "start the buffer from the next gradient".
_SGD_ONLY_KEY = "momentum_buffer"
_HYPERPARAM_STATES = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)
# Every optimizer state jforeach knows: the torch state key of each of its fields but ``count`` (torch's
# ``step``, which every step counter of the state gives), in torch's order of its state keys.
_TORCH_KEYS: dict[type, dict[str, str]] = {
    transforms.ScaleByAdamState: {"mu": "exp_avg", "nu": "exp_avg_sq"},
    transforms.ScaleByAmsgradState: {"mu": "exp_avg", "nu": "exp_avg_sq", "nu_max": "max_exp_avg_sq"},
    transforms.TraceState: {"trace": "momentum_buffer"},
    transforms.ScaleByRmsState: {"nu": "square_avg"},
    transforms.ScaleByRStdDevState: {"nu": "square_avg", "mu": "grad_avg"},
    transforms.ScaleByRssState: {"sum_of_squares": "sum"},
    _optim_more.AdadeltaState: {"square_avg": "square_avg", "acc_delta": "acc_delta"},
    _optim_more.AdamaxState: {"exp_avg": "exp_avg", "exp_inf": "exp_inf"},
    _optim_more.NAdamState: {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq", "mu_product": "mu_product"},
    _optim_more.RAdamState: {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"},
    _optim_more.RpropState: {"prev": "prev", "step_size": "step_size"},
    _optim_more.AsgdState: {"eta": "eta", "mu": "mu", "ax": "ax"},
    _optim_more.AdafactorState: {"row_var": "row_var", "col_var": "col_var", "variance": "variance"},
    _optim_more.MuonState: {"momentum_buffer": "momentum_buffer"},
}
_KEY_TYPES = (
    jax.tree_util.DictKey,
    jax.tree_util.GetAttrKey,
    jax.tree_util.SequenceKey,
    jax.tree_util.FlattenedIndexKey,
)


# ---------------------------------------------------------------------------------------
# the state's anatomy


def _is_namedtuple(node: Any) -> bool:
    return isinstance(node, tuple) and hasattr(node, "_fields")


def _is_jforeach_state(node: Any) -> bool:
    return _is_namedtuple(node) and type(node).__module__.split(".")[0] == "jforeach"


def _holders(key: str) -> list[str]:
    """The known states with a field for torch's ``key``, as ``Type.field``."""
    return [f"{t.__name__}.{f}" for t, keys in _TORCH_KEYS.items() for f, k in keys.items() if k == key]


def _is_counter(value: Any) -> bool:
    return hasattr(value, "dtype") and np.ndim(value) == 0 and jnp.issubdtype(value.dtype, jnp.integer)


def _nodes(state: PyTree) -> list[Any]:
    """Every NamedTuple of the state, depth first (in chains, wrappers, dicts)."""
    out: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, _packed.Packed | optax.MaskedNode) or node is None:
            return
        if _is_namedtuple(node):
            out.append(node)
        if isinstance(node, tuple | list):
            for child in node:
                visit(child)
        elif isinstance(node, Mapping):
            for child in node.values():
                visit(child)

    visit(state)
    return out


def _signature(value: Any) -> Any:
    if isinstance(value, _packed.Packed):
        return value.layout
    leaves, treedef = jax.tree.flatten(value)
    return treedef, tuple(np.shape(leaf) for leaf in leaves)


class _Anatomy:
    """Where a state keeps torch's per-parameter state, and the parameters' structure.

    The optimizer's states are the states of :data:`_TORCH_KEYS` that hold a field with the
    parameters' structure (and shapes) or a Packed of their layout: the table names the torch state
    key of each of their fields other than ``count`` (a 0-d field is a value torch keeps per
    parameter and jforeach once). The parameters' structure is the most common one among the largest
    fields of those states; other states (``clip_by_norm``'s total norm, a grad scaler's) are not
    torch's, and a jforeach state outside the table with a field of the parameters' structure is an
    error.
    """

    def __init__(self, state: PyTree, fname: str):
        self.nodes = _nodes(state)
        if any(isinstance(n, optax.transforms.PartitionState) for n in self.nodes):
            raise ValueError(
                f"{fname}: an optax.multi_transform state holds one optimizer state per label, each over part "
                "of the parameters, where torch keeps one optimizer state; state_dicts convert for one optimizer "
                "(with optax.masked parts, e.g. a masked weight decay), not for a multi_transform"
            )
        candidates = [
            (node, name, value)
            for node in self.nodes
            if type(node) in _TORCH_KEYS
            for name, value in zip(node._fields, node, strict=True)
            if name != "count" and value is not None
        ]
        self.layout: _packed.Layout | None = None
        self.treedef: Any = None
        self.num_params: int | None = None
        signature: Any = None
        packed = [v.layout for _, _, v in candidates if isinstance(v, _packed.Packed)]
        if packed:
            self.layout = signature = max(set(packed), key=packed.count)
            self.treedef, self.num_params = self.layout.treedef, self.layout.num_tensors
        elif candidates:
            sizes = [len(jax.tree.leaves(v)) for _, _, v in candidates]
            largest = [_signature(v) for (_, _, v), size in zip(candidates, sizes, strict=True) if size == max(sizes)]
            counts = {sig: largest.count(sig) for sig in largest}
            signature = max(counts, key=lambda sig: counts[sig])
            if sum(c == counts[signature] for c in counts.values()) > 1:
                raise ValueError(f"{fname}: the optimizer state's fields have different structures: {list(counts)}")
            self.treedef, self.num_params = signature[0], max(sizes)
        self.optimizer_ids = {
            id(node) for node, _, value in candidates if signature is not None and _signature(value) == signature
        }
        self._check_known(signature, fname)
        self.fields: dict[str, tuple[Any, str]] = {}  # torch key -> (owner node, field name)
        self.absent: dict[str, str] = {}  # torch key -> "Type.field", for a field that is None
        self.per_param: set[str] = set()
        self.kinds: list[str] = []  # the optimizer states' type names
        for node in self.nodes:
            if id(node) not in self.optimizer_ids:
                continue
            self.kinds.append(type(node).__name__)
            for name, key in _TORCH_KEYS[type(node)].items():
                value = getattr(node, name)
                where = f"{type(node).__name__}.{name}"
                if key in self.fields or key in self.absent:
                    raise ValueError(f"{fname}: two states of the optimizer hold torch's {key!r}; {where} is one")
                if value is None:
                    self.absent[key] = where
                    continue
                self.fields[key] = (node, name)
                if _signature(value) == signature:
                    self.per_param.add(key)
                elif isinstance(value, _packed.Packed) or np.ndim(value) != 0:
                    raise ValueError(
                        f"{fname}: the state field {where} has neither the parameters' structure nor one scalar value"
                    )
        paths: list[Any] = []
        if self.num_params is not None:
            paths = jax.tree_util.tree_flatten_with_path(jax.tree.unflatten(self.treedef, range(self.num_params)))[0]
        self.paths = [jax.tree_util.keystr(path) for path, _ in paths]
        # torch's SGD: the only per-parameter state is the momentum buffer, and there is no step
        self.keeps_step = bool(self.fields) and set(self.fields) | set(self.absent) != {_SGD_ONLY_KEY}

    def _check_known(self, signature: Any, fname: str) -> None:
        """A jforeach state outside :data:`_TORCH_KEYS` holding values per parameter is an error."""
        for node in self.nodes:
            if not _is_jforeach_state(node) or type(node) in _TORCH_KEYS:
                continue
            per_param = [
                name
                for name, value in zip(node._fields, node, strict=True)
                # a wrapper's field holding further states (grad_scaler's inner_state) is not torch's;
                # one 0-d value (a clipping total norm) is no parameter's
                if name != "count"
                and value is not None
                and not _nodes(value)
                and (isinstance(value, _packed.Packed) or len(jax.tree.leaves(value)) > 1 or np.ndim(value) > 0)
                and (signature is None or _signature(value) == signature)
            ]
            if per_param:
                raise ValueError(
                    f"{fname}: the state {type(node).__name__} holds values per parameter ({', '.join(per_param)}) "
                    f"but is not an optimizer state with known torch state keys; the known ones are "
                    f"{', '.join(sorted(t.__name__ for t in _TORCH_KEYS))}"
                )

    def keys(self, node: Any) -> dict[str, str]:
        """The fields of an optimizer state whose torch key the state holds, with their keys."""
        return {name: key for name, key in _TORCH_KEYS[type(node)].items() if key in self.fields}

    def leaves(self, name: str) -> list[Any]:
        node, field = self.fields[name]
        value = getattr(node, field)
        if isinstance(value, _packed.Packed):
            value = value.unpack()
        return jax.tree.leaves(value)

    def counters(self) -> list[tuple[str, Any]]:
        """(where, value) of every step counter of the state."""
        return [
            (type(node).__name__, node.count)
            for node in self.nodes
            if "count" in node._fields and _is_counter(node.count)
        ]

    def rebuild(self, state: PyTree, optimizer: Callable[[Any], Any], other: Callable[[Any], Any]) -> PyTree:
        """The state with each optimizer state ``n`` replaced by ``optimizer(n)``, every other
        NamedTuple by ``other(n)`` (after its children)."""

        def visit(node: Any) -> Any:
            if isinstance(node, _packed.Packed) or node is None:
                return node
            if id(node) in self.optimizer_ids:
                return optimizer(node)
            if _is_namedtuple(node):
                return other(type(node)(*(visit(child) for child in node)))
            if isinstance(node, tuple | list):
                return type(node)(visit(child) for child in node)
            if isinstance(node, dict):
                return type(node)((key, visit(child)) for key, child in node.items())
            return node

        return visit(state)


def _check_order(order: Sequence[int] | None, n: int, fname: str) -> list[int]:
    if order is None:
        return list(range(n))
    try:
        out = [int(i) for i in order]
    except (TypeError, ValueError):
        raise TypeError(f"{fname}: order must be a sequence of leaf indices, got {order!r}") from None
    if sorted(out) != list(range(n)):
        raise ValueError(
            f"{fname}: order must hold each leaf index 0..{n - 1} once (one per torch parameter), got {out}"
        )
    return out


# ---------------------------------------------------------------------------------------
# torch's values, duck-typed


def _to_numpy(value: Any) -> np.ndarray:
    """A torch tensor (any device, bfloat16 too), numpy array or Python number, as numpy."""
    if hasattr(value, "detach"):
        value = value.detach()
        if hasattr(value, "cpu"):
            value = value.cpu()
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()  # numpy has no bfloat16; float32 holds every bfloat16 exactly
        return np.asarray(value.numpy())
    return np.asarray(value)


def _step_value(value: Any, where: str, fname: str) -> int:
    step = float(_to_numpy(value))
    if not (math.isfinite(step) and step >= 0 and step.is_integer()):
        raise ValueError(f"{fname}: {where} has step {step}, not a count of steps")
    return int(step)


def _groups(state_dict: Any, fname: str, name: str = "state_dict") -> tuple[list[Mapping[str, Any]], list[int]]:
    groups = state_dict.get("param_groups") if isinstance(state_dict, Mapping) else state_dict
    if groups is None or isinstance(groups, Mapping | str) or not isinstance(groups, Sequence):
        raise TypeError(f"{fname}: {name} must hold a list of param_groups, got {type(groups).__name__}")
    indices: list[int] = []
    for g, group in enumerate(groups):
        if not isinstance(group, Mapping) or "params" not in group:
            raise TypeError(f"{fname}: param_groups[{g}] must be a dict with a 'params' list")
        indices.extend(int(i) for i in group["params"])
    if len(set(indices)) != len(indices):
        raise ValueError(f"{fname}: the param_groups list a parameter twice: {indices}")
    return list(groups), indices


# ---------------------------------------------------------------------------------------
# torch -> jforeach


def state_from_torch(
    state: PyTree,
    state_dict: Mapping[str, Any],
    order: Sequence[int] | None = None,
    *,
    step: int | None = None,
    labels: Sequence[Any] | None = None,
) -> PyTree:
    """Fills a jforeach optimizer state from a ``torch.optim`` optimizer's ``state_dict()``.

    ``state`` is the template ``tx.init(params)`` of the jforeach optimizer that matches the torch one
    (``jforeach.optim.adam(..., amsgrad=True)`` for ``torch.optim.Adam(..., amsgrad=True)``), alone or
    in an ``optax.chain`` or ``optax.inject_hyperparams``. Each torch state key fills the jforeach
    field the module's table maps it to (``exp_avg`` fills ``ScaleByAdamState.mu``), cast to the
    template's dtype (a Packed field is re-packed with the template's layout), torch's ``step``
    every step counter (``count``) of the state, and the numeric hyperparameters of an
    ``inject_hyperparams`` state take the values of torch's ``param_groups`` (as torch's
    ``load_state_dict`` replaces its groups' hyperparameters). The result continues training
    exactly as the torch optimizer would.

    A parameter torch keeps no state for (it never had a gradient) keeps the template's initial
    values, as torch would start it fresh; since jforeach counts steps once for all parameters, that
    needs the others to be at step 0 too. torch's SGD keeps no step: its counters are ``step`` when
    given, and otherwise keep the template's values (the momentum state's counter becomes 1, or 0 when
    no parameter has a buffer yet). A ``None`` (or missing) SGD momentum buffer means "start from the
    next gradient": jforeach expresses that for all parameters at once (a counter of 0); for some of
    them a zero buffer is the exact equivalent only without dampening, so dampening raises.

    Args:
        state: the template, ``tx.init(params)``.
        state_dict: ``torch_optimizer.state_dict()``: ``{"state": {i: {key: tensor}}, "param_groups":
            [...]}``; tensors are read duck-typed (``.detach().cpu().numpy()``), numpy arrays and
            Python numbers work too.
        order: ``order[i]`` is the leaf index, in the parameters' leaf order, of torch's parameter
            ``i`` (see :func:`torch_order`); ``None`` means the same order.
        step: the step count for an optimizer whose torch state has none (SGD); where torch has
            steps it must agree with them.
        labels: for an ``optax.multi_transform`` state, the label of each of torch's
            ``param_groups`` (several groups may share one); ``None`` infers them from the leaves each
            label's state holds.

    torch's ``param_groups`` are optax's ``multi_transform`` labels: for such a state (on a plain
    tree, or on a ``jforeach.pack(..., group_by=...)`` Packed) each label's state is filled from its
    groups' parameters, with that label's optimizer (each may be another ``jforeach.optim``
    optimizer or configuration, as torch's groups have other hyperparameters). ``order`` then
    lists the leaves in torch's numbering, which runs group by group:
    ``torch_order([names of group 0..., names of group 1...], params)``.

    Returns:
        A state with the template's structure, dtypes, shardings and layouts; other transforms'
        states in a chain keep the template's values.

    Raises:
        ValueError: when the number of parameters, a shape, or a parameter's state keys do not fit
            the template (the message names torch's parameter index and the jforeach leaf path), for
            a torch key the template has no field for, for parameters at different steps, for a
            ``None`` momentum buffer beside others with dampening, or for param groups that do not
            hold the parameters of the ``multi_transform`` labels they are given (or inferred) to.
        TypeError: for a ``state_dict`` without ``state`` and ``param_groups``.

    Examples:
        >>> import jax.numpy as jnp, numpy as np
        >>> import jforeach
        >>> from jforeach._state_dict import state_from_torch, torch_order
        >>> params = {"fc": {"weight": jnp.zeros((2, 2)), "bias": jnp.zeros(2)}}
        >>> tx = jforeach.optim.adam(lr=0.1)
        >>> torch_state = {  # as torch.optim.Adam(model.parameters()).state_dict() after 3 steps
        ...     "state": {0: {"step": 3.0, "exp_avg": np.ones((2, 2)), "exp_avg_sq": np.ones((2, 2))},
        ...               1: {"step": 3.0, "exp_avg": np.full(2, 0.5), "exp_avg_sq": np.full(2, 0.25)}},
        ...     "param_groups": [{"lr": 0.1, "params": [0, 1]}]}
        >>> order = torch_order(["fc.weight", "fc.bias"], params)
        >>> order
        [1, 0]
        >>> adam = state_from_torch(tx.init(params), torch_state, order)[0][0]
        >>> adam.count, adam.mu["fc"]["bias"]
        (Array(3, dtype=int32), Array([0.5, 0.5], dtype=float32))

    See also:
        :func:`state_to_torch`, :func:`torch_order`, ``torch.optim.Optimizer.load_state_dict``.
    """
    if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
        raise TypeError(f"{_FROM}: state_dict must be a torch optimizer's state_dict(): 'state' and 'param_groups'")
    if _partition(state, _FROM) is not None:
        return _from_torch_partitioned(state, state_dict, order, step, labels)
    if labels is not None:
        raise ValueError(f"{_FROM}: labels= is for an optax.multi_transform state, and this state holds none")
    return _from_torch_one(state, state_dict, order, step)


def _from_torch_one(
    state: PyTree, state_dict: Mapping[str, Any], order: Sequence[int] | None, step: int | None
) -> PyTree:
    """:func:`state_from_torch` for one optimizer state (no ``multi_transform``)."""
    groups, indices = _groups(state_dict, _FROM)
    torch_state = state_dict["state"]
    if not isinstance(torch_state, Mapping):
        raise TypeError(f"{_FROM}: state_dict['state'] must be a dict, got {type(torch_state).__name__}")
    anatomy = _Anatomy(state, _FROM)
    n = len(indices)
    if anatomy.num_params is not None and n != anatomy.num_params:
        raise ValueError(
            f"{_FROM}: torch's state_dict has {n} parameters but the jforeach state has {anatomy.num_params} "
            f"per parameter field"
        )
    order = _check_order(order, n, _FROM)
    position = {index: k for k, index in enumerate(indices)}  # torch's id -> torch's parameter number
    entries: list[Mapping[str, Any] | None] = [None] * n
    for key, entry in torch_state.items():
        if key not in position:
            raise ValueError(f"{_FROM}: state_dict['state'] has an entry {key!r} for no parameter of param_groups")
        if not isinstance(entry, Mapping):
            raise TypeError(f"{_FROM}: state_dict['state'][{key!r}] must be a dict, got {type(entry).__name__}")
        for name in entry:
            if name == "step" or name in anatomy.fields:
                continue
            if name in anatomy.absent:
                raise ValueError(
                    f"{_FROM}: torch parameter {key} has state {name!r}, which this jforeach optimizer does not "
                    f"keep ({anatomy.absent[name]} is None: built with other options than torch's?)"
                )
            if _holders(name):
                raise ValueError(
                    f"{_FROM}: torch parameter {key} has state {name!r}, which this jforeach optimizer does not "
                    f"keep (its {', '.join(anatomy.kinds)} has no field for it, {', '.join(_holders(name))} "
                    "holds it: built with other options than torch's?)"
                )
            raise ValueError(
                f"{_FROM}: torch parameter {key} has an unknown state key {name!r}; this jforeach state keeps "
                f"{sorted(['step', *anatomy.fields])}"
            )
        entries[position[key]] = entry

    torch_step = _common_step(entries, indices, anatomy, step)
    values, fresh = _torch_values(entries, indices, order, anatomy, groups)

    def optimizer(node: Any) -> Any:
        changes = {name: values[key] for name, key in _TORCH_KEYS[type(node)].items() if key in values}
        if "count" in node._fields and _is_counter(node.count):
            changes["count"] = _counter(node.count, _node_count(node, fresh, torch_step, anatomy))
        return node._replace(**changes)

    def other(node: Any) -> Any:
        if isinstance(node, _HYPERPARAM_STATES):
            node = node._replace(hyperparams=_hyperparams_from_groups(node.hyperparams, groups))
        if "count" in node._fields and _is_counter(node.count) and torch_step is not None:
            node = node._replace(count=_counter(node.count, torch_step))
        return node

    return anatomy.rebuild(state, optimizer, other)


def _common_step(
    entries: Sequence[Mapping[str, Any] | None], indices: Sequence[int], anatomy: _Anatomy, step: int | None
) -> int | None:
    """torch's one step count (a parameter without state counts as step 0), or ``step``."""
    steps = {}
    for k, entry in enumerate(entries):
        if entry is not None and "step" in entry:
            steps[k] = _step_value(entry["step"], f"torch parameter {indices[k]}", _FROM)
    if not steps:
        present = [k for k, e in enumerate(entries) if e is not None]
        if present and anatomy.keeps_step:
            raise ValueError(f"{_FROM}: torch parameter {indices[present[0]]} has state but no step")
        return step if step is not None or present else 0
    for k, entry in enumerate(entries):
        if entry is None:
            steps[k] = 0
        elif "step" not in entry:
            raise ValueError(f"{_FROM}: torch parameter {indices[k]} has state but no step, unlike the others")
    first = next(iter(steps))
    for k, value in steps.items():
        if value != steps[first]:
            why = " (it has no state: it never had a gradient)" if entries[k] is None else ""
            raise ValueError(
                f"{_FROM}: torch parameter {indices[k]} is at step {value}{why} but parameter {indices[first]} at "
                f"step {steps[first]}; jforeach keeps one step count for all parameters"
            )
    if step is not None and step != steps[first]:
        raise ValueError(f"{_FROM}: step={step} but torch's parameters are at step {steps[first]}")
    return steps[first]


def _torch_values(
    entries: Sequence[Mapping[str, Any] | None],
    indices: Sequence[int],
    order: Sequence[int],
    anatomy: _Anatomy,
    groups: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, Any], set[str]]:
    """The new value of every field; and the fields no parameter had (torch's fresh state)."""
    values: dict[str, Any] = {}
    fresh: set[str] = set()
    for name, (node, field) in anatomy.fields.items():
        template = getattr(node, field)
        if name not in anatomy.per_param:  # one scalar for all parameters: torch's must agree
            given = {k: _to_numpy(e[name]) for k, e in enumerate(entries) if e is not None and e.get(name) is not None}
            if not given:
                fresh.add(name)
                continue
            first = next(iter(given))
            for k, v in given.items():
                if v.shape != () or v != given[first]:
                    raise ValueError(
                        f"{_FROM}: torch parameters {indices[first]} and {indices[k]} have different {name!r} "
                        f"({given[first]} and {v}); this jforeach state keeps one for all parameters"
                    )
            values[name] = jnp.asarray(given[first], template.dtype)
            continue
        leaves = anatomy.leaves(name)
        new = list(leaves)
        missing = []
        for k, entry in enumerate(entries):
            j = order[k]
            value = None if entry is None else entry.get(name)
            if value is None:
                sgd_buffer = name == _SGD_ONLY_KEY and not anatomy.keeps_step
                if entry is not None and not sgd_buffer:
                    raise ValueError(
                        f"{_FROM}: torch parameter {indices[k]} (jforeach leaf {anatomy.paths[j]}) has state "
                        f"but no {name!r}"
                    )
                missing.append(k)  # no state: torch starts it fresh, as the template does
                new[j] = np.zeros(leaves[j].shape, leaves[j].dtype) if sgd_buffer else leaves[j]
                continue
            array = _to_numpy(value)
            if tuple(array.shape) != tuple(leaves[j].shape):
                raise ValueError(
                    f"{_FROM}: torch parameter {indices[k]}'s {name!r} has shape {tuple(array.shape)} but the "
                    f"jforeach leaf {anatomy.paths[j]} has shape {tuple(leaves[j].shape)}"
                )
            new[j] = array.astype(leaves[j].dtype)
        if len(missing) == len(entries):
            fresh.add(name)
        elif missing and name == _SGD_ONLY_KEY and not anatomy.keeps_step:
            # torch clones the next gradient into a missing buffer; a zero buffer gives
            # momentum * 0 + (1 - dampening) * grad, the same only without dampening
            damped = [g.get("dampening", 0) for g in groups if g.get("dampening", 0) != 0]
            if damped:
                raise ValueError(
                    f"{_FROM}: torch parameter {indices[missing[0]]} has no momentum buffer (it starts from its "
                    f"next gradient) while others have one; jforeach can express that for all parameters at once, "
                    f"or with a zero buffer only without dampening (dampening={damped[0]})"
                )
        values[name] = _place(template, new, leaves, anatomy)
    return values, fresh


def _place(template: Any, new: list[Any], leaves: list[Any], anatomy: _Anatomy) -> Any:
    """New leaves as arrays of their own, on the template's devices, in its tree or Packed layout."""
    if isinstance(template, _packed.Packed):
        out = _packed.pack(jax.tree.unflatten(anatomy.treedef, new), sharding=template.layout.sharding)
        if out.layout != template.layout:
            raise ValueError(f"{_FROM}: re-packing gave the layout {out.layout}, not the template's {template.layout}")
        return out
    changed = [k for k, (a, b) in enumerate(zip(new, leaves, strict=True)) if a is not b]
    if changed:
        # placed as the template's leaf is: a jitted step compiles anew for a committed argument
        # where it saw an uncommitted one (tx.init's arrays are, unless the parameters were placed)
        shardings = [_placement(leaves[k]) for k in changed]
        placed = [jax.device_put(new[k], s) for k, s in zip(changed, shardings, strict=True)]
        for k, array in zip(changed, _packed._owned(placed), strict=True):
            new[k] = array
    return jax.tree.unflatten(anatomy.treedef, new)


def _placement(leaf: Any) -> Any:
    """The template leaf's sharding if it is committed to it, else None (the default device)."""
    if isinstance(leaf, jax.Array) and not isinstance(leaf, jax.core.Tracer) and getattr(leaf, "committed", True):
        return leaf.sharding
    return None


def _node_count(node: Any, fresh: set[str], torch_step: int | None, anatomy: _Anatomy) -> int | None:
    """A jforeach state's counter: 0 while none of its fields has torch data (SGD: no buffer yet)."""
    names = list(anatomy.keys(node).values())
    if names and all(name in fresh for name in names):
        return 0
    if anatomy.keeps_step or not names:
        return torch_step
    if torch_step == 0:
        raise ValueError(f"{_FROM}: step=0, but torch's SGD state has momentum buffers (it took steps)")
    return 1 if torch_step is None else torch_step


def _counter(template: Any, value: int | None) -> Any:
    if value is None:
        return template
    if value > np.iinfo(template.dtype).max:
        raise ValueError(f"{_FROM}: step {value} does not fit the state's {np.dtype(template.dtype).name} counter")
    return jnp.asarray(value, template.dtype)


def _hyperparams_from_groups(hyperparams: Mapping[str, Any], groups: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out = dict(hyperparams)
    for name, template in hyperparams.items():
        given = [g[name] for g in groups if name in g]
        if not given or not hasattr(template, "dtype"):
            continue
        try:
            arrays = [_to_numpy(v) for v in given]
        except (TypeError, ValueError):
            continue
        if any(a.dtype == object or a.shape != arrays[0].shape or (a != arrays[0]).any() for a in arrays):
            raise ValueError(
                f"{_FROM}: torch's param_groups have different {name!r} ({given}); jforeach's "
                "inject_hyperparams state holds one"
            )
        out[name] = jnp.asarray(arrays[0].reshape(np.shape(template)), template.dtype)
    return out


# ---------------------------------------------------------------------------------------
# parameter groups: an optax.multi_transform state, one optimizer state per label


def _partition(state: PyTree, fname: str) -> Any:
    """The state's ``optax.multi_transform`` state, or None."""
    found = [n for n in _nodes(state) if isinstance(n, optax.transforms.PartitionState)]
    if len(found) > 1:
        raise ValueError(
            f"{fname}: the state holds {len(found)} optax.multi_transform states; a torch state_dict is one "
            "optimizer's, whose param_groups are one multi_transform's labels"
        )
    return found[0] if found else None


def _walk(node: Any, leaf: Callable[[Any], Any]) -> Any:
    """``node`` rebuilt with ``leaf(x)`` for every Packed, MaskedNode, array or other leaf."""
    if isinstance(node, _packed.Packed | optax.MaskedNode) or node is None:
        return leaf(node)
    if _is_namedtuple(node):
        return type(node)(*(_walk(child, leaf) for child in node))
    if isinstance(node, tuple | list):
        return type(node)(_walk(child, leaf) for child in node)
    if isinstance(node, dict):
        return type(node)((key, _walk(child, leaf)) for key, child in node.items())
    return leaf(node)


def _as_trees(state: PyTree) -> PyTree:
    """The state with each (masked) Packed as its tree, other labels' tensors ``MaskedNode()``."""
    return _walk(state, lambda x: x.unpack() if isinstance(x, _packed.Packed) else x)


def _as_packed(template: Any, trees: Any) -> Any:
    """``trees`` (from :func:`_as_trees`) with each Packed of ``template`` packed again in its layout."""
    if isinstance(template, _packed.Packed):
        return _fill(template, trees)
    if _is_namedtuple(template) or isinstance(template, tuple | list):
        children = [_as_packed(a, b) for a, b in zip(template, trees, strict=True)]
        return type(template)(*children) if _is_namedtuple(template) else type(template)(children)
    if isinstance(template, dict):
        return type(template)((key, _as_packed(value, trees[key])) for key, value in template.items())
    return trees


def _fill(template: _packed.Packed, tree: Any) -> _packed.Packed:
    """A Packed of ``template``'s layout (a label's buffers only) holding the arrays of ``tree``."""
    tensors = jax.tree.leaves(tree, is_leaf=lambda x: isinstance(x, optax.MaskedNode))
    buffers = []
    for group, buffer in zip(template.layout.groups, template.buffers, strict=True):
        host = np.zeros(group.length, group.dtype)
        for member, offset, size in zip(group.members, group.offsets, group.sizes, strict=True):
            host[offset : offset + size] = np.ravel(np.asarray(jax.device_get(tensors[member]), group.dtype))
        buffers.append(jax.device_put(host, _placement(buffer)))
    return jax.tree.unflatten(jax.tree.structure(template), _packed._owned(buffers))


def _label_leaves(inner: PyTree, fname: str) -> list[int] | None:
    """The leaf indices (in the whole tree) a label's state holds, or None if it keeps no per-parameter state."""
    anatomy = _Anatomy(inner, fname)
    if not anatomy.per_param:
        return None
    node, field = anatomy.fields[sorted(anatomy.per_param)[0]]
    tensors = jax.tree.leaves(getattr(node, field), is_leaf=lambda x: isinstance(x, optax.MaskedNode))
    return [j for j, x in enumerate(tensors) if not isinstance(x, optax.MaskedNode)]


def _plan(
    partition: Any,
    groups: Sequence[Mapping[str, Any]],
    indices: Sequence[int],
    order: Sequence[int] | None,
    labels: Sequence[Any] | None,
    fname: str,
) -> list[tuple[Any, list[int], list[int]]]:
    """For each label: torch's param groups it holds, and ``order`` within its own leaves."""
    order = _check_order(order, len(indices), fname)
    position = {index: k for k, index in enumerate(indices)}
    group_leaves = [[order[position[int(i)]] for i in g["params"]] for g in groups]
    names = list(partition.inner_states)
    masks = {label: _label_leaves(_as_trees(partition.inner_states[label]), fname) for label in names}
    if labels is None:
        chosen = []
        known = {label: set(mask) for label, mask in masks.items() if mask is not None}
        unknown = [label for label in names if label not in known]
        for g, leaves in enumerate(group_leaves):
            fits = [label for label in names if label in known and set(leaves) <= known[label]]
            if len(fits) == 1 or (not fits and len(unknown) == 1):
                chosen.append(fits[0] if fits else unknown[0])
                continue
            raise ValueError(
                f"{fname}: torch's param_groups[{g}] (jforeach leaves {leaves}) fits "
                f"{'no' if not fits else 'more than one'} optax.multi_transform label's state "
                f"({ {label: masks[label] for label in names} }); pass labels=, the label of each param group"
            )
        labels = chosen
    labels = list(labels)
    if len(labels) != len(groups) or any(label not in partition.inner_states for label in labels):
        raise ValueError(
            f"{fname}: labels must name one of the multi_transform labels {names} for each of torch's "
            f"{len(groups)} param_groups, got {labels}"
        )
    plan = []
    for label in names:
        numbers = [g for g, named in enumerate(labels) if named == label]
        leaves = [leaf for g in numbers for leaf in group_leaves[g]]
        ordered = sorted(leaves)
        if masks[label] is not None and ordered != masks[label]:
            raise ValueError(
                f"{fname}: the multi_transform label {label!r} holds the jforeach leaves {masks[label]}, but "
                f"torch's param_groups {numbers} (with order) hold {ordered}"
            )
        plan.append((label, numbers, [ordered.index(leaf) for leaf in leaves]))
    return plan


def _replace(state: PyTree, old: Any, new: Any) -> PyTree:
    if state is old:
        return new
    if isinstance(state, _packed.Packed) or state is None:
        return state
    if _is_namedtuple(state):
        return type(state)(*(_replace(child, old, new) for child in state))
    if isinstance(state, tuple | list):
        return type(state)(_replace(child, old, new) for child in state)
    if isinstance(state, dict):
        return type(state)((key, _replace(child, old, new)) for key, child in state.items())
    return state


def _from_torch_partitioned(
    state: PyTree,
    state_dict: Mapping[str, Any],
    order: Sequence[int] | None,
    step: int | None,
    labels: Sequence[Any] | None,
) -> PyTree:
    """:func:`state_from_torch` for a ``multi_transform`` state: each label from its param groups."""
    partition = _partition(state, _FROM)
    groups, indices = _groups(state_dict, _FROM)
    torch_state = state_dict["state"]
    if not isinstance(torch_state, Mapping):
        raise TypeError(f"{_FROM}: state_dict['state'] must be a dict, got {type(torch_state).__name__}")
    for key in torch_state:
        if key not in indices:
            raise ValueError(f"{_FROM}: state_dict['state'] has an entry {key!r} for no parameter of param_groups")
    inner = dict(partition.inner_states)
    for label, numbers, label_order in _plan(partition, groups, indices, order, labels, _FROM):
        params = [int(i) for g in numbers for i in groups[g]["params"]]
        part = {
            "state": {i: torch_state[i] for i in params if i in torch_state},
            "param_groups": [groups[g] for g in numbers],
        }
        template = partition.inner_states[label]
        inner[label] = _as_packed(template, _from_torch_one(_as_trees(template), part, label_order, step))
    new = partition._replace(inner_states=type(partition.inner_states)(inner))
    return _replace(state, partition, new)


def _to_torch_partitioned(
    state: PyTree,
    order: Sequence[int] | None,
    param_groups: Sequence[Mapping[str, Any]],
    step: int | None,
    as_tensor: Callable[[np.ndarray], Any] | None,
    labels: Sequence[Any] | None,
) -> dict[str, Any]:
    """:func:`state_to_torch` for a ``multi_transform`` state: each label into its param groups."""
    partition = _partition(state, _TO)
    groups, indices = _groups(param_groups, _TO, "param_groups")
    if sorted(indices) != list(range(len(indices))):
        raise ValueError(f"{_TO}: param_groups must list the parameters 0..{len(indices) - 1} once each, got {indices}")
    out_state: dict[int, Any] = {}
    out_groups: list[Any] = [copy.deepcopy(dict(g)) for g in groups]
    for label, numbers, label_order in _plan(partition, groups, indices, order, labels, _TO):
        if not numbers:
            continue
        inner = _as_trees(partition.inner_states[label])
        part = _to_torch_one(inner, label_order, [groups[g] for g in numbers], step, as_tensor, part_of_all=True)
        out_state.update(part["state"])
        for g, group in zip(numbers, part["param_groups"], strict=True):
            out_groups[g] = group
    return {"state": dict(sorted(out_state.items())), "param_groups": out_groups}


# ---------------------------------------------------------------------------------------
# jforeach -> torch


def _torch_tensor(array: np.ndarray) -> Any:
    import torch  # only here: torch is not a dependency of jforeach

    if array.dtype == jnp.bfloat16:
        return torch.from_numpy(np.array(array, np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.array(array))


def state_to_torch(
    state: PyTree,
    order: Sequence[int] | None = None,
    *,
    param_groups: Sequence[Mapping[str, Any]],
    step: int | None = None,
    as_tensor: Callable[[np.ndarray], Any] | None = None,
    labels: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """A ``torch.optim`` ``state_dict()`` holding a jforeach optimizer state.

    The result is ``{"state": {i: {key: tensor}}, "param_groups": [...]}``: every per-parameter field of
    the state under its torch key (``ScaleByAdamState.mu`` as ``exp_avg``) and torch's ``step`` from
    the state's step counters. A fresh ``torch.optim.<Name>(params, ...)`` accepts it with
    ``load_state_dict`` and continues exactly as jforeach would.

    torch's ``load_state_dict`` *replaces* each group's hyperparameters with the saved ones, so the
    groups must carry every hyperparameter the torch optimizer reads (``lr``, ``betas``, ``foreach``,
    ``capturable``, ``fused``, ...); they come from the caller: pass
    ``torch.optim.<Name>(params, <the same hyperparameters>).state_dict()["param_groups"]`` of a freshly
    built optimizer (it lists torch's parameter indices). The groups are copied; where the state is
    an ``optax.inject_hyperparams`` one, its numeric hyperparameters (``lr`` set between steps, ...)
    replace the groups' values where those differ at the state's precision. A learning-rate schedule
    is not a hyperparameter torch can hold: carry it on with a torch ``lr_scheduler``.

    torch's SGD, whose only state is ``momentum_buffer``, gets no ``step``, and no state for its
    parameters while jforeach's momentum counter is 0 (torch then starts the buffers from the next
    gradient, as jforeach does).

    Args:
        state: a jforeach optimizer state (the ``tx.update`` result), alone or in a chain.
        order: ``order[i]`` is the leaf index of torch's parameter ``i`` (see :func:`torch_order`);
            ``None`` means the same order.
        param_groups: torch's param_groups, e.g. ``fresh_optimizer.state_dict()["param_groups"]``.
        step: the step count, for a state that keeps none (Adagrad or RMSprop with a constant ``lr``
            count no steps); where the state counts steps it must agree.
        as_tensor: makes a tensor of a numpy array; default ``torch.from_numpy`` (on a copy; bfloat16
            through float32), with torch imported at the call.
        labels: for an ``optax.multi_transform`` state, the label of each of ``param_groups``;
            ``None`` infers them (see :func:`state_from_torch`). Each label's state goes to its
            groups' parameters, with its own ``step``; an ``inject_hyperparams`` inside a label's
            optimizer writes its hyperparameters into that label's groups.

    Returns:
        A dict for ``torch_optimizer.load_state_dict``; steps are float32 0-d tensors, as torch keeps
        them, and the state tensors have the jforeach state's dtypes (torch casts them to its
        parameters' on load).

    Raises:
        ValueError: when ``param_groups`` do not list the state's parameters, the state's step
            counters differ, or no step count is known; for a ``multi_transform`` state, when the
            groups do not hold the parameters of their labels.

    Examples:
        >>> import jax.numpy as jnp, numpy as np
        >>> import jforeach
        >>> from jforeach._state_dict import state_to_torch
        >>> params = {"b": jnp.zeros(2), "w": jnp.ones((2, 2))}
        >>> tx = jforeach.optim.sgd(lr=0.1, momentum=0.9)
        >>> state = tx.init(params)
        >>> _, state = tx.update({"b": jnp.ones(2), "w": jnp.ones((2, 2))}, state, params)
        >>> groups = [{"lr": 0.1, "momentum": 0.9, "dampening": 0, "params": [0, 1]}]  # torch's, trimmed
        >>> d = state_to_torch(state, [1, 0], param_groups=groups, as_tensor=np.asarray)
        >>> d["state"][1]
        {'momentum_buffer': array([1., 1.], dtype=float32)}

    See also:
        :func:`state_from_torch`, :func:`torch_order`, ``torch.optim.Optimizer.state_dict``.
    """
    if _partition(state, _TO) is not None:
        return _to_torch_partitioned(state, order, param_groups, step, as_tensor, labels)
    if labels is not None:
        raise ValueError(f"{_TO}: labels= is for an optax.multi_transform state, and this state holds none")
    return _to_torch_one(state, order, param_groups, step, as_tensor)


def _to_torch_one(
    state: PyTree,
    order: Sequence[int] | None,
    param_groups: Sequence[Mapping[str, Any]],
    step: int | None,
    as_tensor: Callable[[np.ndarray], Any] | None,
    *,
    part_of_all: bool = False,
) -> dict[str, Any]:
    """:func:`state_to_torch` for one optimizer state (no ``multi_transform``); ``part_of_all``: the
    groups are some of torch's (one label's), so their parameters are not numbered from 0."""
    anatomy = _Anatomy(state, _TO)
    groups, indices = _groups(param_groups, _TO, "param_groups")
    n = len(indices)
    if part_of_all and anatomy.num_params is not None and n != anatomy.num_params:
        raise ValueError(
            f"{_TO}: torch's param_groups for this label list {n} parameters but its jforeach state has "
            f"{anatomy.num_params}"
        )
    if not part_of_all and anatomy.num_params is not None and sorted(indices) != list(range(anatomy.num_params)):
        raise ValueError(
            f"{_TO}: param_groups must list the parameters 0..{anatomy.num_params - 1} of the jforeach state "
            f"once each, got {indices}"
        )
    order = _check_order(order, n, _TO)
    out_groups = [copy.deepcopy(dict(g)) for g in groups]
    for node in anatomy.nodes:
        if isinstance(node, _HYPERPARAM_STATES):
            _hyperparams_into_groups(node.hyperparams, out_groups)
    make = _torch_tensor if as_tensor is None else as_tensor

    torch_step = _state_step(anatomy, step) if anatomy.keeps_step else None
    fields: list[tuple[str, Any]] = []  # (torch key, per-parameter numpy arrays or one scalar)
    for node in anatomy.nodes:
        if id(node) not in anatomy.optimizer_ids:
            continue
        if not anatomy.keeps_step and "count" in node._fields and int(node.count) == 0:
            continue  # SGD before its first step: no buffers, as torch's fresh optimizer
        for field, name in anatomy.keys(node).items():
            if name in anatomy.per_param:
                fields.append((name, jax.device_get(anatomy.leaves(name))))
            else:
                fields.append((name, np.asarray(jax.device_get(getattr(node, field)))))
    out_state: dict[int, dict[str, Any]] = {}
    for k, index in enumerate(indices):
        entry: dict[str, Any] = {}
        if torch_step is not None:
            entry["step"] = make(np.asarray(torch_step, np.float32))
        for name, value in fields:
            entry[name] = make(np.asarray(value[order[k]]) if isinstance(value, list) else value)
        if entry:
            out_state[index] = entry
    return {"state": out_state, "param_groups": out_groups}


def _state_step(anatomy: _Anatomy, step: int | None) -> int:
    counts = [(where, int(value)) for where, value in anatomy.counters()]
    for where, value in counts:
        if value != counts[0][1]:
            raise ValueError(f"{_TO}: the state's step counters differ: {counts[0][0]} {counts[0][1]}, {where} {value}")
    if step is not None:
        if counts and counts[0][1] != step:
            raise ValueError(f"{_TO}: step={step} but the state's step counters are at {counts[0][1]}")
        return int(step)
    if not counts:
        raise ValueError(
            f"{_TO}: the state keeps no step count (this optimizer counts no steps with a constant lr) but torch "
            "keeps one: pass step="
        )
    return counts[0][1]


def _hyperparams_into_groups(hyperparams: Mapping[str, Any], groups: list[dict[str, Any]]) -> None:
    for name, value in hyperparams.items():
        if not hasattr(value, "dtype") or np.ndim(value) != 0:
            continue
        value = np.asarray(jax.device_get(value))
        for group in groups:
            if name not in group:
                continue
            try:
                same = np.asarray(_to_numpy(group[name]), value.dtype) == value
            except (TypeError, ValueError):
                same = False
            if not same:
                group[name] = value.item()


# ---------------------------------------------------------------------------------------
# torch's names -> leaf indices


def _key_name(key: Any) -> str:
    if isinstance(key, jax.tree_util.DictKey):
        return str(key.key)
    if isinstance(key, jax.tree_util.GetAttrKey):
        return key.name
    if isinstance(key, jax.tree_util.SequenceKey):
        return str(key.idx)
    if isinstance(key, jax.tree_util.FlattenedIndexKey):
        return str(key.key)
    return str(key)


def _is_path(x: Any) -> bool:
    return isinstance(x, str) or (isinstance(x, tuple) and all(isinstance(k, _KEY_TYPES) for k in x))


def torch_order(torch_names: Iterable[Any], jax_paths_or_params: Any, /) -> list[int]:
    """The ``order`` argument of :func:`state_from_torch` and :func:`state_to_torch`, from names.

    torch's parameter ``i`` is named ``"a.b.c"`` by ``module.named_parameters()``; the JAX leaf with the
    key path ``a``/``b``/``c`` (dict keys, attributes, sequence indices: ``['a'].b[2]`` is ``"a.b.2"``)
    is the same parameter. A flat dict keyed by torch's names (``{"a.b.c": ...}``) matches too.

    Args:
        torch_names: torch's parameter names in its order, or ``named_parameters()`` itself (pairs of
            a name and a tensor).
        jax_paths_or_params: the JAX parameters (a pytree or a :class:`jforeach.Packed`), or their
            leaves' key paths (``[path for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]``)
            or dotted names, in leaf order.

    Returns:
        ``order``: ``order[i]`` is the leaf index of torch's parameter ``i``.

    Raises:
        ValueError: for a torch name no leaf has, a name given twice, two leaves with one dotted
            name, or leaves no torch name matches.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jforeach._state_dict import torch_order
        >>> params = {"fc1": {"weight": jnp.zeros((3, 2)), "bias": jnp.zeros(3)}, "out": [jnp.zeros(3)]}
        >>> torch_order(["fc1.weight", "fc1.bias", "out.0"], params)  # JAX's leaves: fc1.bias, fc1.weight, out.0
        [1, 0, 2]
    """
    names = [n[0] if isinstance(n, tuple) and len(n) == 2 and isinstance(n[0], str) else n for n in torch_names]
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{_ORDER}: torch's names must be strings, got {name!r}")
    source = jax_paths_or_params
    if isinstance(source, _packed.Packed):
        source = jax.tree.unflatten(source.layout.treedef, range(source.num_tensors))
    if isinstance(source, list | tuple) and source and all(_is_path(x) for x in source):
        paths = list(source)
    else:
        paths = [path for path, _ in jax.tree_util.tree_flatten_with_path(source)[0]]
    jax_names = [p if isinstance(p, str) else ".".join(_key_name(k) for k in p) for p in paths]
    shown = [p if isinstance(p, str) else jax.tree_util.keystr(p) for p in paths]
    leaf_of: dict[str, int] = {}
    for j, name in enumerate(jax_names):
        if name in leaf_of:
            raise ValueError(
                f"{_ORDER}: the JAX leaves {shown[leaf_of[name]]} and {shown[j]} both have the name {name!r}"
            )
        leaf_of[name] = j
    order: list[int] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise ValueError(f"{_ORDER}: torch's parameters {seen[name]} and {i} are both named {name!r}")
        seen[name] = i
        if name not in leaf_of:
            close = difflib.get_close_matches(name, jax_names, n=3)
            hint = f"; close: {close}" if close else ""
            raise ValueError(f"{_ORDER}: torch's parameter {i} {name!r} matches no JAX leaf{hint}")
        order.append(leaf_of[name])
    unmatched = sorted(set(range(len(jax_names))) - set(order))
    if unmatched:
        leaves = ", ".join(shown[j] for j in unmatched)
        raise ValueError(f"{_ORDER}: no torch parameter is named like the JAX leaves {leaves}")
    return order
