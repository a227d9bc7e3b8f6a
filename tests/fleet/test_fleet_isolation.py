"""Shared and private rows, enforced by the server: each robot's role and row-level security.

The checks run raw SQL under a robot's own login role, as a compromised robot would."""

from __future__ import annotations

import psycopg
import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.fleet import add_robot
from embodied_mem.store import StoreError


def seen(t: float, x: float, label: str = "cup", instance: str | None = None) -> Percept:
    return Percept(t=t, pose=Pose(x, 0.0, 0.0, 0.0), sightings=[Sighting(label, (x, 1.0, 0.0), instance=instance,
                                                                           confidence=0.8)])


@pytest.fixture
def fleets(pg_url: str) -> dict[str, dict[str, str]]:
    creds = {name: add_robot(pg_url, fleet, name) for fleet, name in
             (("house", "tb4-1"), ("house", "tb4-2"), ("lab", "spot"))}
    for name, x in (("tb4-1", 1.0), ("tb4-2", 5.0), ("spot", 9.0)):
        with Memory.open(creds[name]["url"]) as mem:  # robot and fleet come from the credentials
            assert (mem._store.fleet, mem._store.robot) == ({"spot": "lab"}.get(name, "house"), name)
            mem.observe(seen(1.0, x, instance="cup-1"))
            mem.observe(seen(2.0, x + 0.5, label="chair"))
    return creds


def test_fleet_queries_see_the_fleet_and_only_it(fleets) -> None:
    with Memory.open(fleets["tb4-1"]["url"]) as mem:
        mine = mem.fleet.locate("cup")
        assert [(loc.robot, loc.position[0]) for loc in mine] == [("tb4-1", 1.0)]
        both = mem.fleet.locate("cup", fleet=True)
        assert sorted((loc.robot, loc.position[0], loc.confidence) for loc in both) == [
            ("tb4-1", 1.0, pytest.approx(0.8)), ("tb4-2", 5.0, pytest.approx(0.8))]
        assert [loc.robot for loc in mem.fleet.locate("cup", robots=["tb4-2", "spot"])] == ["tb4-2"]  # not spot's
        assert mem.fleet.robots() == ["tb4-1", "tb4-2"]
        assert mem.spatial.locate("cup")[0].position == (1.0, 1.0, 0.0)  # its own memory: only what it saw
        with pytest.raises(ValueError, match="not both"):
            mem.fleet.locate("cup", robots=["tb4-2"], fleet=True)
    with Memory.open(fleets["spot"]["url"]) as mem:
        assert [loc.robot for loc in mem.fleet.locate("cup", fleet=True)] == ["spot"]


def test_a_robots_role_cannot_read_other_fleets_or_write_as_another_robot(fleets) -> None:
    with psycopg.connect(fleets["tb4-1"]["url"], autocommit=True) as c:
        q = lambda sql, *a: c.execute(sql, a).fetchall()  # noqa: E731
        # private rows: only its own journal, meta, snapshot
        assert {r[0] for r in q("SELECT DISTINCT robot FROM embodied_mem.journal")} == {"tb4-1"}
        assert {r[0] for r in q("SELECT DISTINCT robot FROM embodied_mem.meta")} == {"tb4-1"}
        assert {r[0] for r in q("SELECT DISTINCT robot FROM embodied_mem.snapshots")} == {"tb4-1"}
        # shared rows: its fleet's, never another fleet's
        assert {r[0] for r in q("SELECT DISTINCT fleet FROM embodied_mem.sightings")} == {"house"}
        assert {r[0] for r in q("SELECT DISTINCT robot FROM embodied_mem.beliefs")} == {"tb4-1", "tb4-2"}
        assert q("SELECT count(*) FROM embodied_mem.sightings WHERE fleet = 'lab'") == [(0,)]
        assert q("SELECT count(*) FROM embodied_mem.robots WHERE fleet = 'lab'") == [(0,)]
        # writing as another robot, or into another fleet, is refused by the server
        for sql in ("INSERT INTO embodied_mem.journal VALUES ('house', 'tb4-2', 99, 'percept', 0, '{}', '\\x00')",
                    "INSERT INTO embodied_mem.journal VALUES ('lab', 'tb4-1', 99, 'percept', 0, '{}', '\\x00')",
                    "INSERT INTO embodied_mem.sightings VALUES ('house', 'tb4-2', 99, 0, 0, 'cup', '#x', NULL, 0, 0, 0, "
                    "1, NULL, 'x', 0)",
                    "INSERT INTO embodied_mem.meta VALUES ('house', 'tb4-2', 'config', '{}')",
                    "INSERT INTO embodied_mem.robots VALUES ('house', 'intruder', NULL)",
                    "DELETE FROM embodied_mem.journal",
                    "UPDATE embodied_mem.journal SET payload = '{}'",
                    "CREATE TABLE embodied_mem.x (a int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute(sql)
        # another robot's shared rows cannot be changed either (not visible for UPDATE)
        assert c.execute("UPDATE embodied_mem.beliefs SET x = 0 WHERE robot = 'tb4-2'").rowcount == 0
        assert c.execute("UPDATE embodied_mem.beliefs SET robot = 'tb4-2' WHERE robot = 'tb4-1' AND false").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # re-labelling its own row as another robot's
            c.execute("UPDATE embodied_mem.beliefs SET robot = 'tb4-2' WHERE robot = 'tb4-1'")
    with pytest.raises(StoreError, match="belong to robot 'tb4-1'"):
        Memory.open(fleets["tb4-1"]["url"], robot="tb4-2")
    with pytest.raises(StoreError, match="belong to fleet 'house'"):
        Memory.open(fleets["tb4-1"]["url"], fleet="lab")


def test_operator_sees_every_fleet(pg_url: str, fleets) -> None:
    with Memory.open(pg_url, robot="console", fleet="lab", readonly=True) as mem:
        assert [loc.robot for loc in mem.fleet.locate("cup", fleet=True)] == ["spot"]
    with psycopg.connect(pg_url) as c:
        assert c.execute("SELECT count(DISTINCT fleet) FROM embodied_mem.sightings").fetchone()[0] == 2


def test_a_role_that_is_neither_owner_nor_robot_is_refused_clearly(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("DROP ROLE IF EXISTS visitor")
        c.execute("CREATE ROLE visitor LOGIN PASSWORD 'pw'")
    visitor = pg_url.replace("postgres:", "visitor:", 1).replace(pg_url.split(":")[2].split("@")[0], "pw", 1)
    with pytest.raises(StoreError, match="may not create it"):  # no schema yet, and no right to make one
        Memory.open(visitor, robot="r")
    add_robot(pg_url, "house", "tb4-1")  # now the schema exists
    with pytest.raises(StoreError, match="cannot read embodied_mem.schema_info"):
        Memory.open(visitor, robot="r")
