"""What a run says when it ends: episodes, how each ended, the score with its n (and a caveat when n
is small), and where the files are. Plain text for the terminal; the numbers are also in metrics.json.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["run_summary", "qa_summary", "describe_end", "SMALL_N"]

SMALL_N = 10  # below this many episodes (or questions per answerer), a score is flagged as noisy

_DEFAULT_ENDS = {"terminated": "the episode ended (terminated)", "truncated": "the env's time limit (truncated)",
                 "step_limit": "the run's step limit (steps={steps})"}


def describe_end(ended: str, end_reasons: Mapping[str, str] | None, steps: int) -> str:
    """Words for how an episode ended: the env's own (``env.end_reasons``), else generic ones."""
    text = (end_reasons or {}).get(ended) or _DEFAULT_ENDS.get(ended, ended)
    return text.format(steps=steps)


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f} %"


def _episodes_word(n: int) -> str:
    return f"{n} episode" + ("" if n == 1 else "s")


def run_summary(metrics: Mapping[str, Any], run_dir: Path, *, steps: int,
                end_reasons: Mapping[str, str] | None = None) -> str:
    """The end-of-run text of ``embodied-mem run`` (one job of a sweep included)."""
    eps: Sequence[Mapping[str, Any]] = metrics.get("episodes") or []
    n = len(eps)
    lines = [f"run finished: {_episodes_word(n)} of {metrics.get('env')} with agent {metrics.get('agent')} "
             f"(ablation {metrics.get('ablation')}, seed {metrics.get('seed')})"]
    if n <= 10:
        for e in eps:
            extra = ""
            if "success" in e:
                extra = ", success" if e["success"] else ", no success"
            lines.append(f"  episode {e['episode'] + 1} (seed {e['seed']}): {e['length']} steps, ended: "
                         f"{describe_end(e.get('ended', '?'), end_reasons, steps)}; reward {e['reward']:.1f}{extra}")
    else:
        counts = Counter(describe_end(e.get("ended", "?"), end_reasons, steps) for e in eps)
        mean_len = sum(e["length"] for e in eps) / n
        lines.append(f"  {n} episodes, mean length {mean_len:.0f} steps; ended: "
                     + ", ".join(f"{k} x{v}" for k, v in counts.most_common()))
    caveat = ""
    if 0 < n < SMALL_N:
        caveat = (f"  (n = {n}: a few episodes are noisy, one achievement or success more or less moves the score "
                  "by several points; the README's figures are over far more episodes)")
    if metrics.get("crafter_score") is not None:
        lines.append(f"  Crafter score: {metrics['crafter_score']:.2f} % over {_episodes_word(n)}, mean "
                     f"{metrics.get('mean_achievements', 0):.1f} achievements per episode")
    if metrics.get("success_rate") is not None:
        se = metrics.get("success_rate_se")
        lines.append(f"  success rate: {_pct(metrics['success_rate'])}"
                     + (f" ± {_pct(se)} s.e." if se else "") + f" over {_episodes_word(n)}")
    if metrics.get("spl") is not None:
        se = metrics.get("spl_se")
        lines.append(f"  SPL: {metrics['spl']:.2f}" + (f" ± {se:.2f} s.e." if se else ""))
    if metrics.get("mean_steps") is not None and "crafter_score" not in metrics:
        lines.append(f"  mean steps per episode: {metrics['mean_steps']:.1f}")
    if caveat and len(lines) > 1 + min(n, 10):
        lines.append(caveat)
    files = sorted(p.name for p in Path(run_dir).iterdir() if p.is_file()) if Path(run_dir).is_dir() else []
    lines.append(f"files in {run_dir}: {', '.join(files) or 'none'}")
    return "\n".join(lines)


def qa_summary(result: Mapping[str, Any], out: Path) -> str:
    """The end-of-run text of ``embodied-mem bench qa``: accuracy (n) and p99 latency per answerer."""
    per: dict[str, list[int]] = {}
    for row in result.get("aggregates") or []:
        c = per.setdefault(row["answerer"], [0, 0])
        c[0] += round(row["accuracy"] * row["n"])
        c[1] += int(row["n"])
    p99: dict[str, float] = {}
    for row in result.get("latency") or []:
        p99[row["answerer"]] = max(p99.get(row["answerer"], 0.0), float(row["p99_ms"]))
    lines = [f"bench qa: {result.get('questions', 0)} questions in {result.get('wall_s', 0):.0f} s",
             f"  {'answerer':<16} {'correct':>18}  {'p99 latency (worst world)':>26}"]
    for name, (ok, n) in sorted(per.items(), key=lambda kv: -kv[1][0] / max(1, kv[1][1])):
        lines.append(f"  {name:<16} {f'{100 * ok / n:.1f} % ({ok}/{n})':>18}  {p99.get(name, float('nan')):>23.3f} ms")
    group_n = [int(row["n"]) for row in result.get("aggregates") or []]
    if group_n and min(group_n) < SMALL_N:
        lines.append(f"  (as few as {min(group_n)} questions per question type and world: one question moves that "
                     f"type's accuracy by {100 / min(group_n):.0f} points; per-type tables in qa.md)")
    files = sorted(p.name for p in Path(out).iterdir() if p.is_file()) if Path(out).is_dir() else []
    lines.append(f"files in {out}: {', '.join(files)}")
    return "\n".join(lines)
