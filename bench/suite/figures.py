"""What a benchmark reports: named figures with min / median / max over repeats, and their targets."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Figure:
    """One measured quantity: its repeats' min, median and max, the target and whether it is met."""

    case: str
    what: str
    unit: str
    low: float
    median: float
    high: float
    target: str = ""
    met: bool | None = None
    """None when there is no target, or the figure is context for another."""

    @classmethod
    def of(
        cls, case: str, what: str, unit: str, samples: Sequence[float], *, target: str = "", met: bool | None = None
    ) -> Figure:
        if not samples:
            raise ValueError(f"{case}: {what}: no samples")
        return cls(case, what, unit, min(samples), statistics.median(samples), max(samples), target, met)

    def shown(self) -> str:
        """`median (min - max) unit`, or just the value when every repeat agreed."""
        if self.low == self.high:
            return f"{_number(self.median)} {self.unit}"
        return f"{_number(self.median)} ({_number(self.low)}-{_number(self.high)}) {self.unit}"

    def verdict(self) -> str:
        return {None: "", True: "met", False: "MISSED"}[self.met]

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def _number(value: float) -> str:
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def quantile(samples: Sequence[float], q: float) -> float:
    """The sample at quantile `q` (nearest rank), e.g. 0.5 or 0.99."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def table(figures: Sequence[Figure]) -> str:
    """A Markdown table: case, what, the figure, the target, met or missed."""
    lines = ["| case | what | median (min-max) | target | |", "|---|---|---:|---|---|"]
    lines += [f"| {f.case} | {f.what} | {f.shown()} | {f.target} | {f.verdict()} |" for f in figures]
    return "\n".join(lines)
