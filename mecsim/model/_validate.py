"""Argument checks shared by the model's functions: clear errors, nothing silently clipped."""

from __future__ import annotations

import numpy as np


def as_array(name: str, value, *, ndim: int | None = None, shape: tuple | None = None,
             positive: bool = False, nonnegative: bool = False) -> np.ndarray:
    """Return ``value`` as a finite float array, or raise ``ValueError`` naming ``name``.

    Args:
        name: The argument's name, used in the error message.
        value: Anything ``numpy.asarray`` accepts.
        ndim: Required number of dimensions, if given.
        shape: Required shape, if given (``None`` entries match any length).
        positive: Require every entry to be > 0.
        nonnegative: Require every entry to be >= 0.
    """
    arr = np.asarray(value, dtype=float)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None:
        ok = arr.ndim == len(shape) and all(
            s is None or s == a for s, a in zip(shape, arr.shape, strict=False))
        if not ok:
            want = tuple("*" if s is None else s for s in shape)
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if arr.size:  # the common case in two reductions (NaN propagates through min and max)
        low, high = arr.min(), arr.max()
        if -np.inf < low and high < np.inf and (low > 0 or not positive) and (
                low >= 0 or not nonnegative):
            return arr
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} must be finite, got {_first(arr, bad)}")
    if positive and (arr <= 0).any():
        raise ValueError(f"{name} must be > 0, got {_first(arr, arr <= 0)}")
    if nonnegative and (arr < 0).any():
        raise ValueError(f"{name} must be >= 0, got {_first(arr, arr < 0)}")
    return arr


def _first(arr: np.ndarray, mask: np.ndarray) -> str:
    if arr.ndim == 0:
        return repr(float(arr))
    idx = tuple(int(i) for i in np.argwhere(mask)[0])
    return f"{float(arr[idx])!r} at index {idx if len(idx) > 1 else idx[0]}"


def check_broadcast(**arrays: np.ndarray) -> tuple:
    """Return the common broadcast shape of ``arrays``, or raise ``ValueError`` naming them."""
    try:
        return np.broadcast_shapes(*(np.shape(a) for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{name} {np.shape(a)}" for name, a in arrays.items())
        raise ValueError(f"{', '.join(arrays)} must broadcast together, got shapes "
                         f"{shapes}") from None
