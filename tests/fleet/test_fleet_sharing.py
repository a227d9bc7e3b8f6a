"""The place graph and semantic facts shared fleet-wide: what one robot learned, another can ask for
(with source robot, confidence, bi-temporal), and the server keeps fleets apart (raw SQL under a
robot's own role)."""

from __future__ import annotations

import psycopg
import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.fleet import add_robot


def walk(xs: list[float], t0: float = 0.0, region: str = "hall") -> list[Percept]:
    return [Percept(t=t0 + i, pose=Pose(x, 0.0, 0.0, 0.0), sightings=[Sighting("cup", (x, 1.0, 0.0))], region=region)
            for i, x in enumerate(xs)]


@pytest.fixture
def crew(pg_url: str) -> dict[str, str]:
    return {name: add_robot(pg_url, fleet, name)["url"] for fleet, name in
            (("house", "tb4-1"), ("house", "tb4-2"), ("lab", "spot"))}


def test_another_robot_sees_the_place_graph_and_facts_with_source_and_time(crew: dict[str, str]) -> None:
    with Memory.open(crew["tb4-1"]) as mem:
        for p in walk([0.0, 4.0, 8.0, 12.0, 8.5, 4.2]):  # out and back: places, revisits, edges
            mem.observe(p)
        mem.semantic.assert_fact("cup", "found_in", "kitchen", confidence=0.6, t=2.0)
        mem.semantic.assert_fact("cup", "found_in", "kitchen", confidence=0.9, t=4.0)  # UPDATE: new version
        mem.semantic.assert_fact("mug", "found_in", "office", confidence=0.5, t=3.0)
        mem.semantic.retract("mug", "found_in", "office", t=5.0)
        own_places = mem.spatial.places()
        own_edges = {tuple(sorted((a, b))) for a in (p.id for p in own_places) for b in mem.spatial.neighbours(a)}
    assert len(own_places) >= 3 and own_edges
    with Memory.open(crew["tb4-2"]) as other:
        view = other.fleet
        got = view.places(robots=["tb4-1"])
        assert [(p.id, p.position, p.region, p.visits, p.first_visit, p.last_visit) for p in got] == \
            [(p.id, p.position, p.region, p.visits, p.first_visit, p.last_visit)
             for p in sorted(own_places, key=lambda p: p.id)]
        assert {p.robot for p in view.places(fleet=True)} == {"tb4-1"}
        other.observe(walk([100.0])[0])
        other.flush()  # percept mode: shared every few percepts, on flush and on close
        assert {p.robot for p in view.places(fleet=True)} == {"tb4-1", "tb4-2"}
        assert view.places(robots=["tb4-1"], at=0.5) == [p for p in got if p.first_visit <= 0.5]
        assert {(a, b) for r, a, b in view.place_edges(robots=["tb4-1"])} == own_edges
        now = view.facts("cup", "found_in", fleet=True)
        assert [(f.robot, f.object, f.confidence, f.source, f.valid_from, f.valid_to) for f in now] == \
            [("tb4-1", "kitchen", pytest.approx(0.9), "asserted", 4.0, None)]
        then = view.facts("cup", "found_in", robots=["tb4-1"], at=3.0)  # bi-temporal: as believed at t=3
        assert [(f.confidence, f.valid_from, f.valid_to) for f in then] == [(pytest.approx(0.6), 2.0, 4.0)]
        assert view.facts("mug", fleet=True) == []  # retracted: no longer believed
        mug = view.facts("mug", fleet=True, at=4.0)
        assert [(f.valid_from, f.valid_to) for f in mug] == [(3.0, 5.0)] and mug[0].closed_at >= mug[0].recorded_at
    with Memory.open(crew["spot"]) as spot:  # another fleet: nothing of the house's
        assert spot.fleet.places(fleet=True) == [] or {p.robot for p in spot.fleet.places(fleet=True)} == {"spot"}
        assert spot.fleet.facts(fleet=True) == [] and spot.fleet.facts(robots=["tb4-1"], at=3.0) == []


def test_shared_rows_catch_up_after_a_crash_and_batches_publish_on_flush(pg_url: str, crew: dict[str, str]) -> None:
    with Memory.open(crew["tb4-1"], durability="batch") as mem:
        for p in walk([0.0, 4.0, 8.0]):
            mem.observe(p)
        with Memory.open(crew["tb4-2"], readonly=True) as other:
            assert other.fleet.places(robots=["tb4-1"]) == []  # not flushed: not acknowledged, not shared
            mem.flush()
            assert len(other.fleet.places(robots=["tb4-1"])) == len(mem.spatial.places()) >= 2
        mem.semantic.assert_fact("cup", "found_in", "kitchen", confidence=0.8, t=3.0)
        want = mem.spatial.places()
    with psycopg.connect(pg_url, autocommit=True) as admin:  # the shared rows lost (as if never published)
        for table in ("places", "place_edges", "facts"):
            admin.execute(f"DELETE FROM embodied_mem.{table}")
    with Memory.open(crew["tb4-1"]) as again:  # re-opening publishes the whole state again
        assert again.snapshot_status == "ok"
        got = again.fleet.places()
        assert [(p.id, p.visits) for p in got] == [(p.id, p.visits) for p in sorted(want, key=lambda p: p.id)]
        assert [(f.subject, f.object, f.confidence) for f in again.fleet.facts()] == \
            [("cup", "kitchen", pytest.approx(0.8))]


def test_a_robot_role_cannot_read_or_forge_another_fleets_places_and_facts(crew: dict[str, str]) -> None:
    for name in crew:
        with Memory.open(crew[name]) as mem:
            for p in walk([0.0, 4.0, 8.0]):
                mem.observe(p)
            mem.semantic.assert_fact("cup", "found_in", f"{name}-room", confidence=0.7, t=1.0)
    with psycopg.connect(crew["tb4-1"], autocommit=True) as c:
        q = lambda sql, *a: c.execute(sql, a).fetchall()  # noqa: E731
        for table in ("places", "place_edges", "facts"):
            assert {r[0] for r in q(f"SELECT DISTINCT fleet FROM embodied_mem.{table}")} == {"house"}
            assert {r[0] for r in q(f"SELECT DISTINCT robot FROM embodied_mem.{table}")} == {"tb4-1", "tb4-2"}
            assert q(f"SELECT count(*) FROM embodied_mem.{table} WHERE robot = 'spot'") == [(0,)]
        for sql in ("INSERT INTO embodied_mem.places VALUES ('house', 'tb4-2', 'place:x', 0, 0, 0, NULL, 1, 0, 0, 0, 0)",
                    "INSERT INTO embodied_mem.places VALUES ('lab', 'tb4-1', 'place:x', 0, 0, 0, NULL, 1, 0, 0, 0, 0)",
                    "INSERT INTO embodied_mem.place_edges VALUES ('house', 'tb4-2', 'a', 'b', 0)",
                    "INSERT INTO embodied_mem.facts VALUES ('house', 'tb4-2', 'cup', 'found_in', 'x', 9, NULL, 1, 1, "
                    "'forged', 0, NULL)",
                    "INSERT INTO embodied_mem.facts VALUES ('lab', 'tb4-1', 'cup', 'found_in', 'x', 9, NULL, 1, 1, "
                    "'forged', 0, NULL)",
                    "DELETE FROM embodied_mem.facts",
                    "UPDATE embodied_mem.facts SET robot = 'tb4-2' WHERE robot = 'tb4-1'"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute(sql)
        # another robot's rows are not there to change
        assert c.execute("UPDATE embodied_mem.facts SET confidence = 0 WHERE robot <> 'tb4-1'").rowcount == 0
        assert c.execute("UPDATE embodied_mem.places SET visits = 0 WHERE robot <> 'tb4-1'").rowcount == 0
    with Memory.open(crew["tb4-2"], readonly=True) as mem:
        assert {(f.robot, f.object) for f in mem.fleet.facts("cup", fleet=True)} == {("tb4-1", "tb4-1-room"),
                                                                                    ("tb4-2", "tb4-2-room")}


def test_a_version_1_database_is_migrated_keeping_its_journal(pg_url: str) -> None:
    from embodied_mem.fleet.schema import MIGRATIONS, SCHEMA_VERSION

    with psycopg.connect(pg_url, autocommit=True) as c:  # a database as the first release left it
        with c.transaction():
            for stmt in MIGRATIONS[1]:
                c.execute(stmt)
            c.execute("UPDATE embodied_mem.schema_info SET value = '1' WHERE key = 'schema_version'")
        c.execute("INSERT INTO embodied_mem.robots (fleet, robot) VALUES ('default', 'old')")
    robot = add_robot(pg_url, "house", "tb4-1")["url"]  # the owner's first use migrates
    with psycopg.connect(pg_url) as c:
        assert c.execute("SELECT value FROM embodied_mem.schema_info WHERE key = 'schema_version'").fetchone()[0] == \
            str(SCHEMA_VERSION)
        assert c.execute("SELECT robot FROM embodied_mem.robots ORDER BY robot").fetchall() == [("old",), ("tb4-1",)]
    with Memory.open(robot) as mem:
        for p in walk([0.0, 4.0]):
            mem.observe(p)
    with Memory.open(robot, readonly=True) as mem:
        assert mem.stats()["percepts"] == 2 and len(mem.fleet.places()) == len(mem.spatial.places())
