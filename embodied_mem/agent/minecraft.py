"""The closed-loop agent for the Minecraft resource task (``envs/minecraft``): preprocessor, planner,
critic and executor, the same four parts as the Crafter agent, with a Minecraft executor.

- ``Preprocessor``: ``info`` -> ``State`` (pose in memory's frame, inventory, task progress, the
  blocks visible now) and writes ``info["percept"]`` into memory (the agent's only memory input).
- ``Planner``: the task's order -> the current subgoal (``collect <kind>`` until ``count`` items of
  it are held, then the next kind; ``done`` at the end).
- ``Critic``: judges the last step (ok / failed / stalled / loop); puts aside targets that keep
  failing and forces exploration after a loop (infinite-loop mitigation).
- ``Executor``: subgoal -> one env primitive (Minecraft coordinates): ``dig`` a known block within
  reach, else ``move_to`` towards it (at most ``stride`` blocks per step, along memory's A* path
  over known free cells when spatial memory is on), else explore.

Where resources are comes from **spatial memory** (``memory.spatial.locate``) when it is enabled;
without it (``memory.spatial.enabled=false`` or the ``reactive`` agent) only from what is visible
now. Exploration with spatial memory walks to the nearest frontier of known free space; without it,
it keeps a random heading through the free cells in view and turns when blocked (``reactive``), or,
in the ``sweep`` agent (the stronger memoryless baseline), walks a fixed outward square spiral around
its start (``SpiralSweep``): no map and no remembered resource positions, only its own position and
the spiral's geometry; it collects whatever of the current kind it sees on the way.

Units: blocks; positions in memory's frame (``envs/minecraft/frames.py``) unless named ``mc``.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from .base import Agent

__all__ = ["MinecraftAgentConfig", "Subgoal", "State", "Preprocessor", "Planner", "Critic", "Executor",
           "MinecraftAgent", "RandomMinecraftAgent", "SpiralSweep", "make_agent", "make_robomemory", "make_reactive",
           "make_sweep", "make_random"]

EYE = 1.62  # eye height above the feet, blocks
DIG_REACH = 4.5  # Mineflayer digs blocks whose centre is within 5.1 of the eyes; keep a margin


@dataclass
class MinecraftAgentConfig:
    stride: float = 8.0  # the farthest a single move_to goes, blocks
    approach_range: float = 2.0  # move_to ends within this distance of a block to dig
    explore_min_distance: float = 4.0  # frontiers closer than this are not worth a step
    turn_cost: float = 4.0  # frontier choice: blocks of detour one U-turn is worth (half for 90 degrees)
    explore_persistence: int = 6  # steps to keep an exploration target before choosing again
    fail_limit: int = 2  # failures on one target before the critic puts it aside
    blacklist_steps: int = 60  # how long a put-aside target stays aside
    stall_steps: int = 40  # steps on one subgoal without progress -> "stalled"
    loop_window: int = 12  # recent positions inspected for a loop
    loop_cells: int = 2  # at most this many distinct cells in the window (no progress) -> "loop"
    move_timeout_ms: int = 6000  # a move_to that takes longer is stopped (and counts as failed)
    critic: bool = True  # off: no blacklisting, no loop mitigation (ablation)
    explore: str = "auto"  # auto (frontiers with spatial memory, else random heading) | heading | spiral
    sweep_spacing: float = 10.0  # spiral: blocks between parallel passes (about the sight radius, 8, plus a margin)
    sweep_misses: int = 8  # spiral: consecutive unreachable or blocked waypoints before it starts over
    write_memory: bool = True

    @staticmethod
    def from_agent_cfg(cfg: Mapping[str, Any] | None) -> MinecraftAgentConfig:
        """Read the run's agent config (the Crafter-shaped schema): ``critic.enabled``,
        ``critic.stall_steps``, ``critic.blacklist_steps``, ``preprocessor.write_memory``, and an
        optional ``minecraft`` mapping of this dataclass's fields. Other keys are ignored."""
        out = MinecraftAgentConfig()
        cfg = dict(cfg or {})
        critic = cfg.get("critic") or {}
        if "enabled" in critic:
            out.critic = bool(critic["enabled"])
        for k in ("stall_steps", "blacklist_steps"):
            if k in critic:
                setattr(out, k, int(critic[k]))
        pre = cfg.get("preprocessor") or {}
        if "write_memory" in pre:
            out.write_memory = bool(pre["write_memory"])
        own = cfg.get("minecraft") or {}
        valid = {f.name for f in fields(MinecraftAgentConfig)}
        bad = set(own) - valid
        if bad:
            raise ValueError(f"unknown key(s) {sorted(bad)} in agent.minecraft; valid keys: {sorted(valid)}")
        for k, v in own.items():
            setattr(out, k, v)
        if out.explore not in ("auto", "heading", "spiral"):
            raise ValueError(f"agent.minecraft.explore must be auto, heading or spiral, got {out.explore!r}")
        if out.sweep_spacing <= 0 or out.sweep_misses < 1:
            raise ValueError(f"agent.minecraft sweep_spacing must be > 0 and sweep_misses >= 1, "
                             f"got {out.sweep_spacing}, {out.sweep_misses}")
        if out.stride <= 0 or out.approach_range <= 0:
            raise ValueError(f"agent.minecraft stride and approach_range must be > 0, got {out.stride}, {out.approach_range}")
        return out


@dataclass(frozen=True)
class Subgoal:
    """``kind``: collect | explore | done; ``target``: the block kind; ``item``/``level``: what to hold."""

    kind: str
    target: str | None = None
    item: str | None = None
    level: int = 0

    def __str__(self) -> str:
        s = self.kind if self.target is None else f"{self.kind} {self.target}"
        return s + (f" {self.item}>={self.level}" if self.item else "")


@dataclass
class State:
    t: float
    position: tuple[float, float, float]  # memory frame (feet)
    inventory: dict[str, int]
    task: dict[str, Any]
    visible: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)  # label -> memory positions
    free: list[tuple[float, float]] = field(default_factory=list)  # walkable cells in view, memory x, y
    last_ok: bool = True
    last_op: str | None = None


def _frames() -> Any:
    from embodied_mem.envs.minecraft import frames

    return frames


class Preprocessor:
    """``info`` -> ``State``; writes the percept into memory."""

    def __init__(self, write_memory: bool = True) -> None:
        self.write_memory = write_memory

    def state(self, info: Mapping[str, Any]) -> State:
        p = info["percept"]
        if p.pose is None:
            raise ValueError("info['percept'] has no pose: the Minecraft agent needs the bot's position")
        visible: dict[str, list[tuple[float, float, float]]] = {}
        for s in p.sightings:
            if s.instance is None:
                visible.setdefault(s.label, []).append(s.position)
        free = [] if p.free is None else [(float(a), float(b)) for a, b in p.free]
        res = info.get("result")
        return State(t=p.t, position=p.pose.position, inventory=dict(info.get("inventory", {})),
                     task=dict(info.get("task", {})), visible=visible, free=free,
                     last_ok=bool(info.get("action_ok", True)),
                     last_op=p.action if res is not None else None)

    def write(self, memory: Any, info: Mapping[str, Any]) -> int | None:
        if memory is None or not self.write_memory:
            return None
        return memory.observe(info["percept"])


class Planner:
    """The task's order -> the current subgoal."""

    def plan(self, state: State) -> Subgoal:
        task = state.task
        kind = task.get("current")
        if kind is None or task.get("done"):
            return Subgoal("done")
        from embodied_mem.envs.minecraft.task import DROPS

        return Subgoal("collect", kind, DROPS.get(kind, kind), int(task.get("count", 1)))


class Critic:
    """Progress, failure and loop detection; keeps the put-aside (blacklisted) targets."""

    def __init__(self, cfg: MinecraftAgentConfig) -> None:
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self.failures: dict[tuple[int, int, int], int] = {}
        self.aside: dict[tuple[int, int, int], float] = {}
        self.positions: deque[tuple[int, int]] = deque(maxlen=self.cfg.loop_window)
        self.subgoal: Subgoal | None = None
        self.since = 0.0
        self.progress = -1
        self.verdict = "ok"

    @staticmethod
    def key(p: Sequence[float]) -> tuple[int, int, int]:
        return (round(p[0]), round(p[1]), math.floor(p[2]))

    def put_aside(self, target: Sequence[float], t: float) -> None:
        self.aside[self.key(target)] = t + self.cfg.blacklist_steps

    def is_aside(self, target: Sequence[float], t: float) -> bool:
        return self.aside.get(self.key(target), -1.0) > t

    def judge(self, state: State, subgoal: Subgoal, target: Sequence[float] | None) -> str:
        progress = sum(int(v) for v in state.task.get("progress", {}).values())
        self.positions.append((round(state.position[0]), round(state.position[1])))
        if subgoal != self.subgoal or progress != self.progress:
            self.subgoal, self.since, self.progress = subgoal, state.t, progress
            self.positions.clear()
            self.verdict = "ok"
            return self.verdict
        if not self.cfg.critic:
            self.verdict = "ok"
            return self.verdict
        verdict = "ok"
        if not state.last_ok and target is not None:
            k = self.key(target)
            self.failures[k] = self.failures.get(k, 0) + 1
            verdict = "failed"
            if self.failures[k] >= self.cfg.fail_limit:
                self.put_aside(target, state.t)
                self.failures[k] = 0
        if state.t - self.since > self.cfg.stall_steps:
            verdict = "stalled"
            if target is not None:
                self.put_aside(target, state.t)
            self.since = state.t
        if len(self.positions) == self.positions.maxlen and len(set(self.positions)) <= self.cfg.loop_cells:
            verdict = "loop"
            if target is not None:
                self.put_aside(target, state.t)
            self.positions.clear()
        self.verdict = verdict
        return verdict


class SpiralSweep:
    """A memoryless systematic sweep: waypoints along an outward square spiral around ``origin``.

    Legs run east, south, west, north (memory +x, +y, -x, -y) with lengths ``spacing``,
    ``spacing``, ``2 spacing``, ``2 spacing``, ... so parallel passes lie ``spacing`` blocks apart;
    each leg is cut into waypoints at most ``step`` blocks apart. The sweep keeps only its index
    along the spiral and a count of consecutive misses (waypoints the agent could not reach or saw
    blocked); after ``misses`` in a row (the spiral has left the reachable area) it starts over at
    the origin. It holds no map and no positions of anything seen. Units: blocks, memory frame.
    """

    def __init__(self, spacing: float, step: float, misses: int) -> None:
        if spacing <= 0 or step <= 0 or misses < 1:
            raise ValueError(f"SpiralSweep needs spacing > 0, step > 0, misses >= 1; got {spacing}, {step}, {misses}")
        self.spacing, self.step, self.max_misses = float(spacing), float(step), int(misses)
        self.reset()

    def reset(self, origin: tuple[float, float] | None = None) -> None:
        self.origin, self.index, self.misses = origin, 0, 0
        self._points: list[tuple[float, float]] = []
        self._legs = 0

    def point(self, i: int) -> tuple[float, float]:
        """The i-th waypoint (memory x, y); the spiral is generated as far as needed."""
        assert self.origin is not None
        while len(self._points) <= i:
            self._extend()
        return self._points[i]

    def _extend(self) -> None:
        assert self.origin is not None
        if not self._points:
            self._points.append(self.origin)
        leg = self._legs
        direction = ((1, 0), (0, 1), (-1, 0), (0, -1))[leg % 4]
        length = self.spacing * (leg // 2 + 1)
        n = max(1, math.ceil(length / self.step))
        x0, y0 = self._points[-1]
        for k in range(1, n + 1):
            f = length * k / n
            self._points.append((x0 + direction[0] * f, y0 + direction[1] * f))
        self._legs += 1

    def current(self) -> tuple[float, float]:
        return self.point(self.index)

    def advance(self, *, missed: bool) -> None:
        """Go on to the next waypoint; ``missed``: this one was unreachable or seen blocked."""
        self.misses = self.misses + 1 if missed else 0
        self.index += 1
        if self.misses >= self.max_misses:
            self.index, self.misses = 0, 0


class Executor:
    """Subgoal -> one env primitive (a dict in Minecraft coordinates)."""

    def __init__(self, cfg: MinecraftAgentConfig, rng: random.Random) -> None:
        self.cfg = cfg
        self.rng = rng
        self.reset()

    def reset(self) -> None:
        self.explore_target: tuple[float, float, float] | None = None
        self.explore_since = 0.0
        self.heading = self.rng.uniform(-math.pi, math.pi)
        self.target: tuple[float, float, float] | None = None
        self.sweep = SpiralSweep(self.cfg.sweep_spacing, min(self.cfg.stride, self.cfg.sweep_spacing),
                                 self.cfg.sweep_misses)
        self.sweeping = False  # the last action was a move towards a sweep waypoint
        self.sweep_direct: int | None = None  # ... straight to waypoint number sweep_direct (within stride)

    # ---------------------------------------------------------------- knowledge of resources
    @staticmethod
    def spatial(memory: Any) -> Any:
        sp = getattr(memory, "spatial", None) if memory is not None else None
        return sp if sp is not None and getattr(sp, "enabled", False) else None

    def candidates(self, kind: str, state: State, memory: Any) -> list[tuple[float, float, float]]:
        sp = self.spatial(memory)
        if sp is not None:
            return [loc.position for loc in sp.locate(kind)]
        return list(state.visible.get(kind, ()))

    def choose(self, kind: str, state: State, memory: Any, critic: Critic) -> tuple[float, float, float] | None:
        here = state.position
        best, best_d = None, math.inf
        for p in self.candidates(kind, state, memory):
            if critic.is_aside(p, state.t):
                continue
            d = math.dist(here[:2], p[:2])
            if d < best_d:
                best, best_d = p, d
        return best

    # ---------------------------------------------------------------- acting
    def act(self, subgoal: Subgoal, state: State, memory: Any, critic: Critic) -> dict[str, Any]:
        f = _frames()
        self.target = None
        was_sweeping, self.sweeping = self.sweeping, False
        if subgoal.kind == "collect" and subgoal.target:
            target = self.choose(subgoal.target, state, memory, critic)
            if target is not None:
                self.target = target
                bx, by, bz = f.memory_to_block(*target)
                x, y, z = state.position
                eye = (x, y, z + EYE)
                centre = (bx, bz, by + 0.5)
                if math.dist(eye, centre) <= DIG_REACH - 0.5:
                    return {"op": "dig", "x": bx, "y": by, "z": bz}
                return self.move_towards(target, state, memory, final_range=self.cfg.approach_range)
        if self.cfg.explore == "spiral":
            return self.sweep_step(state, was_sweeping)
        return self.explore(state, memory, critic)

    def sweep_step(self, state: State, was_sweeping: bool) -> dict[str, Any]:
        """One move along the spiral (``SpiralSweep``). A waypoint counts as reached within 2 blocks
        or when the move that went straight for it reports success; one the last move towards failed
        to reach, or one in view that is not a free cell (a wall, outside the arena), is skipped as a
        miss. Uses only the current view."""
        here = state.position
        sw = self.sweep
        if sw.origin is None:
            sw.reset((here[0], here[1]))
        if was_sweeping and self.sweep_direct == sw.index:
            sw.advance(missed=not state.last_ok)
        elif was_sweeping and not state.last_ok:
            sw.advance(missed=True)
        free = {(round(a), round(b)) for a, b in state.free}
        for _ in range(4 * sw.max_misses + 4):
            px, py = sw.current()
            d = math.hypot(px - here[0], py - here[1])
            if d <= 2.0:
                sw.advance(missed=False)
            elif free and d <= 6.0 and (round(px), round(py)) not in free:
                sw.advance(missed=True)
            else:
                break
        px, py = sw.current()
        self.sweeping = True
        self.sweep_direct = sw.index if math.hypot(px - here[0], py - here[1]) <= self.cfg.stride else None
        return self.move_towards((px, py, here[2]), state, None, final_range=0.0)

    def move_towards(self, goal: Sequence[float], state: State, memory: Any, *, final_range: float) -> dict[str, Any]:
        """One ``move_to`` of at most ``stride`` blocks towards ``goal`` (memory frame)."""
        f = _frames()
        here = state.position
        sp = self.spatial(memory)
        dist = math.dist(here[:2], goal[:2])
        if dist <= self.cfg.stride:
            mx, my, mz = f.memory_to_feet(goal[0], goal[1], None)
            bx, by, bz = f.memory_to_block(*goal)
            if final_range > 0:
                return self._move(bx + 0.5, float(by), bz + 0.5, final_range)
            return self._move(mx, None, mz, 1.0)
        waypoint = None
        if sp is not None:
            path = sp.path(here, goal, adjacent=True)
            if path and len(path) > 1:
                # the farthest waypoint along the path within stride
                for p in path[1:]:
                    if math.dist(here[:2], p[:2]) <= self.cfg.stride:
                        waypoint = p
                    else:
                        break
        if waypoint is None:  # no known path: head straight for it; the pathfinder handles local obstacles
            s = self.cfg.stride / dist
            waypoint = (here[0] + (goal[0] - here[0]) * s, here[1] + (goal[1] - here[1]) * s, here[2])
        mx, _, mz = f.memory_to_feet(waypoint[0], waypoint[1], None)
        return self._move(mx, None, mz, 1.0)

    def explore(self, state: State, memory: Any, critic: Critic) -> dict[str, Any]:
        sp = self.spatial(memory)
        here = state.position
        if sp is not None:
            t = self.explore_target
            keep = (t is not None and state.t - self.explore_since < self.cfg.explore_persistence
                    and sp.occupancy(t) == "free" and math.dist(here[:2], t[:2]) > 1.5 and state.last_ok)
            if not keep:
                if t is not None and not state.last_ok:
                    critic.put_aside(t, state.t)
                self.explore_target = None
                # the nearest frontier, preferring to keep going the way the agent went (less zig-zag)
                best, best_score = None, math.inf
                for c in sp.frontiers(near=here, limit=400):
                    d = math.dist(here[:2], c[:2])
                    if d < self.cfg.explore_min_distance or critic.is_aside(c, state.t):
                        continue
                    turn = math.atan2(c[1] - here[1], c[0] - here[0]) - self.heading
                    score = d + self.cfg.turn_cost * (1.0 - math.cos(turn))
                    if score < best_score:
                        best, best_score = c, score
                if best is not None:
                    self.explore_target = (best[0], best[1], here[2])
                    self.explore_since = state.t
                    self.heading = math.atan2(best[1] - here[1], best[0] - here[0])
            if self.explore_target is not None:
                self.target = self.explore_target
                return self.move_towards(self.explore_target, state, memory, final_range=0.0)
        # no map: keep a heading through the free cells in view, turn when blocked
        if not state.last_ok or self.rng.random() < 0.1:
            self.heading = self.rng.uniform(-math.pi, math.pi)
        best, best_score = None, -math.inf
        for cx, cy in state.free:
            d = math.hypot(cx - here[0], cy - here[1])
            if d < 2.0 or d > self.cfg.stride:
                continue
            ang = math.atan2(cy - here[1], cx - here[0]) - self.heading
            ang = (ang + math.pi) % (2 * math.pi) - math.pi
            score = math.cos(ang) * d
            if score > best_score:
                best, best_score = (cx, cy), score
        if best is None or best_score <= 0:  # nothing ahead: a new heading, and any free cell in view
            self.heading = self.rng.uniform(-math.pi, math.pi)
            near = [c for c in state.free if math.hypot(c[0] - here[0], c[1] - here[1]) >= 1.0]
            if not near:
                return {"op": "control", "controls": {"back": True, "jump": True}, "ticks": 6}
            best = self.rng.choice(near)
        f = _frames()
        mx, _, mz = f.memory_to_feet(best[0], best[1], None)
        return self._move(mx, None, mz, 1.0)

    def _move(self, x: float, y: float | None, z: float, range_: float) -> dict[str, Any]:
        cmd: dict[str, Any] = {"op": "move_to", "x": x, "z": z, "range": range_, "timeout_ms": self.cfg.move_timeout_ms}
        if y is not None:
            cmd["y"] = y
        return cmd


class MinecraftAgent(Agent):
    """Planner / critic / executor over the Minecraft env's high-level primitives."""

    def __init__(self, cfg: MinecraftAgentConfig, *, uses_memory: bool, seed: int | None = None,
                 name: str = "robomemory") -> None:
        self.cfg = cfg
        self.name = name
        self.uses_memory = uses_memory
        self.rng = random.Random(seed)
        self.preprocessor = Preprocessor(cfg.write_memory)
        self.planner = Planner()
        self.critic = Critic(cfg)
        self.executor = Executor(cfg, self.rng)
        self.memory: Any = None
        self._record: dict[str, Any] = {}

    def reset(self, memory: Any | None, *, seed: int | None = None) -> None:
        self.memory = memory if self.uses_memory else None
        if seed is not None:
            self.rng.seed(seed)
        self.critic.reset()
        self.executor.reset()
        self._record = {}

    def act(self, obs: Any, info: dict[str, Any]) -> dict[str, Any]:
        state = self.preprocessor.state(info)
        self.preprocessor.write(self.memory, info)
        subgoal = self.planner.plan(state)
        verdict = self.critic.judge(state, subgoal, self.executor.target)
        if subgoal.kind == "done":
            action: dict[str, Any] = {"op": "look", "yaw": 0.0, "pitch": 0.0}
        else:
            action = self.executor.act(subgoal, state, self.memory, self.critic)
        self._record = {"subgoal": str(subgoal), "verdict": verdict, "op": action["op"]}
        return action

    def record(self) -> dict[str, Any]:
        return dict(self._record)


class RandomMinecraftAgent(Agent):
    """A baseline: random low-level controls (``LOW_LEVEL`` indices)."""

    name = "random"
    uses_memory = False

    def __init__(self, n_actions: int, seed: int | None = None) -> None:
        self.n = n_actions
        self.rng = random.Random(seed)

    def reset(self, memory: Any | None, *, seed: int | None = None) -> None:
        if seed is not None:
            self.rng.seed(seed)

    def act(self, obs: Any, info: dict[str, Any]) -> int:
        return self.rng.randrange(self.n)


def make_robomemory(cfg: Mapping[str, Any] | None, env: Any = None, seed: int | None = None) -> MinecraftAgent:
    """The memory agent (spatial memory when the run's ``memory.spatial.enabled``, else view only)."""
    return MinecraftAgent(MinecraftAgentConfig.from_agent_cfg(cfg), uses_memory=True, seed=seed, name="robomemory")


def make_reactive(cfg: Mapping[str, Any] | None, env: Any = None, seed: int | None = None) -> MinecraftAgent:
    """The same agent without memory: it knows only what it sees now."""
    return MinecraftAgent(MinecraftAgentConfig.from_agent_cfg(cfg), uses_memory=False, seed=seed, name="reactive")


def make_sweep(cfg: Mapping[str, Any] | None, env: Any = None, seed: int | None = None) -> MinecraftAgent:
    """The strongest memoryless baseline: no memory at all; explores by an outward square spiral
    around its start (``SpiralSweep``) and collects what it sees on the way."""
    c = MinecraftAgentConfig.from_agent_cfg(cfg)
    c.explore = "spiral"
    return MinecraftAgent(c, uses_memory=False, seed=seed, name="sweep")


def make_random(cfg: Mapping[str, Any] | None, env: Any = None, seed: int | None = None) -> RandomMinecraftAgent:
    n = int(env.action_space.n) if env is not None else 12
    return RandomMinecraftAgent(n, seed=seed)


def make_agent(cfg: Mapping[str, Any] | None, env: Any = None, seed: int | None = None) -> Agent:
    """Dispatch on ``cfg["name"]``: robomemory | no_spatial (robomemory; set memory.spatial.enabled=false) |
    reactive | sweep | random."""
    name = (cfg or {}).get("name", "robomemory")
    factories = {"robomemory": make_robomemory, "no_spatial": make_robomemory, "reactive": make_reactive,
                 "sweep": make_sweep, "random": make_random}
    if name not in factories:
        raise ValueError(f"unknown Minecraft agent {name!r}; valid: {sorted(factories)}")
    return factories[name](cfg, env, seed)
