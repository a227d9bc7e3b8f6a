"""One LLM planning decision, end to end: prompt -> request -> (cache) -> validation -> skill calls.

``LLMDecider.decide`` never raises for a bad model or server: it returns a ``Decision`` whose
``calls`` is None and whose ``fallback`` says why (``timeout``, ``refusal``, ``error``, or the
``InvalidAnswer`` kind: ``json``, ``schema``, ``skill``, ``target``, ``empty``, ``length``), so
the planner can fall back to the symbolic one and the run goes on. Every decision is kept in
``records`` (latency in seconds, tokens, cached or not, fallback reason) and summarised by
``summary()`` for metrics.json.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .answer import InvalidAnswer, SkillCall, Skills, answer_schema, normalize_skills, parse_answer
from .cache import DecisionCache, request_key
from .client import ChatClient, LLMError
from .config import LLMConfig
from .prompt import build_messages

__all__ = ["Decision", "LLMDecider", "percentile"]

CACHE_FILE = "llm_decisions.jsonl"


@dataclass
class Decision:
    """The outcome of one decision. ``calls`` is None when it fell back (``fallback`` says why)."""

    t: float | None
    calls: list[SkillCall] | None
    fallback: str | None = None
    error: str | None = None
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    answer: str = ""

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        d["calls"] = [str(c) for c in self.calls] if self.calls is not None else None
        d["answer"] = self.answer[:300]
        return d


class LLMDecider:
    """Asks an OpenAI-compatible endpoint for the next skill calls of a world with ``skills``.

    ``cache_dir``: where ``llm_decisions.jsonl`` lives (the run directory); None keeps the cache in
    RAM only (``config.cache`` False disables it).
    """

    def __init__(self, config: LLMConfig, skills: Skills, *, cache_dir: str | Path | None = None,
                 client: ChatClient | None = None) -> None:
        self.config = config
        self.skills = normalize_skills(skills)
        self.schema = answer_schema(self.skills, config.max_subgoals)
        self.client = client or ChatClient(config)
        self.cache: DecisionCache | None = None
        if config.cache:
            self.cache = DecisionCache(Path(cache_dir) / CACHE_FILE if cache_dir is not None else None)
        self.records: list[dict[str, Any]] = []

    def messages(self, task: str, recall: Any, *, state: Mapping[str, Any] | None = None, now: float | None = None,
                 frame: Any = None) -> list[dict[str, Any]]:
        cfg = self.config
        return build_messages(task, recall, self.skills, state=state, now=now,
                              frame=frame if cfg.images else None, max_items=cfg.max_items,
                              system=cfg.system_prompt)

    def decide(self, task: str, recall: Any, *, state: Mapping[str, Any] | None = None, now: float | None = None,
               frame: Any = None) -> Decision:
        """Ask for a plan; a ``Decision`` with calls, or with ``fallback`` set (never raises for the model)."""
        msgs = self.messages(task, recall, state=state, now=now, frame=frame)
        schema = self.schema if self.config.response_format != "none" else None
        body = self.client.request_body(msgs, schema)
        key = request_key(body)
        rec = self.cache.get(key) if self.cache is not None else None
        d = Decision(t=now, calls=None)
        if rec is not None:
            d.cached = True
            d.answer, finish = rec.get("content", ""), rec.get("finish_reason")
            d.prompt_tokens, d.completion_tokens = int(rec.get("prompt_tokens", 0)), int(rec.get("completion_tokens", 0))
        else:
            try:
                reply = self.client.send(body)
            except LLMError as exc:
                d.fallback, d.error = exc.reason, str(exc)
                self.records.append(d.record())
                return d
            d.answer, finish = reply.content, reply.finish_reason
            d.latency_s = reply.latency_s
            d.prompt_tokens, d.completion_tokens = reply.prompt_tokens, reply.completion_tokens
            if self.cache is not None:
                self.cache.put(key, {"content": reply.content, "finish_reason": finish,
                                     "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                                     "model": self.config.model})
        try:
            d.calls = parse_answer(d.answer, self.skills, self.config.max_subgoals)
        except InvalidAnswer as exc:
            # an answer cut at max_tokens is reported as such: raising max_tokens is the fix
            d.fallback = "length" if finish == "length" else exc.kind
            d.error = str(exc)
        self.records.append(d.record())
        return d

    def summary(self) -> dict[str, Any]:
        """Counts and rates over all decisions so far (latency in ms over uncached ones)."""
        return summarize(self.records)


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    fallbacks: dict[str, int] = {}
    for r in records:
        if r["fallback"]:
            fallbacks[r["fallback"]] = fallbacks.get(r["fallback"], 0) + 1
    n_fb = sum(fallbacks.values())
    invalid = sum(v for k, v in fallbacks.items() if k not in ("timeout", "refusal", "error"))
    lat = sorted(1e3 * r["latency_s"] for r in records if not r["cached"] and r["fallback"] not in ("timeout", "error"))
    return {"decisions": n, "fallbacks": n_fb, "fallback_rate": n_fb / n if n else None,
            "invalid": invalid, "invalid_rate": invalid / n if n else None, "fallback_reasons": fallbacks,
            "cached": sum(1 for r in records if r["cached"]),
            "latency_ms_p50": percentile(lat, 50), "latency_ms_p99": percentile(lat, 99),
            "latencies_ms": [round(x, 2) for x in lat],
            "prompt_tokens": sum(r["prompt_tokens"] for r in records),
            "completion_tokens": sum(r["completion_tokens"] for r in records)}


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile ``q`` (0-100) of an ascending list; None when empty."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)
