"""Tables (``qa.md``, ``qa.csv``) and plots (``qa_error.png``, ``qa_latency.png``, ``qa_footprint.png``) of a QA run.

Input: the ``qa.json`` content built by ``qa.run_qa`` (aggregates per world, length, answerer and
question type; latency summaries; footprints). Errors are in the question's units: cells and
steps in Crafter, metres and seconds for the robots.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .questions import CRAFTER_TYPES, KIND, ROBOT_TYPES

__all__ = ["write_report", "REMEMBR_NAVQA"]

# ReMEmbR (Anwar et al., 2024), NaVQA with GPT-4o: position error (m) on short / medium / long
# recordings and accuracy of binary ("descriptive") questions. Different data: real robot video
# with captioning, and answers in free text; listed for orientation only.
REMEMBR_NAVQA = {"position_error_m": {"short": 5.1, "medium": 27.5, "long": 46.3},
                 "descriptive_accuracy": (0.58, 0.65)}

UNITS = {"position": "cells", "as_of_position": "cells", "change": "cells", "time": "steps", "duration": "steps",
         "count": "objects", "robot_position": "m", "distance": "m", "standstill": "s", "closest_time": "s"}


def _fmt(v: float, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "∞"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}"


def _cell(a: Mapping[str, Any]) -> str:
    """accuracy, then the mean error where it means something (not for binary/order)."""
    acc = f"{a['accuracy']:.2f}"
    if a["type"] in ("binary", "order"):
        return acc
    return f"{acc} ({_fmt(a['mean_error'])})"


def _ms(v: float) -> str:
    return "–" if v is None or math.isnan(v) else (f"{v:.3f}" if v < 1 else f"{v:.1f}")


def write_report(result: Mapping[str, Any], out: Path, plots: bool = True) -> list[Path]:
    """Write qa.md, qa.csv and (if ``plots``) the PNGs into ``out``; return the paths."""
    out = Path(out)
    aggs = result["aggregates"]
    paths = [out / "qa.md", out / "qa.csv"]
    with open(paths[1], "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["world", "length", "answerer", "type", "n", "accuracy", "mean_error",
                                          "median_error", "latency_p50_ms", "latency_p99_ms"])
        w.writeheader()
        for a in aggs:
            w.writerow(a)
    paths[0].write_text(markdown(result))
    if plots:
        paths += _plots(result, out)
    return paths


def _answerers(aggs: list[Mapping[str, Any]]) -> list[str]:
    """Answerer names in a fixed order: embodied_mem, the FIFO, the hashed vector store, the sentence
    vector stores (static, then MiniLM), the full log, others."""
    rank = {"embodied_mem": 0, "fifo": 1, "vector": 2, "minilm_static": 2.4, "minilm": 2.5, "full_log": 3}
    names = sorted({a["answerer"] for a in aggs})
    return sorted(names, key=lambda n: (min([v for k, v in rank.items() if n.startswith(k)] or [9]), n))


def markdown(result: Mapping[str, Any]) -> str:
    aggs = result["aggregates"]
    st = result["settings"]
    names = _answerers(aggs)
    idx = {(a["world"], a["length"], a["answerer"], a["type"]): a for a in aggs}
    crafter_lengths = sorted({a["length"] for a in aggs if a["world"] == "crafter"})
    lines = ["# Memory QA benchmark", "",
             f"Run {result.get('date', '')}, {result['questions']} questions, {result['wall_s']:.0f} s wall "
             f"({result['machine']['cpus']} CPUs, shared). Settings: seed {st['seed']}, {st['per_type']} questions per "
             f"type and length, FIFO k={st['fifo_k']}, vector store top-{st['vector_k']} over {st['vector_dim']}-d "
             "hashed bag-of-words.", "",
             "Each cell: **accuracy** (share of answers within tolerance: exact cell for positions, exact value for "
             "times, counts, binary and order) and, in brackets, the **mean error** (cells, steps or objects; a missing "
             "or wrong 'gone' answer costs the map diameter, 90.5 cells, or the memory length in steps). "
             "Answerers: `embodied_mem` (its query API), `fifo_K` (last K percepts), `vector_topK` (flat vector "
             "store of hashed bag-of-words, top-K retrieval: the floor), `minilm_topK` (the stronger baseline: a "
             "caption per percept embedded by all-MiniLM-L6-v2, 384-d, top-K cosine retrieval with the question "
             "text, ReMEmbR/Mem0-style), `minilm_static_topK` (the same over a 128-d static model2vec distillation "
             "of MiniLM), `full_log` (every percept, scanned: exact, slow). All vector stores answer with the same "
             "scan of the retrieved percepts.", ""]
    emb = {k: v for k, v in (result.get("sentence_embedders") or {}).items()}
    if emb:
        lines += ["Sentence embedders (CPU): " + "; ".join(
            f"`{k}` skipped ({v['skipped']})" if "skipped" in v else
            f"`{k}` {v['dim']}-d, {v['model_bytes'] / 2**20:.1f} MiB of weights (not counted in the footprints "
            f"below), loaded in {v['load_s']:.1f} s" for k, v in emb.items()) + ". Their ingest cost is the "
            "caption encoding (batches of 256).", ""]
    pl0 = result.get("crafter", {}).get("per_length", {})
    for k in sorted(st.get("embedder_upto") or {}):
        name = f"{k}_top{st['vector_k']}"
        fed = [int(n) for n, d in pl0.items() if name in (d.get("ingest_us_per_percept") or {})]
        if not fed:
            continue
        us = pl0.get(max(fed), pl0.get(str(max(fed)), {}))["ingest_us_per_percept"][name]
        top = max(int(n) for n in pl0)
        lines += [f"`{name}` was fed and asked up to {max(fed):,} percepts only (`embedder_upto`): at "
                  f"{us / 1e3:.1f} ms per caption on this machine, {top:,} percepts would take "
                  f"{us * top / 6e7:.0f} min to encode.", ""]
    for n in crafter_lengths:
        lines += [f"## Crafter, {n:,} percepts in memory", "",
                  "| question | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for qt in CRAFTER_TYPES:
            cells = [_cell(idx[("crafter", n, a, qt)]) if ("crafter", n, a, qt) in idx else "–" for a in names]
            k = next((idx[("crafter", n, a, qt)]["n"] for a in names if ("crafter", n, a, qt) in idx), 0)
            lines.append(f"| {qt} (n={k}, {UNITS.get(qt, '')}) | " + " | ".join(cells) + " |")
        lines.append("")
    lat = [x for x in result.get("latency", []) if x["world"] == "crafter"]
    if lat:
        lines += ["## Crafter: latency per question (ms, p50 / p99 over all question types)", "",
                  "| percepts | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for n in crafter_lengths:
            row = {x["answerer"]: x for x in lat if x["length"] == n}
            lines.append(f"| {n:,} | " + " | ".join(
                f"{_ms(row[a]['p50_ms'])} / {_ms(row[a]['p99_ms'])}" if a in row else "–" for a in names) + " |")
        lines += ["", "p99 per question type for embodied_mem (ms): ", ""]
        lines += ["| percepts | " + " | ".join(CRAFTER_TYPES) + " |", "|---|" + "---|" * len(CRAFTER_TYPES)]
        for n in crafter_lengths:
            lines.append(f"| {n:,} | " + " | ".join(
                _ms(idx[("crafter", n, "embodied_mem", qt)]["latency_p99_ms"]) if ("crafter", n, "embodied_mem", qt)
                in idx else "–" for qt in CRAFTER_TYPES) + " |")
        lines.append("")
    pl = result.get("crafter", {}).get("per_length", {})
    if pl:
        lines += ["## Crafter: memory footprint (MiB) and ingest cost (µs per percept)", "",
                  "| percepts | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for n in crafter_lengths:
            d = pl.get(n) or pl.get(str(n)) or {}
            fp, ing = d.get("footprint_bytes", {}), d.get("ingest_us_per_percept", {})
            lines.append(f"| {n:,} | " + " | ".join(
                f"{_fmt(fp[a] / 2**20, 1) if a in fp else '–'} MiB, {_fmt(ing.get(a, math.nan), 0)} µs" for a in names)
                + " |")
        lines.append("")
    robots = [w for w in result.get("robots", {}) if "skipped" not in result["robots"][w]]
    if robots:
        lines += ["## TurtleBot 4 recordings (odometry percepts; errors in m and s)", ""]
        for w in robots:
            m = result["robots"][w]
            lines += [f"**{w}**: {m['percepts']} odometry messages, {m['duration_s']:.1f} s, path "
                      f"{m['path_length_m']:.2f} m (frame `{m['frame']}`).", "",
                      "| question | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
            for qt in ROBOT_TYPES:
                a0 = next((idx[(w, m['percepts'], a, qt)] for a in names if (w, m['percepts'], a, qt) in idx), None)
                if a0 is None:
                    continue
                cells = [_cell(idx[(w, m['percepts'], a, qt)]) if (w, m['percepts'], a, qt) in idx else "–"
                         for a in names]
                lines.append(f"| {qt} (n={a0['n']}, {UNITS[qt]}) | " + " | ".join(cells) + " |")
            lines.append("")
    # beside ReMEmbR
    if crafter_lengths:
        r = REMEMBR_NAVQA
        lines += ["## Beside ReMEmbR's NaVQA numbers (different data!)", "",
                  "ReMEmbR (GPT-4o over a captioned vector database of real robot video, free-text answers): position "
                  f"error {r['position_error_m']['short']} / {r['position_error_m']['medium']} / "
                  f"{r['position_error_m']['long']} m on short / medium / long recordings; descriptive (yes/no) "
                  f"accuracy {r['descriptive_accuracy'][0]}–{r['descriptive_accuracy'][1]}. Here: Crafter, grid cells "
                  "(1 cell ≈ 1 agent step), exact ground truth, structured questions — so this is a sanity frame, "
                  "not a head-to-head comparison.", "",
                  "| memory | " + " | ".join(f"position error @ {n:,} (cells)" for n in crafter_lengths)
                  + " | binary accuracy (all lengths) |", "|---|" + "---|" * (len(crafter_lengths) + 1)]
        vals = list(r["position_error_m"].values())
        rem = [f"{vals[i]} m ({k})" if i < 3 else "–" for i, k in zip(range(len(crafter_lengths)),
                                                                       ["short", "medium", "long", "", ""])]
        lines.append("| ReMEmbR GPT-4o (NaVQA) | " + " | ".join(rem)
                     + f" | {r['descriptive_accuracy'][0]}–{r['descriptive_accuracy'][1]} |")
        for a in names:
            errs = [idx.get(("crafter", n, a, "position")) for n in crafter_lengths]
            bins = [idx.get(("crafter", n, a, "binary")) for n in crafter_lengths]
            bins = [b for b in bins if b]
            acc = sum(b["accuracy"] * b["n"] for b in bins) / max(1, sum(b["n"] for b in bins)) if bins else math.nan
            lines.append(f"| {a} | " + " | ".join(_fmt(e["mean_error"]) if e else "–" for e in errs)
                         + f" | {_fmt(acc)} |")
        lines.append("")
    return "\n".join(lines)


def _plots(result: Mapping[str, Any], out: Path) -> list[Path]:
    from embodied_mem.plots import pyplot

    plt = pyplot()
    aggs = [a for a in result["aggregates"] if a["world"] == "crafter"]
    names = _answerers(aggs)
    lengths = sorted({a["length"] for a in aggs})
    idx = {(a["length"], a["answerer"], a["type"]): a for a in aggs}
    palette = ["#4c72b0", "#dd8452", "#55a868", "#8172b3", "#c44e52", "#937860", "#da8bc3", "#8c8c8c"]
    colors = {n: palette[i % len(palette)] for i, n in enumerate(names)}  # any number of answerers
    # exact answerers coincide (embodied_mem, full_log, a FIFO that still holds everything): each gets
    # its own marker and line style and is dodged sideways a little, so no line hides another
    markers, dashes = ["o", "s", "^", "D", "v"], ["-", "--", "-.", ":", (0, (3, 1, 1, 1))]
    style = {n: {"marker": markers[i % 5], "ls": dashes[i % 5], "lw": 1.6, "ms": 6 - i % 3, "zorder": 3 + i}
             for i, n in enumerate(names)}
    dodge = {n: 1.05 ** (i - (len(names) - 1) / 2) for i, n in enumerate(names)}
    paths = []
    if not lengths:
        return paths
    fig, axes = plt.subplots(2, 4, figsize=(15, 7), dpi=100)
    for ax, qt in zip(axes.flat, CRAFTER_TYPES):
        exact = KIND[qt] == "exact"
        for a in names:
            ys = [idx[(n, a, qt)]["accuracy" if exact else "mean_error"] if (n, a, qt) in idx else math.nan
                  for n in lengths]
            ax.plot([n * dodge[a] for n in lengths], ys, color=colors[a], label=a, **style[a])
        ax.set_xscale("log")
        ax.set_title(qt)
        ax.set_ylabel("accuracy" if exact else f"mean error ({UNITS.get(qt, '')})")
        if exact:
            ax.set_ylim(-0.03, 1.05)
        else:
            ax.set_ylim(bottom=-0.03 * max(1e-9, ax.get_ylim()[1]))  # an error is never below 0
        ax.set_xlabel("percepts in memory")
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(names), bbox_to_anchor=(0.5, 0.95), fontsize=9,
               frameon=False)
    fig.suptitle("Crafter memory QA: error (accuracy for exact types) vs memory length "
                 "(coinciding answerers dodged sideways)")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    paths.append(out / "qa_error.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    lat = [x for x in result.get("latency", []) if x["world"] == "crafter"]
    if lat:
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.8), dpi=100)
        for a in names:
            rows = sorted((x for x in lat if x["answerer"] == a), key=lambda x: x["length"])
            ax.plot([x["length"] for x in rows], [x["p50_ms"] for x in rows], "o--", color=colors[a], alpha=0.6)
            ax.plot([x["length"] for x in rows], [x["p99_ms"] for x in rows], "o-", color=colors[a], label=f"{a} p99")
        type_colors = dict(zip(CRAFTER_TYPES, plt.get_cmap("tab10").colors))
        for qt in CRAFTER_TYPES:
            ys = [idx[(n, "embodied_mem", qt)]["latency_p99_ms"] if (n, "embodied_mem", qt) in idx else math.nan
                  for n in lengths]
            bx.plot(lengths, [max(y, 1e-4) for y in ys], "o-", color=type_colors[qt], label=qt)
        for axis, title in ((ax, "all questions, per answerer (dashed: p50)"),
                            (bx, "embodied_mem p99 per question type")):
            axis.axhline(1.0, color="grey", lw=0.8, ls=":", label="1 ms")
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.set_xlabel("percepts in memory")
            axis.set_ylabel("latency per question (ms)")
            axis.set_title(title)
            axis.grid(alpha=0.3, which="both")
            axis.legend(fontsize=7)
        fig.suptitle("Crafter memory QA: latency vs memory length")
        fig.tight_layout()
        paths.append(out / "qa_latency.png")
        fig.savefig(paths[-1])
        plt.close(fig)

    pl = result.get("crafter", {}).get("per_length", {})
    if pl and any((pl.get(n) or {}).get("footprint_bytes") for n in lengths):
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
        for a in names:
            ys = [((pl.get(n) or {}).get("footprint_bytes") or {}).get(a, math.nan) / 2**20 for n in lengths]
            ax.plot(lengths, ys, "o-", color=colors[a], label=a)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("percepts in memory")
        ax.set_ylabel("footprint (MiB)")
        ax.set_title("Crafter memory QA: memory footprint vs length")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(out / "qa_footprint.png")
        fig.savefig(paths[-1])
        plt.close(fig)
    return paths
