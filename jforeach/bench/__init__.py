"""``python -m jforeach bench``: time jforeach against the alternatives a user has.

Sections, picked with ``--ops``:

- the op sweep (``log1p``, ``add``, ``addcmul``, ``norm``; :mod:`jforeach.bench.ops`): each op over
  N float32 arrays of S elements as a jnp for-loop, ``map``, ``jit(tree_map)``, jforeach on the list
  and on a Packed, one flat kernel and torch, followed by the compile time of ``log1p_`` on a
  Packed of 10 and of 10,000 arrays;
- ``adam``, one optimizer step (:mod:`jforeach.bench.optim`): torch fused and foreach, optax per
  leaf, jforeach on a Packed, for SGD, Adam and AdamW with ``--quick``, every optimizer without
  (or those ``--optimizers`` names);
- ``train``, one full train step of a small transformer (:mod:`jforeach.bench.train`): optax per
  leaf, ``optax.flatten``, a Packed; ``--quick`` leaves it out unless ``--ops`` names it;
- ``percall``, the per-call cost of jforeach against the bare donated jitted call
  (:mod:`jforeach.bench.percall`); it runs only when ``--ops`` names it, since it makes JAX's CPU
  dispatch synchronous for the whole run;
- ``unpack``, the compile and step time of ``grad`` of a loss that unpacks thousands of tensors
  from a Packed, against the same loss on the tree (:mod:`jforeach.bench.unpack`; ``--unpack-n``);
  it runs only when ``--ops`` names it (10,000 tensors compile for minutes).

The tables are printed; ``bench.json`` (rows, machine, arguments, notes) and ``bench.png`` (plots)
are written to ``--out``. Nothing else in the package imports this subpackage, and the test suite
does not collect it for doctests (``pyproject.toml``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["main"]

SWEEP_OPS = ("log1p", "add", "addcmul", "norm")  # the rows of ops._OPS
OPTIM_OPS = ("adam",)
TRAIN_OPS = ("train",)
PERCALL_OPS = ("percall",)
UNPACK_OPS = ("unpack",)
ALL_OPS = SWEEP_OPS + OPTIM_OPS + TRAIN_OPS + PERCALL_OPS + UNPACK_OPS
UNPACK_NS = (2000, 10_000)  # --quick: 500
QUICK_OPTIMIZERS = ("sgd", "adam", "adamw")  # --quick: the fused-vs-foreach-vs-Packed comparison only

_MISSING_EXTRA = (
    "`python -m jforeach bench` needs tqdm and matplotlib ({missing}); install them with: pip install 'jforeach[bench]'"
)
_TITLES = {
    "sweep": "foreach ops, float32 (x limit: over one flat kernel of N*S floats)",
    "compile": "compile time of log1p_ on a Packed vs number of arrays",
    "optim": "optimizer step (x limit: over the case's limit row; x torch: over torch's fused step, "
    "else its foreach, else its single-tensor one)",
    "train": "one train step of a small transformer: forward, backward, AdamW (compile s: trace + compile)",
}


def _load_torch() -> tuple[ModuleType | None, str | None]:
    try:
        import torch
    except ImportError:
        return None, "torch not installed: torch columns skipped"
    except Exception as e:  # a broken torch install only loses the torch columns
        return None, f"torch not importable ({type(e).__name__}: {e}): torch columns skipped"
    return torch, None


def _busy(when: str, load: float, cpus: int) -> str:
    return (
        f"the machine was busy at the {when} (load average {load:.1f} on {cpus} CPUs): timings are noisy, "
        "torch's most of all (its OpenMP threads wait for each other)"
    )


# ----------------------------------------------------------------------
# Command line.


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        parts = item.strip().lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
            raise argparse.ArgumentTypeError(f"size {item!r} is not NxS with positive integers, e.g. 1000x100")
        sizes.append((int(parts[0]), int(parts[1])))
    return sizes


def _parse_ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of integers") from None
    if any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} has a non-positive entry")
    return values


def _parse_ops(text: str) -> list[str]:
    ops = [o.strip().rstrip("_") for o in text.split(",") if o.strip()]
    unknown = [o for o in ops if o not in ALL_OPS]
    if unknown or not ops:
        raise argparse.ArgumentTypeError(f"unknown op(s) {unknown}; choose among {','.join(ALL_OPS)}")
    return list(dict.fromkeys(ops))


def _parse_optimizers(text: str) -> list[str]:
    from .optim import OPTIMIZERS

    if text.strip() == "all":
        return list(OPTIMIZERS)
    names = [o.strip() for o in text.split(",") if o.strip()]
    unknown = [o for o in names if o not in OPTIMIZERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown optimizer(s) {unknown}; choose among all,{','.join(OPTIMIZERS)}")
    return names


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    from .ops import COMPILE_NS, FULL_SIZES, QUICK_SIZES

    parser = argparse.ArgumentParser(
        prog="python -m jforeach bench",
        description="Time jforeach's list and Packed paths against jnp loops, "
        "jax.jit(tree_map), one flat kernel and torch._foreach_* (when torch is "
        "installed); optimizer steps, a train step, and the per-call cost.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes; about a minute on 2 cores")
    parser.add_argument(
        "--ops",
        type=_parse_ops,
        default=None,
        help=f"comma list among {','.join(ALL_OPS)} (default: all but percall and unpack, and with --quick all "
        "but train, percall and unpack; adam is the optimizer section, train the transformer train-step section, "
        "whose four compiles take minutes, percall the per-call cost of jforeach against the bare jitted call, "
        "unpack the compile time of a loss that unpacks thousands of tensors)",
    )
    parser.add_argument(
        "--sizes",
        type=_parse_sizes,
        default=None,
        help="comma list of NxS, N arrays of S float32 each (default: "
        + ",".join(f"{n}x{s}" for n, s in FULL_SIZES)
        + "; with --quick: "
        + ",".join(f"{n}x{s}" for n, s in QUICK_SIZES)
        + ")",
    )
    parser.add_argument(
        "--compile-n",
        type=_parse_ints,
        default=list(COMPILE_NS),
        help="numbers of arrays in the Packed compile-time section (default: 10,10000)",
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for bench.json and bench.png")
    parser.add_argument(
        "--repeat", type=_positive_int, default=None, help="timed rounds per sweep case (default: 10; with --quick: 5)"
    )
    parser.add_argument(
        "--optimizers",
        type=_parse_optimizers,
        default=None,
        help="optimizer section: comma list of jforeach.optim names, or all "
        f"(default: all; with --quick: {','.join(QUICK_OPTIMIZERS)})",
    )
    parser.add_argument("--cases", default="", help="optimizer section: only the cases whose name contains this")
    parser.add_argument(
        "--unpack-n",
        type=_parse_ints,
        default=None,
        help="tensor counts of the unpack section (default: " + ",".join(map(str, UNPACK_NS)) + "; with --quick: 500)",
    )
    parser.add_argument(
        "--skip",
        default="",
        help="optimizer and train sections: comma list, leave out implementations whose name contains one",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the benchmark; ``python -m jforeach bench [args]`` calls this.

    Args:
      argv: The command-line arguments after ``bench``; ``sys.argv[1:]`` when None.

    Returns:
      The process exit status: 0 on success, 2 when tqdm or matplotlib is missing.
    """
    args = _parser().parse_args(argv)
    missing = [m for m in ("tqdm", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        print(_MISSING_EXTRA.format(missing=", ".join(missing)), file=sys.stderr)
        return 2
    if args.ops is None:  # train compiles for minutes (--quick leaves it out); percall and unpack run when named
        args.ops = [o for o in ALL_OPS if o not in PERCALL_OPS + UNPACK_OPS and not (args.quick and o in TRAIN_OPS)]

    import jax

    notes: list[str] = []
    dispatch_flag = jax.config.values["jax_cpu_enable_async_dispatch"]
    if "percall" in args.ops:
        from .percall import synchronous_dispatch

        # the flag is read when JAX creates its CPU client: it is set before the run's first JAX call
        synchronous_dispatch()
        if len(args.ops) > 1:
            notes.append("percall made JAX's CPU dispatch synchronous for every section of this run")
    try:
        return _run(args, notes)
    finally:
        jax.config.update("jax_cpu_enable_async_dispatch", dispatch_flag)


def _run(args: argparse.Namespace, notes: list[str]) -> int:
    import jax
    from tqdm import tqdm

    from . import _table, ops

    sizes = args.sizes or list(ops.QUICK_SIZES if args.quick else ops.FULL_SIZES)
    repeat = args.repeat or (5 if args.quick else 10)
    batch_s = 0.003 if args.quick else 0.01
    # Elements per array in the compile section: odd, so that no buffer length of the sweep
    # is met again and a kernel cached by buffer shape cannot hide the compile.
    compile_size = 7 if args.quick else 37
    sweep_ops = [o for o in args.ops if o in SWEEP_OPS]
    skip = tuple(k for k in args.skip.split(",") if k)

    load_start = _table.load_avg()
    cpus = os.cpu_count() or 1
    if load_start is not None and load_start > 0.5 * cpus:
        notes.append(_busy("start", load_start, cpus))
    import jforeach

    # torch runs in the sweep and the optimizer section only (its import takes seconds)
    torch, why = _load_torch() if sweep_ops or "adam" in args.ops else (None, None)
    if why:
        notes.append(why)
    env: dict[str, Any] = {"jforeach": jforeach, "torch": torch, "torch_device": "cpu"}
    if torch is not None and jax.default_backend() == "gpu" and torch.cuda.is_available():
        env["torch_device"] = "cuda"

    impls = [i for i in ops.IMPLS if torch is not None or not i.startswith("torch")]
    run_compile = bool(sweep_ops)
    total = len(sweep_ops) * len(sizes) + (len(args.compile_n) if run_compile else 0)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tqdm(total=total, desc="jforeach bench", unit="case", file=sys.stderr) as bar:
        rows += ops.run_sweep(sweep_ops, sizes, impls, env, repeat, batch_s, bar)
        if run_compile:
            rows += ops.run_compile(jforeach, args.compile_n, compile_size, repeat, batch_s, bar)

    def progress(line: str) -> None:
        print(line, file=sys.stderr)

    if "adam" in args.ops:
        from .optim import run_optim_bench

        print("optimizer section ...", file=sys.stderr)
        optimizers = args.optimizers or (QUICK_OPTIMIZERS if args.quick else None)
        try:
            optim_rows = run_optim_bench(
                args.quick,
                cases=args.cases,
                skip=skip,
                optimizers=None if optimizers is None else tuple(optimizers),
                progress=progress,
            )
            rows += [{"section": "optim", **row} for row in optim_rows]
        except Exception as e:  # keep the sweep's results
            notes.append(f"optimizer benchmark failed ({type(e).__name__}: {e}): optimizer section skipped")

    if "train" in args.ops:
        from . import train

        print("train-step section ...", file=sys.stderr)
        try:
            if skip:
                impls_train = tuple(i for i in train.IMPLS if not any(k in i for k in skip))
                trained = train.run_train_bench(args.quick, impls=impls_train, progress=progress)
            else:  # (the tests replace run_train_bench with one that picks the implementations)
                trained = train.run_train_bench(args.quick, progress=progress)
            rows += [{"section": "train", **row} for row in trained]
        except Exception as e:  # keep the other sections' results
            notes.append(f"train-step benchmark failed ({type(e).__name__}: {e}): train section skipped")

    unpack_results: list[dict[str, Any]] = []
    if "unpack" in args.ops:
        from . import unpack

        print("unpack section ...", file=sys.stderr)
        for n in args.unpack_n or ([500] if args.quick else list(UNPACK_NS)):
            unpack_results.append(unpack.measure(n, rounds=repeat))
            r = unpack_results[-1]
            progress(
                f"unpack {n} tensors: compile {r['tree']['compile_s']:.2f} s tree, "
                f"{r['packed']['compile_s']:.2f} s Packed"
            )
            for impl, key in (("tree", "tree"), ("Packed", "packed")):
                rows.append(
                    {
                        "section": "unpack",
                        "case": f"grad of a loss over {n} tensors",
                        "impl": impl,
                        "tensors": n,
                        **r[key],
                    }
                )

    if "percall" in args.ops:
        from . import percall

        print("per-call section ...", file=sys.stderr)
        rows += [{"section": "percall", **row} for row in percall.run_percall_bench(args.quick, progress=progress)]

    _table.add_ratios(rows)
    elapsed = time.perf_counter() - started
    load = _table.load_avg()
    if load is not None and load > cpus + 0.5:  # the benchmark itself keeps up to `cpus` busy
        notes.append(_busy("end", load, cpus))

    for section, title in _TITLES.items():
        section_rows = [r for r in rows if r["section"] == section]
        if section_rows:
            print(f"\n== {title}")
            print(_table.rows_table(section_rows, torch_column=torch is not None))
    for row in (r for r in rows if r["section"] == "compile"):
        print(f"   N={row['n']}: pack {row['pack_s']:.3f} s, unpack {row['unpack_s']:.3f} s")
    targets = ops.targets(rows)
    if targets:
        print("\n== targets (issues 2 and 3): list/jit(tree_map) <= 1.15, Packed/flat <= 1.2, Packed/torch <= 0.5")
        width = max(len(t["case"]) for t in targets)
        for t in targets:
            ratios = ", ".join(f"{k} {_table.fmt(v, '.2f')}" for k, v in t.items() if k != "case")
            print(f"   {t['case']:<{width}}  {ratios}")
    percall_rows = [r for r in rows if r["section"] == "percall"]
    if percall_rows:
        from . import percall

        print("\n== per-call cost: jforeach against the bare donated jitted call, alternating pairs (issue 10)")
        print(percall.table(percall_rows))
    if unpack_results:
        from . import unpack

        print("\n== unpack: compile and step of grad(loss) on the tree and on a Packed through unpack (ratio: compile)")
        print(unpack.table(unpack_results))
    for note in notes:
        print(f"note: {note}")

    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": _table.machine_info(torch, load_start),
        "args": {
            "quick": args.quick,
            "ops": args.ops,
            "sizes": [f"{n}x{s}" for n, s in sizes],
            "repeat": repeat,
            "compile_n": args.compile_n,
        },
        "elapsed_s": elapsed,
        "notes": notes,
        "targets": targets,
        "rows": rows,
    }
    json_path, png_path = args.out / "bench.json", args.out / "bench.png"
    _table.write_json(json_path, result)
    _table.plot(rows, png_path, ops.IMPLS)
    print(f"\nwrote {json_path} and {png_path} ({elapsed:.1f} s)")
    return 0
