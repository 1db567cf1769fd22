import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mecsim.physics.arrivals import (
    ARRIVAL_PROCESSES,
    Bernoulli,
    Choice,
    Constant,
    PerSlot,
    Poisson,
    TruncNormal,
    Uniform,
    make_arrivals,
    make_distribution,
)

SLOT_S = 0.5


def _counts(iotd, n):
    return np.bincount(iotd, minlength=n)


def _assert_well_formed(iotd, offset_s, n, slot_s):
    assert iotd.dtype == np.int64
    assert offset_s.dtype == np.float64
    assert iotd.shape == offset_s.shape
    assert np.all((iotd >= 0) & (iotd < n))
    assert np.all((offset_s >= 0.0) & (offset_s < slot_s))
    order = np.lexsort((iotd, offset_s))  # by offset, then iotd
    np.testing.assert_array_equal(order, np.arange(iotd.size))


# ----------------------------------------------------------------------------- arrivals


def test_per_slot_gives_exactly_one_task_per_device_at_the_slot_start():
    iotd, offset_s = PerSlot().sample(7, SLOT_S, np.random.default_rng(0))
    np.testing.assert_array_equal(iotd, np.arange(7))
    np.testing.assert_array_equal(offset_s, np.zeros(7))
    _assert_well_formed(iotd, offset_s, 7, SLOT_S)
    assert PerSlot().mean_count(SLOT_S) == 1.0


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_bernoulli_mean_count_is_p_and_at_most_one_per_device(p):
    n = 20000
    iotd, offset_s = Bernoulli(p).sample(n, SLOT_S, np.random.default_rng(1))
    _assert_well_formed(iotd, offset_s, n, SLOT_S)
    counts = _counts(iotd, n)
    assert counts.max(initial=0) <= 1
    assert counts.mean() == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n) + 1e-12)
    if 0 < p:
        assert stats.kstest(offset_s / SLOT_S, "uniform").pvalue > 0.01


def test_poisson_count_mean_and_variance_are_rate_times_slot():
    n, rate = 20000, 3.0
    iotd, offset_s = Poisson(rate).sample(n, SLOT_S, np.random.default_rng(2))
    _assert_well_formed(iotd, offset_s, n, SLOT_S)
    counts = _counts(iotd, n)
    assert counts.mean() == pytest.approx(rate * SLOT_S, rel=0.03)
    assert counts.var() == pytest.approx(rate * SLOT_S, rel=0.05)
    assert counts.max() >= 4  # several tasks per device in one slot do happen
    assert stats.kstest(offset_s / SLOT_S, "uniform").pvalue > 0.01
    assert Poisson(rate).mean_count(SLOT_S) == rate * SLOT_S


def test_poisson_offsets_are_sorted_per_device():
    iotd, offset_s = Poisson(20.0).sample(5, 1.0, np.random.default_rng(3))
    for i in range(5):
        assert np.all(np.diff(offset_s[iotd == i]) >= 0)


@settings(max_examples=30, deadline=None)
@given(process=st.sampled_from(sorted(ARRIVAL_PROCESSES)), n=st.integers(0, 50),
       slot_s=st.floats(1e-3, 100.0), seed=st.integers(0, 2**32 - 1))
def test_every_process_returns_well_formed_arrivals(process, n, slot_s, seed):
    params = {"per_slot": {}, "bernoulli": {"probability": 0.5}, "poisson": {"rate_per_s": 1.0}}
    iotd, offset_s = make_arrivals(process, **params[process]).sample(
        n, slot_s, np.random.default_rng(seed))
    _assert_well_formed(iotd, offset_s, n, slot_s)


def test_same_seed_same_arrivals():
    a = Poisson(4.0).sample(30, 1.0, np.random.default_rng(4))
    b = Poisson(4.0).sample(30, 1.0, np.random.default_rng(4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


RNG = np.random.default_rng(0)


@pytest.mark.parametrize(("build", "name"), [
    (lambda: Bernoulli(1.5), "probability"),
    (lambda: Bernoulli(-0.1), "probability"),
    (lambda: Poisson(-1.0), "rate_per_s"),
    (lambda: Poisson(np.inf), "rate_per_s"),
    (lambda: PerSlot().sample(-1, 1.0, RNG), "n_devices"),
    (lambda: PerSlot().sample(3, 0.0, RNG), "slot_s"),
    (lambda: Poisson(1.0).sample(3, 1.0, 7), "rng"),
    (lambda: make_arrivals("hawkes"), "bernoulli.*per_slot.*poisson"),
])
def test_invalid_arrival_parameters_raise_value_error(build, name):
    with pytest.raises(ValueError, match=name):
        build()


# ----------------------------------------------------------------------------- task sizes


def test_constant():
    dist = make_distribution("constant", value=8e5)
    np.testing.assert_array_equal(dist.sample(4, RNG), np.full(4, 8e5))
    assert dist.mean == 8e5


def test_uniform_mean_and_bounds():
    dist = Uniform(0.5e9, 1.5e9)
    draws = dist.sample(20000, np.random.default_rng(5))
    assert np.all((draws >= 0.5e9) & (draws < 1.5e9))
    assert draws.mean() == pytest.approx(1e9, rel=0.01)
    assert dist.mean == 1e9
    assert stats.kstest(draws, stats.uniform(0.5e9, 1e9).cdf).pvalue > 0.01


def test_trunc_normal_bounds_and_mean():
    dist = TruncNormal(mean=1e9, std=5e8, low=4e8, high=1.2e9)  # asymmetric truncation
    draws = dist.sample(20000, np.random.default_rng(6))
    assert np.all((draws >= 4e8) & (draws <= 1.2e9))
    a, b = (4e8 - 1e9) / 5e8, (1.2e9 - 1e9) / 5e8
    expected = stats.truncnorm.mean(a, b, loc=1e9, scale=5e8)
    assert dist.mean == pytest.approx(expected)
    assert dist.mean < 1e9  # truncation removes more mass above than below
    assert draws.mean() == pytest.approx(expected, rel=0.005)
    assert stats.kstest(draws, stats.truncnorm(a, b, loc=1e9, scale=5e8).cdf).pvalue > 0.01


@pytest.mark.parametrize(("mean", "std", "low", "high"), [
    (1e9, 5e8, 4e8, 1.2e9), (2e9, 0.5e9, 0.5e9, 4e9), (5e5, 2e5, 1e5, np.inf),
    (1.0, 1.0, 0.01, 2.0), (3.0, 1.0, 0.5, 3.1),   # closed form (no scipy.stats)
    (1e9, 0.08e9, 0.5e9, 1.5e9),                     # a far tail: scipy.stats
])
def test_trunc_normal_mean_is_scipys_to_rounding(mean, std, low, high):
    a, b = (low - mean) / std, (high - mean) / std
    expected = stats.truncnorm.mean(a, b, loc=mean, scale=std)
    assert TruncNormal(mean, std, low, high).mean == pytest.approx(expected, rel=1e-14)


def test_trunc_normal_with_open_upper_bound():
    draws = TruncNormal(mean=1.0, std=1.0, low=0.1, high=np.inf).sample(
        1000, np.random.default_rng(7))
    assert np.all(draws >= 0.1)


def test_choice_frequencies_and_mean():
    dist = Choice([1e8, 5e8, 2e9], probs=[0.5, 0.3, 0.2])
    draws = dist.sample(20000, np.random.default_rng(8))
    freq = np.array([(draws == v).mean() for v in (1e8, 5e8, 2e9)])
    np.testing.assert_allclose(freq, [0.5, 0.3, 0.2], atol=0.015)
    assert dist.mean == pytest.approx(0.5 * 1e8 + 0.3 * 5e8 + 0.2 * 2e9)


def test_choice_defaults_to_equal_probabilities():
    dist = make_distribution("choice", values=[1.0, 3.0])
    draws = dist.sample(10000, np.random.default_rng(9))
    assert (draws == 1.0).mean() == pytest.approx(0.5, abs=0.02)
    assert dist.mean == 2.0


@settings(max_examples=40, deadline=None)
@given(low=st.floats(1e-3, 1e9), width=st.floats(1e-3, 1e9), z=st.floats(-3.0, 3.0),
       seed=st.integers(0, 2**32 - 1))
def test_continuous_sizes_are_positive_and_inside_their_bounds(low, width, z, seed):
    high = low + width
    rng = np.random.default_rng(seed)
    for dist in (Uniform(low, high), TruncNormal(low + z * width, width, low, high)):
        draws = dist.sample(200, rng)
        assert draws.shape == (200,)
        assert np.all(draws > 0)
        assert np.all((draws >= low) & (draws <= high))
        assert low <= dist.mean <= high


@pytest.mark.parametrize(("build", "name"), [
    (lambda: Constant(0.0), "value"),
    (lambda: Constant(-1.0), "value"),
    (lambda: Uniform(0.0, 1.0), "low"),
    (lambda: Uniform(2.0, 1.0), "high"),
    (lambda: TruncNormal(1.0, 0.0, 0.5, 2.0), "std"),
    (lambda: TruncNormal(1.0, 1.0, 0.0, 2.0), "low"),
    (lambda: TruncNormal(1.0, 1.0, 2.0, 2.0), "high"),
    (lambda: TruncNormal(np.nan, 1.0, 1.0, 2.0), "mean"),
    (lambda: Choice([]), "values"),
    (lambda: Choice([1.0, -2.0]), "values"),
    (lambda: Choice([1.0, 2.0], probs=[0.5]), "probs"),
    (lambda: Choice([1.0, 2.0], probs=[0.7, 0.7]), "probs"),
    (lambda: Choice([1.0, 2.0], probs=[1.5, -0.5]), "probs"),
    (lambda: Uniform(1.0, 2.0).sample(-1, RNG), "n"),
    (lambda: Uniform(1.0, 2.0).sample(3, "seed"), "rng"),
    (lambda: make_distribution("lognormal"), "choice.*constant.*trunc_normal.*uniform"),
])
def test_invalid_size_parameters_raise_value_error(build, name):
    with pytest.raises(ValueError, match=name):
        build()
