"""``AgentLoop``: the one closed loop every world runs (preprocessor -> memory -> planner + critic ->
executor), implementing the runner's ``Agent`` contract.

Per step: the preprocessor turns the observation into the world's state and writes the step's
``Percept`` into memory; memory consolidates every ``planner.consolidate_every`` steps (the planner
then refreshes what it knows); the executor may preempt the plan (reflexes, needs — a need runs
under the critic like a subgoal); otherwise the current subgoal runs until the executor says it is
done or the critic says it stalled or loops, and the planner replans (after
``planner.replan_every`` steps anyway), with ``mem.retrieve(query)`` every ``retrieve_every`` plans.

Critic verdicts act here, the same in every world: ``stalled`` puts the skill's target aside in the
world model (for ``critic.blacklist_steps``; with no target the subgoal's goal is put aside in the
planner for a quarter of that) and replans; ``loop`` does the same and explores for
``critic.explore_steps``; ``done`` replans. Replanning and retrieval happen on events, not every
step, to keep the agent's overhead below the env's own step time.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from .base import Agent
from .config import AgentConfig
from .critic import ProgressCritic
from .protocols import Action, Critic, EnvDescription, Executor, Planner, Preprocessor, Subgoal, Task, WorldKit

if TYPE_CHECKING:
    from embodied_mem.memory import Memory, Recall

    from .protocols import WorldModel

__all__ = ["AgentLoop"]


class AgentLoop(Agent):
    """The closed loop over one world's roles. Build it with ``AgentLoop.for_world`` (or pass roles).

    ``memoryless=True`` is the reactive baseline: it never keeps a memory (whatever ``reset`` is
    given), replans every step and forgets every role's carried state each step.
    """

    def __init__(self, config: AgentConfig, *, kit: WorldKit, desc: EnvDescription, preprocessor: Preprocessor,
                 planner: Planner, executor: Executor, critic: Critic | None = None, task: Task,
                 seed: int | None = None, memoryless: bool = False) -> None:
        self.config = config
        self.kit, self.desc = kit, desc
        self.pre, self.planner, self.executor = preprocessor, planner, executor
        self.critic: Critic = critic if critic is not None else ProgressCritic(config.critic)
        self.task = task
        self.memoryless = memoryless
        self.name = config.name
        self.uses_memory = not memoryless
        self.rng = np.random.default_rng(seed)
        self.memory: Memory | None = None
        self.world: WorldModel = kit.world_model(None)
        self.plan: list[Subgoal] = []
        self.subgoal: Subgoal | None = None
        self.start_state: object | None = None
        self.verdict = "ok"
        self.last_plan_t = -1e9
        self.explore_until = -1.0
        self.last_action: Action = executor.idle
        self.source = "plan"
        self.n_plans = 0
        self.recall: Recall | None = None
        self.intervention: str | None = None  # what the critic made the loop do this step (for records)
        self.executor.reset(self.rng)
        section = [f"agent.{kit.config_section}"] if kit.config_section else []
        if memoryless:  # no memory, no critic, replans every step: only these settings act
            reads = ["agent.planner.backend", "agent.planner.goals", "agent.planner.use_prior", "agent.planner.llm"]
        else:
            reads = ["agent.preprocessor", "agent.planner", "agent.critic"]
        self.reads_config = frozenset(reads + section)

    @classmethod
    def for_world(cls, config: AgentConfig, desc: EnvDescription, *, seed: int | None = None,
                  memoryless: bool = False) -> AgentLoop:
        """Build the loop for the world ``desc`` names: its kit's roles and the configured planner backend."""
        from .config import check_planner_sections, check_world_sections
        from .planners import make_planner
        from .worlds import world_kit

        kit = world_kit(desc.world)
        check_world_sections(config, kit.name)
        check_planner_sections(config)
        rng = np.random.default_rng(seed)
        return cls(config, kit=kit, desc=desc, preprocessor=kit.preprocessor(config, desc),
                   planner=make_planner(config, kit, desc), executor=kit.executor(config, desc, rng),
                   task=kit.task(config.planner.goals, desc), seed=seed, memoryless=memoryless)

    # ------------------------------------------------------------------ Agent API
    def reset(self, memory: Memory | None, *, seed: int | None = None) -> None:
        if self.memoryless:
            memory = None
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.memory = memory
        self.world = self.kit.world_model(memory)
        self.pre.reset()
        self.critic.reset()
        self.executor.reset(self.rng)
        self.plan, self.subgoal, self.start_state = [], None, None
        self.verdict, self.last_plan_t, self.explore_until = "ok", -1e9, -1.0
        self.n_plans = 0
        self.recall = None
        self.planner.reset(memory, self.world)

    def act(self, obs: object, info: Mapping[str, object]) -> Action:
        self.intervention = None
        if self.memoryless:
            self.executor.forget()  # nothing carried over between steps but what the executor keeps to wander
            self.planner.forget()
            self.world.forget()
        state = self.pre.perceive(obs, info)
        t = float(state.t)  # type: ignore[attr-defined]
        mem = self.memory
        if mem is not None:
            self.pre.write(mem, info, state)
            every = self.config.planner.consolidate_every
            if every and int(t) % every == 0 and t > 0:
                mem.consolidate()
                self.planner.refresh(mem, self.world)
        self.world.update(state)
        ex = self.executor
        pre = ex.preempt(state, self.world)
        if pre is not None and pre.need is None:
            self.source, self.last_action = pre.source, pre.action if pre.action is not None else ex.idle
            return self.last_action
        if pre is not None and pre.need is not None:
            self.last_action = self._need_step(pre.need, pre.source, state)
            return self.last_action
        self.last_action = self._plan_step(state, t)
        return self.last_action

    def check_ablation(self, name: str) -> None:
        """Refuse an ablation (``configs/ablation/<name>``) that cannot change this world's decisions.

        A world kit may declare ``ablations`` (the names that act in it) and ``ablation_note`` (why
        the others cannot); kits that declare none accept every ablation. Raises ``ValueError``."""
        acting = getattr(self.kit, "ablations", None)
        if acting is None or name in acting:
            return
        note = getattr(self.kit, "ablation_note", "")
        raise ValueError(f"ablation {name!r} cannot act in the {self.kit.name!r} world{': ' + note if note else ''}; "
                         f"ablations that act here: {sorted(acting)}")

    def artefacts(self, run_dir: object, memory: Memory | None = None) -> list[object]:
        """What the world's roles draw of their own state (a role with an ``artefacts(run_dir,
        memory)`` method: e.g. object search's fused 3D surface)."""
        out: list[object] = []
        for role in (self.pre, self.executor, self.world):
            hook = getattr(role, "artefacts", None)
            if callable(hook):
                out += list(hook(run_dir, memory) or [])
        return out

    def record(self) -> dict[str, object]:
        """The last decision; ``critic`` (only when it intervened this step) says what it put aside;
        a planner with a ``record()`` of its own (the LLM backend: where the plan came from) adds it."""
        rec: dict[str, object] = {"subgoal": str(self.subgoal) if self.subgoal else None, "goal": self.planner.goal,
                                  "verdict": self.verdict, "by": self.source}
        if self.intervention is not None:
            rec["critic"] = self.intervention
        extra = getattr(self.planner, "record", None)
        if callable(extra):
            rec.update(extra())
        return rec

    def episode_metrics(self) -> dict[str, object]:
        """The planner's episode report when it keeps one (the LLM backend: decisions, latency, fallbacks)."""
        metrics = getattr(self.planner, "metrics", None)
        return {"planner": metrics()} if callable(metrics) else {}

    # ------------------------------------------------------------------ the loop
    def _need_step(self, need: Subgoal, source: str, state: object) -> Action:
        """A need preempts the plan; the critic judges it like any subgoal (unreachable water...)."""
        ex = self.executor
        if self.subgoal != need:
            self._start(need, state)
        a = ex.act(need, state, self.world)
        if self._judge(state) in ("stalled", "loop"):
            self._put_aside(state)
            a = ex.act(need, state, self.world)
        if a is not None:
            self.source = source
            return a
        ex.stop(need, "unreachable")  # cannot satisfy it from here (nothing known): explore instead
        a = ex.explore(state, self.world, need.target)
        self.source = source + "-explore"
        return a if a is not None else ex.idle

    def _plan_step(self, state: object, t: float) -> Action:
        ex = self.executor
        if t < self.explore_until:
            self.source = "explore(loop)"
            a = ex.explore(state, self.world, None)
            return a if a is not None else ex.idle
        for _ in range(3):
            if self.subgoal is None or self.subgoal.goal in ex.need_goals or \
                    t - self.last_plan_t >= self.config.planner.replan_every:
                self._replan(state, t)
            assert self.subgoal is not None
            if self.start_state is not None and ex.done(self.subgoal, state, self.start_state):
                self.verdict = "done"
                self.subgoal = None  # replan from what is known now (the rest of the old plan may be stale)
                continue
            a = ex.act(self.subgoal, state, self.world)
            verdict = self._judge(state)
            if a is None or verdict == "stalled":
                self._put_aside(state)
                self._replan(state, t)
                continue
            if verdict == "loop":
                self._put_aside(state)
                self.explore_until = t + self.config.critic.explore_steps
                self.subgoal = None
                self.source = "explore(loop)"
                a2 = ex.explore(state, self.world, None)
                return a2 if a2 is not None else ex.idle
            self.source = "plan"
            return a
        self.source = "fallback"
        a = ex.explore(state, self.world, None)
        return a if a is not None else ex.idle

    def _judge(self, state: object) -> str:
        progress = self.executor.progress(self.subgoal, state, self.start_state)
        self.verdict = self.critic.judge(self.subgoal, progress)
        return self.verdict

    def _place(self, state: object) -> Hashable:
        mem = self.memory
        if mem is not None and getattr(mem.spatial, "enabled", False):
            return mem.spatial.current_place
        return self.pre.place(state)

    def _start(self, sg: Subgoal, state: object) -> None:
        self.subgoal = sg
        self.start_state = state
        self.executor.begin(sg)
        self.critic.start(sg, self._place(state), float(state.t))  # type: ignore[attr-defined]

    def _replan(self, state: object, t: float) -> None:
        mem, cfg = self.memory, self.config.planner
        if mem is not None and self.n_plans % 10 == 0:
            self.planner.refresh(mem, self.world)
        recall = None
        if mem is not None and cfg.retrieve_on_replan and cfg.retrieve_every > 0 and self.n_plans % cfg.retrieve_every == 0:
            recall = mem.retrieve(self.pre.query(self.planner.goal, self.subgoal), k=3)
            self.recall = recall  # kept for inspection
        self.plan = self.planner.plan(self.task, recall, state, self.world)
        self.n_plans += 1
        self.last_plan_t = t
        ex = self.executor
        while len(self.plan) > 1 and ex.done(self.plan[0], state, state):
            self.plan.pop(0)  # already true (e.g. "near table" while standing by it)
        sg = self.plan[0] if self.plan else Subgoal("explore")
        if sg != self.subgoal:
            self._start(sg, state)

    def _put_aside(self, state: object) -> None:
        """The critic gave up on this subgoal: put its target (or, without one, its goal) aside."""
        t = float(state.t)  # type: ignore[attr-defined]
        cfg = self.config.critic
        tgt = self.executor.target()
        what = f"{self.verdict}: {self.subgoal}"
        if tgt is not None:
            self.world.put_aside(tgt[0], tgt[1], t + cfg.blacklist_steps)
            what += f", put aside {tgt[0]} at {tgt[1]}"
        sg = self.subgoal
        if sg is not None and sg.goal and sg.goal not in self.executor.need_goals and tgt is None:
            self.planner.put_aside(sg.goal, t + cfg.blacklist_steps / 4)
            what += f", put aside goal {sg.goal}"
        elif tgt is None:
            what += ", dropped (no target to put aside)"
        self.intervention = what
        self.executor.stop(sg, "put_aside")
        self.subgoal = None
