"""DIRS: one agent per MEC, the IoTDs' vote, Lévy refinement and imitation (paper Sec. V).

Read top to bottom, a run goes:

1. ``reset``: one agent network and one Adam per MEC (or the agents of ``checkpoint``):
   the paper's :class:`AgentNet` over the ``N`` IoTDs' gains (``agent_net: mlp``), or a
   :class:`TaskAgentNet` scoring each task from its own features
   (:mod:`schedulers.dirs.task_features`; ``agent_net: task``, ``dirs_shared``), whose
   training samples are tasks rather than slots.
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

from mecsim.model.optimum import descend, solve_optimum
from mecsim.model.problem import SlotProblem
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
from schedulers.dirs.task_features import N_TASK_FEATURES, best_upload_cost, task_features


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

    @property
    def learning(self) -> bool:
        """True until the schedule freezes the agents (demonstrations, then online)."""
        return self.config.train and self.phase != "frozen"

    # ----------------------------------------------------------------- contract
    def reset(self, seed: int, network: Network) -> None:
        """Build the agents for ``network`` (or keep the learned ones of the same size)."""
        same = (self.network is not None and self.nets
                and self.network.n_mecs == network.n_mecs
                and (self.per_task or self.network.n_iotds == network.n_iotds))
        super().reset(seed, network)
        torch.set_num_threads(self.config.torch_threads)
        p, f0 = network.params, network.local_cpu_hz
        self._local_per_cycle = p.phi_t / f0 + p.phi_e * p.kappa * f0 ** (p.nu - 1.0)  # [1/cycle]
        if not same:
            self._build(seed)
        if self.config.checkpoint is not None and self.phase == "new":
            self.load(self.config.checkpoint)

    @property
    def per_task(self) -> bool:
        """True for ``task`` agents (inputs per task, any ``N``)."""
        return self.config.agent_net == "task"

    def act(self, view: AgentView) -> np.ndarray:
        """Agent ``view.mec``'s scores for the tasks, from its own gains only."""
        if self.per_task:
            x = self._task_view(view)
        else:
            x = self.normalizer.inputs(view.gains, view.iotd, self.network.n_iotds)
            if self.config.backlog_input:
                b = backlog_input(view.backlog_cycles, view.cpu_hz)
                self._backlog[view.mec - 1] = b
                x = np.append(x, b)
        if self.phase == "frozen":
            if self._frozen is None:
                self._frozen = [net.numpy_forward() for net in self.nets]
            logits = self._frozen[view.mec - 1](x)
        else:
            with torch.no_grad():
                logits = self.nets[view.mec - 1](torch.from_numpy(x)).numpy()
        if not self.per_task:
            logits = logits[view.iotd]
        scores = scores_of(logits)
        if self.config.guard:  # task agents: feature 3 is ln((U + C) / L), the guard's test
            worth = x[:, 3] < 0 if self.per_task else self._worth_offloading(view)
            scores[~worth] = 0.0
        return scores

    def _task_view(self, view: AgentView) -> np.ndarray:
        """``(n, F)`` features of the tasks for agent ``view.mec`` (its own facts only)."""
        backlog = None
        if self.config.backlog_input:
            backlog = view.backlog_cycles / view.cpu_hz
            self._backlog[view.mec - 1] = backlog
        return task_features(self.normalizer.normalize(view.gains), view.gains,
                             view.data_bits, view.cycles,
                             view.cycles * self._local_per_cycle[view.iotd], view.cpu_hz,
                             self.network.params, self.network.slot_s, backlog)

    def _task_inputs(self, problem: SlotProblem, iotd: np.ndarray,
                     backlog: np.ndarray) -> np.ndarray:
        """``(n, 1, M, F)`` features of a slot's tasks for every agent, as each computed them.

        The axis of length 1 stands where the IoTD axis of the other agents' inputs is, so
        the losses and the replay treat each task as one sample.
        """
        x = task_features(self.normalizer.normalize(problem.gains), problem.gains,
                          problem.data_bits, problem.cycles,
                          problem.cycles * self._local_per_cycle[iotd], problem.mec_cpu_hz,
                          self.network.params, self.network.slot_s,
                          backlog if self.config.backlog_input else None)
        return x[:, None]

    def _worth_offloading(self, view: AgentView) -> np.ndarray:
        """Tasks whose best-case offload to this MEC beats running them locally.

        Best case: the optimal power (the Lambert-W closed form, unpolished: a guard needs no
        more digits) and all of the MEC's CPU.
        """
        p = self.network.params
        offload = best_upload_cost(view.gains, view.data_bits, p) + \
            p.phi_t * view.cycles / view.cpu_hz
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
        if cfg.demo_source in ("optimal", "descent"):
            label = self._label(problem, cfg.demo_source)
        else:
            label = levy_search(problem, sweep_start(problem), rng=self.rng, beta=cfg.demo_beta,
                                iterations=cfg.demo_iterations, th=cfg.levy_th).placement
        self._demos.append((problem, label, outcome.iotd, backlog))
        if len(self._demos) == cfg.demonstrations + cfg.demo_holdout:
            self._pretrain()
            self.phase = "online" if cfg.train_slots > 0 else "frozen"

    def _pretrain(self) -> None:
        cfg, n = self.config, self.network.n_iotds
        self.normalizer = GainNormalizer.fit(np.concatenate([q.gains.ravel() for q, _, _, _ in
                                                             self._demos]))
        if self.per_task:  # samples are tasks: split by slot, then flatten
            k = cfg.demonstrations
            parts = [(self._task_inputs(q, i, b), lab[:, None]) for q, lab, i, b in self._demos]
            x = np.concatenate([p[0] for p in parts])
            a = np.concatenate([p[1] for p in parts])
            split = sum(len(p[1]) for p in parts[:k])
            batch = cfg.task_batch_size
        else:
            x = np.stack([self._inputs(q.gains, i, b) for q, _, i, b in self._demos])
            a = np.stack([per_iotd(lab, i, n) for _, lab, i, _ in self._demos])
            split, batch = cfg.demonstrations, cfg.batch_size
        train_x, train_a = x[:split], a[:split]
        self._log_accuracy(x, a, step=0, split=split)
        self._log += pretrain(self.nets, self.optimizers, train_x, train_a,
                              steps=cfg.pretrain_steps, batch_size=batch,
                              lambda1=cfg.lambda1, loss=cfg.imitation_loss, rng=self.rng,
                              target=cfg.loss_target)
        self._log_accuracy(x, a, step=cfg.pretrain_steps, split=split)
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

    def _log_accuracy(self, x: np.ndarray, a: np.ndarray, step: int, split: int) -> None:
        """Log the vote's accuracy on training and held-out demonstrations after ``step``.

        ``x[:split]`` are the training samples (slots, or tasks of ``task`` agents).
        """
        cfg, k = self.config, self.config.demonstrations
        parts = {"train": (x[:split], a[:split]), "test": (x[split:], a[split:])}
        for split_name, (xs, acts) in parts.items():
            if len(xs):
                self._log.append({"kind": "imitation", "split": split_name, "step": step,
                                  "loss_name": cfg.imitation_loss, "demonstrations": k,
                                  "accuracy": accuracy(self.nets, xs, acts,
                                                       cfg.vote_threshold)})

    # ----------------------------------------------------------------- online
    def _online(self, outcome: Outcome, backlog: np.ndarray) -> None:
        cfg, problem, n = self.config, outcome.problem, self.network.n_iotds
        best = self._refine(outcome)
        if self.per_task:
            self.replay.add_batch(self._task_inputs(problem, outcome.iotd, backlog),
                                  best[:, None])
        else:
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
        if cfg.online_target in ("optimal", "descent"):
            return self._label(outcome.problem, cfg.online_target)
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

    def _label(self, problem: SlotProblem, source: str) -> np.ndarray:
        """The slot's ``optimal`` placement, or a ``descent`` from the sweep warm start."""
        if source == "optimal":
            return solve_optimum(problem, rng=self.rng).placement
        return descend(problem, sweep_start(problem))

    def _log_levy(self, slot: int, mode: str, fitness: np.ndarray) -> None:
        self._log += [{"kind": "levy", "slot": slot, "mode": mode, "iteration": g,
                       "fitness": float(f)} for g, f in enumerate(fitness)]

    def _update(self, slot: int) -> None:
        cfg = self.config
        batch = cfg.task_batch_size if self.per_task else cfg.batch_size
        index, x, actions, is_demo = self.replay.sample(batch, self.rng)
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
            if self.per_task:
                extra += N_TASK_FEATURES
            self.nets = [make_agent(cfg.agent_net, net.n_iotds, cfg.agent_hidden, extra)
                         for _ in range(net.n_mecs)]
        self.optimizers = [torch.optim.Adam(m.parameters(), lr=cfg.learning_rate)
                           for m in self.nets]
        p = net.params
        self.normalizer = GainNormalizer.from_network(p.beta0, net.area_m, net.n_mecs,
                                                      p.d_min_m)
        self.replay = PrioritizedReplay(cfg.task_replay_size if self.per_task else
                                        cfg.replay_size, cfg.eps_a, cfg.eps_d, cfg.eta)
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
        state = read_checkpoint(path, "DIRS", self.network, cfg.hidden, any_n=self.per_task)
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
