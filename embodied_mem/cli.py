"""The ``embodied-mem`` command: a small dispatcher; each sub-command lives in its own module.

Hydra-driven sub-commands (``run``, ``train-encoder``, ``robot``, ``bench``) receive the remaining
arguments as Hydra overrides (``embodied-mem run episodes=2 steps=500 seed=3``).
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("embodied_mem.runner:main", "run closed-loop episodes (Hydra; e.g. `run episodes=1 steps=10000`)"),
    "report": ("embodied_mem.sweeps.report:main", "summarise a sweep directory into ablation.md/.csv/.png"),
    "memory": ("embodied_mem.memory_cli:main", "inspect or query a memory database (`memory inspect PATH`)"),
    "demo": ("embodied_mem.demo:main", "a scripted walk through a few rooms, fed into memory, with answers"),
    "train-encoder": ("embodied_mem.encoders.train:main", "train the place-centric transformer (Hydra)"),
    "eval-encoder": ("embodied_mem.encoders.evaluate:main", "evaluate an encoder checkpoint (Hydra)"),
    "robot": ("embodied_mem.robots.cli:main", "ROS 2: `robot run transport=dds` or `robot replay BAG_PATH`"),
    "bench": ("embodied_mem.bench.cli:main", "benchmarks: `bench qa` (memory question answering)"),
}


def usage() -> str:
    lines = ["usage: embodied-mem COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"embodied-mem: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module, _, func = COMMANDS[name][0].partition(":")
    fn = getattr(importlib.import_module(module), func)
    result = fn(rest)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
