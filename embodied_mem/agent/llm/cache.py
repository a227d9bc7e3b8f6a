"""Decision cache: the model's raw answers keyed by a hash of the exact request.

A rerun of the same run (same seeds, same memory, same config) sends the same prompts, so the
cache returns the same answers and the run is reproducible even with a sampling server. Entries
live in one append-only JSON-lines file (``<run dir>/llm_decisions.jsonl``): one line per new
answer, flushed at once, so a crash loses at most the line being written (a torn last line is
skipped on load). Failures (timeouts, refusals, transport errors) are not cached: they are not
answers, and a rerun asks again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["DecisionCache", "request_key"]


def request_key(body: dict[str, Any]) -> str:
    """SHA-256 of the request body (model, messages incl. images, schema, temperature, max_tokens)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class DecisionCache:
    """In-memory dict of ``key -> answer record``, mirrored to ``path`` when one is given."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, dict[str, Any]] = {}
        self.hits = 0
        if self.path is not None and self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                    self.entries[rec["key"]] = rec
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line after a crash

    def get(self, key: str) -> dict[str, Any] | None:
        rec = self.entries.get(key)
        if rec is not None:
            self.hits += 1
        return rec

    def put(self, key: str, record: dict[str, Any]) -> None:
        rec = {"key": key, **record}
        self.entries[key] = rec
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as fh:
                fh.write(json.dumps(rec, separators=(",", ":"), default=str) + "\n")

    def __len__(self) -> int:
        return len(self.entries)
