"""``python -m jforeach``: a short demo; ``python -m jforeach bench [...]``: the benchmark sweep."""

from __future__ import annotations

import sys


def demo() -> None:
    import jax
    import jax.numpy as jnp

    import jforeach

    print(f"jforeach {jforeach.__version__} on jax {jax.__version__} ({jax.devices()[0].platform})\n")
    print("torch:    xs = [torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)]; torch._foreach_log1p_(xs)")
    print("jforeach: xs = [jnp.array(1.0), jnp.array(2.0), jnp.array(3.0)]; jforeach.log1p_(xs)")
    xs = [jnp.array(1.0), jnp.array(2.0), jnp.array(3.0)]
    first = xs[0]
    jforeach.log1p_(xs)
    print(f"  xs = {[round(float(x), 7) for x in xs]}   (the input buffers were donated: {first.is_deleted()})\n")

    params = {"w": jnp.full((2, 3), 0.5), "b": jnp.array([-1.0, 2.0])}
    grads = {"w": jnp.full((2, 3), 0.1), "b": jnp.array([0.3, -0.4])}
    print("A few more ops on a dict of arrays:")
    print("  norm(grads)            ", {k: round(float(v), 4) for k, v in jforeach.norm(grads).items()})
    jforeach.add_(params, grads, alpha=-0.5)
    print("  add_(params, grads, alpha=-0.5) ->  b =", params["b"])
    print("  addcmul(params, grads, grads, value=2)['b'] =", jforeach.addcmul(params, grads, grads, value=2)["b"])
    print("  clamp_min(params, 0.0)['b'] =", jforeach.clamp_min(params, 0.0)["b"])

    packed = jforeach.pack(params)
    print(f"\nPacked: {packed}")
    jforeach.mul_(packed, 2.0)
    print("  mul_(packed, 2.0).unpack()['b'] =", packed.unpack()["b"])
    print("\nNext: `python -m jforeach bench --quick` for the benchmark table and plot.")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "bench":
        from jforeach import bench

        return bench.main(argv[1:])
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv:
        print(f"unknown command {argv[0]!r}; use `python -m jforeach` or `python -m jforeach bench --help`")
        return 2
    demo()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
