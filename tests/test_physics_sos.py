"""Sum-of-sinusoids fading driven by the Doppler distance, and Gudmundson shadowing."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import j0

from mecsim.physics import Shadowing, SumOfSinusoids
from mecsim.physics.fading import Fading

WAVELENGTH_M = 0.125  # [m] (2.4 GHz)
DOPPLER_STEP = 0.05  # f_D dt: each step the device travels 0.05 wavelengths
LAGS = range(1, 6)
CORR_TOL = 0.03  # on correlation coefficients (sampling error about 0.005 here)


def _track(sos, steps, rng):
    """Devices at constant speed: ``steps`` equally spaced instants from random origins.

    Returns ``(g, l)``, each ``(steps, n, m)``.
    """
    n = sos.shape[0]
    start_m = rng.uniform(0.0, 1e4, n)  # [m]
    g, power = [], []
    for t in range(steps):
        travelled_m = start_m + t * DOPPLER_STEP * WAVELENGTH_M
        g.append(sos.scattered(travelled_m))
        power.append(sos.power(travelled_m))
    return np.array(g), np.array(power)


def _lag_corr(series, lag):
    """Correlation coefficient of a real ``(T, ...)`` series at ``lag``, pooled."""
    return np.corrcoef(series[:-lag].ravel(), series[lag:].ravel())[0, 1]


def _sos_power_corr(b, q, grid=4096):
    """Closed-form correlation coefficient of the Rayleigh SoS power at ``b = 2 pi ds / lam``.

    ``(E_theta[c^2] - 1/(2Q)) / (1 - 1/(2Q))`` with ``c = (1/Q) sum_q cos(b cos alpha_q)``
    (see the ``SumOfSinusoids`` docstring), averaged over ``theta`` by the midpoint rule.
    """
    theta = -np.pi + (np.arange(grid) + 0.5) * 2 * np.pi / grid
    alpha = (2 * np.pi * np.arange(1, q + 1) - np.pi + theta[:, None]) / (4 * q)
    c = np.mean(np.cos(b * np.cos(alpha)), axis=1)
    return (np.mean(c**2) - 1 / (2 * q)) / (1 - 1 / (2 * q))


# ----------------------------------------------------------------------------- Jakes


def test_scattered_part_has_the_jakes_correlation_at_every_lag():
    rng = np.random.default_rng(20)
    sos = SumOfSinusoids(500, 4, rng, wavelength_m=WAVELENGTH_M)  # 2000 links, Q = 8
    g, _ = _track(sos, 100, rng)
    power = np.mean(np.abs(g) ** 2)
    assert power == pytest.approx(1.0, abs=0.02)
    for lag in LAGS:
        corr = np.mean(g[lag:] * np.conj(g[:-lag])) / power  # E[g(t + tau) g*(t)]
        target = j0(2 * np.pi * DOPPLER_STEP * lag)  # 0.976, 0.904, 0.790, 0.643, 0.472
        assert corr.real == pytest.approx(target, abs=CORR_TOL), lag
        assert abs(corr.imag) < CORR_TOL, lag
        pseudo = np.mean(g[lag:] * g[:-lag])  # circular: E[g g] = 0
        assert abs(pseudo) < CORR_TOL, lag


@pytest.mark.parametrize("q", [8, 32])
def test_power_correlation_follows_j0_squared_at_every_lag(q):
    # For Rayleigh fading the power's correlation coefficient is J0^2. A finite sum of Q
    # sinusoids is below it by up to about (1 - J0^2) / (2Q - 1) (0.05 at Q = 8, lag 5),
    # and matches its own closed form.
    rng = np.random.default_rng(21)
    sos = SumOfSinusoids(500, 4, rng, wavelength_m=WAVELENGTH_M, sinusoids=q)
    _, power = _track(sos, 100, rng)
    for lag in LAGS:
        b = 2 * np.pi * DOPPLER_STEP * lag
        corr = _lag_corr(power, lag)
        assert corr == pytest.approx(_sos_power_corr(b, q), abs=0.02), lag
        bias = (1 - j0(b) ** 2) / (2 * q - 1)
        assert corr == pytest.approx(j0(b) ** 2, abs=CORR_TOL + bias), lag
        if q == 32 or lag <= 2:
            assert corr == pytest.approx(j0(b) ** 2, abs=CORR_TOL), lag


def test_ar1_fading_is_jakes_at_lag_one_only():
    # The AR(1) Fading with rho = J0(2 pi f_D dt) gives rho^k at lag k, not J0(2 pi f_D k dt):
    # at lag 2 its power correlation is rho^4 = 0.906 instead of J0(2 b)^2 = 0.817. This is
    # why the sum of sinusoids is the default generator for Jakes fading.
    b = 2 * np.pi * DOPPLER_STEP
    rho = j0(b)
    fading = Fading(500, 4, np.random.default_rng(22))
    power = np.array([fading.step(rho) for _ in range(100)])
    assert _lag_corr(power, 1) == pytest.approx(j0(b) ** 2, abs=CORR_TOL)  # right at lag 1
    for lag in LAGS:
        assert _lag_corr(power, lag) == pytest.approx(rho ** (2 * lag), abs=CORR_TOL), lag
    ar1_lag2 = _lag_corr(power, 2)
    assert abs(ar1_lag2 - j0(2 * b) ** 2) > 2 * CORR_TOL  # fails the J0 test of the SoS
    assert abs(_lag_corr(power, 5) - j0(5 * b) ** 2) > 0.4


def test_a_paused_device_keeps_its_fading():
    rng = np.random.default_rng(23)
    sos = SumOfSinusoids(4, 3, rng, wavelength_m=WAVELENGTH_M)
    travelled_m = np.array([0.0, 12.5, 1e5, 3.0])
    first = sos.power(travelled_m)
    travelled_m[[0, 3]] += 0.4  # devices 1 and 2 pause
    second = sos.power(travelled_m)
    np.testing.assert_array_equal(second[1:3], first[1:3])
    assert np.all(second[[0, 3]] != first[[0, 3]])


# ----------------------------------------------------------------------------- marginals


def test_rayleigh_power_is_close_to_exponential():
    rng = np.random.default_rng(24)
    q = 8
    sos = SumOfSinusoids(50_000, 1, rng, wavelength_m=WAVELENGTH_M, sinusoids=q)
    power = sos.power(rng.uniform(0.0, 1e4, 50_000)).ravel()
    assert power.mean() == pytest.approx(1.0, abs=0.02)
    assert power.var() == pytest.approx(1 - 1 / (2 * q), abs=0.03)  # 0.9375; Exp(1): 1
    # Kolmogorov distance to Exp(1): about 0.008 for Q = 8 plus sampling (about 0.004).
    assert stats.kstest(power, "expon").statistic < 0.02
    quantiles = np.quantile(power, [0.1, 0.5, 0.9])
    np.testing.assert_allclose(quantiles, stats.expon.ppf([0.1, 0.5, 0.9]), rtol=0.06)


@pytest.mark.parametrize("k", [1.0, 10.0])
def test_rician_power_has_mean_one(k):
    rng = np.random.default_rng(25)
    q = 8
    sos = SumOfSinusoids(50_000, 1, rng, wavelength_m=WAVELENGTH_M, rician_k=k)
    power = sos.power(rng.uniform(0.0, 1e4, 50_000)).ravel()
    assert power.mean() == pytest.approx(1.0, abs=0.02)
    # var l = (2K + 1 - 1/(2Q)) / (K + 1)^2: 2 K Re(g)^2 / (K+1)^2 plus the scattered power's
    assert power.var() == pytest.approx((2 * k + 1 - 1 / (2 * q)) / (k + 1) ** 2, rel=0.06)
    law = stats.ncx2(df=2, nc=2 * k, scale=1 / (2 * (k + 1)))  # the Gaussian limit
    assert stats.kstest(power, law.cdf).statistic < 0.02


# ----------------------------------------------------------------------------- the model


def test_matches_the_documented_formula_and_draw_order():
    n, m, q, k = 3, 2, 5, 2.0
    sos = SumOfSinusoids(n, m, np.random.default_rng(26), wavelength_m=0.3, sinusoids=q,
                         rician_k=k)
    draws = np.random.default_rng(26).uniform(-np.pi, np.pi, (n * m, 2 * q + 1))
    theta, psi, phi = draws[:, :1], draws[:, 1:q + 1], draws[:, q + 1:]
    alpha = (2 * np.pi * np.arange(1, q + 1) - np.pi + theta) / (4 * q)
    for travelled_m in (np.array([0.0, 1.0, 2.5]), np.array([1e5, 3e4, 7.77])):
        s = np.repeat(travelled_m, m)[:, None]
        g = np.sqrt(2 / q) * np.sum(
            np.exp(1j * psi) * np.cos(2 * np.pi * s * np.cos(alpha) / 0.3 + phi), axis=1)
        g = g.reshape(n, m)
        # atol 1e-6: the generator's cosines are float32
        np.testing.assert_allclose(sos.scattered(travelled_m), g, rtol=0, atol=1e-6)
        power = np.abs(np.sqrt(k / (k + 1)) + np.sqrt(1 / (k + 1)) * g) ** 2
        np.testing.assert_allclose(sos.power(travelled_m), power, rtol=1e-6)


def test_power_links_equals_power_exactly():
    rng = np.random.default_rng(27)
    n, m = 10, 3
    sos = SumOfSinusoids(n, m, rng, wavelength_m=WAVELENGTH_M, rician_k=3.0)
    iotd = np.array([0, 4, 4, 9, 2, 4])
    mec = np.array([2, 0, 1, 1, 0, 0])  # link (4, 0) twice
    travelled_m = rng.uniform(0.0, 1e5, (7, iotd.size))
    links = sos.power_links(travelled_m, iotd, mec)
    assert links.shape == (7, 6)
    for i in range(7):
        for j in range(iotd.size):
            distance_m = np.zeros(n)
            distance_m[iotd[j]] = travelled_m[i, j]
            assert links[i, j] == sos.power(distance_m)[iotd[j], mec[j]]  # bit for bit
    # one instant for every link: the same as the grid
    distance_m = rng.uniform(0.0, 1e3, n)
    dev, col = np.divmod(np.arange(n * m), m)
    np.testing.assert_array_equal(sos.power_links(distance_m[dev][None], dev, col).ravel(),
                                  sos.power(distance_m).ravel())


@pytest.mark.parametrize("chunk", [1, 8, 50, 1 << 16])
def test_evaluation_in_chunks_changes_nothing(monkeypatch, chunk):
    """Links (and instants x sinusoids) are evaluated in cache-sized chunks: same bits."""
    from mecsim.physics import fading

    rng = np.random.default_rng(29)
    n, m = 40, 5
    sos = SumOfSinusoids(n, m, rng, wavelength_m=WAVELENGTH_M, rician_k=1.0)
    iotd, mec = rng.integers(0, n, 90), rng.integers(0, m, 90)
    travelled_m = rng.uniform(0.0, 1e4, (13, iotd.size))
    grid_m = rng.uniform(0.0, 1e4, n)
    monkeypatch.setattr(fading, "_EVAL_CHUNK", 1 << 30)  # one pass
    whole, grid = sos.power_links(travelled_m, iotd, mec), sos.power(grid_m)
    monkeypatch.setattr(fading, "_EVAL_CHUNK", chunk)
    np.testing.assert_array_equal(sos.power_links(travelled_m, iotd, mec), whole)
    np.testing.assert_array_equal(sos.power(grid_m), grid)


def test_parameters_are_drawn_at_construction_only():
    n, m, q = 7, 3, 6
    rng = np.random.default_rng(28)
    sos = SumOfSinusoids(n, m, rng, wavelength_m=WAVELENGTH_M, sinusoids=q)
    reference = np.random.default_rng(28)
    reference.uniform(size=n * m * (2 * q + 1))
    assert rng.bit_generator.state == reference.bit_generator.state
    sos.power(np.ones(n))
    sos.power_links(np.ones((4, 2)), np.array([0, 1]), np.array([2, 2]))
    sos.scattered(np.ones(n))
    assert rng.bit_generator.state == reference.bit_generator.state
    assert sos.nbytes == 24 * q * n * m  # 2 Q float64 and 2 Q float32 per link


def test_same_seed_same_values():
    a = SumOfSinusoids(6, 2, np.random.default_rng(29), wavelength_m=0.1)
    b = SumOfSinusoids(6, 2, np.random.default_rng(29), wavelength_m=0.1)
    c = SumOfSinusoids(6, 2, np.random.default_rng(30), wavelength_m=0.1)
    s = np.linspace(0.0, 50.0, 6)
    np.testing.assert_array_equal(a.power(s), b.power(s))
    assert np.all(a.power(s) != c.power(s))


def test_empty_grids_and_links():
    sos = SumOfSinusoids(0, 3, np.random.default_rng(31), wavelength_m=0.1)
    assert sos.power(np.zeros(0)).shape == (0, 3)
    sos = SumOfSinusoids(2, 3, np.random.default_rng(31), wavelength_m=0.1)
    empty = np.zeros(0, dtype=int)
    assert sos.power_links(np.zeros((5, 0)), empty, empty).shape == (5, 0)


def test_properties_and_repr():
    sos = SumOfSinusoids(2, 3, np.random.default_rng(0), wavelength_m=0.1, sinusoids=4,
                         rician_k=2.0)
    assert sos.shape == (2, 3)
    assert (sos.wavelength_m, sos.sinusoids, sos.rician_k) == (0.1, 4, 2.0)
    assert "SumOfSinusoids(n=2, m=3" in repr(sos)


RNG = np.random.default_rng(0)
IDX = np.array([0, 1])


def _sos(**kwargs):
    args = {"wavelength_m": 0.1} | kwargs
    return SumOfSinusoids(2, 3, RNG, **args)


@pytest.mark.parametrize(("build", "name"), [
    (lambda: SumOfSinusoids(-1, 2, RNG, wavelength_m=0.1), "n"),
    (lambda: SumOfSinusoids(2, 1.5, RNG, wavelength_m=0.1), "m"),
    (lambda: SumOfSinusoids(2, 2, None, wavelength_m=0.1), "rng"),
    (lambda: _sos(wavelength_m=0.0), "wavelength_m"),
    (lambda: _sos(wavelength_m=-0.1), "wavelength_m"),
    (lambda: _sos(wavelength_m=np.inf), "wavelength_m"),
    (lambda: _sos(wavelength_m=np.nan), "wavelength_m"),
    (lambda: _sos(wavelength_m=[0.1]), "wavelength_m"),
    (lambda: _sos(sinusoids=0), "sinusoids"),
    (lambda: _sos(sinusoids=2.5), "sinusoids"),
    (lambda: _sos(sinusoids=True), "sinusoids"),
    (lambda: _sos(rician_k=-1.0), "rician_k"),
    (lambda: _sos(rician_k=np.inf), "rician_k"),
    (lambda: _sos().power(np.zeros(3)), "travelled_m"),
    (lambda: _sos().power(np.array([0.0, np.nan])), "travelled_m"),
    (lambda: _sos().scattered(np.array([0.0, np.inf])), "travelled_m"),
    (lambda: _sos().power_links(np.zeros(2), IDX, IDX), "travelled_m"),
    (lambda: _sos().power_links(np.zeros((4, 3)), IDX, IDX), "travelled_m"),
    (lambda: _sos().power_links(np.full((1, 2), np.nan), IDX, IDX), "travelled_m"),
    (lambda: _sos().power_links(np.zeros((1, 2)), np.array([0.0, 1.0]), IDX), "iotd"),
    (lambda: _sos().power_links(np.zeros((1, 2)), np.array([0, 2]), IDX), "iotd"),
    (lambda: _sos().power_links(np.zeros((1, 2)), np.array([-1, 0]), IDX), "iotd"),
    (lambda: _sos().power_links(np.zeros((1, 2)), IDX, np.array([0, 3])), "mec"),
    (lambda: _sos().power_links(np.zeros((1, 2)), IDX, np.array([[0, 1]])), "mec"),
    (lambda: _sos().power_links(np.zeros((1, 2)), IDX, np.array([0, 1, 2])), "mec"),
])
def test_sos_bad_arguments_raise_value_error_naming_them(build, name):
    with pytest.raises(ValueError, match=name):
        build()


# ----------------------------------------------------------------------------- shadowing


@pytest.mark.parametrize("moved_m", [2.0, 5.0, 10.0, 20.0])
def test_shadowing_correlation_decays_with_the_distance_moved(moved_m):
    shadowing = Shadowing(200, 100, np.random.default_rng(40), std_db=4.0,
                          decorrelation_m=10.0)
    before = shadowing.step(np.zeros(200))
    after = shadowing.step(np.full(200, moved_m))
    corr = np.corrcoef(before.ravel(), after.ravel())[0, 1]
    assert corr == pytest.approx(np.exp(-moved_m / 10.0), abs=0.03)  # 20 000 links
    assert before.std() == pytest.approx(4.0, rel=0.03)
    assert after.std() == pytest.approx(4.0, rel=0.03)
    assert after.mean() == pytest.approx(0.0, abs=0.1)


def test_shadowing_keeps_its_law_over_many_steps_and_rho_is_per_device():
    shadowing = Shadowing(100, 50, np.random.default_rng(41), std_db=6.0,
                          decorrelation_m=13.0)
    series = np.array([shadowing.step(np.full(100, 3.0)) for _ in range(30)])
    assert series.std() == pytest.approx(6.0, rel=0.03)
    lag1 = np.corrcoef(series[1:].ravel(), series[:-1].ravel())[0, 1]
    assert lag1 == pytest.approx(np.exp(-3.0 / 13.0), abs=0.03)
    before = shadowing.current()
    moved_m = np.zeros(100)
    moved_m[::2] = 50.0
    after = shadowing.step(moved_m)
    np.testing.assert_array_equal(after[1::2], before[1::2])  # did not move: rho = 1
    assert np.all(after[::2] != before[::2])


def test_shadowing_without_decorrelation_is_fixed():
    shadowing = Shadowing(200, 50, np.random.default_rng(42), std_db=8.0,
                          decorrelation_m=None)
    first = shadowing.step(np.zeros(200))
    assert first.std() == pytest.approx(8.0, rel=0.03)
    for moved in (1.0, 100.0, 1e4):
        np.testing.assert_array_equal(shadowing.step(np.full(200, moved)), first)


@pytest.mark.parametrize("decorrelation_m", [10.0, None])
def test_shadowing_draws_only_what_it_uses(decorrelation_m):
    """The first step draws n x m normals; later, m per device that moved, none if fixed."""
    rng = np.random.default_rng(43)
    reference = np.random.default_rng(43)
    shadowing = Shadowing(7, 3, rng, std_db=2.0, decorrelation_m=decorrelation_m)
    shadowing.step(np.zeros(7))
    reference.standard_normal((7, 3))
    assert rng.bit_generator.state == reference.bit_generator.state
    moved = np.array([0.0, 5.0, 0.0, 1e3, 0.0, 0.0, 2.0])
    for step in (np.zeros(7), moved, np.full(7, 4.0)):
        shadowing.step(step)
        if decorrelation_m is not None:
            reference.standard_normal((int((step > 0).sum()), 3))
        assert rng.bit_generator.state == reference.bit_generator.state


def test_shadowing_of_a_device_at_rest_is_kept():
    shadowing = Shadowing(5, 4, np.random.default_rng(46), std_db=6.0, decorrelation_m=10.0)
    before = shadowing.step(np.zeros(5))
    moved = np.array([0.0, 3.0, 0.0, 0.0, 50.0])
    after = shadowing.walk(moved, 3)
    np.testing.assert_array_equal(after[:, moved == 0], np.broadcast_to(
        before[moved == 0], (3, 3, 4)))
    assert np.all(after[:, moved > 0] != before[moved > 0])


def test_reset_links_draws_fresh_stationary_values():
    shadowing = Shadowing(3, 2, np.random.default_rng(47), std_db=5.0, decorrelation_m=10.0)
    assert shadowing.reset(np.array([1])).tolist() == [0.0]  # before the first step: none
    before = shadowing.step(np.zeros(3))
    fresh = shadowing.reset(np.array([1, 4]))
    after = shadowing.current()
    np.testing.assert_array_equal(after.ravel()[[1, 4]], fresh)
    keep = np.ones(6, dtype=bool)
    keep[[1, 4]] = False
    np.testing.assert_array_equal(after.ravel()[keep], before.ravel()[keep])


def test_sum_of_sinusoids_redraw_changes_only_those_links():
    rng = np.random.default_rng(48)
    sos = SumOfSinusoids(4, 3, rng, wavelength_m=0.125)
    before = sos.power(np.zeros(4))
    sos.redraw(np.array([0, 7]), rng)
    after = sos.power(np.zeros(4))
    changed = np.zeros(12, dtype=bool)
    changed[[0, 7]] = True
    assert np.all(after.ravel()[changed] != before.ravel()[changed])
    np.testing.assert_array_equal(after.ravel()[~changed], before.ravel()[~changed])


def test_sum_of_sinusoids_draws_the_same_in_chunks(monkeypatch):
    import mecsim.physics.fading as fading

    whole = SumOfSinusoids(50, 4, np.random.default_rng(49), wavelength_m=0.125)
    monkeypatch.setattr(fading, "_DRAW_CHUNK", 7)
    chunked = SumOfSinusoids(50, 4, np.random.default_rng(49), wavelength_m=0.125)
    np.testing.assert_array_equal(whole.power(np.arange(50.0)), chunked.power(np.arange(50.0)))


def test_zero_std_returns_zeros_and_draws_nothing():
    rng = np.random.default_rng(44)
    state = rng.bit_generator.state
    shadowing = Shadowing(4, 2, rng, std_db=0.0, decorrelation_m=10.0)
    for moved in (0.0, 3.0):
        np.testing.assert_array_equal(shadowing.step(np.full(4, moved)), np.zeros((4, 2)))
    np.testing.assert_array_equal(shadowing.current(), np.zeros((4, 2)))
    assert rng.bit_generator.state == state


def test_shadowing_current():
    rng = np.random.default_rng(45)
    shadowing = Shadowing(3, 2, rng, std_db=4.0, decorrelation_m=10.0)
    with pytest.raises(RuntimeError):
        shadowing.current()
    value = shadowing.step(np.zeros(3))
    state = rng.bit_generator.state
    np.testing.assert_array_equal(shadowing.current(), value)
    shadowing.current()[0, 0] = 99.0  # a copy
    np.testing.assert_array_equal(shadowing.current(), value)
    assert rng.bit_generator.state == state
    assert (shadowing.shape, shadowing.std_db, shadowing.decorrelation_m) == ((3, 2), 4.0, 10.0)
    assert "Shadowing(n=3, m=2" in repr(shadowing)


@pytest.mark.parametrize(("build", "name"), [
    (lambda: Shadowing(-1, 2, RNG, std_db=1.0, decorrelation_m=10.0), "n"),
    (lambda: Shadowing(2, 2.0, RNG, std_db=1.0, decorrelation_m=10.0), "m"),
    (lambda: Shadowing(2, 2, None, std_db=1.0, decorrelation_m=10.0), "rng"),
    (lambda: Shadowing(2, 2, RNG, std_db=-1.0, decorrelation_m=10.0), "std_db"),
    (lambda: Shadowing(2, 2, RNG, std_db=np.nan, decorrelation_m=10.0), "std_db"),
    (lambda: Shadowing(2, 2, RNG, std_db=1.0, decorrelation_m=0.0), "decorrelation_m"),
    (lambda: Shadowing(2, 2, RNG, std_db=1.0, decorrelation_m=-5.0), "decorrelation_m"),
    (lambda: Shadowing(2, 2, RNG, std_db=1.0, decorrelation_m=np.inf), "decorrelation_m"),
    (lambda: Shadowing(2, 2, RNG, std_db=1.0, decorrelation_m=True), "decorrelation_m"),
    (lambda: Shadowing(2, 2, RNG, std_db=1.0, decorrelation_m=10.0).step(np.zeros(3)),
     "moved_m"),
    (lambda: Shadowing(2, 2, RNG, std_db=1.0, decorrelation_m=10.0).step(np.array([0, -1])),
     "moved_m"),
    (lambda: Shadowing(2, 2, RNG, std_db=1.0, decorrelation_m=10.0).step(
        np.array([0, np.nan])), "moved_m"),
])
def test_shadowing_bad_arguments_raise_value_error_naming_them(build, name):
    with pytest.raises(ValueError, match=name):
        build()


@pytest.mark.parametrize("decorrelation_m", [10.0, None])
def test_shadowing_walk_equals_repeated_steps(decorrelation_m):
    a = Shadowing(5, 3, np.random.default_rng(1), std_db=4.0, decorrelation_m=decorrelation_m)
    b = Shadowing(5, 3, np.random.default_rng(1), std_db=4.0, decorrelation_m=decorrelation_m)
    moved = np.linspace(0.0, 3.0, 5)
    stepped = np.stack([a.step(moved) for _ in range(7)])
    walked = np.concatenate([b.walk(moved, 3), b.walk(moved, 4)])
    np.testing.assert_array_equal(stepped, walked)
    np.testing.assert_array_equal(a.current(), b.current())
    if decorrelation_m is not None:
        assert not np.allclose(walked[0], walked[-1])
