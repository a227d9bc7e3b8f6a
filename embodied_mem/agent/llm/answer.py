"""The answer contract: a JSON schema of skill calls, and its validation.

The LLM must answer ``{"plan": [{"skill": "collect", "target": "wood"}, ...], "reason": "..."}``
where every skill is one of the world's skills and every target one that skill accepts (a skill
that takes no target gets ``null``). ``answer_schema`` builds the JSON schema sent as
``response_format``; ``parse_answer`` checks the text whatever the server did with that schema (a
server may ignore it, a truncated answer is broken JSON) and raises ``InvalidAnswer`` naming the
first problem found.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SkillCall", "InvalidAnswer", "answer_schema", "parse_answer", "Skills"]

# skill name -> the targets it accepts (an empty tuple: the skill takes no target)
Skills = Mapping[str, Sequence[str]]


class InvalidAnswer(ValueError):
    """The model's answer is not a valid plan; ``kind`` says why (json, schema, skill, target, empty)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class SkillCall:
    """One step of an LLM plan: a skill of the world and its target (None for skills without one)."""

    skill: str
    target: str | None = None

    def __str__(self) -> str:
        return self.skill if self.target is None else f"{self.skill} {self.target}"


def answer_schema(skills: Skills, max_steps: int = 4) -> dict[str, Any]:
    """JSON schema of a valid answer: 1..max_steps skill calls, each (skill, allowed target) pair."""
    if not skills:
        raise ValueError("skills must name at least one skill")
    options = []
    for name in sorted(skills):
        targets = list(skills[name])
        target = {"enum": sorted(targets)} if targets else {"type": "null"}
        options.append({"type": "object",
                        "properties": {"skill": {"const": name}, "target": target},
                        "required": ["skill", "target"], "additionalProperties": False})
    return {"type": "object",
            "properties": {"plan": {"type": "array", "items": {"anyOf": options},
                                    "minItems": 1, "maxItems": int(max_steps)},
                           "reason": {"type": "string", "maxLength": 200}},
            "required": ["plan"], "additionalProperties": False}


def parse_answer(text: str, skills: Skills, max_steps: int = 4) -> list[SkillCall]:
    """Validate ``text`` against the skill-call schema; the calls in order, or ``InvalidAnswer``."""
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
    calls = []
    for i, step in enumerate(plan):
        if not isinstance(step, dict) or not isinstance(step.get("skill"), str):
            raise InvalidAnswer("schema", f"plan[{i}] must be an object with a string 'skill'")
        extra = set(step) - {"skill", "target"}
        if extra:
            raise InvalidAnswer("schema", f"unexpected key(s) {sorted(extra)} in plan[{i}]")
        name, target = step["skill"], step.get("target")
        if name not in skills:
            raise InvalidAnswer("skill", f"plan[{i}].skill {name!r} is not a skill of this world; "
                                         f"valid: {sorted(skills)}")
        allowed = skills[name]
        if not allowed:
            if target not in (None, ""):
                raise InvalidAnswer("target", f"plan[{i}]: skill {name!r} takes no target, got {target!r}")
            target = None
        elif target not in allowed:
            raise InvalidAnswer("target", f"plan[{i}].target {target!r} is not a target of skill {name!r}; "
                                          f"valid: {sorted(allowed)}")
        calls.append(SkillCall(name, target))
    return calls


def _strip_fence(text: str) -> str:
    """Models without a grammar often wrap JSON in a Markdown code fence: take what is inside."""
    s = text.strip()
    if s.startswith("```"):
        s = s.split("\n", 1)[1] if "\n" in s else s[3:]
        if s.rstrip().endswith("```"):
            s = s.rstrip()[:-3]
    return s.strip()
