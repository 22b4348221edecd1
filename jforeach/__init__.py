"""jforeach: PyTorch's ``torch._foreach_*`` multi-tensor ops for JAX lists, pytrees and packed buffers.

Every torch foreach op is here under its torch name without the underscore prefix:
``jforeach.log1p(xs)`` returns new arrays, ``jforeach.log1p_(xs)`` updates ``xs`` in place by donating
its buffers to one jitted kernel. ``jforeach.pack`` stores a tree as one flat buffer per dtype so that
every op, and any optax optimizer, runs at the speed of one flat kernel.
"""

from . import _ops, amp, clip_grad, optim, transforms
from ._ops import *  # noqa: F403 - the generated op functions, listed in _ops.__all__
from ._ops import pow as pow
from .clip_grad import *  # noqa: F403 - clip_grad_norm_ and clip_grad_value_, listed in clip_grad.__all__
from .packed import Layout as Layout
from .packed import Packed as Packed
from .packed import labels as labels
from .packed import pack as pack
from .packed import unpack as unpack

__version__ = "0.1.0"
__all__ = [
    *_ops.__all__,
    *clip_grad.__all__,
    "Layout",
    "Packed",
    "amp",
    "labels",
    "optim",
    "pack",
    "transforms",
    "unpack",
]
