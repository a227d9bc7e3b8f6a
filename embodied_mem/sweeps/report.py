"""``embodied-mem report SWEEP_DIR``: one table (and one plot) for an ablation sweep.

Reads every job's ``metrics.json`` under ``SWEEP_DIR`` (a Hydra multirun directory) and writes
``ablation.md``, ``ablation.csv`` and ``ablation.png`` there: one row per configuration (the
job's overrides without ``seed``; the ablation name when that is all that differs) with the mean
± standard deviation over seeds of the Crafter score and of each achievement's success rate,
and the difference to the ``full`` configuration; published reference rows follow. Jobs that
failed or never wrote metrics are listed, not fatal: a partial sweep still gets its report.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["main", "collect", "write_report", "Job"]


@dataclass
class Job:
    dir: Path
    overrides: list[str]
    status: str  # ok | failed | missing
    metrics: dict[str, Any] = field(default_factory=dict)

    common: frozenset[str] = frozenset()  # overrides every job shares (left out of the key)

    @property
    def config_key(self) -> str:
        rest = [o for o in self.overrides if not o.startswith("seed=") and not o.startswith("hydra")
                and o not in self.common]
        abl = self.metrics.get("ablation") or next((o.split("=", 1)[1] for o in rest if o.startswith("ablation=")), None)
        others = [o for o in rest if not o.startswith("ablation=")]
        name = abl or "full"
        return name + (" " + " ".join(sorted(others)) if others else "")

    @property
    def seed(self) -> str:
        for o in self.overrides:
            if o.startswith("seed="):
                return o.split("=", 1)[1]
        return str(self.metrics.get("seed", "?"))


def _read_yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text()) if path.exists() else None


def _norm(override: str) -> str:
    """``key=value`` as Hydra records it in a job's overrides.yaml (``+``/``~`` dropped, booleans lower case)."""
    k, _, v = override.partition("=")
    v = v.strip()
    return f"{k.lstrip('+~')}={v.lower() if v.lower() in ('true', 'false') else v}"


def _sweep_values(value: str) -> list[str]:
    """The values a sweep override stands for: ``a,b``, ``range(0,3)``, ``choice(a,b)``; a list
    ``[1,2]`` or a dict is one value."""
    v = value.strip()
    if v.startswith(("[", "{", "'", '"')):
        return [v]
    if v.startswith("range(") and v.endswith(")"):
        args = [int(float(a)) for a in v[6:-1].split(",")]
        return [str(i) for i in range(*args)]
    if v.startswith("choice(") and v.endswith(")"):
        v = v[7:-1]
    return [x.strip() for x in v.split(",")]


def collect(sweep_dir: Path) -> tuple[list[Job], list[str]]:
    """All jobs under ``sweep_dir`` (found by their ``.hydra`` folders) and the expected ones that never ran."""
    jobs = []
    seen_overrides: set[tuple[str, ...]] = set()
    for hydra_dir in sorted(sweep_dir.rglob(".hydra")):
        job_dir = hydra_dir.parent
        overrides = _read_yaml(hydra_dir / "overrides.yaml") or []
        overrides = [o for o in overrides if not o.startswith("hydra")]
        seen_overrides.add(tuple(sorted(_norm(o) for o in overrides)))
        mpath = job_dir / "metrics.json"
        if not mpath.exists():
            jobs.append(Job(job_dir, overrides, "missing"))
            continue
        try:
            metrics = json.loads(mpath.read_text())
        except json.JSONDecodeError as exc:
            jobs.append(Job(job_dir, overrides, "failed", {"error": f"unreadable metrics.json: {exc}"}))
            continue
        jobs.append(Job(job_dir, overrides, metrics.get("status", "ok"), metrics))
    expected_missing = []
    mr = _read_yaml(sweep_dir / "multirun.yaml")
    hydra_cfg = (mr or {}).get("hydra") or {}
    # the sweep's dimensions: the sweeper's params (e.g. from an experiment), then the command
    # line's overrides, which win (``ablation=full,no_critic`` narrows an experiment's sweep; a
    # single value fixes that key)
    params = ((hydra_cfg.get("sweeper") or {}).get("params") or {})
    dims: dict[str, list[str]] = {k: _sweep_values(str(v)) for k, v in params.items()}
    for o in (hydra_cfg.get("overrides") or {}).get("task", []):
        k, _, v = o.partition("=")
        if k.startswith("~"):  # a deletion: not a dimension, and jobs record it as given
            dims.pop(k.lstrip("~"), None)
            continue
        dims[k.lstrip("+")] = _sweep_values(v)
    if any(len(v) > 1 for v in dims.values()):
        keys = list(dims)
        for combo in itertools.product(*(dims[k] for k in keys)):
            ovs = {_norm(f"{k}={v}") for k, v in zip(keys, combo)}
            if not any(ovs <= set(s) for s in seen_overrides):
                expected_missing.append(" ".join(sorted(ovs)))
    if jobs:
        common = frozenset.intersection(*(frozenset(j.overrides) for j in jobs))
        for j in jobs:
            j.common = frozenset(o for o in common if not o.startswith("ablation="))
    return jobs, expected_missing


def _mean_std(xs: list[float]) -> tuple[float, float]:
    if not xs:
        return (math.nan, math.nan)
    return (statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def _reference() -> dict[str, Any] | None:
    from importlib import resources

    f = resources.files("embodied_mem") / "data" / "reference" / "crafter.json"
    if not f.is_file():
        return None
    return json.loads(f.read_text())


def _published(ref: dict[str, Any]) -> dict[str, float]:
    """name -> published mean score (%), from the packaged reference (a number, [mean, std] or {"mean": ...})."""
    out = {}
    for name, v in (ref.get("scores") or {}).items():
        if isinstance(v, dict):
            v = v["mean"]
        elif isinstance(v, (list, tuple)):
            v = v[0]
        out[name] = float(v)
    return out


def summarise(jobs: list[Job]) -> tuple[list[dict[str, Any]], list[str]]:
    ok = [j for j in jobs if j.status == "ok"]
    groups: dict[str, list[Job]] = {}
    for j in ok:
        groups.setdefault(j.config_key, []).append(j)
    achievements = sorted({a for j in ok for a in (j.metrics.get("success_rates") or {})})
    rows = []
    for key, js in groups.items():
        scores = [float(j.metrics["crafter_score"]) for j in js if j.metrics.get("crafter_score") is not None]
        row: dict[str, Any] = {"configuration": key, "seeds": len(js), "score": _mean_std(scores)}
        for a in achievements:
            row[a] = _mean_std([float((j.metrics.get("success_rates") or {}).get(a, 0.0)) for j in js])
        overhead = [j.metrics.get("timing", {}).get("agent_ms_per_step") for j in js]
        row["agent_ms_per_step"] = _mean_std([x for x in overhead if x is not None])
        rows.append(row)
    order = ["full", "no_spatial", "no_temporal", "no_episodic", "no_semantic", "no_long_term", "no_critic", "no_prior"]
    rows.sort(key=lambda r: (order.index(r["configuration"]) if r["configuration"] in order else len(order),
                             r["configuration"]))
    full = next((r for r in rows if r["configuration"] == "full"), None)
    for r in rows:
        r["delta"] = (r["score"][0] - full["score"][0]) if full and not math.isnan(r["score"][0]) else math.nan
    return rows, achievements


def _fmt(ms: tuple[float, float], digits: int = 1) -> str:
    m, s = ms
    if math.isnan(m):
        return "–"
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def write_report(sweep_dir: Path) -> dict[str, Any]:
    jobs, never_ran = collect(sweep_dir)
    rows, achievements = summarise(jobs)
    failed = [j for j in jobs if j.status == "failed"]
    missing = [j for j in jobs if j.status == "missing"]
    ref = _reference()
    # ---------------- markdown
    lines = [f"# Ablation report: {sweep_dir}", ""]
    lines.append(f"{sum(j.status == 'ok' for j in jobs)} jobs ok, {len(failed)} failed, "
                 f"{len(missing) + len(never_ran)} missing.")
    lines.append("")
    lines.append("| configuration | seeds | Crafter score (%) | Δ to full | agent ms/step |")
    lines.append("|---|---:|---:|---:|---:|")
    for r in rows:
        d = "–" if math.isnan(r["delta"]) else f"{r['delta']:+.1f}"
        lines.append(f"| {r['configuration']} | {r['seeds']} | {_fmt(r['score'])} | {d} | {_fmt(r['agent_ms_per_step'], 2)} |")
    if ref:
        for name, score in _published(ref).items():
            lines.append(f"| *{name} (published)* | | {score} | | |")
    if achievements:
        lines += ["", "Success rates (%) per achievement, mean ± std over seeds:", ""]
        lines.append("| achievement | " + " | ".join(r["configuration"] for r in rows) + " |")
        lines.append("|---|" + "---:|" * len(rows))
        for a in achievements:
            lines.append(f"| {a} | " + " | ".join(_fmt(r[a], 0) for r in rows) + " |")
    if failed or missing or never_ran:
        lines += ["", "## Jobs without results", ""]
        for j in failed:
            lines.append(f"- failed: `{' '.join(j.overrides)}` ({j.dir.name}): {j.metrics.get('error', '?')}")
        for j in missing:
            lines.append(f"- missing metrics.json: `{' '.join(j.overrides)}` ({j.dir.name})")
        for o in never_ran:
            lines.append(f"- never ran: `{o}`")
    (sweep_dir / "ablation.md").write_text("\n".join(lines) + "\n")
    # ---------------- csv
    with open(sweep_dir / "ablation.csv", "w", newline="") as f:
        w = csv.writer(f)
        header = ["configuration", "seeds", "score_mean", "score_std", "delta_to_full"]
        for a in achievements:
            header += [f"{a}_mean", f"{a}_std"]
        w.writerow(header)
        for r in rows:
            line = [r["configuration"], r["seeds"], *r["score"], r["delta"]]
            for a in achievements:
                line += list(r[a])
            w.writerow(line)
        if ref:
            for name, score in _published(ref).items():
                w.writerow([f"{name} (published)", "", score, "", ""] + [""] * (2 * len(achievements)))
    # ---------------- png
    if rows:
        _plot(sweep_dir / "ablation.png", rows, ref)
    return {"rows": rows, "failed": len(failed), "missing": len(missing) + len(never_ran)}


def _plot(path: Path, rows: list[dict[str, Any]], ref: dict[str, Any] | None) -> None:
    from ..plots import pyplot

    plt = pyplot()
    names = [r["configuration"] for r in rows]
    means = [0.0 if math.isnan(r["score"][0]) else r["score"][0] for r in rows]
    stds = [0.0 if math.isnan(r["score"][1]) else r["score"][1] for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows) + 3), 4.5), dpi=110)
    ax.bar(range(len(rows)), means, yerr=stds, capsize=4, color="#4c72b0")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel("Crafter score (%)")
    ax.set_title("Ablations: Crafter score, mean ± std over seeds")
    if ref:
        colors = iter(["#c44e52", "#dd8452", "#55a868", "#8172b3", "#937860"])
        for name, score in _published(ref).items():
            if name.lower().startswith(("human", "spring", "random", "dreamerv3")):
                ax.axhline(float(score), ls="--", lw=1, color=next(colors, "gray"), label=f"{name} {score:g}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # beside the bars
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("usage: embodied-mem report SWEEP_DIR   (a Hydra multirun directory)", file=sys.stderr)
        return 2
    sweep = Path(argv[0])
    if not sweep.is_dir():
        print(f"embodied-mem report: {sweep} is not a directory", file=sys.stderr)
        return 2
    out = write_report(sweep)
    if not out["rows"] and not out["failed"] and not out["missing"]:
        print(f"embodied-mem report: no jobs found under {sweep} (expected Hydra job folders with .hydra/)",
              file=sys.stderr)
        return 1
    print((sweep / "ablation.md").read_text())
    print(f"wrote {sweep / 'ablation.md'}, {sweep / 'ablation.csv'}, {sweep / 'ablation.png'}")
    return 0
