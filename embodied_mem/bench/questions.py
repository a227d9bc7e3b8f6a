"""Questions with exact ground truth, their JSON form, and NaVQA-style scoring.

A ``Question`` is asked of a memory after it has seen the first ``length`` percepts of a stream
(``world`` names the stream: ``crafter`` or a robot recording). ``answer`` is the ground truth,
computed from the simulator's true state or the raw robot messages, never from a memory.

Answer kinds (``KIND[type]``) and how they are scored (``score``):

- ``position``: ``[x, y]`` in the world frame (cells in Crafter, metres in robot odometry), or
  ``None`` for "gone" (it was seen to vanish). Scored by the L2 error; a wrong None/position
  costs ``params["miss_penalty"]`` (the world's diameter). Correct when within ``tolerance``.
- ``scalar``: a time, a duration or a distance (``units`` says which). Scored by the absolute
  error; no answer costs ``miss_penalty``. Correct when within ``tolerance``.
- ``exact``: a bool (binary), an int (count) or a list of labels (order). Correct when equal;
  counts also report the absolute error.

Bad questions or answers of the wrong shape raise ``ValueError`` naming the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Question", "CRAFTER_TYPES", "ROBOT_TYPES", "QUESTION_TYPES", "KIND", "score", "save_questions",
           "load_questions", "aggregate", "percentile"]

CRAFTER_TYPES: tuple[str, ...] = ("position", "as_of_position", "binary", "time", "duration", "count", "change",
                                  "order")
ROBOT_TYPES: tuple[str, ...] = ("robot_position", "distance", "standstill", "closest_time")
QUESTION_TYPES: tuple[str, ...] = CRAFTER_TYPES + ROBOT_TYPES
KIND: dict[str, str] = {
    "position": "position", "as_of_position": "position", "change": "position", "robot_position": "position",
    "time": "scalar", "duration": "scalar", "distance": "scalar", "standstill": "scalar", "closest_time": "scalar",
    "binary": "exact", "count": "exact", "order": "exact",
}


@dataclass
class Question:
    """One question with its ground-truth ``answer`` (see the module docstring for answer kinds)."""

    id: str
    world: str
    length: int  # the memory has seen this many percepts of the stream when asked
    type: str
    text: str
    answer: Any
    units: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in KIND:
            raise ValueError(f"Question.type must be one of {sorted(KIND)}, got {self.type!r}")
        if not isinstance(self.length, int) or self.length <= 0:
            raise ValueError(f"Question.length must be a positive int (percepts seen), got {self.length!r}")
        _check_answer(self.type, self.answer, "Question.answer")

    @property
    def kind(self) -> str:
        return KIND[self.type]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Question:
        missing = {"id", "world", "length", "type", "text", "answer", "units"} - set(d)
        if missing:
            raise ValueError(f"question is missing field(s) {sorted(missing)}")
        return Question(**{k: d[k] for k in ("id", "world", "length", "type", "text", "answer", "units")},
                        params=dict(d.get("params") or {}))


def _check_answer(qtype: str, answer: Any, name: str) -> None:
    kind = KIND[qtype]
    if answer is None:
        return  # "gone" / "never" / no answer
    if kind == "position":
        if (not isinstance(answer, (list, tuple)) or len(answer) != 2
                or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in answer)):
            raise ValueError(f"{name} of a {qtype} question must be [x, y] (finite numbers) or None, got {answer!r}")
    elif kind == "scalar":
        if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
            raise ValueError(f"{name} of a {qtype} question must be a finite number or None, got {answer!r}")
    elif qtype == "binary" and not isinstance(answer, bool):
        raise ValueError(f"{name} of a binary question must be a bool, got {answer!r}")
    elif qtype == "count" and (isinstance(answer, bool) or not isinstance(answer, int)):
        raise ValueError(f"{name} of a count question must be an int, got {answer!r}")
    elif qtype == "order" and (not isinstance(answer, (list, tuple)) or not all(isinstance(a, str) for a in answer)):
        raise ValueError(f"{name} of an order question must be a list of labels, got {answer!r}")


def score(q: Question, answer: Any) -> dict[str, Any]:
    """Score ``answer`` against ``q.answer``: ``{"error": float, "correct": bool}``.

    ``error`` is the L2 error (positions), the absolute error (scalars, counts) or 0/1 (binary,
    order). A malformed answer raises ``ValueError``; ``None`` is always a valid answer.
    """
    _check_answer(q.type, answer, "answer")
    truth = q.answer
    penalty = float(q.params.get("miss_penalty", math.inf))
    tol = float(q.params.get("tolerance", 0.0))
    if q.kind == "position":
        if truth is None or answer is None:
            ok = truth is None and answer is None
            return {"error": 0.0 if ok else penalty, "correct": ok}
        err = math.hypot(float(answer[0]) - float(truth[0]), float(answer[1]) - float(truth[1]))
        return {"error": err, "correct": err <= tol + 1e-9}
    if q.kind == "scalar":
        if truth is None or answer is None:
            ok = truth is None and answer is None
            return {"error": 0.0 if ok else penalty, "correct": ok}
        err = abs(float(answer) - float(truth))
        return {"error": err, "correct": err <= tol + 1e-9}
    if q.type == "count":
        if answer is None:
            return {"error": float(truth), "correct": False}
        return {"error": float(abs(int(answer) - int(truth))), "correct": int(answer) == int(truth)}
    if q.type == "order":
        ok = answer is not None and list(answer) == list(truth)
        return {"error": 0.0 if ok else 1.0, "correct": ok}
    ok = answer is not None and bool(answer) == bool(truth)
    return {"error": 0.0 if ok else 1.0, "correct": ok}


def save_questions(questions: Iterable[Question], path: str | Path) -> Path:
    """Write questions as a JSON list (shareable, re-scorable); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([q.to_dict() for q in questions], indent=1))
    return path


def load_questions(path: str | Path) -> list[Question]:
    """Read a JSON list written by ``save_questions``; a malformed file raises ``ValueError``."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of questions, got {type(data).__name__}")
    return [Question.from_dict(d) for d in data]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100, linear interpolation); NaN for no values."""
    if not values:
        return math.nan
    v = sorted(values)
    k = (len(v) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def aggregate(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Group result rows by (world, length, answerer, type): n, accuracy, mean/median error, latency p50/p99 (ms).

    Each row needs ``world``, ``length``, ``answerer``, ``type``, ``error``, ``correct``, ``latency_s``.
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["world"], r["length"], r["answerer"], r["type"]), []).append(r)
    out = []
    for (world, length, answerer, qtype), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                         kv[0][3], kv[0][2])):
        errs = [float(r["error"]) for r in rs]
        lat = [1e3 * float(r["latency_s"]) for r in rs]
        out.append({"world": world, "length": length, "answerer": answerer, "type": qtype, "n": len(rs),
                    "accuracy": sum(bool(r["correct"]) for r in rs) / len(rs),
                    "mean_error": sum(errs) / len(errs), "median_error": percentile(errs, 50),
                    "latency_p50_ms": percentile(lat, 50), "latency_p99_ms": percentile(lat, 99)})
    return out
