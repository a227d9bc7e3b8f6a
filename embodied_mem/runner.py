"""``embodied-mem run``: closed-loop episodes driven by Hydra, each run in its own directory.

The run directory (Hydra's ``hydra.run.dir``, or one job folder of a sweep) receives:

- ``config.yaml``: the resolved, read-only config of the run;
- ``metrics.json``: ``episodes`` (each: ``length``, ``reward``, plus the env's episode metrics,
  e.g. Crafter ``achievements``, and the agent's ``episode_metrics()``, e.g. ``planner``: the LLM
  backend's decisions, latency p50/p99, tokens and fallbacks), the env's summary (Crafter: ``success_rates``, ``crafter_score``),
  timings (``steps_per_second``, ``agent_ms_per_step``, ``env_ms_per_step``) and ``status``;
- ``episodes.jsonl``: one compact line per step (episode, step, action, reward, subgoal, verdict);
- ``memory.db`` (one per episode when every episode is a new world: ``memory-ep000.db``...), unless
  ``memory.path=PATH`` names one memory that the run opens and continues: then every episode goes into
  it, each new world (``env.world_per_episode``) under its own world id (``<env>:<seed>``) so that
  its map is its own, while semantic facts and episodic memory carry over between episodes and runs;
- PNG plots from the env's ``plot`` hook (Crafter: ``map.png``, ``success_rates.png``).

In a sweep (``-m``), a job that raises is recorded as ``status: failed`` (with the error) in its
``metrics.json`` and the sweep goes on; a single run re-raises.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["main", "run_episodes", "import_string", "refuse_inert_settings"]

logger = logging.getLogger("embodied_mem.runner")  # lands in Hydra's run.log (and on the console)


def import_string(spec: str) -> Any:
    """``"package.module:attr"`` -> the attribute (gymnasium's entry-point style)."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"expected 'package.module:attr', got {spec!r}")
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except AttributeError:
        raise ImportError(f"{module} has no attribute {attr!r} (from {spec!r})") from None


def _plain(cfg: Any) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True) if cfg is not None else None


def run_episodes(cfg: Any, run_dir: Path, *, bars: bool = True) -> dict[str, Any]:
    """Run ``cfg.episodes`` episodes of ``cfg.steps`` steps; write the run directory; return metrics.

    Progress bars (``cfg.progress`` and ``bars``) refresh twice a second whatever a step costs. Each
    episode records how it ended: ``terminated`` (the env ended it), ``truncated`` (the env's time
    limit) or ``step_limit`` (``cfg.steps`` reached).
    """
    from omegaconf import OmegaConf

    from embodied_mem import envs
    from embodied_mem.memory import Memory, MemoryConfig

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    env_cfg = cfg.env
    agent_cfg = _plain(cfg.agent) or {}
    agent_name = agent_cfg.get("name", "robomemory")
    agents = _plain(env_cfg.agents) or {}
    if agent_name not in agents:
        raise ValueError(f"env {env_cfg.id!r} has no agent {agent_name!r}; available: {sorted(agents)}")
    factory = import_string(agents[agent_name])
    mem_cfg = MemoryConfig.from_dict(cfg.memory)
    episode_metrics = import_string(env_cfg.episode_metrics) if env_cfg.episode_metrics else (lambda info: {})

    env = envs.make(env_cfg.id, **(_plain(env_cfg.kwargs) or {}))
    logger.info("env %s (%s), agent %s, ablation %s, seed %s: %s episode(s) of up to %s steps into %s",
             env_cfg.id, type(env).__name__, agent_name, cfg.ablation_name, cfg.seed, cfg.episodes, cfg.steps, run_dir)
    try:
        agent = factory(agent_cfg, env=env, seed=int(cfg.seed))
        uses_memory = bool(getattr(agent, "uses_memory", False))
        try:  # a setting the agent would ignore is the user's mistake: one line, exit 2 (hydra_cli.UsageError)
            refuse_inert_settings(agent, agent_cfg, mem_cfg, env_id=str(env_cfg.id), knowledge=env_cfg.knowledge,
                                  ablation=str(cfg.ablation_name))
            check_ablation = getattr(agent, "check_ablation", None)
            if callable(check_ablation):  # an ablation no decision of this world's agent reads is refused
                check_ablation(str(cfg.ablation_name))
        except ValueError as exc:
            from .hydra_cli import UsageError

            raise UsageError(str(exc)) from None
    except BaseException:
        close = getattr(env, "close", None)
        if close:
            close()
        raise
    episodes: list[dict[str, Any]] = []
    log = open(run_dir / "episodes.jsonl", "w") if cfg.log_steps else None
    memory = None
    t_agent = t_env = 0.0
    n_steps = 0
    carried: list[Any] = []
    try:
        from tqdm import tqdm

        for ep in range(int(cfg.episodes)):
            episode_seed = int(cfg.seed) * 1000 + ep
            if uses_memory and (mem_cfg.path is not None or mem_cfg.url is not None):
                if memory is None:
                    memory = _continue_memory(mem_cfg.url or Path(mem_cfg.path).expanduser(), mem_cfg)
                if env_cfg.world_per_episode:
                    memory.enter_world(_new_world_id(memory, f"{env_cfg.id}:{episode_seed}"))
            elif uses_memory and (memory is None or env_cfg.world_per_episode):
                if memory is not None:
                    carried = _learned_facts(memory) if env_cfg.carry_facts else []
                    memory.close()
                name = "memory.db" if (int(cfg.episodes) == 1 or not env_cfg.world_per_episode) else f"memory-ep{ep:03d}.db"
                memory = Memory.open(run_dir / name, config=mem_cfg, durability="batch")
                logger.info("memory %s (carried facts: %d)", run_dir / name, len(carried))
                if mem_cfg.semantic.enabled and mem_cfg.semantic.prior:
                    memory.load_priors(mem_cfg.semantic.prior)
                for f in carried:
                    memory.semantic.assert_fact(f.subject, f.relation, f.object, confidence=f.confidence,
                                                support=f.support, t=0.0, source="carried")
            if memory is not None:
                memory.new_episode(f"episode-{ep}")
            agent.reset(memory if uses_memory else None, seed=episode_seed)
            obs, info = env.reset(seed=episode_seed)
            total_reward, length, ended = 0.0, 0, "step_limit"
            logger.info("episode %d/%d: seed %d", ep + 1, cfg.episodes, episode_seed)
            bar = tqdm(total=int(cfg.steps), desc=f"episode {ep + 1}/{cfg.episodes} [{agent_name}]", unit="step",
                       disable=not (cfg.progress and bars), dynamic_ncols=True, mininterval=0.5)
            shown = time.perf_counter()
            for step in range(int(cfg.steps)):
                t0 = time.perf_counter()
                action = agent.act(obs, info)
                t1 = time.perf_counter()
                obs, reward, terminated, truncated, info = env.step(action)
                t2 = time.perf_counter()
                t_agent += t1 - t0
                t_env += t2 - t1
                n_steps += 1
                total_reward += float(reward)
                length = step + 1
                if log is not None:
                    rec = {"ep": ep, "step": step, "action": _jsonable(action), "reward": round(float(reward), 4)}
                    rec.update(agent.record())
                    log.write(json.dumps(rec, separators=(",", ":"), default=str) + "\n")
                if memory is not None and cfg.flush_every and length % int(cfg.flush_every) == 0:
                    memory.flush()
                if t2 - shown >= 0.5 or terminated or truncated:  # by time: a slow world's bar moves too
                    shown = t2
                    bar.update(length - bar.n)
                    unlocked = info.get("achievements")
                    if isinstance(unlocked, dict):
                        bar.set_postfix(achievements=sum(1 for v in unlocked.values() if v), reward=f"{total_reward:.1f}")
                if terminated or truncated:
                    ended = "terminated" if terminated else "truncated"
                    break
            bar.update(length - bar.n)
            bar.close()
            if memory is not None:
                memory.flush()
                logger.info("memory after episode %d: %s", ep + 1, {k: v for k, v in memory.stats().items()
                                                                    if isinstance(v, (int, float))})
            report = getattr(agent, "episode_metrics", None)  # e.g. {"planner": LLM decisions, latency, fallbacks}
            episodes.append({"episode": ep, "seed": episode_seed, "length": length, "reward": total_reward,
                             "ended": ended, **episode_metrics(info), **(report() if callable(report) else {})})
            logger.info("episode %d/%d ended after %d steps (%s), reward %.2f", ep + 1, cfg.episodes, length, ended,
                        total_reward)
            if log is not None:
                log.flush()
    finally:
        if log is not None:
            log.close()
        close = getattr(env, "close", None)
        if close:
            close()
    metrics: dict[str, Any] = {
        "status": "ok",
        "env": env_cfg.id,
        "agent": agent_name,
        "ablation": cfg.ablation_name,
        "seed": int(cfg.seed),
        "episodes": episodes,
        "timing": {
            "steps": n_steps,
            "agent_ms_per_step": 1e3 * t_agent / max(1, n_steps),
            "env_ms_per_step": 1e3 * t_env / max(1, n_steps),
            "agent_overhead_ratio": t_agent / t_env if t_env else None,
            "steps_per_second": n_steps / (t_agent + t_env) if (t_agent + t_env) else None,
        },
    }
    if env_cfg.summarize:
        metrics.update(import_string(env_cfg.summarize)(episodes))
    if memory is not None:
        where = memory.path.name if isinstance(memory.path, Path) else str(memory.path)  # a file, or fleet URL#robot
        metrics["memory"] = {"path": where, **{k: v for k, v in memory.stats().items()
                                                               if isinstance(v, (int, float))}}
    _write_json(run_dir / "metrics.json", metrics)
    if cfg.plots and env_cfg.plot:
        try:
            paths = list(import_string(env_cfg.plot)(run_dir, memory, episodes, metrics) or [])
            paths += agent.artefacts(run_dir, memory)  # what the agent draws of its own state
            metrics["plots"] = [str(Path(p).name) for p in paths]
        except Exception as exc:  # a broken plot must not lose the metrics
            metrics["plots_error"] = f"{type(exc).__name__}: {exc}"
        _write_json(run_dir / "metrics.json", metrics)
    if memory is not None:
        memory.close()
    return metrics


def _continue_memory(path: Path | str, mem_cfg: Any) -> Any:
    """Open (or create) the memory at ``path`` (a file, or a fleet memory URL: ``memory.url``, written as
    ``memory.robot``, default host-pid, so that sweep workers share one server) to continue it; the prior
    is loaded once per memory."""
    from embodied_mem.memory import Memory
    from embodied_mem.stores import default_robot_name

    fleet = {"robot": mem_cfg.robot or default_robot_name(), "fleet": mem_cfg.fleet} if isinstance(path, str) else {}
    memory = Memory.open(path, config=mem_cfg, durability="batch", **fleet)
    if mem_cfg.semantic.enabled and mem_cfg.semantic.prior and not any(
            f.source == "prior" for f in memory.semantic.facts()):
        memory.load_priors(mem_cfg.semantic.prior)
    return memory


def _new_world_id(memory: Any, base: str) -> str:
    """``base``, or ``base#2``, ``base#3``... when a world of that id is already in the memory (a reset
    simulator world is a new world even with the same seed: its clock starts again)."""
    known = set(memory.worlds())
    wid, n = base, 1
    while wid in known:
        n += 1
        wid = f"{base}#{n}"
    return wid


def refuse_inert_settings(agent: Any, agent_cfg: dict[str, Any], mem_cfg: Any, *, env_id: str,
                          knowledge: str | None, ablation: str) -> None:
    """Refuse (``ValueError``) a run whose settings would change nothing, before any episode runs.

    - an agent key set away from its default that the agent does not act on (``agent.reads_config``),
      e.g. ``agent.critic.enabled=false`` for the random agent;
    - a memory module switched off (or the prior changed) for an agent that keeps no memory;
    - an ablation other than ``full`` that changes no setting at all here (``no_prior`` in a world
      without prior knowledge).
    """
    from embodied_mem.agent.config import AgentConfig, changed_keys
    from embodied_mem.memory import MemoryConfig

    conf = AgentConfig.from_dict(agent_cfg)
    agent_changes = changed_keys(conf, AgentConfig(name=conf.name), "agent")
    reads = tuple(getattr(agent, "reads_config", frozenset()))
    inert = [k for k in agent_changes if not any(k == r or k.startswith(r + ".") for r in reads)]
    base = MemoryConfig.from_dict({"semantic": {"prior": knowledge}})
    mem_changes = [k for k in changed_keys(mem_cfg, base, "memory")
                   if k.endswith(".enabled") or k == "memory.semantic.prior"]
    if not getattr(agent, "uses_memory", False):
        inert += mem_changes
    name = getattr(agent, "name", type(agent).__name__)
    if inert:
        raise ValueError(f"{', '.join(inert)}: the {name!r} agent in env {env_id!r} does not act on "
                         f"{'this setting' if len(inert) == 1 else 'these settings'} (ablation {ablation!r}); "
                         f"refused rather than silently ignored")
    if ablation != "full" and not agent_changes and not mem_changes:
        raise ValueError(f"ablation {ablation!r} changes no setting of the {name!r} agent in env {env_id!r} "
                         f"(e.g. no prior knowledge to remove); refused rather than reported as a result")


def _learned_facts(memory: Any) -> list[Any]:
    return [f for f in memory.semantic.facts() if f.source not in ("prior",)]


def _jsonable(a: Any) -> Any:
    if hasattr(a, "item"):
        try:
            return a.item()
        except (ValueError, AttributeError):
            pass
    if hasattr(a, "tolist"):
        return a.tolist()
    return a


def _finite_or_none(obj: Any) -> Any:
    """NaN/inf -> None, so metrics.json is strict JSON that every reader accepts."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def _write_json(path: Path, obj: Any) -> None:
    """Write atomically (a crash never leaves a half-written metrics.json)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_finite_or_none(obj), indent=1, default=str, allow_nan=False))
    tmp.replace(path)


def _task(cfg: Any) -> float | None:
    """The Hydra task: one run (or one sweep job)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from .config_schema import validate_run_config
    from .hydra_cli import UsageError

    OmegaConf.set_readonly(cfg, True)
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    job = f"job {hc.job.num} ({' '.join(hc.overrides.task) or 'defaults'})" if multirun else ""
    try:
        try:
            validate_run_config(cfg)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if multirun:  # parallel jobs share the terminal: one line each at start and end, no bars
            print(f"{job}: started in {run_dir}", flush=True)
        metrics = run_episodes(cfg, run_dir, bars=not multirun)
    except Exception as exc:
        if not multirun:
            raise
        _write_json(run_dir / "metrics.json", {
            "status": "failed", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
            "env": cfg.env.id, "agent": (cfg.agent or {}).get("name"), "ablation": cfg.ablation_name,
            "seed": int(cfg.seed)})
        print(f"job failed ({type(exc).__name__}: {exc}); recorded in {run_dir / 'metrics.json'}", file=sys.stderr)
        return None
    from .summary import run_summary

    score = metrics.get("crafter_score")
    if multirun:
        headline = (f"Crafter score {score:.2f} %" if score is not None else
                    f"success rate {100 * metrics['success_rate']:.1f} %" if metrics.get("success_rate") is not None
                    else "done")
        print(f"{job}: {headline} over {len(metrics['episodes'])} episode(s) -> {run_dir}", flush=True)
    else:
        print(run_summary(metrics, run_dir, steps=int(cfg.steps), end_reasons=_plain(cfg.env.end_reasons)))
    return score


ABOUT = ("Run closed-loop episodes: an agent with lifelong memory in a world (Crafter by default).\n"
         "Examples: `embodied-mem run episodes=3 seed=1`, `embodied-mem run experiment=indoor3d`,\n"
         "`embodied-mem run -m ablation=full,no_spatial seed=0,1` (a sweep; then `embodied-mem report DIR`).")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``embodied-mem run [-m] [--debug] [overrides...]``; returns the exit status."""
    from .config_schema import OPEN_SECTIONS, check_overrides, register_configs
    from .hydra_cli import run_app

    register_configs()
    return run_app(_task, "run", list(sys.argv[1:] if argv is None else argv), prog="embodied-mem run",
                   about=ABOUT, check=check_overrides, open_sections=OPEN_SECTIONS)
