import numpy as np
import pytest
from scipy import stats

from mecsim.physics.fading import (
    SPEED_OF_LIGHT_MPS,
    Fading,
    Shadowing,
    gudmundson_rho,
    jakes_rho,
)


def _run(fading, slots, rho=0.0, **kwargs):
    """Return the powers and scattered parts of ``slots`` slots, stacked on axis 0."""
    powers, gs = [], []
    for _ in range(slots):
        powers.append(fading.step(rho, **kwargs))
        gs.append(fading.g)
    return np.array(powers), np.array(gs)


# ----------------------------------------------------------------------------- Jakes


def test_jakes_rho_is_one_at_rest_or_zero_lag():
    assert jakes_rho(0.0, 2.4e9, 1.0) == 1.0
    assert jakes_rho(30.0, 2.4e9, 0.0) == 1.0


def test_jakes_rho_matches_a_hand_computed_value():
    # v = 1 m/s, f_c = 2.4 GHz: f_D = 2.4e9 / c = 8.0055 Hz; x = 2 pi f_D 0.01 s = 0.50300;
    # J0(x) = sum_k (-1)^k (x/2)^(2k) / (k!)^2 = 0.9377403 (series, 4 terms).
    assert jakes_rho(1.0, 2.4e9, 0.01) == pytest.approx(0.93774028, abs=1e-8)
    # first zero of J0 (2.404826) at f_D dt = 2.404826 / (2 pi)
    dt = 2.404825557695773 / (2 * np.pi) / (10.0 * 2.4e9 / SPEED_OF_LIGHT_MPS)
    assert jakes_rho(10.0, 2.4e9, dt) == pytest.approx(0.0, abs=1e-12)


def test_jakes_rho_is_vectorised_and_decreases_first():
    speeds = np.array([0.0, 0.5, 1.0, 2.0])
    rho = jakes_rho(speeds, 2.4e9, 0.01)
    assert rho.shape == (4,)
    assert rho[0] == 1.0
    assert np.all(np.diff(rho) < 0)
    assert jakes_rho(np.ones((3, 2)), 2.4e9, 0.01).shape == (3, 2)


@pytest.mark.parametrize(("args", "name"), [
    ((-1.0, 2.4e9, 0.01), "speed_mps"),
    ((1.0, 0.0, 0.01), "carrier_hz"),
    ((1.0, 2.4e9, -0.01), "dt_s"),
    ((np.nan, 2.4e9, 0.01), "speed_mps"),
])
def test_jakes_rho_rejects_bad_arguments(args, name):
    with pytest.raises(ValueError, match=name):
        jakes_rho(*args)


def test_gudmundson_rho():
    assert gudmundson_rho(2.0, 5.0, 20.0) == pytest.approx(np.exp(-0.5))
    assert gudmundson_rho(0.0, 5.0, 20.0) == 1.0
    with pytest.raises(ValueError, match="decorrelation_m"):
        gudmundson_rho(1.0, 1.0, 0.0)


# ----------------------------------------------------------------------------- Rayleigh


def test_iid_rayleigh_power_is_exponential_with_mean_one():
    powers, _ = _run(Fading(50, 4, np.random.default_rng(0)), 100, rho=0.0)
    samples = powers.ravel()
    assert powers.shape == (100, 50, 4)
    assert samples.mean() == pytest.approx(1.0, abs=0.03)
    assert samples.var() == pytest.approx(1.0, abs=0.08)
    assert stats.kstest(samples, "expon").pvalue > 0.01
    lag1 = np.corrcoef(powers[1:].ravel(), powers[:-1].ravel())[0, 1]
    assert abs(lag1) < 0.03


def test_ar1_lag_one_correlation_is_rho():
    rho = 0.9
    powers, gs = _run(Fading(40, 3, np.random.default_rng(1)), 500, rho=rho)
    g_corr = np.mean(gs[1:] * np.conj(gs[:-1]))  # E[g_t g*_{t-1}] = rho
    assert g_corr.real == pytest.approx(rho, abs=0.02)
    assert abs(g_corr.imag) < 0.02
    assert np.mean(np.abs(gs) ** 2) == pytest.approx(1.0, abs=0.03)  # stationary power
    # For Rayleigh fading the power's lag-1 correlation is |rho|^2.
    lag1 = np.corrcoef(powers[1:].ravel(), powers[:-1].ravel())[0, 1]
    assert lag1 == pytest.approx(rho**2, abs=0.03)
    assert stats.kstest(powers[-1].ravel(), "expon").pvalue > 0.01


def test_rho_per_device_is_broadcast_over_mecs():
    fading = Fading(3, 4, np.random.default_rng(2))
    first = fading.step()
    second = fading.step(np.array([1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(second[[0, 2]], first[[0, 2]])  # rho = 1: frozen
    assert np.all(second[1] != first[1])  # rho = 0: every MEC of device 1 redrawn


def test_rho_per_link_is_accepted():
    fading = Fading(2, 2, np.random.default_rng(3))
    first = fading.step()
    second = fading.step(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert second[0, 0] == first[0, 0] and second[1, 1] == first[1, 1]
    assert second[0, 1] != first[0, 1] and second[1, 0] != first[1, 0]


def test_first_step_is_stationary_whatever_rho():
    powers = np.array([Fading(100, 2, np.random.default_rng(s)).step(1.0) for s in range(50)])
    assert stats.kstest(powers.ravel(), "expon").pvalue > 0.01


def test_current_returns_the_last_power_without_drawing():
    rng = np.random.default_rng(4)
    fading = Fading(5, 2, rng)
    with pytest.raises(RuntimeError):
        fading.current()
    power = fading.step(0.5)
    state = rng.bit_generator.state
    np.testing.assert_array_equal(fading.current(), power)
    assert rng.bit_generator.state == state
    fading.current()[0, 0] = -1.0  # a copy
    np.testing.assert_array_equal(fading.current(), power)


def test_same_seed_same_sequence():
    a, _ = _run(Fading(6, 3, np.random.default_rng(5)), 20, rho=0.7)
    b, _ = _run(Fading(6, 3, np.random.default_rng(5)), 20, rho=0.7)
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- Rician


@pytest.mark.parametrize("k", [1.0, 10.0])
def test_rician_power_has_mean_one_and_the_noncentral_chi2_law(k):
    powers, _ = _run(Fading(50, 4, np.random.default_rng(6), rician_k=k), 100)
    samples = powers.ravel()
    assert samples.mean() == pytest.approx(1.0, abs=0.02)
    assert samples.var() == pytest.approx((2 * k + 1) / (k + 1) ** 2, rel=0.06)
    # 2 (K + 1) l ~ noncentral chi-square, 2 degrees of freedom, non-centrality 2 K
    law = stats.ncx2(df=2, nc=2 * k, scale=1 / (2 * (k + 1)))
    assert stats.kstest(samples, law.cdf).pvalue > 0.01


def test_large_k_factor_reduces_the_variance():
    rayleigh, _ = _run(Fading(50, 4, np.random.default_rng(7)), 50)
    rician, _ = _run(Fading(50, 4, np.random.default_rng(7), rician_k=100.0), 50)
    assert rician.var() < 0.05 * rayleigh.var()
    assert rician.mean() == pytest.approx(1.0, abs=0.01)


# ----------------------------------------------------------------------------- shadowing


def test_fixed_shadowing_has_the_configured_std_and_multiplies_in():
    fading = Fading(200, 50, np.random.default_rng(8), shadowing_std_db=8.0)
    first = fading.step()
    s_db = fading.shadowing_db
    assert s_db.mean() == pytest.approx(0.0, abs=0.25)
    assert s_db.std() == pytest.approx(8.0, rel=0.02)
    np.testing.assert_allclose(first, np.abs(fading.g) ** 2 * 10 ** (s_db / 10), rtol=1e-12)
    fading.step()
    np.testing.assert_array_equal(fading.shadowing_db, s_db)  # shadowing_rho = 1: fixed


def test_ar1_shadowing_keeps_its_std_and_correlates_with_its_coefficient():
    fading = Fading(100, 20, np.random.default_rng(9), shadowing_std_db=6.0,
                    shadowing_rho=0.5)
    shadows = []
    for _ in range(30):
        fading.step()
        shadows.append(fading.shadowing_db)
    shadows = np.array(shadows)
    assert shadows.std() == pytest.approx(6.0, rel=0.03)
    lag1 = np.corrcoef(shadows[1:].ravel(), shadows[:-1].ravel())[0, 1]
    assert lag1 == pytest.approx(0.5, abs=0.03)


def test_step_overrides_the_shadowing_coefficient():
    fading = Fading(4, 2, np.random.default_rng(10), shadowing_std_db=5.0, shadowing_rho=0.0)
    fading.step()
    before = fading.shadowing_db
    fading.step(shadowing_rho=np.array([1.0, 1.0, 0.0, 1.0]))
    after = fading.shadowing_db
    np.testing.assert_array_equal(after[[0, 1, 3]], before[[0, 1, 3]])
    assert np.all(after[2] != before[2])


def test_a_shadowing_stream_of_its_own_leaves_the_fading_draws_unchanged():
    plain = Fading(5, 2, np.random.default_rng(11))
    shadowed = Fading(5, 2, np.random.default_rng(11), shadowing_std_db=4.0,
                      shadowing_rng=np.random.default_rng(99))
    for _ in range(5):
        plain.step(0.3)
        shadowed.step(0.3)
        np.testing.assert_array_equal(plain.g, shadowed.g)
    assert np.all(plain.shadowing_db == 0.0)


# ----------------------------------------------------------------------------- arguments


RNG = np.random.default_rng(0)


@pytest.mark.parametrize(("build", "name"), [
    (lambda: Fading(-1, 2, RNG), "n"),
    (lambda: Fading(2, 1.5, RNG), "m"),
    (lambda: Fading(2, 2, None), "rng"),
    (lambda: Fading(2, 2, RNG, shadowing_rng="x"), "shadowing_rng"),
    (lambda: Fading(2, 2, RNG, rician_k=-1.0), "rician_k"),
    (lambda: Fading(2, 2, RNG, rician_k=np.inf), "rician_k"),
    (lambda: Fading(2, 2, RNG, shadowing_std_db=-3.0), "shadowing_std_db"),
    (lambda: Fading(2, 2, RNG, shadowing_rho=1.5), "shadowing_rho"),
    (lambda: Fading(2, 2, RNG, shadowing_rho=-0.5), "shadowing_rho"),
    (lambda: Fading(2, 2, RNG).step(1.2), "rho"),
    (lambda: Fading(2, 2, RNG).step(np.nan), "rho"),
    (lambda: Fading(2, 3, RNG).step(np.zeros(3)), "rho"),
    (lambda: Fading(2, 3, RNG).step(0.0, shadowing_rho=-0.1), "shadowing_rho"),
])
def test_bad_arguments_raise_value_error_naming_them(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_shadowing_walk_writes_into_out_the_same_values():
    moved = np.linspace(0.0, 2.0, 8)
    a = Shadowing(8, 3, np.random.default_rng(4), std_db=6.0, decorrelation_m=10.0)
    b = Shadowing(8, 3, np.random.default_rng(4), std_db=6.0, decorrelation_m=10.0)
    for steps in (1, 5, 3):
        out = np.full((steps, 8, 3), np.nan)
        assert b.walk(moved, steps, out=out) is out
        np.testing.assert_array_equal(out, a.walk(moved, steps))
    with pytest.raises(ValueError, match="out must be a float64 array of shape"):
        a.walk(moved, 2, out=np.empty((2, 8, 2)))
    zero = Shadowing(8, 3, np.random.default_rng(4), std_db=0.0, decorrelation_m=10.0)
    out = np.full((2, 8, 3), np.nan)
    assert np.all(zero.walk(moved, 2, out=out) == 0.0)
