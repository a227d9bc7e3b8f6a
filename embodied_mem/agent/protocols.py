"""The four roles of the closed loop and the records they exchange (one set for every world).

``AgentLoop`` (``loop.py``) drives, per step::

    obs, info ─► Preprocessor.perceive ─► state ──► Preprocessor.write(memory)      (Percept -> memory)
                                              └─► Executor.preempt (reflexes, needs)
    subgoal due? ─► mem.retrieve(Preprocessor.query) ─► Planner.plan(task, recall, state, world) ─► [Subgoal]
    Executor.act(subgoal) ─► action;  Executor.progress(...) ─► Critic.judge ─► verdict
    verdict: done -> replan · stalled -> put the target aside, replan · loop -> put aside, explore

What differs per world (action tables, skills, priors, vocabulary) lives in one package per world
under ``embodied_mem/agent/worlds/`` and is found through the env's declared description
(``EnvDescription``), never by importing an env module. Everything here is a ``typing.Protocol``
or a small frozen record: a user brings their own role by implementing the methods, nothing else.

Units: ``t`` in env steps (or seconds for robots); positions in the world's memory frame (cells in
grid worlds, metres elsewhere).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from embodied_mem.memory import Memory, Recall

__all__ = ["Action", "Verdict", "VERDICTS", "Scalar", "Subgoal", "Task", "Progress", "Preemption", "SkillSpec",
           "SkillParam", "EnvDescription", "WorldModel", "Preprocessor", "Planner", "Critic", "Executor",
           "WorldKit"]

# An env action: a discrete action id (Crafter, indoor3d) or a structured command (Minecraft:
# ``{"op": "move_to", "x": ..., ...}``). The runner passes it to ``env.step`` unchanged.
Action = int | Mapping[str, object]
Scalar = str | int | float | bool

# ok: working on it · progress: something improved · done: subgoal reached · stalled: no progress
# for critic.stall_steps · loop: oscillation or a repeated (subgoal, place) cycle · off: critic disabled
Verdict = Literal["ok", "progress", "done", "stalled", "loop", "off"]
VERDICTS: tuple[str, ...] = ("ok", "progress", "done", "stalled", "loop", "off")


@dataclass(frozen=True)
class Subgoal:
    """One skill call of a plan: ``kind`` names the skill (a ``SkillSpec.name``: collect, navigate,
    craft, search, explore...), ``target`` the thing it acts on (a label of the world's vocabulary),
    ``item``/``level`` the inventory count it must reach (0: none), ``goal`` the task goal it
    serves (put aside together when the critic gives up on it), ``args`` further named parameters.
    """

    kind: str
    target: str | None = None
    item: str | None = None
    level: int = 0
    goal: str | None = None
    args: tuple[tuple[str, Scalar], ...] = ()

    def __str__(self) -> str:
        s = self.kind if self.target is None else f"{self.kind} {self.target}"
        return s + (f" {self.item}>={self.level}" if self.item else "")


@dataclass(frozen=True)
class Task:
    """What the agent is asked to do: ordered ``goals`` (Crafter achievements, ``collect oak_log``,
    ``find chair``) and a one-line ``text`` for planners that read language (the LLM backend)."""

    goals: tuple[str, ...]
    text: str = ""


@dataclass(frozen=True)
class Progress:
    """What the running skill reports each step; the critic's only input.

    ``position``: the agent's position (memory frame). ``target_distance``: distance to the skill's
    current target (None: no target). ``gained``: how much inventory or task count rose this step
    (vitals excluded). ``new_cells``: cells seen for the first time this step. ``busy``: the agent
    is legitimately waiting (asleep, crafting): counts as progress. ``done``: the subgoal is reached.
    """

    t: float
    position: tuple[float, ...]
    target_distance: float | None = None
    gained: int = 0
    new_cells: int = 0
    busy: bool = False
    done: bool = False


@dataclass(frozen=True)
class Preemption:
    """The executor overrides the plan this step: either a direct ``action`` (a reflex: fight an
    adjacent enemy, sleep on) or a ``need`` subgoal (drink, eat, shelter) that the loop runs under
    the critic before returning to the plan. ``source`` labels it in ``episodes.jsonl``."""

    source: str
    action: Action | None = None
    need: Subgoal | None = None


@dataclass(frozen=True)
class SkillParam:
    """One parameter of a skill: ``name``, JSON ``type`` (string, integer, number, boolean), and the
    allowed values (``choices``: a vocabulary such as the world's labels; empty: any)."""

    name: str
    type: Literal["string", "integer", "number", "boolean"] = "string"
    description: str = ""
    choices: tuple[Scalar, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class SkillSpec:
    """What a planner may ask the executor to do: ``name`` (= ``Subgoal.kind``), a one-line
    ``description`` and its parameters (``target``, ``item``, ``level`` map onto ``Subgoal``'s
    fields, any other name onto ``Subgoal.args``). Enough to build a JSON schema of skill calls."""

    name: str
    description: str
    params: tuple[SkillParam, ...] = ()

    def json_schema(self) -> dict[str, object]:
        """The JSON schema of one call of this skill: ``{"skill": name, <param>: value, ...}``."""
        props: dict[str, object] = {"skill": {"const": self.name}}
        for p in self.params:
            d: dict[str, object] = {"type": p.type}
            if p.description:
                d["description"] = p.description
            if p.choices:
                d["enum"] = list(p.choices)
            props[p.name] = d
        return {"type": "object", "properties": props, "additionalProperties": False,
                "required": ["skill", *[p.name for p in self.params if p.required]]}


@dataclass(frozen=True)
class EnvDescription:
    """What an env declares about itself for agents (``env.metadata["embodied_mem"]``): the
    ``world`` name (selects ``embodied_mem/agent/worlds/<world>``) and its vocabulary: ``labels``
    (things its percepts name, in observation-code order where codes are used), ``inventory``
    (item names in observation order), ``actions`` (discrete action names in id order; empty for
    structured actions), ``extra`` (anything else the world package reads, e.g. Minecraft's frame)."""

    world: str
    labels: tuple[str, ...] = ()
    inventory: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    extra: Mapping[str, object] = field(default_factory=dict)


class WorldModel(Protocol):
    """Where things are (spatial memory merged with the current view, or the view alone). Built per
    episode by ``WorldKit.world_model(memory)``; world packages add their own queries."""

    def update(self, state: object) -> None:
        """The new step's state (the view is always fresher than memory)."""

    def put_aside(self, label: str, where: Hashable, until: float) -> None:
        """Skip target ``(label, where)`` until time ``until`` (the critic gave up on it)."""

    def forget(self) -> None:
        """Drop everything carried between steps (the memoryless baseline calls it every step)."""


class Preprocessor(Protocol):
    """Thalamus: ``(obs, info)`` -> the world's state, the step's ``Percept`` into memory, a query."""

    def reset(self) -> None: ...

    def perceive(self, obs: object, info: Mapping[str, object]) -> object:
        """This step's state (world-specific; must have ``t`` (float) and ``position``). Reads only
        what the sensors give (``obs`` and ``info``), never the simulator."""

    def write(self, memory: Memory | None, info: Mapping[str, object], state: object) -> int | None:
        """Write ``info["percept"]`` into ``memory`` (None or disabled: nothing); returns its id."""

    def query(self, goal: str | None, subgoal: Subgoal | None) -> str:
        """A retrieval query for ``mem.retrieve`` about the current goal."""

    def place(self, state: object) -> Hashable:
        """A coarse place id for cycle detection when spatial memory is off."""


class Planner(Protocol):
    """Prefrontal cortex: task + what memory recalls + state -> ordered subgoals (first = now).

    Backends are registered by name (``planners.register_planner``) and chosen by
    ``agent.planner.backend``; ``symbolic`` is every world's own planner.
    """

    goal: str | None  # the task goal the last plan pursues (for records)

    def reset(self, memory: Memory | None, world: WorldModel) -> None:
        """A new episode (memory None: memoryless, plan from the packaged prior if any)."""

    def refresh(self, memory: Memory | None, world: WorldModel) -> None:
        """Memory's knowledge changed (after ``mem.consolidate()``): rebuild what plans rely on."""

    def plan(self, task: Task, recall: Recall | None, state: object, world: WorldModel) -> list[Subgoal]:
        """Ordered subgoals; ``recall`` is ``mem.retrieve(query)`` when the loop asked memory."""

    def put_aside(self, goal: str | None, until: float) -> None:
        """Do not pursue ``goal`` before ``until`` (the critic gave up on it)."""

    def forget(self) -> None:
        """Drop what is carried between steps (memoryless baseline)."""


class Critic(Protocol):
    """Judges the running subgoal from the skill's ``Progress``: stall, oscillation, cycles."""

    def reset(self) -> None: ...

    def start(self, subgoal: Subgoal, place: Hashable | None, t: float) -> None:
        """A new subgoal begins at ``place``."""

    def judge(self, subgoal: Subgoal | None, progress: Progress) -> Verdict:
        """This step's verdict."""


class Executor(Protocol):
    """Cerebellum: subgoal -> one env action per step through the world's skills."""

    skills: tuple[SkillSpec, ...]  # what planners may call (Subgoal.kind values)
    need_goals: frozenset[str]  # goals of preempting needs: never put aside, replanned after
    idle: Action  # the action that does nothing (noop)

    def reset(self, rng: np.random.Generator) -> None: ...

    def preempt(self, state: object, world: WorldModel) -> Preemption | None:
        """Reflexes and needs that override the plan this step (None: follow the plan)."""

    def begin(self, subgoal: Subgoal) -> None:
        """``subgoal`` starts now (drop the previous one's target)."""

    def act(self, subgoal: Subgoal, state: object, world: WorldModel) -> Action | None:
        """The next action for ``subgoal``; None: it cannot be pursued from here."""

    def done(self, subgoal: Subgoal, state: object, start: object) -> bool:
        """``subgoal`` is reached (``start``: the state when it began)."""

    def explore(self, state: object, world: WorldModel, hint: str | None) -> Action | None:
        """One step of exploration (towards where ``hint`` may be)."""

    def progress(self, subgoal: Subgoal | None, state: object, start: object | None) -> Progress:
        """The progress signal of the running skill (distance to target, count gained...)."""

    def target(self) -> tuple[str, Hashable] | None:
        """``(label, where)`` of what the running skill acts on (put aside when it stalls)."""

    def stop(self, subgoal: Subgoal | None, reason: Literal["put_aside", "unreachable"]) -> None:
        """The loop stops pursuing ``subgoal``: drop its path / held need."""

    def forget(self) -> None:
        """Drop what is carried between steps (memoryless baseline)."""


@runtime_checkable
class WorldKit(Protocol):
    """One world's agent knowledge (``embodied_mem/agent/worlds/<name>``): builds the world's roles
    from the agent config and the env's description. ``config_section`` names its own
    ``agent.<section>`` config block (or None)."""

    name: str
    config_section: str | None

    def skills(self, desc: EnvDescription) -> tuple[SkillSpec, ...]: ...

    def task(self, goals: Sequence[str], desc: EnvDescription) -> Task:
        """The task (``goals`` from ``agent.planner.goals``; empty: the world's default)."""

    def preprocessor(self, config: object, desc: EnvDescription) -> Preprocessor: ...

    def executor(self, config: object, desc: EnvDescription, rng: np.random.Generator) -> Executor: ...

    def symbolic_planner(self, config: object, desc: EnvDescription) -> Planner: ...

    def world_model(self, memory: Memory | None) -> WorldModel: ...
