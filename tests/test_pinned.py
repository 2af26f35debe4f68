"""Checks that pin values the rest of the suite takes on trust.

- The default tolerance table: for every dtype, the last representable value inside the allowed
  error passes and the next one fails (so a tolerance made looser or tighter shows up here).
- Resize coordinates and weights, from formulas written here and not taken from the reference:
  linear and cubic resize reproduce a linear ramp exactly where every tap is inside the image, and
  a one-hot input gives back the interpolation kernel itself.
- Transposed-convolution geometry: PyTorch's full output (no padding), then the ONNX operator
  text's pads/auto_pad/output_shape arithmetic written out here, against the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from upconform import reference as R
from upconform.canonical import np_dtype
from upconform.harness.compare import DEFAULT_TOLERANCES, compare

# ----------------------------------------------------------------------------- tolerance table

_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _next_up(v: np.ndarray) -> np.ndarray:
    """The next representable value above each positive finite ``v`` (any float dtype, bfloat16 too)."""
    bits = v.view(_UINT[v.dtype.itemsize])
    return (bits + bits.dtype.type(1)).view(v.dtype)


def _last_inside(expected: float, dtype: str) -> np.ndarray:
    """The largest value of ``dtype`` within the default tolerance above ``expected`` (the distance
    and the allowed error computed in float64, as the comparison does)."""
    tol = DEFAULT_TOLERANCES[dtype]
    allowed = tol.atol + tol.rtol * abs(expected)
    v = np.array([expected + allowed], dtype=np_dtype(dtype))
    step = _UINT[v.dtype.itemsize]
    while float(v[0]) - expected > allowed:  # the cast rounded up: step down
        v = (v.view(step) - step(1)).view(v.dtype)
    while float(_next_up(v)[0]) - expected <= allowed:
        v = _next_up(v)
    return v


EXPECTED = [0.0, 1.0, 3.7, 250.0]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("expected", EXPECTED)
def test_float_tolerance_boundary(dtype, expected):
    inside = _last_inside(expected, dtype)
    outside = _next_up(inside)
    e = np.array([expected])
    assert compare(inside, e, dtype).ok, (dtype, expected, float(inside[0]))
    c = compare(outside, e, dtype)
    assert not c.ok and c.check == "values", (dtype, expected, float(outside[0]))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_float_tolerance_values(dtype):
    """The table's own numbers, at points where a fraction of the allowed error is representable."""
    tol = DEFAULT_TOLERANCES[dtype]
    want = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
            "float64": (1e-7, 1e-7)}[dtype]
    assert (tol.rtol, tol.atol) == want  # torch.testing.assert_close's defaults (float64: ours, see README)
    # atol alone, at zero: 0.9 atol passes, 1.1 atol fails
    z = np.zeros(1)
    assert compare(np.array([0.9 * tol.atol], np_dtype(dtype)), z, dtype).ok
    assert not compare(np.array([1.1 * tol.atol], np_dtype(dtype)), z, dtype).ok


def test_uint8_tolerance_is_one_step():
    e = np.array([0.0, 100.0, 255.0])
    assert compare(np.uint8([1, 101, 254]), e, "uint8").ok
    for bad in ([2, 100, 255], [0, 98, 255], [0, 100, 253]):
        assert not compare(np.uint8(bad), e, "uint8").ok, bad


def test_fake_binding_two_tolerances_away_fails(fake_bindings):
    """A fault of twice the allowed error fails and half of it passes, in float32 and float64."""
    from upconform.adapters import get
    from upconform.harness.runner import run_cases
    from upconform.harness.spec import load_text

    spec = ("op: repeat\ndefaults: {shapes: {x: [1, 2, 5]}, dtypes: [float32, float64]}\n"
            "cases:\n  - {id: near, params: {repeats: 2}}\n")
    cases, _ = load_text(spec, "near.yaml")
    fake = get("fake.repeat")
    try:
        outcomes = {}
        for k in (0.5, 2.0):
            fake.tolerance_multiple = k
            outcomes[k] = {r.dtype: r for r in run_cases(cases, ["fake.repeat"], max_repeats=1)}
    finally:
        fake.tolerance_multiple = 0.0
    for dt in ("float32", "float64"):
        assert outcomes[0.5][dt].outcome == "pass", outcomes[0.5][dt].reason
        r = outcomes[2.0][dt]
        assert r.outcome == "fail" and r.metrics["mismatch_fraction"] == 1.0, (dt, r.reason)
        tol = DEFAULT_TOLERANCES[dt]
        # the worst error is about twice the allowed error at the worst element
        allowed = tol.atol + tol.rtol * abs(r.metrics["worst_expected"])
        assert 1.5 * allowed < r.metrics["max_abs_err"] < 2.5 * (tol.atol + tol.rtol * 4.0)


# ----------------------------------------------------------------------------- resize pins


def _coord(ctm: str, i: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """Input coordinate of output i when resizing n_in -> n_out with sizes (ONNX Resize text)."""
    s = n_out / n_in
    if ctm == "half_pixel":
        return (i + 0.5) / s - 0.5
    if ctm == "pytorch_half_pixel":
        return (i + 0.5) / s - 0.5 if n_out > 1 else np.zeros_like(i, dtype=float)
    if ctm == "align_corners":
        return i * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros_like(i, dtype=float)
    if ctm == "asymmetric":
        return i / s
    if ctm == "half_pixel_symmetric":
        return n_in / 2 * (1 - n_out / (s * n_in)) + (i + 0.5) / s - 0.5
    raise AssertionError(ctm)


def _keys(d: np.ndarray, a: float) -> np.ndarray:
    """Keys (1981) cubic convolution kernel, written from the paper's piecewise form."""
    d = np.abs(d)
    out = np.zeros_like(d)
    m1 = d <= 1
    m2 = (d > 1) & (d < 2)
    out[m1] = (a + 2) * d[m1] ** 3 - (a + 3) * d[m1] ** 2 + 1
    out[m2] = a * d[m2] ** 3 - 5 * a * d[m2] ** 2 + 8 * a * d[m2] - 4 * a
    return out


CTMS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"]


@given(st.integers(4, 12), st.integers(2, 25), st.sampled_from(CTMS), st.sampled_from(["linear", "cubic"]),
       st.floats(-3, 3), st.floats(-5, 5), st.floats(-1, 1))
def test_resize_reproduces_polynomials_inside(n_in, n_out, ctm, mode, slope, offset, curve):
    """Linear interpolation reproduces a ramp, and Keys cubic with a = -1/2 (only that a: Keys 1981)
    reproduces polynomials up to degree 2, so inside the image the output is the polynomial at the
    output's input coordinate: this pins every coordinate transform."""
    curve = 0.0 if mode == "linear" else curve
    f = lambda t: curve * t * t + slope * t + offset  # noqa: E731
    x = f(np.arange(n_in, dtype=np.float64)).reshape(1, 1, n_in)
    y = R.resize(x, sizes=[1, 1, n_out], mode=mode, coordinate_transformation_mode=ctm, cubic_coeff_a=-0.5)[0, 0]
    c = _coord(ctm, np.arange(n_out), n_in, n_out)
    reach = 0 if mode == "linear" else 1  # taps floor(c) - reach .. floor(c) + 1 + reach
    inside = (np.floor(c) - reach >= 0) & (np.floor(c) + 1 + reach <= n_in - 1)
    assert_allclose(y[inside], f(c[inside]), atol=1e-9)


def test_cubic_a_minus_075_does_not_reproduce_a_ramp():
    """The counterpart: with a = -0.75 (PyTorch's bicubic) a ramp is not reproduced (errors ~0.05),
    so the test above would notice a coefficient mix-up."""
    x = np.arange(8.0).reshape(1, 1, 8)
    y = R.resize(x, sizes=[1, 1, 12], mode="cubic", cubic_coeff_a=-0.75)[0, 0]
    c = (np.arange(12) + 0.5) / 1.5 - 0.5
    assert 0.04 < np.abs(y - c)[2:10].max() < 0.05


@given(st.integers(4, 12), st.integers(2, 25), st.sampled_from(CTMS), st.sampled_from(["linear", "cubic"]),
       st.sampled_from([-0.5, -0.75]), st.data())
def test_resize_of_one_hot_is_the_kernel(n_in, n_out, ctm, mode, a, data):
    """A one-hot input at m gives w(c_i - m) at every output whose taps are all inside: this pins
    the weights (triangle for linear, Keys with coefficient a for cubic)."""
    m = data.draw(st.integers(0, n_in - 1))
    x = np.zeros((1, 1, n_in))
    x[0, 0, m] = 1.0
    y = R.resize(x, sizes=[1, 1, n_out], mode=mode, coordinate_transformation_mode=ctm, cubic_coeff_a=a)[0, 0]
    c = _coord(ctm, np.arange(n_out), n_in, n_out)
    reach = 0 if mode == "linear" else 1
    inside = (np.floor(c) - reach >= 0) & (np.floor(c) + 1 + reach <= n_in - 1)
    kernel = np.clip(1 - np.abs(c - m), 0, None) if mode == "linear" else _keys(c - m, a)
    assert_allclose(y[inside], kernel[inside], atol=1e-12)


def test_one_hot_cubic_kernel_values_by_hand():
    """x2 half_pixel upsampling maps output j to j/2 - 0.25. With the hot pixel at 4, outputs 4..11
    sit 2.25, 1.75, 1.25, 0.75, 0.25, 0.25, 0.75, 1.25 away. Keys a = -3/4 by hand:
    d = 1/4: (5/4)(1/64) - (9/4)(1/16) + 1 = 225/256;  d = 3/4: 135/256 - 324/256 + 1 = 67/256;
    d = 5/4: a d^3 - 5a d^2 + 8a d - 4a = -27/256;     d = 7/4: -9/256;  d = 9/4: 0."""
    x = np.zeros((1, 1, 8))
    x[0, 0, 4] = 1.0
    y = R.resize(x, scales=[1, 1, 2], mode="cubic", cubic_coeff_a=-0.75)[0, 0]
    assert (y[4:12] * 256).tolist() == [0.0, -9.0, -27.0, 67.0, 225.0, 225.0, 67.0, -27.0]


# ----------------------------------------------------------------------------- conv_transpose geometry


@st.composite
def conv_geometry(draw):
    rank = draw(st.integers(1, 2))
    group = draw(st.integers(1, 2))
    cin, cog = group * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k = [draw(st.integers(1, 4)) for _ in range(rank)]
    s = [draw(st.integers(1, 3)) for _ in range(rank)]
    d = [draw(st.integers(1, 2)) for _ in range(rank)]
    sp = [draw(st.integers(1, 5)) for _ in range(rank)]
    op = [draw(st.integers(0, max(s[i], d[i]) - 1)) for i in range(rank)]
    full = [s[i] * (sp[i] - 1) + op[i] + (k[i] - 1) * d[i] + 1 for i in range(rank)]
    kind = draw(st.sampled_from(["pads", "SAME_UPPER", "SAME_LOWER", "VALID", "output_shape"]))
    params: dict = {"strides": s, "dilations": d, "output_padding": op, "group": group}
    if kind == "pads":
        b = [draw(st.integers(0, full[i] - 1)) for i in range(rank)]
        e = [draw(st.integers(0, full[i] - 1 - b[i])) for i in range(rank)]
        params["pads"] = b + e
    elif kind == "output_shape":
        params["output_shape"] = [draw(st.integers(1, full[i])) for i in range(rank)]
        params["auto_pad"] = draw(st.sampled_from(["NOTSET", "SAME_UPPER", "SAME_LOWER"]))
    else:
        params["auto_pad"] = kind
    seed = draw(st.integers(0, 2**31))
    return rank, (draw(st.integers(1, 2)), cin, *sp), (cin, cog, *k), params, full, seed


def _text_geometry(params: dict, sp: list[int], full: list[int]) -> tuple[list[int], list[int]]:
    """(begin, length) per axis, from the ONNX ConvTranspose text, written out independently:

    total_padding = stride * (in - 1) + output_padding + ((k - 1) * dilation + 1) - output_shape
    SAME_UPPER: begin = total // 2 (the odd pixel at the end); otherwise begin = total - total // 2.
    Output shape for SAME_*: in * stride. Explicit pads: begin = pads[i], length = full - pads sum.
    """
    rank = len(sp)
    ap = params.get("auto_pad", "NOTSET")
    if "output_shape" in params or ap in ("SAME_UPPER", "SAME_LOWER"):
        target = params.get("output_shape") or [sp[i] * params["strides"][i] for i in range(rank)]
        begins = []
        for i in range(rank):
            total = max(full[i] - target[i], 0)  # negative: extra rows past the full output (bias only)
            begins.append(total // 2 if ap == "SAME_UPPER" else total - total // 2)
        return begins, list(target)
    if ap == "VALID":
        return [0] * rank, list(full)
    p = params["pads"]
    return p[:rank], [full[i] - p[i] - p[rank + i] for i in range(rank)]


@pytest.mark.torch
@given(conv_geometry())
def test_conv_transpose_geometry_against_torch_full_output_then_crop(case):
    torch = pytest.importorskip("torch")
    rank, xshape, wshape, params, full, seed = case
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=xshape), rng.normal(size=wshape)
    b = rng.normal(size=(wshape[1] * params["group"],))
    fn = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d}[rank]
    # PyTorch's full output: no padding, no output_padding (rows of output_padding are bias only)
    y_full = fn(torch.tensor(x), torch.tensor(w), None, stride=params["strides"], dilation=params["dilations"],
                groups=params["group"]).numpy()
    begins, outs = _text_geometry(params, list(xshape[2:]), full)
    want = np.zeros(y_full.shape[:2] + tuple(outs))
    src = tuple(slice(begins[i], min(begins[i] + outs[i], y_full.shape[2 + i])) for i in range(rank))
    dst = tuple(slice(0, s.stop - s.start) for s in src)
    want[(slice(None), slice(None), *dst)] = y_full[(slice(None), slice(None), *src)]
    want += b.reshape(1, -1, *([1] * rank))
    got = R.conv_transpose(x, w, b, **params)
    assert got.shape == want.shape, (params, got.shape, want.shape)
    assert_allclose(got, want, atol=1e-10)
