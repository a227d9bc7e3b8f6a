"""The critic: progress, stalls and loop detection (RoboMemory's infinite-loop mitigation), from the
``Progress`` any world's skill reports."""

from __future__ import annotations

from embodied_mem.agent.config import CriticConfig
from embodied_mem.agent.critic import ProgressCritic, find_cycle
from embodied_mem.agent.protocols import Progress, Subgoal


def _p(t, pos, dist=None, gained=0, done=False, busy=False, new_cells=0):
    return Progress(t=float(t), position=tuple(float(v) for v in pos), target_distance=dist, gained=gained,
                    done=done, busy=busy, new_cells=new_cells)


def test_find_cycle():
    assert find_cycle(["a", "b", "a", "b", "a", "b"], 3) == 2
    assert find_cycle(["x", "a", "b", "c", "a", "b", "c", "a", "b", "c"], 3) == 3
    assert find_cycle(["a", "b", "a", "b", "c"], 3) == 0
    assert find_cycle([], 3) == 0


def test_oscillation_between_two_cells_is_a_loop():
    c = ProgressCritic(CriticConfig(loop_window=20, loop_cells=4, stall_steps=1000))
    sg = Subgoal("collect", "tree", item="wood", level=1)
    c.start(sg, "place-0", 0.0)
    verdicts = [c.judge(sg, _p(t, (5 + t % 2, 5), dist=3.0)) for t in range(1, 40)]
    assert "loop" in verdicts
    assert verdicts.index("loop") <= 21


def test_subgoal_place_cycle_is_a_loop():
    c = ProgressCritic(CriticConfig(cycle_repeats=3, loop_window=1000, stall_steps=1000))
    verdicts = []
    t = 0
    for _ in range(3):
        for sg, place in ((Subgoal("near", "table"), "p1"), (Subgoal("collect", "stone"), "p2")):
            c.start(sg, place, t)
            t += 1
            verdicts.append(c.judge(sg, _p(t, (t, 0))))
    assert verdicts[-1] == "loop"


def test_no_progress_stalls_and_progress_resets():
    c = ProgressCritic(CriticConfig(stall_steps=10, loop_window=1000))
    sg = Subgoal("collect", "tree", item="wood", level=1)
    c.start(sg, None, 0.0)
    out = [c.judge(sg, _p(t, (t, 0), dist=5.0)) for t in range(1, 12)]
    assert out[0] == "progress" and out[-1] == "stalled"
    assert c.judge(sg, _p(12, (0, 0), dist=5.0, gained=1)) == "progress"
    assert c.judge(sg, _p(13, (0, 0), dist=5.0, done=True)) == "done"


def test_new_cells_and_waiting_count_as_progress():
    """An explorer seeing new ground (indoor search) or an agent asleep is not stalled."""
    c = ProgressCritic(CriticConfig(stall_steps=5, loop_window=1000))
    sg = Subgoal("explore")
    c.start(sg, None, 0.0)
    assert [c.judge(sg, _p(t, (t, 0), new_cells=3)) for t in range(1, 20)] == ["progress"] * 19
    assert [c.judge(sg, _p(t, (0, 0), busy=True)) for t in range(20, 40)] == ["progress"] * 20
    assert "stalled" in [c.judge(sg, _p(t, (t, 0))) for t in range(40, 50)]


def test_disabled_critic_never_intervenes():
    c = ProgressCritic(CriticConfig(enabled=False, stall_steps=1, loop_window=2))
    sg = Subgoal("explore")
    assert {c.judge(sg, _p(t, (0, 0))) for t in range(50)} == {"off"}
