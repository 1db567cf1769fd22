"""The shadowing's normals drawn ahead in a thread (``NormalsAhead``): the same values."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from run_tables import run_tables

from mecsim.config import load_scenario
from mecsim.engine import simulation
from mecsim.engine.normals import NormalsAhead
from mecsim.engine.runner import run_scenario
from mecsim.engine.world import World

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
DENSE = SCENARIOS / "dense_100.yaml"


@pytest.mark.parametrize("block", [1, 7, 50, 10_000])
def test_take_hands_out_the_generators_sequence_in_order(block):
    shapes = [(3, 4), (100, 7, 6), (1,), (0,), (5000,), (17, 3), (2, 2)]
    ahead = NormalsAhead(np.random.default_rng(5), block)
    got = [ahead.take(shape) for shape in shapes]
    ahead.close()
    reference = np.random.default_rng(5)
    for shape, values in zip(shapes, got, strict=True):
        assert values.shape == shape and values.dtype == np.float64
        np.testing.assert_array_equal(values, reference.standard_normal(shape))


def test_taken_arrays_are_the_callers_own():
    ahead = NormalsAhead(np.random.default_rng(1), 64)
    first = ahead.take((10,))
    kept = first.copy()
    first[:] = 0.0  # the caller writes its array: the next normals are untouched
    second = ahead.take((100,))
    ahead.close()
    reference = np.random.default_rng(1)
    np.testing.assert_array_equal(kept, reference.standard_normal(10))
    np.testing.assert_array_equal(second, reference.standard_normal(100))


def test_a_block_is_drawn_in_another_thread(monkeypatch):
    rng = np.random.default_rng(2)
    names = []

    class Spy:
        def standard_normal(self, *args, **kwargs):
            names.append(threading.current_thread().name)
            return rng.standard_normal(*args, **kwargs)

    ahead = NormalsAhead(Spy(), 100)
    for _ in range(5):
        ahead.take((60,))
    ahead.close()
    assert "mecsim-normals" in names


def test_bad_block_is_refused():
    with pytest.raises(ValueError, match="block"):
        NormalsAhead(np.random.default_rng(0), 0)


def test_a_world_with_normals_ahead_is_the_same_world():
    scenario = load_scenario(DENSE, ["slots=6"])
    plain, ahead = World(scenario), World(scenario)
    assert ahead.draw_normals_ahead() and ahead.normals_ahead and not plain.normals_ahead
    links = (np.array([0, 5, 99, 42]), np.array([0, 3, 5, 1]))
    for _ in range(6):
        a, b = plain.next_slot(), ahead.next_slot()
        np.testing.assert_array_equal(a.gains, b.gains)
        np.testing.assert_array_equal(a.channel.gains(*links), b.channel.gains(*links))
    ahead.close()


def test_no_thread_where_the_shadowing_draws_nothing_after_the_first_epoch():
    for override in ("channel.fading.shadowing_std_db=0", "channel.fading.step_s=1.0",
                     "channel.fading.shadowing_decorrelation_m=null"):
        world = World(load_scenario(DENSE, ["slots=2", override]))
        assert not world.draw_normals_ahead(), override


def test_a_run_draws_normals_ahead_and_gives_the_same_results(monkeypatch):
    scenario = load_scenario(DENSE, ["slots=15", "output.channels=false",
                                     "schedulers=[random, greedy]"])
    seen = []
    draw = World.draw_normals_ahead

    def spy(self):
        seen.append(draw(self))
        return seen[-1]

    monkeypatch.setattr(World, "draw_normals_ahead", spy)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        run_scenario(scenario, a)
        assert seen == [True, True]  # dense_100: 600 links, below the world prefetch
        monkeypatch.setattr(simulation, "PREFETCH_WORLD", False)
        run_scenario(scenario, b)
        assert seen == [True, True]  # not asked for
        mine, reference = run_tables(Path(a)), run_tables(Path(b))
    for name in mine:
        pd.testing.assert_frame_equal(mine[name], reference[name], check_exact=True)


def test_a_large_world_draws_no_normals_ahead(monkeypatch):
    """From ``MIN_LINKS`` links the whole world is drawn ahead (or, with candidate links,
    nothing): no block of normals as large as two slots of a million links."""
    from mecsim.engine import prefetch

    scenario = load_scenario(DENSE, ["slots=3", "output.channels=false",
                                     "schedulers=[local]"])
    monkeypatch.setattr(prefetch, "MIN_LINKS", 600)  # dense_100 has 600 links: "large"
    asked = []
    monkeypatch.setattr(World, "draw_normals_ahead", lambda self: asked.append(1) or True)
    with tempfile.TemporaryDirectory() as out:
        run_scenario(scenario, out)
    assert asked == []
