"""Doctest examples of the generated ops: the call and what it prints.

Each expected output was checked against ``torch._foreach_*`` when written; the doctests check
jforeach still prints it.
"""

EXAMPLES: dict[str, tuple[str, str]] = {
    "abs": (
        "jforeach.abs([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.25, 0.5 ], dtype=float32), Array(0.75, dtype=float32)]",
    ),
    "abs_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.abs_(xs)\nxs",
        "[Array([0.25, 0.5 ], dtype=float32), Array(0.75, dtype=float32)]",
    ),
    "acos": (
        "jforeach.acos([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([1.3181161, 1.0471976], dtype=float32), Array(0.7227342, dtype=float32)]",
    ),
    "acos_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.acos_(xs)\nxs",
        "[Array([1.3181161, 1.0471976], dtype=float32), Array(0.7227342, dtype=float32)]",
    ),
    "add": (
        "jforeach.add([jnp.array([1.0, 2.0]), jnp.array(3.0)], 0.5)",
        "[Array([1.5, 2.5], dtype=float32), Array(3.5, dtype=float32)]",
    ),
    "add_": (
        "xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]\n"
        "_ = jforeach.add_(xs, [jnp.array([10.0, 20.0]), jnp.array(30.0)], alpha=2)\n"
        "xs",
        "[Array([21., 42.], dtype=float32), Array(63., dtype=float32)]",
    ),
    "addcdiv": (
        "jforeach.addcdiv([jnp.array([1.0, 2.0])], [jnp.array([3.0, 4.0])], [jnp.array([0.5, 2.0])], value=2)",
        "[Array([13.,  6.], dtype=float32)]",
    ),
    "addcdiv_": (
        "xs = [jnp.array([1.0, 2.0])]\n"
        "_ = jforeach.addcdiv_(xs, [jnp.array([3.0, 4.0])], [jnp.array([0.5, 2.0])], [0.5])\n"
        "xs",
        "[Array([4., 3.], dtype=float32)]",
    ),
    "addcmul": (
        "jforeach.addcmul([jnp.array([1.0, 2.0])], [jnp.array([3.0, 4.0])], [jnp.array([0.5, 2.0])], value=2)",
        "[Array([ 4., 18.], dtype=float32)]",
    ),
    "addcmul_": (
        "xs = [jnp.array([1.0, 2.0])]\n"
        "_ = jforeach.addcmul_(xs, [jnp.array([3.0, 4.0])], [jnp.array([0.5, 2.0])], [0.5])\n"
        "xs",
        "[Array([1.75, 6.  ], dtype=float32)]",
    ),
    "asin": (
        "jforeach.asin([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.25268024, 0.5235988 ], dtype=float32), Array(0.8480621, dtype=float32)]",
    ),
    "asin_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.asin_(xs)\nxs",
        "[Array([0.25268024, 0.5235988 ], dtype=float32), Array(0.8480621, dtype=float32)]",
    ),
    "atan": (
        "jforeach.atan([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.24497868, 0.46364754], dtype=float32), Array(0.6435011, dtype=float32)]",
    ),
    "atan_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.atan_(xs)\nxs",
        "[Array([0.24497868, 0.46364754], dtype=float32), Array(0.6435011, dtype=float32)]",
    ),
    "ceil": (
        "jforeach.ceil([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([1., 1.], dtype=float32), Array(1., dtype=float32)]",
    ),
    "ceil_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.ceil_(xs)\nxs",
        "[Array([1., 1.], dtype=float32), Array(1., dtype=float32)]",
    ),
    "clamp_max": (
        "jforeach.clamp_max([jnp.array([1.0, 2.0]), jnp.array(3.0)], 1.5)",
        "[Array([1. , 1.5], dtype=float32), Array(1.5, dtype=float32)]",
    ),
    "clamp_max_": (
        "xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]\n_ = jforeach.clamp_max_(xs, [1.5, 3.5])\nxs",
        "[Array([1. , 1.5], dtype=float32), Array(3., dtype=float32)]",
    ),
    "clamp_min": (
        "jforeach.clamp_min([jnp.array([1.0, 2.0]), jnp.array(3.0)], 1.5)",
        "[Array([1.5, 2. ], dtype=float32), Array(3., dtype=float32)]",
    ),
    "clamp_min_": (
        "xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]\n_ = jforeach.clamp_min_(xs, [1.5, 3.5])\nxs",
        "[Array([1.5, 2. ], dtype=float32), Array(3.5, dtype=float32)]",
    ),
    "clone": (
        "jforeach.clone([jnp.array([1.0, 2.0]), jnp.array(3.0)])",
        "[Array([1., 2.], dtype=float32), Array(3., dtype=float32)]",
    ),
    "copy_": (
        "xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]\n"
        "_ = jforeach.copy_(xs, [jnp.array([5.0, 6.0]), jnp.array(7.0)])\n"
        "xs",
        "[Array([5., 6.], dtype=float32), Array(7., dtype=float32)]",
    ),
    "cos": (
        "jforeach.cos([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.9689124 , 0.87758255], dtype=float32), Array(0.73168886, dtype=float32)]",
    ),
    "cos_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.cos_(xs)\nxs",
        "[Array([0.9689124 , 0.87758255], dtype=float32), Array(0.73168886, dtype=float32)]",
    ),
    "cosh": (
        "jforeach.cosh([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([1.0314131, 1.127626 ], dtype=float32), Array(1.2946833, dtype=float32)]",
    ),
    "cosh_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.cosh_(xs)\nxs",
        "[Array([1.0314131, 1.127626 ], dtype=float32), Array(1.2946833, dtype=float32)]",
    ),
    "div": (
        "jforeach.div([jnp.array([1.0, 2.0]), jnp.array(3.0)], 2)",
        "[Array([0.5, 1. ], dtype=float32), Array(1.5, dtype=float32)]",
    ),
    "div_": (
        "xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]\n_ = jforeach.div_(xs, [2.0, 4.0])\nxs",
        "[Array([0.5, 1. ], dtype=float32), Array(0.75, dtype=float32)]",
    ),
    "erf": (
        "jforeach.erf([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.27632636, 0.5204999 ], dtype=float32), Array(0.7111556, dtype=float32)]",
    ),
    "erf_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.erf_(xs)\nxs",
        "[Array([0.27632636, 0.5204999 ], dtype=float32), Array(0.7111556, dtype=float32)]",
    ),
    "erfc": (
        "jforeach.erfc([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.7236736 , 0.47950017], dtype=float32), Array(0.2888444, dtype=float32)]",
    ),
    "erfc_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.erfc_(xs)\nxs",
        "[Array([0.7236736 , 0.47950017], dtype=float32), Array(0.2888444, dtype=float32)]",
    ),
    "exp": (
        "jforeach.exp([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([1.2840254, 1.6487212], dtype=float32), Array(2.117, dtype=float32)]",
    ),
    "exp_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.exp_(xs)\nxs",
        "[Array([1.2840254, 1.6487212], dtype=float32), Array(2.117, dtype=float32)]",
    ),
    "expm1": (
        "jforeach.expm1([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.2840254, 0.6487213], dtype=float32), Array(1.1170001, dtype=float32)]",
    ),
    "expm1_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.expm1_(xs)\nxs",
        "[Array([0.2840254, 0.6487213], dtype=float32), Array(1.1170001, dtype=float32)]",
    ),
    "floor": (
        "jforeach.floor([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0., 0.], dtype=float32), Array(0., dtype=float32)]",
    ),
    "floor_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.floor_(xs)\nxs",
        "[Array([0., 0.], dtype=float32), Array(0., dtype=float32)]",
    ),
    "frac": (
        "jforeach.frac([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.25, 0.5 ], dtype=float32), Array(0.75, dtype=float32)]",
    ),
    "frac_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.frac_(xs)\nxs",
        "[Array([0.25, 0.5 ], dtype=float32), Array(0.75, dtype=float32)]",
    ),
    "lerp": (
        "jforeach.lerp([jnp.array([0.0, 1.0])], [jnp.array([1.0, 3.0])], 0.25)",
        "[Array([0.25, 1.5 ], dtype=float32)]",
    ),
    "lerp_": (
        "xs = [jnp.array([0.0, 1.0])]\n_ = jforeach.lerp_(xs, [jnp.array([1.0, 3.0])], [0.5])\nxs",
        "[Array([0.5, 2. ], dtype=float32)]",
    ),
    "lgamma": (
        "jforeach.lgamma([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([1.2880225, 0.5723648], dtype=float32), Array(0.20328093, dtype=float32)]",
    ),
    "lgamma_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.lgamma_(xs)\nxs",
        "[Array([1.2880225, 0.5723648], dtype=float32), Array(0.20328093, dtype=float32)]",
    ),
    "log": (
        "jforeach.log([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([-1.3862944, -0.6931472], dtype=float32), Array(-0.2876821, dtype=float32)]",
    ),
    "log10": (
        "jforeach.log10([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([-0.60206, -0.30103], dtype=float32), Array(-0.12493875, dtype=float32)]",
    ),
    "log10_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.log10_(xs)\nxs",
        "[Array([-0.60206, -0.30103], dtype=float32), Array(-0.12493875, dtype=float32)]",
    ),
    "log1p": (
        "jforeach.log1p([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.22314355, 0.4054651 ], dtype=float32), Array(0.5596158, dtype=float32)]",
    ),
    "log1p_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.log1p_(xs)\nxs",
        "[Array([0.22314355, 0.4054651 ], dtype=float32), Array(0.5596158, dtype=float32)]",
    ),
    "log2": (
        "jforeach.log2([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([-2., -1.], dtype=float32), Array(-0.4150375, dtype=float32)]",
    ),
    "log2_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.log2_(xs)\nxs",
        "[Array([-2., -1.], dtype=float32), Array(-0.4150375, dtype=float32)]",
    ),
    "log_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.log_(xs)\nxs",
        "[Array([-1.3862944, -0.6931472], dtype=float32), Array(-0.2876821, dtype=float32)]",
    ),
    "max": (
        "jforeach.max({'b': jnp.array([1.0, -2.0]), 'w': jnp.array([[3.0, 4.0]])})",
        "{'b': Array(1., dtype=float32), 'w': Array(4., dtype=float32)}",
    ),
    "maximum": (
        "jforeach.maximum([jnp.array([1.0, 2.0]), jnp.array(3.0)], 1.5)",
        "[Array([1.5, 2. ], dtype=float32), Array(3., dtype=float32)]",
    ),
    "maximum_": (
        "xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]\n"
        "_ = jforeach.maximum_(xs, [jnp.array([0.0, 5.0]), jnp.array(4.0)])\n"
        "xs",
        "[Array([1., 5.], dtype=float32), Array(4., dtype=float32)]",
    ),
    "minimum": (
        "jforeach.minimum([jnp.array([1.0, 2.0]), jnp.array(3.0)], 1.5)",
        "[Array([1. , 1.5], dtype=float32), Array(1.5, dtype=float32)]",
    ),
    "minimum_": (
        "xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]\n"
        "_ = jforeach.minimum_(xs, [jnp.array([0.0, 5.0]), jnp.array(4.0)])\n"
        "xs",
        "[Array([0., 2.], dtype=float32), Array(3., dtype=float32)]",
    ),
    "mm": (
        "jforeach.mm([jnp.ones((2, 3))], [jnp.arange(3.0).reshape(3, 1)])",
        "[Array([[3.],\n       [3.]], dtype=float32)]",
    ),
    "mul": (
        "jforeach.mul([jnp.array([1.0, 2.0]), jnp.array(3.0)], 2)",
        "[Array([2., 4.], dtype=float32), Array(6., dtype=float32)]",
    ),
    "mul_": (
        "xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]\n_ = jforeach.mul_(xs, [2.0, 4.0])\nxs",
        "[Array([2., 4.], dtype=float32), Array(12., dtype=float32)]",
    ),
    "neg": (
        "jforeach.neg([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([-0.25, -0.5 ], dtype=float32), Array(-0.75, dtype=float32)]",
    ),
    "neg_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.neg_(xs)\nxs",
        "[Array([-0.25, -0.5 ], dtype=float32), Array(-0.75, dtype=float32)]",
    ),
    "norm": (
        "jforeach.norm({'b': jnp.array([1.0, -2.0]), 'w': jnp.array([[3.0, 4.0]])})",
        "{'b': Array(2.236068, dtype=float32), 'w': Array(5., dtype=float32)}",
    ),
    "pow": (
        "jforeach.pow([jnp.array([1.0, 2.0]), jnp.array(3.0)], 2)",
        "[Array([1., 4.], dtype=float32), Array(9., dtype=float32)]",
    ),
    "pow_": (
        "xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]\n_ = jforeach.pow_(xs, [0.5, 3.0])\nxs",
        "[Array([1.       , 1.4142135], dtype=float32), Array(27., dtype=float32)]",
    ),
    "powsum": (
        "jforeach.powsum({'b': jnp.array([1.0, -2.0]), 'w': jnp.array([[3.0, 4.0]])}, 1)",
        "{'b': Array(3., dtype=float32), 'w': Array(7., dtype=float32)}",
    ),
    "reciprocal": (
        "jforeach.reciprocal([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([4., 2.], dtype=float32), Array(1.3333334, dtype=float32)]",
    ),
    "reciprocal_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.reciprocal_(xs)\nxs",
        "[Array([4., 2.], dtype=float32), Array(1.3333334, dtype=float32)]",
    ),
    "round": (
        "jforeach.round([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0., 0.], dtype=float32), Array(1., dtype=float32)]",
    ),
    "round_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.round_(xs)\nxs",
        "[Array([0., 0.], dtype=float32), Array(1., dtype=float32)]",
    ),
    "rsqrt": (
        "jforeach.rsqrt([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([2.       , 1.4142135], dtype=float32), Array(1.1547005, dtype=float32)]",
    ),
    "rsqrt_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.rsqrt_(xs)\nxs",
        "[Array([2.       , 1.4142135], dtype=float32), Array(1.1547005, dtype=float32)]",
    ),
    "sigmoid": (
        "jforeach.sigmoid([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.5621765 , 0.62245935], dtype=float32), Array(0.6791787, dtype=float32)]",
    ),
    "sigmoid_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.sigmoid_(xs)\nxs",
        "[Array([0.5621765 , 0.62245935], dtype=float32), Array(0.6791787, dtype=float32)]",
    ),
    "sign": (
        "jforeach.sign([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([1., 1.], dtype=float32), Array(1., dtype=float32)]",
    ),
    "sign_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.sign_(xs)\nxs",
        "[Array([1., 1.], dtype=float32), Array(1., dtype=float32)]",
    ),
    "sin": (
        "jforeach.sin([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.24740396, 0.47942555], dtype=float32), Array(0.6816388, dtype=float32)]",
    ),
    "sin_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.sin_(xs)\nxs",
        "[Array([0.24740396, 0.47942555], dtype=float32), Array(0.6816388, dtype=float32)]",
    ),
    "sinh": (
        "jforeach.sinh([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.2526123 , 0.52109534], dtype=float32), Array(0.82231677, dtype=float32)]",
    ),
    "sinh_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.sinh_(xs)\nxs",
        "[Array([0.2526123 , 0.52109534], dtype=float32), Array(0.82231677, dtype=float32)]",
    ),
    "sqrt": (
        "jforeach.sqrt([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.5       , 0.70710677], dtype=float32), Array(0.8660254, dtype=float32)]",
    ),
    "sqrt_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.sqrt_(xs)\nxs",
        "[Array([0.5       , 0.70710677], dtype=float32), Array(0.8660254, dtype=float32)]",
    ),
    "sub": (
        "jforeach.sub([jnp.array([1.0, 2.0]), jnp.array(3.0)], 0.5)",
        "[Array([0.5, 1.5], dtype=float32), Array(2.5, dtype=float32)]",
    ),
    "sub_": (
        "xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]\n"
        "_ = jforeach.sub_(xs, [jnp.array([10.0, 20.0]), jnp.array(30.0)], alpha=2)\n"
        "xs",
        "[Array([-19., -38.], dtype=float32), Array(-57., dtype=float32)]",
    ),
    "tan": (
        "jforeach.tan([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.25534192, 0.5463025 ], dtype=float32), Array(0.93159646, dtype=float32)]",
    ),
    "tan_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.tan_(xs)\nxs",
        "[Array([0.25534192, 0.5463025 ], dtype=float32), Array(0.93159646, dtype=float32)]",
    ),
    "tanh": (
        "jforeach.tanh([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0.24491866, 0.46211717], dtype=float32), Array(0.635149, dtype=float32)]",
    ),
    "tanh_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.tanh_(xs)\nxs",
        "[Array([0.24491866, 0.46211717], dtype=float32), Array(0.635149, dtype=float32)]",
    ),
    "trunc": (
        "jforeach.trunc([jnp.array([0.25, 0.5]), jnp.array(0.75)])",
        "[Array([0., 0.], dtype=float32), Array(0., dtype=float32)]",
    ),
    "trunc_": (
        "xs = [jnp.array([0.25, 0.5]), jnp.array(0.75)]\n_ = jforeach.trunc_(xs)\nxs",
        "[Array([0., 0.], dtype=float32), Array(0., dtype=float32)]",
    ),
    "zero_": (
        "xs = [jnp.array([1.0, 2.0]), jnp.array(3.0)]\n_ = jforeach.zero_(xs)\nxs",
        "[Array([0., 0.], dtype=float32), Array(0., dtype=float32)]",
    ),
}
