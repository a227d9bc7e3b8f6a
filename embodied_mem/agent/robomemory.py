"""RoboMemory's closed loop in Crafter: preprocessor -> memory -> planner + critic -> executor.

Per step: the preprocessor turns the observation into a ``State`` and writes the step's
``Percept`` into memory; survival reflexes (adjacent enemies) and needs (drink, food, energy)
preempt the plan; otherwise the current subgoal runs until the executor says it is done or the
critic says it stalled or loops, and then the planner replans over memory (facts for the tech tree,
spatial beliefs for where things are). Replanning and retrieval happen on events, not every step,
to keep the agent's overhead below the environment's own step time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Agent
from .config import AgentConfig
from .critic import Critic
from .executor import NOOP, Executor
from .planner import Planner, Subgoal
from .preprocessor import Preprocessor, State
from .world import MemoryWorld, ViewWorld

__all__ = ["RoboMemoryAgent"]

NEEDS = ("drink", "eat", "rest", "night", "heal")  # survival subgoals' goal names (not achievements)


class RoboMemoryAgent(Agent):
    """The memory-driven agent. ``labels``/``inventory_names`` describe the adapter's observation.

    With ``memory=None`` at ``reset`` (or spatial memory switched off) it falls back to what is in
    view; with semantic memory off or empty it has no tech tree and experiments.
    """

    name = "robomemory"
    uses_memory = True

    def __init__(self, config: AgentConfig, labels: tuple[str, ...], inventory_names: tuple[str, ...],
                 seed: int | None = None) -> None:
        self.config = config
        self.pre = Preprocessor(config.preprocessor, labels, inventory_names)
        self.planner = Planner(config.planner)
        self.critic = Critic(config.critic)
        self.rng = np.random.default_rng(seed)
        self.executor = Executor(config.executor, self.rng)
        self.memory: Any = None
        self.world: ViewWorld = ViewWorld()
        self.plan: list[Subgoal] = []
        self.subgoal: Subgoal | None = None
        self.start_state: State | None = None
        self.verdict = "ok"
        self.last_plan_t = -1e9
        self.explore_until = -1.0
        self.last_action = NOOP
        self.source = "plan"
        self.n_plans = 0

    # ------------------------------------------------------------------ Agent API
    def reset(self, memory: Any | None, *, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            self.executor.rng = self.rng
        self.memory = memory
        spatial_on = memory is not None and getattr(memory.spatial, "enabled", False)
        self.world = MemoryWorld(memory) if spatial_on else ViewWorld()
        self.pre.reset()
        self.planner.reset()
        self.critic.reset()
        self.executor.reset()
        self.plan, self.subgoal, self.start_state = [], None, None
        self.verdict, self.last_plan_t, self.explore_until = "ok", -1e9, -1.0
        self.n_plans = 0
        if memory is not None:
            self.planner.refresh(memory.semantic.facts())
        else:
            self.planner.refresh(_prior_facts())
        self.world.tree = self.planner.tree  # type: ignore[attr-defined]

    def act(self, obs: Any, info: dict[str, Any]) -> int:
        state = self.pre.state(obs, info)
        mem = self.memory
        if mem is not None:
            self.pre.write(mem, info, state)
            every = self.config.planner.consolidate_every
            if every and int(state.t) % every == 0 and state.t > 0:
                mem.consolidate()
                self.planner.refresh(mem.semantic.facts())
                self.world.tree = self.planner.tree  # type: ignore[attr-defined]
        self.world.update(state)
        if state.sleeping:
            self.source, self.last_action = "asleep", NOOP
            return NOOP
        a = self.executor.reflex(state)
        if a is not None:
            self.source, self.last_action = "reflex", a
            return a
        need = self.executor.survival_need(state, self.world)
        sealed = self.executor.sealed(state)
        if sealed and (need is None or need.kind != "shelter") and self.executor.danger_outside(state):
            self.source, self.last_action = "shelter(wait)", NOOP
            return NOOP  # zombies wait outside: stay in until they wander off (hunger is slower)
        if need is None and sealed:
            a = self.executor.escape(state)  # morning: dig out of the night shelter
            if a is not None:
                self.source, self.last_action = "escape", a
                return a
        if need is not None:
            if self.subgoal != need:
                self._start(need, state)
            a = self.executor.act(need, state, self.world)
            if self._judge(state) in ("stalled", "loop"):
                # the critic: no progress towards this target (unreachable water, a cow behind
                # lava): put the target aside and take the next one, or explore
                self._put_aside(state)
                a = self.executor.act(need, state, self.world)
            if a is not None:
                self.source, self.last_action = "need", a
                return a
            self.executor.need = None  # cannot satisfy it from here (nothing known): explore instead
            a = self.executor.explore(state, self.world, need.target)
            self.source, self.last_action = "need-explore", a if a is not None else NOOP
            return self.last_action
        a = self.executor.opportunity(state, self.world)
        if a is not None:
            self.source, self.last_action = "opportunity", a
            return a
        a = self._plan_step(state)
        self.last_action = a
        return a

    def record(self) -> dict[str, Any]:
        return {"subgoal": str(self.subgoal) if self.subgoal else None, "goal": self.planner.goal,
                "verdict": self.verdict, "by": self.source}

    # ------------------------------------------------------------------ the loop
    def _plan_step(self, state: State) -> int:
        ex = self.executor
        if state.t < self.explore_until:
            self.source = "explore(loop)"
            a = ex.explore(state, self.world, None)
            return a if a is not None else NOOP
        for _ in range(3):
            if self.subgoal is None or self.subgoal.goal in NEEDS or \
                    state.t - self.last_plan_t >= self.config.planner.replan_every:
                self._replan(state)
            assert self.subgoal is not None
            if self.start_state is not None and ex.done(self.subgoal, state, self.start_state):
                self.verdict = "done"
                self.subgoal = None  # replan from what is known now (the rest of the old plan may be stale)
                continue
            a = ex.act(self.subgoal, state, self.world)
            verdict = self._judge(state)
            if a is None or verdict == "stalled":
                self._put_aside(state)
                self._replan(state)
                continue
            if verdict == "loop":
                self._put_aside(state)
                self.explore_until = state.t + self.config.critic.explore_steps
                self.subgoal = None
                self.source = "explore(loop)"
                a2 = ex.explore(state, self.world, None)
                return a2 if a2 is not None else NOOP
            self.source = "plan"
            return a
        self.source = "fallback"
        a = ex.explore(state, self.world, None)
        return a if a is not None else NOOP

    def _judge(self, state: State) -> str:
        sg = self.subgoal
        dist = None
        tgt = self.executor.last_target
        if tgt is not None:
            dist = abs(tgt[1][0] - state.pos[0]) + abs(tgt[1][1] - state.pos[1])
        done = sg is not None and self.start_state is not None and self.executor.done(sg, state, self.start_state)
        self.verdict = self.critic.check(sg, state, done, dist)
        return self.verdict

    def _start(self, sg: Subgoal, state: State) -> None:
        self.subgoal = sg
        self.start_state = state
        self.executor.last_target = None
        place = None
        if self.memory is not None and getattr(self.memory.spatial, "enabled", False):
            place = self.memory.spatial.current_place
        else:
            place = (state.pos[0] // 4, state.pos[1] // 4)
        self.critic.start(sg, place, state.t)

    def _replan(self, state: State) -> None:
        mem = self.memory
        if mem is not None and self.n_plans % 10 == 0:
            self.planner.refresh(mem.semantic.facts())
            self.world.tree = self.planner.tree  # type: ignore[attr-defined]
        self.plan = self.planner.plan(state, self.world)
        self.n_plans += 1
        self.last_plan_t = state.t
        if mem is not None and self.config.planner.retrieve_on_replan and self.planner.goal and self.n_plans % 20 == 0:
            # what memory recalls about the goal (kept for inspection; the plan already used its parts)
            self.planner.recall = mem.retrieve(self.pre.query(self.planner.goal, self.plan[0] if self.plan else None),
                                               k=3)
        while len(self.plan) > 1 and self.executor.done(self.plan[0], state, state):
            self.plan.pop(0)  # already true (e.g. "near table" while standing by it)
        sg = self.plan[0] if self.plan else Subgoal("explore")
        if sg != self.subgoal:
            self._start(sg, state)

    def _put_aside(self, state: State) -> None:
        """The critic gave up on this subgoal: put its target (and for a while its goal) aside."""
        t = state.t
        tgt = self.executor.last_target
        if tgt is not None:
            self.world.put_aside(tgt[0], tgt[1], t + self.config.critic.blacklist_steps)
        sg = self.subgoal
        if sg is not None and sg.goal and sg.goal not in NEEDS and tgt is None:
            self.planner.put_aside(sg.goal, t + self.config.critic.blacklist_steps / 4)
        self.executor.path = None
        self.subgoal = None


def _prior_facts() -> list[Any]:
    """The packaged Crafter tech tree, for a memoryless run of this agent (no learning then)."""
    from embodied_mem.memory.semantic import _facts_of, load_knowledge

    class _F:
        def __init__(self, d: dict[str, Any]) -> None:
            self.subject, self.relation, self.object = d["subject"], d["relation"], d["object"]
            self.confidence, self.source = float(d.get("confidence", 1.0)), "prior"

    return [_F(d) for d in _facts_of(load_knowledge("crafter"))]
