"""What the centralized DRL peers of DIRS (DROO, Actor-Critic, DDPG) share.

- **DROO's inputs.** One vector of ``N * M`` numbers: for IoTD ``k`` and MEC ``j`` (entry
  ``k * M + j``) the normalised log gain ``(ln h_kj - mu) / sigma`` of DIRS
  (:class:`schedulers.dirs.network.GainNormalizer`, its geometric guess of ``mu`` and
  ``sigma``), ``-3`` for an IoTD without a task this slot. Task ``i`` reads the outputs of
  its IoTD ``iotd[i]`` (an IoTD with several tasks gives all of them its outputs).
- **Actor-Critic's and DDPG's inputs** (:class:`TaskScheduler`): one task at a time, the
  :func:`option_features` of each of its (task, MEC) pairs, read by networks shared by every
  task and MEC (:class:`OptionScorer`, :class:`TaskValue`); each task has its own reward,
  :func:`task_rewards`. No weight depends on ``N``.
- **The placement rule** (:func:`threshold_placement`): from ``(n, M)`` scores in
  ``[0, 1]`` ("offload task ``i`` to MEC ``j``"), the best feasible MEC if its score is at
  least ``0.5``, else local: the IoTDs' vote of DIRS (:func:`mecsim.scheduler.vote`), with
  the options the slot's cost table marks infeasible (a failed MEC, a zero gain, local power
  above ``Pmax``) never chosen. Equivalently: local is an option with the fixed score
  ``0.5``, and each task takes its highest-scoring feasible option, ties going to the lowest
  MEC index, then to local.
- :func:`mlp`, the uniform :class:`Replay` ring, the shared hyper-parameters
  (:class:`DrlConfig`) and the plumbing of a learning scheduler (:class:`DrlScheduler`:
  ``reset`` keeping what was learned, the training schedule of ``feedback``, the
  ``training.parquet`` rows and the checkpoints).

The per-slot problem does not depend on earlier placements (tasks arrive and channels fade
whatever was decided; the per-slot model ignores the backlog), so all three learn a
**one-step, contextual-bandit** problem: the state is the slot's gains (and, for the
per-task peers, the tasks' sizes), the action the placement, the return that slot's reward
alone (discount 0, no next state, no bootstrapping): DROO's labels are priced by the slot's
objective, the per-task peers' rewards are each task's share of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from mecsim.model.problem import SlotProblem
from mecsim.scheduler import Decision, Network, Observation, Outcome, Scheduler
from schedulers._checkpoint import CHECKPOINT_FORMAT, read_checkpoint
from schedulers.dirs.network import MISSING, GainNormalizer

__all__ = ["MISSING", "OPTION_FEATURES", "DrlConfig", "DrlScheduler", "GainNormalizer",
           "OptionScorer", "Replay", "TaskScheduler", "TaskValue", "annealed", "choose",
           "feasible_options", "mlp", "offload_targets", "option_features", "option_scores",
           "per_iotd_feasible", "reference_cost", "task_rewards", "threshold_placement"]

THRESHOLD = 0.5  # the fixed score of "local" in the placement rule (the vote's threshold)
MASKED = -1e9  # logit of an infeasible option (exp underflows to exactly 0)


# ---------------------------------------------------------------------- the placement rule
def feasible_options(problem: SlotProblem) -> np.ndarray:
    """``(n, M+1)`` True where the option (0 local, ``j`` MEC ``j``) has a finite cost.

    A task without any feasible option keeps them all: every placement of it is invalid, and
    the engine's ``on_invalid`` decides what happens to it.
    """
    feasible = np.isfinite(problem.cost_table)
    feasible[~feasible.any(axis=1)] = True
    return feasible


def option_scores(scores: np.ndarray, feasible: np.ndarray,
                  threshold: float = THRESHOLD) -> np.ndarray:
    """``(n, M+1)`` scores: ``threshold`` for local, then the MEC scores (-inf: infeasible)."""
    table = np.concatenate([np.full((len(scores), 1), threshold), scores], axis=1)
    return np.where(feasible, table, -np.inf)


def choose(table: np.ndarray) -> np.ndarray:
    """Each row's highest option; ties go to the lowest MEC, then local (all -inf: local)."""
    n, width = table.shape
    order = np.r_[1:width, 0]  # MEC 1 .. M first, local last: argmax keeps the first maximum
    best = order[np.argmax(table[:, order], axis=1)] if n else np.zeros(0, dtype=np.int64)
    return np.where(np.isneginf(table).all(axis=1), 0, best).astype(np.int64)


def threshold_placement(scores: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    """The vote: the best feasible MEC when its score is ``>= 0.5``, else local."""
    return choose(option_scores(scores, feasible))


# ---------------------------------------------------------------------- networks and memory
def mlp(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    """Fully connected ``n_in -> hidden... -> n_out``, ReLU between layers, linear output."""
    sizes = (n_in, *hidden, n_out)
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class Replay:
    """Uniform replay ring of named arrays; the oldest entry is overwritten when full.

    Args:
        capacity: Entries kept.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity!r}")
        self.capacity = capacity
        self._data: dict[str, np.ndarray] = {}
        self._size = 0
        self._next = 0

    def __len__(self) -> int:
        return self._size

    def add(self, **entry: np.ndarray | float) -> None:
        """Store one entry (the same names and shapes every time)."""
        self.extend(**{k: np.asarray(v)[None] for k, v in entry.items()})

    def extend(self, **entries: np.ndarray) -> None:
        """Store ``k`` entries at once: each array's first axis runs over the entries."""
        arrays = {k: np.asarray(v) for k, v in entries.items()}
        count = len(next(iter(arrays.values())))
        if not self._data:
            self._data = {k: np.zeros((self.capacity, *v.shape[1:]),
                                      dtype=bool if v.dtype == bool else np.float32)
                          for k, v in arrays.items()}
        if count > self.capacity:  # only the last ``capacity`` entries would survive
            arrays = {k: v[-self.capacity:] for k, v in arrays.items()}
            count = self.capacity
        where = (self._next + np.arange(count)) % self.capacity
        for k, v in arrays.items():
            self._data[k][where] = v
        self._next = (self._next + count) % self.capacity
        self._size = min(self._size + count, self.capacity)

    def sample(self, batch: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """Draw ``batch`` entries uniformly (with replacement while fewer are held)."""
        if self._size == 0:
            raise ValueError("the replay buffer is empty")
        index = rng.choice(self._size, size=batch, replace=self._size < batch)
        return {k: torch.from_numpy(v[index]) for k, v in self._data.items()}


# ---------------------------------------------------------------------- hyper-parameters
@dataclass(frozen=True)
class DrlConfig:
    """The hyper-parameters every peer shares (subclasses add their own)."""

    NAME: ClassVar[str] = "DRL"

    hidden: tuple[int, ...] = (120, 80)
    """Hidden layer widths of every network (DROO's 120, 80)."""
    learning_rate: float = 1e-3
    """Adam step size (of the actor, for Actor-Critic and DDPG)."""
    replay_size: int = 1024
    """Entries of the replay ring (as DIRS); the oldest is overwritten."""
    batch_size: int = 256
    """Minibatch of each update (as DIRS)."""
    train_interval: int = 10
    """Slots between two updates (DIRS's ``phi``)."""
    steps_per_update: int = 1
    """Adam steps per network at each update, each on a fresh minibatch (1, as DIRS)."""
    train_slots: int = 3000
    """Slots (with tasks) of online training (DIRS's ``T_HT``); then the networks freeze."""
    train: bool = True
    """False: frozen inference from the start (needs ``checkpoint``)."""
    checkpoint: str | None = None
    """Networks to load at reset (a file written by ``save``, e.g. ``python -m mecsim train``)."""
    torch_threads: int = 1
    """Torch intra-op threads (1 is fastest for these small networks)."""

    def __post_init__(self) -> None:
        for name in ("replay_size", "batch_size", "train_interval", "steps_per_update",
                     "torch_threads"):
            _positive_int(name, getattr(self, name))
        if not _is_int(self.train_slots) or self.train_slots < 0:
            raise ValueError(f"train_slots must be an integer >= 0, got {self.train_slots!r}")
        for f in fields(self):
            if f.name.endswith("learning_rate"):
                _positive(f.name, getattr(self, f.name))
        if not self.hidden or any(not _is_int(h) or h < 1 for h in self.hidden):
            raise ValueError(f"hidden must list positive integers, got {self.hidden!r}")
        if not isinstance(self.train, bool):
            raise ValueError(f"train must be true or false, got {self.train!r}")
        if self.checkpoint is not None and not isinstance(self.checkpoint, str):
            raise ValueError(f"checkpoint must be a path or null, got {self.checkpoint!r}")
        if not self.train and self.checkpoint is None:
            raise ValueError("train: false needs a checkpoint to load the networks from")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> DrlConfig:
        """Build from scenario params, naming any unknown key; integral floats become ints."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown {cls.NAME} parameter(s) {unknown} "
                             f"(known: {sorted(known)})")
        values = dict(params)
        if "hidden" in values:
            hidden = values["hidden"]
            if not isinstance(hidden, (list, tuple)):
                raise ValueError(f"hidden must list positive integers, got {hidden!r}")
            values["hidden"] = tuple(int(h) if isinstance(h, float) and h.is_integer() else h
                                     for h in hidden)
        for f in fields(cls):
            value = values.get(f.name)
            if f.type.startswith("int") and isinstance(value, float) and value.is_integer():
                values[f.name] = int(value)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for checkpoints)."""
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(name: str, value: Any) -> None:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _nonnegative(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


# ---------------------------------------------------------------------- the plumbing
class DrlScheduler(Scheduler):
    """A centralized learning scheduler: networks, replay, training schedule, checkpoints.

    A subclass sets ``config_class`` and implements :meth:`_networks` (the networks and
    their learning rates), :meth:`_place` (the placement of an epoch), :meth:`_remember`
    (what one applied slot adds to the replay) and :meth:`_update` (one update, returning its
    losses); :meth:`_extra_state` / :meth:`_load_extra_state` carry anything else a decision
    depends on.

    The schedule: every slot with tasks, while ``train`` and fewer than ``train_slots`` slots
    were trained on, ``feedback`` stores the slot and logs it; every ``train_interval`` such
    slots it runs one update; then the networks freeze.
    """

    centralized: ClassVar[bool] = True
    config_class: ClassVar[type[DrlConfig]] = DrlConfig
    any_n: ClassVar[bool] = False
    """True where the networks have no per-IoTD weight: a checkpoint serves any ``N``."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.config = self.config_class.from_params(params)
        self.nets: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.normalizer: GainNormalizer | None = None
        self.replay: Replay | None = None
        self.online_slots = 0
        self._fresh = True  # nothing loaded or learned yet: a checkpoint may be loaded
        self._log: list[dict[str, Any]] = []

    @property
    def label(self) -> str:
        """Name used in messages (DROO, Actor-Critic, DDPG)."""
        return self.config_class.NAME

    @property
    def learning(self) -> bool:
        """True while the scheduler trains (and explores)."""
        return self.config.train and self.online_slots < self.config.train_slots

    @property
    def phase(self) -> str:
        """``"online"`` while learning, else ``"frozen"``."""
        return "online" if self.learning else "frozen"

    # ----------------------------------------------------------------- contract
    def reset(self, seed: int, network: Network) -> None:
        """Build the networks for ``network`` (or keep the learned ones of the same size)."""
        same = (self.network is not None and bool(self.nets)
                and (self.network.n_iotds, self.network.n_mecs)
                == (network.n_iotds, network.n_mecs))
        super().reset(seed, network)
        torch.set_num_threads(self.config.torch_threads)
        if not same:
            self._build(seed)
        if self.config.checkpoint is not None and self._fresh:
            self.load(self.config.checkpoint)

    def decide(self, observation: Observation) -> Decision:
        """The epoch's placement; the engine allocates exactly."""
        if observation.n_tasks == 0:
            return Decision(np.zeros(0, dtype=np.int64))
        return Decision(self._place(observation.problem, observation.iotd, observation.slot))

    def feedback(self, outcome: Outcome) -> None:
        """Store the applied slot, log it, update every ``train_interval`` slots."""
        if not self.learning or outcome.problem.n_tasks == 0:
            return
        self._fresh = False
        self._remember(outcome)
        self._log.append({"kind": "slot", "slot": outcome.slot, "objective": outcome.objective,
                          "reward": outcome.reward,
                          "latency_s": float(outcome.cost.latency_s.sum()),
                          "energy_j": float(outcome.cost.energy_j.sum())})
        self.online_slots += 1
        if self.online_slots % self.config.train_interval == 0:
            for _ in range(self.config.steps_per_update):
                for name, loss in self._update():
                    self._log.append({"kind": "update", "slot": outcome.slot,
                                      "step": self.online_slots, "agent": 1,
                                      "loss_name": name, "loss": float(loss)})

    def drain_log(self) -> list[dict[str, Any]]:
        """Training-log rows since the last call (see ``mecsim.engine.records``)."""
        rows, self._log = self._log, []
        return rows

    # ----------------------------------------------------------------- helpers
    def inputs(self, problem: SlotProblem, iotd: np.ndarray) -> np.ndarray:
        """``(N*M,)`` network input of a slot (entry ``k*M + j``: IoTD ``k``, MEC ``j+1``)."""
        return self.normalizer.inputs(problem.gains, iotd, self.network.n_iotds).ravel()

    def forward(self, name: str, x: np.ndarray) -> np.ndarray:
        """Output of network ``name`` for one input, without gradients."""
        with torch.no_grad():
            return self.nets[name](torch.from_numpy(x)).numpy().astype(float)

    def step(self, name: str, loss: torch.Tensor) -> float:
        """One Adam step of network ``name`` on ``loss``; returns the loss."""
        opt = self.optimizers[name]
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    # ----------------------------------------------------------------- subclass hooks
    def _networks(self, n_in: int) -> dict[str, tuple[nn.Module, float]]:
        """``{name: (network, learning rate)}`` for an input of ``n_in`` numbers."""
        raise NotImplementedError

    def _place(self, problem: SlotProblem, iotd: np.ndarray, slot: int) -> np.ndarray:
        """``(n,)`` placement of a non-empty epoch."""
        raise NotImplementedError

    def _remember(self, outcome: Outcome) -> None:
        """Add the applied slot to the replay."""
        raise NotImplementedError

    def _update(self) -> list[tuple[str, float]]:
        """One update; ``[(loss name, loss)]`` for the log."""
        raise NotImplementedError

    def _extra_state(self) -> dict[str, Any]:
        """Anything besides the weights that decisions depend on (saved in checkpoints)."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`_extra_state`."""

    # ----------------------------------------------------------------- state
    def _build(self, seed: int) -> None:
        net = self.network
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            built = self._networks(net.n_iotds * net.n_mecs)
        self.nets = {name: module for name, (module, _) in built.items()}
        self.optimizers = {name: torch.optim.Adam(module.parameters(), lr=lr)
                           for name, (module, lr) in built.items()}
        p = net.params
        self.normalizer = GainNormalizer.from_network(p.beta0, net.area_m, net.n_mecs,
                                                      p.d_min_m)
        self.replay = Replay(self.config.replay_size)
        self.online_slots, self._fresh = 0, True

    def save(self, path: str | Path) -> None:
        """Write the networks, the normalisation, the config and the progress (``torch.save``).

        The replay and Adam's moments are not saved: a run resumed from a checkpoint starts
        with an empty replay and fresh optimiser state.
        """
        torch.save({"format": CHECKPOINT_FORMAT, "scheduler": self.label,
                    "n_iotds": self.network.n_iotds, "n_mecs": self.network.n_mecs,
                    "config": self.config.as_dict(), "mu": self.normalizer.mu,
                    "sigma": self.normalizer.sigma, "online_slots": self.online_slots,
                    "extra": self._extra_state(),
                    "nets": {name: m.state_dict() for name, m in self.nets.items()}}, Path(path))

    def load(self, path: str | Path) -> None:
        """Load networks saved by :meth:`save` (``weights_only=True``), after :meth:`reset`.

        Raises:
            ValueError: If the file is missing, corrupt, of another scheduler, or for another
                network size or hidden layers.
        """
        name = self.label
        state = read_checkpoint(path, name, self.network, self.config.hidden, scheduler=name,
                                any_n=self.any_n)
        try:
            if set(state["nets"]) != set(self.nets):
                raise ValueError(f"{name} checkpoint {path} holds networks "
                                 f"{sorted(state['nets'])}, want {sorted(self.nets)}")
            for key, module in self.nets.items():
                module.load_state_dict(state["nets"][key])
            normalizer = GainNormalizer(state["mu"], state["sigma"])
            online_slots = int(state["online_slots"])
            self._load_extra_state(state["extra"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise ValueError(f"{name} checkpoint {path} does not fit the networks: "
                             f"{type(exc).__name__}: {exc}") from exc
        self.normalizer, self.online_slots, self._fresh = normalizer, online_slots, False


def offload_targets(placement: np.ndarray, iotd: np.ndarray, n_iotds: int,
                    n_mecs: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N*M,)`` one-hot "offloaded to MEC j" labels and the mask of IoTDs with a task.

    A local task's row is all zeros; IoTDs without a task are masked out.
    """
    target = np.zeros((n_iotds, n_mecs), dtype=np.float32)
    off = placement > 0
    target[iotd[off], placement[off] - 1] = 1.0
    mask = np.zeros((n_iotds, n_mecs), dtype=np.float32)
    mask[iotd] = 1.0
    return target.ravel(), mask.ravel()


def per_iotd_feasible(feasible: np.ndarray, iotd: np.ndarray, n_iotds: int) -> np.ndarray:
    """``(N, M+1)`` feasibility by IoTD (all True for an IoTD without a task)."""
    out = np.ones((n_iotds, feasible.shape[1]), dtype=bool)
    out[iotd] = feasible
    return out


# ---------------------------------------------------------------------- per-task peers
#: Features of one (task, MEC) pair read by the per-task networks of Actor-Critic and DDPG.
OPTION_FEATURES = ("gain", "upload", "cpu_alone", "crowd", "crowd_nearest", "capacity",
                   "size")
LOG_CLIP = 8.0  # log-ratio features are clipped to [-LOG_CLIP, LOG_CLIP], then divided by 4
REWARD_FLOOR = -4.0  # per-task rewards below this (a task > 5x its local cost) are clipped


def reference_cost(problem: SlotProblem) -> np.ndarray:
    """``(n,)`` each task's reference cost: local, or its cheapest option if local is not.

    1 for a task with no feasible option (its reward is then 0 whatever it does).
    """
    table = problem.cost_table
    cheapest = table.min(axis=1) if table.size else np.zeros(0)
    ref = np.where(np.isfinite(table[:, 0]), table[:, 0], cheapest)
    return np.where(np.isfinite(ref) & (ref > 0), ref, 1.0)


def _log_ratio(value: np.ndarray, ref: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(np.maximum(value, 1e-300) / ref)
    return np.clip(np.nan_to_num(out, nan=LOG_CLIP, posinf=LOG_CLIP), -LOG_CLIP, LOG_CLIP) / 4.0


def option_features(problem: SlotProblem, normalizer: GainNormalizer) -> np.ndarray:
    """``(n, M, 7)`` features of offloading each task to each MEC (:data:`OPTION_FEATURES`).

    Costs are relative to the task's :func:`reference_cost` ``R_i`` (natural logs, clipped to
    ``[-8, 8]`` and divided by 4), so one network serves tasks of any size:

    - ``gain``: the normalised log gain ``(ln h_ij - mu) / sigma`` (clipped to ``[-8, 8]``);
    - ``upload``: ``ln(C_ij / R_i)``, the upload's cost (latency and energy) over ``R_i``;
    - ``cpu_alone``: ``ln(w_j F_i / R_i)``, the MEC's CPU cost of the task alone on it
      (``w_j = phi_T / Fmax_j``, ``SlotProblem.cpu_weight``);
    - ``crowd``: ``ln(2 phi_T sqrt(F_i) S / Fsum / R_i)``, the task's marginal CPU cost if
      the slot's tasks (``S = sum_k sqrt(F_k)``) filled the available MECs in proportion to
      their capacities (``Fsum``): how crowded the slot is;
    - ``crowd_nearest``: ``ln(2 w_j sqrt(F_i) S_j / R_i)`` with ``S_j`` the ``sqrt(F)`` of
      the tasks whose cheapest MEC alone is ``j``: how crowded ``j`` is if all offloaded;
    - ``capacity``: ``ln(M Fmax_j / Fsum)``, the MEC's share of the capacity;
    - ``size``: ``ln(n sqrt(F_i) / S)``, the task's size against the slot's mean.

    Nothing depends on ``N`` or on the order of the tasks or MECs.
    """
    n, m = problem.n_tasks, problem.n_mecs
    out = np.zeros((n, m, len(OPTION_FEATURES)), dtype=np.float32)
    if n == 0:
        return out
    ref = reference_cost(problem)[:, None]
    phi_t = problem.params.phi_t
    root = problem.sqrt_cycles[:, None]
    total = float(problem.sqrt_cycles.sum())
    cap = float(problem.mec_cpu_hz[problem.available].sum()) or float(problem.mec_cpu_hz.sum())
    upload = problem.cost_table[:, 1:]
    alone = problem.cpu_weight[None, :] * problem.cycles[:, None]
    nearest = np.argmin(np.where(np.isfinite(upload), upload + alone, np.inf), axis=1)
    crowd_j = np.bincount(nearest, weights=problem.sqrt_cycles, minlength=m)
    with np.errstate(divide="ignore"):
        z = normalizer.normalize(problem.gains)
    out[..., 0] = np.clip(np.nan_to_num(z, neginf=-LOG_CLIP), -LOG_CLIP, LOG_CLIP)
    out[..., 1] = _log_ratio(upload, ref)
    out[..., 2] = _log_ratio(alone, ref)
    out[..., 3] = _log_ratio(np.broadcast_to(2 * phi_t * root * total / cap, (n, m)), ref)
    out[..., 4] = _log_ratio(2 * problem.cpu_weight[None, :] * root * crowd_j[None, :], ref)
    out[..., 5] = _log_ratio(m * problem.mec_cpu_hz[None, :] / cap, np.ones((n, 1)))
    out[..., 6] = _log_ratio(n * root / total, np.ones((n, 1)))
    return out


def task_rewards(problem: SlotProblem, placement: np.ndarray) -> np.ndarray:
    """``(n,)`` each task's difference reward: the share of ``R_i`` its choice saved.

    ``r_i = (R_i - dG_i) / R_i`` with ``dG_i`` what the task adds to the slot's objective
    ``G``: ``C_i0`` for a local task (so ``r_i = 0`` when ``R_i`` is local), else
    ``C_ij + w_j ((S_j)^2 - (S_j - sqrt(F_i))^2)`` for a task on MEC ``j`` with ``S_j``
    the ``sqrt(F)`` of all tasks on ``j``: its own cost plus the delay it imposes on the
    others of its MEC. Since ``G(a) - G(a without i)`` differs from ``dG_i`` by a term that
    does not depend on ``a_i``, a policy gradient with ``r_i`` is the gradient of ``-G``
    with less variance (difference rewards: one signal per task, none shared). Clipped
    below at ``-4`` (deep fades); 0 for an infeasible choice.
    """
    n = problem.n_tasks
    a = np.asarray(placement, dtype=np.int64)
    ref = reference_cost(problem)
    load = np.bincount(a, weights=problem.sqrt_cycles, minlength=problem.n_mecs + 1)[1:]
    own = problem.cost_table[np.arange(n), a]
    j = np.maximum(a - 1, 0)
    root = problem.sqrt_cycles
    spill = problem.cpu_weight[j] * (2 * load[j] * root - problem.cycles)
    added = own + np.where(a > 0, spill, 0.0)
    with np.errstate(invalid="ignore"):
        reward = np.clip((ref - added) / ref, REWARD_FLOOR, 1.0)
    return np.where(np.isfinite(added), reward, 0.0).astype(np.float32)


class OptionScorer(nn.Module):
    """One MLP applied to every (task, MEC) pair: ``(..., M, 7) -> (..., M)``.

    The same weights serve every task and every MEC: a task's options compete through their
    features only, so the network fits any ``N`` and ``M``. The last layer starts at zero
    weights and the bias ``bias`` (all options equal at first).
    """

    def __init__(self, hidden: tuple[int, ...], bias: float = 0.0) -> None:
        super().__init__()
        self.net = mlp(len(OPTION_FEATURES), hidden, 1)
        last = self.net[-1]
        nn.init.zeros_(last.weight)
        nn.init.constant_(last.bias, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score of each option."""
        return self.net(x).squeeze(-1)


class TaskValue(nn.Module):
    """A state-value network of one task from its options' features, pooled over MECs.

    Input: the mean, min and max over the MECs of each feature; fits any ``N`` and ``M``.
    """

    def __init__(self, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = mlp(3 * len(OPTION_FEATURES), hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., M, 7) -> (...)`` value of each task."""
        pooled = torch.cat([x.mean(dim=-2), x.amin(dim=-2), x.amax(dim=-2)], dim=-1)
        return self.net(pooled).squeeze(-1)


def annealed(start: float, progress: float, end_share: float = 0.0) -> float:
    """``start`` decayed linearly to ``end_share * start`` as ``progress`` goes 0 -> 1."""
    progress = min(max(progress, 0.0), 1.0)
    return start * (1.0 - (1.0 - end_share) * progress)


class TaskScheduler(DrlScheduler):
    """A :class:`DrlScheduler` whose networks read one task's options at a time.

    Every task is a training example (its :func:`option_features`, its option, its
    :func:`task_rewards`); the replay holds tasks, not slots. No weight depends on ``N``, so
    a checkpoint serves any number of IoTDs (``any_n``).
    """

    any_n: ClassVar[bool] = True

    @property
    def progress(self) -> float:
        """Share of ``train_slots`` done (1 once frozen)."""
        total = self.config.train_slots
        return 1.0 if total == 0 or not self.learning else self.online_slots / total

    def features(self, problem: SlotProblem) -> np.ndarray:
        """``(n, M, 7)`` :func:`option_features` of the slot (the last slot's are kept)."""
        cached = getattr(self, "_features", None)
        if cached is not None and cached[0] is problem and cached[1] is self.normalizer:
            return cached[2]
        x = option_features(problem, self.normalizer)
        self._features = (problem, self.normalizer, x)
        return x
