"""embodied_mem: lifelong, brain-inspired memory for embodied agents.

``import embodied_mem`` is light: it imports numpy (networkx on first use), never a simulator, torch or DDS.
"""

from .graph import MemoryGraph
from .memory import (
    Chunk,
    Event,
    Fact,
    Location,
    Memory,
    MemoryConfig,
    Place,
    Recall,
)
from .percept import (
    ConeView,
    DiscView,
    MaskedView,
    Percept,
    PerceptError,
    PerceptTypeError,
    Pose,
    RectView,
    Sighting,
    View,
)
from .store import StoreError

__version__ = "0.1.0"

__all__ = [
    "Memory", "MemoryConfig", "MemoryGraph", "Percept", "Pose", "Sighting", "View", "DiscView", "RectView",
    "ConeView", "MaskedView", "Location", "Place", "Event", "Chunk", "Fact", "Recall", "PerceptError", "PerceptTypeError",
    "StoreError", "__version__",
]
