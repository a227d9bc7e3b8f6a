"""Every code block of the README runs here, as a newcomer would run it.

- ```python blocks run in a fresh interpreter in an empty folder and must print something; a
  ```text block right after one is what it must print, exactly.
- ```console blocks: each ``$ command`` runs in that folder (``embodied-mem`` is this checkout's
  CLI); the lines shown under it must appear in its output, in order (a line ``...`` stands for
  any lines). A ``<!-- readme-test: numbers vary -->`` comment before a block lets numbers differ.
- ```bash blocks and inline `embodied-mem ...` commands in the text: every Hydra command must
  compose its config (``--cfg job``: keys, values and choices are checked, nothing runs; a sweep
  is checked with the first value of each swept key). ``make`` lines and placeholders are skipped.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
SHARED = next((p for p in (REPO.parent / "shared", Path("/work/shared")) if (p / "data").is_dir()), None)

_FENCE = re.compile(r"(?P<pre>(?:<!--[^\n]*-->\n)?)```(?P<lang>\w*)\n(?P<body>.*?)```\n", re.S)


def _blocks() -> list[tuple[str, str, str, int]]:
    """(lang, body, marker comment, line number) of each fenced block."""
    return [(m["lang"], m["body"], m["pre"], README[:m.start()].count("\n") + 1) for m in _FENCE.finditer(README)]


def _python_cases() -> list[tuple[int, str, str | None]]:
    blocks = list(_FENCE.finditer(README))
    out = []
    for i, m in enumerate(blocks):
        if m["lang"] != "python":
            continue
        expected = None
        if i + 1 < len(blocks) and blocks[i + 1]["lang"] == "text":
            between = README[m.end():blocks[i + 1].start()]
            if len(between.strip().splitlines()) <= 1:  # at most one line of prose: the block's output
                expected = blocks[i + 1]["body"]
        out.append((README[:m.start()].count("\n") + 1, m["body"], expected))
    return out


def _env(tmp: Path) -> dict[str, str]:
    bindir = tmp / ".bin"
    bindir.mkdir(exist_ok=True)
    shim = bindir / "embodied-mem"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m embodied_mem.cli "$@"\n')
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "MPLBACKEND": "Agg", "COLUMNS": "100"}


@pytest.mark.parametrize(("line", "code", "expected"), _python_cases(), ids=lambda v: f"L{v}" if isinstance(v, int) else "")
def test_python_blocks_run_and_print_what_the_readme_shows(tmp_path: Path, line: int, code: str,
                                                            expected: str | None) -> None:
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env=_env(tmp_path))
    assert r.returncode == 0, f"README line {line}:\n{r.stderr[-3000:]}"
    assert r.stdout.strip(), f"README line {line}: the block prints nothing"
    if expected is not None:
        assert r.stdout == expected, f"README line {line} prints:\n{r.stdout}"


def _matches(expected: list[str], output: list[str], numbers_vary: bool) -> bool:
    """Whether the expected lines appear in order in the output ('...' = any lines)."""
    def norm(s: str) -> str:
        s = s.rstrip()
        return re.sub(r"\d+(\.\d+)?", "N", s) if numbers_vary else s

    out = [norm(o) for o in output]
    pos = 0
    for e in expected:
        if e.strip() == "...":
            continue
        try:
            pos = out.index(norm(e), pos) + 1
        except ValueError:
            return False
    return True


def _console_cases() -> list[tuple[int, str, list[str], bool]]:
    cases = []
    for lang, body, pre, line in _blocks():
        if lang != "console":
            continue
        cmd, shown = None, []
        for row in body.splitlines() + ["$ "]:
            if row.startswith("$ "):
                if cmd:
                    cases.append((line, cmd, shown, "numbers vary" in pre))
                cmd, shown = row[2:].split("  #")[0].strip(), []
            else:
                shown.append(row)
    return cases


@pytest.mark.parametrize(("line", "cmd", "shown", "numbers_vary"), _console_cases(),
                         ids=lambda v: f"L{v}" if isinstance(v, int) else "")
def test_console_blocks_print_what_the_readme_shows(tmp_path_factory: pytest.TempPathFactory, line: int, cmd: str,
                                                     shown: list[str], numbers_vary: bool) -> None:
    # one working folder per README block, so a block's commands see each other's files
    work = tmp_path_factory.getbasetemp() / f"readme-L{line}" / "work"
    work.mkdir(parents=True, exist_ok=True)
    if "../shared/" in cmd:
        if SHARED is None:
            pytest.skip("the shared data folder is not on this machine")
        link = work.parent / "shared"
        if not link.exists():
            link.symlink_to(SHARED)
    r = subprocess.run(cmd, shell=True, cwd=work, capture_output=True, text=True, timeout=300, env=_env(work))
    assert r.returncode == 0, f"README line {line}: `{cmd}` failed:\n{r.stderr[-3000:]}"
    assert _matches(shown, r.stdout.splitlines(), numbers_vary), \
        f"README line {line}: `{cmd}` printed\n{r.stdout}\nexpected (in order):\n" + "\n".join(shown)


HYDRA = {"run", "train-encoder", "eval-encoder", "bench", "robot"}


def _commands() -> list[tuple[int, str]]:
    """`embodied-mem ...` commands of bash blocks and inline code spans, with their README line."""
    out = []
    for lang, body, _, line in _blocks():
        if lang == "bash":
            body = re.sub(r"\\\n\s*", " ", body)  # a command continued with a backslash is one command
            out += [(line, row.split("  #")[0].strip()) for row in body.splitlines()
                    if row.startswith("embodied-mem ")]
    prose = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), README)
    for m in re.finditer(r"`(embodied-mem [^`]+)`", prose):
        out.append((prose[:m.start()].count("\n") + 1, m[1].strip()))
    return out


def _composable(cmd: str) -> list[str] | None:
    """The command's arguments for a composition check, or None when it is not a runnable Hydra command."""
    if "<" in cmd or "[" in cmd or "|" in cmd:
        return None  # a usage line (<date>, [overrides], a|b), not a command
    args = shlex.split(cmd)[1:]
    if not args or args[0] not in HYDRA or (args[0] == "robot" and args[1:2] != ["run"]):
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser, keep = OverridesParser.create(), []
    for a in args:
        if a in ("-m", "--multirun"):
            continue
        if "=" in a and not a.startswith("-"):
            ov = parser.parse_override(a)
            if ov.is_sweep_override():
                a = f"{ov.get_key_element()}={next(iter(ov.sweep_string_iterator()))}"
        keep.append(a)
    return [*keep, "--cfg", "job"]


@pytest.mark.parametrize(("line", "cmd"), _commands(), ids=lambda v: f"L{v}" if isinstance(v, int) else str(v)[:60])
def test_readme_commands_compose(tmp_path: Path, line: int, cmd: str) -> None:
    args = _composable(cmd)
    if args is None:
        pytest.skip(f"not a Hydra command with concrete arguments: {cmd}")
    r = subprocess.run([sys.executable, "-m", "embodied_mem.cli", *args], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120, env=_env(tmp_path))
    assert r.returncode == 0 and r.stdout.strip(), f"README line {line}: `{cmd}`:\n{r.stderr[-2000:]}"


def test_the_readme_has_code_blocks_of_each_kind() -> None:
    kinds = {lang for lang, *_ in _blocks()}
    assert {"python", "console", "bash", "text"} <= kinds
    assert len(_commands()) >= 10 and len(_console_cases()) >= 4 and _python_cases()
