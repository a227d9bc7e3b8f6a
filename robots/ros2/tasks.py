"""The task protocol of ``/memory/task`` (std_msgs/String carrying JSON) and its replies on
``/memory/task_status``.

A request is a JSON object::

    {"id": 7, "task": "find", "label": "mug"}         # search until seen, then go next to it
    {"id": 8, "task": "goto", "label": "mug"}         # go next to where it was last seen
    {"id": 9, "task": "patrol"}                       # visit places checked longest ago, report changes
    {"id": 10, "task": "cancel"}                      # stop the running task (the robot stops)
    {"task": "find mug", "timeout": 120}              # the label may follow the verb; timeout in s

``id`` (optional; a string or number) is echoed in every status of that task. ``timeout``
(optional, seconds > 0) overrides ``agent.robot.task_timeout``. A new task replaces a running one
(whose last status says ``preempted``). ``TASK_SCHEMA`` is the JSON schema of a request;
``parse_task`` raises ``TaskError`` (a ``ValueError``) naming the problem, and the bridge answers
with ``{"state": "error", "error": ...}`` and keeps running.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RobotTask", "TaskError", "parse_task", "TASK_SCHEMA", "TASK_KINDS", "STATUS_STATES"]

TASK_KINDS = ("find", "goto", "patrol", "cancel")
STATUS_STATES = ("accepted", "running", "succeeded", "failed", "cancelled", "preempted", "error")
MAX_LABEL = 200

TASK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "embodied_mem robot task (/memory/task)",
    "type": "object",
    "properties": {
        "id": {"type": ["string", "integer", "number", "null"], "description": "echoed in every status"},
        "task": {"type": "string", "description": "find | goto | patrol | cancel, optionally followed by the label"},
        "label": {"type": "string", "minLength": 1, "maxLength": MAX_LABEL,
                  "description": "the object's label (find, goto)"},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "description": "seconds"},
    },
    "required": ["task"],
    "additionalProperties": False,
}


class TaskError(ValueError):
    """A task request that cannot be run; the message names the field."""


@dataclass(frozen=True)
class RobotTask:
    kind: str  # find | goto | patrol | cancel
    label: str | None = None
    id: Any = None
    timeout: float | None = None

    @property
    def goal(self) -> str:
        """The loop's goal text: ``find mug``, ``goto mug``, ``patrol``."""
        return f"{self.kind} {self.label}" if self.label else self.kind

    def __str__(self) -> str:
        return self.goal


def _plain_id(v: Any) -> Any:
    if v is None or isinstance(v, str) and len(v) <= 256:
        return v
    if isinstance(v, bool):
        raise TaskError(f"'id' must be a string or a number, got {v!r}")
    if isinstance(v, int) or (isinstance(v, float) and math.isfinite(v)):
        return v
    raise TaskError(f"'id' must be a string (at most 256 characters) or a finite number, got {v!r}")


def parse_task(request: str | bytes | Mapping[str, Any]) -> RobotTask:
    """A request (JSON text or mapping) -> ``RobotTask``; ``TaskError`` naming the problem otherwise."""
    if isinstance(request, (str, bytes)):
        try:
            request = json.loads(request)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TaskError(f"a task must be JSON, e.g. {{\"task\": \"find\", \"label\": \"mug\"}}: {exc}") from None
        except RecursionError:
            raise TaskError("the task is nested too deeply") from None
    if not isinstance(request, Mapping):
        raise TaskError(f"a task must be a JSON object with 'task', got {type(request).__name__}")
    unknown = sorted(set(request) - set(TASK_SCHEMA["properties"]))  # type: ignore[arg-type]
    if unknown:
        raise TaskError(f"unknown field(s) {unknown} in the task; fields: {sorted(TASK_SCHEMA['properties'])}")
    rid = _plain_id(request.get("id"))
    verb = request.get("task")
    if not isinstance(verb, str) or not verb.strip():
        raise TaskError(f"'task' must be one of {list(TASK_KINDS)}, got {verb!r}")
    words = verb.strip().split(maxsplit=1)
    kind = words[0].lower()
    if kind not in TASK_KINDS:
        raise TaskError(f"unknown task {words[0]!r}; tasks: {', '.join(TASK_KINDS)}")
    label = request.get("label")
    if len(words) > 1:
        if label is not None and label != words[1].strip():
            raise TaskError(f"the task names two labels: {words[1]!r} in 'task' and {label!r} in 'label'")
        label = words[1].strip()
    if kind in ("find", "goto"):
        if not isinstance(label, str) or not label.strip():
            raise TaskError(f"task '{kind}' needs a 'label' (a non-empty string), got {label!r}")
        if len(label) > MAX_LABEL:
            raise TaskError(f"'label' is longer than {MAX_LABEL} characters")
        label = label.strip()
    elif label is not None:
        raise TaskError(f"task '{kind}' takes no label, got {label!r}")
    timeout = request.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not math.isfinite(timeout) or timeout <= 0):
        raise TaskError(f"'timeout' must be a number of seconds > 0, got {timeout!r}")
    return RobotTask(kind, label, rid, None if timeout is None else float(timeout))
