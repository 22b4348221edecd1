"""The benchmark's output: ratios, one text-table formatter, the machine description, bench.json and bench.png."""

from __future__ import annotations

import functools
import json
import os
import platform
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import jax
import numpy as np

# the sweep's reference rows; the other sections name theirs in the impl ("bandwidth limit", "fused=True")
FLAT = "flat kernel"
TORCH_FOREACH = "torch._foreach"
# torch's fastest kind of optimizer step first: a row's "x torch" is over the first one its case has
_TORCH_OPTIM_KINDS = ("fused=True", "foreach=True", "single-tensor")


def fmt(value: Any, spec: str) -> str:
    """``value`` formatted with ``spec``, or ``-`` for None."""
    return "-" if value is None else format(value, spec)


def format_table(header: Sequence[str], lines: Sequence[Sequence[str]], *, left: int = 2, group: bool = True) -> str:
    """An aligned text table: the first ``left`` columns flush left, the others right.

    With ``group``, a blank line separates rows whose first cell (the case) differs.
    """
    widths = [max(len(c) for c in col) for col in zip(header, *lines, strict=True)]

    def render(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [render(header), render(["-" * w for w in widths])]
    for i, cells in enumerate(lines):
        if group and i and cells[0] != lines[i - 1][0]:
            out.append("")
        out.append(render(cells))
    return "\n".join(out)


def rows_table(rows: Sequence[dict[str, Any]], *, torch_column: bool) -> str:
    """The table of timed rows (``case``, ``impl``, ``ms``, ``vs_limit``, ``vs_torch``, ``compile_s``)."""
    header = ["case", "impl", "ms", "x limit"] + (["x torch"] if torch_column else []) + ["compile s"]
    lines = []
    for row in rows:
        cells = [str(row["case"]), str(row["impl"]), fmt(row.get("ms"), ".3f"), fmt(row.get("vs_limit"), ".2f")]
        if torch_column:
            cells.append(fmt(row.get("vs_torch"), ".2f"))
        cells.append(fmt(row.get("compile_s"), ".3f"))
        lines.append(cells)
    return format_table(header, lines)


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Adds ``vs_limit`` and ``vs_torch`` to every row that has ``ms``.

    ``vs_limit`` is over the case's limit row (the flat kernel, or a bandwidth limit);
    ``vs_torch`` over ``torch._foreach`` in the op sweep and over torch's fastest kind of
    optimizer step (fused, else foreach, else single-tensor) in the optimizer section.
    """
    by_case: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if "ms" in row:
            by_case.setdefault((row["section"], row["case"]), []).append(row)
    for group in by_case.values():
        limit = _find(group, lambda i: i == FLAT or "limit" in i.lower() or "bandwidth" in i.lower())
        torch_ref = _find(group, lambda i: i == TORCH_FOREACH)
        for kind in _TORCH_OPTIM_KINDS:
            torch_ref = torch_ref or _find(group, functools.partial(_is_torch_kind, kind))
        for row in group:
            row["vs_limit"] = _ratio(row, limit)
            row["vs_torch"] = _ratio(row, torch_ref)


def _is_torch_kind(kind: str, impl: str) -> bool:
    return impl.startswith("torch") and kind in impl


def _find(rows: Iterable[dict[str, Any]], pred: Callable[[str], bool]) -> dict[str, Any] | None:
    return next((r for r in rows if pred(str(r.get("impl", "")))), None)


def _ratio(row: dict[str, Any], ref: dict[str, Any] | None) -> float | None:
    if ref is None or not ref.get("ms") or row.get("ms") is None:
        return None
    return row["ms"] / ref["ms"]


def load_avg() -> float | None:
    """The 1-minute load average, where the system has one."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def machine_info(torch: ModuleType | None, load_start: float | None) -> dict[str, Any]:
    """What the numbers were measured on: platform, CPUs, versions, device, load."""
    import jaxlib

    import jforeach

    device = jax.devices()[0]
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numpy": np.__version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "jax_backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "jax_cpu_enable_async_dispatch": bool(jax.config.values["jax_cpu_enable_async_dispatch"]),
        "torch": getattr(torch, "__version__", None),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "jforeach": jforeach.__version__,
        "load_avg_start": load_start,
        "load_avg_end": load_avg(),
    }


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.write_text(json.dumps(result, indent=2) + "\n")


# ----------------------------------------------------------------------
# bench.png


# each bar panel of the plot: (the row field plotted, its axis label, a log axis, the title)
_BAR_PANELS = {
    "compile": (
        "compile_s",
        "compile s (first call - steady state)",
        False,
        "log1p_ on a Packed: compile time vs number of arrays",
    ),
    "optim": ("ms", "ms per step", True, "optimizer step"),
    "train": ("ms", "ms per step", False, "transformer train step (forward, backward, AdamW)"),
    "percall": ("ms", "ms per call", True, "per-call cost: jforeach vs the bare donated jitted call"),
    "unpack": (
        "compile_s",
        "compile s (trace + lower + XLA)",
        False,
        "grad of a loss: on the tree and on a Packed through unpack",
    ),
}


def plot(rows: Sequence[dict[str, Any]], path: Path, impl_order: Sequence[str]) -> None:
    """One panel per sweep op, and one each for the compile, optimizer, train and per-call sections present."""
    from matplotlib.figure import Figure

    sweep = [r for r in rows if r["section"] == "sweep"]
    ops = list(dict.fromkeys(r["op"] for r in sweep))
    panels: list[tuple[str, Any]] = [("sweep", op) for op in ops]
    percall = [
        {"case": r["case"], "impl": impl, "ms": r[key] / 1e3}
        for r in rows
        if r["section"] == "percall"
        for impl, key in (("jforeach", "jforeach_us"), ("bare jit", "bare_us"))
    ]
    present = {r["section"] for r in rows if r.get("ms") is not None} | ({"percall"} if percall else set())
    panels += [(section, None) for section in _BAR_PANELS if section in present]
    ncols = min(2, max(1, len(panels)))
    nrows = max(1, -(-len(panels) // ncols))
    fig = Figure(figsize=(6.4 * ncols, 4.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    colors = {impl: f"C{i}" for i, impl in enumerate(impl_order)}
    for ax, (kind, op) in zip(axes, panels, strict=False):
        timed = [r for r in rows if r["section"] == kind and r.get("ms") is not None]
        if kind == "sweep":
            _plot_sweep(ax, [r for r in sweep if r["op"] == op], op, colors)
            continue
        field, label, log, title = _BAR_PANELS[kind]
        _plot_bars(ax, percall if kind == "percall" else timed, field, label, log=log)
        ax.set_title(title)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    fig.savefig(path, dpi=110)


def _plot_sweep(ax: Any, rows: Sequence[dict[str, Any]], op: str, colors: dict[str, str]) -> None:
    totals = sorted(
        {r["n"] * r["s"] for r in rows},
        key=lambda t: (-sum(r["n"] * r["s"] == t for r in rows), t),
    )
    styles = ["-", "--", ":", "-."]
    for impl in dict.fromkeys(r["impl"] for r in rows):
        for k, total in enumerate(totals):
            pts = sorted((r["n"], r["ms"]) for r in rows if r["impl"] == impl and r["n"] * r["s"] == total)
            if pts:
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    marker="o",
                    linestyle=styles[k % len(styles)],
                    color=colors.get(impl),
                    label=impl if k == 0 else None,
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of arrays N")
    ax.set_ylabel("ms per call")
    names = {"-": "solid", "--": "dashed", ":": "dotted", "-.": "dash-dot"}
    if len(totals) == 1:
        shown = f"N*S = {totals[0]:.0e}"
    else:
        shown = ", ".join(f"{names[styles[k % len(styles)]]}: N*S = {t:.0e}" for k, t in enumerate(totals))
    ax.set_title(f"{op}, float32, {shown}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def _plot_bars(ax: Any, rows: Sequence[dict[str, Any]], key: str, ylabel: str, *, log: bool = False) -> None:
    cases = list(dict.fromkeys(r["case"] for r in rows))
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    width = 0.8 / max(1, len(impls))
    for j, impl in enumerate(impls):
        xs, hs = [], []
        for i, case in enumerate(cases):
            row = next((r for r in rows if r["case"] == case and r["impl"] == impl), None)
            if row is not None and row.get(key) is not None:
                xs.append(i + (j - (len(impls) - 1) / 2) * width)
                hs.append(row[key])
        ax.bar(xs, hs, width=width, label=impl, color=f"C{j}")
    ax.set_xticks(range(len(cases)), cases, fontsize=7, rotation=15 if len(cases) < 8 else 75)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    if log:
        ax.set_yscale("log")
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top * 6 if log else top * 1.4)  # room for the legend above the bars
    ax.legend(fontsize=7, loc="upper center", ncol=2)
