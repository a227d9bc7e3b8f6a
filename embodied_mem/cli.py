"""The ``embodied-mem`` command: a small dispatcher; each sub-command lives in its own module.

Hydra-driven sub-commands (``run``, ``train-encoder``, ``robot``, ``bench``) receive the remaining
arguments as Hydra overrides (``embodied-mem run episodes=2 steps=500 seed=3``). A missing optional
package prints one line naming its install command (exit 2); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import importlib
import os
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
    "fleet": ("embodied_mem.fleet.cli:main", "fleet memory on PostgreSQL: `fleet init URL`, `fleet add-robot URL F R`"),
}


HYDRA_COMMANDS = ("run", "train-encoder", "eval-encoder")  # Hydra completes their keys and choices

# Commands whose process holds a memory for long (closed-loop episodes, a robot's bridge): they have glibc map
# every block from 128 KiB up apart from its heap (``memory.heap.map_large_blocks``) before anything large is
# allocated, so that a grown column or a freed numpy temporary goes back to the system at once. Measured at 1M
# sightings without a budget (benchmarks/memory_ops.py's stream), two pairs: 29-30 MiB less RSS (the memory's
# ~172 MiB), durable ingest CPU within the noise (-0.5 % and +3.9 %). The library never does this by itself (it changes the whole process);
# EMBODIED_MEM_MAP_LARGE_BLOCKS=0 turns it off.
MAP_LARGE_BLOCKS_COMMANDS = ("run", "robot")


def _set_up_process(name: str) -> bool:
    """Process-wide settings of a command's own process, before it imports or allocates anything large:
    ``heap.map_large_blocks()`` for ``MAP_LARGE_BLOCKS_COMMANDS`` (unless ``EMBODIED_MEM_MAP_LARGE_BLOCKS=0``).
    True when the allocator setting was made; False otherwise (another command, turned off, not glibc).
    ValueError (naming the variable and its accepted values) when the variable holds anything else."""
    if name not in MAP_LARGE_BLOCKS_COMMANDS:
        return False
    value = os.environ.get("EMBODIED_MEM_MAP_LARGE_BLOCKS", "1").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value not in ("1", "true", "yes", "on", ""):
        raise ValueError(f"EMBODIED_MEM_MAP_LARGE_BLOCKS={os.environ['EMBODIED_MEM_MAP_LARGE_BLOCKS']!r}: "
                         "use 1 (the default: map large blocks apart from the heap) or 0 (leave the allocator as it is)")
    from .memory import heap

    return heap.map_large_blocks()

BASH_COMPLETION = r"""# bash completion for embodied-mem: eval "$(embodied-mem --shell-completion install=bash)"
_embodied_mem_complete() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    if (( COMP_CWORD == 1 )); then
        COMPREPLY=($(compgen -W "%(commands)s" -- "$cur")); return
    fi
    local sub=${COMP_WORDS[1]}
    case " %(hydra)s " in
        *" $sub "*)
            local line="embodied-mem-$sub ${COMP_LINE#*"$sub"}"
            local choices=$(COMP_POINT=${#line} COMP_LINE="$line" "${COMP_WORDS[0]}" "$sub" -sc query=bash 2>/dev/null)
            COMPREPLY=($(compgen -o nospace -o default -W "$choices" -- "$cur"));;
        *) COMPREPLY=($(compgen -f -- "$cur"));;
    esac
}
COMP_WORDBREAKS=${COMP_WORDBREAKS//=}
complete -o nospace -o default -F _embodied_mem_complete embodied-mem
"""


def completion_script(shell: str) -> str:
    """The shell completion script: sub-commands, then Hydra's keys and choices for Hydra commands."""
    if shell != "bash":
        raise ValueError(f"shell completion is available for bash, not {shell!r}")
    return BASH_COMPLETION % {"commands": " ".join(COMMANDS), "hydra": " ".join(HYDRA_COMMANDS)}


def usage() -> str:
    lines = ["usage: embodied-mem COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`embodied-mem COMMAND --help` for a command's options; --debug shows full tracebacks;",
              'bash completion: eval "$(embodied-mem --shell-completion install=bash)"']
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``embodied-mem``. Output piped into a reader that stops early (``| head``)
    ends quietly with status 1, as Python's documentation recommends, not with a traceback."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at interpreter exit
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the exit-time flush must not raise again
        return 1


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--debug"]:  # `embodied-mem --debug run ...` is `embodied-mem run ... --debug`
        argv = [*argv[1:], "--debug"]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] in ("-sc", "--shell-completion"):
        shell = next((a.split("=", 1)[1] for a in argv[1:] if a.startswith("install=")), "bash")
        try:
            print(completion_script(shell))
        except ValueError as exc:
            print(f"embodied-mem: {exc}", file=sys.stderr)
            return 2
        return 0
    name, rest = argv[0], argv[1:]
    if name in HYDRA_COMMANDS and any(a in ("-sc", "--shell-completion") for a in rest) and any(
            a.startswith("install=") for a in rest):
        return _main(["--shell-completion", *[a for a in rest if a.startswith("install=")]])
    if name not in COMMANDS:
        print(f"embodied-mem: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        _set_up_process(name)
    except ValueError as exc:
        print(f"embodied-mem: {exc}", file=sys.stderr)
        return 2
    from .deps import as_dependency_error

    module, _, func = COMMANDS[name][0].partition(":")
    try:
        fn = getattr(importlib.import_module(module), func)
        result = fn(rest)
    except Exception as exc:  # a missing optional package is the user's to install, not a bug
        dep = as_dependency_error(exc)
        if dep is None or "--debug" in rest:
            raise
        print(f"embodied-mem {name}: {dep}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
