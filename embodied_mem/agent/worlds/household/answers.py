"""Questions about the household answered from memory alone (scored against the log by the caller).

- ``where_is(memory, home, label, t)``: the place the object most likely lies on now: the search's
  own first choice (``HouseholdWorld.rank``), or None when no module speaks for any place.
- ``was_open(memory, door, t_ref, t)``: was the door open at ``t_ref`` (e.g. "this morning")? The
  last observation of that door at or before ``t_ref`` (within ``max_age`` seconds), else the
  first one after it (within ``max_age`` too), from ``temporal.between``; None when memory holds
  neither (temporal memory off, or the door was not looked at).
- ``changed_in_room(memory, home, room, t, since)``: the objects that came into or left ``room``
  between ``since`` (e.g. this time yesterday) and ``t``, from spatial memory's as-of beliefs
  (``locate(at=since)`` against ``locate(at=t)``); None without spatial memory.

Every answer reads only public memory APIs; a memoryless agent answers None to all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .world import HomeMap, HouseholdWorld

__all__ = ["where_is", "was_open", "changed_in_room", "score_answer"]


def where_is(memory: Any, home: HomeMap, config: Any, label: str, t: float) -> str | None:
    if memory is None:
        return None
    w = HouseholdWorld(memory, home, config)
    score = w.beliefs(label, t)
    if not score:
        return None
    return max(sorted(score), key=lambda p: score[p])


def was_open(memory: Any, door: str, t_ref: float, max_age: float = 3 * 3600.0) -> bool | None:
    tm = getattr(memory, "temporal", None) if memory is not None else None
    if tm is None or not getattr(tm, "enabled", False):
        return None

    def state(events: Sequence[Any]) -> list[tuple[float, bool]]:
        out = []
        for e in events:
            text = getattr(e, "text", None) or ""
            if text.startswith(door + " "):
                out.append((e.t, text.endswith(" open")))
        return out

    before = state(tm.between(t_ref - max_age, t_ref, kind="event"))
    if before:
        return before[-1][1]
    after = state(tm.between(t_ref, t_ref + max_age, kind="event"))
    return after[0][1] if after else None


def changed_in_room(memory: Any, home: HomeMap, room: str, t: float, since: float) -> set[str] | None:
    sp = getattr(memory, "spatial", None) if memory is not None else None
    if sp is None or not getattr(sp, "enabled", False):
        return None

    def inside(at: float) -> set[str]:
        out = set()
        for label in sp.labels():
            locs = sp.locate(label, at=at)
            if locs:
                p = home.nearest_place(locs[0].position)
                if p is not None and home.rooms_of.get(p) == room:
                    out.add(label)
        return out

    return inside(since) ^ inside(t)


def score_answer(kind: str, answer: Any, truth: Any) -> float:
    """1/0 for ``where`` and ``door`` (None is wrong), Jaccard overlap for ``changed`` (None: empty set)."""
    if kind == "changed":
        a, b = set(answer or ()), set(truth)
        return 1.0 if not a and not b else len(a & b) / len(a | b)
    return float(answer is not None and answer == truth)
