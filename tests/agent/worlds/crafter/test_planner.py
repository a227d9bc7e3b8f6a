"""The symbolic planner over semantic memory: with the Crafter prior, and learning without it."""

from __future__ import annotations

import numpy as np
from embodied_mem.envs.crafter import LABELS

from embodied_mem import Memory, Percept, Pose
from embodied_mem.agent.config import PlannerConfig
from embodied_mem.agent.protocols import Task
from embodied_mem.agent.worlds.crafter.planner import CrafterPlanner, TechTree
from embodied_mem.agent.worlds.crafter.preprocessor import State
from embodied_mem.agent.worlds.crafter.world import ViewWorld


def _state(visible: dict[str, list[tuple[int, int]]], t=1.0, **inv):
    view = np.full((7, 9), LABELS.index("grass"), np.int16)
    pos = (10, 10)
    for label, cells in visible.items():
        for x, y in cells:
            view[y - pos[1] + 3, x - pos[0] + 4] = LABELS.index(label)
    view[3, 4] = LABELS.index("player")
    inventory = {k: 0 for k in ("sapling", "wood", "stone", "coal", "iron", "diamond", "wood_pickaxe",
                                "stone_pickaxe", "iron_pickaxe", "wood_sword", "stone_sword", "iron_sword")}
    inventory.update({"health": 9, "food": 9, "drink": 9, "energy": 9}, **inv)
    vis = {k: list(v) for k, v in visible.items()}
    return State(t=t, pos=pos, facing=(0, 1), view=view, inventory=inventory, achievements={}, labels=LABELS,
                 visible=vis)


class _Planner(CrafterPlanner):
    def plan(self, state, world):  # the task is the configured goals
        return super().plan(Task(self.goals), None, state, world)


def _planner(facts, goals, **kw):
    p = _Planner(PlannerConfig(goals=list(goals), **kw))
    p.refresh_facts(facts)
    return p


def _world(state):
    w = ViewWorld()
    w.update(state)
    return w


def test_prior_plans_the_wood_pickaxe():
    mem = Memory()
    mem.load_priors("crafter")
    s = _state({"tree": [(12, 10)]})
    p = _planner(mem.semantic.facts(), ["make_wood_pickaxe"])
    plan = p.plan(s, _world(s))
    assert [str(g) for g in plan] == ["collect tree wood>=3", "place table", "make wood_pickaxe"]
    assert p.goal == "make_wood_pickaxe"


def test_prior_plans_iron_tools_next_to_both_stations():
    mem = Memory()
    mem.load_priors("crafter")
    s = _state({"tree": [(12, 10)], "table": [(9, 10)], "iron": [(10, 12)]}, wood_pickaxe=1, stone_pickaxe=1,
               wood=1, coal=1, stone=4)
    plan = _planner(mem.semantic.facts(), ["make_iron_pickaxe"]).plan(s, _world(s))
    kinds = [str(g) for g in plan]
    assert kinds[0] == "collect iron iron>=1"
    assert kinds.index("near table") < kinds.index("place furnace") < kinds.index("make iron_pickaxe")


def test_unknown_location_means_explore_and_later_goals_go_first():
    mem = Memory()
    mem.load_priors("crafter")
    s = _state({"water": [(11, 11)]})
    plan = _planner(mem.semantic.facts(), ["collect_wood", "collect_drink"]).plan(s, _world(s))
    assert str(plan[0]) == "collect water drink>=9"  # wood unseen: do what is possible now
    plan = _planner(mem.semantic.facts(), ["collect_wood"]).plan(s, _world(s))
    assert plan[0].kind == "explore" and plan[0].target == "tree"


def test_without_prior_it_experiments_then_learns_from_consolidated_experience():
    mem = Memory({"semantic": {"min_support": 3}})
    s = _state({"tree": [(12, 10)]})
    p = _planner(mem.semantic.facts(), ["collect_wood"], use_prior=False)
    plan = p.plan(s, _world(s))
    assert plan[0].kind == "experiment" and plan[0].target == "wood"  # nothing says where wood comes from
    p2 = _planner(mem.semantic.facts(), ["make_wood_pickaxe"], use_prior=False)
    assert p2.plan(s, _world(s))[0].kind == "experiment"
    # experience: doing a tree yields wood; making a pickaxe next to a table uses one wood
    for t in range(1, 5):
        mem.observe(Percept(t=float(t), pose=Pose(10, 10, 0), events=["+1 wood"], action="do", target="tree"))
    for t in range(5, 9):
        mem.observe(Percept(t=float(t), pose=Pose(10, 10, 0), events=["-1 wood", "+1 wood_pickaxe"],
                            action="make_wood_pickaxe", target="grass"))
    mem.consolidate()
    tree = TechTree.from_facts(mem.semantic.facts())
    assert tree.producer("wood").key == "do tree"
    assert tree.get("make_wood_pickaxe").consumes == {"wood": 1}
    p2.refresh_facts(mem.semantic.facts())
    plan = p2.plan(s, _world(s))
    assert [str(g) for g in plan] == ["collect tree wood>=1", "make wood_pickaxe"]


def test_prior_switch_ignores_prior_facts():
    mem = Memory()
    mem.load_priors("crafter")
    assert len(TechTree.from_facts(mem.semantic.facts(), prior=False)) == 0
    assert TechTree.from_facts(mem.semantic.facts()).get("place_table").consumes == {"wood": 2}
