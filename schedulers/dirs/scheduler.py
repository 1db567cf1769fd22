"""DIRS: one agent per MEC, the IoTDs' vote, Lévy refinement and imitation (paper Sec. V).

Read top to bottom, a run goes:

1. ``reset``: one :class:`AgentNet` and one Adam per MEC (or the agents of ``checkpoint``).
2. Every epoch, ``act(view)`` on each available MEC: agent ``j`` scores the tasks from its
   own gains only; the engine votes (:func:`mecsim.scheduler.vote`) and allocates exactly.
3. ``feedback(outcome)``, on the core MEC with full information:

   - **imitation phase** (``imitation: true``, until ``demonstrations + demo_holdout`` slots
     were seen): each slot becomes a demonstration, labelled by a Lévy search with small
     ``demo_beta`` from all-local (or by the exact optimum); then the normalisation is fitted,
     every agent is pre-trained for ``T_D`` steps on ``L_I`` (or ``L_D``) and the accuracy
     on training and held-out demonstrations is logged;
   - **online phase** (``train_slots`` slots): the applied vote is refined by a Lévy search
     (``levy: proposed | classic | off``), the pair ``(x, a*)`` goes to the prioritised
     replay, and every ``train_interval`` slots all agents take one Adam step on
     ``L_A = L_I + lambda2 L_agent`` over a prioritised minibatch;
   - then the agents are frozen.

Checkpoints hold the agents' state dicts, the normalisation, the config and the network
size; they are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import lambertw

from mecsim.model.optimum import solve_optimum
from mecsim.scheduler import AgentView, DecentralizedScheduler, Network, Outcome
from schedulers._checkpoint import CHECKPOINT_FORMAT, read_checkpoint
from schedulers.dirs.config import DirsConfig
from schedulers.dirs.imitation import accuracy, ensemble_step, pretrain
from schedulers.dirs.levy import levy_search, sweep_start
from schedulers.dirs.network import (
    GainNormalizer,
    backlog_input,
    make_agent,
    per_iotd,
    scores_of,
)
from schedulers.dirs.replay import PrioritizedReplay


class Dirs(DecentralizedScheduler):
    """The DIRS scheduler; every keyword is a field of :class:`DirsConfig`."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.config = DirsConfig.from_params(params)
        self.nets: list[torch.nn.Module] = []
        self.optimizers: list[torch.optim.Optimizer] = []
        self.normalizer: GainNormalizer | None = None
        self.replay: PrioritizedReplay | None = None
        self.phase = "new"
        self.online_slots = 0
        self._demos: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._backlog = np.zeros(0, dtype=np.float32)  # the agents' backlog inputs this slot
        self._log: list[dict] = []
        self._searches = 0
        self._frozen: list | None = None  # numpy forwards of the frozen agents

    # ----------------------------------------------------------------- contract
    def reset(self, seed: int, network: Network) -> None:
        """Build the agents for ``network`` (or keep the learned ones of the same size)."""
        same = (self.network is not None and self.nets
                and (self.network.n_iotds, self.network.n_mecs)
                == (network.n_iotds, network.n_mecs))
        super().reset(seed, network)
        torch.set_num_threads(self.config.torch_threads)
        p, f0 = network.params, network.local_cpu_hz
        self._local_per_cycle = p.phi_t / f0 + p.phi_e * p.kappa * f0 ** (p.nu - 1.0)  # [1/cycle]
        if not same:
            self._build(seed)
        if self.config.checkpoint is not None and self.phase == "new":
            self.load(self.config.checkpoint)

    def act(self, view: AgentView) -> np.ndarray:
        """Agent ``view.mec``'s scores for the tasks, from its own gains only."""
        n = self.network.n_iotds
        x = self.normalizer.inputs(view.gains, view.iotd, n)
        if self.config.backlog_input:
            b = backlog_input(view.backlog_cycles, view.cpu_hz)
            self._backlog[view.mec - 1] = b
            x = np.append(x, b)
        if self.phase == "frozen":
            if self._frozen is None:
                self._frozen = [net.numpy_forward() for net in self.nets]
            logits = self._frozen[view.mec - 1](x)[view.iotd]
        else:
            with torch.no_grad():
                logits = self.nets[view.mec - 1](torch.from_numpy(x)).numpy()[view.iotd]
        scores = scores_of(logits)
        if self.config.guard:
            scores[~self._worth_offloading(view)] = 0.0
        return scores

    def _worth_offloading(self, view: AgentView) -> np.ndarray:
        """Tasks whose best-case offload to this MEC beats running them locally.

        Best case: the optimal power (the Lambert-W closed form, unpolished: a guard needs no
        more digits) and all of the MEC's CPU. Inlined, without argument checks, because it
        runs for every agent at every epoch.
        """
        p = self.network.params
        gamma = view.gains / p.noise_w
        with np.errstate(divide="ignore", invalid="ignore"):
            if p.phi_e > 0:
                t = np.expm1(1.0 + lambertw((p.phi_t * gamma / p.phi_e - 1.0) / np.e).real)
                power = np.minimum(t / gamma, p.max_power_w)
            else:
                power = np.full(gamma.shape, p.max_power_w)
            upload = (p.phi_t + p.phi_e * power) * view.data_bits / (
                p.bandwidth_hz * np.log2(1.0 + power * gamma))
        offload = np.nan_to_num(upload, nan=np.inf) + p.phi_t * view.cycles / view.cpu_hz
        return offload < view.cycles * self._local_per_cycle[view.iotd]

    def feedback(self, outcome: Outcome) -> None:
        """Learn on the core MEC: collect demonstrations, pre-train, then train online."""
        backlog = self._slot_backlog()
        if not self.config.train or self.phase == "frozen" or outcome.problem.n_tasks == 0:
            return
        if self.phase == "new":
            self.phase = "imitation" if self.config.imitation else "online"
        if self.phase == "imitation":
            self._collect(outcome, backlog)
        else:
            self._online(outcome, backlog)

    def drain_log(self) -> list[dict[str, Any]]:
        """Training-log rows since the last call (see ``mecsim.engine.records``)."""
        rows, self._log = self._log, []
        return rows

    # ----------------------------------------------------------------- imitation
    def _collect(self, outcome: Outcome, backlog: np.ndarray) -> None:
        cfg, problem = self.config, outcome.problem
        if cfg.demo_source == "optimal":
            label = solve_optimum(problem, rng=self.rng).placement
        else:
            label = levy_search(problem, sweep_start(problem), rng=self.rng, beta=cfg.demo_beta,
                                iterations=cfg.demo_iterations, th=cfg.levy_th).placement
        self._demos.append((problem.gains, label, outcome.iotd, backlog))
        if len(self._demos) == cfg.demonstrations + cfg.demo_holdout:
            self._pretrain()
            self.phase = "online" if cfg.train_slots > 0 else "frozen"

    def _pretrain(self) -> None:
        cfg, n = self.config, self.network.n_iotds
        self.normalizer = GainNormalizer.fit(np.concatenate([g.ravel() for g, _, _, _ in
                                                             self._demos]))
        x = np.stack([self._inputs(g, i, b) for g, _, i, b in self._demos])
        a = np.stack([per_iotd(lab, i, n) for _, lab, i, _ in self._demos])
        train_x, train_a = x[: cfg.demonstrations], a[: cfg.demonstrations]
        self._log_accuracy(x, a, step=0)
        self._log += pretrain(self.nets, self.optimizers, train_x, train_a,
                              steps=cfg.pretrain_steps, batch_size=cfg.batch_size,
                              lambda1=cfg.lambda1, loss=cfg.imitation_loss, rng=self.rng,
                              target=cfg.loss_target)
        self._log_accuracy(x, a, step=cfg.pretrain_steps)
        self.replay.add_demonstrations(train_x, train_a)
        self._demos = []

    def _slot_backlog(self) -> np.ndarray:
        """This slot's backlog inputs (0 for MECs that did not act); cleared for the next."""
        b = self._backlog
        if self.config.backlog_input:  # otherwise it stays zeros, never written
            self._backlog = np.zeros_like(b)
        return b

    def _inputs(self, gains: np.ndarray, iotd: np.ndarray, backlog: np.ndarray) -> np.ndarray:
        """All agents' inputs of one slot, ``(N, M)``, or ``(N + 1, M)`` with the backlog."""
        x = self.normalizer.inputs(gains, iotd, self.network.n_iotds)
        return np.vstack([x, backlog[None, :]]) if self.config.backlog_input else x

    def _log_accuracy(self, x: np.ndarray, a: np.ndarray, step: int) -> None:
        """Log the vote's accuracy on training and held-out demonstrations after ``step``."""
        cfg, k = self.config, self.config.demonstrations
        for split, (xs, acts) in {"train": (x[:k], a[:k]), "test": (x[k:], a[k:])}.items():
            if len(xs):
                self._log.append({"kind": "imitation", "split": split, "step": step,
                                  "loss_name": cfg.imitation_loss, "demonstrations": k,
                                  "accuracy": accuracy(self.nets, xs, acts,
                                                       cfg.vote_threshold)})

    # ----------------------------------------------------------------- online
    def _online(self, outcome: Outcome, backlog: np.ndarray) -> None:
        cfg, problem, n = self.config, outcome.problem, self.network.n_iotds
        best = self._refine(outcome)
        self.replay.add(self._inputs(problem.gains, outcome.iotd, backlog),
                        per_iotd(best, outcome.iotd, n))
        self._log.append({"kind": "slot", "slot": outcome.slot, "objective": outcome.objective,
                          "reward": outcome.reward,
                          "latency_s": float(outcome.cost.latency_s.sum()),
                          "energy_j": float(outcome.cost.energy_j.sum())})
        self.online_slots += 1
        if self.online_slots % cfg.train_interval == 0:
            self._update(outcome.slot)
        if self.online_slots >= cfg.train_slots:
            self.phase = "frozen"

    def _refine(self, outcome: Outcome) -> np.ndarray:
        cfg = self.config
        if cfg.levy == "off":
            return outcome.placement
        result = levy_search(outcome.problem, outcome.placement, rng=self.rng,
                             beta=cfg.levy_beta, iterations=cfg.levy_iterations,
                             th=cfg.levy_th, mode=cfg.levy)
        if self._searches % cfg.levy_log_every == 0:
            self._log_levy(outcome.slot, cfg.levy, result.fitness)
            if cfg.levy_compare:
                other = "classic" if cfg.levy == "proposed" else "proposed"
                rival = levy_search(outcome.problem, outcome.placement, rng=self.rng,
                                    beta=cfg.levy_beta, iterations=cfg.levy_iterations,
                                    th=cfg.levy_th, mode=other)
                self._log_levy(outcome.slot, other, rival.fitness)
        self._searches += 1
        return result.placement

    def _log_levy(self, slot: int, mode: str, fitness: np.ndarray) -> None:
        self._log += [{"kind": "levy", "slot": slot, "mode": mode, "iteration": g,
                       "fitness": float(f)} for g, f in enumerate(fitness)]

    def _update(self, slot: int) -> None:
        cfg = self.config
        index, x, actions, is_demo = self.replay.sample(cfg.batch_size, self.rng)
        xt, at = torch.from_numpy(x), torch.from_numpy(actions)
        demo = torch.from_numpy(is_demo)

        def data_loss(per_sample: torch.Tensor) -> torch.Tensor:
            # L_A = L_I + lambda2 * L_agent; L_I's weight decay is added by ensemble_step
            return (_masked_mean(per_sample, demo)
                    + cfg.lambda2 * _masked_mean(per_sample, ~demo))

        losses, errors = ensemble_step(self.nets, self.optimizers, xt, at,
                                       target=cfg.loss_target, data_loss=data_loss,
                                       decay=cfg.lambda1)
        self._log += [{"kind": "update", "slot": slot, "step": self.online_slots, "agent": j,
                       "loss_name": "L_A", "loss": loss}
                      for j, loss in enumerate(losses, start=1)]
        self.replay.update(index, errors.numpy())

    # ----------------------------------------------------------------- state
    def _build(self, seed: int) -> None:
        cfg, net = self.config, self.network
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            extra = 1 if cfg.backlog_input else 0
            self.nets = [make_agent(cfg.agent_net, net.n_iotds, cfg.agent_hidden, extra)
                         for _ in range(net.n_mecs)]
        self.optimizers = [torch.optim.Adam(m.parameters(), lr=cfg.learning_rate)
                           for m in self.nets]
        p = net.params
        self.normalizer = GainNormalizer.from_network(p.beta0, net.area_m, net.n_mecs,
                                                      p.d_min_m)
        self.replay = PrioritizedReplay(cfg.replay_size, cfg.eps_a, cfg.eps_d, cfg.eta)
        self.phase, self.online_slots, self._demos = "new", 0, []
        self._backlog = np.zeros(net.n_mecs, dtype=np.float32)
        self._frozen = None

    def save(self, path: str | Path) -> None:
        """Write the agents, the normalisation and the config (``torch.save``)."""
        torch.save({"format": CHECKPOINT_FORMAT, "n_iotds": self.network.n_iotds,
                    "n_mecs": self.network.n_mecs, "config": self.config.as_dict(),
                    "mu": self.normalizer.mu, "sigma": self.normalizer.sigma,
                    "online_slots": self.online_slots,
                    "agents": [net.state_dict() for net in self.nets]}, Path(path))

    def load(self, path: str | Path) -> None:
        """Load agents saved by :meth:`save` (``weights_only=True``), after :meth:`reset`.

        Raises:
            ValueError: If the file is missing, corrupt, or for another network size.
        """
        cfg = self.config
        state = read_checkpoint(path, "DIRS", self.network, cfg.hidden)
        kind = state["config"].get("agent_net", "mlp")
        if kind != cfg.agent_net:
            raise ValueError(f"DIRS checkpoint {path} holds {kind!r} agents, the config asks "
                             f"for agent_net {cfg.agent_net!r}")
        if len(state["agents"]) != self.network.n_mecs:
            raise ValueError(f"DIRS checkpoint {path} holds {len(state['agents'])} agents for "
                             f"M={self.network.n_mecs} MECs")
        try:
            for net, weights in zip(self.nets, state["agents"], strict=True):
                net.load_state_dict(weights)
        except RuntimeError as exc:
            raise ValueError(f"DIRS checkpoint {path} does not fit the agents: {exc}") from exc
        self.normalizer = GainNormalizer(state["mu"], state["sigma"])
        self.online_slots = int(state["online_slots"])
        self.phase = "online" if self.config.train else "frozen"
        self._frozen = None


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return values[mask].mean() if bool(mask.any()) else values.sum() * 0.0
