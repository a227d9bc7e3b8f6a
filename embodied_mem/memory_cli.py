"""``embodied-mem memory``: inspect, query and export a memory database without changing it.

    embodied-mem memory inspect PATH [--json]
    embodied-mem memory query PATH locate LABEL [--at T]
    embodied-mem memory query PATH last_seen LABEL [--at T]     (also first_seen)
    embodied-mem memory query PATH between T0 T1 [--limit N]
    embodied-mem memory query PATH recall "TEXT" [-k K]
    embodied-mem memory query PATH facts [--subject S] [--relation R] [--at T]
    embodied-mem memory query PATH path X,Y X,Y [--adjacent]
    embodied-mem memory export PATH OUT.graphml|OUT.json [--at T]
    embodied-mem memory check PATH [--json] [--repair-wal] [--salvage NEW.db]
    embodied-mem memory inspect postgresql://USER@HOST/DB --robot R [--fleet F]    (a fleet memory)
    embodied-mem memory query postgresql://… --robot R locate LABEL [--fleet-wide | --robots A,B]   (also facts)
    embodied-mem memory check postgresql://… [--robot R] [--fleet F]    (every robot the role can see)
    embodied-mem memory export PATH map.yaml          (ROS map_server map: map.yaml + map.pgm)

The database is opened read-only (``Memory.open(path, readonly=True)``): a recall does not
strengthen chunks, and another process may be writing meanwhile (it sees what is committed).
Times are percept times; positions are world-frame map units. Every query takes ``--json``.
Exit status: 0 on success (an empty answer included), 2 for bad arguments or a file that is
missing, not a memory database, or of a newer schema (the message names the file). ``check``
exits 0 when the file is sound and 1 when it found problems (it lists them, and what to do).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]

PROG = "embodied-mem memory"


class _Usage(Exception):
    """A bad argument: printed as ``embodied-mem memory: error: ...``, exit status 2."""


def _point(text: str) -> tuple[float, float, float]:
    try:
        parts = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"a point is X,Y or X,Y,Z (numbers), got {text!r}") from None
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"a point is X,Y or X,Y,Z, got {text!r}")
    if not all(math.isfinite(v) for v in parts):
        raise argparse.ArgumentTypeError(f"a point needs finite coordinates, got {text!r}")
    return (parts[0], parts[1], parts[2] if len(parts) == 3 else 0.0)


def _time(text: str) -> float:
    """A percept time: a number, or inf/-inf for an open end; NaN is refused."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a time is a number, got {text!r}") from None
    if math.isnan(v):
        raise argparse.ArgumentTypeError(f"a time is a number, got {text!r}")
    return v


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description="Inspect, query or export a memory database (read-only).")
    sub = ap.add_subparsers(dest="command", required=True, metavar="{inspect,query,export,check}")

    p = sub.add_parser("inspect", help="counts, time span, regions and labels")
    p.add_argument("path", type=_location)
    _fleet_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("query", help="ask one question")
    p.add_argument("path", type=_location)
    _fleet_args(p)
    q = p.add_subparsers(dest="query", required=True,
                         metavar="{locate,last_seen,first_seen,between,recall,facts,path}")
    for name, help_ in (("locate", "where LABEL is believed to be, most recently seen first"),
                        ("last_seen", "when LABEL was last seen"), ("first_seen", "when LABEL was first seen")):
        s = q.add_parser(name, help=help_)
        s.add_argument("label")
        s.add_argument("--at", type=_time, default=None, help="answer as memory stood at this percept time")
        s.add_argument("--json", action="store_true")
        if name == "locate":  # a fleet memory: what other robots saw
            s.add_argument("--fleet-wide", action="store_true", help="every robot of the fleet (a fleet memory)")
            s.add_argument("--robots", default=None, help="these robots, comma-separated (a fleet memory)")
    s = q.add_parser("between", help="sightings and events with T0 <= t <= T1, in time order")
    s.add_argument("t0", type=_time)
    s.add_argument("t1", type=_time)
    s.add_argument("--limit", type=int, default=None)
    s.add_argument("--json", action="store_true")
    s = q.add_parser("recall", help="episodic recall: best chunks and items for TEXT")
    s.add_argument("text")
    s.add_argument("-k", type=int, default=5)
    s.add_argument("--json", action="store_true")
    s = q.add_parser("facts", help="semantic facts")
    s.add_argument("--subject", default=None)
    s.add_argument("--relation", default=None)
    s.add_argument("--object", default=None)
    s.add_argument("--at", type=_time, default=None)
    s.add_argument("--json", action="store_true")
    s.add_argument("--fleet-wide", action="store_true", help="every robot of the fleet (a fleet memory)")
    s.add_argument("--robots", default=None, help="these robots, comma-separated (a fleet memory)")
    s = q.add_parser("path", help="waypoints from START to GOAL over known free space (X,Y)")
    s.add_argument("start", type=_point)
    s.add_argument("goal", type=_point)
    s.add_argument("--adjacent", action="store_true", help="end next to GOAL (to reach an object)")
    s.add_argument("--json", action="store_true")

    p = sub.add_parser("check", help="integrity check, journal counts, last good percept; recovery")
    p.add_argument("path", type=_location, help="a memory file, or a fleet memory URL (postgresql://…)")
    _fleet_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--no-replay", action="store_true", help="do not replay the journal (faster on big files)")
    p.add_argument("--repair-wal", action="store_true",
                   help="keep the commits before a damaged write-ahead log frame, move the log aside")
    p.add_argument("--salvage", type=Path, default=None, metavar="NEW.db",
                   help="copy every readable journal row into a new memory database NEW.db")

    p = sub.add_parser("export", help="write the knowledge graph as GraphML or node-link JSON, or the occupancy "
                                      "as a ROS map_server map (OUT.yaml + OUT.pgm)")
    p.add_argument("path", type=Path)
    p.add_argument("out", type=Path, help="OUT.graphml, OUT.json or OUT.yaml (map_server)")
    p.add_argument("--at", type=_time, default=None, help="export the graph as it stood at this time")
    return ap


def _location(text: str) -> Path | str:
    """A memory file path, or a fleet memory URL (postgresql://…) kept as text."""
    from .fleet.urls import is_database_url

    return text if is_database_url(text) else Path(text)


def _fleet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--robot", default=None, help="whose memory, in a fleet memory (postgresql:// URL)")
    p.add_argument("--fleet", default=None, help="the robot's fleet (default: from the credentials, or 'default')")


def _open(path: Path | str, robot: str | None = None, fleet: str | None = None) -> Any:
    from .memory import Memory
    from .store import StoreError

    if isinstance(path, str):  # a fleet memory server
        try:
            return Memory.open(path, readonly=True, robot=robot, fleet=fleet)
        except (StoreError, ImportError) as exc:
            raise _Usage(str(exc)) from None
    if robot is not None or fleet is not None:
        raise _Usage(f"--robot/--fleet are for a fleet memory (postgresql:// URL), not the file {path}")
    if not path.exists():
        raise _Usage(f"{path}: no such file")
    if path.is_dir():
        raise _Usage(f"{path} is a directory, not a memory database")
    if path.stat().st_size == 0:
        raise _Usage(f"{path} is empty (0 bytes): no memory has been written there yet")
    try:
        return Memory.open(path, readonly=True)
    except StoreError as exc:
        raise _Usage(str(exc)) from None


def inspect(mem: Any) -> dict[str, Any]:
    """What a memory database holds: counts, time span, regions, labels (with sightings and last seen)."""
    st = mem.stats()
    tm = mem.temporal
    labels = {lbl: {"sightings": tm.count(lbl), "first_seen": tm.first_seen(lbl), "last_seen": tm.last_seen(lbl),
                    "believed_now": len(mem.spatial.locate(lbl))} for lbl in tm.labels()}
    return {
        "path": str(mem.path),
        "schema_version": int(mem._store.get_meta("schema_version") or 0),
        "percepts": st["percepts"],
        "time_span": st["time_span"],
        "sightings": st.get("spatial.sightings", 0),
        "objects": st.get("spatial.objects", 0),
        "current_beliefs": st.get("spatial.current_beliefs", 0),
        "places": st.get("spatial.places", 0),
        "known_cells": st.get("spatial.known_cells", 0),
        "episodes": st.get("episodic.episodes", 0),
        "chunks": st.get("episodic.chunks", 0),
        "facts": st.get("semantic.facts", 0),
        "graph_nodes": st["graph.nodes"],
        "graph_edges": st["graph.edges"],
        "regions": st["regions"],
        "labels": labels,
    }


def _print_inspect(d: dict[str, Any]) -> None:
    span = d["time_span"]
    print(f"memory database {d['path']} (schema {d['schema_version']})")
    print(f"  percepts {d['percepts']:,}, time span " + (f"{span[0]:g} .. {span[1]:g}" if span else "(empty)"))
    print(f"  sightings {d['sightings']:,}, objects {d['objects']:,} ({d['current_beliefs']:,} believed now), "
          f"places {d['places']:,}, known cells {d['known_cells']:,}")
    print(f"  episodes {d['episodes']:,}, chunks {d['chunks']:,}, facts {d['facts']:,}; "
          f"graph {d['graph_nodes']:,} nodes, {d['graph_edges']:,} edges")
    print(f"  regions: {', '.join(d['regions']) or '(none)'}")
    print(f"  labels ({len(d['labels'])}):")
    for lbl, v in d["labels"].items():
        print(f"    {lbl:<20} {v['sightings']:>6} sightings, first t={v['first_seen']:g}, last t={v['last_seen']:g}, "
              f"{v['believed_now']} believed now")


def _query(mem: Any, a: argparse.Namespace) -> tuple[Any, list[str]]:
    """(JSON-ready answer, text lines)."""
    q = a.query
    if q == "locate" and (a.fleet_wide or a.robots):
        robots = [r for r in a.robots.split(",") if r] if a.robots else None
        flocs = mem.fleet.locate(a.label, at=a.at, fleet=a.fleet_wide, robots=robots)
        data = [{"label": x.label, "instance": x.instance, "position": list(x.position), "region": x.region,
                 "first_seen": x.first_seen, "last_seen": x.last_seen, "confidence": x.confidence, "robot": x.robot,
                 "source": x.source, "seq": x.seq} for x in flocs]
        return data, [str(x) for x in flocs] or [f"no robot saw {a.label!r}"]
    if q == "locate":
        locs = mem.spatial.locate(a.label, at=a.at)
        data = [{"label": x.label, "instance": x.instance, "position": list(x.position), "place": x.place,
                 "region": x.region, "first_seen": x.first_seen, "last_seen": x.last_seen,
                 "confidence": x.confidence} for x in locs]
        lines = [str(x) for x in locs] or [f"no belief about {a.label!r}" + (f" at t={a.at:g}" if a.at is not None
                                                                           else "")]
        return data, lines
    if q in ("last_seen", "first_seen"):
        t = getattr(mem.temporal, q)(a.label, at=a.at)
        return t, [f"{a.label} never seen" if t is None else f"{t:g}"]
    if q == "between":
        if a.t1 < a.t0:
            raise _Usage(f"between: T1 ({a.t1:g}) is before T0 ({a.t0:g})")
        evs = mem.temporal.between(a.t0, a.t1, limit=a.limit)
        data = [{"t": e.t, "kind": e.kind, "label": e.label, "text": e.text,
                 "position": list(e.position) if e.position else None, "source": e.source} for e in evs]
        return data, [str(e) for e in evs] or [f"nothing between t={a.t0:g} and t={a.t1:g}"]
    if q == "recall":
        if a.k < 1:
            raise _Usage(f"recall: -k must be >= 1, got {a.k}")
        chunks = mem.episodic.recall(a.text, k=a.k)
        data = [{"id": c.id, "episode": c.episode, "t0": c.t0, "t1": c.t1, "place": c.place, "score": c.score,
                 "items": [{"t": it.t, "text": it.text, "percept_id": it.percept_id} for it in c.items]}
                for c in chunks]
        return data, [str(c) for c in chunks] or [f"nothing relevant to {a.text!r}"]
    if q == "facts" and (a.fleet_wide or a.robots):
        robots = [r for r in a.robots.split(",") if r] if a.robots else None
        ffacts = mem.fleet.facts(a.subject, a.relation, a.object, at=a.at, fleet=a.fleet_wide, robots=robots)
        data = [{"subject": f.subject, "relation": f.relation, "object": f.object, "confidence": f.confidence,
                 "support": f.support, "valid_from": f.valid_from, "valid_to": f.valid_to, "source": f.source,
                 "robot": f.robot, "recorded_at": f.recorded_at} for f in ffacts]
        return data, [str(f) for f in ffacts] or ["no facts"]
    if q == "facts":
        facts = mem.semantic.facts(subject=a.subject, relation=a.relation, object=a.object, at=a.at)
        data = [{"subject": f.subject, "relation": f.relation, "object": f.object, "confidence": f.confidence,
                 "support": f.support, "valid_from": f.valid_from, "valid_to": f.valid_to, "source": f.source}
                for f in facts]
        return data, [str(f) for f in facts] or ["no facts"]
    if q == "path":
        wps = mem.spatial.path(a.start, a.goal, adjacent=a.adjacent)
        if wps is None:
            return None, ["no known path"]
        return [list(p) for p in wps], [" -> ".join(f"({p[0]:g}, {p[1]:g})" for p in wps)]
    raise _Usage(f"unknown query {q!r}")  # pragma: no cover - argparse restricts the choices


def _export(mem: Any, out: Path, at: float | None) -> Any:
    """Write the graph (or its state at ``at``); returns the graph written."""
    suffix = out.suffix.lower()
    if suffix not in (".graphml", ".json"):
        raise _Usage(f"export: {out} must end in .graphml or .json")
    if out.is_dir():
        raise _Usage(f"export: {out} is a directory; give a file name ending in .graphml or .json")
    g = mem.graph if at is None else mem.graph.as_of(at)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".graphml":
            g.to_graphml(out)
        else:
            g.to_json(out)
    except OSError as exc:
        raise _Usage(f"export: cannot write {out} ({exc.strerror or exc})") from None
    return g


def _check(a: argparse.Namespace) -> int:
    from .memory_check import check_file, repair_wal, salvage
    from .store import StoreError

    if isinstance(a.path, str):  # a fleet memory server: one report per robot
        return _check_url(a)
    if a.robot is not None or a.fleet is not None:
        print(f"{PROG}: error: --robot/--fleet are for a fleet memory (postgresql:// URL), not the file {a.path}",
              file=sys.stderr)
        return 2
    try:
        if a.repair_wal:
            print(repair_wal(a.path))
        if a.salvage is not None:
            copied, lost = salvage(a.path, a.salvage)
            print(f"salvaged {copied:,} journal rows into {a.salvage} ({lost:,} unreadable rows left out)")
        rep = check_file(a.path, replay=not a.no_replay)
    except (StoreError, OSError) as exc:
        print(f"{PROG}: error: {_printable(str(exc))}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(rep.to_dict(), indent=2))
    else:
        print(_printable("\n".join(rep.lines())))
    return 0 if rep.ok else 1


def _check_url(a: argparse.Namespace) -> int:
    from .store import StoreError

    if a.repair_wal or a.salvage is not None:
        print(f"{PROG}: error: --repair-wal and --salvage are for a memory file; a fleet memory's server keeps its "
              "own write-ahead log (PostgreSQL recovers it on start)", file=sys.stderr)
        return 2
    try:
        from .fleet_check import check_url

        reps = check_url(a.path, robot=a.robot, fleet=a.fleet, replay=not a.no_replay)
    except (StoreError, ImportError) as exc:
        print(f"{PROG}: error: {_printable(str(exc))}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps([r.to_dict() for r in reps], indent=2))
    elif not reps:
        print("no robot has a journal here yet")
    else:
        print(_printable("\n".join(line for r in reps for line in r.lines())))
    return 0 if all(r.ok for r in reps) else 1


def _printable(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes in argv) escaped, so printing never fails."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    a = ap.parse_args(argv)  # exits 2 with argparse's message on bad usage
    if a.command == "check":
        return _check(a)
    try:
        mem = _open(a.path, getattr(a, "robot", None), getattr(a, "fleet", None))
        try:
            if a.command == "inspect":
                d = inspect(mem)
                if a.json:
                    print(json.dumps(d, indent=2))
                else:
                    _print_inspect(d)
            elif a.command == "query":
                data, lines = _query(mem, a)
                print(json.dumps(data) if a.json else "\n".join(lines))
            elif a.out.suffix.lower() in (".yaml", ".yml"):  # a ROS map_server map (.pgm beside it)
                from .map_export import write_map_server

                if a.at is not None:
                    raise _Usage("export: a map_server map is the current occupancy (--at is for graphs)")
                try:
                    pgm, yml = write_map_server(mem, a.out)
                except ValueError as exc:
                    raise _Usage(f"export: {exc}") from None
                print(f"wrote {yml} and {pgm} (map_server occupancy map, {mem.spatial.config.cell_size:g} m/cell)")
            else:
                g = _export(mem, a.out, a.at)
                print(f"wrote {a.out} ({g.number_of_nodes():,} nodes, {g.number_of_edges():,} edges"
                      + (f", as of t={a.at:g}" if a.at is not None else "") + ")")
        finally:
            mem.close()
    except (_Usage, ValueError) as exc:  # ValueError: the library refused an argument, naming it
        print(f"{PROG}: error: {_printable(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head`: the reader has gone, which is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
