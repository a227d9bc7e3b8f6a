"""LLM/VLM planner backend over any OpenAI-compatible chat-completions endpoint.

The prompt is built from ``mem.retrieve()`` and the world's skills; the answer is constrained to a
JSON schema of skill calls and validated; an invalid answer, a timeout or a refusal falls back to
the symbolic planner. See ``embodied_mem/agent/llm/README.md``.
"""

from .answer import InvalidAnswer, SkillCall, answer_schema, parse_answer
from .cache import DecisionCache, request_key
from .client import ChatClient, ChatReply, LLMError, LLMRefusal, LLMTimeout
from .config import LLMConfig
from .decide import Decision, LLMDecider
from .prompt import build_messages, render_recall

__all__ = ["LLMConfig", "ChatClient", "ChatReply", "LLMError", "LLMTimeout", "LLMRefusal", "SkillCall",
           "InvalidAnswer", "answer_schema", "parse_answer", "DecisionCache", "request_key", "Decision",
           "LLMDecider", "build_messages", "render_recall"]
