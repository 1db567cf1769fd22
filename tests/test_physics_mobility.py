import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mecsim.physics.mobility import (
    MOBILITY_MODELS,
    GaussMarkov,
    Mobility,
    RandomWaypoint,
    Static,
    make_mobility,
)

AREA = (50.0, 30.0)


def _fold(x, length):
    """Reference reflection of a free coordinate into [0, length]."""
    y = np.mod(x, 2 * length)
    return np.where(y > length, 2 * length - y, y)


# ----------------------------------------------------------------------------- common


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 5),
    width=st.floats(0.5, 100.0),
    height=st.floats(0.5, 100.0),
    dt=st.floats(0.01, 30.0),
    vmin=st.floats(0.05, 5.0),
    spread=st.floats(1.0, 4.0),
    pause=st.floats(0.0, 5.0),
    mean_speed=st.floats(0.0, 20.0),
    memory=st.floats(0.0, 1.0),
    speed_std=st.floats(0.0, 5.0),
    direction_std=st.floats(0.0, 3.0),
)
def test_positions_stay_inside_the_area(seed, n, width, height, dt, vmin, spread, pause,
                                        mean_speed, memory, speed_std, direction_std):
    rng = np.random.default_rng(seed)
    area = (width, height)
    models = [
        RandomWaypoint(n, area, rng, speed_range_mps=(vmin, vmin * spread), pause_s=pause),
        GaussMarkov(n, area, rng, mean_speed_mps=mean_speed, memory=memory,
                    speed_std_mps=speed_std, direction_std_rad=direction_std),
    ]
    for model in models:
        for _ in range(60):
            model.step(dt)
            pos = model.positions_m
            assert pos.shape == (n, 2)
            assert np.all(pos >= 0.0)
            assert np.all(pos[:, 0] <= width)
            assert np.all(pos[:, 1] <= height)
            assert np.all(model.speeds_mps >= 0.0)


@pytest.mark.parametrize("name", sorted(MOBILITY_MODELS))
def test_same_seed_gives_identical_trajectories(name):
    def trajectory(seed):
        model = make_mobility(name, 8, AREA, np.random.default_rng(seed))
        out = []
        for _ in range(50):
            model.step(0.7)
            out.append(model.positions_m)
        return np.array(out)

    np.testing.assert_array_equal(trajectory(3), trajectory(3))
    assert not np.array_equal(trajectory(3), trajectory(4))


def test_initial_positions_are_uniform_in_the_area():
    pos = Static(4000, AREA, np.random.default_rng(0)).positions_m
    assert np.all((pos >= 0) & (pos <= AREA))
    np.testing.assert_allclose(pos.mean(axis=0), np.array(AREA) / 2, rtol=0.03)
    np.testing.assert_allclose(pos.std(axis=0), np.array(AREA) / np.sqrt(12), rtol=0.03)


def test_initial_positions_are_used_and_copied():
    start = np.array([[1.0, 2.0], [50.0, 30.0], [0.0, 0.0]])
    model = GaussMarkov(3, AREA, np.random.default_rng(0), initial_positions_m=start)
    np.testing.assert_array_equal(model.positions_m, start)
    start[0] = 9.0  # the caller's array is not the model's state
    model.positions_m[1] = 9.0  # nor is the returned one
    np.testing.assert_array_equal(model.positions_m[:2], [[1.0, 2.0], [50.0, 30.0]])


def test_mobility_is_abstract():
    with pytest.raises(TypeError):
        Mobility(1, AREA, np.random.default_rng(0))

    class Incomplete(Mobility):
        def step(self, dt_s):
            pass

    with pytest.raises(TypeError):
        Incomplete(1, AREA, np.random.default_rng(0))


# ----------------------------------------------------------------------------- static


def test_static_never_moves():
    model = make_mobility("static", 10, AREA, np.random.default_rng(1))
    start = model.positions_m
    for dt in (0.0, 1.0, 1e6):
        model.step(dt)
    np.testing.assert_array_equal(model.positions_m, start)
    np.testing.assert_array_equal(model.speeds_mps, np.zeros(10))


# ----------------------------------------------------------------------------- random waypoint


def test_random_waypoint_time_average_speed_matches_theory():
    # With no pause, a leg's length is independent of its speed V ~ U(vmin, vmax), so the
    # time-average speed is 1 / E[1/V] = (vmax - vmin) / ln(vmax / vmin).
    vmin, vmax, dt = 0.5, 3.0, 0.5
    model = RandomWaypoint(200, AREA, np.random.default_rng(2), speed_range_mps=(vmin, vmax))
    speeds, path = [], []
    for _ in range(1000):
        before = model.positions_m
        model.step(dt)
        speeds.append(model.speeds_mps)
        path.append(np.linalg.norm(model.positions_m - before, axis=1) / dt)
    speeds, path = np.array(speeds), np.array(path)
    expected = (vmax - vmin) / np.log(vmax / vmin)
    assert np.all((speeds >= vmin) & (speeds <= vmax))
    assert np.all(path <= vmax * (1 + 1e-12))  # never faster than vmax
    assert speeds.mean() == pytest.approx(expected, rel=0.03)
    assert path.mean() == pytest.approx(expected, rel=0.04)  # straight-line cut at turns
    assert vmin < path.mean() < vmax


def test_random_waypoint_reaches_its_waypoint_exactly_and_pauses():
    start = np.array([[0.0, 0.0], [25.0, 15.0], [50.0, 30.0]])
    model = RandomWaypoint(3, AREA, np.random.default_rng(5), initial_positions_m=start,
                           speed_range_mps=(1.0, 2.0), pause_s=1000.0)
    target = model.waypoints_m
    speed = model.speeds_mps
    assert np.all((speed >= 1.0) & (speed <= 2.0))
    leg_s = np.linalg.norm(target - start, axis=1) / speed
    assert leg_s.max() < 100.0  # legs are at most the area's diagonal / 1 m/s
    model.step(100.0)  # one long step past every leg, within every pause
    np.testing.assert_array_equal(model.positions_m, target)
    np.testing.assert_array_equal(model.speeds_mps, np.zeros(3))
    model.step(800.0)  # still pausing
    np.testing.assert_array_equal(model.positions_m, target)
    model.step(200.0)  # every pause is over: moving again towards new waypoints
    assert np.all(np.linalg.norm(model.positions_m - target, axis=1) > 0)
    assert not np.array_equal(model.waypoints_m, target)


def test_random_waypoint_moves_straight_at_its_speed_mid_leg():
    start = np.array([[0.0, 0.0]])
    model = RandomWaypoint(1, AREA, np.random.default_rng(6), initial_positions_m=start,
                           speed_range_mps=(1.5, 1.5))
    target = model.waypoints_m[0]
    leg_s = np.linalg.norm(target) / 1.5
    model.step(leg_s / 2)
    np.testing.assert_allclose(model.positions_m[0], target / 2, rtol=1e-12)
    assert model.speeds_mps[0] == 1.5


@pytest.mark.parametrize("pause_s", [0.0, 3.0])
def test_random_waypoint_one_long_step_equals_many_short_ones(pause_s):
    def run(dts):
        model = RandomWaypoint(20, AREA, np.random.default_rng(7), speed_range_mps=(2.0, 6.0),
                               pause_s=pause_s)
        for dt in dts:
            model.step(dt)
        return model.positions_m, model.waypoints_m

    coarse = run([100.0])  # each device covers many legs in this single step
    fine = run([0.25] * 400)
    np.testing.assert_allclose(coarse[0], fine[0], atol=1e-8)
    np.testing.assert_array_equal(coarse[1], fine[1])


# ----------------------------------------------------------------------------- Gauss-Markov


def test_gauss_markov_mean_speed_and_spread_over_a_long_run():
    model = GaussMarkov(50, AREA, np.random.default_rng(8), mean_speed_mps=1.5, memory=0.9,
                        speed_std_mps=0.3, direction_std_rad=0.4)
    speeds = []
    for _ in range(2000):
        model.step(1.0)
        speeds.append(model.speeds_mps)
    speeds = np.array(speeds)
    assert speeds.mean() == pytest.approx(1.5, rel=0.02)
    assert speeds.std() == pytest.approx(0.3, rel=0.05)


@pytest.mark.parametrize("memory", [1.0, 0.5])
def test_gauss_markov_without_noise_is_a_billiard_with_exact_reflections(memory):
    # memory < 1 also checks that the mean direction is mirrored with the direction:
    # otherwise the direction would revert towards the pre-reflection mean.
    start = np.array([[10.0, 5.0], [40.0, 20.0]])
    model = GaussMarkov(2, AREA, np.random.default_rng(9), initial_positions_m=start,
                        mean_speed_mps=3.0, memory=memory, speed_std_mps=0.0,
                        direction_std_rad=0.0)
    velocity = model.velocities_mps
    np.testing.assert_allclose(np.linalg.norm(velocity, axis=1), 3.0)
    for k in range(1, 201):  # 600 m of travel: many reflections on both walls
        model.step(1.0)
        free = start + k * velocity
        expected = np.column_stack([_fold(free[:, 0], AREA[0]), _fold(free[:, 1], AREA[1])])
        np.testing.assert_allclose(model.positions_m, expected, atol=1e-9)
        np.testing.assert_allclose(model.speeds_mps, 3.0)


def test_gauss_markov_memoryless_speeds_are_fresh_draws():
    model = GaussMarkov(20000, AREA, np.random.default_rng(10), mean_speed_mps=5.0, memory=0.0,
                        speed_std_mps=0.5)
    first = model.speeds_mps
    model.step(1.0)
    second = model.speeds_mps
    assert abs(np.corrcoef(first, second)[0, 1]) < 0.05
    assert second.mean() == pytest.approx(5.0, rel=0.01)


def test_gauss_markov_step_zero_is_a_no_op():
    model = GaussMarkov(5, AREA, np.random.default_rng(11))
    pos, speeds = model.positions_m, model.speeds_mps
    model.step(0.0)
    np.testing.assert_array_equal(model.positions_m, pos)
    np.testing.assert_array_equal(model.speeds_mps, speeds)


# ----------------------------------------------------------------------------- arguments


RNG = np.random.default_rng(0)
BAD_ARGS = [
    (lambda: Static(-1, AREA, RNG), "n"),
    (lambda: Static(2.5, AREA, RNG), "n"),
    (lambda: Static(2, (0.0, 10.0), RNG), r"area_m\[0\]"),
    (lambda: Static(2, (10.0, np.inf), RNG), r"area_m\[1\]"),
    (lambda: Static(2, (10.0,), RNG), "area_m"),
    (lambda: Static(2, AREA, 42), "rng"),
    (lambda: Static(2, AREA, RNG, initial_positions_m=np.zeros((3, 2))), "initial_positions_m"),
    (lambda: Static(1, AREA, RNG, initial_positions_m=[[60.0, 1.0]]), "initial_positions_m"),
    (lambda: Static(1, AREA, RNG, initial_positions_m=[[np.nan, 1.0]]), "initial_positions_m"),
    (lambda: RandomWaypoint(2, AREA, RNG, speed_range_mps=(0.0, 1.0)), "speed_range_mps"),
    (lambda: RandomWaypoint(2, AREA, RNG, speed_range_mps=(2.0, 1.0)), "speed_range_mps"),
    (lambda: RandomWaypoint(2, AREA, RNG, speed_range_mps=1.0), "speed_range_mps"),
    (lambda: RandomWaypoint(2, AREA, RNG, pause_s=-1.0), "pause_s"),
    (lambda: GaussMarkov(2, AREA, RNG, memory=1.5), "memory"),
    (lambda: GaussMarkov(2, AREA, RNG, memory=-0.1), "memory"),
    (lambda: GaussMarkov(2, AREA, RNG, mean_speed_mps=-1.0), "mean_speed_mps"),
    (lambda: GaussMarkov(2, AREA, RNG, speed_std_mps=np.nan), "speed_std_mps"),
    (lambda: GaussMarkov(2, AREA, RNG, direction_std_rad=-1.0), "direction_std_rad"),
    (lambda: Static(2, AREA, RNG).step(-1.0), "dt_s"),
    (lambda: RandomWaypoint(2, AREA, RNG).step(np.inf), "dt_s"),
    (lambda: GaussMarkov(2, AREA, RNG).step(np.nan), "dt_s"),
]


@pytest.mark.parametrize(("build", "name"), BAD_ARGS)
def test_bad_arguments_raise_value_error_naming_them(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_make_mobility_unknown_model_lists_the_valid_ones():
    with pytest.raises(ValueError, match="gauss_markov.*random_waypoint.*static"):
        make_mobility("brownian", 2, AREA, RNG)


def test_make_mobility_passes_parameters():
    model = make_mobility("random_waypoint", 3, AREA, RNG, speed_range_mps=(2.0, 3.0),
                          pause_s=1.5)
    assert isinstance(model, RandomWaypoint)
    assert model.speed_range_mps == (2.0, 3.0)
    assert model.pause_s == 1.5
