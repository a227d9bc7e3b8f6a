"""The memory QA benchmark: feed one percept stream to every answerer, ask, score, report.

``run_qa(settings, out_dir)`` does, in one run (so every ratio is measured under the same load):

1. Crafter: one stream of ``max(lengths)`` percepts (``crafter_qa.crafter_stream``) goes to every
   answerer; at each length in ``lengths`` (e.g. 1k, 10k, 100k percepts) the questions about that
   prefix are generated from the ground truth and asked, and each answerer's footprint is taken.
2. Robots: each TurtleBot 4 recording found (``bags``) is replayed into fresh answerers and asked
   its questions once, at its full length.
3. Every answer is scored (``questions.score``); per-question latency is wall time of
   ``answer()`` (for answers under 5 ms, the median of 5 calls, to damp noise from other load).
   Footprint is ``answerers.deep_sizeof`` (bytes reachable from the answerer).

Outputs in ``out_dir``: ``questions.json`` (every question with its ground truth), ``answers.jsonl``
(every answer, score, latency), ``qa.csv`` (aggregates), ``qa.json`` (aggregates, footprints,
ingest costs, settings), ``qa.md`` (tables) and PNG plots (``report.py``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .answerers import deep_sizeof, make_answerers
from .questions import Question, aggregate, percentile, save_questions, score

__all__ = ["QASettings", "run_qa", "ask_all", "default_data_dir", "DEFAULT_BAGS"]

DEFAULT_BAGS: list[str] = [
    "ros2_bags/turtlebot4_real_macfirst_floor/bag",
    "ros2_bags/turtlebot4_sim_nav2/nav2_turtlebot.mcap",
]


@dataclass
class QASettings:
    """Settings of one benchmark run (the Hydra config ``bench_qa`` has the same keys)."""

    lengths: list[int] = field(default_factory=lambda: [1000, 10000, 100000])  # Crafter memory lengths (percepts)
    seed: int = 0
    per_type: int = 10  # questions per type and length (fewer when the stream offers fewer)
    fifo_k: int = 500  # percepts kept by the FIFO baseline
    vector_k: int = 32  # documents retrieved by the vector store
    vector_dim: int = 256  # hashed bag-of-words dimensions
    # Caption stores with real sentence embeddings (sentence_embedders.EMBEDDERS); [] to skip. Skipped
    # with a log line (and noted in qa.json) when the [baselines] extra is not installed.
    sentence_embedders: list[str] = field(default_factory=lambda: ["minilm", "minilm_static"])
    embed_cache: str | None = None  # where distilled static models are kept (default ~/.cache/embodied_mem)
    # Largest Crafter length at which each sentence store is still fed and asked (MiniLM encodes ~30-400
    # captions/s on a CPU: 100k percepts take from minutes to most of an hour); missing: every length.
    embedder_upto: dict[str, int] = field(default_factory=dict)
    embed_threads: int = 1  # torch threads for MiniLM (1 is fastest on a shared machine)
    footprint: bool = True  # measure bytes held per answerer (a deep traversal; seconds at 100k)
    durable: bool = False  # embodied_mem journals to SQLite (Memory.open(..., durability="batch")) in the run dir
    ram_budget_mb: float | None = None  # embodied_mem's memory.ram_budget_mb (None: unbounded)
    data_dir: str | None = None  # ../shared/data by default (robot recordings); None: $EMBODIED_MEM_SHARED_DATA
    bags: list[str] = field(default_factory=lambda: list(DEFAULT_BAGS))  # recordings (paths under data_dir)
    progress: bool = True
    plots: bool = True
    publish_dir: str | None = None  # also copy qa.md/csv/json/png and the questions here (benchmarks/results)

    def __post_init__(self) -> None:
        ls = list(self.lengths)
        if not ls or any(isinstance(n, bool) or not isinstance(n, int) or n <= 0 for n in ls):
            raise ValueError(f"lengths must be a non-empty list of positive ints (percepts), got {self.lengths!r}")
        self.lengths = sorted(set(ls))
        from .sentence_embedders import EMBEDDERS

        bad = [e for e in [*self.sentence_embedders, *self.embedder_upto] if e not in EMBEDDERS]
        if bad:
            raise ValueError(f"sentence_embedders / embedder_upto: unknown {bad}; valid: {list(EMBEDDERS)}")
        for k, v in self.embedder_upto.items():
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"embedder_upto[{k}] must be a positive int (percepts), got {v!r}")
        if isinstance(self.embed_threads, bool) or not isinstance(self.embed_threads, int) or self.embed_threads <= 0:
            raise ValueError(f"embed_threads must be a positive int, got {self.embed_threads!r}")
        for name in ("per_type", "fifo_k", "vector_k", "vector_dim"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive int, got {v!r}")

    @staticmethod
    def from_mapping(d: Mapping[str, Any]) -> QASettings:
        valid = set(QASettings.__dataclass_fields__)
        unknown = set(d) - valid
        if unknown:
            raise ValueError(f"unknown bench qa setting(s) {sorted(unknown)}; valid: {sorted(valid)}")
        return QASettings(**{k: (list(v) if k in ("lengths", "bags", "sentence_embedders") else v) for k, v in d.items()})


def default_data_dir() -> Path:
    env = os.environ.get("EMBODIED_MEM_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _timed_answer(answerer: Any, q: Question) -> tuple[Any, float]:
    t0 = time.perf_counter()
    ans = answerer.answer(q)
    dt = time.perf_counter() - t0
    if dt < 5e-3:  # fast answers: median of 5 calls (the machine is shared; single calls are noisy)
        times = [dt]
        for _ in range(4):
            t0 = time.perf_counter()
            answerer.answer(q)
            times.append(time.perf_counter() - t0)
        dt = statistics.median(times)
    return ans, dt


def ask_all(answerers: list[Any], questions: list[Question], progress: bool = False, desc: str = "") -> list[dict]:
    """Ask every question of every answerer; one row per (question, answerer) with score and latency."""
    rows = []
    it = [(a, q) for q in questions for a in answerers]
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=desc or "questions", unit="answer", mininterval=2.0)
    for a, q in it:
        ans, dt = _timed_answer(a, q)
        s = score(q, ans)
        rows.append({"question": q.id, "world": q.world, "length": q.length, "type": q.type, "answerer": a.name,
                     "answer": ans, "truth": q.answer, "error": s["error"], "correct": s["correct"],
                     "latency_s": dt})
    return rows


def latency_summary(rows: list[dict]) -> list[dict[str, Any]]:
    """Per (world, length, answerer): latency p50 / p99 / max over all its questions (ms)."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault((r["world"], r["length"], r["answerer"]), []).append(1e3 * r["latency_s"])
    return [{"world": w, "length": n, "answerer": a, "n": len(v), "p50_ms": percentile(v, 50),
             "p99_ms": percentile(v, 99), "max_ms": max(v)} for (w, n, a), v in sorted(groups.items())]


def _footprints(answerers: list[Any]) -> dict[str, int]:
    return {a.name: deep_sizeof(a) for a in answerers}


def _memory(st: QASettings, out: Path, name: str) -> Any:
    """The embodied_mem memory under test: in RAM, or journaled to SQLite in the run dir (``durable``)."""
    from embodied_mem import Memory

    config = None if st.ram_budget_mb is None else {"ram_budget_mb": st.ram_budget_mb}
    if not st.durable:
        return None if config is None else Memory(config)

    path = out / f"memory-{name}.db"
    if path.exists():
        path.unlink()  # a fresh memory per run: never replay an older run's percepts
    return Memory.open(path, config=config, durability="batch")


def load_embedders(st: QASettings, log: Any = print) -> tuple[list[Any], dict[str, Any]]:
    """The sentence embedders of ``st`` and what loading them cost (or why one was skipped)."""
    from embodied_mem.deps import DependencyNotInstalled

    from .sentence_embedders import make_embedder

    embedders, meta = [], {}
    for name in st.sentence_embedders:
        try:
            e = make_embedder(name, st.embed_cache, threads=st.embed_threads)
        except (DependencyNotInstalled, ImportError) as err:
            log(f"sentence embedder {name!r} skipped: {err}")
            meta[name] = {"skipped": str(err)}
            continue
        embedders.append(e)
        meta[name] = {"dim": e.dim, "model_bytes": e.model_bytes, "load_s": e.load_s}
        log(f"sentence embedder {name}: {e.dim}-d, {e.model_bytes / 2**20:.1f} MiB of weights, loaded in {e.load_s:.1f} s")
    return embedders, meta


def _flush(answerers: list[Any], ingest: dict[str, float]) -> None:
    """Encode what the caption stores still buffer (counted as ingest)."""
    for a in answerers:
        if hasattr(a, "flush"):
            s = time.perf_counter()
            a.flush()
            ingest[a.name] += time.perf_counter() - s


def run_crafter(st: QASettings, log: Any = print, out: Path = Path("."),
                embedders: list[Any] = ()) -> tuple[list[Question], list[dict], dict[str, Any]]:
    from .crafter_qa import CrafterTruth, crafter_questions, crafter_stream

    answerers = make_answerers(st.fifo_k, st.vector_k, st.vector_dim, memory=_memory(st, out, "crafter"),
                               embedders=embedders)
    truth = CrafterTruth()
    ingest = {a.name: 0.0 for a in answerers}
    questions: list[Question] = []
    rows: list[dict] = []
    per_length: dict[int, dict[str, Any]] = {}
    checkpoints = set(st.lengths)
    n = 0
    t_stream = 0.0
    t0 = time.perf_counter()
    upto = {f"{e.name}_top{st.vector_k}": st.embedder_upto.get(e.name) for e in embedders}
    retired: list[str] = []
    for p in crafter_stream(max(st.lengths), seed=st.seed, truth=truth, progress=st.progress):
        for a in answerers:
            s = time.perf_counter()
            a.observe(p)
            ingest[a.name] += time.perf_counter() - s
        n += 1
        if n in checkpoints:
            _flush(answerers, ingest)
            if st.durable:
                s = time.perf_counter()
                answerers[0].mem.flush()
                ingest[answerers[0].name] += time.perf_counter() - s
            t_stream += time.perf_counter() - t0
            qs = crafter_questions(truth, n, per_type=st.per_type, seed=st.seed)
            questions += qs
            rows += ask_all(answerers, qs, progress=st.progress, desc=f"crafter {n} percepts")
            fp = _footprints(answerers) if st.footprint else {}
            per_length[n] = {"percepts": n, "questions": len(qs), "footprint_bytes": fp,
                             "ingest_us_per_percept": {a.name: 1e6 * ingest[a.name] / n for a in answerers},
                             "respawns": sum(1 for r in truth.respawns if r < n),
                             "truth_rows": len(truth.t)}
            log(f"crafter {n}: {len(qs)} questions; footprint "
                + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in fp.items()))
            done = [a for a in answerers if upto.get(a.name) is not None and n >= upto[a.name]]
            if done:  # past its embedder_upto: not fed nor asked any more
                retired += [a.name for a in done]
                answerers = [a for a in answerers if a not in done]
                log(f"crafter: {', '.join(a.name for a in done)} stop at {n} percepts (embedder_upto)")
            t0 = time.perf_counter()
    t_stream += time.perf_counter() - t0
    answerers[0].mem.close()
    meta = {"per_length": per_length, "stream_and_ingest_s": t_stream, "stopped_early": retired, "labels": sorted(truth.labels),
            "respawns": len(truth.respawns)}
    return questions, rows, meta


def recording_name(path: Path) -> str:
    """A recording's name: its folder (the parent of a ``bag`` folder or of a file), e.g. turtlebot4_sim_nav2."""
    return path.parent.name if (path.name == "bag" or path.suffix in (".mcap", ".db3")) else path.name


def run_robots(st: QASettings, log: Any = print, out: Path = Path("."),
               embedders: list[Any] = ()) -> tuple[list[Question], list[dict], dict[str, Any]]:
    from .robot_qa import odometry_percepts, read_odometry, robot_questions

    data = Path(st.data_dir) if st.data_dir else default_data_dir()
    questions: list[Question] = []
    rows: list[dict] = []
    meta: dict[str, Any] = {}
    for rel in st.bags:
        path = Path(rel) if Path(rel).is_absolute() else data / rel
        name = recording_name(path)
        if not path.exists():
            log(f"robot recording {name!r} not found at {path}; skipped")
            meta[name] = {"skipped": f"not found: {path}"}
            continue
        odom = read_odometry(path, name=name)
        answerers = make_answerers(st.fifo_k, st.vector_k, st.vector_dim, memory=_memory(st, out, name),
                                   embedders=embedders)
        ingest = {a.name: 0.0 for a in answerers}
        for p in odometry_percepts(odom):
            for a in answerers:
                s = time.perf_counter()
                a.observe(p)
                ingest[a.name] += time.perf_counter() - s
        answerers[0].mem.flush()
        _flush(answerers, ingest)
        qs = robot_questions(odom, per_type=st.per_type, seed=st.seed)
        questions += qs
        rows += ask_all(answerers, qs, progress=st.progress, desc=name)
        meta[name] = {"path": str(path), "percepts": len(odom), "duration_s": float(odom.t[-1]),
                      "path_length_m": float(sum(((odom.x[i + 1] - odom.x[i]) ** 2 + (odom.y[i + 1] - odom.y[i]) ** 2)
                                                 ** 0.5 for i in range(len(odom) - 1))),
                      "frame": odom.frame,
                      "footprint_bytes": _footprints(answerers) if st.footprint else {},
                      "ingest_us_per_percept": {k: 1e6 * v / len(odom) for k, v in ingest.items()}}
        answerers[0].mem.close()
        log(f"{name}: {len(odom)} odometry percepts, {len(qs)} questions")
    return questions, rows, meta


def run_qa(settings: QASettings | Mapping[str, Any] | None = None, out_dir: str | Path = ".",
           log: Any = print) -> dict[str, Any]:
    """Run the whole benchmark; write the outputs into ``out_dir``; return the ``qa.json`` content."""
    st = settings if isinstance(settings, QASettings) else QASettings.from_mapping(settings or {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    embedders, emeta = load_embedders(st, log)
    cq, crows, cmeta = run_crafter(st, log, out, embedders)
    rq, rrows, rmeta = run_robots(st, log, out, embedders)
    questions, rows = cq + rq, crows + rrows
    save_questions(questions, out / "questions.json")
    with open(out / "answers.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    result = {
        "settings": asdict(st),
        "aggregates": aggregate(rows),
        "latency": latency_summary(rows),
        "crafter": cmeta,
        "robots": rmeta,
        "sentence_embedders": emeta,
        "questions": len(questions),
        "wall_s": time.perf_counter() - t0,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    from .report import write_report

    paths = write_report(result, out, plots=st.plots)
    result["files"] = [p.name for p in paths]
    (out / "qa.json").write_text(json.dumps(result, indent=1, default=str))
    if st.publish_dir:
        import shutil

        dest = Path(st.publish_dir)
        dest.mkdir(parents=True, exist_ok=True)
        for name in ["qa.json", "questions.json", *result["files"]]:
            target = dest / ("qa_questions.json" if name == "questions.json" else name)
            shutil.copyfile(out / name, target)
        log(f"copied the results to {dest}")
    return result
