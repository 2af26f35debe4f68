"""Charts drawn with matplotlib into inline SVG strings, offline and without pyplot.

Each chart is its own ``matplotlib.figure.Figure`` rendered by the SVG backend: nothing is
registered with pyplot, no backend is selected, and the one rc setting (text stays text in the SVG)
is scoped to the save.

Example:
    >>> svg = bar_chart({"a": 1e-3, "b": 2e-3}, title="t", xlabel="ms")
    >>> svg.startswith("<svg")
    True
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath
from matplotlib.ticker import MaxNLocator

_RC = {"svg.fonttype": "none"}  # text stays text in the SVG (small, searchable)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    FigureCanvasSVG(fig)
    return fig


def _text_width_pt(text: str, size: float) -> float:
    """The width of one line of text in the default font, in points, measured without drawing."""
    return TextToPath().get_text_width_height_descent(text, FontProperties(size=size), ismath=False)[0]


def _svg(fig: Figure, *, tight: bool = True) -> str:
    """The figure as an ``<svg>`` element; ``tight=False`` keeps the figure's own margins (one draw, not two)."""
    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", **({"bbox_inches": "tight"} if tight else {}))
    text = buf.getvalue()
    return text[text.index("<svg"):]


def bar_chart(values_s: Mapping[str, float], *, title: str, xlabel: str = "median time (ms)") -> str:
    """Horizontal bars of seconds (shown in ms), labelled with the ratio to the fastest."""
    items = sorted(values_s.items(), key=lambda kv: kv[1])
    fastest = items[0][1] if items and items[0][1] > 0 else 1.0
    width, height = 7.5, 0.45 * len(items) + 1.0
    label_in = max((_text_width_pt(k, 8) for k, _ in items), default=0.0) / 72
    fig = _figure(width + label_in, height)  # margins measured, not found by a second (tight) draw
    fig.subplots_adjust(left=(label_in + 0.15) / (width + label_in), right=0.97, bottom=0.55 / height,
                        top=1 - 0.35 / height)
    ax = fig.add_subplot()
    names = [k for k, _ in items]
    ms = [v * 1e3 for _, v in items]
    ax.barh(range(len(items)), ms, color="#4a7bd0")
    ax.set_yticks(range(len(items)), names, fontsize=8)
    ax.invert_yaxis()
    for i, (_, v) in enumerate(items):
        ax.text(v * 1e3, i, f"  {v * 1e3:.3g} ms  (x{v / fastest:.1f})", va="center", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, max(ms + [1e-6]) * 1.6)
    return _svg(fig, tight=False)


def heatmaps(grids: Sequence[Sequence[Sequence[float]]], *, titles: Sequence[str]) -> list[str]:
    """|actual - expected| over the spatial plane, one SVG per grid.

    The grids share one figure (new data, extent, colour limits and title for each): building the axes,
    colour bar and ticks once is most of a heatmap's cost, and a report has one per detail block.

    Example:
        >>> [svg[:4] for svg in heatmaps([[[0.0, 1.0]], [[2.0], [3.0]]], titles=["a", "b"])]
        ['<svg', '<svg']
    """
    if not grids:
        return []
    fig = _figure(3.6, 3.0)
    fig.subplots_adjust(left=0.14, right=0.86, bottom=0.14, top=0.82)
    ax = fig.add_subplot()
    im = ax.imshow(np.zeros((1, 1)), cmap="magma", interpolation="nearest")
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
    bar.locator = MaxNLocator(5)
    ax.set_xlabel("W", fontsize=8)
    ax.set_ylabel("H", fontsize=8)
    ax.tick_params(labelsize=7)
    bar.ax.tick_params(labelsize=7)
    out = []
    for grid, title in zip(grids, titles):
        a = np.asarray(grid, dtype=np.float64)
        h, w = a.shape
        im.set_data(a)
        im.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
        im.set_clim(float(a.min()), float(a.max()))
        ax.set_title(title, fontsize=8)
        out.append(_svg(fig, tight=False))
    return out


def heatmap(grid: Sequence[Sequence[float]], *, title: str) -> str:
    """One heatmap (see :func:`heatmaps`)."""
    return heatmaps([grid], titles=[title])[0]


def trend_chart(series: Mapping[str, Sequence[tuple[int, float]]], *, title: str, ylabel: str,
                marks: Sequence[int] = ()) -> str:
    """One line per name over run numbers; ``marks`` draws a vertical line where a change began."""
    fig = _figure(7.5, 2.8)
    ax = fig.add_subplot()
    for name, pts in series.items():
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="o", markersize=3, label=name)
    for m in marks:
        ax.axvline(m, color="#c0392b", linestyle="--", linewidth=1)
    ax.set_xlabel("run")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if series:
        ax.legend(fontsize=7, loc="best")
    return _svg(fig)
