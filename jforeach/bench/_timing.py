"""The benchmark's one timer: runners timed in interleaved rounds."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable

# A runner runs the given number of steps back to back and returns once they are done.
Runner = Callable[[int], None]


@dataclasses.dataclass
class Timing:
    """One runner's measurement.

    ``first_s`` is its first step (which compiles), ``samples_s`` the seconds per step of each
    round (a round's burst of ``burst`` steps, divided by ``burst``).
    """

    first_s: float
    samples_s: list[float]
    burst: int

    @property
    def median_s(self) -> float:
        return statistics.median(self.samples_s)

    @property
    def calls(self) -> int:
        return len(self.samples_s) * self.burst


def interleaved(
    runners: dict[str, Runner],
    rounds: int,
    sample_s: float,
    *,
    max_burst: int = 1000,
    on_warmup: Callable[[str], None] | None = None,
) -> dict[str, Timing]:
    """Times every runner, one sample each per round, in turn (A B A B ...).

    Each runner's first step is timed apart (it compiles); a second step sizes its burst, the
    number of steps that last about ``sample_s`` (at least one, at most ``max_burst``), and one
    burst warms it up. Then ``rounds`` rounds each run every runner's burst in turn, so that a
    change in the machine's load hits all of them alike. On a GPU a burst of a few short steps
    would time the launch latency and the clock ramp-up of an idle device, not the steps: size
    ``sample_s`` to tens of milliseconds there.

    Args:
      runners: Name -> runner; a runner runs ``n`` steps and waits for them.
      rounds: The number of samples per runner.
      sample_s: The seconds one burst should last; 0 times single steps.
      max_burst: The most steps in one burst.
      on_warmup: Called with a runner's name before its warm-up.

    Returns:
      Name -> :class:`Timing`.
    """
    first: dict[str, float] = {}
    bursts: dict[str, int] = {}
    for name, run in runners.items():
        if on_warmup is not None:
            on_warmup(name)
        start = time.perf_counter()
        run(1)
        first[name] = time.perf_counter() - start
        start = time.perf_counter()
        run(1)
        bursts[name] = max(1, min(max_burst, int(sample_s / max(time.perf_counter() - start, 1e-9))))
        run(bursts[name])
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            run(bursts[name])
            samples[name].append((time.perf_counter() - start) / bursts[name])
    return {name: Timing(first[name], samples[name], bursts[name]) for name in runners}
