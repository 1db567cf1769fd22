"""mecsim's own Lambert W (principal branch, real argument), which spares the run scipy.special.

It must agree with ``scipy.special.lambertw`` to a few ulps wherever scipy keeps its digits,
and with a 40-digit reference (mpmath) everywhere, the branch point ``-1/e`` included, where
scipy loses up to half of them.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import lambertw as scipy_lambertw

from mecsim.model.allocation import _INV_E, lambertw, optimal_power

MAX_ULPS_SCIPY = 4  # away from the branch point, where scipy itself is within 4 ulps
MAX_ULPS_REFERENCE = 2


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """``|got - want|`` in units of the last place of ``want``."""
    return np.abs(got - want) / np.spacing(np.abs(want))


def _grid() -> np.ndarray:
    """A dense grid of ``z``: near ``-1/e``, around 0 (both signs), up to the largest double."""
    z = np.concatenate([
        -_INV_E + np.geomspace(5.6e-17, 0.2, 2000),  # from the first double above -1/e
        np.linspace(-0.3678, 4.0, 4000),
        np.geomspace(1e-308, 1e-1, 600), -np.geomspace(1e-308, 0.3, 600),
        np.geomspace(1.0, 1.7e308, 2000),
        [0.0, -0.0, 5e-324, -5e-324, 1.0, np.e, 3.0, np.nextafter(3.0, 4.0)],
    ])
    return z[z > -_INV_E]


def test_agrees_with_scipy_away_from_the_branch_point():
    z = _grid()
    z = z[z > -0.3]
    want = scipy_lambertw(z).real
    assert _ulps(lambertw(z), want).max() <= MAX_ULPS_SCIPY


def test_near_the_branch_point_it_is_as_close_as_scipy_allows():
    """scipy computes ``e z + 1`` in doubles; its error there is the conditioning's."""
    z = -_INV_E + np.geomspace(5.6e-17, 0.07, 500)
    got, want = lambertw(z), scipy_lambertw(z).real
    # dW/dz = W / (z (1 + W)): an error of 2 ulps of z in e z + 1, magnified
    slope = np.abs(want / (z * (1.0 + want)))
    assert np.all(np.abs(got - want) <= 4 * np.spacing(np.abs(z)) * slope + 4 * np.spacing(1.0))


def test_agrees_with_a_40_digit_reference():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    z = _grid()[::5]
    want = np.array([float(mpmath.re(mpmath.lambertw(mpmath.mpf(float(v))))) for v in z])
    got = lambertw(z)
    tiny = np.abs(want) < 1e-300  # subnormal W: an ulp is the subnormal step
    assert _ulps(got[~tiny], want[~tiny]).max() <= MAX_ULPS_REFERENCE
    np.testing.assert_array_equal(got[tiny], want[tiny])


def test_edge_values():
    z = np.array([-_INV_E, 0.0, np.inf, np.nan, -0.5, -np.inf, 1.0, np.finfo(float).max])
    got = lambertw(z)
    # -1/e rounded to a double is the branch point (scipy: nan); below it, nan
    assert got[0] == -1.0 and got[1] == 0.0 and got[2] == np.inf
    assert np.isnan(got[3:6]).all()
    assert got[6] == pytest.approx(0.5671432904097838, rel=2e-16)  # the omega constant
    assert got[7] == pytest.approx(703.2270331047702, rel=4e-16)
    assert lambertw(2.0) == pytest.approx(scipy_lambertw(2.0).real, rel=4e-16)
    assert lambertw(np.zeros((2, 3))).shape == (2, 3) and lambertw([]).shape == (0,)


def test_each_region_alone_and_mixed_give_the_same_values():
    """The regions are solved on their own elements; an all-one-region array takes a short cut."""
    z = np.array([-0.36, -0.3, 0.5, 2.0, 10.0, 1e200])
    mixed = lambertw(z)
    alone = np.array([lambertw(np.array([v]))[0] for v in z])
    np.testing.assert_array_equal(mixed, alone)


def test_optimal_power_is_the_stationary_point():
    """The power stays the optimum: ``(1 + t) ln(1 + t) - t = x`` at ``t = p gamma``."""
    gain = np.geomspace(1e-16, 1e-4, 200)
    noise_w, phi_t, phi_e = 1e-13, 1.0, 0.5
    p = optimal_power(gain, noise_w, phi_t, phi_e, max_power_w=1e9)
    t = p * gain / noise_w
    x = phi_t * (gain / noise_w) / phi_e
    np.testing.assert_allclose((1 + t) * np.log1p(t) - t, x, rtol=1e-12)
