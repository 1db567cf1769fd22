"""Every scheduler of mecsim, the built-in ones included, each a plug-in.

The built-ins are registered by :func:`register_builtins`, which
:mod:`mecsim.registry` calls on its first use; the entry points are ``module:Class``
strings, so importing this package imports no scheduler module.

===============  ===========================================  ======================================
id               class                                        what it does
===============  ===========================================  ======================================
local            ``schedulers.local:Local``                   every task runs on its IoTD
random           ``schedulers.random_offload:RandomOffload``  uniform over local and reachable MECs
greedy           ``schedulers.greedy:Greedy``                 nearest reachable MEC
optimal          ``schedulers.optimal:Optimal``               exact optimum of the slot (or a bound)
optimal_backlog  ``schedulers.optimal:Optimal`` (backlog)     the optimum with each queue's wait
lyapunov         ``schedulers.lyapunov:Lyapunov``             drift-plus-penalty (Neely)
dirs             ``schedulers.dirs:Dirs``                     the DIRS paper's multi-agent scheduler
dirs_shared      ``schedulers.dirs:Dirs`` (other defaults)    DIRS, per-task agents, the vote's loss
droo             ``schedulers.droo:Droo``                     DROO (Huang, Bi and Zhang, 2020)
lydroo           ``schedulers.droo:LyDroo``                   DROO priced by drift-plus-penalty
actor_critic     ``schedulers.actor_critic:ActorCritic``      the paper's Actor-Critic baseline
ddpg             ``schedulers.ddpg:Ddpg``                     the paper's DDPG baseline
===============  ===========================================  ======================================

The learners (:data:`EXTRAS`) import torch, which ``pip install 'mecsim[learn]'`` installs;
the others run on mecsim's own dependencies.

``random`` and ``greedy`` apply the insufficient-resources rule of
:mod:`schedulers._capacity` (see ``docs/schedulers.md``).
"""

from __future__ import annotations

from typing import Any

#: The built-in registrations: id -> (entry point, default parameters).
BUILTINS: dict[str, tuple[str, dict[str, Any]]] = {
    "local": ("schedulers.local:Local", {}),
    "random": ("schedulers.random_offload:RandomOffload", {}),
    "greedy": ("schedulers.greedy:Greedy", {}),
    "optimal": ("schedulers.optimal:Optimal", {}),
    "optimal_backlog": ("schedulers.optimal:Optimal", {"backlog": True}),
    "lyapunov": ("schedulers.lyapunov:Lyapunov", {}),
    "dirs": ("schedulers.dirs:Dirs", {}),
    "dirs_shared": ("schedulers.dirs:Dirs", {"agent_net": "task", "loss_target": "vote",
                                             "demo_source": "descent",
                                             "online_target": "descent",
                                             "demonstrations": 128, "demo_holdout": 32,
                                             "pretrain_steps": 500, "train_slots": 300}),
    "droo": ("schedulers.droo:Droo", {}),
    "lydroo": ("schedulers.droo:LyDroo", {}),
    "actor_critic": ("schedulers.actor_critic:ActorCritic", {}),
    "ddpg": ("schedulers.ddpg:Ddpg", {}),
}

#: The extra of ``setup.cfg`` each built-in needs beyond mecsim's own dependencies (the
#: learners import torch); a built-in not named here needs none.
EXTRAS: dict[str, str] = {id: "learn" for id in ("dirs", "dirs_shared", "droo", "lydroo",
                                                 "actor_critic", "ddpg")}


def register_builtins(registry: Any) -> None:
    """Register the built-in schedulers in ``registry`` (a :class:`mecsim.registry.Registry`)."""
    for id, (entry_point, defaults) in BUILTINS.items():
        registry.register(id, entry_point, **defaults)
