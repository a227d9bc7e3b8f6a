"""Minecraft agent knowledge for the shared ``AgentLoop``: the resource task's skills (collect,
explore, wait), the task planner, the view/memory world models and the coordinate frame, all read
from the env's declared description (``env.metadata["embodied_mem"]``: block labels, items, the
discrete low-level actions, the high-level primitives, the drop table, the frame and the task).

No module here imports ``embodied_mem.envs``. ``kit.KIT`` is the ``WorldKit``. The memoryless
baseline (``reactive``: the same loop without memory or critic) explores by the same outward spiral
(``agent.minecraft.explore=spiral``, the default), so it differs from ``robomemory`` only in what it
remembers; ``agent.minecraft.explore=heading`` gives the older random-heading floor.
"""
