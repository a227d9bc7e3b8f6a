"""Robot preprocessor: the transport's plain observation -> ``RobotState``.

The observation (a mapping the robot transport builds each decision)::

    {"t": 12.5,                                   # s, memory's clock (the robot's message stamps)
     "pose": [x, y, yaw] | None,                  # metres, radians, memory's world frame
     "nav": {"state": "idle" | "active" | "succeeded" | "aborted",
             "goal": [x, y] | None, "distance": float | None, "aborts": int},
     "task": {"kind": "find" | "goto" | "patrol", "label": str | None, "start": float} | None}

``nav.distance`` is the distance still to go as the robot reports it (Nav2's feedback), else the
straight line from the pose; ``nav.aborts`` counts goals the navigator aborted in this task. A
malformed observation raises ``ValueError`` naming the field. Memory is written by the bridge from
the robot's own sensor messages, so ``write`` writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RobotState", "NavFeedback", "TaskSpec", "RobotPreprocessor", "NAV_STATES", "TASK_KINDS"]

NAV_STATES = ("idle", "active", "succeeded", "aborted")
TASK_KINDS = ("find", "goto", "patrol")


@dataclass(frozen=True)
class NavFeedback:
    state: str = "idle"
    goal: tuple[float, float] | None = None
    distance: float | None = None
    aborts: int = 0


@dataclass(frozen=True)
class TaskSpec:
    kind: str
    label: str | None
    start: float


@dataclass(frozen=True)
class RobotState:
    t: float
    pose: tuple[float, float, float] | None
    nav: NavFeedback
    task: TaskSpec | None

    @property
    def position(self) -> tuple[float, float]:
        return (self.pose[0], self.pose[1]) if self.pose is not None else (math.nan, math.nan)

    def describe(self) -> dict[str, Any]:
        """What a language planner is told about the robot now."""
        out: dict[str, Any] = {"t": round(self.t, 2)}
        if self.pose is not None:
            out["position_m"] = [round(self.pose[0], 2), round(self.pose[1], 2)]
            out["heading_rad"] = round(self.pose[2], 2)
        out["navigation"] = self.nav.state
        if self.task is not None:
            out["task"] = f"{self.task.kind} {self.task.label}" if self.task.label else self.task.kind
        return out


def _num(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"robot observation field {name!r} must be a finite number, got {v!r}")
    return float(v)


def _xy(v: Any, name: str, n: int = 2) -> tuple[float, ...] | None:
    if v is None:
        return None
    if not isinstance(v, (list, tuple)) or len(v) != n:
        raise ValueError(f"robot observation field {name!r} must be a list of {n} numbers or null, got {v!r}")
    return tuple(_num(a, name) for a in v)


class RobotPreprocessor:
    """Reads only the observation the transport built from the robot's messages."""

    def __init__(self, config: Any) -> None:
        self.config = config

    def reset(self) -> None:
        pass

    def perceive(self, obs: Mapping[str, Any], info: Mapping[str, Any]) -> RobotState:
        if not isinstance(obs, Mapping):
            raise ValueError(f"a robot observation must be a mapping, got {type(obs).__name__}")
        nav = obs.get("nav") or {}
        if not isinstance(nav, Mapping):
            raise ValueError(f"robot observation field 'nav' must be a mapping, got {nav!r}")
        state = nav.get("state", "idle")
        if state not in NAV_STATES:
            raise ValueError(f"robot observation field 'nav.state' must be one of {NAV_STATES}, got {state!r}")
        dist = nav.get("distance")
        aborts = nav.get("aborts", 0)
        if isinstance(aborts, bool) or not isinstance(aborts, int) or aborts < 0:
            raise ValueError(f"robot observation field 'nav.aborts' must be a whole number >= 0, got {aborts!r}")
        fb = NavFeedback(state, _xy(nav.get("goal"), "nav.goal"),  # type: ignore[arg-type]
                         None if dist is None else _num(dist, "nav.distance"), aborts)
        task = obs.get("task")
        spec = None
        if task is not None:
            if not isinstance(task, Mapping) or task.get("kind") not in TASK_KINDS:
                raise ValueError(f"robot observation field 'task' must be {{kind: {TASK_KINDS}, label, start}}, "
                                 f"got {task!r}")
            label = task.get("label")
            if label is not None and (not isinstance(label, str) or not label.strip()):
                raise ValueError(f"robot observation field 'task.label' must be a non-empty string, got {label!r}")
            spec = TaskSpec(task["kind"], label, _num(task.get("start", 0.0), "task.start"))
        return RobotState(_num(obs.get("t"), "t"), _xy(obs.get("pose"), "pose", 3),  # type: ignore[arg-type]
                          fb, spec)

    def write(self, memory: Any, info: Mapping[str, Any], state: RobotState) -> int | None:
        return None  # the bridge writes the robot's sensor messages into memory

    def query(self, goal: str | None, subgoal: Any) -> str:
        target = getattr(subgoal, "target", None)
        return f"where is the {target}" if target else (goal or "objects and places")

    def place(self, state: RobotState) -> Hashable:
        s = self.config.place_size
        x, y = state.position
        return (round(x / s), round(y / s)) if math.isfinite(x) else None
