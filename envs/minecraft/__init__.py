"""Minecraft for embodied_mem: a real-server bridge through a Mineflayer sidecar, and a MineRL adapter.

- ``MineflayerEnv`` (``env.py``): a Gymnasium env driving a Mineflayer bot on any Minecraft server
  (by default a local flying-squid server it starts itself, with a generated resource world).
- ``sidecar.py``: the Node.js processes (sidecar, flying-squid server) and their JSON-lines protocol.
- ``task.py``: the memory-driven resource task (worlds, metrics, summary, plots).
- ``minerl.py``: MineRL 0.4.x / 1.0 observation and action dicts <-> Percepts and primitives.
- ``testing.py``: a documented contract fake of MineRL's spaces for tests where minerl is missing.

Frame (memory side): memory x = Minecraft x (east), memory y = Minecraft z (south), memory z =
Minecraft y (up, the height); block units. Importing this package imports nothing heavy.
"""
