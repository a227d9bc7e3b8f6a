"""The prompt: the task, what memory recalls (``mem.retrieve()``), the agent's state and the skills.

``render_recall`` turns a ``Recall`` into short plain-text sections — spatial beliefs (where each
thing is believed to be, last seen when), temporal facts (first/last seen, how long ago, and the
order in which things were first seen), episodic chunks (what happened where, recalled by
similarity) and semantic facts (how the world works) — so any chat model can read it. Times are
in the world's unit (steps in grid worlds, seconds on robots); ``now`` is the current time in it.
``frame_part`` turns an RGB frame into an image content part (PNG data URL) for VLM servers.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Mapping
from typing import Any

from .answer import Skills, normalize_skills

__all__ = ["SYSTEM_PROMPT", "render_recall", "render_skills", "build_messages", "frame_part", "encode_png"]

SYSTEM_PROMPT = (
    "You are the planner of an embodied agent. Read the task, the agent's state and what its memory "
    "recalls, then choose the next steps. Use only the listed skills and parameter values. Answer with JSON "
    'only: {"plan": [{"skill": "<skill>", "target": "<target>"}, ...]}'
)


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


def render_recall(recall: Any, now: float | None = None, max_items: int = 6) -> str:
    """Plain-text sections of a ``Recall`` (empty sections are left out; at most ``max_items`` each)."""
    out: list[str] = []
    spatial = getattr(recall, "spatial", None) or {}
    lines = []
    for label, locs in spatial.items():
        for loc in list(locs)[:2]:
            x, y, z = loc.position
            where = f" in {loc.region}" if getattr(loc, "region", None) else ""
            ago = f", {now - loc.last_seen:g} ago" if now is not None else ""
            lines.append(f"- {label} at ({x:g}, {y:g}, {z:g}){where}, last seen t={loc.last_seen:g}{ago}")
        if not locs:
            lines.append(f"- {label}: no current belief (never seen, or gone)")
    if lines:
        out.append("Where things are (spatial memory):\n" + "\n".join(lines[:max_items]))
    temporal = getattr(recall, "temporal", None) or {}
    lines = []
    seen = []
    for label, d in temporal.items():
        first, last = d.get("first_seen"), d.get("last_seen")
        if last is None:
            lines.append(f"- {label}: never seen")
            continue
        seen.append((first if first is not None else last, label))
        ago = f" ({now - last:g} ago)" if now is not None else ""
        lines.append(f"- {label}: first seen t={_num(first)}, last seen t={_num(last)}{ago}, "
                     f"{d.get('count', 0)} sighting(s)")
    if len(seen) > 1:
        lines.append("- first seen in this order: " + ", ".join(label for _, label in sorted(seen)))
    if lines:
        out.append("When things were seen (temporal memory):\n" + "\n".join(lines[:max_items + 1]))
    episodic = list(getattr(recall, "episodic", None) or [])[:max(0, max_items // 2)]
    lines = []
    for c in episodic:
        place = f" at {c.place}" if c.place else ""
        items = "; ".join(f"t={it.t:g} {_clip(it.text, 80)}" for it in list(c.items)[:3])
        lines.append(f"- t={c.t0:g}..{c.t1:g}{place}: {items}")
    if lines:
        out.append("Related past moments (episodic memory):\n" + "\n".join(lines))
    semantic = list(getattr(recall, "semantic", None) or [])[:max_items]
    if semantic:
        out.append("Known facts (semantic memory):\n" + "\n".join(
            f"- {f.subject} {f.relation} {f.object} (confidence {f.confidence:.2f})" for f in semantic))
    return "\n\n".join(out) if out else "Memory recalls nothing relevant."


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def render_skills(skills: Skills) -> str:
    """One line per skill: its name, what it does and its parameters with their allowed values."""
    shapes = normalize_skills(skills)
    lines = []
    for name in sorted(shapes):
        sh = shapes[name]
        doc = f": {sh.description}" if sh.description else ""
        params = []
        for p in sh.params:
            allowed = f" one of {', '.join(map(str, p.choices))}" if p.choices else f" ({p.type})"
            params.append(f"{p.name}{'' if p.required else ' (optional)'}:{allowed}")
        lines.append(f"- {name}{doc}" + (f"; {'; '.join(params)}" if params else "; no parameters"))
    return "Skills:\n" + "\n".join(lines)


def build_messages(task: str, recall: Any, skills: Skills, *, state: Mapping[str, Any] | None = None,
                   now: float | None = None, frame: Any = None, max_items: int = 6, system: str = "") -> list[dict[str, Any]]:
    """Chat messages for one planning decision: the system message holds what never changes (the
    instructions and the skills), so servers that reuse a cached prompt prefix (llama.cpp does)
    only read the user message anew; the user message holds the task, the state and the recall.
    ``frame`` (H×W×3 uint8) adds an image content part."""
    parts = [f"Task: {task}"]
    if state:
        parts.append("State: " + ", ".join(f"{k}={_fmt_state(v)}" for k, v in state.items()))
    parts.append(render_recall(recall, now=now, max_items=max_items) if recall is not None
                 else "Memory recalls nothing relevant.")
    parts.append("Answer with the JSON plan now.")
    text = "\n\n".join(parts)
    user: Any = text
    if frame is not None:
        user = [{"type": "text", "text": text}, frame_part(frame)]
    return [{"role": "system", "content": (system or SYSTEM_PROMPT) + "\n\n" + render_skills(skills)},
            {"role": "user", "content": user}]


def _fmt_state(v: Any) -> str:
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}: {_fmt_state(x)}" for k, x in v.items() if x) + "}"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_fmt_state(x) for x in v) + ")"
    return _num(v)


def frame_part(frame: Any) -> dict[str, Any]:
    """An OpenAI ``image_url`` content part holding ``frame`` (H×W×3 or H×W uint8) as a PNG data URL."""
    png = encode_png(frame)
    return {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}}


def encode_png(frame: Any) -> bytes:
    """Lossless PNG of an H×W×3 (RGB) or H×W (grey) uint8 array; ``ValueError`` for other shapes."""
    import numpy as np

    a = np.asarray(frame)
    if a.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {a.dtype}")
    if a.ndim == 2:
        colour = 0
    elif a.ndim == 3 and a.shape[2] == 3:
        colour = 2
    else:
        raise ValueError(f"frame must be H×W×3 or H×W, got shape {a.shape}")
    h, w = a.shape[:2]
    rows = np.ascontiguousarray(a).reshape(h, -1)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
