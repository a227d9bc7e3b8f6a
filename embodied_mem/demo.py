"""``embodied-mem demo``: a scripted walk through a small flat, fed into a persistent memory, with answers.

The flat is a grid world (1 map unit = 1 cell ≈ 1 m): a kitchen (x 0–4), a hall (x 6–10) and a
bedroom (x 12–16), y 0–5, with wall cells at x = 5 and x = 11 except for doorways at y = 2–3. The agent walks a
fixed route; at each step its sensor reports only what it could see: objects within 2.5 cells
(``View.disc`` of that radius is the negative evidence; the layout keeps other rooms' objects out
of that range, so walls never hide a thing the view claims), free and wall cells of its room in
that disc, and the room name. Meanwhile the world changes behind its back: someone
moves the key from the hall to the bedroom, and the agent eats the apple. The memory is written to
``<run dir>/memory.db`` (default: ``runs/demo/<UTC time>/``; never a temporary folder), then asked
where / when / what questions. Inspect it afterwards with ``embodied-mem memory inspect <db>``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "run_demo", "ROOMS"]

ROOMS = {"kitchen": (0, 5), "hall": (6, 11), "bedroom": (12, 16)}  # x ranges (inclusive, doorway column
DOOR_Y = (2, 3)                                                    # on the left room's side); y is 0..5
SIGHT = 2.5
KEY_MOVED_AT_STEP = 24  # the agent has just left the hall: someone takes the key to the bedroom


def _room(x: float) -> str:
    for name, (x0, x1) in ROOMS.items():
        if x0 - 0.5 <= x <= x1 + 0.5:
            return name
    raise ValueError(f"x={x} is outside the flat")


class _Flat:
    """The ground truth the agent cannot read directly: only ``sense`` turns it into a Percept."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {
            "apple": {"label": "apple", "pos": (2, 1)},
            "table": {"label": "table", "pos": (3, 4)},
            "fridge": {"label": "fridge", "pos": (0, 5)},
            "key-1": {"label": "key", "pos": (7, 4), "instance": "key-1"},
            "coat": {"label": "coat", "pos": (10, 5)},
            "bed": {"label": "bed", "pos": (16, 3)},
            "lamp": {"label": "lamp", "pos": (14, 5)},
            "book": {"label": "book", "pos": (16, 1)},
        }
        outline = {(x, y) for x in range(-1, 18) for y in (-1, 6)} | {(x, y) for x in (-1, 17) for y in range(6)}
        partitions = {(x, y) for x in (5, 11) for y in range(6) if y not in DOOR_Y}
        self.walls = outline | partitions

    def sense(self, t: float, x: float, y: float, yaw: float, **extra: Any) -> Any:
        from .percept import Percept, Pose, Sighting, View

        room = _room(x)
        x0, x1 = ROOMS[room]
        seen = []
        for o in self.objects.values():
            ox, oy = o["pos"]
            if math.hypot(ox - x, oy - y) <= SIGHT:
                seen.append(Sighting(o["label"], (ox, oy, 0.0), instance=o.get("instance")))
        free, blocked = [], []
        r = math.ceil(SIGHT)
        for cx in range(int(x) - r, int(x) + r + 1):
            for cy in range(int(y) - r, int(y) + r + 1):
                if math.hypot(cx - x, cy - y) > SIGHT:
                    continue
                if (cx, cy) in self.walls:
                    blocked.append((cx, cy))
                elif x0 <= cx <= x1 and 0 <= cy <= 5:
                    free.append((cx, cy))
        view = View.disc((x, y), SIGHT)
        return Percept(t=t, pose=Pose(x, y, 0.0, yaw), sightings=tuple(seen), view=view, region=room,
                       free=free or None, blocked=blocked or None, source="demo", **extra)


def _route() -> list[tuple[float, float]]:
    """The agent's waypoints, one cell per step: kitchen tour, hall, bedroom, back to the kitchen."""
    pts: list[tuple[float, float]] = []

    def line(a: tuple[int, int], b: tuple[int, int]) -> None:
        (ax, ay), (bx, by) = a, b
        n = max(abs(bx - ax), abs(by - ay))
        for i in range(1 if pts else 0, n + 1):
            pts.append((ax + (bx - ax) * i / n, ay + (by - ay) * i / n))

    line((1, 1), (4, 1))
    line((4, 1), (4, 4))
    line((4, 4), (1, 4))
    line((1, 4), (1, 2))
    line((1, 2), (9, 2))     # through the doorway into the hall
    line((9, 2), (9, 4))
    line((9, 4), (9, 2))
    line((9, 2), (15, 2))    # into the bedroom
    line((15, 2), (15, 4))
    line((15, 4), (15, 2))
    line((15, 2), (8, 2))    # back to the hall: the key is gone from the shelf
    line((8, 2), (3, 2))     # and to the kitchen
    line((3, 2), (3, 1))
    return pts


def run_demo(out_dir: Path, *, quiet: bool = False) -> dict[str, Any]:
    """Walk the route into ``out_dir/memory.db`` and answer questions. Returns the answers (for tests)."""
    from .memory import Memory

    out_dir.mkdir(parents=True, exist_ok=True)
    db = out_dir / "memory.db"
    if db.exists() and db.stat().st_size > 0:
        raise FileExistsError(f"{db} already holds a memory; choose another --out folder")
    say = (lambda *a: None) if quiet else print
    flat = _Flat()
    route = _route()
    t_key_moved = t_apple_eaten = None
    # places of 1.5 cells: small enough that no place straddles two rooms' doorways for long
    with Memory.open(db, config={"spatial": {"place_radius": 1.5}}) as mem:
        mem.load_priors({"facts": [["apple", "is", "food"], ["key", "opens", "front door"], ["bed", "is_in", "bedroom"]]})
        prev = route[0]
        for step, (x, y) in enumerate(route):
            t = float(step)
            yaw = math.atan2(y - prev[1], x - prev[0]) if (x, y) != prev else 0.0
            prev = (x, y)
            extra: dict[str, Any] = {}
            if step == KEY_MOVED_AT_STEP:  # out of the agent's sight, someone puts the key on the nightstand
                flat.objects["key-1"]["pos"] = (15, 5)
                t_key_moved = t
            if _room(x) == "kitchen" and step > 30 and (x, y) == (3.0, 1.0) and t_apple_eaten is None:
                del flat.objects["apple"]  # the agent eats the apple (it is next to it)
                t_apple_eaten = t
                extra = {"events": ("ate the apple",), "action": "eat", "target": "apple"}
            mem.observe(flat.sense(t, x, y, yaw, **extra))
            if step == 12:
                mem.observe(flat.sense(t + 0.5, x, y, yaw, events=("heard the doorbell",)))
        mem.new_episode("evening")
        mem.consolidate()

        answers: dict[str, Any] = {"db": str(db), "steps": len(route), "key_moved_at": t_key_moved,
                                   "apple_eaten_at": t_apple_eaten}
        say(f"Walked {len(route)} steps through {', '.join(ROOMS)}; memory written to {db}\n")

        key_now = mem.spatial.locate("key")
        answers["key_now"] = key_now
        say("Q: Where is the key?")
        say("A: " + ("; ".join(str(k) for k in key_now) if key_now else "I don't know"))
        t_before = (t_key_moved or 0) - 1
        key_then = mem.spatial.locate("key", at=t_before)
        answers["key_before"] = key_then
        say(f"Q: Where was the key at t={t_before:g}?")
        say("A: " + ("; ".join(str(k) for k in key_then) if key_then else "I didn't know yet"))

        apple = mem.spatial.locate("apple")
        hist = mem.spatial.history("apple")
        answers["apple_now"], answers["apple_history"] = apple, hist
        answers["apple_last_seen"] = mem.temporal.last_seen("apple")
        say("Q: Where is the apple?")
        if apple:
            say("A: " + "; ".join(str(a) for a in apple))
        else:
            gone = ", ".join(f"{h.region} until t={h.valid_to:g}" for h in hist if h.valid_to is not None)
            say(f"A: Nowhere any more: it was in the {gone}; last seen at t={answers['apple_last_seen']:g}.")

        order = mem.temporal.order(["book", "key", "apple", "bed", "umbrella"])
        answers["order"] = order
        say("Q: In which order did I first see the book, the key, the apple, the bed and an umbrella?")
        say(f"A: {', '.join(order)} (never saw an umbrella)")

        t0, t1 = (t_apple_eaten or 0) - 1, (t_apple_eaten or 0)
        evs = mem.temporal.between(t0, t1)
        answers["between"] = evs
        say(f"Q: What happened between t={t0:g} and t={t1:g}?")
        for e in evs:
            say(f"   {e}")

        chunks = mem.episodic.recall("doorbell", k=1)
        answers["recall"] = chunks
        say("Q: When did I hear the doorbell, and where was I?")
        if chunks:
            c = chunks[0]
            place = next((p for p in mem.spatial.places() if p.id == c.place), None)
            say(f"A: t={c.items[0].t:g}, in the {place.region if place else 'unknown place'} ({c.items[0].text!r})")

        pose = mem.spatial.pose()
        path = mem.spatial.path(pose.position, key_now[0].position, adjacent=True) if key_now and pose else None
        answers["path_to_key"] = path
        say("Q: How do I get to the key from here?")
        say("A: " + (" -> ".join(f"({p[0]:g},{p[1]:g})" for p in path) if path else "no known path"))

        facts = mem.semantic.facts()
        answers["facts"] = facts
        say("Q: What do I know?")
        for f in facts:
            say(f"   {f}")

        r = mem.retrieve("where is the key?")
        answers["recall_timings"] = r.timings
        say("\nmem.retrieve('where is the key?') — every module, concurrently:")
        say("   " + str(r).replace("\n", "\n   "))
        answers["stats"] = mem.stats()
    say(f"\nMemory database: {db}\nInspect it: embodied-mem memory inspect {db}\n"
        f"Query it:   embodied-mem memory query {db} locate key")
    return answers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="embodied-mem demo", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None,
                    help="run folder for memory.db (default: runs/demo/<UTC time>/ under the current folder)")
    a = ap.parse_args(argv)
    out = a.out or Path("runs") / "demo" / time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    try:
        run_demo(out)
    except FileExistsError as exc:
        print(f"embodied-mem demo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
