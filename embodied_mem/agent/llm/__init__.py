"""LLM/VLM planner backend over any OpenAI-compatible chat-completions endpoint.

The prompt is built from ``mem.retrieve()`` and the world's skills; the answer is constrained to a
JSON schema of skill calls and validated; an invalid answer, a timeout or a refusal falls back to
the symbolic planner. Names are imported lazily (``agent.config`` imports ``LLMConfig`` without
pulling in the HTTP client).
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "LLMConfig": "config", "ChatClient": "client", "ChatReply": "client", "LLMError": "client",
    "LLMTimeout": "client", "LLMRefusal": "client", "SkillCall": "answer", "InvalidAnswer": "answer",
    "answer_schema": "answer", "parse_answer": "answer", "DecisionCache": "cache", "request_key": "cache",
    "Decision": "decide", "LLMDecider": "decide", "build_messages": "prompt", "render_recall": "prompt",
    "LLMPlanner": "planner", "make_llm_planner": "planner", "start_llama_server": "server",
    "find_test_model": "server",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    try:
        module = _NAMES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return __all__
