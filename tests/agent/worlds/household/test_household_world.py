"""The household agent: each memory module changes the search order, the critic stops a blocked
retry, routines become semantic facts (ADD/UPDATE/DELETE), questions are answered from memory."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("open3d")
pytest.importorskip("gymnasium")

from embodied_mem.envs.indoor3d.household import DAY, Household  # noqa: E402
from embodied_mem.envs.indoor3d.household_env import HouseholdEnv  # noqa: E402

from embodied_mem import Memory, Percept, Pose, Sighting, View  # noqa: E402
from embodied_mem.agent.factory import make_reactive, make_robomemory  # noqa: E402
from embodied_mem.agent.worlds import describe  # noqa: E402
from embodied_mem.agent.worlds.household import answers  # noqa: E402
from embodied_mem.agent.worlds.household.config import HouseholdConfig  # noqa: E402
from embodied_mem.agent.worlds.household.world import (  # noqa: E402
    AWAY,
    HomeMap,
    HouseholdWorld,
    checked_text,
    found_text,
    learn_routines,
)

H = 3600.0


@pytest.fixture(scope="module")
def env():
    return HouseholdEnv(0, days=2)


@pytest.fixture(scope="module")
def home(env):
    return HomeMap.from_declared(describe(env).extra)


def see(mem: Memory, home: HomeMap, t: float, label: str, place: str, events: tuple[str, ...] = ()) -> None:
    x, y = home.xy[place]
    mem.observe(Percept(t=t, pose=Pose(x, y, 0.0, 0.0), sightings=(Sighting(label, (x, y, 0.8), instance=label),),
                        events=events, region=home.rooms_of[place], source="test"))


def memory_with_history(home: HomeMap, ablation: str | None = None) -> Memory:
    """The mug moves at every slot change (A morning, C midday, B afternoon, D evening) on day 0; on
    day 1 it was last seen on A in the morning; a routine fact says B in the afternoon; a past
    search in the afternoon (day 0) found it on the far place F."""
    cfg = {} if ablation is None else {ablation: {"enabled": False}}
    mem = Memory(cfg)
    P = home.places
    A, B, C, D, F = P[0], P[1], P[2], P[3], P[-1]
    for t, p in ((8 * H, A), (8.5 * H, A), (11 * H, C), (14 * H, B)):
        see(mem, home, t, "mug", p)
    see(mem, home, 15.5 * H, "book", F, events=(found_text("mug", F, "afternoon"),))
    for t, p in ((19 * H, D), (DAY + 8 * H, A)):
        see(mem, home, t, "mug", p)
    mem.semantic.assert_fact("mug", "afternoon_at", B, confidence=0.8, support=3, exclusive=True)
    return mem


def first(mem: Memory, home: HomeMap, here: str, t: float = DAY + 15 * H) -> list[str]:
    w = HouseholdWorld(mem, home, HouseholdConfig())
    return w.rank("mug", t, here, set())


def test_each_memory_module_changes_the_search_order(home):
    P = home.places
    A, B, F = P[0], P[1], P[-1]
    here = P[2]
    full = first(memory_with_history(home), home, here)
    assert full[0] == B  # stale belief (moved at each slot change), routine says B this afternoon
    no_temporal = first(memory_with_history(home, "temporal"), home, here)
    assert no_temporal[0] == A  # cannot tell the belief is hours old: goes to A first
    no_semantic = first(memory_with_history(home, "semantic"), home, here)
    assert no_semantic[0] != B
    no_spatial = first(memory_with_history(home, "spatial"), home, here)
    assert A not in no_spatial[:1]
    no_episodic = first(memory_with_history(home, "episodic"), home, here)
    assert full.index(F) < no_episodic.index(F)  # the recalled past search pulls the far place forward
    # ... but only at the time of day it was made: in the morning it says nothing
    assert first(memory_with_history(home), home, here, t=DAY + 8.5 * H).index(F) == \
        first(memory_with_history(home, "episodic"), home, here, t=DAY + 8.5 * H).index(F)
    # a fresh sighting (same slot) beats the routine
    mem = memory_with_history(home)
    see(mem, home, DAY + 14.9 * H, "mug", A)
    assert first(mem, home, here)[0] == A


def test_without_memory_the_order_is_nearest_first(home):
    w = HouseholdWorld(None, home, HouseholdConfig())
    here = home.places[0]
    order = w.rank("mug", 10 * H, here, {here})
    d = [home.distance(here, p) for p in order]
    assert d == sorted(d) and here not in order


def test_routines_become_facts_and_are_replaced_when_they_change(home):
    mem = Memory()
    P = home.places
    cfg = HouseholdConfig(routine_min_support=2)
    for day in range(2):
        see(mem, home, day * DAY + 15 * H, "mug", P[1])
    ops = learn_routines(mem, home, ["mug"], 2 * DAY + 8 * H, cfg)
    assert [(o.op, o.fact.relation, o.fact.object) for o in ops] == [("ADD", "afternoon_at", P[1])]
    f = mem.semantic.facts(subject="mug", relation="afternoon_at")[0]
    w = 1 + cfg.routine_decay  # yesterday counts 1, the day before routine_decay
    assert f.support == 2 and f.confidence == pytest.approx(w / (w + 1), abs=1e-3)
    for day in range(2, 4):  # the routine changes: afternoons now on P[3]
        see(mem, home, day * DAY + 15 * H, "mug", P[3])
    # two days each way: the newer habit wins (recency-weighted days)
    ops = learn_routines(mem, home, ["mug"], 4 * DAY + 8 * H, cfg)
    kinds = [(o.op, o.fact.object) for o in ops]
    assert ("DELETE", P[1]) in kinds and ("ADD", P[3]) in kinds
    assert [f.object for f in mem.semantic.facts(subject="mug", relation="afternoon_at")] == [P[3]]
    assert not learn_routines(Memory({"semantic": {"enabled": False}}), home, ["mug"], 6 * DAY, cfg)


def test_routines_are_consolidated_from_the_timeline(home):
    """Routines come from temporal memory's sightings (when was what seen where): without temporal
    memory nothing is learned, even though spatial memory still holds its as-of beliefs; without
    spatial memory the timeline alone suffices."""
    P = home.places
    cfg = HouseholdConfig()
    for ablation, learns in ((None, True), ("temporal", False), ("spatial", True)):
        mem = Memory({} if ablation is None else {ablation: {"enabled": False}})
        for day in range(2):
            see(mem, home, day * DAY + 8 * H, "mug", P[2])
            see(mem, home, (day + 1) * DAY + 2 * H, "mug", P[4])  # the small hours: the night slot of the day before
        ops = learn_routines(mem, home, ["mug"], 2 * DAY + 12 * H, cfg)
        facts = {(o.fact.relation, o.fact.object) for o in ops if o.op == "ADD"}
        assert (("morning_at", P[2]) in facts) == learns, ablation
        assert (("night_at", P[4]) in facts) == learns, ablation


def _blocked_setup(tmp_path):
    """A household with every door of its log closed all the time, and a place the robot cannot reach."""
    for seed in range(8):
        h = Household(seed, days=2)
        d = json.loads(json.dumps(h.to_dict()))
        d["events"] = sorted([e for e in d["events"] if e["kind"] != "door"] +
                             [{"t": 0.0, "kind": "door", "what": door.name, "to": "closed"} for door in h.doors],
                             key=lambda e: e["t"])
        path = tmp_path / f"closed-{seed}.json"
        path.write_text(json.dumps(d))
        hc = Household.load(path)
        dist = hc.distances(8 * H)
        cut = int((dist[0] > 1e9).sum())
        if 0 < cut <= len(dist) // 2:  # the robot (starting on place 0) lives in the larger part
            return path
    pytest.skip("no household with a door that cuts the home in two")


def _fetch_with_false_belief(tmp_path, config):
    path = _blocked_setup(tmp_path)
    env = HouseholdEnv(world_file=str(path))
    agent = make_robomemory(config, env=env, seed=0)
    mem = Memory()
    while True:
        mem.new_episode()
        agent.reset(mem, seed=0)
        obs, info = env.reset()
        if env.kind == "fetch" and env.target not in info["seen_at"]:
            dist = env.house.distances(env.clock)
            if not (dist[env.place] < 1e9).all():
                break
        for _ in range(env.max_steps):
            obs, _, term, trunc, info = env.step(agent.act(obs, info))
            if term or trunc:
                break
    dist = env.house.distances(env.clock)
    cut = next(i for i in range(len(env.place_names)) if not dist[env.place, i] < 1e9)
    home = HomeMap.from_declared(describe(env).extra)
    see(mem, home, env.clock, env.target, env.place_names[cut])  # told it is where the robot cannot go
    actions = []
    for _ in range(env.max_steps):
        a = agent.act(obs, info)
        actions.append(a)
        obs, _, term, trunc, info = env.step(a)
        if term or trunc:
            break
    return actions, 1 + cut, info


def test_the_critic_gives_up_a_place_behind_a_closed_door(tmp_path):
    with_critic, cut, info = _fetch_with_false_belief(tmp_path, {})
    assert with_critic[:3] == [cut] * 3  # tried three times (60 s of the clock without progress)
    assert any(a != cut for a in with_critic[3:])  # then put aside: the search goes on elsewhere
    without, cut2, info2 = _fetch_with_false_belief(tmp_path, {"critic": {"enabled": False}})
    assert cut2 == cut and without == [cut] * len(without) and not info2["success"]


def test_agents_live_through_a_day_on_the_shared_loop(env):
    def live(agent, mem):
        e = HouseholdEnv(0, days=1)
        out = []
        for _ in range(e.n_tasks):
            if mem is not None:
                mem.new_episode()
            agent.reset(mem, seed=0)
            obs, info = e.reset()
            for _ in range(e.max_steps):
                obs, _, term, trunc, info = e.step(agent.act(obs, info))
                if term or trunc:
                    break
            out.append(info)
        return out

    mem = Memory()
    full = live(make_robomemory({}, env=env, seed=0), mem)
    fetch = [i for i in full if i["task"] == "fetch"]
    assert len(fetch) >= 5 and sum(i["success"] for i in fetch) / len(fetch) >= 0.8
    assert mem.spatial.labels() and mem.temporal.between(0, DAY, kind="event")
    reactive = make_reactive({}, env=env, seed=0)
    memless = live(reactive, Memory())
    assert reactive.memory is None
    assert sum(i["path_length"] for i in memless if i["task"] == "fetch") > \
        sum(i["path_length"] for i in fetch)


def test_every_ablation_acts_here_and_no_prior_is_refused(env):
    agent = make_robomemory({}, env=env, seed=0)
    for name in ("full", "no_spatial", "no_temporal", "no_episodic", "no_semantic", "no_long_term", "no_critic"):
        agent.check_ablation(name)
    with pytest.raises(ValueError, match="no_prior"):
        agent.check_ablation("no_prior")


def test_questions_are_answered_from_memory(home):
    mem = Memory()
    door = "door:a|b"
    x, y = home.xy[home.places[0]]
    for t, state in ((8 * H, "open"), (9 * H, "closed")):
        mem.observe(Percept(t=t, pose=Pose(x, y, 0, 0), events=(f"{door} {state}",), source="test"))
    assert answers.was_open(mem, door, 8.2 * H) is True
    assert answers.was_open(mem, door, 8.9 * H) is False  # the nearer look (after) says closed
    assert answers.was_open(mem, door, 9.5 * H) is False
    assert answers.was_open(mem, door, 7.5 * H) is True  # nothing before: the first look after
    assert answers.was_open(mem, door, 12 * H) is None  # nothing seen within max_age: memory does not know
    assert answers.was_open(mem, "door:c|d", 8.5 * H) is None
    assert answers.was_open(Memory({"temporal": {"enabled": False}}), door, 8.5 * H) is None
    P = home.places
    room = home.rooms_of[P[0]]
    elsewhere = next(p for p in P if home.rooms_of[p] != room)
    see(mem, home, 10 * H, "mug", P[0])
    see(mem, home, DAY + 10 * H, "mug", elsewhere)
    assert answers.changed_in_room(mem, home, room, DAY + 10.5 * H, 10.5 * H) == {"mug"}
    assert answers.where_is(mem, home, HouseholdConfig(), "mug", DAY + 10.5 * H) == elsewhere
    assert answers.where_is(None, home, HouseholdConfig(), "mug", DAY) is None
    assert answers.score_answer("changed", set(), []) == 1.0
    assert answers.score_answer("changed", {"mug"}, ["mug", "keys"]) == 0.5
    assert answers.score_answer("where", None, "kitchen:table") == 0.0
    assert answers.guess("door", None) is True and answers.guess("changed", None) == []
    assert answers.guess("where", None) is None and answers.guess("door", False) is False


def test_a_door_seen_closed_this_morning_is_answered_closed_only_with_temporal_memory(home):
    door = "door:a|b"
    x, y = home.xy[home.places[0]]
    out = {}
    for ablation in (None, "temporal", "spatial", "semantic", "episodic"):
        mem = Memory({} if ablation is None else {ablation: {"enabled": False}})
        for t, state in ((7.5 * H, "open"), (9 * H, "closed"), (11 * H, "open")):
            mem.observe(Percept(t=t, pose=Pose(x, y, 0, 0), events=(f"{door} {state}",), source="test"))
        out[ablation] = answers.guess("door", answers.was_open(mem, door, 9.25 * H))
    assert out[None] is False  # full: seen closed at 09:00
    assert out["temporal"] is True  # no record of when anything was seen: the usual guess, wrong here
    assert out["spatial"] is out["semantic"] is out["episodic"] is False  # temporal alone answers it


def test_changes_since_yesterday_come_from_the_as_of_beliefs_at_both_times(home):
    P = home.places
    room = home.rooms_of[P[0]]
    inside = next(p for p in P if home.rooms_of[p] == room and p != P[0]) if sum(
        home.rooms_of[p] == room for p in P) > 1 else P[0]
    out = next(p for p in P if home.rooms_of[p] != room)
    full, no_tm = Memory(), Memory({"temporal": {"enabled": False}})
    for mem in (full, no_tm):
        # yesterday 10:00: mug and keys in the room, book elsewhere; today 09:30: the mug moved out,
        # the book came in, the keys stayed (moved within the room); the toy's place was looked at
        # today without it (gone: nobody saw where) so it counts neither way
        for label, place in (("mug", P[0]), ("keys", P[0]), ("book", out), ("toy", P[0])):
            see(mem, home, 10 * H, label, place, events=(checked_text(place),))
        see(mem, home, DAY + 9 * H, "toy", P[0], events=(checked_text(P[0]),))
        for label, place in (("mug", out), ("keys", inside), ("book", P[0])):  # P[0] looked at: no toy
            see(mem, home, DAY + 9.5 * H, label, place, events=(checked_text(place),))
    then = answers.as_of(full, home, 10.5 * H)
    assert then == {"mug": P[0], "keys": P[0], "book": out, "toy": P[0]}
    now = answers.as_of(full, home, DAY + 10 * H)
    assert now["mug"] == out and now["keys"] == inside and now["toy"] is None  # looked at, not there
    assert answers.as_of(full, home, DAY + 20 * H) == {}  # every sighting older than max_age: no belief
    assert answers.changed_in_room(full, home, room, DAY + 10 * H, 10 * H) == {"mug", "book"}
    # without temporal memory there is no record of when: spatial memory (which still holds where
    # things are now, and its own as-of history) is not read for it
    assert no_tm.spatial.locate("mug")
    assert answers.as_of(no_tm, home, DAY + 10 * H) is None
    assert answers.changed_in_room(no_tm, home, room, DAY + 10 * H, 10 * H) is None


def test_answers_follow_the_robots_percepts_not_the_log(env, home):
    """A door the log says was closed, but that the robot saw open (a wrong percept), is answered
    "open": the answer is made from memory only (the benchmark keeps the log's truth to itself)."""
    house = env.house
    door = house.doors[0].name
    t = next(e["t"] + 60.0 for e in house.events if e["kind"] == "door" and e["what"] == door and e["to"] == "closed"
             and e["t"] > 7 * H)
    assert house.door_open(door, t) is False
    mem = Memory()
    mem.observe(Percept(t=t, pose=Pose(*home.xy[home.places[0]], 0, 0), events=(f"{door} open",), source="test"))
    assert answers.was_open(mem, door, t) is True


def test_a_place_looked_at_since_the_last_routine_change_is_searched_later(home):
    """The routine says B this afternoon, but B was looked at (without the mug) after 13:00."""
    def memory(ablation=None):
        mem = Memory({} if ablation is None else {ablation: {"enabled": False}})
        P = home.places
        mem.semantic.assert_fact("mug", "afternoon_at", P[1], confidence=0.8, support=3, exclusive=True)
        x, y = home.xy[P[1]]
        mem.observe(Percept(t=DAY + 14 * H, pose=Pose(x, y, 0, 0), events=(checked_text(P[1]),), source="test"))
        return mem

    here = home.places[2]
    assert first(memory(), home, here)[0] != home.places[1]
    assert first(memory("temporal"), home, here)[0] == home.places[1]


def test_a_look_right_after_the_slot_change_does_not_rule_out_the_routine_place(home):
    """Routine moves run a little late: B looked at at 13:05 (before the mug was brought) stays first
    at 15:00; looked at at 13:30 (after ``settle_s``) it drops back."""
    def memory(t_check):
        mem = Memory()
        P = home.places
        mem.semantic.assert_fact("mug", "afternoon_at", P[1], confidence=0.8, support=3, exclusive=True)
        x, y = home.xy[P[1]]
        mem.observe(Percept(t=DAY + t_check, pose=Pose(x, y, 0, 0), events=(checked_text(P[1]),), source="test"))
        return mem

    here, B = home.places[2], home.places[1]
    assert HouseholdConfig().settle_s == 900.0
    assert first(memory(13 * H + 300), home, here)[0] == B
    assert first(memory(13.5 * H), home, here)[0] != B


def test_persistence_is_learned_from_sightings_and_never_rises_with_more_slot_changes(home):
    """The mug moved at every slot change (memory_with_history): after one change it is unlikely to
    be where it was; an object never seen gets the home's rate; more changes never make it likelier."""
    w = HouseholdWorld(memory_with_history(home), home, HouseholdConfig())
    mug = w.persistence("mug", DAY + 15 * H)
    assert mug[1] < 0.5 < mug[0]
    assert all(a >= b for a, b in zip(mug, mug[1:]))
    unseen = w.persistence("keys", DAY + 15 * H)
    assert unseen != mug and all(a >= b for a, b in zip(unseen, unseen[1:]))


def look(mem: Memory, home: HomeMap, t: float, places: list[str], seen: tuple[tuple[str, str], ...] = ()) -> None:
    """The robot looks at ``places`` at ``t`` (each a ``"checked <place>"`` event, the view covering
    them, as the env's percept) and sees ``seen`` (label, place)."""
    x, y = home.xy[places[0]]
    xs, ys = [home.xy[p][0] for p in places], [home.xy[p][1] for p in places]
    sightings = tuple(Sighting(lab, (*home.xy[p], 0.8), instance=lab) for lab, p in seen)
    view = View.rect(min(xs) - 0.5, min(ys) - 0.5, max(xs) + 0.5, max(ys) + 0.5)
    mem.observe(Percept(t=t, pose=Pose(x, y, 0.0, 0.0), sightings=sightings, view=view,
                        events=tuple(checked_text(p) for p in places), region=home.rooms_of[places[0]], source="test"))


def test_keys_taken_out_on_afternoons_become_an_away_routine_and_the_answer_away(home):
    """Keys seen in the morning, then nowhere in the afternoon although the robot looked at nearly
    every place: semantic memory learns (keys, afternoon_at, away); asked in a later afternoon
    where the keys are, the robot says "away" instead of their morning place. Without temporal
    memory there is no record of what was looked at when: no away routine, no "away"."""
    P = list(home.places)
    cfg = HouseholdConfig()
    for ablation in (None, "temporal", "semantic"):
        mem = Memory({} if ablation is None else {ablation: {"enabled": False}})
        for day in range(3):
            look(mem, home, day * DAY + 8 * H, [P[0]], seen=(("keys", P[0]),))
            look(mem, home, day * DAY + 14 * H, P[1:])  # every other place: no keys
            look(mem, home, day * DAY + 16 * H, [P[0]])  # nor where they lay this morning
        look(mem, home, 3 * DAY + 8 * H, [P[0]], seen=(("keys", P[0]),))
        ops = learn_routines(mem, home, ["keys"], 3 * DAY + 9 * H, cfg)
        facts = {(o.fact.relation, o.fact.object) for o in ops if o.op == "ADD"}
        assert (("afternoon_at", AWAY) in facts) == (ablation is None), ablation
        look(mem, home, 3 * DAY + 14 * H, [P[0]])  # this afternoon: not on their morning place
        answer = answers.where_is(mem, home, cfg, "keys", 3 * DAY + 15 * H)
        assert (answer == AWAY) == (ablation is None), (ablation, answer)
        # the search never goes to "away": fetch ranks places only
        w = HouseholdWorld(mem, home, cfg)
        assert set(w.rank("keys", 3 * DAY + 15 * H, P[0], set())) <= set(P)


def test_keys_not_seen_anywhere_since_the_last_slot_change_are_taken_away(home):
    """Temporal memory alone: last seen this morning; since the midday change every place was
    looked at without them -> "away" (when last seen: ``taken_away``); a look at most places before
    the change says nothing about now; without temporal memory nothing is known."""
    P = list(home.places)
    cfg = HouseholdConfig()
    for ablation in (None, "semantic", "temporal"):
        mem = Memory({} if ablation is None else {ablation: {"enabled": False}})
        look(mem, home, DAY + 8 * H, [P[0]], seen=(("keys", P[0]),))
        look(mem, home, DAY + 9 * H, P)  # before the 10:00 change: they may come back at 10:00
        w = HouseholdWorld(mem, home, cfg)
        assert w.taken_away("keys", DAY + 11 * H) is None, ablation
        assert answers.where_is(mem, home, cfg, "keys", DAY + 11 * H) != AWAY
        look(mem, home, DAY + 11 * H, P)  # after the change (+ settle): everywhere, no keys
        expect = DAY + 8 * H if ablation != "temporal" else None
        assert HouseholdWorld(mem, home, cfg).taken_away("keys", DAY + 12 * H) == expect, ablation
        assert (answers.where_is(mem, home, cfg, "keys", DAY + 12 * H) == AWAY) == (ablation != "temporal")


@pytest.mark.parametrize("key,value", [("away_cover", 2.0), ("away_cover", float("nan")), ("away_cover", 0),
                                       ("recall_k", 0), ("recall_k", 2.5), ("routine_decay", -0.1),
                                       ("settle_s", float("inf")), ("distance_cost", "far"), ("blind_weight", True)])
def test_bad_household_setting_is_refused_naming_it(key, value):
    from embodied_mem.agent.config import AgentConfig

    with pytest.raises(ValueError, match=rf"agent\.household\.{key} must be"):
        AgentConfig.from_dict({"household": {key: value}})
