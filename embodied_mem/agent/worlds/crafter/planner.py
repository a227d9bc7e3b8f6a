"""Prefrontal-like symbolic planner: goal + what memory knows -> ordered subgoals (no LLM).

The plan is built over semantic memory's facts about actions (``TechTree.from_facts``): the Crafter
tech tree loaded as a prior (``mem.load_priors("crafter")``: ``"do stone" requires "wood_pickaxe"``,
``"make_stone_pickaxe" consumes "1 stone"``...) and/or facts consolidated from the agent's own
experience (``"do tree" yields "+1 wood"``, ``"make_wood_pickaxe grass" yields "-1 wood"``). Where
things are comes from spatial memory (``WorldModel``). An achievement's name says what it means
(``collect_X``: get item X, ``make_X``: get tool X, ``place_X``: do ``place_X``, ``eat_cow``: do
cow...), the facts say how to get there. Unknown recipes lead to ``experiment`` subgoals (try an
action not tried yet), unknown places to ``explore`` subgoals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...config import PlannerConfig
from ...protocols import Subgoal, Task
from .config import CrafterConfig

__all__ = ["Subgoal", "Recipe", "TechTree", "CrafterPlanner", "DEFAULT_GOALS", "goal_meaning"]

# Crafter's achievements in the order the planner pursues them (cheap and enabling ones first).
DEFAULT_GOALS: tuple[str, ...] = (
    "collect_wood", "place_table", "make_wood_pickaxe", "make_wood_sword", "collect_sapling", "place_plant",
    "collect_drink", "wake_up", "eat_cow", "collect_stone", "place_stone", "make_stone_pickaxe", "make_stone_sword",
    "place_furnace", "collect_coal", "collect_iron", "make_iron_pickaxe", "make_iron_sword", "collect_diamond",
    "defeat_zombie", "eat_plant", "defeat_skeleton",
)

STATIONS = ("table", "furnace")
_DELTA = re.compile(r"^([+-]\d+) (\w+)$")
_AMOUNT = re.compile(r"^(\d+) (\w+)$")


@dataclass
class Recipe:
    """What an action key does: ``"do tree"``, ``"make_wood_pickaxe"``, ``"place_table"``, ``"sleep"``."""

    key: str
    yields: dict[str, int] = field(default_factory=dict)
    consumes: dict[str, int] = field(default_factory=dict)
    requires: set[str] = field(default_factory=set)
    near: set[str] = field(default_factory=set)
    on: set[str] = field(default_factory=set)
    unlocks: set[str] = field(default_factory=set)
    confidence: float = 1.0

    @property
    def action(self) -> str:
        return self.key.split()[0]

    @property
    def target(self) -> str | None:
        parts = self.key.split()
        return parts[1] if len(parts) > 1 else None


class TechTree:
    """Recipes indexed by what they yield and unlock, built from ``Fact``-like objects."""

    def __init__(self, recipes: dict[str, Recipe]) -> None:
        self.recipes = recipes
        self._producers: dict[str, list[Recipe]] = {}
        for r in recipes.values():
            for item, n in r.yields.items():
                if n > 0:
                    self._producers.setdefault(item, []).append(r)
        for lst in self._producers.values():
            lst.sort(key=lambda r: (-r.confidence, len(r.requires), r.key))

    @staticmethod
    def from_facts(facts: list[Any], *, prior: bool = True, learned: bool = True) -> TechTree:
        recipes: dict[str, Recipe] = {}
        for f in facts:
            src = getattr(f, "source", "prior")
            is_prior = src == "prior"
            if (is_prior and not prior) or (not is_prior and not learned):
                continue
            key = _normalise_key(f.subject)
            rel, obj = f.relation, f.object
            if rel not in ("yields", "consumes", "requires", "near", "on", "unlocks"):
                continue
            r = recipes.setdefault(key, Recipe(key))
            if rel == "yields":
                m = _DELTA.match(obj)
                if m:
                    n, item = int(m.group(1)), m.group(2)
                    if n > 0:
                        r.yields[item] = max(n, r.yields.get(item, 0))
                        r.confidence = min(r.confidence, float(f.confidence)) if is_prior else float(f.confidence)
                    elif item not in ("health", "food", "drink", "energy"):
                        r.consumes[item] = max(-n, r.consumes.get(item, 0))
                elif obj.startswith("achievement "):
                    r.unlocks.add(obj.split(" ", 1)[1])
            elif rel == "consumes":
                m = _AMOUNT.match(obj)
                if m:
                    r.consumes[m.group(2)] = int(m.group(1))
            elif rel == "requires":
                r.requires.add(obj)
            elif rel == "near":
                r.near.add(obj)
            elif rel == "on":
                r.on.add(obj)
            elif rel == "unlocks":
                r.unlocks.add(obj)
        return TechTree(recipes)

    def producer(self, item: str) -> Recipe | None:
        lst = self._producers.get(item)
        return lst[0] if lst else None

    def get(self, key: str) -> Recipe | None:
        return self.recipes.get(key)

    def __len__(self) -> int:
        return len(self.recipes)


def _normalise_key(subject: str) -> str:
    # Learned keys carry the faced target ("make_wood_pickaxe grass"); for crafting, placing and
    # sleeping what was faced does not matter, so they share one recipe.
    parts = subject.split()
    if parts and (parts[0].startswith(("make_", "place_")) or parts[0] in ("sleep", "noop")):
        return parts[0]
    return subject


# What each achievement means (its name), independent of how to get there.
def goal_meaning(achievement: str) -> tuple[str, str]:
    """``("item", X)`` to obtain item X, or ``("action", key)`` to perform an action key."""
    if achievement.startswith("collect_"):
        return ("item", achievement[len("collect_"):])
    if achievement.startswith("make_"):
        return ("item", achievement[len("make_"):])
    if achievement.startswith("place_"):
        return ("action", achievement)
    return {"eat_cow": ("action", "do cow"), "eat_plant": ("action", "do ripe_plant"),
            "defeat_zombie": ("action", "do zombie"), "defeat_skeleton": ("action", "do skeleton"),
            "wake_up": ("action", "sleep")}.get(achievement, ("action", achievement))


class NoPlan(Exception):
    pass


class CrafterPlanner:
    """The symbolic ``Planner`` in Crafter: chooses the next goal and expands it into ordered subgoals.

    ``world`` (a ``ViewWorld``/``MemoryWorld``) answers where things are; ``tree`` is rebuilt from
    memory's facts when they change (``refresh``; without memory, from the packaged prior).
    ``plan`` returns a list of subgoals whose first one is the thing to do now; it is cheap enough
    to call on every replan, not on every step. ``recall`` is not needed: it reads memory directly.
    """

    def __init__(self, config: PlannerConfig, crafter: CrafterConfig | None = None) -> None:
        self.config = config
        self.crafter = crafter or CrafterConfig()
        self.goals: tuple[str, ...] = tuple(config.goals) or DEFAULT_GOALS
        self.tree = TechTree({})
        self.cooldown: dict[str, float] = {}  # goal -> step until which it is put aside
        self.goal: str | None = None
        self.n_facts = -1
        self.recall: Any = None

    # ------------------------------------------------------------------ the Planner protocol
    def reset(self, memory: Any, world: Any) -> None:
        self.cooldown.clear()
        self.goal = None
        self.n_facts = -1
        self.recall = None
        self.refresh(memory, world)

    def refresh(self, memory: Any, world: Any) -> None:
        """Rebuild the tech tree from memory's facts (the packaged prior without memory); share it with the world."""
        self.refresh_facts(memory.semantic.facts() if memory is not None else prior_facts())
        world.tree = self.tree

    def plan(self, task: Task, recall: Any, state: Any, world: Any) -> list[Subgoal]:
        """Ordered subgoals for the first of ``task.goals`` that can make progress now."""
        self.recall = recall if recall is not None else self.recall
        world.tree = self.tree
        return self.plan_goals(task.goals, state, world)

    def forget(self) -> None:
        self.cooldown.clear()

    def put_aside(self, goal: str | None, until: float) -> None:
        if goal:
            self.cooldown[goal] = until

    def refresh_facts(self, facts: list[Any]) -> None:
        """Rebuild the tech tree when memory's facts changed."""
        if len(facts) != self.n_facts:
            self.n_facts = len(facts)
            self.tree = TechTree.from_facts(facts, prior=self.config.use_prior, learned=self.config.use_learned)

    # ------------------------------------------------------------------ planning
    def plan_goals(self, goals: Any, state: Any, world: Any) -> list[Subgoal]:
        """Ordered subgoals for the first goal that can make progress now (explore/experiment if none)."""
        fallback: list[Subgoal] | None = None
        for goal in goals:
            if state.unlocked(goal) or self.cooldown.get(goal, -1) > state.t:
                continue
            if goal.startswith("defeat_") and state.inventory.get("health", 9) < self.crafter.fight_health:
                continue  # pick fights only when healthy
            try:
                steps = self.expand(goal, state, world)
            except NoPlan:
                continue
            if not steps:
                continue
            if steps[0].kind in ("explore", "experiment", "wait"):
                if fallback is None:
                    fallback = steps
                continue
            self.goal = goal
            return steps
        if fallback is not None:
            self.goal = fallback[0].goal
            return fallback
        self.goal = None
        return self.maintenance(state, world)

    def maintenance(self, state: Any, world: Any) -> list[Subgoal]:
        """Once every reachable goal is done: hunt what is left, keep a stock of materials, explore."""
        for label in ("zombie", "skeleton"):
            if state.inventory.get("health", 9) >= self.crafter.fight_health and \
                    world.nearest(label, state.pos, max_dist=12) is not None:
                return [Subgoal("hunt", label, goal="defeat_" + label)]
        inv = state.inventory
        if inv.get("sapling", 0) > 0:
            return [Subgoal("place", "plant", goal="place_plant")]
        if inv.get("wood_pickaxe", 0) and inv.get("stone", 0) < 5 and world.nearest("stone", state.pos, 15):
            return [Subgoal("collect", "stone", item="stone", level=5, goal=None)]
        return [Subgoal("explore", None, goal=None)]

    def expand(self, goal: str, state: Any, world: Any) -> list[Subgoal]:
        """Subgoals reaching ``goal`` from ``state`` (first one = now). Raises NoPlan if impossible now."""
        inv = dict(state.inventory)
        kind, what = goal_meaning(goal)
        out: list[Subgoal] = []
        if goal == "wake_up" and inv.get("energy", 9) >= 9:
            raise NoPlan("not tired")
        if kind == "item":
            if inv.get(what, 0) >= 9:  # inventories stop at 9: act as if one short (the unlock ends it)
                inv[what] = 8
            self._obtain(what, min(9, inv.get(what, 0) + 1), inv, state, world, out, goal, depth=0)
        else:
            self._perform(what, inv, state, world, out, goal, depth=0)
        return out

    def _perform(self, key: str, inv: dict[str, int], state: Any, world: Any, out: list[Subgoal], goal: str,
                 depth: int) -> None:
        if depth > 6:
            raise NoPlan("too deep")
        r = self.tree.get(key)
        action, _, target = key.partition(" ")
        if r is None and action in ("do", "sleep"):
            r = Recipe(key)  # interacting needs no recipe; what it requires may be unknown
        if r is None:
            out.append(Subgoal("experiment", key, goal=goal))
            return
        for tool in sorted(r.requires):
            if inv.get(tool, 0) < 1:
                self._obtain(tool, 1, inv, state, world, out, goal, depth + 1)
        # Stations must all be next to one cell: the first one (the table) anchors the others.
        stations = sorted(r.near, key=lambda n: (n != "table", n))
        anchor, missing_stations, present = None, [], []
        for st in stations:
            if anchor is None:
                cell = world.nearest(st, state.pos, max_dist=self.crafter.station_radius)
            else:
                cell = world.nearest(st, anchor, max_dist=2)
            if cell is None:
                missing_stations.append(st)
            else:
                present.append(st)
                anchor = anchor or cell
        needs = dict(r.consumes)
        for st in missing_stations:
            pr = self.tree.get(f"place_{st}")
            for item, n in (pr.consumes.items() if pr else ()):
                needs[item] = needs.get(item, 0) + n
        for item, n in sorted(needs.items()):
            if inv.get(item, 0) < n:
                self._obtain(item, n, inv, state, world, out, goal, depth + 1)
        if present and missing_stations:
            out.append(Subgoal("near", present[0], goal=goal))  # place the others next to it
        for st in missing_stations:
            pr = self.tree.get(f"place_{st}")
            if pr is None:
                out.append(Subgoal("experiment", f"place_{st}", goal=goal))
                return
            out.append(Subgoal("place", st, goal=goal))
            for item, n in pr.consumes.items():
                inv[item] = inv.get(item, 0) - n
            world.planned_station(st)
        if present and not missing_stations:
            out.append(Subgoal("near", present[0], goal=goal))
        if action == "do" and world.nearest(target, state.pos) is None:
            if target == "ripe_plant":
                if world.nearest("plant", state.pos) is None:
                    raise NoPlan("no plant growing")
                out.append(Subgoal("wait", "plant", goal=goal))  # plants grow only while the player is near
            else:
                out.append(Subgoal("explore", target, goal=goal))
        elif action == "do":
            kind = "hunt" if target in ("cow", "zombie", "skeleton", "ripe_plant") else "collect"
            item = next(iter(r.yields), None)
            level = inv.get(item, 0) + 1 if item else 0
            out.append(Subgoal(kind, target, item=item if kind == "collect" else None, level=level, goal=goal))
        elif action == "sleep":
            out.append(Subgoal("sleep", None, goal=goal))
        elif action.startswith("place_"):
            out.append(Subgoal("place", action[len("place_"):], goal=goal))
        elif action.startswith("make_"):
            out.append(Subgoal("make", action[len("make_"):], goal=goal))
        for item, n in r.consumes.items():
            inv[item] = inv.get(item, 0) - n
        for item, n in r.yields.items():
            inv[item] = inv.get(item, 0) + n

    def _obtain(self, item: str, level: int, inv: dict[str, int], state: Any, world: Any, out: list[Subgoal],
                goal: str, depth: int) -> None:
        if inv.get(item, 0) >= level:
            return
        r = self.tree.producer(item)
        if r is None:
            out.append(Subgoal("experiment", item, goal=goal))
            return
        if r.action == "do":
            for tool in sorted(r.requires):
                if inv.get(tool, 0) < 1:
                    self._obtain(tool, 1, inv, state, world, out, goal, depth + 1)
            target = r.target or "grass"
            if world.nearest(target, state.pos) is None and target != "grass":
                out.append(Subgoal("explore", target, goal=goal))
                inv[item] = level
                return
            out.append(Subgoal("collect", target, item=item, level=level, goal=goal))
            inv[item] = level
            return
        while inv.get(item, 0) < level:
            before = len(out)
            self._perform(r.key, inv, state, world, out, goal, depth + 1)
            if len(out) == before or r.yields.get(item, 0) <= 0:
                break


def prior_facts() -> list[Any]:
    """The packaged Crafter tech tree as facts (source ``"prior"``), for a memoryless run (no learning then)."""
    from embodied_mem.memory.semantic import knowledge_facts, load_knowledge

    class _Fact:
        def __init__(self, d: dict[str, Any]) -> None:
            self.subject, self.relation, self.object = d["subject"], d["relation"], d["object"]
            self.confidence, self.source = float(d.get("confidence", 1.0)), "prior"

    return [_Fact(d) for d in knowledge_facts(load_knowledge("crafter"))]
