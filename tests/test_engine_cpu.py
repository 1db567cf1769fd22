import simpy

from mecsim.engine.cpu import MecCpu


def _run(jobs, cpu_hz=10.0):
    """jobs: (start_s, name, cycles, weight). Returns {name: done_s}."""
    env = simpy.Environment()
    done = {}
    cpu = MecCpu(env, cpu_hz, lambda token, now: done.__setitem__(token, now))

    def arrive(start, name, cycles, weight):
        yield env.timeout(start)
        cpu.join(name, cycles, weight)

    for job in jobs:
        env.process(arrive(*job))
    env.run()
    return done, cpu


def test_single_task_gets_the_whole_cpu():
    done, cpu = _run([(0.0, "a", 30.0, 1.0)])
    assert done == {"a": 3.0}
    assert cpu.tasks == 0 and cpu.backlog_cycles() == 0.0


def test_weighted_shares_and_late_arrival():
    # a, b at half each; c joins at t=1 with weight 10 against 5+5: c gets half the CPU.
    done, _ = _run([(0.0, "a", 10.0, 5.0), (0.0, "b", 10.0, 5.0), (1.0, "c", 5.0, 10.0)])
    assert done["c"] == 2.0
    assert abs(done["a"] - 2.5) < 1e-12 and abs(done["b"] - 2.5) < 1e-12


def test_unequal_weights_finish_in_weight_order():
    # weights 3:1 of 40 cycles each at 4 cycle/s: a runs at 3, b at 1 until a leaves at 40/3.
    done, _ = _run([(0.0, "a", 40.0, 3.0), (0.0, "b", 40.0, 1.0)], cpu_hz=4.0)
    assert abs(done["a"] - 40 / 3) < 1e-9
    # b ran 40/3 cycles by then and has 80/3 left at full speed: 20/3 s more.
    assert abs(done["b"] - (40 / 3 + 20 / 3)) < 1e-9


def test_backlog_cycles_and_clear():
    env = simpy.Environment()
    cpu = MecCpu(env, 10.0, lambda token, now: None)
    cpu.join("a", 50.0, 1.0)
    cpu.join("b", 30.0, 1.0)
    env.run(until=2.0)
    assert abs(cpu.backlog_cycles() - 60.0) < 1e-9
    assert cpu.clear() == ["b", "a"]
    assert cpu.tasks == 0 and cpu.backlog_cycles() == 0.0
