"""Lifelong memory: spatial, temporal, episodic and semantic modules around one knowledge graph."""

from .config import (
    EpisodicConfig,
    LongTermConfig,
    MemoryConfig,
    SemanticConfig,
    SpatialConfig,
    TemporalConfig,
)
from .episodic import Chunk, EpisodicMemory, Item
from .facade import Memory, Recall, TimeOrderError
from .semantic import Fact, Operation, SemanticMemory, load_knowledge
from .spatial import Location, Place, SpatialMemory
from .temporal import Event, TemporalMemory

__all__ = [
    "Memory", "Recall", "TimeOrderError", "MemoryConfig", "SpatialConfig", "TemporalConfig", "EpisodicConfig",
    "SemanticConfig", "LongTermConfig", "SpatialMemory", "TemporalMemory", "EpisodicMemory", "SemanticMemory",
    "Location", "Place", "Event", "Chunk", "Item", "Fact", "Operation", "load_knowledge",
]
