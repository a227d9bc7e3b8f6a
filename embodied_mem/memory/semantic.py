"""Semantic memory: facts (subject, relation, object) distilled from experience or given as priors.

Every change is an operation — ``ADD``, ``UPDATE``, ``DELETE`` or ``NOOP`` (Memory-R1) — logged
with its time and provenance, and mirrored in the memory graph as a bi-temporal ``concept`` edge.
Facts are never overwritten: ``DELETE`` invalidates (``valid_to = t``), and asserting a different
object for a *functional* relation (``SemanticConfig.functional_relations``, e.g. ``located_in``)
invalidates the older fact — a contradiction ends the old belief.

``consolidate()`` turns regularities counted while observing into facts:

- ``(label, found_in, region)`` when at least ``min_support`` objects of ``label`` were believed
  in ``region`` and that is at least ``min_fraction`` of all such objects;
- ``("<action> <target>", yields, event)`` when acting on ``target`` was followed by ``event``
  at least ``min_support`` times and in at least ``min_fraction`` of attempts;

and deletes consolidated facts whose support has fallen below the thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..percept import Percept
from .config import SemanticConfig

if TYPE_CHECKING:
    from ..graph import MemoryGraph

__all__ = ["SemanticMemory", "Fact", "Operation", "load_knowledge", "knowledge_facts"]

ADD, UPDATE, DELETE, NOOP = "ADD", "UPDATE", "DELETE", "NOOP"


@dataclass(frozen=True, slots=True)
class Fact:
    subject: str
    relation: str
    object: str
    confidence: float
    support: int
    valid_from: float
    valid_to: float | None = None
    source: str = "observed"
    id: str = ""

    def __str__(self) -> str:
        return f"{self.subject} {self.relation} {self.object} (conf {self.confidence:.2f}, support {self.support})"


@dataclass(frozen=True, slots=True)
class Operation:
    op: str
    fact: Fact
    t: float
    provenance: str

    def __str__(self) -> str:
        return f"{self.op} {self.fact} @t={self.t:g} [{self.provenance}]"


class _FactRec:
    __slots__ = ("id", "s", "r", "o", "confidence", "support", "source", "data")

    def __init__(self, fid: str, s: str, r: str, o: str, confidence: float, support: int, source: str, data: dict):
        self.id, self.s, self.r, self.o = fid, s, r, o
        self.confidence, self.support, self.source, self.data = confidence, support, source, data

    def fact(self) -> Fact:
        return Fact(self.s, self.r, self.o, self.confidence, self.support, self.data["valid_from"],
                    self.data["valid_to"], self.source, self.id)


def _check_label(v: Any, name: str) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a str, got {type(v).__name__}")
    if not v.strip():
        raise ValueError(f"{name} must be non-empty")
    return v


class SemanticMemory:
    def __init__(self, graph: MemoryGraph, config: SemanticConfig | None = None) -> None:
        self.graph = graph
        self.config = config or SemanticConfig()
        self.enabled = self.config.enabled
        self._facts: list[_FactRec] = []
        self._current: dict[tuple[str, str, str], _FactRec] = {}
        self._by_sr: dict[tuple[str, str], dict[str, _FactRec]] = {}
        self.operations: list[Operation] = []
        self._attempts: dict[str, int] = {}  # "action target" -> times done
        self._outcomes: dict[str, dict[str, int]] = {}  # "action target" -> event -> count
        self.now = -math.inf

    # ------------------------------------------------------------------ ingest
    def observe(self, p: Percept) -> None:
        if not self.enabled:
            return
        self.now = max(self.now, p.t)
        if p.action is not None and p.target is not None:
            key = f"{p.action} {p.target}"
            self._attempts[key] = self._attempts.get(key, 0) + 1
            if p.events:
                out = self._outcomes.setdefault(key, {})
                for e in set(p.events):
                    out[e] = out.get(e, 0) + 1

    def _concept(self, name: str, t: float) -> str:
        node = f"concept:{name}"
        if node not in self.graph:
            self.graph.add_node(node, "concept", name=name, created=t)
        return node

    def assert_fact(self, subject: str, relation: str, obj: str, *, confidence: float = 1.0, support: int = 1,
                    t: float | None = None, source: str = "asserted", exclusive: bool | None = None,
                    recorded_at: float = 0.0) -> Operation:
        """State a fact. Returns the operation taken: ADD (new), UPDATE (confidence/support changed), NOOP.

        An UPDATE closes the old version at ``t`` and starts a new one (a new fact id), so the
        record stays bi-temporal.

        For a functional relation (or ``exclusive=True``) other current objects of (subject,
        relation) are invalidated first (each logged as DELETE).
        """
        _check_label(subject, "subject")
        _check_label(relation, "relation")
        _check_label(obj, "object")
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
            raise ValueError(f"confidence must be a number in [0, 1], got {confidence!r}")
        if not self.enabled:
            return Operation(NOOP, Fact(subject, relation, obj, float(confidence), support, 0.0), 0.0, source)
        t = self.now if t is None else float(t)
        if not math.isfinite(t):
            t = 0.0
        key = (subject, relation, obj)
        rec = self._current.get(key)
        if rec is not None:
            if abs(rec.confidence - confidence) < 1e-12 and rec.support == support:
                op = Operation(NOOP, rec.fact(), t, source)
                self.operations.append(op)
                return op
            # UPDATE: the old version is invalidated at t and a new version starts (never overwritten),
            # so facts(at=) answers with the confidence and support believed then.
            t = max(t, rec.data["valid_from"])  # a late assertion cannot start before the version it replaces
            self.graph.invalidate_data(rec.data, t)
            del self._current[key]
            del self._by_sr[(subject, relation)][obj]
            new = self._add(subject, relation, obj, confidence, support, t, source, recorded_at)
            op = Operation(UPDATE, new.fact(), t, source)
            self.operations.append(op)
            return op
        excl = exclusive if exclusive is not None else relation in self.config.functional_relations
        if excl:
            for other in list(self._by_sr.get((subject, relation), {}).values()):
                self._delete(other, t, f"contradicted by {subject} {relation} {obj}")
        rec = self._add(subject, relation, obj, confidence, support, t, source, recorded_at)
        op = Operation(ADD, rec.fact(), t, source)
        self.operations.append(op)
        return op

    def _add(self, subject: str, relation: str, obj: str, confidence: float, support: int, t: float, source: str,
             recorded_at: float) -> _FactRec:
        s_node, o_node = self._concept(subject, t), self._concept(obj, t)
        data = self.graph.add_edge(s_node, o_node, relation, valid_from=t, source=source, confidence=confidence,
                                   recorded_at=recorded_at, support=support)
        rec = _FactRec(f"fact-{len(self._facts)}", subject, relation, obj, float(confidence), int(support), source,
                       data)
        self._facts.append(rec)
        self._current[(subject, relation, obj)] = rec
        self._by_sr.setdefault((subject, relation), {})[obj] = rec
        return rec

    def retract(self, subject: str, relation: str, obj: str, *, t: float | None = None,
                source: str = "retracted") -> Operation:
        """Invalidate a current fact (DELETE), or NOOP if it is not believed."""
        t = self.now if t is None else float(t)
        if not math.isfinite(t):
            t = 0.0
        rec = self._current.get((subject, relation, obj))
        if rec is None:
            op = Operation(NOOP, Fact(subject, relation, obj, 0.0, 0, t), t, source)
            self.operations.append(op)
            return op
        return self._delete(rec, t, source)

    def _delete(self, rec: _FactRec, t: float, provenance: str) -> Operation:
        self.graph.invalidate_data(rec.data, t)
        del self._current[(rec.s, rec.r, rec.o)]
        del self._by_sr[(rec.s, rec.r)][rec.o]
        op = Operation(DELETE, rec.fact(), t, provenance)
        self.operations.append(op)
        return op

    # ------------------------------------------------------------------ priors
    def load_priors(self, knowledge: Mapping[str, Any], t: float | None = None, recorded_at: float = 0.0) -> int:
        """Add the facts of a knowledge mapping (see ``load_knowledge``) as priors. Returns the count."""
        n = 0
        for f in knowledge_facts(knowledge):
            self.assert_fact(f["subject"], f["relation"], f["object"], confidence=float(f.get("confidence", 1.0)),
                             support=int(f.get("support", 1)), t=0.0 if t is None else t, source="prior",
                             recorded_at=recorded_at)
            n += 1
        return n

    # ------------------------------------------------------------------ consolidation
    def consolidate(self, region_counts: Mapping[tuple[str, str], int], t: float | None = None,
                    recorded_at: float = 0.0) -> list[Operation]:
        """Distil counted regularities into facts; returns the operations it took (NOOPs left out)."""
        if not self.enabled:
            return []
        t = self.now if t is None else float(t)
        if not math.isfinite(t):
            t = 0.0
        cfg = self.config
        ops: list[Operation] = []
        wanted: dict[tuple[str, str, str], tuple[float, int]] = {}
        totals: dict[str, int] = {}
        for (label, _), n in region_counts.items():
            totals[label] = totals.get(label, 0) + n
        for (label, region), n in region_counts.items():
            frac = n / totals[label]
            if n >= cfg.min_support and frac >= cfg.min_fraction:
                wanted[(label, "found_in", region)] = (round(frac, 6), n)
        for key, attempts in self._attempts.items():
            for event, n in self._outcomes.get(key, {}).items():
                frac = n / attempts
                if n >= cfg.min_support and frac >= cfg.min_fraction:
                    wanted[(key, "yields", event)] = (round(frac, 6), n)
        for (s, r, o), (conf, support) in sorted(wanted.items()):
            op = self.assert_fact(s, r, o, confidence=conf, support=support, t=t, source="consolidated",
                                  recorded_at=recorded_at)
            if op.op != NOOP:
                ops.append(op)
        for key, rec in sorted(self._current.items()):
            if rec.source == "consolidated" and key not in wanted:
                ops.append(self._delete(rec, t, "consolidation: support fell below threshold"))
        return ops

    # ------------------------------------------------------------------ queries
    def facts(self, subject: str | None = None, relation: str | None = None, object: str | None = None,
              at: float | None = None) -> list[Fact]:
        """Facts matching the given fields: current ones, or those valid at ``at``. Sorted by id order."""
        if not self.enabled:
            return []
        if at is None:
            pool: Iterable[_FactRec] = self._current.values()
        else:
            pool = (r for r in self._facts if self.graph.valid_at(r.data, at))
        out = [r.fact() for r in pool if (subject is None or r.s == subject) and (relation is None or r.r == relation)
               and (object is None or r.o == object)]
        out.sort(key=lambda f: int(f.id.split("-")[1]))
        return out

    def about(self, names: Iterable[str]) -> list[Fact]:
        """Current facts whose subject or object is one of ``names`` (or contains it as a word)."""
        if not self.enabled:
            return []
        names = set(names)
        out = []
        for r in self._current.values():
            words = set(r.s.split()) | set(r.o.split()) | {r.s, r.o}
            if words & names:
                out.append(r.fact())
        out.sort(key=lambda f: int(f.id.split("-")[1]))
        return out

    def stats(self) -> dict[str, int]:
        return {"facts": len(self._current), "facts_ever": len(self._facts), "operations": len(self.operations)}


def knowledge_facts(knowledge: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The validated facts of a knowledge file (``load_knowledge``) as dicts (subject, relation,
    object, confidence); ``ValueError`` naming the bad entry otherwise."""
    if not isinstance(knowledge, Mapping) or "facts" not in knowledge:
        raise ValueError("a knowledge file must be a mapping with a 'facts' list")
    out = []
    for i, f in enumerate(knowledge["facts"]):
        if isinstance(f, (list, tuple)) and len(f) in (3, 4):
            d = {"subject": f[0], "relation": f[1], "object": f[2]}
            if len(f) == 4:
                d["confidence"] = f[3]
        elif isinstance(f, Mapping) and {"subject", "relation", "object"} <= set(f):
            d = dict(f)
        else:
            raise ValueError(f"facts[{i}] must be [subject, relation, object] or a mapping with those keys, got {f!r}")
        for k in ("subject", "relation", "object"):
            d[k] = str(d[k])
        out.append(d)
    return out


def load_knowledge(name_or_path: str | Path) -> dict[str, Any]:
    """Read a YAML knowledge file: a path, or the name of one shipped in ``embodied_mem/data/knowledge``."""
    import yaml

    p = Path(name_or_path)
    if not p.exists():
        from importlib import resources

        cand = resources.files("embodied_mem") / "data" / "knowledge" / f"{name_or_path}.yaml"
        if not cand.is_file():
            raise FileNotFoundError(f"knowledge file {name_or_path!r} is neither a path nor a packaged name "
                                    f"(embodied_mem/data/knowledge/*.yaml)")
        text = cand.read_text()
    else:
        text = p.read_text()
    data = yaml.safe_load(text)
    knowledge_facts(data)  # validate
    return data
