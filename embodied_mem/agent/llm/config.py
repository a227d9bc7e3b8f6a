"""Typed configuration of the LLM planner backend (``agent.planner.llm`` in Hydra configs).

Units: seconds for ``timeout_s``, tokens for ``max_tokens``. The API key is never stored in a
config: ``api_key_env`` names the environment variable that holds it (an unset variable means no
``Authorization`` header, which local servers such as llama.cpp accept).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LLMConfig", "RESPONSE_FORMATS"]

# How the answer is constrained on the wire: OpenAI's "json_schema" (OpenAI, vLLM, recent llama.cpp),
# "json_object" with a "schema" member (llama-cpp-python's form), or "none" (prompt only).
RESPONSE_FORMATS = ("json_schema", "json_object", "none")


@dataclass
class LLMConfig:
    base_url: str = "http://127.0.0.1:8080/v1"  # an OpenAI-compatible endpoint, up to and including /v1
    model: str = "local"  # the model name sent with each request (local servers often ignore it)
    api_key_env: str = "OPENAI_API_KEY"  # environment variable holding the API key ("" : never send one)
    timeout_s: float = 30.0  # per request; past it the decision falls back to the symbolic planner
    max_tokens: int = 128  # answer length limit; a truncated answer is invalid and falls back
    temperature: float = 0.0  # 0: the same prompt gives the same answer on servers that honour it
    cache: bool = True  # keep every answer in <run dir>/llm_decisions.jsonl keyed by prompt hash; reuse on rerun
    response_format: str = "json_schema"  # one of RESPONSE_FORMATS
    images: bool = True  # attach the world's rendered frame as an image content part (for VLM servers)
    max_subgoals: int = 4  # the schema allows at most this many skill calls per answer
    max_items: int = 6  # at most this many entries per memory section in the prompt
    system_prompt: str = ""  # replaces the built-in system prompt when not empty
    min_interval_steps: int = 25  # steps between LLM decisions (the symbolic planner plans in between); 0: every plan
    suggest: bool = True  # show the symbolic planner's next steps to the model as a suggestion it may override
    cache_dir: str = ""  # where llm_decisions.jsonl lives; "": beside the memory file (the run directory)

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"llm.base_url must be an http(s) URL, got {self.base_url!r}")
        if not isinstance(self.model, str) or not self.model:
            raise ValueError("llm.model must be a non-empty string")
        if not (isinstance(self.timeout_s, (int, float)) and self.timeout_s > 0):
            raise ValueError(f"llm.timeout_s must be > 0 seconds, got {self.timeout_s!r}")
        if not (isinstance(self.max_tokens, int) and self.max_tokens > 0):
            raise ValueError(f"llm.max_tokens must be a positive int, got {self.max_tokens!r}")
        if not (isinstance(self.temperature, (int, float)) and 0.0 <= self.temperature <= 2.0):
            raise ValueError(f"llm.temperature must be in [0, 2], got {self.temperature!r}")
        if self.response_format not in RESPONSE_FORMATS:
            raise ValueError(f"llm.response_format must be one of {RESPONSE_FORMATS}, got {self.response_format!r}")
        if not (isinstance(self.max_subgoals, int) and self.max_subgoals >= 1):
            raise ValueError(f"llm.max_subgoals must be an int >= 1, got {self.max_subgoals!r}")
        if not (isinstance(self.min_interval_steps, int) and self.min_interval_steps >= 0):
            raise ValueError(f"llm.min_interval_steps must be an int >= 0, got {self.min_interval_steps!r}")
        if not (isinstance(self.max_items, int) and self.max_items >= 0):
            raise ValueError(f"llm.max_items must be an int >= 0, got {self.max_items!r}")
