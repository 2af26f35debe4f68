"""Charts rendered offline with matplotlib (Agg) into inline SVG strings.

Example:
    >>> svg = bar_chart({"a": 1e-3, "b": 2e-3}, title="t", xlabel="ms")
    >>> svg.startswith("<svg")
    True
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams["svg.fonttype"] = "none"  # text stays text (small, searchable)


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def bar_chart(values_s: Mapping[str, float], *, title: str, xlabel: str = "median time (ms)") -> str:
    """Horizontal bars of seconds (shown in ms), labelled with the ratio to the fastest."""
    items = sorted(values_s.items(), key=lambda kv: kv[1])
    fastest = items[0][1] if items and items[0][1] > 0 else 1.0
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(items) + 1.0))
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
    return _svg(fig)


def heatmap(grid: Sequence[Sequence[float]], *, title: str) -> str:
    """|actual - expected| over the spatial plane."""
    fig, ax = plt.subplots(figsize=(3.6, 3.0))
    im = ax.imshow(grid, cmap="magma", interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("W", fontsize=8)
    ax.set_ylabel("H", fontsize=8)
    return _svg(fig)


def trend_chart(series: Mapping[str, Sequence[tuple[int, float]]], *, title: str, ylabel: str,
                marks: Sequence[int] = ()) -> str:
    """One line per name over run numbers; ``marks`` draws a vertical line where a change began."""
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
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
