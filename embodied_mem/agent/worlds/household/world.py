"""Where to look for an object in the household, from each memory module (see the package docstring).

``HomeMap`` is the declared home map (places, rooms, time-of-day slots). ``HouseholdWorld`` is the
loop's world model: ``rank(label, t, here, exclude)`` orders the places to search; ``learn_routines``
consolidates routines into semantic facts; ``update`` reinforces recalled episodes by outcome.
Every module is read through its public API and only when enabled, so an ablation changes exactly
the part of the decision that module makes. Units: seconds, metres (world frame).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["HomeMap", "HouseholdWorld", "FOUND", "CHECKED", "AWAY", "found_text", "checked_text", "learn_routines",
           "looked_at"]

FOUND = re.compile(r"found (\S+) at (\S+) in the (\w+)")
CHECKED = re.compile(r"checked (\S+)")
AWAY = "away"  # the routine "place" of an object taken out of the home (keys on a working day)


def looked_at(tm: Any, t0: float, t1: float) -> dict[str, float]:
    """Places whose surface was in view in ``(t0, t1]`` (temporal memory's ``"checked <place>"``
    events) -> the last time each was looked at. Empty when ``t1 <= t0``."""
    out: dict[str, float] = {}
    if t1 <= t0:
        return out
    for e in tm.between(t0, t1, kind="event"):
        m = CHECKED.fullmatch(e.text or "")
        if m and e.t > t0:
            out[m.group(1)] = e.t
    return out


def checked_text(place: str) -> str:
    """The event text for a place whose surface was in view (temporal memory keeps when)."""
    return f"checked {place}"


def found_text(label: str, place: str, slot: str) -> str:
    """The event text a successful sighting during a search leaves in memory (episodic recall reads it)."""
    return f"found {label} at {place} in the {slot}"


@dataclass(frozen=True)
class HomeMap:
    places: tuple[str, ...]
    rooms_of: Mapping[str, str]  # place -> room
    xy: Mapping[str, tuple[float, float]]  # place -> stand point
    rooms: Mapping[str, tuple[float, float, float, float]]
    slots: tuple[tuple[str, float, float], ...]  # (name, start hour, end hour); end may pass 24
    day: float

    @staticmethod
    def from_declared(extra: Mapping[str, Any]) -> HomeMap:
        places = extra.get("places")
        if not isinstance(places, Sequence) or not places:
            raise ValueError("the env declares no home map (metadata 'places': [{name, room, x, y}, ...])")
        slots = extra.get("slots")
        if not isinstance(slots, Sequence) or not slots:
            raise ValueError("the env declares no time-of-day slots (metadata 'slots': [[name, start_h, end_h], ...])")
        day = extra.get("day_length")
        if not isinstance(day, (int, float)) or not day > 0:
            raise ValueError(f"the env declares no positive 'day_length', got {day!r}")
        for i, p in enumerate(places):
            if not isinstance(p, Mapping) or not {"name", "room", "x", "y"} <= set(p):
                raise ValueError(f"metadata places[{i}] needs name, room, x, y; got {p!r}")
        return HomeMap(tuple(p["name"] for p in places), {p["name"]: p["room"] for p in places},
                       {p["name"]: (float(p["x"]), float(p["y"])) for p in places},
                       {k: tuple(v) for k, v in dict(extra.get("rooms") or {}).items()},
                       tuple((str(n), float(a), float(b)) for n, a, b in slots), float(day))

    def slot(self, t: float) -> str:
        h = (t % self.day) / 3600.0
        first = min(a for _, a, _ in self.slots)
        if h < first:
            h += 24.0
        for name, a, b in self.slots:
            if a <= h < b:
                return name
        return self.slots[-1][0]

    def slot_window(self, day: int, slot: str) -> tuple[float, float]:
        for name, a, b in self.slots:
            if name == slot:
                return day * self.day + a * 3600.0, day * self.day + b * 3600.0
        raise ValueError(f"unknown slot {slot!r}")

    def last_slot_change(self, t: float) -> float:
        """The latest slot start at or before ``t``."""
        best = -math.inf
        for d in (int(t // self.day) - 1, int(t // self.day)):
            for name, _, _ in self.slots:
                a = self.slot_window(d, name)[0]
                if a <= t:
                    best = max(best, a)
        return best

    def slot_changes(self, t0: float, t1: float) -> int:
        """How many slot boundaries lie in (t0, t1]."""
        n = 0
        for d in range(int(t0 // self.day), int(t1 // self.day) + 1):
            for name, _, _ in self.slots:
                a = self.slot_window(d, name)[0]
                n += t0 < a <= t1
        return n

    def nearest_place(self, pos: Sequence[float], max_dist: float = 1.5) -> str | None:
        """The place whose stand point is nearest to ``pos`` (x, y), within ``max_dist`` metres."""
        best, bd = None, max_dist
        for p, (x, y) in self.xy.items():
            d = math.hypot(pos[0] - x, pos[1] - y)
            if d < bd:
                best, bd = p, d
        return best

    def distance(self, a: str, b: str) -> float:
        (ax, ay), (bx, by) = self.xy[a], self.xy[b]
        return math.hypot(ax - bx, ay - by)


def _on(memory: Any, module: str) -> Any:
    m = getattr(memory, module, None) if memory is not None else None
    return m if m is not None and getattr(m, "enabled", False) else None


def learn_routines(memory: Any, home: HomeMap, labels: Sequence[str], now: float, config: Any,
                   since: float = -math.inf) -> list[Any]:
    """Consolidate routines into semantic facts ``(label, "<slot>_at", place)``.

    For each object and each time-of-day slot of the last ``routine_window_days`` days that has
    ended, temporal memory's timeline (``between(kind="sighting")``: when what was seen where) says
    on which place the object was last seen during that slot, if it was. The timeline is the one
    record of *when*: without temporal memory no routine is learned (spatial memory's as-of beliefs
    are not read here, so they cannot stand in for it). Days count ``routine_decay`` less per day
    further back (newer habits win). A place seen on at least ``routine_min_support`` of those days and on
    at least ``routine_min_fraction`` of their weight becomes (ADD) or refreshes (UPDATE:
    confidence = agreeing weight / (weight seen + 1), support = agreeing days) the fact; a fact whose support fell below the
    thresholds is retracted (DELETE), and a new place for a slot replaces the old one (DELETE of the
    old fact, ADD of the new: the relation is exclusive). A day on which the object was seen nowhere
    in the slot although the robot looked at ``away_cover`` of the home's places then (after
    ``settle_s``) counts for the "place" ``AWAY`` (taken out of the home: ``(keys, afternoon_at,
    away)``); a day with neither a sighting nor such a sweep says nothing. Only slots that ended after ``since``
    trigger work. Needs temporal and semantic memory; returns the operations taken (NOOPs left out).
    """
    tm, sem = _on(memory, "temporal"), _on(memory, "semantic")
    if tm is None or sem is None or not math.isfinite(now):
        return []
    day_now = int(now // home.day)
    first = max(0, day_now - int(config.routine_window_days))
    ended = [(d, s) for d in range(first - 1, day_now + 1) for s, _, _ in home.slots
             if d >= 0 and since < home.slot_window(d, s)[1] <= now]
    if not ended:
        return []
    n0 = len(sem.operations)
    # the last sighting of each object in each (day, slot) window, from the timeline
    last: dict[tuple[str, int, str], tuple[float, str]] = {}
    wanted = set(labels)
    for e in tm.between(first * home.day, now, kind="sighting"):
        if e.label not in wanted or e.position is None:
            continue
        p = home.nearest_place(e.position)
        if p is None:
            continue
        slot = home.slot(e.t)
        d = int(e.t // home.day)
        a, _ = home.slot_window(d, slot)
        if e.t < a:  # the small hours belong to the night slot of the day before
            d -= 1
        last[(e.label, d, slot)] = (e.t, p)
    # (day, slot) windows in which the robot looked at most of the home: an object not seen anywhere
    # then was taken out of the home (residents move things within ``settle_s`` of a slot change)
    swept: set[tuple[int, str]] = set()
    for d in range(first, day_now + 1):
        for slot, _, _ in home.slots:
            a, b = home.slot_window(d, slot)
            if b <= now and len(looked_at(tm, a + config.settle_s, b)) >= config.away_cover * len(home.places):
                swept.add((d, slot))
    for label in labels:
        for slot, _, _ in home.slots:
            counts: Counter[str] = Counter()
            weights: dict[str, float] = {}
            days = [d for d in range(first, day_now + 1) if home.slot_window(d, slot)[1] <= now]
            for d in days:
                hit = last.get((label, d, slot))
                p = hit[1] if hit is not None else AWAY if (d, slot) in swept else None
                if p is not None:
                    counts[p] += 1
                    weights[p] = weights.get(p, 0.0) + config.routine_decay ** (days[-1] - d)
            rel = f"{slot}_at"
            n = sum(weights.values())
            best = max(sorted(weights), key=lambda q: weights[q]) if weights else None
            if best and counts[best] >= config.routine_min_support and weights[best] / n >= config.routine_min_fraction:
                # confidence: share of the (recency-weighted) days that agree, shrunk towards 0 for few
                # days (1 day: 0.5)
                sem.assert_fact(label, rel, best, confidence=round(weights[best] / (n + 1), 4), support=counts[best],
                                t=now, source="routine", exclusive=True)
            else:
                for f in sem.facts(subject=label, relation=rel):
                    sem.retract(label, rel, f.object, t=now, source="routine: support fell below threshold")
    return [o for o in sem.operations[n0:] if o.op != "NOOP"]


class HouseholdWorld:
    """The household agent's world model (``WorldModel``): search order from memory, put-aside places."""

    def __init__(self, memory: Any | None, home: HomeMap, config: Any) -> None:
        self.memory, self.home, self.config = memory, home, config
        self.sp, self.tm = _on(memory, "spatial"), _on(memory, "temporal")
        self.ep, self.sem = _on(memory, "episodic"), _on(memory, "semantic")
        self.aside: dict[tuple[str, Hashable], float] = {}
        self.t = 0.0
        self.suggested: dict[str, set[str]] = {}  # place -> episodic chunk ids that suggested it (this search)
        self.judged: set[str] = set()
        self.recalled_for: str | None = None
        self.reasons: dict[str, str] = {}  # place -> why it was ranked (for records)
        self._persist: dict[str, list[float]] = {}  # label -> persistence by slot changes (this episode)
        self.recently_checked: set[str] = set()  # places looked at since the last slot change (temporal)

    # ------------------------------------------------------------------ WorldModel
    def update(self, state: Any) -> None:
        self.t = float(state.t)
        if self.ep is None or not self.suggested or state.task != "fetch":
            return
        found_at = state.seen_at.get(state.target)
        for place, chunks in self.suggested.items():
            if place in self.judged:
                continue
            if found_at == place:
                reward = 1.0
            elif place in state.checked:
                reward = 0.0
            else:
                continue
            self.judged.add(place)
            for cid in chunks:
                try:
                    self.memory.reinforce(cid, reward)
                except KeyError:  # the chunk is gone (working memory without long-term memory)
                    pass

    def put_aside(self, label: str, where: Hashable, until: float) -> None:
        self.aside[(label, where)] = float(until)

    def is_aside(self, label: str, place: str) -> bool:
        return self.aside.get((label, place), -1.0) > self.t

    def forget(self) -> None:
        self.aside.clear()
        self.suggested.clear()

    # ------------------------------------------------------------------ the decision
    def beliefs(self, label: str, t: float) -> dict[str, float]:
        """Unnormalised belief mass per place that ``label`` lies there at ``t``, from each enabled module."""
        cfg, home = self.config, self.home
        score: dict[str, float] = {}
        self.reasons = {}
        self.recently_checked: set[str] = set()
        slot = home.slot(t)
        w_b = 0.0
        believed = None
        if self.sp is not None:
            locs = self.sp.locate(label)
            place = believed = home.nearest_place(locs[0].position) if locs else None
            if place is not None:
                if self.tm is not None:
                    last = self.tm.last_seen(label)
                    age = t - last if last is not None else math.inf
                    k = home.slot_changes(last - cfg.settle_s, t) if last is not None else 3
                    # how often this object stayed put over k routine changes (its own record): seen since
                    # the last change -> trust it; gone for hours while routines moved it -> look elsewhere first
                    w_b = self.persistence(label, t)[min(k, 3)]
                    self.reasons[place] = (f"believed here (seen {age / 60:.0f} min ago, {k} slot changes since, "
                                           f"stays put {w_b:.2f})")
                else:
                    w_b = cfg.blind_weight
                    self.reasons[place] = "believed here"
                score[place] = score.get(place, 0.0) + w_b
        if self.sem is not None:
            rest = 1.0 - w_b
            for f in self.sem.facts(subject=label, relation=f"{slot}_at"):
                if f.object in home.xy or f.object == AWAY:  # AWAY: no place to search, an answer to "where?"
                    score[f.object] = score.get(f.object, 0.0) + rest * f.confidence
                    self.reasons.setdefault(f.object, f"routine {slot} (conf {f.confidence:.2f}, {f.support} days)")
        if self.ep is not None:
            if self.recalled_for != label:
                self.recalled_for = label
                self.suggested = {}
                self.judged = set()
                self._recalled = self.memory.episodic.recall(f"found {label} in the {slot}", k=cfg.recall_k,
                                                             strengthen=False)
            for c in self._recalled:
                for it in c.items:
                    for m in FOUND.finditer(it.text):
                        if m.group(1) != label or m.group(2) not in home.xy or m.group(3) != slot:
                            continue
                        w = cfg.episodic_weight * (0.5 + c.utility)
                        score[m.group(2)] = score.get(m.group(2), 0.0) + w
                        self.suggested.setdefault(m.group(2), set()).add(c.id)
                        self.reasons.setdefault(m.group(2), f"recalled search ({c.id}, utility {c.utility:.2f})")
        if self.tm is not None:
            # places looked at since the residents' last routine change, without the object: it was not
            # there then and routines move things at slot changes, so a routine or a recalled search
            # pointing there is out of date (the belief, if any, was already corrected by what was seen).
            # Residents run a little late: a look within ``settle_s`` after the change says nothing yet,
            # and a sighting that soon after a change still counts as from before it (persistence).
            since = home.last_slot_change(t) + cfg.settle_s
            for e in self.tm.between(since, t, kind="event") if since < t else ():
                m = CHECKED.fullmatch(e.text or "")
                if m and m.group(1) != believed and m.group(1) in home.xy and m.group(1) not in self.recently_checked:
                    self.recently_checked.add(m.group(1))
                    if m.group(1) in score:
                        score[m.group(1)] *= cfg.checked_factor
                    self.reasons[m.group(1)] = f"checked at {e.t / 3600 % 24:.1f} h without it"
        return score

    def taken_away(self, label: str, t: float) -> float | None:
        """When ``label`` was last seen, if temporal memory's record says it has since been taken
        out of the home; else None: every place any module points to (``beliefs``) and
        ``away_cover`` of the home's places were looked at without it since the later of its last
        sighting and the last slot change (+ ``settle_s``: residents move things at slot changes,
        so an earlier look says nothing about now). None without temporal memory (no record of
        when it was seen or of what was looked at since). A semantic routine ``(label,
        "<slot>_at", AWAY)`` ("the keys are out on weekday afternoons") is weighed in ``beliefs``
        instead, against the other places."""
        if self.tm is None:
            return None
        last = self.tm.last_seen(label)
        if last is None:
            return None
        home, cfg = self.home, self.config
        change = home.last_slot_change(t) + cfg.settle_s
        looked = looked_at(self.tm, max(last, change) if change < t else last, t)
        score = self.beliefs(label, t)
        pointed = {p for p, v in score.items() if v > 0 and p in home.xy and p not in self.recently_checked}
        if pointed - set(looked) or len(looked) < cfg.away_cover * len(home.places):
            return None
        return last

    def persistence(self, label: str, t: float) -> list[float]:
        """P(the object is still where it was last seen) after 0, 1, 2, 3+ slot changes, from the
        sightings in temporal memory over the last ``routine_window_days`` days: consecutive
        sightings of one object (``temporal.between``) on the same place vs. moved, by the slot
        changes between them. The object's own counts are shrunk towards the whole home's
        (``(same + 2 * home) / (pairs + 2)``, the home's rate Laplace-smoothed), and the result
        never rises with more slot changes (a thing left alone longer is not likelier to be there)."""
        if not self._persist:
            counts: dict[str, tuple[list[int], list[int]]] = {}
            prev: dict[str, tuple[float, str]] = {}
            t0 = t - self.config.routine_window_days * self.home.day
            for e in self.tm.between(t0, t, kind="sighting"):
                if e.label is None or e.position is None:
                    continue
                p = self.home.nearest_place(e.position)
                if p is None:
                    continue
                same, pairs = counts.setdefault(e.label, ([0] * 4, [0] * 4))
                q = prev.get(e.label)
                if q is not None and e.t > q[0]:
                    k = min(self.home.slot_changes(q[0] - self.config.settle_s, e.t), 3)
                    pairs[k] += 1
                    same[k] += q[1] == p
                prev[e.label] = (e.t, p)
            home = [(sum(c[0][k] for c in counts.values()) + 1) / (sum(c[1][k] for c in counts.values()) + 2)
                    for k in range(4)]
            for lab, (same, pairs) in counts.items():
                out = [(same[k] + 2 * home[k]) / (pairs[k] + 2) for k in range(4)]
                self._persist[lab] = [min(out[: k + 1]) for k in range(4)]
            self._persist[None] = [min(home[: k + 1]) for k in range(4)]  # type: ignore[index]
        return self._persist.get(label, self._persist[None])  # type: ignore[index]

    def rank(self, label: str, t: float, here: str, exclude: set[str]) -> list[str]:
        """Places to search for ``label``, best first: belief mass (``beliefs``) plus a small mass
        ``unknown_weight`` every place has (but those looked at since the last slot change), minus a
        detour cost per metre. With no memory every
        place has the same mass: nearest first (plain exploration, the memoryless order)."""
        score = self.beliefs(label, t)
        cands = [p for p in self.home.places if p not in exclude and not self.is_aside(label, p)]
        cost = self.config.distance_cost

        def key(p: str) -> tuple[float, str]:
            prior = 0.0 if p in self.recently_checked else cfg.unknown_weight  # just seen without it
            return (-(score.get(p, 0.0) + prior - cost * self.home.distance(here, p)), p)

        cfg = self.config
        return sorted(cands, key=key)
