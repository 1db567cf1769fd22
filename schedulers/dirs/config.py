"""DIRS hyper-parameters: one dataclass, the paper's values as defaults (spec section 6)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

LEVY_MODES = ("proposed", "classic", "off")
DEMO_SOURCES = ("levy", "optimal", "descent")
IMITATION_LOSSES = ("L_I", "L_D")
AGENT_NETS = ("shared", "mlp", "task")
TARGETS = ("levy", "optimal", "descent")
LOSS_TARGETS = ("vote", "agent")


@dataclass(frozen=True)
class DirsConfig:
    """Every DIRS hyper-parameter; each is a scenario parameter of the ``dirs`` scheduler."""

    agent_net: str = "mlp"
    """Each agent's network: ``mlp`` (the paper's ``N -> hidden -> N`` MLP), ``task`` (one
    small MLP, ``shared_hidden``, applied to each task's own features: its gain, size,
    cycles, local cost and the MEC's load; no per-IoTD weight, so one checkpoint serves any
    ``N``; not in the paper; the registered ``dirs_shared`` uses it) or ``shared`` (an
    earlier variant: one small MLP over per-IoTD features of the gains plus a bias per
    IoTD)."""
    hidden: tuple[int, ...] = (30, 80, 60, 30)
    """Hidden layer widths of the ``mlp`` agents (paper: 30, 80, 60, 30)."""
    shared_hidden: tuple[int, ...] = (32, 32)
    """Hidden layer widths of the ``task`` and ``shared`` agents' MLP."""
    backlog_input: bool = False
    """Give each agent its own MEC's backlog, ``ln(1 + queued seconds of work)``, as one
    more input after the gains (the issue's optional input; not in the paper)."""
    loss_target: str = "agent"
    """Cross-entropy of each ``agent`` alone (the paper's "offload to me" labels) or of the
    ``vote`` (the ensemble's decision; ``dirs_shared``); see ``schedulers/dirs/imitation.py``."""
    learning_rate: float = 1e-3
    """Adam step size (not given in the paper; 1e-3 beat 1e-2 on paper.yaml, see docs)."""
    replay_size: int = 1024
    """Agent-generated pairs kept in the replay buffer; the oldest is overwritten."""
    batch_size: int = 256
    """Minibatch of each update (slots; ``task`` agents: see ``task_batch_size``)."""
    task_replay_size: int = 65536
    """``task`` agents: agent-generated (task, best option) pairs kept in the replay (their
    samples are tasks, not slots)."""
    task_batch_size: int = 1024
    """``task`` agents: tasks per minibatch, in pre-training and online updates."""
    online_target: str = "levy"
    """The label of each online slot: ``levy`` (the paper: the applied vote refined by the
    Lévy search of ``levy``) or ``optimal`` (the slot's exact optimum, or its local search
    with a lower bound when cycles are unequal; ``levy`` is then unused) or ``descent``
    (single-task moves from the sweep warm start: one descent of the optimum's local
    search, several times cheaper at large ``N``)."""
    train_interval: int = 10
    """``phi``: slots between two updates."""
    train_slots: int = 3000
    """``T_HT``: slots of online training after pre-training; then the agents are frozen."""
    lambda2: float = 0.5
    """Weight of the agent-data loss ``L_agent`` in ``L_A = L_I + lambda2 L_agent``."""
    eps_a: float = 0.08
    """Priority floor of agent-generated pairs."""
    eps_d: float = 0.02
    """Priority floor of demonstrations."""
    eta: float = 0.6
    """Priority exponent ``P_i ~ w_i^eta`` (not given in the paper; PER's usual value)."""
    levy: str = "proposed"
    """Action refinement during training: ``proposed`` (channel-guided), ``classic``, ``off``."""
    levy_beta: float = 1.5
    """Lévy index ``beta`` of the online search (large: short, local steps)."""
    levy_iterations: int = 100
    """``G_max``: iterations of each Lévy search (the paper's Fig. 7 runs 100)."""
    levy_th: float = 0.5
    """Crossover threshold ``th``."""
    levy_log_every: int = 10
    """Log the fitness curve of every this-many-th search to ``training.parquet``."""
    levy_compare: bool = False
    """Also run the other mode (proposed/classic) on logged searches, for the log only."""
    imitation: bool = True
    """Pre-train the agents on demonstrations before online training."""
    imitation_loss: str = "L_I"
    """``L_I`` (cross-entropy + ``lambda1 ||theta||^2``) or ``L_D`` (cross-entropy alone)."""
    demonstrations: int = 256
    """Number of demonstrations (slots) collected for pre-training."""
    demo_holdout: int = 64
    """Extra demonstrations kept aside to measure imitation accuracy (not trained on)."""
    demo_source: str = "levy"
    """``levy``: Lévy search with ``demo_beta`` from the sweep warm start; ``optimal``: the
    exact optimum (its local search where cycles differ); ``descent``: single-task moves
    from the sweep warm start (see ``online_target``)."""
    demo_beta: float = 1.0
    """Lévy index of demonstrations (small: long jumps, global search)."""
    demo_iterations: int = 1000
    """Lévy iterations per demonstration."""
    pretrain_steps: int = 1000
    """``T_D``: pre-training steps."""
    lambda1: float = 1e-4
    """Weight decay of ``L_I``."""
    vote_threshold: float = 0.5
    """Minimum winning score to offload (the vote)."""
    guard: bool = True
    """Agent ``j`` scores 0 a task whose upload to ``j``, even with all of ``j``'s CPU, costs
    more than running it locally (its own channel and the task's size suffice; not in the
    paper: it removes rare catastrophic offloads over deep fades)."""
    train: bool = True
    """False: frozen inference (needs ``checkpoint``)."""
    checkpoint: str | None = None
    """Agents to load at reset (a file written by ``python -m mecsim train``)."""
    torch_threads: int = 1
    """Torch intra-op threads (1 is fastest for these small networks)."""

    def __post_init__(self) -> None:
        _choice("levy", self.levy, LEVY_MODES)
        _choice("demo_source", self.demo_source, DEMO_SOURCES)
        _choice("imitation_loss", self.imitation_loss, IMITATION_LOSSES)
        _choice("agent_net", self.agent_net, AGENT_NETS)
        _choice("loss_target", self.loss_target, LOSS_TARGETS)
        _choice("online_target", self.online_target, TARGETS)
        for name in ("replay_size", "batch_size", "train_interval", "levy_iterations",
                     "levy_log_every", "demonstrations", "demo_iterations", "torch_threads",
                     "task_replay_size", "task_batch_size"):
            _positive_int(name, getattr(self, name))
        for name in ("train_slots", "pretrain_steps", "demo_holdout"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        for name in ("learning_rate", "eta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("lambda1", "lambda2", "eps_a", "eps_d", "levy_th"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("levy_beta", "demo_beta"):
            if not 0 < getattr(self, name) <= 2:
                raise ValueError(f"{name} must be in (0, 2], got {getattr(self, name)!r}")
        if not 0 < self.vote_threshold <= 1:
            raise ValueError(f"vote_threshold must be in (0, 1], got {self.vote_threshold!r}")
        for name in ("hidden", "shared_hidden"):
            widths = getattr(self, name)
            if not widths or any(not isinstance(h, int) or h < 1 for h in widths):
                raise ValueError(f"{name} must list positive integers, got {widths!r}")
        if not self.train and self.checkpoint is None:
            raise ValueError("train: false needs a checkpoint to load the agents from")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> DirsConfig:
        """Build from scenario params, naming any unknown key."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown DIRS parameter(s) {unknown} (known: {sorted(known)})")
        values = dict(params)
        for name in ("hidden", "shared_hidden"):
            if name in values:
                values[name] = tuple(int(h) for h in values[name])
        for f in fields(cls):
            if f.name in values and f.type == "int" and isinstance(values[f.name], float) \
                    and float(values[f.name]).is_integer():
                values[f.name] = int(values[f.name])
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for checkpoints and logs)."""
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        out["shared_hidden"] = list(self.shared_hidden)
        return out

    @property
    def agent_hidden(self) -> tuple[int, ...]:
        """The hidden widths of the agents actually built (``agent_net``'s)."""
        return self.hidden if self.agent_net == "mlp" else self.shared_hidden


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
