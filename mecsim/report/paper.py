"""The paper's published values, as data, for the report to put beside ours.

Every number here is quoted from the paper (its scenario: ``scenarios/paper.yaml``,
``N = 30`` IoTDs, ``M = 2`` MECs); the report never computes them. Accuracies are
fractions, times seconds.
"""

from __future__ import annotations

#: Table II: imitation accuracy of the vote after pre-training, keyed by
#: ``(loss_name, split)``, at :data:`TABLE2_DEMONSTRATIONS` demonstrations. The ``L_I``
#: figures are the paper's proposed loss; the ``L_D`` ones are as recorded in
#: ``benchmarks/bench_dirs.py``.
TABLE2_DEMONSTRATIONS = 256
TABLE2_ACCURACY: dict[tuple[str, str], float] = {
    ("L_I", "train"): 0.967,
    ("L_I", "test"): 0.963,
    ("L_D", "train"): 0.966,
    ("L_D", "test"): 0.934,
}

#: Table III: the DRL comparison, keyed by the scheduler's registered name.
#: ``train_s``: training time [s]; ``inference_s``: inference time per slot [s];
#: ``reward``: average reward ``1 / objective``.
TABLE3: dict[str, dict[str, float | str]] = {
    "dirs": {"label": "DIRS", "train_s": 2970.84, "inference_s": 0.0165, "reward": 0.0348},
    "actor_critic": {"label": "AC", "train_s": 3482.72, "inference_s": 0.0195,
                     "reward": 0.0309},
    "ddpg": {"label": "DDPG", "train_s": 3823.15, "inference_s": 0.0192, "reward": 0.0317},
}

#: Fig. 5: each agent's loss settles at about this value ...
FIG5_LOSS = 0.2
#: ... after about this many updates.
FIG5_UPDATES = 300

#: Fig. 7: best objective (fitness) at the end of the Lévy search, by mode (approximate,
#: read off the figure).
FIG7_FITNESS: dict[str, float] = {"proposed": 29.0, "classic": 31.0}
