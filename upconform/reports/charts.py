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
