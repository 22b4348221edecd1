"""jforeach: PyTorch's ``torch._foreach_*`` multi-tensor ops for JAX lists, pytrees and packed buffers.

Every torch foreach op is here under its torch name without the underscore prefix:
``jforeach.log1p(xs)`` returns new arrays, ``jforeach.log1p_(xs)`` updates ``xs`` in place by donating
its buffers to one jitted kernel. ``jforeach.pack`` stores a tree as one flat buffer per dtype so that
every op, and any optax optimizer, runs at the speed of one flat kernel.
"""

from . import _api, amp, clip_grad, optim, transforms
from ._api import abs as abs
from ._api import abs_ as abs_
from ._api import acos as acos
from ._api import acos_ as acos_
from ._api import add as add
from ._api import add_ as add_
from ._api import addcdiv as addcdiv
from ._api import addcdiv_ as addcdiv_
from ._api import addcmul as addcmul
from ._api import addcmul_ as addcmul_
from ._api import asin as asin
from ._api import asin_ as asin_
from ._api import atan as atan
from ._api import atan_ as atan_
from ._api import ceil as ceil
from ._api import ceil_ as ceil_
from ._api import clamp_max as clamp_max
from ._api import clamp_max_ as clamp_max_
from ._api import clamp_min as clamp_min
from ._api import clamp_min_ as clamp_min_
from ._api import clone as clone
from ._api import copy_ as copy_
from ._api import cos as cos
from ._api import cos_ as cos_
from ._api import cosh as cosh
from ._api import cosh_ as cosh_
from ._api import div as div
from ._api import div_ as div_
from ._api import erf as erf
from ._api import erf_ as erf_
from ._api import erfc as erfc
from ._api import erfc_ as erfc_
from ._api import exp as exp
from ._api import exp_ as exp_
from ._api import expm1 as expm1
from ._api import expm1_ as expm1_
from ._api import floor as floor
from ._api import floor_ as floor_
from ._api import frac as frac
from ._api import frac_ as frac_
from ._api import lerp as lerp
from ._api import lerp_ as lerp_
from ._api import lgamma as lgamma
from ._api import lgamma_ as lgamma_
from ._api import log as log
from ._api import log1p as log1p
from ._api import log1p_ as log1p_
from ._api import log2 as log2
from ._api import log2_ as log2_
from ._api import log10 as log10
from ._api import log10_ as log10_
from ._api import log_ as log_
from ._api import max as max
from ._api import maximum as maximum
from ._api import maximum_ as maximum_
from ._api import minimum as minimum
from ._api import minimum_ as minimum_
from ._api import mm as mm
from ._api import mul as mul
from ._api import mul_ as mul_
from ._api import neg as neg
from ._api import neg_ as neg_
from ._api import norm as norm
from ._api import pow as pow
from ._api import pow_ as pow_
from ._api import powsum as powsum
from ._api import reciprocal as reciprocal
from ._api import reciprocal_ as reciprocal_
from ._api import round as round
from ._api import round_ as round_
from ._api import rsqrt as rsqrt
from ._api import rsqrt_ as rsqrt_
from ._api import sigmoid as sigmoid
from ._api import sigmoid_ as sigmoid_
from ._api import sign as sign
from ._api import sign_ as sign_
from ._api import sin as sin
from ._api import sin_ as sin_
from ._api import sinh as sinh
from ._api import sinh_ as sinh_
from ._api import sqrt as sqrt
from ._api import sqrt_ as sqrt_
from ._api import sub as sub
from ._api import sub_ as sub_
from ._api import tan as tan
from ._api import tan_ as tan_
from ._api import tanh as tanh
from ._api import tanh_ as tanh_
from ._api import trunc as trunc
from ._api import trunc_ as trunc_
from ._api import zero_ as zero_
from .clip_grad import clip_grad_norm_ as clip_grad_norm_
from .clip_grad import clip_grad_value_ as clip_grad_value_
from .packed import Layout as Layout
from .packed import Packed as Packed
from .packed import labels as labels
from .packed import pack as pack
from .packed import unpack as unpack

__version__ = "0.1.0"
__all__ = [
    *_api.__all__,
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
