"""``embodied-mem bench SUITE [overrides...]``: run a benchmark suite (Hydra).

Suites: ``qa`` — the memory question-answering benchmark (config ``configs/bench_qa.yaml``), e.g.
``embodied-mem bench qa lengths=[1000,10000] per_type=5`` or ``embodied-mem bench qa quick=true``.
Outputs go to the Hydra run directory (``runs/bench_qa/<date>/<time>`` by default): ``qa.md``,
``qa.csv``, ``qa.json``, ``questions.json``, ``answers.jsonl`` and PNG plots; with
``publish_dir=benchmarks/results`` they are also copied there.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["main", "BenchQAConfig", "register_configs"]

SUITES = {"qa": "memory question answering: spatio-temporal questions with exact ground truth, per answerer"}
QUICK_LENGTHS = [1000, 10000]


@dataclass
class BenchQAConfig:
    """Schema of ``configs/bench_qa.yaml`` (unknown keys and wrong types fail before anything runs)."""

    lengths: list[int] = field(default_factory=lambda: [1000, 10000, 100000])
    quick: bool = False  # lengths [1000, 10000] and at most 5 questions per type: a run of about a minute
    seed: int = 0
    per_type: int = 10
    fifo_k: int = 500
    vector_k: int = 32
    vector_dim: int = 256
    sentence_embedders: list[str] = field(default_factory=lambda: ["minilm", "minilm_static"])
    embed_cache: str | None = None
    embedder_upto: dict[str, int] = field(default_factory=dict)
    embed_threads: int = 1
    footprint: bool = True
    durable: bool = False
    ram_budget_mb: float | None = None
    data_dir: str | None = None
    bags: list[str] = field(default_factory=list)
    progress: bool = True
    plots: bool = True
    publish_dir: str | None = None


def register_configs() -> None:
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="bench_qa_schema", node=BenchQAConfig)


def settings_from_config(cfg: Any) -> dict[str, Any]:
    """The plain settings of ``qa.run_qa`` from the composed config (``quick`` applied)."""
    from omegaconf import OmegaConf

    d = OmegaConf.to_container(cfg, resolve=True)
    d = {k: v for k, v in d.items() if k != "hydra"}
    if d.pop("quick", False):
        d["lengths"] = [n for n in d["lengths"] if n <= max(QUICK_LENGTHS)] or list(QUICK_LENGTHS)
        d["per_type"] = min(int(d["per_type"]), 5)
    if d.get("publish_dir"):
        d["publish_dir"] = str(Path(d["publish_dir"]).expanduser().resolve())
    return d


def _qa_task(cfg: Any) -> None:
    from hydra.core.hydra_config import HydraConfig

    from ..summary import qa_summary
    from .qa import run_qa

    out = Path(HydraConfig.get().runtime.output_dir)
    result = run_qa(settings_from_config(cfg), out)
    print(qa_summary(result, out))


def usage() -> str:
    return "usage: embodied-mem bench SUITE [hydra overrides...]\n\nsuites:\n" + "\n".join(
        f"  {k:<6} {v}" for k, v in SUITES.items())


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``embodied-mem bench``; returns the exit status (2 on a bad suite name)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    suite, rest = argv[0], argv[1:]
    if suite not in SUITES:
        print(f"embodied-mem bench: unknown suite {suite!r}\n\n{usage()}", file=sys.stderr)
        return 2
    from ..config_schema import check_overrides
    from ..hydra_cli import run_app

    register_configs()
    return run_app(_qa_task, "bench_qa", rest, prog="embodied-mem bench qa", about=SUITES["qa"],
                   check=lambda ovs: check_overrides(ovs, schema=BenchQAConfig))
