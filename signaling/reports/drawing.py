"""The pieces the response-time charts are drawn with, so every chart looks alike: the band
colours, the 30 s and 90 s lines, the legends, the weekday-by-hour grid, the figure and its axes.

matplotlib is imported inside each function (see ``signaling.reports.svg``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from signaling.reports import svg
from signaling.reports.words import WEEKDAYS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import Affine2D

BEST_S = 30.0  # under 30 s: best in class
RISK_S = 90.0  # over 90 s (or never joined): a compliance and patient-safety risk

# Okabe-Ito: told apart with the common colour blindnesses, and in grey on a printout
UNDER_30 = "#009E73"
S30_60 = "#F0E442"
S60_90 = "#E69F00"
OVER_90 = "#D55E00"
INK = "#222222"
GRID = "#DDDDDD"
EMPTY_CELL = "#F2F2F2"

WIDTH_IN = 7.5  # a Letter page's text width: the printout shows it 1:1, the page scales it


def band_colour(seconds: float) -> str:
    """The colour of the band ``seconds`` falls in (under 30, 30-60, 60-90, 90 s or more)."""
    if seconds < BEST_S:
        return UNDER_30
    if seconds < 60.0:
        return S30_60
    if seconds < RISK_S:
        return S60_90
    return OVER_90


def benchmark_lines(axes: Axes, *, vertical: bool) -> None:
    """The 30 s and 90 s lines, each labelled, in the same place on every chart."""
    for at, words, colour in (
        (BEST_S, "30 s: best in class", UNDER_30),
        (RISK_S, "90 s: a risk beyond", OVER_90),
    ):
        if vertical:
            line = axes.axvline(at, color=INK, linewidth=1.3, linestyle=(0, (4, 2)), zorder=3)
            # above the plot, so a tall bar never hides it
            label = axes.annotate(
                words,
                xy=(at, 1.0),
                xycoords=axes.get_xaxis_transform(),
                xytext=(0, 3),
                textcoords="offset points",
                color=INK,
                fontsize=7.5,
                ha="center",
                va="bottom",
                annotation_clip=False,
            )
        else:
            line = axes.axhline(at, color=colour, linewidth=1.0, linestyle=(0, (4, 2)))
            label = axes.annotate(
                f"{at:.0f} s",
                xy=(1.0, at),
                xycoords=axes.get_yaxis_transform(),
                xytext=(3, 0),
                textcoords="offset points",
                color=INK,
                fontsize=7,
                ha="left",
                va="center",
                annotation_clip=False,
            )
        line.set_gid(f"line-{at:.0f}s")
        label.set_gid(f"label-{at:.0f}s")


def whole_numbers() -> MaxNLocator:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def shade(n: int, busiest: int) -> str:
    """White (none) to dark blue (the busiest hour), in five steps a printout keeps apart."""
    if n == 0 or busiest == 0:
        return EMPTY_CELL
    steps = ("#DEEBF7", "#9ECAE1", "#6BAED6", "#3182BD", "#08519C")
    return steps[min(len(steps) - 1, math.ceil(n / busiest * len(steps)) - 1)]


def weekday_grid(axes: Axes, colours: Sequence[Sequence[str]], title: str) -> None:
    """Cells of one colour drawn as one path: a few paths for 168 cells keeps the SVG small."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    by_colour: dict[str, list[Path]] = {}
    for d, row in enumerate(colours):
        for h, colour in enumerate(row):
            by_colour.setdefault(colour, []).append(Path.unit_rectangle().transformed(_at(h, d)))
    for colour, cells in sorted(by_colour.items()):
        axes.add_patch(
            PathPatch(
                Path.make_compound_path(*cells),
                facecolor=colour,
                edgecolor="#FFFFFF",
                linewidth=0.8,
            )
        )
    axes.set_xlim(0, 24)
    axes.set_ylim(7, 0)
    axes.set_yticks([d + 0.5 for d in range(7)], [w[:3] for w in WEEKDAYS])
    axes.tick_params(length=0, labelsize=7)
    for side in axes.spines.values():
        side.set_visible(False)
    axes.set_title(title, fontsize=8.5, loc="left")


def _at(hour: int, weekday: int) -> Affine2D:
    from matplotlib.transforms import Affine2D

    return Affine2D().translate(hour, weekday)


def grid_legends(top: Axes, bottom: Axes, busiest: int) -> None:
    """Above each grid, on its right: the volume shades, then the latency bands."""
    from matplotlib.patches import Patch

    volume = [Patch(facecolor=EMPTY_CELL, edgecolor="#BBBBBB", linewidth=0.4, label="none")]
    if busiest:
        volume.append(Patch(facecolor="#DEEBF7", label="fewest"))
        volume.append(Patch(facecolor="#08519C", label=f"most ({busiest})"))
    top.legend(
        handles=volume,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=len(volume),
        fontsize=6.5,
        frameon=False,
        handlelength=1.2,
        borderaxespad=0.1,
    )
    band_legend(bottom, "lower right", (1.0, 1.0), empty=True)


def band_legend(
    axes: Axes,
    loc: Literal["upper right", "lower right"],
    anchor: tuple[float, float] | None,
    *,
    empty: bool = False,
) -> None:
    """The four latency bands (and, for a grid, "no sessions") in one row."""
    from matplotlib.patches import Patch

    bands = [
        Patch(facecolor=UNDER_30, edgecolor=INK, linewidth=0.4, label="under 30 s"),
        Patch(facecolor=S30_60, edgecolor=INK, linewidth=0.4, label="30-60 s"),
        Patch(facecolor=S60_90, edgecolor=INK, linewidth=0.4, label="60-90 s"),
        Patch(facecolor=OVER_90, edgecolor=INK, linewidth=0.4, label="90 s or more"),
    ]
    if empty:
        bands.append(
            Patch(facecolor=EMPTY_CELL, edgecolor="#BBBBBB", linewidth=0.4, label="no sessions")
        )
    axes.legend(
        handles=bands,
        ncols=len(bands),
        fontsize=6.5,
        frameon=False,
        handlelength=1.2,
        borderaxespad=0.1,
        loc=loc,
        bbox_to_anchor=anchor,
    )


def new_figure(height_in: float) -> Figure:
    """A chart's figure: the width of a Letter page's text, ``height_in`` inches tall."""
    return svg.figure(WIDTH_IN, height_in)


def plain_figure(height_in: float) -> tuple[Figure, Axes]:
    """A figure with one styled axes."""
    figure = new_figure(height_in)
    axes = figure.subplots()
    style(axes)
    return figure, axes


def style(axes: Axes) -> None:
    """No top or right frame, light horizontal grid lines behind the data."""
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(labelsize=7.5)
    axes.grid(axis="y", color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)
