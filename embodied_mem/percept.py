"""The one currency between the outside world and memory: ``Pose``, ``Sighting``, ``View``, ``Percept``.

All four are frozen, validated dataclasses. Coordinates are in the *world frame* of the source
(metres for robots, cells for grid worlds); time ``t`` is in seconds or simulator steps, as the
source chooses, and must be non-decreasing per source (checked by ``Memory.observe``).

Bad input is refused at construction: a ``TypeError`` for a wrong type, a ``ValueError`` for a
bad value (NaN/inf, out of range, empty or over-long label, confidence outside [0, 1]), each naming
the field. Nothing is coerced silently except ints to floats and 2-D positions to 3-D (z = 0):
``True``, ``"1.0"``, ``b"1"`` and ``Decimal`` are refused, in point arrays too.

Limits (so that one percept can never cost unbounded time or memory, and arithmetic on what memory
stores never overflows):

- coordinates, view radii and yaw: ``|value| <= MAX_COORD`` (1e9 map units);
- time: ``|t| <= MAX_TIME`` (1e15 s — use seconds, not nanoseconds);
- labels, instance names, source, region, action, target: at most ``MAX_LABEL_LEN`` (256)
  characters; event texts at most ``MAX_TEXT_LEN`` (4096). Text must be valid Unicode without
  control characters (no lone surrogates, no NUL; events may hold tab and newline);
- at most ``MAX_SIGHTINGS`` (10,000) sightings and ``MAX_EVENTS`` (1,000) events per percept,
  ``MAX_POINTS`` (1,000,000) points in ``free`` / ``blocked`` each, ``MAX_HOLES`` (10,000) view holes.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Position = tuple[float, float, float]

__all__ = [
    "Pose",
    "Sighting",
    "View",
    "DiscView",
    "RectView",
    "ConeView",
    "MaskedView",
    "Percept",
    "PerceptError",
    "PerceptTypeError",
    "as_position",
    "MAX_COORD",
    "MAX_TIME",
    "MAX_LABEL_LEN",
    "MAX_TEXT_LEN",
    "MAX_SIGHTINGS",
    "MAX_EVENTS",
    "MAX_POINTS",
    "MAX_HOLES",
]

MAX_COORD = 1e9
MAX_TIME = 1e15
MAX_LABEL_LEN = 256
MAX_TEXT_LEN = 4096
MAX_SIGHTINGS = 10_000
MAX_EVENTS = 1_000
MAX_POINTS = 1_000_000
MAX_HOLES = 10_000


class PerceptError(ValueError):
    """A percept field holds a bad value (NaN, empty label, ...). The message names the field."""


class PerceptTypeError(TypeError):
    """A percept field holds a value of the wrong type. The message names the field."""


def _finite(value: Any, name: str, limit: float = MAX_COORD) -> float:
    """``value`` as a float: a real number (not bool/str/bytes/Decimal), finite, ``|value| <= limit``."""
    if type(value) is float:
        v = value
    else:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise PerceptTypeError(f"{name} must be a number, got {type(value).__name__} {_short(value)}")
        try:
            v = float(value)
        except OverflowError:
            raise PerceptError(f"{name} is out of range (|{name}| <= {limit:g}), got an integer of "
                               f"{len(str(abs(int(value))))} digits") from None
    if not -limit <= v <= limit:  # also false for NaN
        if not math.isfinite(v):
            raise PerceptError(f"{name} must be finite, got {v}")
        raise PerceptError(f"{name} is out of range (|{name}| <= {limit:g}), got {v:g}")
    return v


def _short(value: Any) -> str:
    """A repr for error messages, never longer than 80 characters (the input may be huge)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<int of {value.bit_length()} bits>"
    r = repr(value)
    return r if len(r) <= 80 else r[:77] + "..."


def as_position(value: Any, name: str = "position") -> Position:
    """Validate ``value`` as a 2-D or 3-D point and return it as a 3-tuple of floats (z = 0 if 2-D)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise PerceptTypeError(f"{name} must be a sequence of 2 or 3 numbers, got {type(value).__name__}")
    if len(value) not in (2, 3):
        raise PerceptError(f"{name} must have 2 or 3 coordinates, got {len(value)}")
    x = _finite(value[0], f"{name}[0]")
    y = _finite(value[1], f"{name}[1]")
    z = _finite(value[2], f"{name}[2]") if len(value) == 3 else 0.0
    return (x, y, z)


_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_CONTROL_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _label(value: Any, name: str, max_len: int = MAX_LABEL_LEN, text: bool = False) -> str:
    """A non-empty str of at most ``max_len`` characters, valid Unicode, no control characters
    (``text=True``: tab, newline and carriage return allowed)."""
    if not isinstance(value, str):
        raise PerceptTypeError(f"{name} must be a str, got {type(value).__name__} {_short(value)}")
    if len(value) > max_len:
        raise PerceptError(f"{name} is too long ({len(value)} characters, at most {max_len})")
    if not value.strip():
        raise PerceptError(f"{name} must be a non-empty label")
    bad = (_CONTROL_TEXT if text else _CONTROL).search(value)
    if bad is not None:
        c = bad.group()
        what = "a lone surrogate" if "\ud800" <= c <= "\udfff" else "a control character"
        raise PerceptError(f"{name} contains {what} (U+{ord(c):04X}) at index {bad.start()}; "
                           "labels must be printable Unicode text")
    return value


@dataclass(frozen=True, slots=True)
class Pose:
    """Agent pose in the world frame: position (x, y, z) and heading ``yaw`` in radians (0 = +x, CCW)."""

    x: float
    y: float
    z: float = 0.0
    yaw: float = 0.0

    def __post_init__(self) -> None:
        for name in ("x", "y", "z", "yaw"):
            object.__setattr__(self, name, _finite(getattr(self, name), f"Pose.{name}"))

    @property
    def position(self) -> Position:
        return (self.x, self.y, self.z)

    def to_dict(self) -> dict[str, float]:
        return {"x": self.x, "y": self.y, "z": self.z, "yaw": self.yaw}


@dataclass(frozen=True, slots=True)
class Sighting:
    """One object seen at ``position`` (world frame).

    ``instance`` names one particular object (a key with an id); without it the sighting is
    label-level (one of possibly many trees). ``confidence`` is in [0, 1].
    """

    label: str
    position: Position
    instance: str | None = None
    confidence: float = 1.0

    def __post_init__(self) -> None:
        _label(self.label, "Sighting.label")
        object.__setattr__(self, "position", as_position(self.position, "Sighting.position"))
        if self.instance is not None:
            _label(self.instance, "Sighting.instance")
        c = _finite(self.confidence, "Sighting.confidence")
        if not 0.0 <= c <= 1.0:
            raise PerceptError(f"Sighting.confidence must be in [0, 1], got {c}")
        object.__setattr__(self, "confidence", c)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"label": self.label, "position": list(self.position)}
        if self.instance is not None:
            d["instance"] = self.instance
        if self.confidence != 1.0:
            d["confidence"] = self.confidence
        return d


class View:
    """What could be seen when a percept was taken: the region where absence is evidence.

    Regions are in the x–y plane of the world frame (z ignored). Subclasses implement
    ``contains_xy`` (vectorised) and ``bounds`` (xmin, ymin, xmax, ymax).
    """

    __slots__ = ()

    @staticmethod
    def disc(center: Sequence[float], radius: float) -> DiscView:
        return DiscView(as_position(center, "View.center"), radius)

    @staticmethod
    def rect(xmin: float, ymin: float, xmax: float, ymax: float) -> RectView:
        return RectView(xmin, ymin, xmax, ymax)

    @staticmethod
    def cone(pose: Pose, radius: float, fov: float) -> ConeView:
        """A sector of ``radius`` around ``pose`` facing its yaw, ``fov`` radians wide in total."""
        if not isinstance(pose, Pose):
            raise PerceptTypeError(f"View.cone pose must be a Pose, got {type(pose).__name__}")
        return ConeView(pose.x, pose.y, pose.yaw, radius, fov)

    def without(self, holes: Any, radius: float = 0.5) -> MaskedView:
        """This view minus occluded spots: points within ``radius`` of a hole were not visible.

        Use it for what the sensor could not see inside its field of view (a creature standing
        on a cell hides the ground under it; a wall hides what is behind it), so that absence
        there is not taken as evidence. ``holes``: (N, 2) x–y points in the world frame.
        """
        return MaskedView(self, holes, radius)

    def contains(self, position: Sequence[float]) -> bool:
        p = as_position(position, "View.contains position")
        return bool(self.contains_xy(np.array([p[0]]), np.array([p[1]]))[0])

    def contains_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def bounds(self) -> tuple[float, float, float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> View:
        """A view from ``View.to_dict()`` output; a malformed mapping raises naming the key."""
        d = _fields(d, "Percept.view", _VIEW_KEYS.get(d.get("kind") if isinstance(d, Mapping) else None, {"kind"}),
                    required=_VIEW_KEYS.get(d.get("kind") if isinstance(d, Mapping) else None, {"kind"}))
        kind = d.get("kind")
        if kind == "disc":
            return DiscView(as_position(d["center"], "View.center"), d["radius"])
        if kind == "rect":
            return RectView(d["xmin"], d["ymin"], d["xmax"], d["ymax"])
        if kind == "cone":
            return ConeView(d["x"], d["y"], d["yaw"], d["radius"], d["fov"])
        if kind == "masked":
            if not isinstance(d["base"], Mapping):
                raise PerceptTypeError(f"View.base must be a mapping, got {type(d['base']).__name__}")
            return MaskedView(View.from_dict(d["base"]), d["holes"], d["hole_radius"])
        raise PerceptError(f"View kind must be disc, rect, cone or masked, got {kind!r}")


@dataclass(frozen=True, slots=True)
class DiscView(View):
    center: Position
    radius: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", as_position(self.center, "View.center"))
        r = _finite(self.radius, "View.radius")
        if r < 0:
            raise PerceptError(f"View.radius must be >= 0, got {r}")
        object.__setattr__(self, "radius", r)

    def contains_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        dx = np.asarray(x, float) - self.center[0]
        dy = np.asarray(y, float) - self.center[1]
        return dx * dx + dy * dy <= self.radius * self.radius + 1e-9

    def bounds(self) -> tuple[float, float, float, float]:
        cx, cy, _ = self.center
        return (cx - self.radius, cy - self.radius, cx + self.radius, cy + self.radius)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "disc", "center": list(self.center), "radius": self.radius}


@dataclass(frozen=True, slots=True)
class RectView(View):
    """Axis-aligned rectangle, inclusive at its edges."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def __post_init__(self) -> None:
        for name in ("xmin", "ymin", "xmax", "ymax"):
            object.__setattr__(self, name, _finite(getattr(self, name), f"View.{name}"))
        if self.xmax < self.xmin or self.ymax < self.ymin:
            raise PerceptError(f"View.rect needs xmin <= xmax and ymin <= ymax, got {self.bounds()}")

    def contains_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        return (x >= self.xmin) & (x <= self.xmax) & (y >= self.ymin) & (y <= self.ymax)

    def bounds(self) -> tuple[float, float, float, float]:
        return (self.xmin, self.ymin, self.xmax, self.ymax)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "rect", "xmin": self.xmin, "ymin": self.ymin, "xmax": self.xmax, "ymax": self.ymax}


@dataclass(frozen=True, slots=True)
class ConeView(View):
    """Sector of ``radius`` centred on (x, y), facing ``yaw``, ``fov`` radians wide (0 < fov <= 2π)."""

    x: float
    y: float
    yaw: float
    radius: float
    fov: float

    def __post_init__(self) -> None:
        for name in ("x", "y", "yaw", "radius", "fov"):
            object.__setattr__(self, name, _finite(getattr(self, name), f"View.{name}"))
        if self.radius < 0:
            raise PerceptError(f"View.radius must be >= 0, got {self.radius}")
        if not 0 < self.fov <= 2 * math.pi + 1e-9:
            raise PerceptError(f"View.fov must be in (0, 2π] radians, got {self.fov}")

    def contains_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        dx = np.asarray(x, float) - self.x
        dy = np.asarray(y, float) - self.y
        inside = dx * dx + dy * dy <= self.radius * self.radius + 1e-9
        ang = np.arctan2(dy, dx) - self.yaw
        ang = (ang + np.pi) % (2 * np.pi) - np.pi
        at_apex = (dx == 0) & (dy == 0)
        return inside & ((np.abs(ang) <= self.fov / 2 + 1e-9) | at_apex)

    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x - self.radius, self.y - self.radius, self.x + self.radius, self.y + self.radius)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "cone", "x": self.x, "y": self.y, "yaw": self.yaw, "radius": self.radius, "fov": self.fov}


@dataclass(frozen=True, slots=True)
class MaskedView(View):
    """A view with occluded holes: inside ``base`` except within ``hole_radius`` of any hole.

    ``holes`` is stored as a tuple of (x, y) pairs (so views compare and hash by value).
    """

    base: View
    holes: tuple[tuple[float, float], ...]
    hole_radius: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.base, View):
            raise PerceptTypeError(f"View.without base must be a View, got {type(self.base).__name__}")
        arr = _cells(self.holes if not isinstance(self.holes, tuple) or self.holes else None, "View.holes", MAX_HOLES)
        holes = () if arr is None else tuple((float(a), float(b)) for a, b in arr.tolist())
        object.__setattr__(self, "holes", holes)
        r = _finite(self.hole_radius, "View.hole_radius")
        if r < 0:
            raise PerceptError(f"View.hole_radius must be >= 0, got {r}")
        object.__setattr__(self, "hole_radius", r)

    def contains_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        inside = self.base.contains_xy(x, y)
        if not self.holes or not inside.any():
            return inside
        h = np.asarray(self.holes, float)
        x, y = np.asarray(x, float), np.asarray(y, float)
        r2 = self.hole_radius * self.hole_radius + 1e-9
        hidden = np.zeros(len(x), bool)
        step = max(1, (1 << 20) // len(h))  # points per chunk: at most ~1M point-hole pairs in RAM at once
        for a in range(0, len(x), step):
            dx = x[a:a + step, None] - h[None, :, 0]
            dy = y[a:a + step, None] - h[None, :, 1]
            hidden[a:a + step] = (dx * dx + dy * dy <= r2).any(axis=1)
        return inside & ~hidden

    def bounds(self) -> tuple[float, float, float, float]:
        return self.base.bounds()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "masked", "base": self.base.to_dict(), "holes": [list(h) for h in self.holes],
                "hole_radius": self.hole_radius}


_PLAIN_NUMBERS = {float, int, np.float64, np.float32, np.int64, np.int32}


def _cells(value: Any, name: str, max_points: int = MAX_POINTS) -> np.ndarray | None:
    """Validate an (N, 2) array of x–y points (free or blocked space), returned read-only float64.

    Only real numbers are accepted (an array of ints or floats, or nested sequences of them): bools,
    strings, bytes and Decimals are refused, never converted. At most ``max_points`` rows."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        raise PerceptTypeError(f"{name} must be an (N, 2) array of numbers, got {type(value).__name__}")
    if not isinstance(value, np.ndarray):
        if hasattr(value, "__len__") and len(value) > max_points:
            raise PerceptError(f"{name} has too many points ({len(value)}, at most {max_points})")
    try:
        raw = value if isinstance(value, np.ndarray) else np.asarray(value)
        if raw.dtype.kind in "iuf" and not isinstance(value, np.ndarray):
            # numpy turns True into 1.0 beside floats: look at the element types themselves
            try:
                types = set(map(type, itertools.chain.from_iterable(value)))
            except TypeError:
                types = set()
            if not types <= _PLAIN_NUMBERS:
                raw = np.asarray(value, dtype=object)
        elif raw.dtype.kind not in "iuf":
            raw = np.asarray(value, dtype=object)
    except (TypeError, ValueError, OverflowError) as exc:
        raise PerceptTypeError(f"{name} must be an (N, 2) array of numbers: {exc}") from None
    if raw.dtype.kind == "O":  # nested sequences: check every element's type, convert nothing else
        for typ in set(map(type, raw.ravel().tolist())):
            if issubclass(typ, (bool, np.bool_)) or not issubclass(typ, (int, float, np.integer, np.floating)):
                raise PerceptTypeError(f"{name} must be an (N, 2) array of real numbers, got {typ.__name__} values")
    elif raw.size and raw.dtype.kind not in "iuf":
        raise PerceptTypeError(f"{name} must be an (N, 2) array of real numbers, got {raw.dtype} values")
    try:
        arr = raw.astype(float) if raw.size else np.zeros((0, 2))
    except OverflowError:
        raise PerceptError(f"{name} is out of range (|coordinate| <= {MAX_COORD:g}): an integer too large") from None
    if arr.size == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] not in (2, 3):
        raise PerceptError(f"{name} must have shape (N, 2), got {arr.shape}")
    if len(arr) > max_points:
        raise PerceptError(f"{name} has too many points ({len(arr)}, at most {max_points})")
    arr = arr[:, :2]
    if not np.isfinite(arr).all():
        raise PerceptError(f"{name} must hold finite coordinates (found NaN or inf)")
    if arr.size and float(np.abs(arr).max()) > MAX_COORD:
        raise PerceptError(f"{name} is out of range (|coordinate| <= {MAX_COORD:g}), got {float(np.abs(arr).max()):g}")
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, slots=True)
class Percept:
    """Everything one source perceived at time ``t``.

    - ``pose``: the agent's pose, or None when unknown (a detection-only message).
    - ``sightings``: objects seen, in the world frame.
    - ``view``: the region that could be seen; believed objects inside it that are not among the
      sightings are invalidated (negative evidence). None: no negative evidence.
    - ``events``: free-text happenings ("collected wood").
    - ``region``: a semantic region label for where the agent is ("kitchen"), if known.
    - ``source``: who produced it; time must be non-decreasing per source.
    - ``free`` / ``blocked``: (N, 2) x–y points observed free or blocked (occupancy layer).
    - ``action`` / ``target``: what the agent did just before (e.g. "do", "tree"), so memory can
      learn what acting on a thing yields.
    """

    t: float
    pose: Pose | None = None
    sightings: tuple[Sighting, ...] = ()
    view: View | None = None
    events: tuple[str, ...] = ()
    region: str | None = None
    source: str = "default"
    free: np.ndarray | None = field(default=None, compare=False)
    blocked: np.ndarray | None = field(default=None, compare=False)
    action: str | None = None
    target: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "t", _finite(self.t, "Percept.t", MAX_TIME))
        if self.pose is not None and not isinstance(self.pose, Pose):
            raise PerceptTypeError(f"Percept.pose must be a Pose or None, got {type(self.pose).__name__}")
        object.__setattr__(self, "sightings", _tuple_of(self.sightings, Sighting, "Percept.sightings", MAX_SIGHTINGS))
        if self.view is not None and not isinstance(self.view, View):
            raise PerceptTypeError(f"Percept.view must be a View or None, got {type(self.view).__name__}")
        events = _tuple_of(self.events, str, "Percept.events", MAX_EVENTS)
        for i, e in enumerate(events):
            _label(e, f"Percept.events[{i}]", MAX_TEXT_LEN, text=True)
        object.__setattr__(self, "events", events)
        if self.region is not None:
            _label(self.region, "Percept.region")
        _label(self.source, "Percept.source")
        object.__setattr__(self, "free", _cells(self.free, "Percept.free"))
        object.__setattr__(self, "blocked", _cells(self.blocked, "Percept.blocked"))
        if self.action is not None:
            _label(self.action, "Percept.action")
        if self.target is not None:
            _label(self.target, "Percept.target")

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self.sightings]

    def text(self) -> str:
        """A short text rendering used by text featurizers (region, labels seen, events)."""
        parts = [s.label for s in self.sightings]
        if self.region:
            parts.insert(0, self.region)
        if self.events:
            parts += self.events
        if self.action:
            parts.append(self.action if not self.target else f"{self.action} {self.target}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``Percept.from_dict(p.to_dict()) == p``."""
        d: dict[str, Any] = {"t": self.t, "source": self.source}
        if self.pose is not None:
            d["pose"] = self.pose.to_dict()
        if self.sightings:
            d["sightings"] = [s.to_dict() for s in self.sightings]
        if self.view is not None:
            d["view"] = self.view.to_dict()
        if self.events:
            d["events"] = list(self.events)
        if self.region is not None:
            d["region"] = self.region
        if self.free is not None:
            d["free"] = self.free.tolist()
        if self.blocked is not None:
            d["blocked"] = self.blocked.tolist()
        if self.action is not None:
            d["action"] = self.action
        if self.target is not None:
            d["target"] = self.target
        return d

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Percept:
        if not isinstance(d, Mapping):
            raise PerceptTypeError(f"a percept must be a mapping, got {type(d).__name__}")
        unknown = set(d) - {"t", "source", "pose", "sightings", "view", "events", "region", "free",
                            "blocked", "action", "target"}
        if unknown:
            raise PerceptError(f"unknown percept field(s): {sorted(unknown)}")
        if "t" not in d:
            raise PerceptError("Percept.t is missing")
        pose = d.get("pose")
        if pose is not None:
            pose = Pose(**_fields(pose, "Percept.pose", {"x", "y", "z", "yaw"}, required={"x", "y"}))
        sightings = d.get("sightings", ())
        if not isinstance(sightings, (list, tuple)):
            raise PerceptTypeError(f"Percept.sightings must be a list, got {type(sightings).__name__}")
        if len(sightings) > MAX_SIGHTINGS:
            raise PerceptError(f"Percept.sightings has too many items (more than {MAX_SIGHTINGS})")
        built = []
        for i, s in enumerate(sightings):
            s = _fields(s, f"Percept.sightings[{i}]", {"label", "position", "instance", "confidence"},
                        required={"label", "position"})
            built.append(Sighting(s["label"], as_position(s["position"], f"Percept.sightings[{i}].position"),
                                  s.get("instance"), s.get("confidence", 1.0)))
        view = d.get("view")
        if view is not None and not isinstance(view, Mapping):
            raise PerceptTypeError(f"Percept.view must be a mapping, got {type(view).__name__}")
        return Percept(
            t=d["t"],
            pose=pose,
            sightings=tuple(built),
            view=View.from_dict(view) if view is not None else None,
            events=tuple(d.get("events", ())),
            region=d.get("region"),
            source=d.get("source", "default"),
            free=d.get("free"),
            blocked=d.get("blocked"),
            action=d.get("action"),
            target=d.get("target"),
        )


_VIEW_KEYS = {"disc": {"kind", "center", "radius"}, "rect": {"kind", "xmin", "ymin", "xmax", "ymax"},
              "cone": {"kind", "x", "y", "yaw", "radius", "fov"}, "masked": {"kind", "base", "holes", "hole_radius"}}


def _fields(d: Any, name: str, allowed: set[str], required: set[str]) -> Mapping[str, Any]:
    """``d`` as a mapping with only ``allowed`` keys and every ``required`` one, else an error naming it."""
    if not isinstance(d, Mapping):
        raise PerceptTypeError(f"{name} must be a mapping, got {type(d).__name__}")
    if "kind" in required and d.get("kind") not in _VIEW_KEYS:
        raise PerceptError(f"View kind must be disc, rect, cone or masked, got {_short(d.get('kind'))}")
    unknown = set(d) - allowed
    if unknown:
        raise PerceptError(f"{name} has unknown field(s): {sorted(map(str, unknown))[:5]}")
    missing = required - set(d)
    if missing:
        raise PerceptError(f"{name} is missing {sorted(missing)}")
    return d


def _raw(cls: type, **fields: Any) -> Any:
    """Build a frozen dataclass without ``__post_init__`` (for values this library validated before)."""
    obj = object.__new__(cls)
    for k, v in fields.items():
        object.__setattr__(obj, k, v)
    return obj


def _frozen_cells(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=float).reshape(-1, 2)
    arr.setflags(write=False)
    return arr


def journal_dict(p: Percept) -> dict[str, Any]:
    """``p.to_dict()`` as a journal writes it: the same keys in the same order and the same values,
    but positions (and events) as tuples, not lists. MessagePack writes a tuple exactly as it writes
    a list, so the encoded row is byte for byte the one ``to_dict()`` gives; building it makes one
    dict per sighting and calls no method per sighting (durable ingest encodes every percept once).
    Not JSON-equal to ``to_dict()`` (a tuple is not a list): for MessagePack only."""
    d: dict[str, Any] = {"t": p.t, "source": p.source}
    pose = p.pose
    if pose is not None:
        d["pose"] = {"x": pose.x, "y": pose.y, "z": pose.z, "yaw": pose.yaw}
    if p.sightings:
        rows = []
        for s in p.sightings:
            if s.instance is None and s.confidence == 1.0:  # the common case: label and position only
                rows.append({"label": s.label, "position": s.position})
            else:
                e: dict[str, Any] = {"label": s.label, "position": s.position}
                if s.instance is not None:
                    e["instance"] = s.instance
                if s.confidence != 1.0:
                    e["confidence"] = s.confidence
                rows.append(e)
        d["sightings"] = rows
    if p.view is not None:
        d["view"] = p.view.to_dict()
    if p.events:
        d["events"] = p.events
    if p.region is not None:
        d["region"] = p.region
    if p.free is not None:
        d["free"] = p.free.tolist()
    if p.blocked is not None:
        d["blocked"] = p.blocked.tolist()
    if p.action is not None:
        d["action"] = p.action
    if p.target is not None:
        d["target"] = p.target
    return d


def percept_from_journal(d: Mapping[str, Any]) -> Percept:
    """Rebuild a percept from ``Percept.to_dict()`` output that ``Memory`` journaled itself.

    Skips re-validation (it was validated when first observed, and the journal is written only by
    ``MemoryStore`` into a file stamped as ours), which makes replaying a journal about twice as
    fast. It does check ranges (time, pose, positions, cells: a file written before the range
    checks existed may hold 1e200), raising ``PerceptError`` before anything is built.
    Not for untrusted input: use ``Percept.from_dict`` there.
    """
    pose = d.get("pose")
    view = d.get("view")
    t = d["t"]
    if not isinstance(t, (int, float)) or not abs(t) <= MAX_TIME:
        raise PerceptError(f"Percept.t is {_short(t)}: not a number within |t| <= {MAX_TIME:g}")
    if pose is not None and not max(abs(pose["x"]), abs(pose["y"]), abs(pose["z"]), abs(pose["yaw"])) <= MAX_COORD:
        raise PerceptError(f"Percept.pose {pose} is out of range (|value| <= {MAX_COORD:g})")
    m = MAX_COORD
    new, put = object.__new__, object.__setattr__
    sightings = []
    for s in d.get("sightings", ()):  # one pass: check, then build (this loop is most of a replay's decoding)
        p = s["position"]
        if len(p) != 3 or not (abs(p[0]) <= m and abs(p[1]) <= m and abs(p[2]) <= m):
            raise PerceptError(f"Sighting.position {p} is out of range (|coordinate| <= {MAX_COORD:g})")
        o = new(Sighting)
        put(o, "label", s["label"])
        put(o, "position", (p[0], p[1], p[2]))
        put(o, "instance", s.get("instance"))
        put(o, "confidence", s.get("confidence", 1.0))
        sightings.append(o)
    free, blocked = _frozen_cells(d.get("free")), _frozen_cells(d.get("blocked"))
    for name, arr in (("free", free), ("blocked", blocked)):
        if arr is not None and arr.size and not float(np.abs(arr).max()) <= MAX_COORD:
            raise PerceptError(f"Percept.{name} is out of range (|coordinate| <= {MAX_COORD:g}) or not finite")
    return _raw(
        Percept,
        t=float(t),
        pose=None if pose is None else _raw(Pose, x=pose["x"], y=pose["y"], z=pose["z"], yaw=pose["yaw"]),
        sightings=tuple(sightings),
        view=None if view is None else View.from_dict(view),
        events=tuple(d.get("events", ())),
        region=d.get("region"),
        source=d.get("source", "default"),
        free=free,
        blocked=blocked,
        action=d.get("action"),
        target=d.get("target"),
    )


def _tuple_of(value: Any, kind: type, name: str, max_items: int) -> tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise PerceptTypeError(f"{name} must be a sequence of {kind.__name__}, got {type(value).__name__}")
    out = tuple(itertools.islice(value, max_items + 1))  # never drains an endless iterator
    if len(out) > max_items:
        raise PerceptError(f"{name} has too many items (more than {max_items})")
    for i, item in enumerate(out):
        if not isinstance(item, kind):
            raise PerceptTypeError(f"{name}[{i}] must be a {kind.__name__}, got {type(item).__name__}")
    return out
