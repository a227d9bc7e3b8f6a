"""``embodied-mem robot testbot`` (or ``python -m embodied_mem.robots.ros2.testbot``): run the test robot.

    embodied-mem robot testbot --world-seed 3 --rate 5 --duration 120 --loopback

Prints one line when it starts and one JSON line (its summary: simulated time, true pose, what it
published) when it stops. Bad options: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from typing import Any

__all__ = ["main"]

ABOUT = ("A test robot, not a simulator for users: the indoor3d apartment as a ROS 2 robot over DDS "
         "(publishes /odom, /tf, /scan, /detections, /clock; follows /goal_pose and /cmd_vel).")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="embodied-mem robot testbot", description=ABOUT)
    p.add_argument("--world", default="indoor3d", help="registered world or package.module:function(seed)")
    p.add_argument("--world-seed", type=int, default=0, help="which apartment (deterministic)")
    p.add_argument("--seed", type=int, default=None, help="noise and start pose (default: the world seed)")
    p.add_argument("--start", default=None, help="start pose 'x,y,yaw' in map (m, rad); default: a random free spot")
    p.add_argument("--rate", type=float, default=1.0, help="simulated seconds per wall second (0: as fast as possible)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many simulated seconds")
    p.add_argument("--domain-id", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", 0) or 0))
    p.add_argument("--loopback", action="store_true", help="DDS on loopback only (tests, one machine)")
    p.add_argument("--images", type=float, default=None, metavar="HZ", help="publish camera images at HZ")
    p.add_argument("--detect", choices=("objects", "all"), default=None, help="detect small objects, or also furniture")
    p.add_argument("--instance-ids", action="store_true", help="detections carry tracker ids '<label>-<instance>'")
    p.add_argument("--wait-for", action="append", default=[], metavar="TOPIC",
                   help="hold simulated time until a peer subscribed to TOPIC (or, for /goal_pose and /cmd_vel, "
                        "publishes it); repeatable")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any TestbotConfig field, e.g. --set detection_rate=5 --set odom_noise=0")
    p.add_argument("--quiet", action="store_true")
    return p


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def config_from_args(a: argparse.Namespace) -> Any:
    """A validated ``TestbotConfig`` from parsed options (``ValueError``/``TypeError`` naming the field)."""
    from .sim import TestbotConfig

    kw: dict[str, Any] = {"world": a.world, "world_seed": a.world_seed, "seed": a.seed}
    if a.start:
        try:
            kw["start"] = tuple(float(v) for v in a.start.split(","))
        except ValueError:
            raise ValueError(f"--start must be 'x,y,yaw' in metres and radians, got {a.start!r}") from None
    if a.images is not None:
        kw["image_rate"] = a.images
    if a.detect:
        kw["detect"] = a.detect
    if a.instance_ids:
        kw["instance_ids"] = True
    names = {f.name for f in dataclasses.fields(TestbotConfig)}
    for item in a.set:
        key, sep, val = item.partition("=")
        if not sep or key not in names or key == "frames":
            raise ValueError(f"--set wants KEY=VALUE with KEY one of {sorted(names - {'frames'})}, got {item!r}")
        kw[key] = _value(val)
        if isinstance(TestbotConfig.__dataclass_fields__[key].default, float) and isinstance(kw[key], int):
            kw[key] = float(kw[key])
    return TestbotConfig(**kw)


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if a.quiet else logging.INFO, format="testbot: %(message)s")
    if a.loopback and "CYCLONEDDS_URI" not in os.environ:
        from ..dds import LOOPBACK_URI

        os.environ["CYCLONEDDS_URI"] = LOOPBACK_URI
    if a.duration is not None and not a.duration > 0:
        print(f"embodied-mem robot testbot: --duration must be > 0 simulated seconds, got {a.duration}", file=sys.stderr)
        return 2
    try:
        cfg = config_from_args(a)
        from .node import TestbotNode
        from .sim import TestbotSim

        sim = TestbotSim(cfg)
        node = TestbotNode(sim, domain_id=a.domain_id, rate=a.rate)
    except (ValueError, TypeError, ImportError) as exc:  # bad option, or open3d / cyclonedds missing
        print(f"embodied-mem robot testbot: {exc}", file=sys.stderr)
        return 2
    node.install_signal_handlers()
    x0, y0, x1, y1 = sim.world.bounds if hasattr(sim.world, "bounds") else (0, 0, 0, 0)
    print(f"testbot: world {cfg.world} seed {cfg.world_seed} ({x1 - x0:.1f} x {y1 - y0:.1f} m), start "
          f"({sim.pose[0]:.2f}, {sim.pose[1]:.2f}, {sim.pose[2]:.2f}), DDS domain {a.domain_id}, "
          f"{'as fast as possible' if a.rate == 0 else f'{a.rate:g}x real time'}", flush=True)
    try:
        if a.wait_for:
            node.wait_for_readers(a.wait_for)
        summary = node.run(a.duration)
    except (TimeoutError, ValueError) as exc:
        print(f"embodied-mem robot testbot: {exc}", file=sys.stderr)
        return 1
    finally:
        node.close()
    print(json.dumps(summary), flush=True)
    return 0
