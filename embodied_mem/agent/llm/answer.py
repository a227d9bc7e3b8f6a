"""The answer contract: a JSON schema of skill calls, and its validation.

The LLM must answer ``{"plan": [{"skill": "collect", "target": "tree", ...}, ...]}`` (a ``"reason"``
string is tolerated, not asked for: small models ramble in it until ``max_tokens``),
where every skill is one of the world's skills and every parameter one that skill declares, of its
type and among its allowed values. Skills come as the world's ``SkillSpec`` records (``name``,
``description``, ``params`` with ``name``/``type``/``choices``/``required``) or, for short, as a
mapping ``{skill: allowed targets}`` (an empty list: the skill takes no target).

``answer_schema`` builds the JSON schema sent as ``response_format``; ``parse_answer`` checks the
text whatever the server did with that schema (a server may ignore it; an answer cut at
``max_tokens`` is broken JSON) and raises ``InvalidAnswer`` naming the first problem found.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

__all__ = ["SkillCall", "InvalidAnswer", "SkillShape", "ParamShape", "normalize_skills", "answer_schema",
           "parse_answer", "Skills"]

_TYPES = ("string", "integer", "number", "boolean")


@dataclass(frozen=True)
class ParamShape:
    """One parameter of a skill (mirrors ``SkillParam``): JSON ``type``, allowed ``choices`` (empty: any)."""

    name: str
    type: str = "string"
    choices: tuple[Any, ...] = ()
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class SkillShape:
    """A skill as the LLM sees it (mirrors ``SkillSpec``)."""

    name: str
    description: str = ""
    params: tuple[ParamShape, ...] = ()


# SkillSpec-like records, or {skill: allowed targets}
Skills = Union[Sequence[Any], Mapping[str, Sequence[str]]]  # noqa: UP007 (a runtime alias on 3.10)


def normalize_skills(skills: Skills) -> dict[str, SkillShape]:
    """``{name: SkillShape}`` from SkillSpec-like records or a ``{skill: targets}`` mapping."""
    out: dict[str, SkillShape] = {}
    if _is_shapes(skills):
        out = dict(skills)  # type: ignore[arg-type]
    elif isinstance(skills, Mapping):
        for name, targets in skills.items():
            params = (ParamShape("target", "string", tuple(targets)),) if targets else ()
            out[str(name)] = SkillShape(str(name), "", params)
    else:
        for s in skills:
            params = tuple(ParamShape(p.name, getattr(p, "type", "string"), tuple(getattr(p, "choices", ()) or ()),
                                      bool(getattr(p, "required", True)), getattr(p, "description", "") or "")
                           for p in getattr(s, "params", ()))
            for p in params:
                if p.type not in _TYPES:
                    raise ValueError(f"skill {s.name!r}: parameter {p.name!r} has type {p.type!r}; valid: {_TYPES}")
            out[s.name] = SkillShape(s.name, getattr(s, "description", "") or "", params)
    if not out:
        raise ValueError("skills must name at least one skill")
    return out


class InvalidAnswer(ValueError):
    """The answer is not a valid plan; ``kind`` says why: json, schema, skill, target, param, empty."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class SkillCall:
    """One step of an LLM plan: a skill, its target (None for skills without one) and other arguments."""

    skill: str
    target: str | None = None
    args: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.args).get(name, default)

    def __str__(self) -> str:
        s = self.skill if self.target is None else f"{self.skill} {self.target}"
        return s + "".join(f" {k}={v}" for k, v in self.args)


def answer_schema(skills: Skills, max_steps: int = 4) -> dict[str, Any]:
    """JSON schema of a valid answer: 1..max_steps skill calls, each a skill with its own parameters."""
    shapes = normalize_skills(skills)
    options = []
    for name in sorted(shapes):
        props: dict[str, Any] = {"skill": {"const": name}}
        for p in shapes[name].params:
            d: dict[str, Any] = {"type": p.type}
            if p.choices:
                d["enum"] = list(p.choices)
            props[p.name] = d
        options.append({"type": "object", "properties": props, "additionalProperties": False,
                        "required": ["skill", *[p.name for p in shapes[name].params if p.required]]})
    return {"type": "object",
            "properties": {"plan": {"type": "array", "items": {"anyOf": options},
                                    "minItems": 1, "maxItems": int(max_steps)}},
            "required": ["plan"], "additionalProperties": False}


def parse_answer(text: str, skills: Skills, max_steps: int = 4) -> list[SkillCall]:
    """Validate ``text`` against the skill-call schema; the calls in order, or ``InvalidAnswer``."""
    shapes = normalize_skills(skills)
    if not isinstance(text, str) or not text.strip():
        raise InvalidAnswer("empty", "the answer is empty")
    body = _strip_fence(text)
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidAnswer("json", f"the answer is not JSON ({exc.msg} at char {exc.pos}): {text[:80]!r}") from None
    if not isinstance(data, dict) or "plan" not in data:
        raise InvalidAnswer("schema", "the answer must be an object with a 'plan' list")
    extra = set(data) - {"plan", "reason"}
    if extra:
        raise InvalidAnswer("schema", f"unexpected key(s) {sorted(extra)} in the answer")
    plan = data["plan"]
    if not isinstance(plan, list):
        raise InvalidAnswer("schema", f"'plan' must be a list, got {type(plan).__name__}")
    if not plan:
        raise InvalidAnswer("empty", "'plan' is empty")
    if len(plan) > max_steps:
        raise InvalidAnswer("schema", f"'plan' has {len(plan)} steps, at most {max_steps} allowed")
    return [_call(i, step, shapes) for i, step in enumerate(plan)]


def _call(i: int, step: Any, shapes: Mapping[str, SkillShape]) -> SkillCall:
    if not isinstance(step, dict) or not isinstance(step.get("skill"), str):
        raise InvalidAnswer("schema", f"plan[{i}] must be an object with a string 'skill'")
    name = step["skill"]
    if name not in shapes:
        raise InvalidAnswer("skill", f"plan[{i}].skill {name!r} is not a skill of this world; valid: {sorted(shapes)}")
    shape = shapes[name]
    declared = {p.name: p for p in shape.params}
    values = {k: v for k, v in step.items() if k != "skill"}
    if "target" not in declared and values.get("target", None) in (None, ""):
        values.pop("target", None)  # a null target on a skill without one is harmless
    for k in values:
        if k not in declared:
            kind = "target" if k == "target" else "schema"
            raise InvalidAnswer(kind, f"plan[{i}]: skill {name!r} takes no parameter {k!r}; "
                                      f"valid: {sorted(declared) or 'none'}")
    target, args = None, []
    for p in shape.params:
        if p.name not in values or values[p.name] is None:
            if p.required:
                raise InvalidAnswer("schema", f"plan[{i}]: skill {name!r} needs {p.name!r}")
            continue
        v = values[p.name]
        if not _type_ok(v, p.type):
            raise InvalidAnswer("param", f"plan[{i}].{p.name} must be {p.type}, got {v!r}")
        if p.choices and v not in p.choices:
            kind = "target" if p.name == "target" else "param"
            shown = sorted(map(str, p.choices))[:30]
            raise InvalidAnswer(kind, f"plan[{i}].{p.name} {v!r} is not allowed for skill {name!r}; valid: {shown}")
        if p.name == "target":
            target = v
        else:
            args.append((p.name, v))
    return SkillCall(name, target, tuple(args))


def _type_ok(v: Any, t: str) -> bool:
    if t == "string":
        return isinstance(v, str)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, bool)


def _is_shapes(skills: Any) -> bool:
    return isinstance(skills, Mapping) and bool(skills) and all(isinstance(v, SkillShape) for v in skills.values())


def _strip_fence(text: str) -> str:
    """Models without a grammar often wrap JSON in a Markdown code fence: take what is inside."""
    s = text.strip()
    if s.startswith("```"):
        s = s.split("\n", 1)[1] if "\n" in s else s[3:]
        if s.rstrip().endswith("```"):
            s = s.rstrip()[:-3]
    return s.strip()
