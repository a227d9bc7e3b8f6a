"""`embodied-mem demo` and `embodied-mem memory inspect|query|export`, through the real dispatcher."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import networkx as nx
import pytest

from embodied_mem.cli import main as cli
from embodied_mem.demo import run_demo
from embodied_mem.store import SCHEMA_VERSION


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    answers = run_demo(out, quiet=True)
    return out / "memory.db", answers


def test_demo_answers_where_when_what(demo):
    db, a = demo
    assert db.is_file() and a["db"] == str(db)
    (key,) = a["key_now"]
    assert key.region == "bedroom" and key.position == (15.0, 5.0, 0.0) and key.instance == "key-1"
    (before,) = a["key_before"]
    assert before.region == "hall" and before.position == (7.0, 4.0, 0.0)
    assert a["apple_now"] == [] and a["apple_history"][-1].valid_to == a["apple_eaten_at"]
    assert a["apple_last_seen"] < a["apple_eaten_at"]
    assert a["order"] == ["apple", "key", "bed", "book"]
    assert any(e.text == "ate the apple" for e in a["between"])
    assert a["recall"] and "doorbell" in a["recall"][0].items[0].text
    path = a["path_to_key"]
    assert path and abs(path[-1][0] - 15) + abs(path[-1][1] - 5) == 1  # ends next to the key
    assert {f.subject for f in a["facts"]} >= {"apple", "key"}


def test_demo_command_prints_answers_and_where_the_db_is(tmp_path, capsys):
    assert cli(["demo", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "Q: Where is the key?" in out and "in bedroom" in out
    assert f"Memory database: {tmp_path / 'run' / 'memory.db'}" in out
    assert cli(["demo", "--out", str(tmp_path / "run")]) == 2  # never overwrites a memory
    assert "already holds a memory" in capsys.readouterr().err


def test_inspect(demo, capsys):
    db, _ = demo
    assert cli(["memory", "inspect", str(db)]) == 0
    out = capsys.readouterr().out
    assert "percepts 48" in out and "time span 0 .. 46" in out and "regions: bedroom, hall, kitchen" in out
    assert "key" in out and "apple" in out
    assert cli(["memory", "inspect", str(db), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["percepts"] == 48 and d["time_span"] == [0.0, 46.0] and d["schema_version"] == SCHEMA_VERSION
    assert d["labels"]["apple"]["believed_now"] == 0 and d["labels"]["key"]["believed_now"] == 1


@pytest.mark.parametrize("args, expect", [
    (["locate", "key"], "key at (15, 5, 0) in bedroom"),
    (["locate", "key", "--at", "20"], "key at (7, 4, 0) in hall"),
    (["locate", "apple"], "no belief about 'apple'"),
    (["last_seen", "apple"], "45"),
    (["first_seen", "key"], "16"),
    (["last_seen", "umbrella"], "umbrella never seen"),
    (["between", "45", "46"], "t=46: ate the apple"),
    (["recall", "doorbell"], "heard the doorbell"),
    (["recall", "zebra"], "nothing relevant to 'zebra'"),
    (["facts"], "key opens front door"),
    (["facts", "--subject", "nobody"], "no facts"),
    (["path", "1,1", "14,2"], "(1, 1) -> "),
    (["path", "1,1", "40,40"], "no known path"),
])
def test_query(demo, capsys, args, expect):
    db, _ = demo
    assert cli(["memory", "query", str(db), *args]) == 0
    assert expect in capsys.readouterr().out


def test_query_json(demo, capsys):
    db, _ = demo
    assert cli(["memory", "query", str(db), "locate", "key", "--json"]) == 0
    (loc,) = json.loads(capsys.readouterr().out)
    assert loc["region"] == "bedroom" and loc["position"] == [15.0, 5.0, 0.0]
    assert cli(["memory", "query", str(db), "between", "0", "100", "--limit", "3", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3


def test_queries_do_not_change_the_file(demo, capsys):
    db, _ = demo
    before = db.read_bytes()
    cli(["memory", "query", str(db), "recall", "key"])  # a read-only recall does not strengthen
    capsys.readouterr()
    assert db.read_bytes() == before


def test_export(demo, tmp_path, capsys):
    db, _ = demo
    assert cli(["memory", "export", str(db), str(tmp_path / "g.graphml")]) == 0
    g = nx.read_graphml(tmp_path / "g.graphml", force_multigraph=True)
    assert "object:key-1" in g and g.nodes["object:key-1"]["kind"] == "object"
    assert cli(["memory", "export", str(db), str(tmp_path / "early.json"), "--at", "10"]) == 0
    assert "as of t=10" in capsys.readouterr().out
    data = json.loads((tmp_path / "early.json").read_text())
    assert "object:key-1" not in {n["id"] for n in data["nodes"]}  # not seen before t=16
    assert cli(["memory", "export", str(db), str(tmp_path / "g.csv")]) == 2
    assert "must end in .graphml or .json" in capsys.readouterr().err


def test_errors_name_the_file_and_exit_2(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not a memory")
    other = tmp_path / "other.sqlite"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE x (y)")
    c.commit()
    c.close()
    empty = tmp_path / "empty.db"
    empty.touch()
    for path, msg in ((text, "not an SQLite file"), (other, "not an embodied_mem memory database"),
                      (tmp_path / "missing.db", "no such file"), (empty, "is empty"), (tmp_path, "is a directory")):
        assert cli(["memory", "inspect", str(path)]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and msg in err
    assert not (tmp_path / "missing.db").exists()  # read-only: nothing created


def test_newer_schema_is_refused(demo, tmp_path, capsys):
    db, _ = demo
    newer = tmp_path / "newer.db"
    newer.write_bytes(db.read_bytes())
    c = sqlite3.connect(newer)
    c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    c.commit()
    c.close()
    assert cli(["memory", "query", str(newer), "locate", "key"]) == 2
    assert "newer.db" in capsys.readouterr().err


def test_bad_arguments_exit_2(demo, capsys):
    db, _ = demo
    for args in (["query", str(db), "path", "1,a", "2,2"], ["query", str(db), "teleport"], ["inspect"],
                 ["query", str(db), "locate"]):
        with pytest.raises(SystemExit) as info:
            cli(["memory", *args])
        assert info.value.code == 2
    assert cli(["memory", "query", str(db), "between", "5", "1"]) == 2
    assert "before T0" in capsys.readouterr().err


def test_console_script_runs(demo):
    db, _ = demo
    out = subprocess.run([sys.executable, "-m", "embodied_mem.cli", "memory", "query", str(db), "last_seen", "key"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "32"
