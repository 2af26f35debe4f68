"""The rewrite of the reference for speed (issue 15) changes no value: the new resize, resize_vjp,
conv_transpose and conv_transpose_vjp equal the pre-rewrite code (tests/_slow_reference, kept verbatim)
to 1e-12 of the sum of the absolute values of the terms of each output, over random parameters that
cover every option, and raise the same errors where it raises.

Example:
    >>> _close(np.array([1.0]), np.array([1.0 + 1e-13]), np.array([1.0]))
    True
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upconform import reference as R

REL = 1e-12
# the modules (the package exports functions of the same names)
resize_module = importlib.import_module("upconform.reference.resize")
ct_module = importlib.import_module("upconform.reference.conv_transpose")
common_module = importlib.import_module("upconform.reference._common")


def _load_slow() -> tuple[ModuleType, ModuleType]:
    """tests/_slow_reference as a package of its own (its modules import each other relatively)."""
    here = Path(__file__).resolve().parent / "_slow_reference"
    if "_slow_reference" not in sys.modules:
        spec = importlib.util.spec_from_file_location("_slow_reference", here / "__init__.py",
                                                      submodule_search_locations=[str(here)])
        assert spec is not None and spec.loader is not None
        pkg = importlib.util.module_from_spec(spec)
        sys.modules["_slow_reference"] = pkg
        spec.loader.exec_module(pkg)
    return importlib.import_module("_slow_reference.resize"), importlib.import_module("_slow_reference.conv_transpose")


SLOW_RESIZE, SLOW_CT = _load_slow()


def _close(new: np.ndarray, old: np.ndarray, scale: np.ndarray) -> bool:
    """``|new - old| <= 1e-12 * scale`` everywhere (``scale``: the sum of |terms| of each output)."""
    return bool(np.all(np.abs(new - old) <= REL * scale))


def _same(new_fn: Callable[[], Any], old_fn: Callable[[], Any]) -> tuple[Any, Any] | None:
    """Both results, or None when both raise the same error (the rewrite must refuse what the old code
    refused, with the same message)."""
    try:
        old = old_fn()
    except (ValueError, TypeError) as e:
        with pytest.raises(type(e)) as info:
            new_fn()
        assert str(info.value) == str(e)
        return None
    return new_fn(), old


# --------------------------------------------------------------------------- resize

SCALES = [0.3, 1 / 3, 0.5, 0.6, 0.75, 1.0, 1.25, 1.5, 1.7, 2.0, 2.5, 3.0, 4.0]


@st.composite
def resize_cases(draw: st.DrawFn) -> tuple[np.ndarray, dict[str, Any]]:
    nsp = draw(st.integers(1, 3))
    big = draw(st.booleans()) and nsp == 2  # above the threaded/blocked size: the tiled paths run
    lo, hi = (24, 48) if big else (1, 6)
    shape = [draw(st.integers(1, 2)), draw(st.integers(1, 5 if big else 3))]
    shape += [draw(st.integers(lo, hi)) for _ in range(nsp)]
    dtype = draw(st.sampled_from(["float64", "float64", "float32", "uint8"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(size=shape) * 3
    x = (np.abs(x) * 40).astype(np.uint8) if dtype == "uint8" else x.astype(dtype)
    mode = draw(st.sampled_from(resize_module.MODES))
    box = mode in ("area", "adaptive_avg")
    ctm = "half_pixel" if box else draw(st.sampled_from(resize_module.COORDINATE_TRANSFORMATION_MODES))
    ndim = len(shape)
    axes = None if big else draw(st.one_of(st.none(), st.permutations(range(ndim)).flatmap(
        lambda p: st.integers(1, ndim).map(lambda k: list(p[:k])))))
    k = ndim if axes is None else len(axes)
    kw: dict[str, Any] = {
        "axes": axes, "mode": mode, "coordinate_transformation_mode": ctm,
        "nearest_mode": draw(st.sampled_from(resize_module.NEAREST_MODES)),
        "cubic_coeff_a": draw(st.sampled_from([-0.75, -0.5, -0.6])),
        "exclude_outside": draw(st.booleans()),
        "extrapolation_value": draw(st.sampled_from([0.0, -1.5, 7.0])),
        "antialias": False if box else draw(st.booleans()),
        "keep_aspect_ratio_policy": draw(st.sampled_from(resize_module.KEEP_ASPECT_RATIO_POLICIES)),
        "output_size_rule": draw(st.sampled_from(resize_module.OUTPUT_SIZE_RULES)),
        "align_corners_length": draw(st.sampled_from(resize_module.ALIGN_CORNERS_LENGTHS)),
        "integer_rounding": draw(st.sampled_from(resize_module.INTEGER_ROUNDINGS)),
    }
    if ctm == "tf_crop_and_resize":
        starts = [draw(st.sampled_from([0.0, 0.1, 0.25, -0.2])) for _ in range(k)]
        ends = [draw(st.sampled_from([1.0, 0.8, 0.5, 1.3])) for _ in range(k)]
        kw["roi"] = starts + ends
    spatial_only = axes is None and (big or draw(st.booleans()))
    if draw(st.booleans()):
        sc = [draw(st.sampled_from(SCALES)) for _ in range(k)]
        if spatial_only:
            sc[:2] = [1.0, 1.0]
        kw["scales"] = sc
    else:
        ax = list(range(ndim)) if axes is None else axes
        sz = [draw(st.integers(1, 2 * shape[a] + 2)) for a in ax]
        if spatial_only:
            sz[:2] = shape[:2]
        kw["sizes"] = sz
    return x, kw


def _resize_scale(x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
    """Sum over the terms of every output of |weight| * |input| (plus |extrapolation_value|), from the
    old code's own taps."""
    xf = np.abs(np.asarray(x, dtype=np.float64))
    ctm = kw["coordinate_transformation_mode"]
    steps, _, _ = SLOW_RESIZE._steps(
        xf.shape, kw.get("scales"), kw.get("sizes"), kw["axes"], kw["mode"], ctm, kw["nearest_mode"],
        kw["cubic_coeff_a"], kw["exclude_outside"], kw.get("roi"), kw["antialias"], kw["keep_aspect_ratio_policy"],
        kw["output_size_rule"], kw["align_corners_length"], last_axis_first=False)
    y = SLOW_RESIZE._apply_steps(xf, [(a, i, None if w is None else np.abs(w)) for a, i, w in steps])
    return y + abs(kw["extrapolation_value"]) + 1e-300


@settings(max_examples=300, deadline=None)
@given(resize_cases())
def test_resize_equals_the_old_code(case: tuple[np.ndarray, dict[str, Any]]) -> None:
    x, kw = case
    got = _same(lambda: R.resize(x, **kw), lambda: SLOW_RESIZE.resize(x, **kw))
    if got is None:
        return
    new, old = got
    assert new.shape == old.shape and new.dtype == old.dtype == np.float64
    assert new.flags.c_contiguous
    assert _close(new, old, _resize_scale(x, kw)), np.abs(new - old).max()


@settings(max_examples=150, deadline=None)
@given(resize_cases(), st.booleans(), st.integers(0, 2**32 - 1))
def test_resize_vjp_equals_the_old_code(case: tuple[np.ndarray, dict[str, Any]], absolute: bool, seed: int) -> None:
    x, kw = case
    try:
        shape = SLOW_RESIZE.resize(x, **kw).shape
    except (ValueError, TypeError):
        return  # the refusals are compared by test_resize_equals_the_old_code
    g = np.random.default_rng(seed).normal(size=shape)
    new = R.resize_vjp(x, g, absolute=absolute, **kw)
    old = SLOW_RESIZE.resize_vjp(x, g, absolute=absolute, **kw)
    scale = SLOW_RESIZE.resize_vjp(x, g, absolute=True, **kw) + 1e-300
    assert new.shape == old.shape == x.shape
    assert _close(new, old, scale), np.abs(new - old).max()


# --------------------------------------------------------------------------- conv_transpose


@st.composite
def conv_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, Any]]:
    nsp = draw(st.integers(1, 3))
    big = draw(st.booleans()) and nsp == 2
    group = draw(st.integers(1, 3))
    cig, cog = draw(st.integers(1, 4 if big else 3)), draw(st.integers(1, 4 if big else 3))
    n = draw(st.integers(1, 2))
    sp = [draw(st.integers(20, 40) if big else st.integers(1, 5 if nsp < 3 else 3)) for _ in range(nsp)]
    kernel = [draw(st.integers(1, 4 if nsp < 3 else 3)) for _ in range(nsp)]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(size=(n, group * cig, *sp))
    convention = draw(st.sampled_from(ct_module.WEIGHT_CONVENTIONS))
    wshape = (group * cig, cog, *kernel) if convention == "transposed" else (group * cog, cig, *kernel)
    w = rng.normal(size=wshape)
    b = rng.normal(size=group * cog) if draw(st.booleans()) else None
    strides = [draw(st.integers(1, 3)) for _ in range(nsp)]
    dilations = [draw(st.integers(1, 2)) for _ in range(nsp)]
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    kw: dict[str, Any] = {
        "strides": draw(st.sampled_from([strides, None, strides[0]])),
        "dilations": draw(st.sampled_from([dilations, None])),
        "pads": draw(st.sampled_from([None, [draw(st.integers(0, 2)) for _ in range(2 * nsp)]])),
        "output_padding": draw(st.sampled_from([None, [draw(st.integers(0, 2)) for _ in range(nsp)]])),
        "group": group, "auto_pad": auto_pad, "weight_convention": convention,
    }
    if draw(st.integers(0, 3)) == 0:
        target = [max(1, s * v + draw(st.integers(-2, 3))) for s, v in zip(strides, sp)]
        kw["output_shape"] = draw(st.sampled_from([target, [n, group * cog, *target]]))
        kw["strides"] = strides
    if x.dtype == np.float64 and draw(st.integers(0, 4)) == 0:
        x = x.astype(np.float32)
    return x, w, b, kw


@settings(max_examples=300, deadline=None)
@given(conv_cases())
def test_conv_transpose_equals_the_old_code(case: tuple[np.ndarray, np.ndarray, np.ndarray | None, dict]) -> None:
    x, w, b, kw = case
    got = _same(lambda: R.conv_transpose(x, w, b, **kw), lambda: SLOW_CT.conv_transpose(x, w, b, **kw))
    if got is None:
        return
    new, old = got
    scale = SLOW_CT.conv_transpose(np.abs(x), np.abs(w), None if b is None else np.abs(b), **kw) + 1e-300
    assert new.shape == old.shape and new.dtype == np.float64
    assert _close(new, old, scale), np.abs(new - old).max()


@settings(max_examples=150, deadline=None)
@given(conv_cases(), st.booleans(), st.integers(0, 2**32 - 1))
def test_conv_transpose_vjp_equals_the_old_code(case: tuple[np.ndarray, np.ndarray, np.ndarray | None, dict],
                                                absolute: bool, seed: int) -> None:
    x, w, b, kw = case
    try:
        shape = SLOW_CT.conv_transpose(x, w, b, **kw).shape
    except (ValueError, TypeError):
        return
    g = np.random.default_rng(seed).normal(size=shape)
    new = R.conv_transpose_vjp(x, w, g, b, absolute=absolute, **kw)
    old = SLOW_CT.conv_transpose_vjp(x, w, g, b, absolute=absolute, **kw)
    scale = SLOW_CT.conv_transpose_vjp(x, w, g, b, absolute=True, **kw)
    assert new.keys() == old.keys()
    for key in old:
        assert new[key].shape == old[key].shape
        assert _close(new[key], old[key], scale[key] + 1e-300), (key, np.abs(new[key] - old[key]).max())


def test_the_oracle_is_the_old_code_not_the_new() -> None:
    """The oracle is a separate copy: equal today by construction only if the comparison could fail."""
    assert SLOW_RESIZE.resize is not R.resize and SLOW_CT.conv_transpose is not R.conv_transpose
    x = np.arange(4.0).reshape(1, 1, 4)
    assert SLOW_RESIZE.resize(x, scales=[1, 1, 2], mode="linear").tolist() == \
        [[[0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0]]]
    assert not _close(np.array([1.0]), np.array([1.0 + 1e-9]), np.array([1.0]))


# --------------------------------------------------------------------------- non-finite values and tiles


@pytest.mark.parametrize("where", ["w_inf", "w_nan", "x_inf", "x_nan"])
@pytest.mark.parametrize("big", [False, True])
def test_conv_transpose_non_finite_values_land_where_the_old_code_puts_them(where: str, big: bool) -> None:
    """The phase buffers are padded with zero inputs, whose products with an infinite or NaN weight would
    be NaN: they are zeroed, so NaN and inf land exactly where the old (unpadded) code puts them."""
    rng = np.random.default_rng(3)
    sp = (24, 21) if big else (4, 3)
    x = rng.normal(size=(2, 4, *sp))
    w = rng.normal(size=(4, 3, 3, 4))
    target = w if where.startswith("w") else x
    target[(1, 2, 1, 2) if where.startswith("w") else (0, 1, 2, 1)] = np.inf if where.endswith("inf") else np.nan
    kw: dict[str, Any] = {"strides": [2, 3], "pads": [1, 0, 0, 2], "dilations": [1, 2], "group": 2}
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 and inf - inf are the point here
        new = R.conv_transpose(x, w, **kw)
        old = SLOW_CT.conv_transpose(x, w, **kw)
    assert (~np.isfinite(old)).any()
    assert np.array_equal(np.isnan(new), np.isnan(old))
    assert np.array_equal(np.isposinf(new), np.isposinf(old)) and np.array_equal(np.isneginf(new), np.isneginf(old))
    finite = np.isfinite(old)
    absolute = [np.where(np.isfinite(a), np.abs(a), 0.0) for a in (x, w)]  # the finite outputs' terms
    scale = SLOW_CT.conv_transpose(*absolute, **kw) + 1e-300
    assert _close(new[finite], old[finite], scale[finite])


@pytest.mark.parametrize("threads", ["2", "3"])
def test_tiled_results_do_not_depend_on_the_thread_count(threads: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiles pulled by any number of threads, each with its own scratch buffers, give the same bits as
    one thread. The outputs are above the size at which resize splits its planes into tiles."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 8, 96, 96))
    calls = [
        lambda: R.resize(x, sizes=[2, 8, 160, 200], mode="cubic"),
        lambda: R.resize(x, scales=[1, 1, 0.75, 3.0], mode="linear", antialias=True),
    ]
    for f in calls:
        assert f().size >= common_module._PARALLEL_MIN_ELEMENTS
    monkeypatch.setenv("UPCONFORM_REFERENCE_THREADS", "1")
    serial = [f() for f in calls]
    monkeypatch.setenv("UPCONFORM_REFERENCE_THREADS", threads)
    for f, want in zip(calls, serial):
        assert np.array_equal(f(), want)
