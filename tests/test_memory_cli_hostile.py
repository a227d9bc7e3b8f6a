"""`embodied-mem memory` against hostile arguments and odd labels (issue 18, item 12): a clear
message and exit 2, never a traceback or a wrong answer with exit 0."""

from __future__ import annotations

import os
import subprocess
import sys

import networkx as nx
import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.memory_cli import main as cli


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "m.db"
    with Memory.open(path) as mem:
        for i in range(10):
            mem.observe(Percept(t=i, pose=Pose(i, 0), sightings=(Sighting("tree", (i, 1)),), events=("walked",)))
        mem.semantic.assert_fact("nul\x00label", "is", "odd\udcffthing")  # facts take any str
    return path


@pytest.mark.parametrize("args, message", [
    (["query", "{db}", "path", "nan,0", "1,1"], "finite coordinates"),
    (["query", "{db}", "path", "0,0", "inf,1"], "finite coordinates"),
    (["query", "{db}", "between", "nan", "nan"], "a time is a number"),
    (["query", "{db}", "locate", "tree", "--at", "nan"], "a time is a number"),
    (["query", "{db}", "facts", "--at", "nan"], "a time is a number"),
    (["export", "{db}", "{dir}"], "is a directory"),
    (["export", "{db}", "{db}/x.json"], "cannot write"),
])
def test_bad_arguments_exit_2_with_a_message(db, tmp_path, capsys, args, message):
    (tmp_path / "x.graphml").mkdir()
    argv = [a.format(db=db, dir=tmp_path / "x.graphml") for a in args]
    with pytest.raises(SystemExit) as e:
        rc = cli(argv)
        raise SystemExit(rc)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_open_ended_times_are_allowed(db, capsys):
    assert cli(["query", str(db), "between", "--json", "--", "-inf", "inf"]) == 0
    assert "walked" in capsys.readouterr().out


def test_undecodable_label_from_argv_prints(db):
    """A label that is not valid UTF-8 on the command line becomes a lone surrogate in Python."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    for q in (["locate", b"\xed\xb3\xbf"], ["recall", b"\xff"], ["facts", "--subject", b"a\xffb"]):
        argv = [sys.executable, "-m", "embodied_mem.cli", "memory", "query", str(db)] + [
            os.fsencode(a) if isinstance(a, str) else a for a in q]
        r = subprocess.run(argv, capture_output=True, env=env)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        assert b"Traceback" not in r.stderr


def test_graphml_export_of_nul_and_surrogate_labels_reads_back(db, tmp_path):
    out = tmp_path / "g.graphml"
    assert cli(["export", str(db), str(out)]) == 0
    g = nx.read_graphml(out)
    assert any("nul\\u0000label" in n for n in g.nodes)
    assert any("odd\\udcffthing" in n for n in g.nodes)
    out = tmp_path / "g.json"
    assert cli(["export", str(db), str(out)]) == 0
