"""The ``embodied-mem`` command's process set-up: ``run`` and ``robot`` have glibc map large blocks apart
from its heap (``memory.heap.map_large_blocks``) before they start; other commands and the library never
change the allocator (checked in child processes, so the test run's own allocator is left as it is)."""

from __future__ import annotations

import subprocess
import sys
from unittest import mock

import pytest

from embodied_mem import cli
from embodied_mem.memory import heap

# how many blocks glibc maps for a 16 MiB bytearray after a 30 MiB one was freed: 0 with glibc's dynamic
# threshold (raised to 30 MiB by the free: carved from the heap), 1 after map_large_blocks()
CHECK = """
import ctypes
class MI(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MI
big = bytearray(30 * 2**20)
del big
before = libc.mallinfo2().hblks
block = bytearray(16 * 2**20)
print(libc.mallinfo2().hblks - before)
"""


def _mapped_after(prelude: str, env: dict | None = None) -> int:
    out = subprocess.run([sys.executable, "-c", prelude + CHECK], capture_output=True, text=True, timeout=120,
                         env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.strip().splitlines()[-1])


def _glibc_with_mallinfo2() -> None:
    if not heap.can_release():
        pytest.skip("glibc only")
    import ctypes

    try:
        ctypes.CDLL(None).mallinfo2  # noqa: B018 - glibc >= 2.33
    except AttributeError:
        pytest.skip("no mallinfo2")


@pytest.mark.parametrize(("command", "calls"), [("run", 1), ("robot", 1), ("memory", 0), ("report", 0), ("demo", 0)])
def test_run_and_robot_map_large_blocks_before_they_start(command, calls):
    seen = []

    def dispatched(*_a, **_k):  # the command itself: the set-up must already be done
        seen.append(("command", len(called)))
        return 0

    called = []
    with mock.patch.object(heap, "map_large_blocks", lambda *a: called.append(a) or True), \
            mock.patch.object(cli.importlib, "import_module", lambda _m: mock.Mock(main=dispatched)):
        assert cli.main([command]) == 0
    assert called == [()] * calls
    assert seen == [("command", calls)]


def test_the_setting_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("EMBODIED_MEM_MAP_LARGE_BLOCKS", "0")
    with mock.patch.object(heap, "map_large_blocks", side_effect=AssertionError("called")):
        assert cli._set_up_process("run") is False  # noqa: SLF001


@pytest.mark.parametrize("value", ["false", "OFF", " no "])
def test_the_usual_spellings_of_off_turn_it_off(monkeypatch, value):
    monkeypatch.setenv("EMBODIED_MEM_MAP_LARGE_BLOCKS", value)
    with mock.patch.object(heap, "map_large_blocks", side_effect=AssertionError("called")):
        assert cli._set_up_process("run") is False  # noqa: SLF001


def test_a_bad_setting_is_refused_in_one_line_and_nothing_runs(monkeypatch, capsys):
    monkeypatch.setenv("EMBODIED_MEM_MAP_LARGE_BLOCKS", "maybe")
    with mock.patch.object(heap, "map_large_blocks", side_effect=AssertionError("called")), \
            mock.patch.object(cli.importlib, "import_module", side_effect=AssertionError("the command ran")):
        assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "EMBODIED_MEM_MAP_LARGE_BLOCKS='maybe'" in err and "use 1" in err and len(err.strip().splitlines()) == 1


def test_the_cli_set_up_really_changes_the_allocator():
    _glibc_with_mallinfo2()
    assert _mapped_after("from embodied_mem import cli\nassert cli._set_up_process('run') is True\n") == 1
    assert _mapped_after("from embodied_mem import cli\nassert cli._set_up_process('memory') is False\n") == 0


def test_the_library_leaves_the_allocator_as_it_is(tmp_path):
    """A process that uses the library (a budgeted memory too: it trims its heap, never sets it) keeps
    glibc's own settings."""
    _glibc_with_mallinfo2()
    prelude = f"""
from embodied_mem import Memory, MemoryConfig, Percept, Pose, Sighting
for budget in (None, 1):
    cfg = MemoryConfig.from_dict({{}} if budget is None else {{"ram_budget_mb": budget}})
    m = Memory.open({str(tmp_path)!r} + f"/m{{budget}}.db", config=cfg, durability="batch")
    for i in range(3000):
        m.observe(Percept(t=float(i), pose=Pose(float(i % 50), 0.0), sightings=(Sighting(f"o{{i % 97}}", (1.0, 2.0)),)))
    m.temporal.last_seen("o1"); m.episodic.recall("o1")
    m.close()
"""
    assert _mapped_after(prelude) == 0
