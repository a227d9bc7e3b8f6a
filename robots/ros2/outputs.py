"""What the bridge sends: JSON answers, RViz MarkerArrays and Nav2 goals (rosbags message objects).

All positions are metres in the world frame named in each message's header. Messages are built
with the ROS 2 Humble type store of rosbags (``types.typestore()``) so that every transport can
serialise them to the CDR bytes ROS 2 expects.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .messages import header, point, pose, string
from .types import typestore

__all__ = ["string_msg", "marker_array", "plan_markers", "occupancy_grid", "goal_pose", "answer_query", "QueryError"]


class QueryError(ValueError):
    """A query that cannot be answered; its message goes back in ``{"ok": false, "error": ...}``."""


def _T(name: str) -> Any:
    return typestore().types[name]


_header, _point, _pose = header, point, pose


def string_msg(text: str) -> Any:
    return string(text)


def _color(r: float, g: float, b: float, a: float = 1.0) -> Any:
    return _T("std_msgs/msg/ColorRGBA")(r=r, g=g, b=b, a=a)


def _marker(frame: str, t: float | None, ns: str, mid: int, mtype: int, *, pose: Any = None, scale: float = 0.1,
            color: Any = None, points: list[Any] | None = None, text: str = "", action: int = 0) -> Any:
    M = _T("visualization_msgs/msg/Marker")
    return M(
        header=_header(frame, t), ns=ns, id=mid, type=mtype, action=action, pose=pose or _pose(0, 0),
        scale=_T("geometry_msgs/msg/Vector3")(x=scale, y=scale, z=scale), color=color or _color(1, 1, 1),
        lifetime=_T("builtin_interfaces/msg/Duration")(sec=0, nanosec=0), frame_locked=False,
        points=points or [], colors=[], texture_resource="",
        texture=_T("sensor_msgs/msg/CompressedImage")(header=_header("", None), format="",
                                                       data=np.zeros(0, np.uint8)),
        uv_coordinates=[], text=text, mesh_resource="",
        mesh_file=_T("visualization_msgs/msg/MeshFile")(filename="", data=np.zeros(0, np.uint8)),
        mesh_use_embedded_materials=False)


def marker_array(memory: Any, frame: str, stamp: float | None = None, max_objects: int = 500) -> Any:
    """visualization_msgs/MarkerArray of spatial memory: DELETEALL, places (spheres), place graph
    (lines), trajectory (line strip), current objects (cubes) with their labels (text)."""
    M = _T("visualization_msgs/msg/Marker")
    sp = memory.spatial
    markers = [_marker(frame, stamp, "", 0, M.ARROW, action=M.DELETEALL)]
    places = sp.places()
    if places:
        markers.append(_marker(frame, stamp, "places", 0, M.SPHERE_LIST, scale=0.25, color=_color(0.2, 0.5, 1.0),
                               points=[_point(*p.position) for p in places]))
        pos = {p.id: p.position for p in places}
        edges = []
        for p in places:
            for n in sp.neighbours(p.id):
                if p.id < n and n in pos:
                    edges += [_point(*pos[p.id]), _point(*pos[n])]
        if edges:
            markers.append(_marker(frame, stamp, "place_graph", 0, M.LINE_LIST, scale=0.04,
                                   color=_color(0.2, 0.5, 1.0, 0.7), points=edges))
    traj = sp.trajectory()
    if len(traj) >= 2:
        step = max(1, len(traj) // 2000)
        markers.append(_marker(frame, stamp, "trajectory", 0, M.LINE_STRIP, scale=0.03, color=_color(1, 0.5, 0),
                               points=[_point(p.x, p.y, p.z) for _, p in traj[::step]]))
    mid = 0
    for label in sp.labels():
        for loc in sp.locate(label)[:max_objects]:
            x, y, z = loc.position
            markers.append(_marker(frame, stamp, "objects", mid, M.CUBE, pose=_pose(x, y, z), scale=0.2,
                                   color=_color(0.1, 0.8, 0.2, max(0.2, loc.confidence))))
            markers.append(_marker(frame, stamp, "labels", mid, M.TEXT_VIEW_FACING, pose=_pose(x, y, z + 0.3),
                                   scale=0.2, text=loc.instance or label))
            mid += 1
    return _T("visualization_msgs/msg/MarkerArray")(markers=markers)


def plan_markers(frame: str, stamp: float | None, robot: tuple[float, float] | None,
                 goal: tuple[float, float] | None, lines: list[str], aside: list[tuple[float, float]] = (),
                 target: tuple[float, float] | None = None) -> Any:
    """visualization_msgs/MarkerArray of the running task (namespace ``plan``): DELETEALL, the
    navigation goal (red arrow-less sphere) and a line from the robot to it, the object the robot
    heads for (``target``, yellow cube), targets the critic put aside (grey cubes), and the plan as
    text above the robot (``lines``: the task, then the subgoals, current first)."""
    M = _T("visualization_msgs/msg/Marker")
    out = [_marker(frame, stamp, "", 0, M.ARROW, action=M.DELETEALL)]
    if goal is not None:
        out.append(_marker(frame, stamp, "plan_goal", 0, M.SPHERE, pose=_pose(goal[0], goal[1], 0.1), scale=0.3,
                           color=_color(1.0, 0.1, 0.1)))
        if robot is not None:
            out.append(_marker(frame, stamp, "plan_path", 0, M.LINE_STRIP, scale=0.05, color=_color(1.0, 0.1, 0.1, 0.8),
                               points=[_point(robot[0], robot[1], 0.05), _point(goal[0], goal[1], 0.05)]))
    if target is not None:
        out.append(_marker(frame, stamp, "plan_target", 0, M.CUBE, pose=_pose(target[0], target[1], 0.3), scale=0.35,
                           color=_color(1.0, 0.85, 0.0, 0.9)))
    if aside:
        out.append(_marker(frame, stamp, "plan_aside", 0, M.CUBE_LIST, scale=0.3, color=_color(0.5, 0.5, 0.5, 0.7),
                           points=[_point(x, y, 0.15) for x, y in aside]))
    if lines and robot is not None:
        out.append(_marker(frame, stamp, "plan_text", 0, M.TEXT_VIEW_FACING, pose=_pose(robot[0], robot[1], 1.2),
                           scale=0.25, color=_color(1.0, 1.0, 1.0), text="\n".join(lines[:6])))
    return _T("visualization_msgs/msg/MarkerArray")(markers=out)


def occupancy_grid(memory: Any, frame: str, stamp: float | None, window: float = 40.0,
                   center: tuple[float, float] | None = None) -> Any:
    """nav_msgs/OccupancyGrid of memory's occupancy layer, or None when no cell is known.

    ROS conventions: ``data`` row-major from the cell at ``info.origin`` (the lower-left corner of
    the lower-left cell, metres in ``frame``), rows along +y; -1 unknown, 0 free, 100 blocked;
    ``resolution`` = memory's cell size in metres. Bounded: it covers the known cells' bounding
    box clipped to the ``window`` × ``window`` m square centred on ``center`` (the robot; default:
    the robot's pose in memory, else the middle of the known cells), so however far apart known
    cells lie, a message holds at most ``(window / cell_size)²`` cells (640 000 at 5 cm, 40 m).
    """
    sp = memory.spatial
    cells, _ = sp.occupancy_cells()
    if not len(cells):
        return None
    cs = float(sp.config.cell_size)
    lo, hi = cells.min(0), cells.max(0)
    if center is None:
        robot = sp.pose()
        center = (robot.x, robot.y) if robot is not None else tuple(float(v) for v in (lo + hi) * 0.5 * cs)
    half = max(0, int(window / cs / 2))
    cx, cy = int(round(center[0] / cs)), int(round(center[1] / cs))
    ix0, iy0 = max(int(lo[0]), cx - half), max(int(lo[1]), cy - half)
    ix1, iy1 = min(int(hi[0]), cx + half), min(int(hi[1]), cy + half)
    if ix1 < ix0 or iy1 < iy0:  # nothing known near the robot: the known cells nearest it instead
        ix0, ix1 = (ix0, ix1) if ix1 >= ix0 else ((int(lo[0]), min(int(hi[0]), int(lo[0]) + 2 * half))
                                                 if cx < lo[0] else (max(int(lo[0]), int(hi[0]) - 2 * half), int(hi[0])))
        iy0, iy1 = (iy0, iy1) if iy1 >= iy0 else ((int(lo[1]), min(int(hi[1]), int(lo[1]) + 2 * half))
                                                 if cy < lo[1] else (max(int(lo[1]), int(hi[1]) - 2 * half), int(hi[1])))
    grid, _ = sp.occupancy_grid(window=(ix0, iy0, ix1, iy1))
    data = np.full(grid.shape, -1, np.int8)
    data[grid == 1] = 0
    data[grid == 2] = 100
    h, w = grid.shape
    info = _T("nav_msgs/msg/MapMetaData")(
        map_load_time=_header("", stamp).stamp, resolution=cs, width=int(w), height=int(h),
        # cell centres lie on multiples of cs: the lower-left cell's corner is half a cell lower-left
        origin=_pose((ix0 - 0.5) * cs, (iy0 - 0.5) * cs, 0.0))
    return _T("nav_msgs/msg/OccupancyGrid")(header=_header(frame, stamp), info=info, data=data.reshape(-1))


def goal_pose(memory: Any, label: str, frame: str) -> Any:
    """geometry_msgs/PoseStamped to go to where ``label`` was last seen, or None if never seen.

    The goal is the last free cell of a path (over known free space) ending next to the object,
    facing it; with no such path, the object's position itself (Nav2 plans the rest).
    """
    sp = memory.spatial
    locs = sp.locate(label)
    if not locs:
        return None
    loc = locs[0]  # most recently seen first
    ox, oy, oz = loc.position
    robot = sp.pose()
    gx, gy = ox, oy
    if robot is not None:
        path = sp.path(robot.position, loc.position, adjacent=True)
        if path:
            gx, gy = path[-1][0], path[-1][1]
    if (gx, gy) == (ox, oy) and robot is not None:
        yaw = math.atan2(oy - robot.y, ox - robot.x)
    else:
        yaw = math.atan2(oy - gy, ox - gx)
    return _T("geometry_msgs/msg/PoseStamped")(header=_header(frame, memory.now), pose=_pose(gx, gy, 0.0, yaw))


def _loc(loc: Any) -> dict[str, Any]:
    return {"label": loc.label, "instance": loc.instance, "position": list(loc.position), "place": loc.place,
            "region": loc.region, "first_seen": loc.first_seen, "last_seen": loc.last_seen,
            "confidence": loc.confidence}


def _num(d: Mapping[str, Any], key: str, required: bool = True) -> float | None:
    v = d.get(key)
    if v is None and not required:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise QueryError(f"'{key}' must be a finite number, got {v!r}")
    return float(v)


def _label(d: Mapping[str, Any]) -> str:
    v = d.get("label")
    if not isinstance(v, str) or not v.strip():
        raise QueryError(f"'label' must be a non-empty string, got {v!r}")
    return v


def _xy(v: Any, key: str) -> tuple[float, float, float]:
    if not isinstance(v, (list, tuple)) or len(v) not in (2, 3) or not all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in v):
        raise QueryError(f"'{key}' must be [x, y] or [x, y, z] in metres, got {v!r}")
    return (float(v[0]), float(v[1]), float(v[2]) if len(v) == 3 else 0.0)


MAX_EVENTS = 100_000  # most events one "between" answer may hold
OPS = ("locate", "last_seen", "first_seen", "between", "path", "goto", "places", "stats")


def answer_query(bridge: Any, request: str | Mapping[str, Any]) -> dict[str, Any]:
    """Answer a JSON query against ``bridge.memory``; never raises for a bad request."""
    rid = None
    op = None
    try:
        if isinstance(request, (str, bytes)):
            try:
                request = json.loads(request)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise QueryError(f"request is not JSON: {exc}") from None
            except RecursionError:
                raise QueryError("request is nested too deeply") from None
        if not isinstance(request, Mapping):
            raise QueryError("request must be a JSON object")
        rid = _plain(request.get("id"))
        op = request.get("op")
        if op not in OPS:
            raise QueryError(f"unknown op {op!r}; ops: {', '.join(OPS)}")
        mem = bridge.memory
        sp = mem.spatial
        out: dict[str, Any]
        if op == "locate":
            at = _num(request, "at", required=False)
            out = {"locations": [_loc(x) for x in sp.locate(_label(request), at=at)]}
        elif op in ("last_seen", "first_seen"):
            label = _label(request)
            t = mem.temporal.last_seen(label) if op == "last_seen" else mem.temporal.first_seen(label)
            locs = sp.locate(label)
            out = {"t": t, "position": list(locs[0].position) if locs else None}
        elif op == "between":
            t0, t1 = _num(request, "t0"), _num(request, "t1")
            if t1 < t0:
                raise QueryError(f"t1 ({t1}) is before t0 ({t0})")
            limit = request.get("limit", 1000)
            if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_EVENTS:
                raise QueryError(f"'limit' must be a whole number from 0 to {MAX_EVENTS}, got {limit!r}")
            evs = mem.temporal.between(t0, t1, limit=limit)
            out = {"events": [{"t": e.t, "kind": e.kind, "label": e.label, "text": e.text,
                               "position": list(e.position) if e.position else None} for e in evs]}
        elif op == "path":
            if "start" in request:
                start = _xy(request["start"], "start")
            else:
                pose = sp.pose()
                if pose is None:
                    raise QueryError("no robot pose in memory yet: give 'start'")
                start = pose.position
            if "goal" in request:
                goal = _xy(request["goal"], "goal")
                adjacent = False
            else:
                locs = sp.locate(_label(request))
                if not locs:
                    raise QueryError(f"never saw {request['label']!r}")
                goal, adjacent = locs[0].position, True
            wps = sp.path(start, goal, adjacent=adjacent)
            out = {"waypoints": [list(w) for w in wps] if wps is not None else None}
        elif op == "goto":
            label = _label(request)
            msg = bridge.send_action({"goto": label}) if mem.spatial.locate(label) else None
            if msg is None:
                raise QueryError(f"never saw {label!r}: no goal sent")
            p, q = msg.pose.position, msg.pose.orientation
            out = {"goal": {"frame_id": msg.header.frame_id, "x": p.x, "y": p.y,
                            "yaw": 2 * math.atan2(q.z, q.w)}, "topic": bridge.topic("goal")}
        elif op == "places":
            out = {"places": [{"id": p.id, "position": list(p.position), "visits": p.visits,
                               "first_visit": p.first_visit, "last_visit": p.last_visit} for p in sp.places()]}
        else:
            out = {"stats": {k: v for k, v in mem.stats().items() if isinstance(v, (int, float, str, list))},
                   "bridge": bridge.stats()}
        return {"id": rid, "op": op, "ok": True, **out}
    except (QueryError, ValueError, TypeError, LookupError, OverflowError) as exc:
        return {"id": _plain(rid), "op": _plain(op), "ok": False, "error": str(exc)}
    except Exception as exc:  # a request no check foresaw must still get an answer
        return {"id": _plain(rid), "op": _plain(op), "ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}


def _plain(v: Any) -> Any:
    """An id or op that can be echoed back as JSON (a scalar); anything else is not echoed."""
    if v is None or isinstance(v, (str, bool, int)) or (isinstance(v, float) and math.isfinite(v)):
        return v if not isinstance(v, str) or len(v) <= 256 else None
    return None
