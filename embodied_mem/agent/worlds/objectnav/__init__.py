"""Object search ("go to the X you saw earlier") in Habitat-style worlds (``indoor3d``, ``habitat``)
on the shared ``AgentLoop``: RGB-D + semantic frames fused into a working 3D map, frontier
exploration, geodesic navigation, and remembered goals from lifelong memory.

The env declares (``env.metadata["embodied_mem"]``): ``world: "objectnav"``, ``labels`` (goal
categories in ``objectgoal`` index order), ``actions`` (stop, move_forward, turn_left, turn_right in
id order) and ``camera`` (``width``, ``height`` pixels, ``hfov`` radians, ``sensor_height`` and
``max_depth`` metres), ``turn`` (radians per turn action) and ``agent_radius`` (metres). No module
here imports ``embodied_mem.envs``. ``kit.KIT`` is the ``WorldKit``.
"""
