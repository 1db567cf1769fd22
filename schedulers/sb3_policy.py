"""Trained Stable-Baselines3 policies as mecsim schedulers (the ``rl`` extra).

A policy trained on :class:`mecsim.envs.gym_env.MecEnv` (``mecsim/Paper-v0`` and the
others) runs in ``python -m mecsim run`` next to any other scheduler::

    python -m mecsim run scenarios/paper.yaml --scheduler sb3:agent.zip --scheduler optimal

or from a scenario file::

    schedulers:
      - {name: "schedulers.sb3_policy:PolicyScheduler", params: {path: agent.zip},
         label: ppo}

:class:`PolicyScheduler` encodes each engine :class:`~mecsim.scheduler.Observation` exactly as
``MecEnv`` does (:func:`mecsim.envs.gym_env.encode`), asks the policy for the per-IoTD action
and maps it to a per-task placement with :func:`mecsim.envs.gym_env.placement_of` (an entry
naming a failed or unreachable MEC runs the task locally, as in the env). The engine then
applies the exact CPU split and transmit power, as for every scheduler. So the same world
(scenario and seed) gives the same placements in ``run`` as the policy's own actions in the
env.

The policy may have been trained on the env's ``Dict`` observation (``MultiInputPolicy``)
or on ``gymnasium.wrappers.FlattenObservation`` of it (``MlpPolicy``); both are recognised
from the saved observation space.

A policy trained on the PettingZoo parallel env (:mod:`mecsim.envs.parallel`: one agent per
MEC, observation :func:`mecsim.envs.encoding.encode_view` of its ``AgentView``, action a
``Box(0, 1, (N,))`` score per IoTD), shared by the agents (parameter sharing, e.g. through
SuperSuit), runs as :class:`PolicyAgents`, a
:class:`~mecsim.scheduler.DecentralizedScheduler`: the engine calls ``act(view)`` on each
available MEC and votes the scores, as the parallel env does. :func:`scheduler_class_for`
tells the two kinds apart from the saved action space; ``sb3:PATH`` uses it.

Importing this module needs neither gymnasium nor stable-baselines3; making a
:class:`PolicyScheduler` does, and raises a :class:`ValueError` naming the ``rl`` extra
when they are missing.
"""

from __future__ import annotations

import importlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from mecsim.scheduler import (
    AgentView,
    DecentralizedScheduler,
    Decision,
    Network,
    Observation,
    Scheduler,
)

#: Algorithms of stable-baselines3 that :class:`PolicyScheduler` recognises by name.
ALGORITHMS = ("PPO", "A2C", "DQN", "SAC", "TD3", "DDPG")
#: The install line printed when the ``rl`` extra is missing.
RL_EXTRA = "pip install 'mecsim[rl]' (or pip install -e '.[rl]' in a checkout)"


class PolicyScheduler(Scheduler):
    """Run a Stable-Baselines3 policy trained on ``MecEnv`` as a centralized scheduler.

    Args:
        path: The ``.zip`` that ``model.save(path)`` wrote.
        deterministic: Take the policy's most likely action (default). With False the
            action is sampled; the samples are drawn from the scheduler's own seed
            (``reset``), so a run is still reproducible.
        algorithm: The stable-baselines3 class that saved the file: ``"PPO"``, ``"A2C"``,
            ``"DQN"``, ``"SAC"``, ``"TD3"``, ``"DDPG"`` or a ``"module:Class"`` (e.g.
            ``"sb3_contrib:MaskablePPO"``). ``None`` (default) reads it from the file.
        device: Torch device of the policy (default ``"cpu"``).

    Raises:
        ValueError: If the ``rl`` extra is missing, the file is missing or unreadable, the
            algorithm is unknown, or the policy's spaces are not those of a ``MecEnv``.

    The policy fixes the number of IoTDs ``N`` and MECs ``M``: :meth:`reset` raises a
    ``ValueError`` on a network of another size.
    """

    centralized = True

    def __init__(self, path: str, deterministic: bool = True, algorithm: str | None = None,
                 device: str = "cpu") -> None:
        super().__init__(**_load(self, path, deterministic, algorithm, device))
        self.n_iotds, self.n_mecs, self._flat = _env_shape(self.model, self.path)

    def reset(self, seed: int, network: Network) -> None:
        """Check that the network has the policy's ``N`` and ``M``; seed the sampling."""
        if (network.n_iotds, network.n_mecs) != (self.n_iotds, self.n_mecs):
            raise ValueError(f"the policy {self.path} was trained for {self.n_iotds} IoTDs "
                             f"and {self.n_mecs} MECs; this network has {network.n_iotds} "
                             f"and {network.n_mecs}")
        super().reset(seed, network)

    def decide(self, observation: Observation) -> Decision:
        """Encode as ``MecEnv`` does, predict the per-IoTD action, map it to tasks."""
        if observation.n_tasks == 0:
            return Decision(np.zeros(0, dtype=np.int64))
        action = self.predict(observation)
        placement, _invalid = _placement_of(observation, action)
        return Decision(placement.astype(np.int64))

    def predict(self, observation: Observation) -> np.ndarray:
        """The policy's ``(N,)`` action on the env's encoding of ``observation``."""
        obs = _encode(observation, self.n_iotds, self.n_mecs)
        if self._flat:
            obs = flatten_observation(obs)
        if self.deterministic:
            action, _ = self.model.predict(obs, deterministic=True)
        else:
            import torch

            with torch.random.fork_rng(devices=[]):  # the global torch stream is left as is
                torch.manual_seed(int(self.rng.integers(0, 2**63 - 1)))
                action, _ = self.model.predict(obs, deterministic=False)
        return np.asarray(action, dtype=np.int64).reshape(self.n_iotds)


class PolicyAgents(DecentralizedScheduler):
    """Run a policy trained on the parallel env as every MEC's agent (decentralized).

    Each MEC's agent encodes only its own :class:`~mecsim.scheduler.AgentView` as the
    parallel env does (:func:`mecsim.envs.encoding.encode_view`), the shared policy returns
    one score in [0, 1] per IoTD, and each task gets its IoTD's score; the engine votes the
    scores of the available MECs (:func:`mecsim.scheduler.vote`, threshold 0.5, the parallel
    env's default). A task whose IoTD has no link to the MEC (gain 0) is scored 0 by that
    MEC's agent, so the vote never sends it there (the parallel env instead runs such a task
    locally when that MEC wins; the two differ only on a range-limited link).

    Args:
        path: The ``.zip`` of a policy with action space ``Box(0, 1, (N,))`` and the parallel
            env's per-agent observation (its ``Dict``, or that flattened).
        deterministic: Take the policy's mean action (default). With False the action is
            sampled from a stream seeded by the scheduler's seed, the epoch and the MEC (no
            state shared between agents), so a run is reproducible.
        algorithm: As for :class:`PolicyScheduler` (``None``: read from the file).
        device: Torch device of the policy (default ``"cpu"``).

    Raises:
        ValueError: As :class:`PolicyScheduler`; :meth:`reset` on a network whose number of
            IoTDs is not the policy's ``N`` (any number of MECs is fine).
    """

    def __init__(self, path: str, deterministic: bool = True, algorithm: str | None = None,
                 device: str = "cpu") -> None:
        super().__init__(**_load(self, path, deterministic, algorithm, device))
        self.n_iotds, self._flat = _agent_shape(self.model, self.path)
        self._seed = 0

    def reset(self, seed: int, network: Network) -> None:
        """Check that the network has the policy's ``N`` IoTDs; keep the seed."""
        if network.n_iotds != self.n_iotds:
            raise ValueError(f"the policy {self.path} was trained for {self.n_iotds} IoTDs; "
                             f"this network has {network.n_iotds}")
        super().reset(seed, network)
        self._seed = int(seed)

    def act(self, view: AgentView) -> np.ndarray:
        """This MEC's ``(n,)`` scores: the policy on its view, each task its IoTD's score."""
        if view.iotd.size == 0:
            return np.zeros(0)
        from mecsim.envs.encoding import encode_view

        obs = encode_view(view, self.n_iotds)
        if self._flat:
            obs = flatten_observation(obs)
        if self.deterministic:
            action, _ = self.model.predict(obs, deterministic=True)
        else:
            import torch

            stream = np.random.SeedSequence([self._seed, int(view.slot), int(view.mec)])
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(stream.generate_state(1, np.uint64)[0] >> 1))
                action, _ = self.model.predict(obs, deterministic=False)
        scores = np.clip(np.asarray(action, dtype=float).reshape(self.n_iotds), 0.0, 1.0)
        scores = scores[view.iotd]
        return np.where(np.asarray(view.gains) > 0, scores, 0.0)


def scheduler_class_for(path: str | Path) -> type[Scheduler]:
    """The scheduler class that runs the policy saved at ``path``.

    :class:`PolicyAgents` for a policy acting in a ``Box`` (the parallel env), else
    :class:`PolicyScheduler` (also for a missing or unreadable file: making it says why).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
        kind = str(data["action_space"][":type:"])
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return PolicyScheduler
    return PolicyAgents if ".box.Box" in kind else PolicyScheduler


# -- loading ----------------------------------------------------------------------------------


def load_model(path: str | Path, algorithm: str | None = None, device: str = "cpu"
               ) -> tuple[Any, str]:
    """Load a stable-baselines3 zip; return the model and the algorithm's name.

    Raises:
        ValueError: On a missing extra, a missing or unreadable file, an unknown algorithm.
    """
    path = Path(path)
    try:
        importlib.import_module("gymnasium")
        importlib.import_module("stable_baselines3")
    except ImportError as exc:
        raise ValueError(f"a trained policy needs the rl extra ({exc.name} is not "
                         f"installed): {RL_EXTRA}") from None
    if not path.is_file():
        raise ValueError(f"no trained policy at {path} (a stable-baselines3 .zip saved by "
                         "model.save)")
    name = algorithm if algorithm is not None else detect_algorithm(path)
    cls = _algorithm_class(name)
    try:
        model = cls.load(str(path), device=device)
    except Exception as exc:  # noqa: BLE001 - whatever the zip holds, say which file failed
        raise ValueError(f"cannot load {path} as a stable-baselines3 {name}: "
                         f"{type(exc).__name__}: {exc}") from exc
    return model, name


def detect_algorithm(path: str | Path) -> str:
    """The algorithm that saved ``path``, read from the zip's ``data`` (its policy class).

    Actor-critic policies are ``PPO`` when the file holds a ``clip_range``, else ``A2C``
    (both predict alike); ``DQN``, ``SAC`` and ``TD3`` by their policy's module (``DDPG``
    saves a TD3 policy and loads as one).

    Raises:
        ValueError: If the file is not a stable-baselines3 zip or the policy is unknown.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a stable-baselines3 zip ({type(exc).__name__}: "
                         f"{exc})") from None
    policy = data.get("policy_class")
    module = policy.get("__module__", "") if isinstance(policy, dict) else ""
    for part, name in (("dqn", "DQN"), ("sac", "SAC"), ("td3", "TD3")):
        if f".{part}." in f".{module}.":
            return name
    if module == "stable_baselines3.common.policies":
        return "PPO" if "clip_range" in data else "A2C"
    raise ValueError(f"cannot tell which algorithm saved {path} (policy module {module!r}); "
                     f"pass algorithm= one of {', '.join(ALGORITHMS)} or 'module:Class'")


def _algorithm_class(name: str) -> Any:
    if ":" in name:
        module_name, _, attr = name.partition(":")
    elif name.upper() in ALGORITHMS:
        module_name, attr = "stable_baselines3", name.upper()
    else:
        raise ValueError(f"unknown algorithm {name!r}; one of {', '.join(ALGORITHMS)} or "
                         "'module:Class'")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import the algorithm {name!r}: {exc}") from None


def _env_shape(model: Any, path: Path) -> tuple[int, int, bool]:
    """``(N, M, flat)`` of the ``MecEnv`` the policy was trained on."""
    from gymnasium import spaces

    action, obs = model.action_space, model.observation_space
    nvec = np.asarray(getattr(action, "nvec", ()))
    if not isinstance(action, spaces.MultiDiscrete) or nvec.ndim != 1 or nvec.size == 0 \
            or (nvec != nvec[0]).any() or nvec[0] < 2:
        raise ValueError(f"the policy {path} acts in {action}, not a MecEnv's "
                         "MultiDiscrete([M+1] * N) (a parallel-env policy runs as "
                         "PolicyAgents)")
    n, m = int(nvec.size), int(nvec[0]) - 1
    if isinstance(obs, spaces.Dict):
        want = {k: v.shape for k, v in _encode(None, n, m).items()}
        got = {k: v.shape for k, v in obs.spaces.items()}
        if got != want:
            raise ValueError(f"the policy {path} observes {got}, not a MecEnv's {want}")
        return n, m, False
    size = flatten_observation(_encode(None, n, m)).size
    if isinstance(obs, spaces.Box) and obs.shape == (size,):
        return n, m, True
    raise ValueError(f"the policy {path} observes {obs}, neither a MecEnv's Dict nor its "
                     f"FlattenObservation (Box of {size})")


def _agent_shape(model: Any, path: Path) -> tuple[int, bool]:
    """``(N, flat)`` of the parallel env the policy was trained on."""
    from gymnasium import spaces

    from mecsim.envs.encoding import encode_view

    action, obs = model.action_space, model.observation_space
    if not isinstance(action, spaces.Box) or len(action.shape) != 1:
        raise ValueError(f"the policy {path} acts in {action}, not the parallel env's "
                         "Box(0, 1, (N,)) scores")
    n = int(action.shape[0])
    if isinstance(obs, spaces.Dict):
        want = {k: v.shape for k, v in encode_view(None, n).items()}
        got = {k: v.shape for k, v in obs.spaces.items()}
        if got != want:
            raise ValueError(f"the policy {path} observes {got}, not a parallel-env agent's "
                             f"{want}")
        return n, False
    size = flatten_observation(encode_view(None, n)).size
    if isinstance(obs, spaces.Box) and obs.shape == (size,):
        return n, True
    raise ValueError(f"the policy {path} observes {obs}, neither a parallel-env agent's Dict "
                     f"nor its flattening (Box of {size})")


# -- the env's encoding -----------------------------------------------------------------------


def flatten_observation(obs: dict[str, np.ndarray]) -> np.ndarray:
    """What ``gymnasium.wrappers.FlattenObservation`` makes of a ``MecEnv`` observation.

    Gymnasium's ``Dict`` space orders its keys alphabetically and ``spaces.flatten`` of a
    ``Box`` is its ravel, so this is the keys in sorted order, each raveled.
    """
    return np.concatenate([np.asarray(obs[k], dtype=np.float32).ravel() for k in sorted(obs)])


def _encode(observation: Observation | None, n_iotds: int, n_mecs: int
            ) -> dict[str, np.ndarray]:
    from mecsim.envs.gym_env import encode

    return encode(observation, n_iotds, n_mecs)


def _placement_of(observation: Observation, action: np.ndarray) -> tuple[np.ndarray, int]:
    from mecsim.envs.gym_env import placement_of

    return placement_of(observation, action)


def _load(scheduler: Scheduler, path: str, deterministic: bool, algorithm: str | None,
          device: str) -> dict[str, Any]:
    """Load the policy onto ``scheduler``; return the parameters saved with it.

    Sets ``path``, ``deterministic``, ``model`` and ``algorithm`` on the scheduler.
    """
    scheduler.path = Path(path)
    scheduler.deterministic = bool(deterministic)
    scheduler.model, scheduler.algorithm = load_model(scheduler.path, algorithm, device)
    return {"path": str(path), "deterministic": bool(deterministic), "algorithm": algorithm,
            "device": str(device)}
