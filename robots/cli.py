"""``embodied-mem robot``: run the ROS 2 bridge live, or replay a rosbag2 recording into memory.

    embodied-mem robot run [overrides]              # robot=ros2 transport=dds|rclpy duration=60 loopback=true
    embodied-mem robot run task="find mug"          # run one task with the closed loop, then stop
    embodied-mem robot replay BAG_PATH [overrides]  # realtime=1.0 robot.frames.world_frame=odom
    embodied-mem robot testbot [options]            # the test robot (indoor3d over DDS), not a simulator for users

``memory.path=PATH`` writes into that memory (created when missing) instead of a new ``memory.db``;
``memory.continue=true`` (in a config file: ``continue_memory: true``) insists on continuing it: the
command refuses to start (exit 2) unless PATH already holds a memory, so a mistyped path cannot
silently start an empty one.

Both are Hydra apps (``configs/robot_run.yaml``, ``configs/robot_replay.yaml``, the robot group
``configs/robot/ros2.yaml``); every key is validated by the structured schemas below. Each run
writes into its Hydra run directory: ``config.yaml``, ``memory.db``, ``map.png`` (occupancy,
places, trajectory, objects) and ``metrics.json`` (message counts, skipped messages by reason,
throughput, memory statistics; with the task runner, ``tasks``: each task's outcome and the loop's
overhead). ``robot run`` runs the closed loop (``tasks=true``, the default): tasks arrive as JSON on
``/memory/task`` (robots/ros2/README.md), or one is given with ``task="find mug"`` and the run ends
when it does (exit status 0 when it succeeded, 1 when it failed or the time ran out).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embodied_mem.agent.config import AgentConfig
from embodied_mem.memory.config import MemoryConfig

from .ros2.config import Ros2BridgeConfig, robot_memory_config

__all__ = ["main", "replay", "RobotRunConfig", "RobotReplayConfig"]

USAGE = """usage: embodied-mem robot run [overrides...]
       embodied-mem robot replay BAG_PATH [overrides...]
       embodied-mem robot testbot [--world-seed N] [--rate R] [...]   (--help for all)

  run      bridge a live ROS 2 robot into memory (transport=dds|rclpy, duration=SECONDS, loopback=true)
  replay   replay a recording (rosbag2 folder, .db3, .mcap or ROS 1 .bag) into memory.db and map.png
  testbot  run the test robot: an indoor3d apartment as a ROS 2 robot over DDS (for tests, not users)
"""


def _robot_memory() -> MemoryConfig:
    return robot_memory_config()


def _robot_agent() -> AgentConfig:
    from .ros2.task_runner import robot_agent_config

    return robot_agent_config()


@dataclass
class RobotRunConfig:
    robot: Ros2BridgeConfig = field(default_factory=Ros2BridgeConfig)
    memory: MemoryConfig = field(default_factory=_robot_memory)
    transport: str = "dds"  # shorthand for robot.transport (the yaml interpolates it)
    duration: float | None = None
    loopback: bool = False
    plot: bool = True
    tasks: bool = True  # run the closed loop: tasks from topics.task (/memory/task), progress on task_status
    task: str | None = None  # one task to run now ("find mug", or JSON); the run ends when it ends
    lifelong: bool = True  # false: each task starts on an empty memory (the memoryless baseline)
    agent: AgentConfig = field(default_factory=_robot_agent)  # planner (symbolic | llm), critic, agent.robot skills
    continue_memory: bool = False  # memory.continue=true: memory.path must name an existing memory


@dataclass
class RobotReplayConfig:
    robot: Ros2BridgeConfig = field(default_factory=lambda: Ros2BridgeConfig(transport="bag"))
    memory: MemoryConfig = field(default_factory=_robot_memory)
    bag: str = "???"
    realtime: float = 0.0
    duration: float | None = None
    plot: bool = True
    continue_memory: bool = False  # memory.continue=true: memory.path must name an existing memory


def _register() -> None:
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="robot_run_schema", node=RobotRunConfig)
    cs.store(name="robot_replay_schema", node=RobotReplayConfig)


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str))
    tmp.replace(path)


def _plot(memory: Any, path: Path, title: str) -> str | None:
    try:
        from embodied_mem.plots import plot_memory_map
    except ImportError:  # plots ship with the runner; without them, no map
        return None
    plot_memory_map(memory, path, title=title, units="m", frame="map frame (REP 105)")
    return path.name


def _last_pose_time(memory: Any) -> float | None:
    tr = memory.spatial.trajectory()
    return tr[-1][0] if tr else None


def _trajectory_summary(memory: Any, after: float | None = None) -> dict[str, Any]:
    """Length and span of the poses this run added (those after ``after``, the last pose time of a
    continued memory before the run; None: the whole trajectory)."""
    import math

    tr = memory.spatial.trajectory(t0=after)
    if after is not None:
        tr = [(t, p) for t, p in tr if t > after]
    if not tr:
        return {"poses": 0}
    length = sum(math.dist((a.x, a.y), (b.x, b.y)) for (_, a), (_, b) in zip(tr, tr[1:]))
    return {"poses": len(tr), "length_m": length, "duration_s": tr[-1][0] - tr[0][0],
            "start": [tr[0][1].x, tr[0][1].y], "end": [tr[-1][1].x, tr[-1][1].y]}


def replay(bag: str | Path, run_dir: str | Path, robot: Any = None, memory_config: Any = None, *,
           realtime: float = 0.0, duration: float | None = None, plot: bool = True,
           progress: bool = True) -> dict[str, Any]:
    """Replay ``bag`` into ``run_dir/memory.db`` (+ ``map.png``); returns the metrics written to metrics.json."""

    from .ros2.bag import BagTransport
    from .ros2.bridge import Ros2Bridge

    bag = Path(bag)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = Ros2BridgeConfig.from_dict(robot)
    cfg.transport = "bag"
    mem_cfg = MemoryConfig.from_dict(memory_config) if memory_config is not None else robot_memory_config()
    # memory.path=PATH: continue that memory (the same building's map, facts) instead of a new one
    memory = _open_memory(mem_cfg, run_dir)
    before = _last_pose_time(memory)  # a continued memory (memory.path): summarize only this run's poses
    try:
        transport = BagTransport(bag, realtime=realtime, progress=progress)
        bridge = Ros2Bridge(cfg, memory=memory, transport=transport)
        with bridge:
            result = transport.run(duration=duration)
            stats = bridge.stats()
            world = bridge.converter.world_frame()
        memory.flush()
        metrics = {"status": "ok", "bag": str(bag), "world_frame": world, "replay": result, "bridge": stats,
                   "trajectory": _trajectory_summary(memory, after=before),
                   "memory": {k: v for k, v in memory.stats().items() if isinstance(v, (int, float))}}
        if plot:
            metrics["plots"] = [p for p in [_plot(memory, run_dir / "map.png", f"replay of {bag.parent.name}/{bag.name}")] if p]
        _write_json(run_dir / "metrics.json", metrics)
        return metrics
    finally:
        memory.close()


def _check_continue(cfg: Any) -> None:
    """``memory.continue=true``: refuse (UsageError, exit 2) unless ``memory.path`` names an existing memory."""
    if not cfg.continue_memory:
        return
    from embodied_mem.hydra_cli import UsageError

    if getattr(cfg.memory, "url", None):  # a server memory (memory.url) is continued by construction
        return
    if not cfg.memory.path:
        raise UsageError("memory.continue=true needs memory.path=PATH, the memory to continue")
    path = Path(cfg.memory.path).expanduser()
    if not path.is_file() or path.stat().st_size == 0:
        raise UsageError(f"memory.continue=true: no memory to continue at {path} (memory.path); "
                         "leave memory.continue out to start a new one there")


def _alias_overrides(overrides: list[str]) -> list[str]:
    """``memory.continue=X`` is spelled ``continue_memory=X`` in the schema (``continue`` is a Python keyword)."""
    return ["continue_memory=" + o.split("=", 1)[1] if o.startswith("memory.continue=") else o for o in overrides]


def _replay_task(cfg: Any) -> None:
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    OmegaConf.set_readonly(cfg, True)
    _check_continue(cfg)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    from .ros2.bag import RecordingError

    try:
        m = replay(cfg.bag, run_dir, OmegaConf.to_container(cfg.robot, resolve=True),
                   OmegaConf.to_container(cfg.memory, resolve=True), realtime=float(cfg.realtime),
                   duration=cfg.duration, plot=bool(cfg.plot))
    except RecordingError as exc:  # damaged part-way: one line, exit 2 (memory.db keeps what came before)
        print(f"embodied-mem robot replay: {exc}", file=sys.stderr)
        sys.exit(2)
    r, tr = m["replay"], m["trajectory"]
    print(f"run directory: {run_dir}")
    skipped = m["bridge"]["skipped"]
    why = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items(), key=lambda kv: -kv[1]))
    print(f"replayed {r['messages']} messages in {r['wall_s']:.2f} s ({r['x_realtime']:.1f}x real time); "
          f"trajectory {tr.get('length_m', 0):.2f} m over {tr.get('duration_s', 0):.1f} s; "
          f"skipped {sum(skipped.values())}" + (f" ({why})" if why else ""))
    if not tr.get("poses"):
        print(f"warning: no trajectory (pose source {r.get('pose_source')!r}); see the warnings above for the frames "
              f"the recording has", file=sys.stderr)


def _run_task(cfg: Any) -> None:
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from .ros2.bridge import Ros2Bridge

    OmegaConf.set_readonly(cfg, True)
    _check_continue(cfg)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    robot = Ros2BridgeConfig.from_dict(OmegaConf.to_container(cfg.robot, resolve=True))
    if robot.transport == "bag":
        from embodied_mem.hydra_cli import UsageError

        raise UsageError("robot run needs a live transport (dds or rclpy); use `embodied-mem robot replay BAG`")
    if cfg.loopback and robot.transport == "dds" and "CYCLONEDDS_URI" not in os.environ:
        from .ros2.dds import LOOPBACK_URI

        os.environ["CYCLONEDDS_URI"] = LOOPBACK_URI
    task = None
    if cfg.task:
        from .ros2.tasks import TaskError, parse_task

        text = str(cfg.task).strip()
        try:
            task = parse_task(text if text.startswith("{") else {"task": text})
        except TaskError as exc:
            from embodied_mem.hydra_cli import UsageError

            raise UsageError(f"task={cfg.task!r}: {exc}") from None
        if not cfg.tasks:
            from embodied_mem.hydra_cli import UsageError

            raise UsageError("task=... needs the task runner: remove tasks=false")
    mem_cfg = MemoryConfig.from_dict(OmegaConf.to_container(cfg.memory))
    memory = _open_memory(mem_cfg, run_dir)
    before = _last_pose_time(memory)  # a continued memory (memory.path): summarize only this run's poses
    try:
        bridge = Ros2Bridge(robot, memory=memory)
        runner = None
        with bridge:
            print(f"bridging ROS 2 ({robot.transport}, domain {robot.domain_id}) into {memory.path}; "
                  f"queries on {robot.topics.query} -> {robot.topics.answer}"
                  + (f"; tasks on {robot.topics.task} -> {robot.topics.task_status}" if cfg.tasks else "")
                  + ". Ctrl-C to stop.")
            if cfg.tasks:
                from .ros2.task_runner import RobotTaskRunner

                runner = RobotTaskRunner(bridge, OmegaConf.to_container(cfg.agent, resolve=True),
                                         lifelong=bool(cfg.lifelong)).attach()
            if task is not None:
                runner.submit(_request(task))
                result = _run_until_done(bridge, runner, cfg.duration)
            else:
                result = bridge.transport.run(duration=cfg.duration)
            if runner is not None:
                runner.detach()
        memory.flush()
        metrics = {"status": "ok", "transport": robot.transport, "run": result,
                   "trajectory": _trajectory_summary(memory, after=before),
                   "memory": {k: v for k, v in memory.stats().items() if isinstance(v, (int, float))}}
        if runner is not None:
            metrics["tasks"] = runner.metrics()
        if cfg.plot:
            metrics["plots"] = [p for p in [_plot(memory, run_dir / "map.png", "live ROS 2 memory")] if p]
        _write_json(run_dir / "metrics.json", metrics)
        print(f"run directory: {run_dir}")
    finally:
        memory.close()
    if task is not None:
        done = metrics["tasks"]["tasks"]
        last = done[-1] if done else {"state": "not finished", "text": f"still running after {cfg.duration} s"}
        print(f"task {task.goal!r}: {last['state']}" + (f" ({last['text']})" if last.get("text") else ""))
        if last["state"] != "succeeded":
            sys.exit(1)


def _request(task: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"task": task.kind}
    for k in ("label", "id", "timeout"):
        if getattr(task, k) is not None:
            out[k] = getattr(task, k)
    return out


def _run_until_done(bridge: Any, runner: Any, duration: float | None) -> dict[str, Any]:
    """Wait until the runner has no task left (or ``duration`` s of wall time, or Ctrl-C)."""
    import time

    t0 = time.monotonic()
    try:
        while duration is None or time.monotonic() - t0 < duration:
            time.sleep(0.05)
            if not runner.busy:
                break
    except KeyboardInterrupt:
        pass
    return {"wall_s": time.monotonic() - t0, **bridge.stats()}


def _hydra(task: Any, config_name: str, overrides: list[str]) -> int:
    """Run a Hydra app; returns its exit status (a bad key, value or choice: one line, exit 2)."""
    from embodied_mem.config_schema import check_overrides
    from embodied_mem.hydra_cli import run_app

    _register()
    schema = RobotRunConfig if config_name == "robot_run" else RobotReplayConfig
    prog = "embodied-mem robot " + config_name.split("_", 1)[1]
    usage = (f"{prog} BAG_PATH [--debug] [KEY=VALUE ...]" if config_name == "robot_replay"
             else f"{prog} [--debug] [KEY=VALUE ...]")
    return run_app(task, config_name, overrides, prog=prog, about=USAGE, usage=usage,
                   check=lambda ovs: check_overrides(ovs, schema=schema))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``embodied-mem robot ...``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], _alias_overrides(argv[1:])
    if cmd == "run":
        return _hydra(_run_task, "robot_run", rest)
    if cmd == "replay":
        if rest and rest[0] in ("-h", "--help"):
            return _hydra(_replay_task, "robot_replay", rest[:1])
        if not rest or "=" in rest[0] or rest[0].startswith("-"):
            print("embodied-mem robot replay: give the recording first: robot replay BAG_PATH [overrides]\n\n" + USAGE,
                  file=sys.stderr)
            return 2
        bag = Path(rest[0]).expanduser().resolve()
        if not bag.exists():
            print(f"embodied-mem robot replay: no rosbag2 recording at {bag}", file=sys.stderr)
            return 2
        if "'" in str(bag):
            print(f"embodied-mem robot replay: paths with a single quote are not supported: {bag}", file=sys.stderr)
            return 2
        try:
            from .ros2.bag import check_recording

            check_recording(bag)
        except (OSError, ValueError) as exc:  # not a recording, damaged, unreadable: one line, no traceback
            print(f"embodied-mem robot replay: {exc}", file=sys.stderr)
            return 2
        return _hydra(_replay_task, "robot_replay", [f"bag='{bag}'", *rest[1:]])
    if cmd == "testbot":
        from .ros2.testbot.cli import main as testbot_main

        return testbot_main(rest)
    print(f"embodied-mem robot: unknown sub-command {cmd!r}\n\n{USAGE}", file=sys.stderr)
    return 2


def _open_memory(mem_cfg: Any, run_dir: Path) -> Any:
    """The run's memory: ``memory.url`` (a fleet memory server, written as ``memory.robot``, default
    host-pid), ``memory.path`` (a file to continue), or a new ``run_dir/memory.db``."""
    from embodied_mem.memory import Memory
    from embodied_mem.stores import default_robot_name

    if mem_cfg.url:
        return Memory.open(mem_cfg.url, config=mem_cfg, durability="batch", robot=mem_cfg.robot or default_robot_name(),
                           fleet=mem_cfg.fleet)
    return Memory.open(Path(mem_cfg.path).expanduser() if mem_cfg.path else run_dir / "memory.db",
                       config=mem_cfg, durability="batch")
