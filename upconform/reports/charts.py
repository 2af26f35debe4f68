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
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

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
    """Horizontal bars of seconds (shown in ms), fastest first, each labelled with its time and its ratio
    to the fastest. Written as SVG directly, like the heatmaps (matplotlib took 0.5 s a chart of ~60
    bindings); label widths are measured in the default font.

    Example:
        >>> svg = bar_chart({"slow": 2e-3, "fast": 1e-3}, title="t")
        >>> svg.index("fast") < svg.index("slow"), "(x2.0)" in svg
        (True, True)
    """
    items = sorted(values_s.items(), key=lambda kv: kv[1])
    fastest = items[0][1] if items and items[0][1] > 0 else 1.0
    row, top, bottom = 18.0, 30.0, 34.0
    label_w = max((_text_width_pt(k, 8) for k, _ in items), default=0.0) * 96 / 72 + 10
    plot_w, note_w = 420.0, 150.0
    x0 = label_w
    width, height = x0 + plot_w + note_w, top + row * len(items) + bottom
    longest = max((v for _, v in items), default=0.0) * 1e3 or 1e-6
    ticks = _ticks(longest)
    scale = plot_w / max(longest, ticks[-1] if ticks else longest)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.1f} {height:.1f}" font-family="sans-serif">',
             f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-size="12">{_esc(title)}</text>']
    for t in ticks:
        x = x0 + t * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - bottom + 4:.1f}" stroke="#ddd" '
                     f'stroke-width="0.5"/><text x="{x:.1f}" y="{height - bottom + 16:.1f}" text-anchor="middle" '
                     f'font-size="9">{t:g}</text>')
    for i, (name, v) in enumerate(items):
        y = top + i * row
        w = max(v * 1e3 * scale, 0.5)
        parts.append(f'<text x="{x0 - 6:.1f}" y="{y + row / 2 + 3:.1f}" text-anchor="end" font-size="11">{_esc(name)}</text>'
                     f'<rect x="{x0:.1f}" y="{y + 3:.1f}" width="{w:.1f}" height="{row - 6:.1f}" fill="#4a7bd0"/>'
                     f'<text x="{x0 + w + 4:.1f}" y="{y + row / 2 + 3:.1f}" font-size="11">{v * 1e3:.3g} ms  '
                     f'(x{v / fastest:.1f})</text>')
    parts.append(f'<line x1="{x0:.1f}" y1="{top - 4}" x2="{x0:.1f}" y2="{height - bottom + 4:.1f}" stroke="#555"/>'
                 f'<text x="{x0 + plot_w / 2:.1f}" y="{height - 4:.1f}" text-anchor="middle" font-size="10">'
                 f'{_esc(xlabel)}</text></svg>')
    return "".join(parts)


def _ticks(hi: float) -> list[float]:
    """About five round tick values from 0 to at least ``hi`` (1, 2 or 5 times a power of ten apart).

    Example:
        >>> _ticks(7.3)
        [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    import math

    raw = hi / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    n = math.ceil(hi / step - 1e-9)
    return [float(round(k * step, 12)) for k in range(n + 1)]


def heatmaps(grids: Sequence[Sequence[Sequence[float]]], *, titles: Sequence[str]) -> list[str]:
    """|actual - expected| over the spatial plane, one small SVG per grid: the grid as an embedded PNG
    (one pixel per cell, scaled up without smoothing), a colour bar with its range, axis labels and
    the title. Drawn without matplotlib's renderer: a report can hold a hundred of them (a
    matplotlib SVG took ~80 ms each). Cells of 1e300 stand for Inf/NaN and take the top colour.

    Example:
        >>> [svg[:4] for svg in heatmaps([[[0.0, 1.0]], [[2.0], [3.0]]], titles=["a", "b"])]
        ['<svg', '<svg']
    """
    return [_heatmap_svg(np.asarray(g, dtype=np.float64), t) for g, t in zip(grids, titles)]


_CMAP: np.ndarray | None = None


def _colours(norm: np.ndarray) -> np.ndarray:
    """[0, 1] -> uint8 RGB through matplotlib's magma table (256 entries)."""
    global _CMAP
    if _CMAP is None:
        _CMAP = (matplotlib.colormaps["magma"](np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)
    return _CMAP[np.clip((norm * 255).round(), 0, 255).astype(np.intp)]


def _png_data_uri(rgb: np.ndarray) -> str:
    """An (H, W, 3) uint8 array as a ``data:image/png;base64,...`` URI (zlib + struct, no imaging library)."""
    import base64
    import struct
    import zlib

    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[i].tobytes() for i in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _heatmap_svg(a: np.ndarray, title: str) -> str:
    h, w = a.shape
    special = a >= 1e300
    finite = a[~special]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    norm = np.where(special, 1.0, (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a))
    side = 180.0
    cell = side / max(h, w)
    pw, ph = cell * w, cell * h
    x0, y0 = 34.0, 16.0 + 12.0 * len(title.splitlines())
    bar_x = x0 + pw + 12
    total_w, total_h = bar_x + 70, y0 + ph + 30
    lines = "".join(f'<text x="{total_w / 2:.1f}" y="{12 + 12 * i}" text-anchor="middle" font-size="10">{_esc(t)}</text>'
                    for i, t in enumerate(title.splitlines()))
    img = _png_data_uri(_colours(norm))
    bar = _png_data_uri(_colours(np.linspace(1.0, 0.0, 64)[:, None]))
    top = "Inf/NaN" if special.any() else f"{hi:.3g}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{total_h:.0f}" '
        f'viewBox="0 0 {total_w:.1f} {total_h:.1f}" font-family="sans-serif">{lines}'
        f'<image x="{x0}" y="{y0}" width="{pw:.1f}" height="{ph:.1f}" preserveAspectRatio="none" '
        f'style="image-rendering:pixelated" href="{img}"/>'
        f'<rect x="{x0}" y="{y0}" width="{pw:.1f}" height="{ph:.1f}" fill="none" stroke="#555" stroke-width="0.5"/>'
        f'<text x="{x0 + pw / 2:.1f}" y="{y0 + ph + 24:.1f}" text-anchor="middle" font-size="9">W (0 to {w - 1})</text>'
        f'<text x="{x0 - 22:.1f}" y="{y0 + ph / 2:.1f}" text-anchor="middle" font-size="9" '
        f'transform="rotate(-90 {x0 - 22:.1f} {y0 + ph / 2:.1f})">H (0 to {h - 1})</text>'
        f'<image x="{bar_x:.1f}" y="{y0}" width="10" height="{ph:.1f}" preserveAspectRatio="none" href="{bar}"/>'
        f'<text x="{bar_x + 14:.1f}" y="{y0 + 8:.1f}" font-size="8">{top}</text>'
        f'<text x="{bar_x + 14:.1f}" y="{y0 + ph:.1f}" font-size="8">{lo:.3g}</text></svg>'
    )


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


_MARKERS = {"spatial": "o", "channels": "s", "batch": "^"}


def scaling_chart(series: Mapping[str, Sequence[Any]], *, bandwidth_Bps: float, title: str) -> str:
    """Time against bytes moved on log-log axes: one colour per binding (points: ``(bytes_moved, seconds,
    axis, ...)``; the marker says the swept axis), its least-squares line with the slope in the legend,
    and the dashed line ``time = bytes / bandwidth`` (what the measured memory bandwidth allows).

    Example:
        >>> svg = scaling_chart({"b": [(1e3, 1e-6, "spatial"), (1e6, 1e-3, "batch")]}, bandwidth_Bps=1e10, title="t")
        >>> svg.startswith("<svg"), "slope 1.00" in svg, "GB/s" in svg
        (True, True, True)
    """
    from ..harness.bench import bandwidth_time, fit_slope

    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.set_yscale("log")
    colours = matplotlib.colormaps["tab10"].colors
    xs_all: list[float] = []
    for i, (name, pts) in enumerate(series.items()):
        if not pts:
            continue
        c = colours[i % len(colours)]
        xs, ys = [float(p[0]) for p in pts], [float(p[1]) for p in pts]
        xs_all += xs
        try:
            slope, icpt = fit_slope(xs, ys)
            lo, hi = min(xs), max(xs)
            ax.plot([lo, hi], [10 ** icpt * lo ** slope, 10 ** icpt * hi ** slope], color=c, linewidth=1, alpha=0.7)
            label = f"{name} (slope {slope:.2f})"
        except ValueError:
            label = name
        for axis in dict.fromkeys(p[2] for p in pts):
            sel = [(x, y) for x, y, p in zip(xs, ys, pts) if p[2] == axis]
            ax.scatter([x for x, _ in sel], [y for _, y in sel], color=c, s=14, marker=_MARKERS.get(axis, "o"),
                       label=label if axis == pts[0][2] else None)
            label = None
    if xs_all:
        lo, hi = min(xs_all), max(xs_all)
        ax.plot([lo, hi], [bandwidth_time(lo, bandwidth_Bps), bandwidth_time(hi, bandwidth_Bps)], color="black",
                linestyle="--", linewidth=1, label=f"bandwidth bound ({bandwidth_Bps / 1e9:.3g} GB/s)")
    ax.set_xlabel("bytes moved (input + output)")
    ax.set_ylabel("median time per call (s)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", linewidth=0.4, color="#ddd")
    ax.legend(fontsize=6.5, loc="upper left")
    return _svg(fig)
