"""Run a Hydra app as an ``embodied-mem`` sub-command, the way a command-line user expects.

- A user error (bad key or value, unknown choice, ``+key=`` outside a free-form section, a missing
  optional package, a missing launcher plugin) prints **one line** to stderr and exits 2, before
  anything runs. A bug prints its traceback. ``--debug`` shows the full traceback for both.
- ``-m`` / ``--multirun`` picks the parallel joblib launcher when no ``hydra/launcher=`` is given;
  a single run never needs a launcher plugin, so a core install (no extras) runs.
- ``--help`` prints the command's own help: its config groups (without the internal ``schema``
  entries) and the composed config; ``-sc query=bash`` goes to Hydra unchanged (the completion
  script itself comes from ``embodied-mem --shell-completion install=bash``, see ``cli.py``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["UsageError", "run_app", "one_line", "launcher_overrides"]


class UsageError(ValueError):
    """A mistake in what the user asked for (not a bug): reported in one line, exit status 2.

    Other exceptions with a true ``user_facing`` class attribute (a missing Node.js, say) are
    reported the same way.
    """


# launcher choice (configs/hydra/launcher/*.yaml or the plugin's own names) -> plugin module
LAUNCHER_MODULES = {
    "joblib": "hydra_plugins.hydra_joblib_launcher",
    "ray": "hydra_plugins.hydra_ray_launcher",
    "ray_local": "hydra_plugins.hydra_ray_launcher",
    "ray_aws": "hydra_plugins.hydra_ray_launcher",
    "submitit_local": "hydra_plugins.hydra_submitit_launcher",
    "submitit_slurm": "hydra_plugins.hydra_submitit_launcher",
    "slurm": "hydra_plugins.hydra_submitit_launcher",
}


def one_line(exc: BaseException) -> str:
    """An exception (and Hydra's multi-line messages and their cause) as one readable line."""
    parts: list[str] = []
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        text = _collapse(str(e))
        if text and not any(text in p for p in parts):
            parts.append(text)
        e = e.__cause__
    return ": ".join(parts) or type(exc).__name__


def _collapse(text: str) -> str:
    out: list[str] = []
    items: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Config search path"):
            break
        if not line or line.startswith(("full_key:", "object_type=", "reference_type=", "Set the environment")):
            continue
        if raw.startswith("\t") or raw.startswith("    "):  # Hydra lists options indented under a header
            if line != "schema" and not line.endswith("_schema"):
                items.append(line)
            continue
        if items:
            out[-1] = out[-1].rstrip(":") + ": " + ", ".join(items)
            items = []
        out.append(line)
    if items and out:
        out[-1] = out[-1].rstrip(":") + ": " + ", ".join(items)
    return "; ".join(out)


def launcher_overrides(argv: list[str]) -> list[str]:
    """Add ``hydra/launcher=joblib`` to a sweep that names no launcher; refuse a launcher whose plugin is missing."""
    from .deps import INSTALL_HINTS, available

    multirun = any(a in ("-m", "--multirun") for a in argv)
    chosen = [a.split("=", 1)[1] for a in argv if a.startswith("hydra/launcher=")]
    if not multirun and not chosen:
        return argv
    name = chosen[-1] if chosen else "joblib"
    module = LAUNCHER_MODULES.get(name)
    if module is not None and not available(module):
        extra = "ray" if "ray" in module else "sweeps"
        hint = INSTALL_HINTS.get(module) or f'pip install "embodied_mem[{extra}]"'
        alt = " (or add hydra/launcher=basic to run the jobs one after another)" if not chosen else ""
        raise UsageError(f"the {name} launcher is not installed: {hint}{alt}")
    if chosen:
        return argv
    # Hydra's parser takes the overrides as one run of positional arguments: join that run (or lead it)
    first = next((i for i, a in enumerate(argv) if "=" in a and not a.startswith("-")
                  and (i == 0 or argv[i - 1] not in _VALUED_OPTIONS)), 0)
    return [*argv[:first], "hydra/launcher=joblib", *argv[first:]]


_VALUED_OPTIONS = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn", "--config-dir",
                   "-cd", "--info", "-i", "--experimental-rerun", "-sc", "--shell-completion"}


def check_additions(overrides: Iterable[str], open_sections: Iterable[str]) -> None:
    """Refuse ``+key=value`` / ``++key=value`` unless ``key`` lies in a free-form section."""
    open_sections = tuple(open_sections)
    for ov in overrides:
        if not ov.startswith("+") or "=" not in ov:
            continue
        key = ov.lstrip("+").split("=", 1)[0].strip()
        if key.startswith(("hydra.", "hydra/")) or any(key == s or key.startswith(s + ".") for s in open_sections):
            continue
        where = f" (free-form sections: {', '.join(open_sections)})" if open_sections else ""
        raise UsageError(f"{ov!r}: '+' adds a key, but this config's keys are fixed; set an existing key "
                         f"with {key}=VALUE{where}")


def print_help(prog: str, config_name: str, about: str, keys: Iterable[str] | None = None,
               usage: str | None = None) -> None:
    """The command's own help: what it does, its config groups and options, and the composed config."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    GlobalHydra.instance().clear()
    with initialize_config_module("embodied_mem.configs", version_base="1.3"):
        full = compose(config_name, return_hydra_config=True)
        loader = GlobalHydra.instance().config_loader()
        groups = []
        for g, choice in sorted((full.hydra.runtime.choices or {}).items()):
            if g.startswith("hydra/") or g.endswith("schema") or (keys is not None and g not in keys):
                continue
            opts = [o for o in loader.get_group_options(g) if o != "schema" and not o.endswith("_schema")]
            if opts:
                groups.append(f"  {g}: {', '.join(opts)}  (default: {choice})")
        cfg = OmegaConf.masked_copy(full, [k for k in full if k != "hydra"])
        if keys is not None:  # only these keys matter to this command
            cfg = OmegaConf.create({k: OmegaConf.select(cfg, k) for k in keys})
    GlobalHydra.instance().clear()
    text = [f"usage: {usage or prog + ' [-m] [--debug] [KEY=VALUE ...] [GROUP=OPTION ...]'}", "", about, ""]
    if groups:
        text += ["config groups (GROUP=OPTION):", *groups, ""]
    text += ["config (override any key with KEY=VALUE; -m sweeps a comma list, e.g. seed=0,1,2):", "",
             OmegaConf.to_yaml(cfg).rstrip(), "",
             "--debug shows full tracebacks; --shell-completion install=bash prints Hydra's completion script."]
    print("\n".join(text))


def run_app(task: Callable[[Any], Any], config_name: str, argv: list[str], *, prog: str, about: str = "",
            check: Callable[[list[str]], None] | None = None, open_sections: Iterable[str] = (),
            help_keys: Iterable[str] | None = None, usage: str | None = None) -> int:
    """Run ``task(cfg)`` under ``hydra.main`` with ``argv``; returns the exit status (0, or 2 on a user error)."""
    import hydra

    from .deps import DependencyNotInstalled, as_dependency_error

    argv = list(argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    completion = any(a in ("-sc", "--shell-completion") for a in argv)
    if not completion and any(a in ("-h", "--help") for a in argv):
        print_help(prog, config_name, about, help_keys, usage)
        return 0
    try:
        if not completion:
            overrides = [a for a in argv if not a.startswith("-")]
            check_additions(overrides, open_sections)
            if check is not None:
                check(overrides)
            argv = launcher_overrides(argv)
    except (UsageError, DependencyNotInstalled) as exc:
        if debug:
            raise
        print(f"{prog}: {one_line(exc)}", file=sys.stderr)
        return 2

    failure: dict[str, BaseException] = {}

    def _task(cfg: Any) -> Any:
        try:
            return task(cfg)
        except Exception as exc:
            dep = as_dependency_error(exc)
            user = isinstance(exc, UsageError) or getattr(exc, "user_facing", False)  # e.g. Node.js missing
            if (dep is None and not user) or debug:
                raise
            failure["user"] = dep or exc  # reported below in one line; not a failed job with a traceback
            return None

    app = hydra.main(config_path="pkg://embodied_mem.configs", config_name=config_name, version_base="1.3")(_task)
    old_argv, old_env = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    sys.argv = [prog.replace(" ", "-"), *argv]
    os.environ["HYDRA_FULL_ERROR"] = "1"  # exceptions come out here, where we decide how to report them
    try:
        app()
        if "user" in failure:
            print(f"{prog}: {one_line(failure['user'])}", file=sys.stderr)
            return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:
        if debug:
            raise
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        config_error = isinstance(exc, (HydraException, OmegaConfBaseException)) and not _raised_in(exc, _task)
        if not (config_error or isinstance(exc, UsageError) or as_dependency_error(exc) is not None
                or getattr(exc, "user_facing", False)):
            raise  # a bug (in a job, say): the traceback is what a developer needs
        print(f"{prog}: {one_line(as_dependency_error(exc) or exc)}", file=sys.stderr)  # the user's input
        return 2
    finally:
        sys.argv = old_argv
        if old_env is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = old_env
    return 0


def _raised_in(exc: BaseException, fn: Callable[..., Any]) -> bool:
    """Whether ``exc`` passed through ``fn`` (i.e. came from the task, not from composing the config)."""
    tb = exc.__traceback__
    code = getattr(fn, "__code__", None)
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return True
        tb = tb.tb_next
    return False
