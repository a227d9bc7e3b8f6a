"""The ``llm`` planner backend: an OpenAI-compatible model plans skill calls; symbolic on failure.

On each replan the loop asks for (``AgentLoop`` calls ``plan`` on events: subgoal done, stalled,
looping, or every ``planner.replan_every`` steps), ``LLMPlanner``:

1. if the last LLM decision is fewer than ``llm.min_interval_steps`` steps old, lets the symbolic
   planner plan (keeps the LLM off the per-step path; ``min_interval_steps=0``: the LLM makes
   every plan);
2. else asks the symbolic planner what it would do (its goal focuses the memory query and, with
   ``llm.suggest``, its first steps are shown to the model as a suggestion the model may override),
   retrieves ``mem.retrieve(query)`` — spatial beliefs, temporal facts, episodic chunks, semantic
   facts — and asks the model for a JSON plan of the world's skill calls (``kit.skills(desc)``);
   the loop runs its first step until done, stalled, looping or the next replan;
3. on an invalid answer, a timeout, a refusal or a transport error, uses the symbolic plan: the
   run goes on, and the fallback is counted.

``metrics()`` summarises the episode's decisions (count, fallbacks and why, invalid-output rate,
latency p50/p99 in ms over answered requests, tokens, cache hits) for ``metrics.json``. The
decision cache lives beside the memory file (the run directory) unless ``llm.cache_dir`` says
otherwise, so a rerun of the same run sends no request and takes the same decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .answer import SkillCall
from .config import LLMConfig
from .decide import LLMDecider, summarize

if TYPE_CHECKING:
    from embodied_mem.memory import Memory, Recall

    from ..protocols import EnvDescription, Planner, Subgoal, Task, WorldKit, WorldModel

__all__ = ["LLMPlanner", "make_llm_planner", "state_summary", "frame_of"]

_SUBGOAL_FIELDS = ("item", "level")


class LLMPlanner:
    """Planner protocol over an ``LLMDecider``, with ``fallback`` (the world's symbolic planner)."""

    def __init__(self, config: LLMConfig, skills: Sequence[Any], fallback: Planner) -> None:
        self.config = config
        self.skills = tuple(skills)
        self.fallback = fallback
        self.decider = LLMDecider(config, self.skills, cache_dir=config.cache_dir or None)
        self.memory: Memory | None = None
        self.goal: str | None = None
        self.queue: list[Subgoal] = []
        self.last_llm_t = -1e18
        self.source = "symbolic"
        self.n_plans = {"llm": 0, "fallback": 0, "symbolic": 0}
        self._first_record = 0

    # ------------------------------------------------------------------ Planner protocol
    def reset(self, memory: Memory | None, world: WorldModel) -> None:
        self.fallback.reset(memory, world)
        self.memory = memory
        cache_dir = self.config.cache_dir or _run_dir(memory)
        if cache_dir is not None and self.decider.cache is not None and self.decider.cache.path is None:
            self.decider = LLMDecider(self.config, self.skills, cache_dir=cache_dir, client=self.decider.client)
        self.goal, self.queue, self.last_llm_t, self.source = None, [], -1e18, "symbolic"
        self.n_plans = dict.fromkeys(self.n_plans, 0)
        self._first_record = len(self.decider.records)

    def refresh(self, memory: Memory | None, world: WorldModel) -> None:
        self.fallback.refresh(memory, world)

    def put_aside(self, goal: str | None, until: float) -> None:
        self.fallback.put_aside(goal, until)

    def forget(self) -> None:
        self.fallback.forget()
        self.queue = []

    def plan(self, task: Task, recall: Recall | None, state: Any, world: WorldModel) -> list[Subgoal]:
        t = float(state.t)
        # The LLM's plan ran until its first step was done, stalled, looped or its replan time came
        # (the loop only runs a plan's head). Its later steps are not followed blindly: a model may
        # plan steps that cannot run yet (place a table with no wood); the critic stops such a step,
        # and from here the symbolic planner or a new LLM decision plans.
        self.queue = []
        symbolic = self.fallback.plan(task, recall, state, world)
        self.goal = self.fallback.goal
        if t - self.last_llm_t < self.config.min_interval_steps:
            self.source = "symbolic"
            self.n_plans["symbolic"] += 1
            return symbolic
        self.last_llm_t = t
        mem = self.memory
        if mem is not None:
            recall = mem.retrieve(self._query(task, symbolic), k=3)
        suggestion = symbolic[:2] if self.config.suggest else []
        d = self.decider.decide(task_text(task, state, suggestion), recall, state=state_summary(state), now=t,
                                frame=frame_of(state))
        if d.calls is None:
            self.source = f"fallback({d.fallback})"
            self.n_plans["fallback"] += 1
            return symbolic
        self.queue = [to_subgoal(c, None) for c in d.calls]  # the model names no task goal
        self.source = "llm"
        self.n_plans["llm"] += 1
        return list(self.queue)

    # ------------------------------------------------------------------ bookkeeping
    def metrics(self) -> dict[str, Any]:
        """This episode's LLM decisions (see ``LLMDecider.summary``) and how plans were made."""
        out = summarize(self.decider.records[self._first_record:])
        out["plans"] = dict(self.n_plans)
        out["model"] = self.config.model
        return out

    def record(self) -> dict[str, Any]:
        """The last plan's origin for ``episodes.jsonl``: llm, symbolic, or fallback(<reason>)."""
        return {"planner": self.source}

    def _query(self, task: Task, symbolic: list[Subgoal]) -> str:
        words = [self.goal or ""] + [w for sg in symbolic[:3] for w in (sg.target, sg.item) if w]
        if not self.goal:
            words += list(task.goals[:3])
        return " ".join(w for w in words if w) or (task.text or "surroundings")


def to_subgoal(call: SkillCall, goal: str | None) -> Subgoal:
    """A validated skill call as the loop's ``Subgoal`` (``item``/``level`` onto their fields)."""
    from ..protocols import Subgoal

    args = dict(call.args)
    item = args.pop("item", None)
    level = args.pop("level", 0)
    return Subgoal(call.skill, call.target, item=item, level=int(level or 0), goal=goal,
                   args=tuple(sorted(args.items())))


def task_text(task: Task, state: Any, suggestion: Sequence[Subgoal] = ()) -> str:
    """The task line: its text, the goals not reached yet (when the state tells), a suggestion."""
    goals = list(task.goals)
    unlocked = getattr(state, "unlocked", None)
    if callable(unlocked):
        goals = [g for g in goals if not unlocked(g)]
    text = task.text or "reach the goals"
    listed = ", ".join(task.goals)
    if goals != list(task.goals) and listed and text.endswith(listed):
        text = text[: -len(listed)].rstrip(" :,")  # the task text lists every goal: list the open ones only
    if goals:
        text += ". Goals not reached yet, in order: " + ", ".join(goals[:8]) + (", ..." if len(goals) > 8 else "")
    if suggestion:
        text += ". A rule-based planner suggests: " + "; ".join(_call_text(sg) for sg in suggestion) + \
            " (follow it unless memory shows a better plan)"
    return text


def _call_text(sg: Subgoal) -> str:
    parts = [f'"skill": "{sg.kind}"'] + ([f'"target": "{sg.target}"'] if sg.target else [])
    if sg.item:
        parts += [f'"item": "{sg.item}"', f'"level": {sg.level}']
    return "{" + ", ".join(parts) + "}"


def state_summary(state: Any) -> dict[str, Any]:
    """What the model is told about the agent now: ``state.describe()`` if the world offers it, else
    time, position (``position``, ``pos`` or ``pose``), the episode's ``goal`` and the non-zero
    inventory, read off the state's common fields."""
    describe = getattr(state, "describe", None)
    if callable(describe):
        return dict(describe())
    out: dict[str, Any] = {"t": getattr(state, "t", None)}
    pos = getattr(state, "position", None)
    if pos is None:
        pos = getattr(state, "pos", None)
    pose = getattr(state, "pose", None)
    if pos is None and pose is not None and hasattr(pose, "x"):
        pos = (pose.x, pose.y)
    if pos is not None:
        out["position"] = tuple(round(float(v), 2) for v in pos)
    goal = getattr(state, "goal", None)
    if isinstance(goal, str):
        out["goal"] = goal
    inv = getattr(state, "inventory", None)
    if isinstance(inv, Mapping):
        out["inventory"] = {k: v for k, v in inv.items() if v}
    return {k: v for k, v in out.items() if v is not None}


def frame_of(state: Any) -> Any:
    """The RGB frame the world rendered this step (``state.frame`` or ``state.rgb``, H×W×3), or None."""
    for name in ("frame", "rgb"):
        f = getattr(state, name, None)
        if f is not None and getattr(f, "ndim", 0) == 3 and f.shape[-1] == 3:
            return f
    return None


def _run_dir(memory: Any) -> Path | None:
    path = getattr(memory, "path", None)
    return Path(path).parent if path else None


def make_llm_planner(config: Any, kit: WorldKit, desc: EnvDescription, fallback: Planner) -> LLMPlanner:
    """Backend factory for ``agent.planner.backend=llm`` (settings in ``agent.planner.llm``)."""
    llm = config.planner.llm
    if not isinstance(llm, LLMConfig):
        llm = LLMConfig(**dict(llm))
    return LLMPlanner(llm, kit.skills(desc), fallback)
