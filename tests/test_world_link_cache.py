"""A slot's per-step link gains are computed once per link (uploads ask again and again)."""

from pathlib import Path

import numpy as np
import pytest

from mecsim.config import load_scenario
from mecsim.engine.world import World

DENSE = Path(__file__).resolve().parents[1] / "scenarios" / "dense_100.yaml"


def _counting_world(extra=()):
    world = World(load_scenario(DENSE, ["output.channels=false", *extra]))
    asked = []
    if world._sos is not None:
        inner = world._sos.links_power

        def links_power(travelled_m, links):
            asked.append(len(links))
            return inner(travelled_m, links)

        world._sos.links_power = links_power
    return world, asked


@pytest.mark.parametrize("extra", [(), ("channel.candidate_mecs=3",)])
def test_each_link_is_computed_once_a_slot_with_the_same_values(extra):
    world, asked = _counting_world(extra)
    fresh, _ = _counting_world(extra)
    for _ in range(3):
        w, w_fresh = world.next_slot(), fresh.next_slot()
        np.testing.assert_array_equal(w.gains, w_fresh.gains)

        def mecs(dev, col, cand=w.candidates):  # a linked MEC of each IoTD
            return np.asarray(col) if cand is None else cand[dev, col]

        iotd = np.array([3, 7, 3, 9])
        mec = mecs(iotd, [1, 2, 1, 0])
        first = w.channel.gains(iotd, mec)
        assert asked[-1] == 3  # (3, 1) twice in one call: once
        again = w.channel.gains(np.array([9, 3, 50]), np.r_[mec[3], mec[0], mecs(50, 0)])
        assert asked[-1] == 1  # only IoTD 50's link is new
        np.testing.assert_array_equal(again[:, :2], first[:, [3, 0]])
        # the same values as each link asked alone, in a world that computed nothing else
        for k in range(4):
            alone = w_fresh.channel.gains(iotd[k:k + 1], mec[k:k + 1])
            np.testing.assert_array_equal(alone[:, 0], first[:, k])
        if w.candidates is not None:  # no link: gain 0, nothing computed
            other = np.setdiff1d(np.arange(6), w.candidates[3])[0]
            before = len(asked)
            none = w.channel.gains(np.array([3, 3]), np.array([other, mec[0]]))
            assert len(asked) == before
            assert np.all(none[:, 0] == 0)
            np.testing.assert_array_equal(none[:, 1], first[:, 0])
    assert asked.count(3) == 3


def test_ar1_fading_links_are_cached_too():
    world = World(load_scenario(DENSE, ["output.channels=false",
                                        "channel.fading.generator=ar1"]))
    w = world.next_slot()
    a = w.channel.gains(np.array([1, 2]), np.array([0, 5]))
    b = w.channel.gains(np.array([2, 1, 1]), np.array([5, 0, 0]))
    np.testing.assert_array_equal(b, a[:, [1, 0, 0]])
    assert b.shape == (w.channel.steps, 3)


@pytest.mark.parametrize("chunk", [1, 100, 4096, 1 << 30])
def test_gains_in_cache_sized_chunks_are_the_same(monkeypatch, chunk):
    """A slot's new links are computed in chunks of ``_GAIN_CHUNK`` link-steps: same bits."""
    from mecsim.engine import world as world_module

    iotd = np.repeat(np.arange(100), 6)[:450]
    mec = np.tile(np.arange(6), 100)[:450]
    monkeypatch.setattr(world_module, "_GAIN_CHUNK", 1 << 30)
    reference = World(load_scenario(DENSE, ["output.channels=false"]))
    monkeypatch.setattr(world_module, "_GAIN_CHUNK", chunk)
    chunked = World(load_scenario(DENSE, ["output.channels=false"]))
    for _ in range(2):
        a, b = reference.next_slot(), chunked.next_slot()
        monkeypatch.setattr(world_module, "_GAIN_CHUNK", 1 << 30)
        whole = a.channel.gains(iotd, mec)
        monkeypatch.setattr(world_module, "_GAIN_CHUNK", chunk)
        np.testing.assert_array_equal(b.channel.gains(iotd, mec), whole)
