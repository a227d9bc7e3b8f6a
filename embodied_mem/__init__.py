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
from .memory.featurize import register_key_encoder as _register_key_encoder
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


def _place_transformer_keys(episodic_config: object) -> object:
    from .encoders import key_encoder  # torch only when a memory asks for it

    return key_encoder("place_transformer", episodic_config)


_register_key_encoder("place_transformer", _place_transformer_keys)  # memory imports no encoder module

__version__ = "0.1.0"

__all__ = [
    "Memory", "MemoryConfig", "MemoryGraph", "Percept", "Pose", "Sighting", "View", "DiscView", "RectView",
    "ConeView", "MaskedView", "Location", "Place", "Event", "Chunk", "Fact", "Recall", "PerceptError", "PerceptTypeError",
    "StoreError", "__version__",
]
