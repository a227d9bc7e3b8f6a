"""The shared loop: critic verdicts act through it (put aside, replan, explore) in any world that
implements the role protocols; backends and worlds are found by name, unknown ones refused."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from embodied_mem.agent.config import AgentConfig, CriticConfig, PlannerConfig
from embodied_mem.agent.loop import AgentLoop
from embodied_mem.agent.planners import backends, make_planner, register_planner
from embodied_mem.agent.protocols import EnvDescription, Preemption, Progress, SkillSpec, Subgoal, Task
from embodied_mem.agent.worlds import describe, world_kit

# A corridor world written against the protocols: cells on a line, a wall at WALL the agent cannot
# pass. Thing "far" lies behind the wall (unreachable), thing "near" on the other side (reachable).
WALL = 3
THINGS = {"far": 6, "near": -2}


@dataclass
class LineState:
    t: float
    position: int


class LineWorld:
    def __init__(self) -> None:
        self.aside: dict[tuple[str, object], float] = {}
        self.t = 0.0

    def update(self, state: LineState) -> None:
        self.t = state.t

    def put_aside(self, label: str, where: object, until: float) -> None:
        self.aside[(label, where)] = until

    def forget(self) -> None:
        self.aside.clear()

    def usable(self, label: str) -> bool:
        return self.aside.get((label, THINGS[label]), -1.0) <= self.t


class LinePre:
    def reset(self) -> None: ...

    def perceive(self, obs, info) -> LineState:
        return LineState(t=float(info["step"]), position=int(obs))

    def write(self, memory, info, state) -> None:
        return None

    def query(self, goal, subgoal) -> str:
        return goal or "explore"

    def place(self, state: LineState) -> int:
        return state.position // 2


class LinePlanner:
    def __init__(self) -> None:
        self.goal = None
        self.aside: dict[str, float] = {}
        self.plans = 0

    def reset(self, memory, world) -> None:
        self.goal, self.plans = None, 0

    def refresh(self, memory, world) -> None: ...

    def plan(self, task: Task, recall, state: LineState, world: LineWorld) -> list[Subgoal]:
        self.plans += 1
        for g in task.goals:
            if world.usable(g) and self.aside.get(g, -1) <= state.t:
                self.goal = g
                return [Subgoal("goto", g, goal=g)]
        self.goal = None
        return [Subgoal("explore")]

    def put_aside(self, goal, until) -> None:
        self.aside[goal] = until

    def forget(self) -> None:
        self.aside.clear()


class LineExecutor:
    skills = (SkillSpec("goto", "walk to a thing"), SkillSpec("explore", "walk about"))
    need_goals = frozenset({"rest"})
    idle = 0

    def __init__(self, need_at: float | None = None) -> None:
        self.need_at = need_at
        self.tgt = None
        self.stopped: list[tuple[str, str]] = []

    def reset(self, rng) -> None:
        self.tgt = None

    def preempt(self, state, world):
        if self.need_at is not None and state.t >= self.need_at:
            return Preemption("need", need=Subgoal("goto", "far", goal="rest"))
        return None

    def begin(self, subgoal) -> None:
        self.tgt = None

    def act(self, subgoal, state, world):
        if subgoal.kind == "explore":
            return self.explore(state, world, None)
        self.tgt = (subgoal.target, THINGS[subgoal.target])
        return 1 if THINGS[subgoal.target] > state.position else -1

    def done(self, subgoal, state, start) -> bool:
        return subgoal.kind == "goto" and state.position == THINGS[subgoal.target]

    def explore(self, state, world, hint):
        return -1

    def progress(self, subgoal, state, start) -> Progress:
        d = None if self.tgt is None else float(abs(self.tgt[1] - state.position))
        return Progress(t=state.t, position=(float(state.position),), target_distance=d,
                        done=subgoal is not None and start is not None and self.done(subgoal, state, start))

    def target(self):
        return self.tgt

    def stop(self, subgoal, reason) -> None:
        self.stopped.append((str(subgoal), reason))

    def forget(self) -> None: ...


class LineKit:
    name = "line"
    config_section = None

    def skills(self, desc):
        return LineExecutor.skills

    def task(self, goals, desc):
        return Task(tuple(goals) or ("far", "near"))

    def preprocessor(self, config, desc):
        return LinePre()

    def executor(self, config, desc, rng):
        return LineExecutor()

    def symbolic_planner(self, config, desc):
        return LinePlanner()

    def world_model(self, memory):
        return LineWorld()


def _loop(critic: bool = True, executor: LineExecutor | None = None, **critic_kw) -> AgentLoop:
    cfg = AgentConfig(critic=CriticConfig(enabled=critic, stall_steps=5, **critic_kw),
                      planner=PlannerConfig(replan_every=1000))
    kit = LineKit()
    desc = EnvDescription("line")
    return AgentLoop(cfg, kit=kit, desc=desc, preprocessor=LinePre(), planner=LinePlanner(),
                     executor=executor or LineExecutor(), task=kit.task((), desc), seed=0)


def _run(agent: AgentLoop, steps: int) -> tuple[list[int], list[dict]]:
    agent.reset(None, seed=0)
    pos, positions, records = 0, [], []
    for step in range(steps):
        a = agent.act(pos, {"step": step})
        nxt = pos + int(a)
        if nxt < WALL:  # the wall: the agent cannot pass
            pos = nxt
        positions.append(pos)
        records.append(agent.record())
    return positions, records


def test_stalled_target_is_put_aside_and_the_loop_replans_to_the_next_goal():
    agent = _loop()
    positions, records = _run(agent, 40)
    critic = [i for i, r in enumerate(records) if "critic" in r]
    assert critic, "the critic never intervened"
    stall = critic[0]
    assert records[stall]["critic"].startswith("stalled: goto far, put aside far at 6")
    assert stall == 2 + 5, "stalled stall_steps (5) after the last progress (step 2, against the wall)"
    assert ("far", THINGS["far"]) in agent.world.aside, "the stalled target was put aside in the world model"
    assert records[stall]["goal"] == "near" and records[stall - 1]["goal"] == "far"
    assert THINGS["near"] in positions[stall:], "after replanning it reached the reachable thing"
    assert ("goto far", "put_aside") in agent.executor.stopped


def test_without_the_critic_it_pushes_against_the_wall_forever():
    agent = _loop(critic=False)
    positions, records = _run(agent, 40)
    assert {r["verdict"] for r in records} == {"off"}
    assert positions[-1] == WALL - 1 and all(r["goal"] == "far" for r in records)


def test_oscillation_is_a_loop_verdict_that_forces_exploration():
    class Dither(LineExecutor):  # steps back and forth without getting closer
        def act(self, subgoal, state, world):
            self.tgt = (subgoal.target, THINGS[subgoal.target])
            return 1 if state.position <= 0 else -1

    agent = _loop(executor=Dither(), loop_window=6, loop_cells=2, explore_steps=4)
    agent.config.critic.stall_steps = 1000
    positions, records = _run(agent, 30)
    bys = [r["by"] for r in records]
    assert "loop" in [r["verdict"] for r in records]
    i = [r["verdict"] for r in records].index("loop")
    assert bys[i] == "explore(loop)" and bys[i + 1] == "explore(loop)"
    assert ("far", THINGS["far"]) in agent.world.aside


def test_a_stalled_need_is_put_aside_too():
    agent = _loop(executor=LineExecutor(need_at=0))
    _, records = _run(agent, 12)
    assert [r["by"] for r in records][:3] == ["need"] * 3
    assert "stalled" in [r["verdict"] for r in records]
    assert ("far", THINGS["far"]) in agent.world.aside


def test_planner_backends_are_registered_by_name_and_get_the_symbolic_fallback():
    seen = {}

    def make(config, kit, desc, fallback):
        seen["fallback"] = fallback
        return fallback

    register_planner("test-backend", make)
    assert "symbolic" in backends() and "test-backend" in backends()
    cfg = AgentConfig(planner=PlannerConfig(backend="test-backend"))
    p = make_planner(cfg, LineKit(), EnvDescription("line"))
    assert isinstance(seen["fallback"], LinePlanner) and p is seen["fallback"]
    with pytest.raises(ValueError, match="registered backends"):
        make_planner(AgentConfig(planner=PlannerConfig(backend="nope")), LineKit(), EnvDescription("line"))
    with pytest.raises(ValueError, match="module:attr"):
        register_planner("bad", "no_colon")


def test_worlds_are_found_through_the_env_description():
    class Env:
        metadata = {"embodied_mem": {"world": "crafter", "labels": ["grass"], "inventory": [], "actions": [],
                                     "frame": "x"}}

    d = describe(Env())
    assert d.world == "crafter" and d.labels == ("grass",) and d.extra == {"frame": "x"}
    assert world_kit("crafter").name == "crafter"
    with pytest.raises(ValueError, match="declares no world"):
        describe(object())
    with pytest.raises(ValueError, match="known worlds"):
        world_kit("atlantis")


def test_skill_specs_give_a_json_schema_of_calls():
    from embodied_mem.agent.protocols import SkillParam

    s = SkillSpec("collect", "get it", (SkillParam("target", choices=("tree", "stone")),
                                        SkillParam("level", "integer", required=False)))
    schema = s.json_schema()
    assert schema["required"] == ["skill", "target"] and schema["properties"]["target"]["enum"] == ["tree", "stone"]
    assert schema["additionalProperties"] is False
