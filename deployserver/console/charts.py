"""The adoption bar chart's geometry, computed on the server (the page draws it as SVG)."""

from __future__ import annotations

from dataclasses import dataclass

from deployserver.services.installations import ReleaseAdoption

WIDTH = 720
LABEL = 150
COUNTS = 110
BAR = 22
GAP = 12
TOP = 8


@dataclass(frozen=True)
class Bar:
    label: str
    tag: str
    y: int
    active: int
    stale: int
    active_width: float
    stale_width: float
    release_id: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    label_width: int
    plot_width: int
    bar_height: int
    bars: list[Bar]


def adoption_chart(rows: list[ReleaseAdoption]) -> Chart:
    """Horizontal stacked bars, one per release: active then stale installations."""
    plot = WIDTH - LABEL - COUNTS
    largest = max((row.active + row.stale for row in rows), default=0) or 1
    bars = []
    for index, row in enumerate(rows):
        tag = "head" if row.head else "candidate" if row.candidate else ""
        bars.append(
            Bar(
                label=row.version,
                tag=tag,
                y=TOP + index * (BAR + GAP),
                active=row.active,
                stale=row.stale,
                active_width=round(plot * row.active / largest, 1),
                stale_width=round(plot * row.stale / largest, 1),
                release_id=row.release_id,
            )
        )
    height = TOP * 2 + max(len(bars), 1) * (BAR + GAP)
    return Chart(WIDTH, height, LABEL, plot, BAR, bars)
