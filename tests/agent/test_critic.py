"""The critic: progress, stalls and loop detection (RoboMemory's infinite-loop mitigation)."""

from __future__ import annotations

import numpy as np

from embodied_mem.agent.config import CriticConfig
from embodied_mem.agent.critic import Critic, find_cycle
from embodied_mem.agent.planner import Subgoal
from embodied_mem.agent.preprocessor import State


def _state(t, pos, **inv):
    inventory = {"health": 9, "food": 9, "drink": 9, "energy": 9, "wood": 0, **inv}
    return State(t=float(t), pos=pos, facing=(1, 0), view=np.zeros((7, 9), np.int16), inventory=inventory,
                 achievements={})


def test_find_cycle():
    assert find_cycle(["a", "b", "a", "b", "a", "b"], 3) == 2
    assert find_cycle(["x", "a", "b", "c", "a", "b", "c", "a", "b", "c"], 3) == 3
    assert find_cycle(["a", "b", "a", "b", "c"], 3) == 0
    assert find_cycle([], 3) == 0


def test_oscillation_between_two_cells_is_a_loop():
    c = Critic(CriticConfig(loop_window=20, loop_cells=4, stall_steps=1000))
    sg = Subgoal("collect", "tree", item="wood", level=1)
    c.start(sg, "place-0", 0.0)
    verdicts = [c.check(sg, _state(t, (5 + t % 2, 5)), False, 3.0) for t in range(1, 40)]
    assert "loop" in verdicts
    assert verdicts.index("loop") <= 21


def test_subgoal_place_cycle_is_a_loop():
    c = Critic(CriticConfig(cycle_repeats=3, loop_window=1000, stall_steps=1000))
    verdicts = []
    t = 0
    for _ in range(3):
        for sg, place in ((Subgoal("near", "table"), "p1"), (Subgoal("collect", "stone"), "p2")):
            c.start(sg, place, t)
            t += 1
            verdicts.append(c.check(sg, _state(t, (t, 0)), False, None))
    assert verdicts[-1] == "loop"


def test_no_progress_stalls_and_progress_resets():
    c = Critic(CriticConfig(stall_steps=10, loop_window=1000))
    sg = Subgoal("collect", "tree", item="wood", level=1)
    c.start(sg, None, 0.0)
    out = [c.check(sg, _state(t, (t, 0)), False, 5.0) for t in range(1, 12)]
    assert out[0] == "progress" and out[-1] == "stalled"
    assert c.check(sg, _state(12, (0, 0), wood=1), False, 5.0) == "progress"
    assert c.check(sg, _state(13, (0, 0), wood=1), True, 5.0) == "done"


def test_disabled_critic_never_intervenes():
    c = Critic(CriticConfig(enabled=False, stall_steps=1, loop_window=2))
    sg = Subgoal("explore")
    assert {c.check(sg, _state(t, (0, 0)), False, None) for t in range(50)} == {"off"}
