"""Questions about the household answered from the agent's own memory (scored against the log by the caller).

Every answer reads the memory modules through their public APIs and only when they are enabled, so
an ablation removes exactly what that module knows; nothing here sees the simulator (only what the
robot perceived reached memory). ``None`` means "memory does not know": the caller then makes the
best guess a robot without that memory would make (``guess``).

- ``where_is(memory, home, config, label, t)``: ``"away"`` (``AWAY``) when memory says it was taken
  out of the home (``HouseholdWorld.taken_away``: everywhere it could be looked at since it was
  last seen, or a routine says it is out at this time of day); else the place the object most
  likely lies on now: the fetch search's own first choice (``HouseholdWorld.beliefs``: spatial's
  belief, temporal's age of it, semantic routines, episodic recall), or None when no module speaks
  for any place.
- ``was_open(memory, door, t_ref)``: was the door open at ``t_ref`` (e.g. "this morning")? Temporal
  memory's record of what was seen around then: of the last observation of that door at or before
  ``t_ref`` and the first one after it, the nearer in time (within ``max_age`` seconds: doors
  change within hours); None when temporal memory is off or the door was not seen then.
- ``as_of(memory, home, t)``: where each object was believed to lie at time ``t``, from temporal
  memory's timeline alone: its last sighting at or before ``t`` and at most ``max_age`` seconds
  old (residents move things every few hours), unless that place was looked at later (a
  ``"checked <place>"`` event before ``t``) without it (then ``None``: it had gone, nobody saw
  where). None without temporal memory (no record of when).
- ``changed_in_room(memory, home, room, t, since)``: the objects that came into or left ``room``
  between ``since`` (e.g. this time yesterday) and ``t``: the as-of beliefs at the two times
  compared; an object counts only when its place is believed at both times. None without temporal
  memory.

Units: seconds on memory's time line, metres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .world import AWAY, CHECKED, HomeMap, HouseholdWorld

__all__ = ["where_is", "was_open", "as_of", "changed_in_room", "guess", "score_answer"]


def _on(memory: Any, module: str) -> Any:
    m = getattr(memory, module, None) if memory is not None else None
    return m if m is not None and getattr(m, "enabled", False) else None


def where_is(memory: Any, home: HomeMap, config: Any, label: str, t: float) -> str | None:
    if memory is None:
        return None
    w = HouseholdWorld(memory, home, config)
    if w.taken_away(label, t) is not None:
        return AWAY
    score = w.beliefs(label, t)
    if not score:
        return None
    return max(sorted(score), key=lambda p: score[p])


def was_open(memory: Any, door: str, t_ref: float, max_age: float = 2 * 3600.0) -> bool | None:
    tm = _on(memory, "temporal")
    if tm is None:
        return None

    def state(events: Sequence[Any]) -> list[tuple[float, bool]]:
        out = []
        for e in events:
            text = e.text or ""
            if text.startswith(door + " "):
                out.append((e.t, text.endswith(" open")))
        return out

    around = [(abs(t - t_ref), t > t_ref, v) for t, v in state(tm.between(t_ref - max_age, t_ref + max_age, kind="event"))]
    return min(around)[2] if around else None  # the nearest look; a tie goes to the one before


def as_of(memory: Any, home: HomeMap, t: float, max_age: float = 4 * 3600.0) -> dict[str, str | None] | None:
    tm = _on(memory, "temporal")
    if tm is None:
        return None
    seen: dict[str, tuple[float, str]] = {}
    looked: dict[str, float] = {}
    for e in tm.between(t - max_age, t):
        if e.kind == "sighting":
            if e.label is not None and e.position is not None:
                p = home.nearest_place(e.position)
                if p is not None:
                    seen[e.label] = (e.t, p)
        else:
            m = CHECKED.fullmatch(e.text or "")
            if m:
                looked[m.group(1)] = e.t
    return {lab: (p if looked.get(p, -math.inf) <= ts else None) for lab, (ts, p) in seen.items()}


def changed_in_room(memory: Any, home: HomeMap, room: str, t: float, since: float) -> set[str] | None:
    then, now = as_of(memory, home, since), as_of(memory, home, t)
    if then is None or now is None:
        return None
    out = set()
    for label in set(then) & set(now):
        a, b = then[label], now[label]
        if a is not None and b is not None and (home.rooms_of.get(a) == room) != (home.rooms_of.get(b) == room):
            out.add(label)
    return out


def guess(kind: str, answer: Any) -> Any:
    """The answer given when memory does not know (``None``): doors stand open by day ("open"),
    nothing known to have changed (the empty set); ``where`` stays None (no guess: wrong)."""
    if answer is not None:
        return sorted(answer) if kind == "changed" else answer
    return {"door": True, "changed": []}.get(kind)


def score_answer(kind: str, answer: Any, truth: Any) -> float:
    """1/0 for ``where`` and ``door`` (None is wrong), Jaccard overlap for ``changed`` (None: empty set)."""
    if kind == "changed":
        a, b = set(answer or ()), set(truth)
        return 1.0 if not a and not b else len(a & b) / len(a | b)
    return float(answer is not None and answer == truth)
