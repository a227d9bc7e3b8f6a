"""The Crafter food plan (``agent/worlds/crafter/food.py``): which pasture it walks to, and how that
choice changes when temporal or episodic memory is switched off (the no_temporal / no_episodic
ablations act through it). Real ``Memory``; percepts scripted as the Crafter adapter writes them
(world cells, a 9×7 view around the agent)."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mem import Memory
from embodied_mem.agent.worlds.crafter.config import CrafterConfig
from embodied_mem.agent.worlds.crafter.food import FoodPlan
from embodied_mem.agent.worlds.crafter.preprocessor import State
from embodied_mem.agent.worlds.crafter.world import MemoryWorld, ViewWorld
from embodied_mem.percept import Percept, Pose, Sighting, View

LABELS = ("unknown", "grass", "water", "stone", "tree", "cow", "zombie", "player")
HOME = (30, 30)
A = (40, 30)  # near pasture (distance 10)
B = (30, 46)  # far pasture (distance 16)


def see(mem: Memory, t: float, at: tuple[int, int], cows: tuple[tuple[int, int], ...] = ()) -> None:
    """One step of the agent standing at ``at`` with the 9×7 view around it (grass, and ``cows``)."""
    x0, y0, x1, y1 = at[0] - 4, at[1] - 3, at[0] + 4, at[1] + 3
    free = np.array([(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)], float)
    mem.observe(Percept(t=t, pose=Pose(float(at[0]), float(at[1]), 0.0),
                        sightings=[Sighting("cow", (float(c[0]), float(c[1]), 0.0)) for c in cows],
                        view=View.rect(float(x0), float(y0), float(x1), float(y1)), free=free, source="crafter"))


def state(t: float, pos: tuple[int, int], food: int = 5, cows: tuple[tuple[int, int], ...] = ()) -> State:
    view = np.full((7, 9), LABELS.index("grass"), np.int64)
    for c in cows:
        view[c[1] - pos[1] + 3, c[0] - pos[0] + 4] = LABELS.index("cow")
    inv = {"health": 9, "food": food, "drink": 9, "energy": 9}
    return State(t=t, pos=pos, facing=(0, 1), view=view, inventory=inv, achievements={}, labels=LABELS,
                 visible={"cow": list(cows)} if cows else {})


def world(mem: Memory, t: float, pos: tuple[int, int]) -> MemoryWorld:
    w = MemoryWorld(mem)
    w.update(state(t, pos))
    return w


def learn_grass(plan: FoodPlan, mem: Memory, w: MemoryWorld) -> None:
    """Cows seen on grass often enough for the plan to assert the learned fact."""
    for t in range(0, 55, 5):
        plan.observe(state(float(t), HOME, food=9, cows=((HOME[0] + 2, HOME[1]),)), w)


def temporal_scene(cfg: dict | None = None) -> Memory:
    """A: a cow seen at t=10, then A looked at and found empty at t=100. B: a cow seen at t=90."""
    mem = Memory(cfg or None)
    see(mem, 10, (A[0] - 2, A[1]), cows=(A,))
    see(mem, 90, (B[0] - 2, B[1]), cows=(B,))
    see(mem, 100, (A[0] - 2, A[1]))  # A in view, no cow: checked, empty
    see(mem, 120, HOME)
    return mem


def test_recency_sends_it_to_the_pasture_checked_least_lately_and_no_temporal_changes_that() -> None:
    plan = FoodPlan(CrafterConfig(food_plan=True))
    mem = temporal_scene()
    w = world(mem, 120, HOME)
    learn_grass(plan, mem, w)
    ranked = plan.rank(mem, HOME, 120.0)
    assert [p.cell for p in ranked] == [B]  # A was found empty 20 steps ago: not refilled yet
    assert plan.target(state(120, HOME), w) == B

    plan = FoodPlan(CrafterConfig(food_plan=True))
    mem = temporal_scene({"temporal": {"enabled": False}})
    w = world(mem, 120, HOME)
    ranked = plan.rank(mem, HOME, 120.0)
    assert {p.cell for p in ranked} == {A, B} and all(p.expect == 0.5 for p in ranked)
    assert plan.target(state(120, HOME), w) == A  # where, not when: the nearest pasture


def test_an_emptied_pasture_is_expected_to_refill_only_once_grass_is_learned() -> None:
    cfg = CrafterConfig(food_plan=True, min_expect=0.1)
    plan = FoodPlan(cfg)
    mem = temporal_scene()
    w = world(mem, 120, HOME)
    later = 120.0 + 2000.0
    assert [p.cell for p in plan.rank(mem, HOME, later)] == [B]  # no fact yet: A stays empty
    learn_grass(plan, mem, w)
    facts = mem.semantic.facts("cow", "found_on")
    assert [(f.object, f.source) for f in facts] == [("grass", "learned")] and facts[0].support >= 5
    ranked = plan.rank(mem, HOME, later)
    exp_a = next(p.expect for p in ranked if p.cell == A)
    assert exp_a == pytest.approx(1.0 * (1 - np.exp(-(later - 100.0) / cfg.respawn_steps)), rel=1e-6)


def episodic_scene(cfg: dict | None = None) -> tuple[Memory, FoodPlan, MemoryWorld]:
    """Cows seen in both pastures, never looked for since; a cow was eaten in B (the far one)."""
    mem = Memory(cfg or None)
    plan = FoodPlan(CrafterConfig(food_plan=True))
    see(mem, 10, (A[0] - 2, A[1]), cows=(A,))
    w = world(mem, 20, (B[0] - 1, B[1]))
    for t in (20, 21):  # next to a cow in B, then food +6: it was eaten here
        see(mem, t, (B[0] - 1, B[1]), cows=(B,))
        plan.observe(state(float(t), (B[0] - 1, B[1]), food=3 if t == 20 else 9, cows=(B,)), w)
    see(mem, 40, HOME)
    return mem, plan, world(mem, 40, HOME)


def test_where_hunting_paid_off_outweighs_distance_and_no_episodic_changes_that() -> None:
    mem, plan, w = episodic_scene()
    assert plan.eaten == 1
    ranked = plan.rank(mem, HOME, 40.0)
    by = {p.cell: p for p in ranked}
    assert by[B].utility > 0 and by[A].utility == 0
    assert plan.target(state(40, HOME), w) == B

    mem, plan, w = episodic_scene({"episodic": {"enabled": False}})
    ranked = plan.rank(mem, HOME, 40.0)
    assert all(p.utility == 0 for p in ranked)
    assert plan.target(state(40, HOME), w) == A


def test_a_trip_that_finds_the_pasture_empty_puts_it_aside_and_lowers_its_utility() -> None:
    mem, plan, w = episodic_scene()
    assert plan.target(state(40, HOME), w) == B
    u0 = plan.trip.utility
    w.update(state(60, (B[0] - 2, B[1])))
    assert plan.target(state(60, (B[0] - 2, B[1])), w) == A  # arrived, no cow in view: the next pasture
    assert plan.failed == 1 and w.put_aside_now("pasture", B)
    ranked = plan.rank(mem, HOME, 60.0, aside=lambda c: w.put_aside_now("pasture", c))
    assert [p.cell for p in ranked] == [A]  # B is put aside (in every configuration)
    assert max(c.utility for c in mem.episodic.recall("cow", k=20, strengthen=False)) < u0


def test_without_spatial_memory_or_switched_off_it_never_chooses() -> None:
    mem = temporal_scene()
    assert FoodPlan(CrafterConfig(food_plan=True)).target(state(120, HOME), ViewWorld()) is None
    assert FoodPlan(CrafterConfig(food_plan=False)).target(state(120, HOME), world(mem, 120, HOME)) is None
    assert FoodPlan(CrafterConfig()).config.food_plan is False  # off by default (see README)

