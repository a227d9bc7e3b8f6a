"""Where to look for a cow when none is known: a food plan over temporal, episodic and semantic memory.

Crafter's cows live in grassland, stay put while the player is far away, and come back to a
pasture some hundreds of steps after the last one there was eaten. When the agent is hungry and
neither sees nor believes in a cow, ``FoodPlan.target`` chooses a *pasture* (a ``pasture_size``
square of world cells where cows were seen) and returns the cell of its last cow sighting to walk
to. Each pasture is scored

    ``expect(P) * (1 + utility_weight * U(P)) / (1 + d / distance_scale)``

- ``expect`` (temporal memory): the chance a cow is there now. A cow seen at or after the agent's
  last visit of the pasture (``mem.temporal`` sighting times against the place graph's visit times)
  is likely still there (``cow_stays``); a pasture visited since its last cow sighting was found
  empty and refills as ``1 - exp(-age / respawn_steps)`` — but only as far as the agent has learned
  that cows graze in grassland (below). With temporal memory off the plan knows where cows were,
  not when: every pasture gets 0.5.
- ``U`` (episodic memory): how well hunting paid off there. When the agent eats a cow the chunk of
  experience being written is reinforced with 1 (``mem.reinforce``); a trip that finds a pasture
  empty reinforces that pasture's best chunk with 0. ``U(P)`` is the best utility of the chunks
  about cows (``mem.episodic.recall("cow")``) whose place lies in ``P``. Episodic off: ``U = 0``.
- The learned fact ``cow found_on grass`` (semantic memory): counted from the ground next to every
  cow in view and asserted with its support and confidence (``source="learned"``, never a prior).
  Its confidence scales the refill expectation; without it (semantic memory off, or not learned
  yet) an emptied pasture is not expected to refill.
- ``d``: Manhattan distance (cells) from the agent.

Everything comes from memory (which holds only what the agent's local view showed) and the
agent's own ``State``. A pasture whose trip failed (empty on arrival, no path, timed out) is put
aside for ``pasture_retry`` steps in every configuration. Without spatial memory (``ViewWorld``)
there are no pastures: ``target`` returns None and the executor explores as before.
"""

from __future__ import annotations

import math
from typing import Any

from .config import CrafterConfig

__all__ = ["FoodPlan", "Pasture"]

GROUND = ("grass", "sand", "path")
_DIRS = ((-1, 0), (1, 0), (0, -1), (0, 1))


class Pasture:
    """What memory says about one pasture: its last cow sighting (cell, time), visits, utility."""

    __slots__ = ("key", "cell", "last_cow", "sightings", "last_visit", "utility", "chunk", "expect", "score")

    def __init__(self, key: tuple[int, int], cell: tuple[int, int]) -> None:
        self.key = key
        self.cell = cell
        self.last_cow: float | None = None
        self.sightings = 0
        self.last_visit: float | None = None
        self.utility = 0.0
        self.chunk: str | None = None  # its best chunk about cows (reinforced when a trip fails)
        self.expect = 0.0
        self.score = 0.0

    def __repr__(self) -> str:
        return (f"Pasture({self.key}, cell={self.cell}, last_cow={self.last_cow}, last_visit={self.last_visit}, "
                f"U={self.utility:.2f}, expect={self.expect:.2f}, score={self.score:.3f})")


class FoodPlan:
    """Chooses the pasture to walk to for food; learns from what happens there (see module doc)."""

    def __init__(self, config: CrafterConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.trip: Pasture | None = None
        self.trip_until = -1.0
        self.pastures: dict[tuple[int, int], Pasture] = {}
        self.cursor = -math.inf  # temporal memory read up to here
        self.history_n = 0  # spatial cow history read up to here (temporal memory off)
        self.last_food: int | None = None
        self.prev_cow_adjacent = False
        self.ground: dict[str, int] = {}  # ground next to sighted cows -> count
        self.ground_n = 0
        self.asserted: tuple[str, float, int] | None = None
        self.trips = self.failed = self.eaten = 0

    # ------------------------------------------------------------------ learning, every step
    def observe(self, state: Any, world: Any) -> None:
        """Cheap per-step bookkeeping: reinforce the chunk where a cow was eaten; count cows' ground."""
        mem = getattr(world, "memory", None)
        if mem is None or not self.config.food_plan:
            return
        food = state.inventory.get("food", 0)
        if self.last_food is not None and food >= self.last_food + 4 and self.prev_cow_adjacent:
            self.eaten += 1
            ep = mem.episodic
            if ep.enabled:
                ids = ep.chunks()
                if ids:
                    mem.reinforce(ids[-1], 1.0)  # hunting paid off here
            if self.trip is not None:
                self.trip = None
        self.last_food = food
        cows = state.visible.get("cow")
        self.prev_cow_adjacent = bool(cows) and any(abs(c[0] - state.pos[0]) + abs(c[1] - state.pos[1]) == 1
                                                     for c in cows)
        if cows and int(state.t) % 5 == 0:
            for c in cows:
                labs = [state.label_at((c[0] + dx, c[1] + dy)) for dx, dy in _DIRS]
                labs = [lab for lab in labs if lab in GROUND]
                if labs:
                    g = max(set(labs), key=labs.count)
                    self.ground[g] = self.ground.get(g, 0) + 1
                    self.ground_n += 1
            if int(state.t) % 50 == 0:
                self._assert_ground(mem, state.t)

    def _assert_ground(self, mem: Any, t: float) -> None:
        sem = mem.semantic
        if not sem.enabled or self.ground_n < self.config.fact_support:
            return
        g, n = max(self.ground.items(), key=lambda kv: kv[1])
        conf = round(n / self.ground_n, 2)
        if self.asserted is not None and self.asserted[0] == g and self.asserted[1] == conf and \
                n < 2 * self.asserted[2]:
            return  # unchanged (support is re-asserted when it doubles, to keep the journal small)
        if self.asserted is not None and self.asserted[0] != g:
            sem.retract("cow", "found_on", self.asserted[0], t=t, source="learned")
        mem.semantic.assert_fact("cow", "found_on", g, confidence=conf, support=n, t=t, source="learned")
        self.asserted = (g, conf, n)

    @staticmethod
    def grass_confidence(mem: Any) -> float:
        """Confidence of the learned ``cow found_on grass`` (0 when not believed / semantic memory off)."""
        for f in mem.semantic.facts("cow", "found_on", "grass"):
            if getattr(f, "source", "") != "prior":
                return float(f.confidence)
        return 0.0

    # ------------------------------------------------------------------ deciding
    def key(self, cell: tuple[int, int]) -> tuple[int, int]:
        s = self.config.pasture_size
        return (cell[0] // s, cell[1] // s)

    def refresh(self, mem: Any, now: float) -> bool:
        """Read new cow sightings into the pastures. Returns whether times are known (temporal memory on)."""
        if mem.temporal.enabled:
            if now >= self.cursor:
                for e in mem.temporal.between(self.cursor, now, kind="sighting"):
                    if e.label != "cow" or e.position is None:
                        continue
                    cell = (int(round(e.position[0])), int(round(e.position[1])))
                    p = self._pasture(cell)
                    p.cell, p.last_cow = cell, e.t
                    p.sightings += 1
                self.cursor = math.nextafter(now, math.inf)
            return True
        hist = mem.spatial.history("cow")  # where cows were (no times): the pastures without temporal memory
        for loc in hist[self.history_n:]:
            cell = (int(round(loc.position[0])), int(round(loc.position[1])))
            p = self._pasture(cell)
            p.cell = cell
            p.sightings += 1
        self.history_n = len(hist)
        return False

    def _pasture(self, cell: tuple[int, int]) -> Pasture:
        k = self.key(cell)
        p = self.pastures.get(k)
        if p is None:
            p = self.pastures[k] = Pasture(k, cell)
        return p

    def rank(self, mem: Any, pos: tuple[int, int], now: float, aside: Any = None) -> list[Pasture]:
        """Pastures by score, best first (those put aside — ``aside(cell)`` true — and hopeless ones left out)."""
        cfg = self.config
        timed = self.refresh(mem, now)
        if not self.pastures:
            return []
        for p in self.pastures.values():
            p.last_visit, p.utility, p.chunk = None, 0.0, None
        if timed:  # last checked: a visit of the pasture, or a cow looked for there and not seen
            for loc in mem.spatial.history("cow"):
                if loc.valid_to is None:
                    continue
                p = self.pastures.get(self.key((int(round(loc.position[0])), int(round(loc.position[1])))))
                if p is not None and (p.last_visit is None or loc.valid_to > p.last_visit):
                    p.last_visit = loc.valid_to
            for pl in mem.spatial.places():
                if pl.last_visit is None:
                    continue
                p = self.pastures.get(self.key((int(round(pl.position[0])), int(round(pl.position[1])))))
                if p is not None and (p.last_visit is None or pl.last_visit > p.last_visit):
                    p.last_visit = pl.last_visit
        if mem.episodic.enabled:
            where = {pl.id: pl.position for pl in mem.spatial.places()}
            for ch in mem.episodic.recall("cow", k=cfg.food_recall, strengthen=False):
                xy = where.get(ch.place) if ch.place is not None else None
                if xy is None:
                    continue
                p = self.pastures.get(self.key((int(round(xy[0])), int(round(xy[1])))))
                if p is not None and (p.chunk is None or ch.utility > p.utility):
                    p.utility, p.chunk = ch.utility, ch.id
        grass = self.grass_confidence(mem)
        out = []
        for p in self.pastures.values():
            if aside is not None and aside(p.cell):
                continue
            if not timed:
                p.expect = 0.5
            elif p.last_visit is None or p.last_cow is None or p.last_visit <= p.last_cow + cfg.visit_margin:
                p.expect = cfg.cow_stays  # a cow was seen since the last visit: it stays while no one is near
            else:  # visited since and found empty: it refills, if cows graze in such land
                p.expect = grass * (1.0 - math.exp(-(now - p.last_visit) / cfg.respawn_steps))
            if p.expect < cfg.min_expect:
                continue
            d = abs(p.cell[0] - pos[0]) + abs(p.cell[1] - pos[1])
            p.score = p.expect * (1.0 + cfg.food_utility_weight * max(p.utility, 0.0)) / (1.0 + d / cfg.distance_scale)
            out.append(p)
        out.sort(key=lambda p: (-p.score, p.key))
        return out

    def target(self, state: Any, world: Any) -> tuple[int, int] | None:
        """The cell to walk to for a cow (None: no pasture worth it, explore instead). Ends the current
        trip when it arrived at an empty pasture or ran out of time (putting the pasture aside)."""
        mem = getattr(world, "memory", None)
        if mem is None or not self.config.food_plan or not getattr(mem.spatial, "enabled", False):
            return None
        pos, t = state.pos, state.t
        trip = self.trip
        if trip is not None:
            arrived = abs(trip.cell[0] - pos[0]) + abs(trip.cell[1] - pos[1]) <= 2
            if arrived or t > self.trip_until or world.put_aside_now("pasture", trip.cell):
                self.fail(mem, world, t)
            else:
                return trip.cell
        ranked = self.rank(mem, pos, t, aside=lambda c: world.put_aside_now("pasture", c))
        if not ranked:
            return None
        self.trip = ranked[0]
        d = abs(self.trip.cell[0] - pos[0]) + abs(self.trip.cell[1] - pos[1])
        self.trip_until = t + 30 + 2 * d
        self.trips += 1
        return self.trip.cell

    def fail(self, mem: Any, world: Any, t: float) -> None:
        """The trip found no cow (or could not get there): put the pasture aside; it paid off 0 this time."""
        trip = self.trip
        self.trip = None
        if trip is None:
            return
        self.failed += 1
        world.put_aside("pasture", trip.cell, t + self.config.pasture_retry)
        if trip.chunk is not None and mem.episodic.enabled:
            try:
                mem.reinforce(trip.chunk, 0.0)
            except KeyError:
                pass  # the chunk is gone (a new memory): nothing to update
