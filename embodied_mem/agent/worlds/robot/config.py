"""``agent.robot``: the robot skills' settings (metres, radians, seconds)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RobotConfig"]


@dataclass
class RobotConfig:
    goal_tolerance: float = 0.35  # a navigation goal counts as reached this close (x-y)
    reach: float = 1.2  # an object counts as reached (goto, find) when the robot is this close to it
    approach: float = 0.7  # the goal next to an object: about this far from it, on known free floor
    approach_clearance: float = 0.3  # ... at least this far from blocked cells where there is such floor
    approach_cone: float = 1.2  # rad: ... and on the side it was seen from (a wall may hide it from the other side)
    frontier_tolerance: float = 0.6  # a frontier counts as reached this close
    frontier_min_distance: float = 1.0  # frontiers nearer than this to the robot are not goals
    frontier_min_cells: int = 4  # frontier cells a 0.5 m square must hold to be a goal (noise off)
    frontier_clearance: float = 0.3  # frontier cells this close to a blocked cell are no goals
    frontier_window: float = 30.0  # m: frontiers are looked for in this square around the robot
    look_at_frontiers: bool = True  # look around (a full turn) after reaching each frontier
    look_first: bool = True  # find: look around where the task starts before driving anywhere (a turn costs no path)
    sweep_radius: float = 1.5  # find, once no frontier is left: places farther than this from every look-around are visited
    turn_speed: float = 1.0  # rad/s of the look-around turn
    patrol_places: int = 8  # places a patrol visits (those checked longest ago)
    task_timeout: float = 600.0  # s: a task still running this long is reported failed
    stale_pose: float = 3.0  # s: no decision while memory's pose lags the robot's newest odometry/TF this much
    place_size: float = 0.5  # m squares of the position the critic reads (oscillation detection)

    def __post_init__(self) -> None:
        for name in ("goal_tolerance", "reach", "approach", "frontier_tolerance", "turn_speed", "task_timeout",
                     "stale_pose", "place_size", "sweep_radius", "approach_cone"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < float(v) < float("inf"):
                raise ValueError(f"agent.robot.{name} must be a number > 0, got {v!r}")
        if self.approach >= self.reach:
            raise ValueError(f"agent.robot.approach ({self.approach} m) must be less than agent.robot.reach "
                             f"({self.reach} m): the goal next to an object must count as reaching it")
        for name in ("frontier_min_distance", "frontier_clearance", "frontier_window", "approach_clearance"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= float(v) < float("inf"):
                raise ValueError(f"agent.robot.{name} must be a number >= 0, got {v!r}")
        for name in ("frontier_min_cells", "patrol_places"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"agent.robot.{name} must be a whole number >= 1, got {v!r}")
