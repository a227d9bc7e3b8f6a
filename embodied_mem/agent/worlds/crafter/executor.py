"""Cerebellum-like executor: one subgoal -> one primitive Crafter action per step.

Navigation follows paths from the world model (A* over spatial memory's occupancy via
``mem.spatial.path(..., adjacent=True)``, or BFS in view), kept while they stay valid instead of
being recomputed every step; exploration heads for ``frontiers()``; with a pickaxe it digs
through stone toward targets no known path reaches. Survival reflexes (fight adjacent zombies and
skeletons; drink, eat, sleep when a vital runs low) come before the plan. It never steps onto
lava and never reads anything but the ``State`` (view, inventory, own pose) and the world model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...protocols import Action, Preemption, Progress, SkillSpec, Subgoal
from .config import CrafterConfig
from .food import FoodPlan
from .world import CREATURES, WALKABLE

__all__ = ["CrafterExecutor", "ACTION_IDS", "ACTIONS", "NEED_GOALS", "VITALS"]

# Crafter's action table, in action-id order (the env declares the same names; the kit checks they match)
ACTIONS: tuple[str, ...] = (
    "noop", "move_left", "move_right", "move_up", "move_down", "do", "sleep", "place_stone", "place_table",
    "place_furnace", "place_plant", "make_wood_pickaxe", "make_stone_pickaxe", "make_iron_pickaxe", "make_wood_sword",
    "make_stone_sword", "make_iron_sword")
ACTION_IDS = {name: i for i, name in enumerate(ACTIONS)}
NOOP, DO, SLEEP = ACTION_IDS["noop"], ACTION_IDS["do"], ACTION_IDS["sleep"]
MOVES = {(-1, 0): 1, (1, 0): 2, (0, -1): 3, (0, 1): 4}
DIRS = tuple(MOVES)
PLACE_ON = {"stone": frozenset({"grass", "sand", "path", "water", "lava"}),
            "table": frozenset({"grass", "sand", "path"}), "furnace": frozenset({"grass", "sand", "path"}),
            "plant": frozenset({"grass"})}
MINE_TOOL = {"tree": None, "stone": "wood_pickaxe", "coal": "wood_pickaxe", "iron": "stone_pickaxe",
             "diamond": "iron_pickaxe"}
ENEMIES = ("zombie", "skeleton")
NEED_GOALS = frozenset({"drink", "eat", "rest", "night", "heal"})  # survival needs' goal names (not achievements)
VITALS = frozenset({"health", "food", "drink", "energy"})
_RANK = {"drink": 0, "eat": 1, "heal": 2, "night": 3, "rest": 4}  # survival needs, most pressing first


def _md(a: tuple[int, int], b: tuple[int, int]) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def _add(a: tuple[int, int], d: tuple[int, int], k: int = 1) -> tuple[int, int]:
    return (a[0] + k * d[0], a[1] + k * d[1])


class CrafterExecutor:
    """Turns subgoals into actions (the ``Executor`` role in Crafter). ``act`` returns an action id,
    or None when the subgoal cannot be pursued from here (no known target and nowhere to explore,
    or an unreachable target)."""

    need_goals = NEED_GOALS
    idle: Action = NOOP

    def __init__(self, config: CrafterConfig, rng: np.random.Generator, skills: tuple[SkillSpec, ...] = ()) -> None:
        self.config = config
        self.rng = rng
        self.skills = skills
        self.food = FoodPlan(config)
        self._clear()

    # ------------------------------------------------------------------ the Executor protocol
    def reset(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._clear()

    def preempt(self, state: Any, world: Any) -> Preemption | None:
        """Asleep, reflexes, the night shelter, survival needs, then opportunities (in that order)."""
        self.food.observe(state, world)
        if state.sleeping:
            return Preemption("asleep", NOOP)
        a = self.reflex(state)
        if a is not None:
            return Preemption("reflex", a)
        need = self.survival_need(state, world)
        sealed = self.sealed(state)
        if sealed and (need is None or need.kind != "shelter") and self.danger_outside(state):
            return Preemption("shelter(wait)", NOOP)  # zombies wait outside: stay in until they wander off
        if need is None and sealed:
            a = self.escape(state)  # morning: dig out of the night shelter
            if a is not None:
                return Preemption("escape", a)
        if need is not None:
            return Preemption("need", need=need)
        a = self.opportunity(state, world)
        if a is not None:
            return Preemption("opportunity", a)
        return None

    def begin(self, subgoal: Subgoal) -> None:
        self.last_target = None

    def progress(self, subgoal: Subgoal | None, state: Any, start: Any | None) -> Progress:
        """Manhattan distance to the last target, non-vital inventory gained since the last call."""
        dist = None
        tgt = self.last_target
        if tgt is not None:
            dist = float(abs(tgt[1][0] - state.pos[0]) + abs(tgt[1][1] - state.pos[1]))
        inv = state.inventory
        gained = 0
        if self._last_inv is not None:
            gained = sum(inv.get(k, 0) - v for k, v in self._last_inv.items() if k not in VITALS and inv.get(k, 0) > v)
        self._last_inv = dict(inv)
        done = subgoal is not None and start is not None and self.done(subgoal, state, start)
        return Progress(t=state.t, position=tuple(float(v) for v in state.pos), target_distance=dist, gained=gained,
                        busy=bool(state.sleeping), done=done)

    def target(self) -> tuple[str, tuple[int, int]] | None:
        return self.last_target

    def stop(self, subgoal: Subgoal | None, reason: str) -> None:
        if reason == "unreachable":
            self.need = None
        else:
            self.path = None

    def forget(self) -> None:
        self.path = None

    def _clear(self) -> None:
        self._last_inv: dict[str, int] | None = None
        self.path: list[tuple[int, int]] | None = None
        self.path_goal: tuple[tuple[int, int], bool] | None = None
        self.explore_target: tuple[int, int] | None = None
        self.explore_until = -1.0
        self.wander_dir: tuple[int, int] = (1, 0)
        self.wander_until = -1.0
        self.need: Subgoal | None = None
        self.last_target: tuple[str, tuple[int, int]] | None = None
        self.replans = 0
        self.tried: dict[str, int] = {}  # action key -> attempts made while experimenting
        self.shelter_plan: dict[str, Any] | None = None
        self.shelter_exit: tuple[int, int] | None = None
        self.rock_target: tuple[int, int] | None = None
        self._last_daylight = 1.0
        self._day_seen = 1.0
        self.food.reset()

    # ------------------------------------------------------------------ reflexes and needs
    def reflex(self, state: Any) -> int | None:
        """Fight a zombie or skeleton within reach (it would hit us anyway); when weak, keep away."""
        pos = state.pos
        near = []
        for lab in ENEMIES:
            for c in state.visible.get(lab, ()):
                d = _md(c, pos)
                if d <= self.config.fight_radius:
                    return self._face_then(c, DO, state)
                if lab == "zombie" and d <= 3:
                    near.append(c)
        if near and state.inventory.get("health", 9) <= self.config.flee_health:
            best, score = None, sum(_md(c, pos) for c in near)
            for d in DIRS:
                n = _add(pos, d)
                if state.label_at(n) in WALKABLE:
                    sc = sum(_md(c, n) for c in near)
                    if sc > score:
                        best, score = d, sc
            if best is not None:
                return MOVES[best]
        return None

    def survival_need(self, state: Any, world: Any = None) -> Subgoal | None:
        """A subgoal for a vital running low, else None.

        By priority: parched or starving (<= 2); badly hurt (hide and heal); night (shelter);
        then topping up drink and food (earlier at dusk, or when water/a cow is right here) and
        sleep. A need is kept until satisfied (hysteresis) unless a higher-priority one arises.
        """
        inv, cfg = state.inventory, self.config
        drink, food = inv.get("drink", 9), inv.get("food", 9)
        falling = state.daylight < self._day_seen  # afternoon: the light is going
        self._day_seen = state.daylight
        can_hide = self._can_dig_shelter(state)
        urgent: Subgoal | None = None
        night = state.daylight < cfg.shelter_below_daylight and can_hide
        # At night the shelter wins: hunger and thirst cost 1 health per 15-30 steps, zombies 2 a hit.
        if drink <= 2 and not night:
            urgent = Subgoal("collect", "water", item="drink", level=9, goal="drink")
        elif food <= 2 and not night:
            urgent = Subgoal("hunt", "cow", goal="eat")
        elif inv.get("health", 9) <= cfg.heal_below and can_hide and food > 0 and drink > 0:
            # health only comes back while fed and watered: hiding hungry would just starve
            urgent = Subgoal("shelter", None, goal="heal")
        elif night:
            urgent = Subgoal("shelter", None, goal="night")
        elif can_hide and cfg.shelter_below_daylight <= state.daylight < self._last_daylight < \
                cfg.shelter_below_daylight + 0.2 and not self._near_rock(state, world):
            urgent = Subgoal("shelter", None, goal="night")  # evening and far from rock: set off now
        self._last_daylight = state.daylight
        if urgent is not None:
            cur = self.need
            pressing = cur is not None and not night and (
                (cur.goal == "drink" and drink <= 4) or (cur.goal == "eat" and food <= 4)
                or (cur.goal == "heal" and not self.need_satisfied(cur, state)))
            keep = pressing and _RANK[cur.goal] <= _RANK[urgent.goal]  # type: ignore[union-attr]
            if not keep:
                self.need = urgent
            return self.need
        if self.need is not None and not self.need_satisfied(self.need, state):
            return self.need
        self._last_daylight = state.daylight
        self.need = None
        # top up before the night: from the afternoon on (the night's hunger and thirst come at once)
        dusk = state.daylight < cfg.shelter_below_daylight + 0.25 or (falling and state.daylight < cfg.top_up_daylight)
        near_water = "water" in state.visible and min(_md(c, state.pos) for c in state.visible["water"]) <= 3
        near_cow = "cow" in state.visible and min(_md(c, state.pos) for c in state.visible["cow"]) <= 6
        if drink < cfg.drink_below or (near_water and drink < 8) or (dusk and drink < 8):
            self.need = Subgoal("collect", "water", item="drink", level=9, goal="drink")
        elif food < cfg.food_below or (near_cow and food <= 6) or (dusk and food < 7):
            self.need = Subgoal("hunt", "cow", goal="eat")
        elif inv.get("energy", 9) < cfg.energy_below:
            self.need = Subgoal("shelter" if can_hide else "sleep", None, goal="rest")
        return self.need

    def need_satisfied(self, need: Subgoal, state: Any) -> bool:
        inv = state.inventory
        if need.goal == "drink":
            return inv.get("drink", 0) >= 9
        if need.goal == "eat":
            return inv.get("food", 0) >= 6
        if need.goal == "heal":
            return inv.get("health", 0) >= self.config.heal_until or inv.get("food", 9) <= 1 or inv.get("drink", 9) <= 1
        if need.goal == "night":
            return state.daylight >= self.config.shelter_until_daylight and not state.sleeping
        if need.goal == "rest":
            return not state.sleeping and inv.get("energy", 0) >= 9
        return True

    # ------------------------------------------------------------------ subgoals
    def act(self, sg: Subgoal, state: Any, world: Any) -> Action | None:
        kind = sg.kind
        if kind == "collect":
            return self._collect(sg, state, world)
        if kind == "hunt":
            target = sg.target or "cow"
            if target == "cow" and sg.goal == "eat":  # a ripe plant is food too
                pc = world.nearest("ripe_plant", state.pos, max_dist=8)
                if pc is not None:
                    return self._interact(pc, DO, state, world, "ripe_plant")
            for _ in range(3):
                cell = world.nearest(target, state.pos)
                if cell is None:
                    return self._forage(state, world) if target == "cow" else self.explore(state, world, target)
                a = self._interact(cell, DO, state, world, target)
                if a is not None:
                    return a
            return None
        if kind == "place":
            return self._place(sg.target or "stone", state, world)
        if kind == "make":
            stations = self._stations_for(sg.target, world)
            if all(self._station_adjacent(st, state) for st in stations):
                return ACTION_IDS.get(f"make_{sg.target}")
            spot = self._craft_spot(stations, state, world)
            if spot is None:
                return None
            path = self._path_to(spot, state, world, adjacent=False)
            if path is None:
                return None
            self.last_target = ("craft", spot)
            return self._follow(path, state, world, spot)
        if kind == "near":
            if self._station_adjacent(sg.target, state):
                return NOOP
            cell = world.nearest(sg.target, state.pos)
            if cell is None:
                return None
            return self._interact(cell, NOOP, state, world, sg.target)
        if kind == "sleep":
            if state.inventory.get("stone", 0) > 0 and self._facing_free(state, PLACE_ON["stone"]) and \
                    state.label_at(state.facing_cell) in WALKABLE:
                return ACTION_IDS["place_stone"]  # close the side we face: a little shelter
            return SLEEP
        if kind == "shelter":
            return self.shelter(state, world)
        if kind == "wait":
            cell = world.nearest(sg.target or "plant", state.pos)
            if cell is None:
                return None
            if _md(cell, state.pos) > 4:
                return self._interact(cell, NOOP, state, world, sg.target or "plant")
            if state.label_at(state.facing_cell) == "grass" and _md(state.facing_cell, cell) > 0:
                return DO  # while the plant grows, gather saplings around it
            return self._wander(state, world, near=cell, radius=4)
        if kind == "explore":
            return self.explore(state, world, sg.target)
        if kind == "experiment":
            return self._experiment(sg, state, world)
        raise ValueError(f"unknown subgoal kind {kind!r}")

    def done(self, sg: Subgoal, state: Any, start: Any) -> bool:
        """Whether ``sg`` is achieved, given the ``State`` when it started."""
        inv, inv0 = state.inventory, start.inventory
        kind = sg.kind
        if sg.goal and state.achievements.get(sg.goal, 0) > start.achievements.get(sg.goal, 0):
            return True  # the achievement the subgoal served is unlocked
        if kind == "collect":
            return inv.get(sg.item or "", 0) >= sg.level
        if kind == "hunt":
            if sg.goal == "eat":
                return inv.get("food", 0) > inv0.get("food", 0)
            return bool(sg.goal) and state.achievements.get(sg.goal, 0) > start.achievements.get(sg.goal, 0)
        if kind == "place":
            key = f"place_{sg.target}"
            return state.achievements.get(key, 0) > start.achievements.get(key, 0)
        if kind == "make":
            return inv.get(sg.target or "", 0) > inv0.get(sg.target or "", 0)
        if kind == "near":
            return self._station_adjacent(sg.target, state)
        if kind == "sleep":
            return (not state.sleeping and inv.get("energy", 0) >= 9) or state.achievements.get("wake_up", 0) > \
                start.achievements.get("wake_up", 0)
        if kind == "wait":
            return "ripe_plant" in state.visible
        if kind == "explore":
            return sg.target is not None and sg.target in state.visible
        if kind == "experiment":
            return inv != inv0
        return False

    # ------------------------------------------------------------------ night shelter
    def _near_rock(self, state: Any, world: Any) -> bool:
        if world is None or len(state.visible.get("stone", ())) >= 12:
            return True
        rock = world.rock(state.pos)
        return rock is None or _md(rock, state.pos) <= 6

    def _can_dig_shelter(self, state: Any) -> bool:
        return state.inventory.get("wood_pickaxe", 0) > 0 or self.sealed(state)

    def sealed(self, state: Any) -> bool:
        """Whether the walkable cells connected to us (in view) are few and closed in."""
        pos = state.pos
        seen = {pos}
        stack = [pos]
        while stack:
            c = stack.pop()
            for d in DIRS:
                n = _add(c, d)
                if n in seen:
                    continue
                lab = state.label_at(n)
                if lab == "unknown":
                    return False
                if lab in WALKABLE or lab in CREATURES:
                    seen.add(n)
                    if len(seen) > 6:
                        return False
                    stack.append(n)
        return True

    def shelter(self, state: Any, world: Any) -> int | None:
        """At night: dig two cells into rock, step back and seal the entrance with a stone; sleep there.

        The walk in faces the rock, so the entrance can only be faced from inside after stepping to
        the inner cell and back (Crafter turns the player only by moving or bumping).
        """
        pos = state.pos
        if self.sealed(state):
            self.shelter_plan = None
            if state.inventory.get("energy", 9) < 9:
                return SLEEP
            return NOOP
        plan = self.shelter_plan
        if plan is not None:
            a = self._shelter_step(plan, state, world)
            if a is not None:
                return a
            self.shelter_plan = None
        site = self._find_dig_site(state)
        if site is None:
            rock = self.rock_target
            if rock is None or _md(rock, pos) <= 1 or world.put_aside_now("rock", rock):
                rock = self.rock_target = world.rock(pos)
            if rock is None:
                return self.explore(state, world, "stone")
            a = self._interact(rock, NOOP, state, world, "stone")
            if a is None:
                world.put_aside("rock", rock, state.t + 300)
                self.rock_target = None
                return self._wander(state, world)
            return a
        self.shelter_plan = {"B": site[0], "d": site[1], "phase": 0}
        a = self._shelter_step(self.shelter_plan, state, world)
        return a if a is not None else self._wander(state, world)

    def opportunity(self, state: Any, world: Any) -> int | None:
        """Cheap chances taken in passing: plant a sapling on the grass we face (a farm for food)."""
        if state.inventory.get("sapling", 0) <= 0 or state.daylight < 0.5:
            return None
        if state.label_at(state.facing_cell) != "grass":
            return None
        plants = len(state.visible.get("plant", ())) + len(state.visible.get("ripe_plant", ()))
        if plants >= self.config.farm_size:
            return None
        return ACTION_IDS["place_plant"]

    def danger_outside(self, state: Any) -> bool:
        """Zombies close by while we are shut in (and not starving or parched)."""
        inv = state.inventory
        if (inv.get("food", 9) == 0 or inv.get("drink", 9) == 0) and inv.get("health", 9) <= 2:
            return False
        n = sum(1 for c in state.visible.get("zombie", ()) if _md(c, state.pos) <= 5)
        return n >= 3 or (n >= 1 and inv.get("health", 9) < 7)  # healthy and armed, one or two can be fought

    def escape(self, state: Any) -> int | None:
        """Mine out of a closed-in spot, through the entrance we sealed if we remember it."""
        pos = state.pos
        order = list(DIRS)
        if self.shelter_exit is not None:
            d = self._axis_step(pos, self.shelter_exit) if self.shelter_exit != pos else DIRS[0]
            order.remove(d)
            order.insert(0, d)
        for d in order:
            n = _add(pos, d)
            lab = state.label_at(n)
            if self._can_mine(lab, state) or lab in ("table", "furnace"):
                if lab in ("table", "furnace"):
                    continue
                return self._face_then(n, DO, state)
        return None

    def _find_dig_site(self, state: Any) -> tuple[tuple[int, int], tuple[int, int]] | None:
        best, bd = None, 1e9
        pos = state.pos
        for b in state.visible.get("grass", []) + state.visible.get("sand", []) + state.visible.get("path", []) + [pos]:
            dist = _md(b, pos)
            if dist >= bd:
                continue
            stone = state.inventory.get("stone", 0)
            for d in DIRS:
                p1, f1, g1 = _add(b, d), _add(b, d, 2), _add(b, d, 3)
                lp, lf = state.label_at(p1), state.label_at(f1)
                mined = 0
                for lab in (lp, lf):
                    if self._can_mine(lab, state) and lab not in ("tree", "diamond"):
                        mined += lab == "stone"
                    elif lab not in WALKABLE:
                        break
                else:
                    if stone + mined < 1:
                        continue
                    e = (d[1], d[0])
                    walls = (g1, _add(p1, e), _add(p1, e, -1), _add(f1, e), _add(f1, e, -1))
                    if all(self._wall(state.label_at(w)) for w in walls):
                        best, bd = (b, d), dist
                        break
                continue
        return best

    @staticmethod
    def _wall(label: str) -> bool:
        return label not in WALKABLE and label not in CREATURES and label not in ("unknown", "lava", "plant",
                                                                                 "ripe_plant")

    def _shelter_step(self, plan: dict[str, Any], state: Any, world: Any) -> int | None:
        B, d = plan["B"], plan["d"]
        P, F = _add(B, d), _add(B, d, 2)
        pos = state.pos
        back = (-d[0], -d[1])
        if pos == B:
            lab = state.label_at(P)
            if lab in WALKABLE:
                return MOVES[d]
            return self._face_then(P, DO, state) if self._can_mine(lab, state) else None
        if pos == P:
            labf = state.label_at(F)
            if plan.get("inner"):
                if tuple(state.facing) != back:
                    return MOVES[back] if state.label_at(B) not in WALKABLE else None
                if state.label_at(B) in WALKABLE and state.inventory.get("stone", 0) > 0:
                    self.shelter_exit = B
                    return ACTION_IDS["place_stone"]
                return None
            if labf in WALKABLE:
                return MOVES[d]
            return self._face_then(F, DO, state) if self._can_mine(labf, state) else None
        if pos == F:
            plan["inner"] = True
            return MOVES[back]
        path = self._path_to(B, state, world, adjacent=False)
        if path is None:
            return None
        return self._follow(path, state, world, B)

    # ------------------------------------------------------------------ pieces
    def _collect(self, sg: Subgoal, state: Any, world: Any) -> int | None:
        target = sg.target or "tree"
        if target == "grass":
            return self._face_kind_then(frozenset({"grass"}), DO, state, world)
        tool = MINE_TOOL.get(target)
        if tool and state.inventory.get(tool, 0) < 1:
            return None
        for _ in range(3):
            cell = world.nearest(target, state.pos)
            if cell is None:
                return self.explore(state, world, target)
            a = self._interact(cell, DO, state, world, target)
            if a is not None:
                return a
        return None

    def _forage(self, state: Any, world: Any) -> int | None:
        """No cow known: walk to the pasture the food plan rates best, else explore."""
        for _ in range(2):
            cell = self.food.target(state, world)
            if cell is None:
                break
            path = self._path_to(cell, state, world, adjacent=True)
            if path is not None:
                self.last_target = ("pasture", cell)
                a = self._follow(path, state, world, cell)
                if a is not None:
                    return a
            self.food.fail(world.memory, world, state.t)  # no way there now: the next pasture
        return self.explore(state, world, "cow")

    def _place(self, thing: str, state: Any, world: Any) -> int | None:
        action = ACTION_IDS.get(f"place_{thing}")
        if action is None:
            return None
        allowed = PLACE_ON.get(thing, frozenset({"grass", "sand", "path"}))
        return self._face_kind_then(allowed, action, state, world)

    @staticmethod
    def _stations_for(tool: str | None, world: Any) -> list[str]:
        tree = getattr(world, "tree", None)
        r = tree.get(f"make_{tool}") if tree is not None else None
        if r is not None and r.near:
            return sorted(r.near)
        return ["table", "furnace"] if tool and tool.startswith("iron") else ["table"]

    @staticmethod
    def _craft_spot(stations: list[str], state: Any, world: Any) -> tuple[int, int] | None:
        """A walkable cell with every station among its 8 neighbours (nearest to us)."""
        first = world.nearest(stations[0], state.pos)
        if first is None:
            return None
        cells = {stations[0]: first}
        for st in stations[1:]:
            c = world.nearest(st, first, max_dist=3)
            if c is None:
                return None
            cells[st] = c
        best, bd = None, 1e9
        for dx in range(-1, 2):
            for dy in range(-1, 2):
                c = (first[0] + dx, first[1] + dy)
                if world.walkable(c) is not True or state.label_at(c) in CREATURES:
                    continue
                if all(max(abs(c[0] - p[0]), abs(c[1] - p[1])) <= 1 for p in cells.values()):
                    d = _md(c, state.pos)
                    if d < bd:
                        best, bd = c, d
        return best

    @staticmethod
    def _station_adjacent(station: str | None, state: Any) -> bool:
        # Crafter's "nearby" for crafting: the 3×3 cells around the player (diagonals included)
        px, py = state.pos
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                if state.label_at((px + dx, py + dy)) == station:
                    return True
        return False

    @staticmethod
    def _facing_free(state: Any, allowed: frozenset[str]) -> bool:
        return state.label_at(state.facing_cell) in allowed

    def _face_then(self, cell: tuple[int, int], action: int, state: Any) -> int:
        d = (cell[0] - state.pos[0], cell[1] - state.pos[1])
        if tuple(state.facing) == d:
            return action
        return MOVES[d] if d in MOVES else action

    def _face_kind_then(self, allowed: frozenset[str], action: int, state: Any, world: Any) -> int:
        """Face a cell whose label is in ``allowed`` (empty of creatures), then do ``action``."""
        if self._facing_free(state, allowed):
            return action
        pos = state.pos
        order = list(DIRS)
        self.rng.shuffle(order)
        for d in order:  # a blocked cell of the right kind (water for stone): bumping into it turns us
            n1 = _add(pos, d)
            lab = state.label_at(n1)
            if lab in allowed and lab not in WALKABLE:
                return MOVES[d]
        for d in order:  # step so that the cell after is of the right kind
            n1, n2 = _add(pos, d), _add(pos, d, 2)
            if state.label_at(n1) in WALKABLE and state.label_at(n2) in allowed:
                return MOVES[d]
        return self._wander(state, world)

    def _interact(self, cell: tuple[int, int], action: int, state: Any, world: Any, label: str) -> int | None:
        pos = state.pos
        self.last_target = (label, cell)
        if _md(cell, pos) == 1:
            return self._face_then(cell, action, state)
        if _md(cell, pos) == 0:
            return self._wander(state, world)
        path = self._path_to(cell, state, world)
        if path is None:
            if self.config.dig and (label in MINE_TOOL or state.inventory.get("wood_pickaxe", 0)):
                a = self._dig_toward(cell, state)
                if a is not None:
                    return a
            world.put_aside(label, cell, state.t + 100)  # unreachable for now: the next one will do
            return None
        return self._follow(path, state, world, cell)

    def _path_to(self, cell: tuple[int, int], state: Any, world: Any, adjacent: bool = True) -> list | None:
        pos = state.pos
        if self.path is not None and self.path_goal == (cell, adjacent) and pos in self.path:
            i = self.path.index(pos)
            rest = self.path[i + 1:i + 3]
            if all(world.walkable(c) is not False and state.label_at(c) != "lava" for c in rest):
                return self.path
        self.replans += 1
        path = world.path(pos, cell, adjacent=adjacent)
        self.path, self.path_goal = path, (cell, adjacent)
        return path

    def _follow(self, path: list[tuple[int, int]], state: Any, world: Any, goal: tuple[int, int]) -> int | None:
        pos = state.pos
        i = path.index(pos) if pos in path else -1
        if i < 0 or i + 1 >= len(path):
            self.path = None
            return self._face_then(goal, NOOP, state) if _md(goal, pos) == 1 else self._wander(state, world)
        nxt = path[i + 1]
        d = (nxt[0] - pos[0], nxt[1] - pos[1])
        if d not in MOVES:  # waypoints over the place graph are far apart: head that way
            d = self._axis_step(pos, nxt)
            nxt = _add(pos, d)
        lab = state.label_at(nxt)
        if lab in CREATURES:
            if lab == "arrow":
                return NOOP
            if lab == "cow" and nxt != goal and state.inventory.get("food", 9) >= 6:
                # cows are scarce food: step around one rather than kill it when not hungry
                self.path = None
                return self._wander(state, world)
            return self._face_then(nxt, DO, state)  # an enemy in the way gets hit
        if lab == "lava" or (lab not in WALKABLE and lab != "unknown"):
            self.path = None
            if lab in ("stone", "coal", "iron", "diamond", "tree") and self._can_mine(lab, state):
                return self._face_then(nxt, DO, state)
            return self._wander(state, world)
        return MOVES[d]

    @staticmethod
    def _axis_step(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        dx, dy = b[0] - a[0], b[1] - a[1]
        if abs(dx) >= abs(dy) and dx:
            return (int(np.sign(dx)), 0)
        return (0, int(np.sign(dy)) or 1)

    def _can_mine(self, label: str, state: Any) -> bool:
        if label not in MINE_TOOL:
            return False
        tool = MINE_TOOL[label]
        return tool is None or state.inventory.get(tool, 0) > 0

    def _dig_toward(self, cell: tuple[int, int], state: Any) -> int | None:
        """Greedy step toward ``cell``, mining what we can on the way; never onto lava or water."""
        pos = state.pos
        dx, dy = cell[0] - pos[0], cell[1] - pos[1]
        axes = []
        if dx:
            axes.append((int(np.sign(dx)), 0))
        if dy:
            axes.append((0, int(np.sign(dy))))
        if abs(dy) > abs(dx):
            axes.reverse()
        for d in axes:
            n1 = _add(pos, d)
            lab = state.label_at(n1)
            if n1 == cell:
                return self._face_then(cell, DO, state)
            if lab in WALKABLE:
                return MOVES[d]
            if self._can_mine(lab, state):
                return self._face_then(n1, DO, state)
            if lab in CREATURES:
                return self._face_then(n1, DO, state)
        return None

    def explore(self, state: Any, world: Any, hint: str | None = None) -> int | None:
        """Head for a frontier of the known map (or wander with a persistent heading without memory)."""
        pos, t = state.pos, state.t
        tgt = self.explore_target
        if tgt is not None and (t > self.explore_until or _md(tgt, pos) <= 1):
            world.put_aside("frontier", tgt, t + 300)
            world.put_aside("area", tgt, t + 150)
            tgt = None
        if tgt is None and hint in ("water", "zombie", "skeleton"):
            tgt = world.recall_area(hint, pos, self.rng)  # memory: where it used to be
            if tgt is not None:
                self.explore_until = t + 20 + _md(tgt, pos) * 2
        for _ in range(3):
            if tgt is None:
                tgt = world.frontier(pos, self.rng)
                if tgt is None:
                    break
                self.explore_until = t + 40 + _md(tgt, pos) * 2
            path = self._path_to(tgt, state, world, adjacent=False)
            if path is not None:
                self.explore_target = tgt
                a = self._follow(path, state, world, tgt)
                if a is not None:
                    return a
            world.put_aside("frontier", tgt, t + 300)
            tgt = None
        self.explore_target = None
        return self._wander(state, world)

    def _wander(self, state: Any, world: Any, near: tuple[int, int] | None = None, radius: int = 0) -> int:
        """Random walk with a persistent heading (reactive exploration); digs if it has a pickaxe."""
        pos, t = state.pos, state.t
        if t > self.wander_until or (near is not None and _md(_add(pos, self.wander_dir), near) > radius):
            self.wander_dir = DIRS[int(self.rng.integers(4))]
            self.wander_until = t + self.config.explore_persistence
        order = [self.wander_dir] + [d for d in DIRS if d != self.wander_dir]
        for k, d in enumerate(order):
            n1 = _add(pos, d)
            lab = state.label_at(n1)
            if near is not None and _md(n1, near) > radius:
                continue
            if lab in WALKABLE:
                if k:
                    self.wander_dir, self.wander_until = d, t + self.config.explore_persistence
                return MOVES[d]
            if self._can_mine(lab, state) and lab != "tree" and k == 0:
                return self._face_then(n1, DO, state)
        safe = [d for d in DIRS if state.label_at(_add(pos, d)) not in ("lava", "unknown")]
        return MOVES[safe[int(self.rng.integers(len(safe)))]] if safe else NOOP

    def _experiment(self, sg: Subgoal, state: Any, world: Any) -> int:
        """No known way to the goal: try what has been tried least — interacting with each kind of
        thing in view, crafting, placing — so that consolidation can learn what yields what."""
        tried = self.tried
        facing = state.label_at(state.facing_cell)
        options = [lab for lab in state.visible if lab not in WALKABLE and lab not in ("lava", "unknown", "player",
                                                                                     "arrow")]
        options.sort(key=lambda lab: (tried.get(f"do {lab}", 0), lab))
        if facing in options and tried.get(f"do {facing}", 0) <= tried.get(f"do {options[0]}", 0) + 2:
            tried[f"do {facing}"] = tried.get(f"do {facing}", 0) + 1
            return DO
        if self.rng.random() < 0.3:
            key = min((k for k in ACTION_IDS if k.startswith(("make_", "place_"))), key=lambda k: (tried.get(k, 0), k))
            tried[key] = tried.get(key, 0) + 1
            return ACTION_IDS[key]
        if options:
            cell = world.nearest(options[0], state.pos)
            if cell is not None:
                a = self._interact(cell, DO, state, world, options[0])
                if a is not None:
                    if a == DO:
                        tried[f"do {options[0]}"] = tried.get(f"do {options[0]}", 0) + 1
                    return a
        return self._wander(state, world)
