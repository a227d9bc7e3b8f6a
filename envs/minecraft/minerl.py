"""MineRL adapter: MineRL 0.4.x and 1.0 observation / action dicts <-> Percepts and primitives.

MineRL itself (``pip install minerl``: Java 8 and a Minecraft download at build time) is imported
only by ``MineRLAdapter`` (via ``embodied_mem.deps.require("minerl")``, whose error says how to
install it). Everything else here works on plain dicts, so it is tested against the contract fake
in ``testing.py`` where minerl is missing.

**Observations** (what the dicts hold, per MineRL's documented spaces):

- both: ``pov`` (H, W, 3) uint8 (64x64 in 0.4 envs, 360x640 in 1.0), ``inventory`` {item: count}.
- 0.4.x: ``compass`` {"angle": degrees to the goal, -180..180} (Navigate envs), ``equipped_items``
  {"mainhand": {"type", "damage", "maxDamage"}} (Obtain envs), ``location_stats`` {xpos, ypos,
  zpos, pitch, yaw} where the env exposes ``ObservationFromFullStats``.
- 1.0: ``location_stats`` {xpos, ypos, zpos, pitch, yaw, ...}, ``life_stats`` {life, food, ...}.

MineRL angles are Minecraft's: yaw in degrees, 0 faces south (+z), 90 west (-x), increasing when
turning right (clockwise seen from above); pitch in degrees, positive looks down. Positions are the
player's feet in Minecraft coordinates; the Percept holds them in memory's frame (``frames.py``).
The pixels carry no symbolic sightings: a MineRL percept has the pose, inventory events ("collected
2 log") and the compass as an event; ``view`` is None (no negative evidence from pixels).

**Actions** (``action_from_primitive``): a low-level name of ``env.LOW_LEVEL`` or a ``control``
primitive (controls, dyaw/dpitch in radians, attack) becomes a MineRL action dict: 0.4 keys
forward/back/left/right/jump/sneak/sprint/attack + ``camera`` [dpitch, dyaw] in degrees (+ the enum
keys place/equip/craft/nearbyCraft/nearbySmelt = "none"); 1.0 adds ESC/drop/hotbar.1-9/inventory/
pickItem/swapHands/use. ``steer_towards`` turns a ``move_to`` target into camera + forward actions.
``primitive_from_action`` goes back (for writing demonstrations into memory).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from embodied_mem.percept import Percept, Pose

from .frames import feet_to_memory

__all__ = ["VERSIONS", "detect_version", "parse_observation", "MineRLPerceptor", "noop_action",
           "action_from_primitive", "primitive_from_action", "steer_towards", "notch_yaw_to_memory",
           "memory_yaw_to_notch", "MineRLAdapter"]

VERSIONS = ("0.4", "1.0")
KEYS_04 = ("forward", "back", "left", "right", "jump", "sneak", "sprint", "attack")
ENUMS_04 = ("place", "equip", "craft", "nearbyCraft", "nearbySmelt")
KEYS_10 = ("ESC", "attack", "back", "drop", "forward", *(f"hotbar.{i}" for i in range(1, 10)), "inventory", "jump",
           "left", "pickItem", "right", "sneak", "sprint", "swapHands", "use")
_LOW_TO_KEYS = {
    "noop": ({}, 0.0, 0.0), "forward": ({"forward": 1}, 0.0, 0.0), "back": ({"back": 1}, 0.0, 0.0),
    "left": ({"left": 1}, 0.0, 0.0), "right": ({"right": 1}, 0.0, 0.0),
    "jump_forward": ({"forward": 1, "jump": 1}, 0.0, 0.0), "turn_left": ({}, 0.0, -15.0),
    "turn_right": ({}, 0.0, 15.0), "look_up": ({}, -15.0, 0.0), "look_down": ({}, 15.0, 0.0),
    "attack": ({"attack": 1}, 0.0, 0.0), "sneak": ({"sneak": 1}, 0.0, 0.0),
}  # name -> (keys, camera pitch delta in degrees (+ down), camera yaw delta in degrees (+ right))


def notch_yaw_to_memory(yaw_deg: float) -> float:
    """Minecraft yaw (degrees, 0 = +z, 90 = -x) -> memory yaw (radians from +x towards +y = +z)."""
    y = math.radians(yaw_deg)
    return math.atan2(math.cos(y), -math.sin(y))


def memory_yaw_to_notch(theta: float) -> float:
    """Memory yaw (radians) -> Minecraft yaw in degrees, in (-180, 180]."""
    dx, dz = math.cos(theta), math.sin(theta)
    return math.degrees(math.atan2(-dx, dz))


def detect_version(obs: Mapping[str, Any]) -> str:
    """"1.0" when the dict has 1.0-only keys (``life_stats``) or a 360x640 pov, else "0.4"."""
    if not isinstance(obs, Mapping):
        raise TypeError(f"a MineRL observation must be a dict, got {type(obs).__name__}")
    if "life_stats" in obs:
        return "1.0"
    pov = obs.get("pov")
    if pov is not None and np.shape(pov)[:2] == (360, 640):
        return "1.0"
    return "0.4"


def _num(d: Mapping[str, Any], key: str, where: str) -> float:
    if key not in d:
        raise ValueError(f"{where} has no {key!r}")
    v = float(np.asarray(d[key]).reshape(()))
    if not math.isfinite(v):
        raise ValueError(f"{where}[{key!r}] must be finite, got {v}")
    return v


def parse_observation(obs: Mapping[str, Any]) -> dict[str, Any]:
    """A MineRL observation dict -> plain fields: position (Minecraft, or None), yaw / pitch (degrees,
    or None), inventory {item: int}, health / food (or None), compass (degrees or None), pov shape.
    Raises ``TypeError``/``ValueError`` naming the field on malformed input."""
    version = detect_version(obs)
    if "pov" not in obs:
        raise ValueError("MineRL observation has no 'pov'")
    pov = np.asarray(obs["pov"])
    if pov.ndim != 3 or pov.shape[2] != 3:
        raise ValueError(f"observation 'pov' must be (H, W, 3), got {pov.shape}")
    inv_raw = obs.get("inventory", {})
    if not isinstance(inv_raw, Mapping):
        raise TypeError(f"observation 'inventory' must be a dict, got {type(inv_raw).__name__}")
    inventory = {str(k): int(np.asarray(v).reshape(())) for k, v in inv_raw.items()}
    out: dict[str, Any] = {"version": version, "pov_shape": tuple(pov.shape), "inventory": inventory,
                           "position": None, "yaw": None, "pitch": None, "health": None, "food": None,
                           "compass": None}
    loc = obs.get("location_stats")
    if loc is not None:
        if not isinstance(loc, Mapping):
            raise TypeError(f"observation 'location_stats' must be a dict, got {type(loc).__name__}")
        out["position"] = tuple(_num(loc, k, "location_stats") for k in ("xpos", "ypos", "zpos"))
        out["yaw"] = _num(loc, "yaw", "location_stats")
        out["pitch"] = _num(loc, "pitch", "location_stats")
    life = obs.get("life_stats")
    if isinstance(life, Mapping):
        out["health"] = _num(life, "life", "life_stats") if "life" in life else None
        out["food"] = _num(life, "food", "life_stats") if "food" in life else None
    compass = obs.get("compass")
    if compass is not None:
        if isinstance(compass, Mapping):
            out["compass"] = _num(compass, "angle", "compass")
        else:
            out["compass"] = float(np.asarray(compass).reshape(()))
    elif "compassAngle" in obs:  # MineRL 0.2/0.3 name
        out["compass"] = float(np.asarray(obs["compassAngle"]).reshape(()))
    return out


class MineRLPerceptor:
    """Stateful MineRL observation -> ``Percept`` (inventory gains become events).

    ``t`` is the step count. A percept has ``pose`` only when the observation carries
    ``location_stats``; memory's spatial part learns nothing from pose-less percepts.
    """

    def __init__(self, source: str = "minerl") -> None:
        self.source = source
        self.reset()

    def reset(self) -> None:
        self._inventory: dict[str, int] | None = None
        self.t = 0

    def percept(self, obs: Mapping[str, Any], *, action: Mapping[str, Any] | None = None) -> Percept:
        f = parse_observation(obs)
        events: list[str] = []
        if self._inventory is not None:
            for item, n in sorted(f["inventory"].items()):
                gained = n - self._inventory.get(item, 0)
                if gained > 0:
                    events.append(f"collected {gained} {item}")
                elif gained < 0:
                    events.append(f"used {-gained} {item}")
        self._inventory = dict(f["inventory"])
        if f["compass"] is not None:
            events.append(f"compass {f['compass']:.0f} deg")
        pose = None
        if f["position"] is not None:
            x, y, z = feet_to_memory(*f["position"])
            pose = Pose(x=x, y=y, z=z, yaw=notch_yaw_to_memory(f["yaw"]))
        act = None
        if action is not None:
            prim = primitive_from_action(action)
            act = prim["name"]
        p = Percept(t=float(self.t), pose=pose, events=tuple(events), source=self.source, action=act)
        self.t += 1
        return p


def noop_action(version: str = "0.4") -> dict[str, Any]:
    """MineRL's no-op action dict for ``version`` (what ``env.action_space.noop()`` returns)."""
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, got {version!r}")
    keys = KEYS_04 if version == "0.4" else KEYS_10
    a: dict[str, Any] = {k: 0 for k in keys}
    a["camera"] = np.zeros(2, np.float32)
    if version == "0.4":
        for k in ENUMS_04:
            a[k] = "none"
    return a


def action_from_primitive(primitive: Any, version: str = "0.4") -> dict[str, Any]:
    """A low-level name (``LOW_LEVEL``), or ``{"op": "control", "controls": {...}, "dyaw": rad,
    "dpitch": rad, "attack": bool}``, or ``{"op": "equip"|"place"|"craft", "item": name}`` (0.4) ->
    a MineRL action dict. Mineflayer's dyaw > 0 turns left and dpitch > 0 looks up; MineRL's camera
    is [pitch (+ down), yaw (+ right)] in degrees, clipped to [-180, 180]."""
    a = noop_action(version)
    if isinstance(primitive, str):
        if primitive not in _LOW_TO_KEYS:
            raise ValueError(f"unknown low-level action {primitive!r}; valid: {sorted(_LOW_TO_KEYS)}")
        keys, dp, dy = _LOW_TO_KEYS[primitive]
        a.update(keys)
        a["camera"] = np.array([dp, dy], np.float32)
        return a
    if not isinstance(primitive, Mapping):
        raise TypeError(f"primitive must be a str or a dict, got {type(primitive).__name__}")
    op = primitive.get("op")
    if op == "control":
        for k, v in (primitive.get("controls") or {}).items():
            if k not in a or k == "camera":
                raise ValueError(f"control {k!r} has no MineRL {version} key")
            a[k] = int(bool(v))
        if primitive.get("attack"):
            a["attack"] = 1
        dp = -math.degrees(float(primitive.get("dpitch", 0.0)))
        dy = -math.degrees(float(primitive.get("dyaw", 0.0)))
        a["camera"] = np.clip(np.array([dp, dy], np.float32), -180, 180)
        return a
    if op in ("equip", "place", "craft") and version == "0.4":
        item = primitive.get("item")
        if not isinstance(item, str) or not item:
            raise ValueError(f"primitive {op!r} needs field 'item' (a non-empty str)")
        a[op] = item
        return a
    raise ValueError(f"primitive {op!r} has no MineRL {version} action (use steer_towards for move_to)")


def primitive_from_action(action: Mapping[str, Any]) -> dict[str, Any]:
    """A MineRL action dict -> ``{"name": short text, "op": "control", "controls": {...}, "dyaw",
    "dpitch"}`` (radians, Mineflayer's signs)."""
    if not isinstance(action, Mapping):
        raise TypeError(f"a MineRL action must be a dict, got {type(action).__name__}")
    controls = {k: True for k in ("forward", "back", "left", "right", "jump", "sneak", "sprint")
                if int(np.asarray(action.get(k, 0)).reshape(())) == 1}
    cam = np.asarray(action.get("camera", (0.0, 0.0)), float).reshape(2)
    attack = int(np.asarray(action.get("attack", 0)).reshape(())) == 1
    parts = sorted(controls) + (["attack"] if attack else [])
    if abs(cam[0]) > 1e-6 or abs(cam[1]) > 1e-6:
        parts.append("camera")
    for k in ENUMS_04:
        v = action.get(k)
        if isinstance(v, str) and v != "none":
            parts.append(f"{k}:{v}")
    return {"name": "+".join(parts) if parts else "noop", "op": "control", "controls": controls,
            "dyaw": -math.radians(cam[1]), "dpitch": -math.radians(cam[0]), "attack": attack}


def steer_towards(obs: Mapping[str, Any], target: tuple[float, float], version: str | None = None, *,
                  max_turn: float = 30.0, arrive: float = 1.0) -> dict[str, Any] | None:
    """One MineRL action walking towards ``target`` (Minecraft x, z): turn (at most ``max_turn``
    degrees) and go forward (with a jump) when facing it within 30 degrees. None once within
    ``arrive`` blocks. Needs ``location_stats`` in the observation (``ValueError`` otherwise)."""
    f = parse_observation(obs)
    if f["position"] is None:
        raise ValueError("steer_towards needs 'location_stats' in the observation (position and yaw)")
    version = version or f["version"]
    px, _, pz = f["position"]
    dx, dz = target[0] - px, target[1] - pz
    if math.hypot(dx, dz) <= arrive:
        return None
    want = math.degrees(math.atan2(-dx, dz))  # Minecraft yaw facing the target
    turn = (want - f["yaw"] + 180.0) % 360.0 - 180.0
    a = noop_action(version)
    a["camera"] = np.array([0.0, float(np.clip(turn, -max_turn, max_turn))], np.float32)
    if abs(turn) <= 30.0:
        a["forward"] = 1
        a["jump"] = 1
    return a


class MineRLAdapter:
    """Wraps a MineRL env (``gym.make(env_id)``; imports minerl, or raises ``DependencyNotInstalled``
    with the install route). ``reset`` / ``step`` return the MineRL observation plus ``info`` with
    ``info["percept"]``; ``step`` takes a MineRL action dict, a ``LOW_LEVEL`` name or a control
    primitive. Handles the 4-tuple (gym < 0.26, MineRL 0.4 / 1.0) and 5-tuple step APIs."""

    def __init__(self, env_id: str = "MineRLNavigateDense-v0", *, env: Any = None, version: str | None = None) -> None:
        if env is None:
            from embodied_mem.deps import require

            require("minerl", "the MineRL adapter")
            import gym  # minerl brings the old gym API

            env = gym.make(env_id)
        self.env = env
        self.version = version
        self.perceptor = MineRLPerceptor()

    def reset(self, *, seed: int | None = None) -> tuple[Any, dict[str, Any]]:
        self.perceptor.reset()
        if seed is not None and hasattr(self.env, "seed"):
            self.env.seed(seed)
        out = self.env.reset()
        obs = out[0] if isinstance(out, tuple) else out
        self.version = self.version or detect_version(obs)
        return obs, {"percept": self.perceptor.percept(obs)}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if not isinstance(action, Mapping) or "op" in action:
            action = action_from_primitive(action, self.version or "0.4")
        out = self.env.step(action)
        if len(out) == 5:
            obs, reward, terminated, truncated, info = out
        else:
            obs, reward, done, info = out
            terminated, truncated = bool(done), False
        info = dict(info or {})
        info["percept"] = self.perceptor.percept(obs, action=action)
        return obs, float(reward), bool(terminated), bool(truncated), info

    def close(self) -> None:
        self.env.close()
