"""``RobotTaskRunner``: the shared ``AgentLoop`` driving a ROS 2 robot through the bridge.

Tasks come as JSON on ``topics.task`` (``/memory/task``, see ``tasks.py``) or from
``submit(...)``. While one runs, every ``decision_period`` s of memory's clock (and at once after a
percept that carried a sighting) the runner builds the robot's observation (memory's clock and the
robot's latest pose, both from the robot's own messages, and the navigator's feedback), lets the
loop decide (preprocessor -> memory -> planner + critic -> executor, ``agent/worlds/robot``), and
carries the action out. No decision is made while memory's pose lags the robot's newest
odometry/TF by more than ``agent.robot.stale_pose`` s (``bridge.pose_lag()``): a stale pose is no
evidence of progress or of none, so the critic never judges on it.

- ``navigate`` -> a goal through the navigator (``navigation.py``: Nav2's NavigateToPose on the
  rclpy transport when offered, else ``/goal_pose``);
- ``rotate`` -> ``/cmd_vel`` turning in place (look around); ``wait`` -> stop;
- ``report`` -> a status on ``/memory/task_status``; a report with an outcome ends the task.

Progress and the result go out on ``topics.task_status`` (JSON: ``id``, ``task``, ``state``
accepted | running | succeeded | failed | cancelled | preempted | error, ``t``, ``elapsed`` s,
``subgoal``, ``verdict``, ``critic`` (what the critic put aside), ``decisions``, ``plans``,
``position``, ``goal``, ``distance``, ``travelled`` m, ``text``, ``changes`` for a patrol), on
every change and every ``status_period`` s; the plan and target as markers on ``topics.plan``.

The runner works on the transport's own thread (``bridge.on_tick``), so memory is never read while
a message is written. ``lifelong=False`` is the memoryless baseline: every task starts on a fresh,
empty memory (it maps and searches from scratch: frontier search only). Times are memory's clock
(the robot's message stamps, seconds); distances metres in the world frame.
"""

from __future__ import annotations

import collections
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from embodied_mem.agent.config import AgentConfig, check_planner_sections, check_world_sections
from embodied_mem.agent.loop import AgentLoop
from embodied_mem.agent.planners import make_planner
from embodied_mem.agent.protocols import EnvDescription
from embodied_mem.agent.worlds.robot.kit import KIT, task_for
from embodied_mem.agent.worlds.robot.world import square_centre

from . import messages as M
from .tasks import RobotTask, TaskError, parse_task

__all__ = ["RobotTaskRunner", "robot_agent_config", "TaskRecord"]

log = logging.getLogger("embodied_mem.robots.ros2.tasks")


def robot_agent_config(d: Mapping[str, Any] | AgentConfig | None = None) -> AgentConfig:
    """The agent settings for a robot (times in seconds): the critic calls a subgoal stalled after
    20 s without progress, puts targets aside for 10 minutes; no consolidation or retrieval on
    the decision path (the symbolic planner reads spatial memory directly; the ``llm`` backend
    retrieves for itself). ``d`` overrides (a mapping like ``agent:`` of a config)."""
    if isinstance(d, AgentConfig):
        return d
    base = AgentConfig()
    base.planner.consolidate_every = 0
    base.planner.retrieve_on_replan = False
    base.planner.replan_every = 30
    c = base.critic
    c.stall_steps, c.loop_window, c.loop_cells, c.cycle_repeats, c.explore_steps, c.blacklist_steps = 20, 150, 1, 3, 10, 600
    if not d:
        return base
    merged = _merge(base.to_dict(), dict(d))
    return AgentConfig.from_dict(merged)


def _merge(a: dict[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class TaskRecord:
    """One task's run (``results`` of the runner; ``as_status()`` is its last status)."""

    task: RobotTask
    start: float | None = None  # memory clock (s) when the task began
    wall0: float = field(default_factory=time.monotonic)
    state: str = "accepted"
    end: float | None = None
    travelled: float = 0.0
    last_xy: tuple[float, float] | None = None
    decisions: int = 0  # loop steps (AgentLoop.act calls)
    plans0: int = 0
    plans: int = 0  # planner calls (replans) during the task
    text: str = ""
    changes: Any = None
    interventions: list[str] = field(default_factory=list)
    goals_sent: int = 0
    stale_skips: int = 0  # decisions skipped because memory's pose lagged the robot's odometry/TF
    stale_since: float | None = None  # memory clock (s) since when the pose is stale (None: current)

    @property
    def elapsed(self) -> float:
        return 0.0 if self.start is None or self.end is None else self.end - self.start


class RobotTaskRunner:
    """The closed loop on a robot bridge; see the module docstring.

    ``bridge``: a connected ``Ros2Bridge``. ``agent``: ``AgentConfig`` or mapping (over
    ``robot_agent_config()``). ``navigator``: default ``navigation.make_navigator``. ``labels``:
    the detector's vocabulary (for the LLM planner's skill schema; empty: any label).
    """

    def __init__(self, bridge: Any, agent: Mapping[str, Any] | AgentConfig | None = None, *, navigator: Any = None,
                 lifelong: bool = True, decision_period: float = 0.1, status_period: float = 1.0,
                 labels: tuple[str, ...] = (), seed: int = 0) -> None:
        self.bridge = bridge
        self.config = robot_agent_config(agent)
        check_world_sections(self.config, "robot")
        check_planner_sections(self.config)
        self.lifelong = bool(lifelong)
        self.decision_period = float(decision_period)
        self.status_period = float(status_period)
        self.desc = EnvDescription(world="robot", labels=tuple(labels))
        kit = KIT.configured(self.config)
        self.loop = AgentLoop(self.config, kit=kit, desc=self.desc, preprocessor=kit.preprocessor(self.config, self.desc),
                              planner=make_planner(self.config, kit, self.desc),
                              executor=kit.executor(self.config, self.desc, None), task=kit.task([], self.desc), seed=seed)
        self._navigator = navigator
        self.nav: Any = None
        self.pending: collections.deque[str | Mapping[str, Any]] = collections.deque()
        self.active: TaskRecord | None = None
        self.results: list[TaskRecord] = []
        self.decision_ms: list[float] = []
        self.percept_to_goal_ms: list[float] = []
        self._last_decision = -math.inf  # memory clock (s) of the last decision
        self._sighting_at: float | None = None  # perf_counter of the newest percept with a sighting
        self._urgent = False
        self._rotating = False
        self._last_status: tuple[Any, ...] = ()
        self._last_status_t = -math.inf
        self._last_plan_key: tuple[Any, ...] = ()
        self._lifelong_memory: Any = None
        self._task_memory: Any = None
        self.attached = False

    # ------------------------------------------------------------------ wiring
    def attach(self) -> RobotTaskRunner:
        """Hook into the (connected) bridge: tasks from ``topics.task``, decisions on its ticks."""
        from .navigation import make_navigator

        self.bridge.require_connected("RobotTaskRunner.attach()")
        self.nav = self._navigator if self._navigator is not None else \
            make_navigator(self.bridge, self.config.robot.goal_tolerance)
        self.bridge.on_task.append(self.submit)
        self.bridge.on_tick.append(self.step)
        self.bridge.on_observed.append(self._on_percept)
        self.attached = True
        return self

    def detach(self) -> None:
        """Stop the running task (cancelled) and unhook; a memoryless run gets its memory back."""
        if not self.attached:
            return
        with self.bridge.lock:
            if self.active is not None:
                self._finish("cancelled", "the task runner stopped")
            for hooks, cb in ((self.bridge.on_task, self.submit), (self.bridge.on_tick, self.step),
                              (self.bridge.on_observed, self._on_percept)):
                if cb in hooks:
                    hooks.remove(cb)
            self._restore_memory()
        self.attached = False

    def submit(self, request: str | Mapping[str, Any]) -> None:
        """Queue a task request (JSON text or mapping, see ``tasks.py``); it starts on the next tick.
        Thread-safe; a bad request gets an ``error`` status then."""
        self.pending.append(request)
        self._urgent = True

    @property
    def busy(self) -> bool:
        """A task is queued or running."""
        return bool(self.pending) or self.active is not None

    # ------------------------------------------------------------------ the loop
    def _on_percept(self, percept: Any, at: float) -> None:
        if percept.sightings:
            self._sighting_at = at
            self._urgent = True
            a = self.active
            if a is not None and a.task.label is not None and any(s.label == a.task.label for s in percept.sightings):
                self.loop.last_plan_t = -math.inf  # the task's object in sight: the loop replans at once

    def step(self) -> None:
        """Start queued tasks, then one decision when it is due (called on every bridge tick)."""
        with self.bridge.lock:
            while self.pending:
                self._request(self.pending.popleft())
            a = self.active
            if a is None:
                self._sighting_at = None  # a sighting with no task running is no cause of a later goal
                return
            mem = self.bridge.memory
            now, pose = mem.now, mem.spatial.pose()
            if now is None or pose is None:
                return  # no pose yet (a fresh memory, a robot not localised): wait
            if not self._urgent and 0 <= now - self._last_decision < self.decision_period:
                return
            self._last_decision, self._urgent = now, False
            if a.start is None:
                a.start = now
                self.loop.reset(mem)
                a.plans0 = self.loop.n_plans
                self._publish_status(force=True)
            xy = (pose.x, pose.y)
            if a.last_xy is not None:
                a.travelled += math.dist(a.last_xy, xy)
            a.last_xy = xy
            limit = a.task.timeout or self.config.robot.task_timeout
            if now - a.start > limit:
                self._finish("failed", f"timeout after {limit:g} s" + (
                    f" (no decision for {now - a.stale_since:.1f} s: memory's pose lagged the robot's odometry)"
                    if a.stale_since is not None else ""))
                return
            lag = self.bridge.pose_lag()
            if lag is not None and lag > self.config.robot.stale_pose:
                # memory's pose is older than what the robot has sent (e.g. odometry waiting for TF under
                # load): it is no evidence of progress or of none, so no decision (the critic would call a
                # moving robot stalled); the navigator keeps its goal and the robot keeps driving
                if a.stale_since is None:
                    a.stale_since = now
                    log.warning("memory's pose lags the robot's odometry/TF by %.1f s: no decision until it is "
                                "current", lag)
                a.stale_skips += 1
                return
            if a.stale_since is not None:
                log.info("memory's pose is current again after %.1f s without a decision", now - a.stale_since)
                a.stale_since = None
            p3 = (pose.x, pose.y, pose.yaw)
            obs = {"t": now, "pose": list(p3), "nav": self.nav.feedback(p3),
                   "task": {"kind": a.task.kind, "label": a.task.label, "start": a.start}}
            t0 = time.perf_counter()
            action = self.loop.act(obs, {})
            self.decision_ms.append((time.perf_counter() - t0) * 1e3)
            a.decisions += 1
            if self.loop.intervention:
                a.interventions.append(self.loop.intervention)
            self._carry_out(action, now, p3)
            self._sighting_at = None  # only the decision right after a sighting counts for percept -> goal
            if self.active is a:
                self._publish_status()
                self._publish_plan(now, p3)

    def _carry_out(self, action: Any, now: float, pose: tuple[float, float, float]) -> None:
        op = action.get("op") if isinstance(action, Mapping) else None
        if op != "rotate" and self._rotating:
            self._stop_turning()
        if op == "navigate":
            new = self.nav.go(float(action["x"]), float(action["y"]), float(action.get("yaw", 0.0)), now)
            if new:
                self.active.goals_sent += 1  # type: ignore[union-attr]
                if self._sighting_at is not None:  # the first decision after a sighting set a new goal
                    self.percept_to_goal_ms.append((time.perf_counter() - self._sighting_at) * 1e3)
        elif op == "rotate":
            if self.nav.goal is not None:
                self.nav.cancel(pose, now)
            self.bridge.publish("cmd_vel", M.twist(0.0, float(action.get("speed", 1.0))))
            self._rotating = True
        elif op == "report":
            text = str(action.get("text", ""))
            a = self.active
            a.text = text  # type: ignore[union-attr]
            changes = action.get("changes")
            if isinstance(changes, str):
                import json

                try:
                    a.changes = json.loads(changes)  # type: ignore[union-attr]
                except ValueError:
                    a.changes = changes  # type: ignore[union-attr]
            outcome = action.get("outcome")
            if outcome in ("succeeded", "failed"):
                self._finish(outcome, text)
            else:
                self._publish_status(force=True)

    def _stop_turning(self) -> None:
        self.bridge.publish("cmd_vel", M.twist(0.0, 0.0))
        self._rotating = False

    # ------------------------------------------------------------------ tasks
    def _request(self, request: str | Mapping[str, Any]) -> None:
        try:
            task = parse_task(request)
        except TaskError as exc:
            log.warning("refused a task: %s", exc)
            rid = request.get("id") if isinstance(request, Mapping) else None
            self.bridge.publish_json("task_status", {"id": rid if isinstance(rid, (str, int)) else None,
                                                     "state": "error", "error": str(exc)})
            return
        if task.kind == "cancel":
            if self.active is None:
                self.bridge.publish_json("task_status", {"id": task.id, "task": "cancel", "state": "error",
                                                         "error": "no task is running"})
                return
            self._finish("cancelled", "cancelled on request")
            return
        if self.active is not None:
            self._finish("preempted", f"replaced by {task.goal}")
        if not self.lifelong:
            self._fresh_memory()
        self.active = TaskRecord(task, plans0=self.loop.n_plans)
        self.loop.task = task_for(task.goal)
        self._urgent = True
        self._publish_status(force=True)

    def _finish(self, state: str, text: str) -> None:
        a = self.active
        if a is None:
            return
        mem = self.bridge.memory
        pose = mem.spatial.pose()
        self.nav.cancel((pose.x, pose.y, pose.yaw) if pose is not None else None, mem.now or 0.0)
        self._stop_turning()
        a.state, a.end = state, (mem.now if mem.now is not None else a.start)
        a.plans = self.loop.n_plans - a.plans0
        if state in ("succeeded", "failed") or not a.text:
            a.text = text if state not in ("succeeded", "failed") or not a.text else a.text
        self._publish_status(force=True)
        self.results.append(a)
        self.active = None
        self.loop.task = KIT.task([], self.desc)
        self.bridge.publish("plan", _empty_plan(self.bridge.converter.world_frame(), mem.now))
        log.info("task %s %s: %s", a.task, state, a.text)

    def _fresh_memory(self) -> None:
        from embodied_mem.memory import Memory

        old = self.bridge.use_memory(Memory(self.bridge.memory.config))
        if self._lifelong_memory is None:
            self._lifelong_memory = old
        elif old is not None:
            old.close()
        self._task_memory = self.bridge.memory

    def _restore_memory(self) -> None:
        if self._lifelong_memory is not None:
            task_mem = self.bridge.use_memory(self._lifelong_memory)
            if task_mem is not None and task_mem is not self._lifelong_memory:
                task_mem.close()
            self._lifelong_memory = None

    # ------------------------------------------------------------------ outputs
    def status(self) -> dict[str, Any]:
        """The running (or last) task's status, as published."""
        a = self.active or (self.results[-1] if self.results else None)
        if a is None:
            return {"state": "idle"}
        mem = self.bridge.memory
        rec = self.loop.record() if self.active is not None else {}
        fb = self.nav.feedback(None) if self.nav is not None else {}
        now = mem.now if a.end is None else a.end
        out: dict[str, Any] = {
            "id": a.task.id, "task": a.task.goal, "state": a.state, "t": now,
            "elapsed": (now - a.start) if (now is not None and a.start is not None) else 0.0,
            "subgoal": rec.get("subgoal"), "verdict": rec.get("verdict"), "critic": a.interventions[-1:] or None,
            "decisions": a.decisions, "plans": self.loop.n_plans - a.plans0, "planner": rec.get("planner", self.config.planner.backend),
            "position": list(a.last_xy) if a.last_xy else None, "goal": fb.get("goal"), "distance": fb.get("distance"),
            "travelled": round(a.travelled, 3), "text": a.text}
        if a.changes is not None:
            out["changes"] = a.changes
        if out["critic"]:
            out["critic"] = out["critic"][0]
        return out

    def _publish_status(self, force: bool = False) -> None:
        st = self.status()
        key = (st.get("state"), st.get("subgoal"), st.get("critic"), st.get("text"))
        t = st.get("t") or 0.0
        if not force and key == self._last_status and t - self._last_status_t < self.status_period:
            return
        if st.get("state") == "accepted" and self.active is not None and self.active.start is not None:
            self.active.state = st["state"] = "running"
        self._last_status, self._last_status_t = key, t
        self.bridge.publish_json("task_status", {k: _finite(v) for k, v in st.items()})

    def _publish_plan(self, now: float, pose: tuple[float, float, float]) -> None:
        from .outputs import plan_markers

        ex, world = self.loop.executor, self.loop.world
        goal = ex.goal[:2] if getattr(ex, "goal", None) is not None else None
        target = getattr(ex, "obj", None)
        aside = [square_centre(k) for (_, k), until in world.aside.items() if until > now and isinstance(k, tuple)]
        lines = [str(self.active.task)] + [str(sg) for sg in self.loop.plan[:4]]  # type: ignore[union-attr]
        key = (goal, target, tuple(aside), tuple(lines))
        if key == self._last_plan_key and now - self._last_status_t < self.status_period:
            return
        self._last_plan_key = key
        self.bridge.publish("plan", plan_markers(self.bridge.converter.world_frame(), now, pose[:2], goal, lines,
                                                 aside, target))

    def metrics(self) -> dict[str, Any]:
        """Tasks run, their outcomes, and the loop's overhead (ms per decision, ms from a percept
        with a sighting to the next new goal), for metrics.json and benchmarks."""
        import numpy as np

        def pct(xs: list[float]) -> dict[str, float]:
            if not xs:
                return {}
            a = np.asarray(xs)
            return {"n": len(xs), "mean": float(a.mean()), "p50": float(np.percentile(a, 50)),
                    "p99": float(np.percentile(a, 99)), "max": float(a.max())}

        return {"tasks": [{"task": r.task.goal, "id": r.task.id, "state": r.state, "elapsed": r.elapsed,
                           "travelled": r.travelled, "decisions": r.decisions, "plans": r.plans, "text": r.text,
                           "critic": r.interventions, "goals_sent": r.goals_sent, "stale_skips": r.stale_skips}
                          for r in self.results],
                "decision_ms": pct(self.decision_ms), "percept_to_goal_ms": pct(self.percept_to_goal_ms),
                "planner": self.config.planner.backend, "lifelong": self.lifelong,
                "navigator": getattr(self.nav, "name", None)}


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _empty_plan(frame: str, now: float | None) -> Any:
    from .outputs import plan_markers

    return plan_markers(frame, now, None, None, [])
