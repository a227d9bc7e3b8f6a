"""A minimal OpenAI-compatible chat-completions client (stdlib only: urllib).

Works with any server that speaks ``POST {base_url}/chat/completions``: OpenAI, vLLM, llama.cpp
(``llama-cpp-python[server]`` or ``llama-server``), Ollama's ``/v1``, LM Studio. Failures are
raised as ``LLMError`` subclasses so the caller can fall back: ``LLMTimeout`` (no answer within
``timeout_s`` seconds), ``LLMRefusal`` (the model refused or a content filter stopped it) and
``LLMError`` (HTTP error, unreachable server, malformed reply).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .config import LLMConfig

__all__ = ["ChatClient", "ChatReply", "LLMError", "LLMTimeout", "LLMRefusal"]


class LLMError(RuntimeError):
    """The endpoint gave no usable reply (unreachable, HTTP error, malformed body)."""

    reason = "error"


class LLMTimeout(LLMError):
    """No reply within the configured ``timeout_s``."""

    reason = "timeout"


class LLMRefusal(LLMError):
    """The model refused (``message.refusal``) or a content filter cut the answer."""

    reason = "refusal"


@dataclass
class ChatReply:
    """One completion: its text, why it stopped, token counts and wall-clock latency (seconds)."""

    content: str
    finish_reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class ChatClient:
    """Sends chat requests to ``config.base_url``; one request per ``complete`` call, no retries."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self.url = config.base_url.rstrip("/") + "/chat/completions"

    def api_key(self) -> str | None:
        name = self.config.api_key_env
        return os.environ.get(name) or None if name else None

    def request_body(self, messages: list[dict[str, Any]], schema: dict[str, Any] | None) -> dict[str, Any]:
        """The JSON body sent for ``messages`` (and the answer's JSON schema, when constrained)."""
        cfg = self.config
        body: dict[str, Any] = {"model": cfg.model, "messages": messages, "max_tokens": cfg.max_tokens,
                                "temperature": cfg.temperature, "stream": False}
        if schema is not None and cfg.response_format == "json_schema":
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "plan", "schema": schema, "strict": True}}
        elif schema is not None and cfg.response_format == "json_object":
            body["response_format"] = {"type": "json_object", "schema": schema}
        return body

    def complete(self, messages: list[dict[str, Any]], schema: dict[str, Any] | None = None) -> ChatReply:
        """One chat completion. Raises ``LLMTimeout``, ``LLMRefusal`` or ``LLMError``; never retries."""
        return self.send(self.request_body(messages, schema))

    def send(self, body: dict[str, Any]) -> ChatReply:
        headers = {"Content-Type": "application/json"}
        key = self.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=self.config.timeout_s) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise LLMError(f"{self.url} answered HTTP {exc.code}: {detail}") from None
        except TimeoutError as exc:
            raise LLMTimeout(f"no answer from {self.url} within {self.config.timeout_s:g} s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise LLMTimeout(f"no answer from {self.url} within {self.config.timeout_s:g} s") from exc
            raise LLMError(f"cannot reach {self.url}: {exc.reason}") from exc
        except OSError as exc:  # connection reset mid-answer and the like
            raise LLMError(f"connection to {self.url} failed: {exc}") from exc
        latency = time.perf_counter() - t0
        return parse_reply(payload, latency, self.url)


def parse_reply(payload: bytes | str, latency_s: float, url: str = "endpoint") -> ChatReply:
    """Turn a chat-completions response body into a ``ChatReply`` (``LLMError``/``LLMRefusal`` if unusable)."""
    try:
        data = json.loads(payload)
        choice = data["choices"][0]
        message = choice.get("message") or {}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        text = payload[:200] if isinstance(payload, str) else payload[:200].decode("utf-8", "replace")
        raise LLMError(f"{url} sent a reply that is not a chat completion: {text!r}") from None
    finish = choice.get("finish_reason")
    if message.get("refusal"):
        raise LLMRefusal(f"the model refused: {str(message['refusal'])[:200]}")
    if finish == "content_filter":
        raise LLMRefusal("the answer was stopped by a content filter")
    usage = data.get("usage") or {}
    content = message.get("content")
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ChatReply(content=content or "", finish_reason=finish,
                     prompt_tokens=int(usage.get("prompt_tokens") or 0),
                     completion_tokens=int(usage.get("completion_tokens") or 0),
                     latency_s=latency_s, raw=data)
