import itertools

import numpy as np
import pytest

from mecsim.registry import registered
from mecsim.scheduler import DecentralizedScheduler, Decision, Scheduler, agent_views
from mecsim.testing import check_cases, check_scheduler, random_network, random_observation
from schedulers.greedy import Greedy

# -- every registered scheduler keeps the contract -------------------------------------------


@pytest.mark.parametrize("scheduler_id", registered())
def test_registered_scheduler_keeps_the_contract(scheduler_id, tmp_path):
    check_scheduler(scheduler_id, tmp_dir=tmp_path)


@pytest.mark.parametrize("seed", [1, 2])
def test_builtins_keep_the_contract_on_other_worlds(seed):
    for scheduler_id in ("random", "greedy", "optimal"):
        check_scheduler(scheduler_id, seed=seed, n_iotds=5, n_mecs=2, slots=6)


def test_builtin_with_tight_limit_keeps_the_contract():
    check_scheduler(Greedy(max_tasks_per_mec=1), n_mecs=1, slots=4)


def test_save_file_lands_in_tmp_dir(tmp_path):
    check_scheduler("local", tmp_dir=tmp_path / "sub")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["local.state"]


def test_accepts_a_module_class_string_and_a_class():
    check_scheduler("schedulers.greedy:Greedy")
    check_scheduler(GainAgent)
    with pytest.raises(AssertionError, match="WrongLength"):
        check_scheduler(WrongLength)


def test_rejects_too_few_slots_and_non_schedulers():
    with pytest.raises(ValueError, match="slots"):
        check_scheduler("local", slots=3)
    with pytest.raises(ValueError, match="Scheduler instance"):
        check_scheduler(42)


# -- correct custom schedulers pass ---------------------------------------------------------


class GainAgent(DecentralizedScheduler):
    """Offload where the own gain is strong; a little per-agent noise from self.rng."""

    def __init__(self, noise: float = 0.01):
        super().__init__(noise=noise)

    def act(self, view):
        score = view.gains / (view.gains + 1e-7)
        jitter = self.rng.random(view.iotd.size) * self.params["noise"]  # n draws: gain-free
        return np.clip(score - jitter, 0.0, 1.0)


class LearnsAThreshold(Scheduler):
    """Keeps learned state outside params and saves/loads it properly."""

    def __init__(self):
        super().__init__()
        self.threshold = 0.0

    def decide(self, observation):
        p = observation.problem
        best = np.argmin(p.cost_table, axis=1)
        return Decision(np.where(p.cycles > self.threshold, best, 0).astype(np.int64))

    def feedback(self, outcome):
        self.threshold += 1e8

    def save(self, path):
        import json
        from pathlib import Path

        Path(path).write_text(json.dumps({"threshold": self.threshold}))

    def load(self, path):
        import json
        from pathlib import Path

        self.threshold = json.loads(Path(path).read_text())["threshold"]


def test_a_correct_decentralized_scheduler_passes():
    check_scheduler(GainAgent())


def test_a_learning_scheduler_with_real_save_load_passes():
    check_scheduler(LearnsAThreshold())


# -- broken schedulers are caught -----------------------------------------------------------


class WrongLength(Scheduler):
    def decide(self, observation):
        return Decision(np.zeros(observation.n_tasks + 1, dtype=np.int64))


class OnFailedMec(Scheduler):
    def decide(self, observation):
        down = np.flatnonzero(~observation.available)
        target = down[0] + 1 if down.size else 0
        return Decision(np.full(observation.n_tasks, target, dtype=np.int64))


class Unseeded(Scheduler):
    def decide(self, observation):
        rng = np.random.default_rng()  # ignores the seed of reset()
        up = int(np.argmax(observation.available)) + 1
        return Decision(np.where(rng.random(observation.n_tasks) < 0.5, up, 0))


class Peeking(DecentralizedScheduler):
    """Each agent reads the gains the previous agent left in a class attribute."""

    shared = None

    def reset(self, seed, network):
        super().reset(seed, network)
        type(self).shared = None  # so that two runs with one seed agree

    def act(self, view):
        other, type(self).shared = type(self).shared, view.gains
        if other is None or other.size != view.gains.size:
            return np.full(view.gains.size, 0.6)
        return (view.gains > other).astype(float)


_CALLS = itertools.count()


class GlobalCounter(DecentralizedScheduler):
    def act(self, view):
        return np.full(view.iotd.size, 0.9 if next(_CALLS) % 3 == 0 else 0.1)


class OutOfRange(DecentralizedScheduler):
    def act(self, view):
        return np.full(view.iotd.size, 1.5)


class WrongShapeScores(DecentralizedScheduler):
    def act(self, view):
        return np.full(view.iotd.size + 1, 0.2)


class ActsForFailedMec(DecentralizedScheduler):
    """Overrides decide() and consults every MEC's agent, the failed one included."""

    def act(self, view):
        return np.full(view.iotd.size, 0.1)

    def decide(self, observation):
        full = observation.__class__(**{**observation.__dict__,
                                       "available": np.ones_like(observation.available)})
        for view in agent_views(full).values():
            self.act(view)
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))


class DecideDisagrees(DecentralizedScheduler):
    def act(self, view):
        return np.full(view.iotd.size, 0.9)

    def decide(self, observation):
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))


class MutatesObservation(Scheduler):
    def decide(self, observation):
        observation.problem.gains[:] *= 2.0
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))


class Raises(Scheduler):
    def decide(self, observation):
        if observation.n_tasks == 0:
            raise IndexError("empty")
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))


class ForgetsStateOnSave(Scheduler):
    """Its offload threshold lives outside params, so save()/load() lose it."""

    def __init__(self, threshold=None):
        super().__init__()
        self.threshold = threshold

    def decide(self, observation):
        p = observation.problem
        best = np.argmin(p.cost_table, axis=1)
        cut = -1.0 if self.threshold is None else self.threshold
        return Decision(np.where(p.cycles > cut, best, 0).astype(np.int64))


class FeedbackBreaks(Scheduler):
    def decide(self, observation):
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))

    def feedback(self, outcome):
        if outcome.reward != 1.0 / outcome.objective:
            raise ValueError("bad reward")
        outcome.allocation.missing  # noqa: B018 - no such field


class BadPower(Scheduler):
    def decide(self, observation):
        p = observation.problem
        a = np.argmin(p.cost_table, axis=1).astype(np.int64)
        return Decision(a, tx_power_w=np.full(a.size, 10 * p.params.max_power_w))


class CentralFlagLies(Scheduler):
    centralized = False

    def decide(self, observation):
        return Decision(np.zeros(observation.n_tasks, dtype=np.int64))


@pytest.mark.parametrize("broken, message", [
    (WrongLength(), r"'WrongLength' at epoch 0 .*placement must have shape \(6,\)"),
    (OnFailedMec(), r"epoch 3 \(MEC \d failed.*unavailable MEC"),
    (Unseeded(), r"same seed gave different decisions"),
    (Peeking(), r"agent of MEC \d changed its scores .*outside its own view"),
    (GlobalCounter(), r"same seed gave different decisions|outside its own view"),
    (OutOfRange(), r"scores outside \[0, 1\]"),
    (WrongShapeScores(), r"returned shape \(7,\), want \(6,\)"),
    (ActsForFailedMec(), r"act\(\) for failed MEC \d"),
    (DecideDisagrees(), r"decide\(\) disagrees with the engine's path"),
    (MutatesObservation(), r"modified problem.gains"),
    (Raises(), r"epoch 1 \(empty epoch.*raised IndexError: empty"),
    (ForgetsStateOnSave(threshold=1e9), r"fresh instance .* decides differently"),
    (FeedbackBreaks(), r"feedback\(outcome\) raised AttributeError"),
    (BadPower(), r"tx_power_w must be in \(0, 1.5\]"),
    (CentralFlagLies(), r"centralized = False but the class is not a DecentralizedScheduler"),
])
def test_broken_scheduler_is_caught(broken, message):
    with pytest.raises(AssertionError, match=message):
        check_scheduler(broken)


def test_peeking_is_caught_only_by_the_decentralisation_check():
    # The same scheduler passes once agents stop sharing state: the check is specific.
    class Honest(Peeking):
        def act(self, view):
            if view.gains.size == 0:
                return np.zeros(0)
            return (view.gains > np.median(view.gains)).astype(float)

    check_scheduler(Honest())


# -- the input builders -----------------------------------------------------------------------


def test_random_observation_is_consistent():
    rng = np.random.default_rng(3)
    net = random_network(rng, 8, 3)
    obs = random_observation(rng, 5, 3, network=net, slot=4, available=[True, False, True],
                             backlog_tasks=[1, 0, 2])
    p = obs.problem
    assert obs.n_tasks == 5 and p.gains.shape == (5, 3) and obs.iotd_positions_m.shape == (8, 2)
    assert len(set(obs.iotd.tolist())) == 5  # distinct IoTDs when n <= N
    np.testing.assert_array_equal(p.local_cpu_hz, net.local_cpu_hz[obs.iotd])
    np.testing.assert_array_equal(p.available, [True, False, True])
    assert obs.time_s == 4 * net.slot_s
    assert (p.gains > 0).all() and (p.local_feasible).all()
    # path loss: the gain divided by the fading cannot exceed beta0 / d^2; spot-check the
    # nearest MEC has the larger mean gain over many draws
    many = random_observation(np.random.default_rng(4), 4000, 3, network=net,
                              iotd=np.zeros(4000, dtype=int),
                              iotd_positions_m=np.tile(net.mec_positions_m[0], (8, 1)))
    assert np.argmax(many.problem.gains.mean(axis=0)) == 0


def test_check_cases_cover_the_special_cases():
    rng = np.random.default_rng(0)
    net = random_network(rng, 6, 3)
    cases = check_cases(rng, net, 6)
    sizes = [c.observation.n_tasks for c in cases]
    assert sizes[0] == 6 and sizes[1] == 0
    assert np.bincount(cases[2].observation.iotd).max() > 1
    assert (~cases[3].observation.available).sum() == 1
    assert np.ptp(net.mec_cpu_hz) > 0
    assert len(cases) == 6
