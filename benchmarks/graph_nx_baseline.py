"""The networkx MemoryGraph as it was before the columnar one (commit 3c07cf3), kept only as the
baseline of ``benchmarks/graph_compact.py`` (same run, same stream). Not part of the package."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

NODE_KINDS = frozenset({"agent", "place", "region", "object", "event", "episode", "chunk", "concept"})

__all__ = ["MemoryGraph", "NODE_KINDS", "GraphError"]


class GraphError(ValueError):
    """Bad use of the graph: unknown node kind, missing node, edge that does not exist."""


class MemoryGraph:
    """Typed, bi-temporal knowledge graph. Node ids are strings; edges are keyed per (u, v)."""

    def __init__(self) -> None:
        import networkx  # deferred: about half of ``import embodied_mem``'s time otherwise

        self.nx: nx.MultiDiGraph = networkx.MultiDiGraph()

    # ------------------------------------------------------------------ nodes
    def add_node(self, node_id: str, kind: str, **props: Any) -> str:
        """Add (or update the properties of) a node of ``kind``. Returns its id."""
        if kind not in NODE_KINDS:
            raise GraphError(f"node kind must be one of {sorted(NODE_KINDS)}, got {kind!r}")
        if node_id in self.nx:
            existing = self.nx.nodes[node_id].get("kind")
            if existing != kind:
                raise GraphError(f"node {node_id!r} already exists with kind {existing!r}, not {kind!r}")
            self.nx.nodes[node_id].update(props)
        else:
            self.nx.add_node(node_id, kind=kind, **props)
        return node_id

    def nodes(self, kind: str | None = None) -> list[str]:
        if kind is None:
            return list(self.nx.nodes)
        return [n for n, k in self.nx.nodes(data="kind") if k == kind]

    def node(self, node_id: str) -> dict[str, Any]:
        try:
            return self.nx.nodes[node_id]
        except KeyError:
            raise GraphError(f"no node {node_id!r} in the memory graph") from None

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.nx

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    # ------------------------------------------------------------------ edges
    def add_edge(
        self,
        u: str,
        v: str,
        relation: str,
        *,
        valid_from: float,
        source: str | int | None,
        confidence: float = 1.0,
        recorded_at: float,
        **props: Any,
    ) -> dict[str, Any]:
        """Add a fact ``u --relation--> v`` valid from ``valid_from``; returns its (live) data dict."""
        for n in (u, v):
            if n not in self.nx:
                raise GraphError(f"edge endpoint {n!r} is not a node; add it first")
        key = self.nx.add_edge(
            u,
            v,
            relation=relation,
            valid_from=float(valid_from),
            valid_to=None,
            recorded_at=float(recorded_at),
            source=source,
            confidence=float(confidence),
            **props,
        )
        return self.nx[u][v][key]

    @staticmethod
    def invalidate_data(data: dict[str, Any], t: float) -> None:
        """Close an edge's validity at ``t`` (clamped to ``valid_from``). No-op if already closed."""
        if data["valid_to"] is None:
            data["valid_to"] = max(float(t), data["valid_from"])

    def invalidate(self, u: str, v: str, key: int, t: float) -> None:
        try:
            data = self.nx[u][v][key]
        except KeyError:
            raise GraphError(f"no edge {u!r} -> {v!r} with key {key}") from None
        self.invalidate_data(data, t)

    @staticmethod
    def valid_at(data: dict[str, Any], t: float | None) -> bool:
        """True when the fact holds at ``t`` (``valid_from <= t < valid_to``); ``t=None`` means now."""
        if t is None:
            return data["valid_to"] is None
        vt = data["valid_to"]
        return data["valid_from"] <= t and (vt is None or vt > t)

    def edges(
        self, u: str | None = None, relation: str | None = None, at: float | None = None, current: bool = False
    ) -> Iterator[tuple[str, str, int, dict[str, Any]]]:
        """Edges (u, v, key, data), optionally from ``u``, of ``relation``, valid at ``at`` or now."""
        it = self.nx.out_edges(u, keys=True, data=True) if u is not None else self.nx.edges(keys=True, data=True)
        for a, b, k, d in it:
            if relation is not None and d.get("relation") != relation:
                continue
            if current and d["valid_to"] is not None:
                continue
            if at is not None and not self.valid_at(d, at):
                continue
            yield a, b, k, d

    def history(self, node_id: str) -> list[dict[str, Any]]:
        """Every fact touching ``node_id`` (in and out, valid or invalidated), by ``valid_from``."""
        if node_id not in self.nx:
            raise GraphError(f"no node {node_id!r} in the memory graph")
        out = []
        for a, b, k, d in self.nx.out_edges(node_id, keys=True, data=True):
            out.append({"u": a, "v": b, "key": k, **d})
        for a, b, k, d in self.nx.in_edges(node_id, keys=True, data=True):
            out.append({"u": a, "v": b, "key": k, **d})
        out.sort(key=lambda e: (e["valid_from"], e["recorded_at"]))
        return out

    def as_of(self, t: float) -> MemoryGraph:
        """A new graph holding the facts valid at ``t`` and the nodes created at or before ``t``."""
        g = MemoryGraph()
        for n, d in self.nx.nodes(data=True):
            created = d.get("created")
            if created is None or created <= t:
                g.nx.add_node(n, **d)
        for a, b, k, d in self.nx.edges(keys=True, data=True):
            if a in g.nx and b in g.nx and self.valid_at(d, t):
                g.nx.add_edge(a, b, key=k, **d)
        return g

    # ------------------------------------------------------------------ export
    def to_dict(self) -> dict[str, Any]:
        """Node-link JSON form (networkx ``node_link_data``), positions as lists."""
        import networkx as nx

        return nx.node_link_data(self.nx, edges="edges")

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), default=_jsonable))
        return path

    def to_graphml(self, path: str | Path) -> Path:
        """Write GraphML. None values are dropped (GraphML has no null); tuples become JSON strings;
        characters XML cannot hold (NUL and other control characters, lone surrogates) are written
        as the text ``\\uXXXX``, so that every export reads back."""
        import networkx as nx

        g = nx.MultiDiGraph()
        for n, d in self.nx.nodes(data=True):
            g.add_node(_xml_text(n), **_graphml_attrs(d))
        for a, b, k, d in self.nx.edges(keys=True, data=True):
            g.add_edge(_xml_text(a), _xml_text(b), key=_xml_text(k), **_graphml_attrs(d))
        path = Path(path)
        nx.write_graphml(g, path)
        return path


def _jsonable(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(v: Any) -> Any:
    if isinstance(v, str) and _NOT_XML.search(v):
        return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", v)
    return v


def _graphml_attrs(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, (bool, int, float, str)):
            out[_xml_text(k)] = _xml_text(v)
        else:
            out[_xml_text(k)] = json.dumps(v, default=_jsonable)
    return out


def _number_of_nodes(self: MemoryGraph) -> int:
    return self.nx.number_of_nodes()


def _number_of_edges(self: MemoryGraph) -> int:
    return self.nx.number_of_edges()


def _adopt(self: MemoryGraph, other: MemoryGraph) -> None:
    self.nx = other.nx


# the methods today's callers use, with the old storage
MemoryGraph.number_of_nodes = _number_of_nodes  # type: ignore[attr-defined]
MemoryGraph.number_of_edges = _number_of_edges  # type: ignore[attr-defined]
MemoryGraph.adopt = _adopt  # type: ignore[attr-defined]
MemoryGraph.to_nx = lambda self: self.nx  # type: ignore[attr-defined]
