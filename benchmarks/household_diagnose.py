"""Why an ablation costs what it costs in the changing household: the full agent's own memory at
the start of each scored fetch task, read with each module switched off in the decision.

Run: ``.venv/bin/python benchmarks/household_diagnose.py`` (8 households x 5 days, ~10 s). The full
agent lives through the same (stratified) households and task schedule as in ``benchmarks/household.py``; before
each scored fetch task (day 1 on) it counts, against the simulator's log: whether the last sighting
of the object predates the last slot (routine) change and whether the object moved since; whether
the spatial belief and the routine fact for this slot are right; and how often the first place of
``HouseholdWorld.rank`` is right with all modules, and with temporal / semantic / episodic memory
left out of the decision (the same memory: only the ranking changes; so "without temporal" here
still has the routines the full agent consolidated from its timeline, which the no_temporal agent
never learns), and with two modules left out (how much one stands in for the other). For the tasks whose first
place is wrong, which module (if any) pointed at the true place; the same per kind of object
(``by_kind_routine`` / ``away`` / ``anywhere``). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=8)
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="households from first-seed on, half 6-room and half 9-room (stratified_seeds, as the benchmark)")
    args = ap.parse_args(argv)
    from embodied_mem.envs.indoor3d.household import DAY, Household, stratified_seeds
    from embodied_mem.envs.indoor3d.household_env import HouseholdEnv

    from embodied_mem.agent.config import AgentConfig
    from embodied_mem.agent.factory import make_robomemory
    from embodied_mem.agent.worlds import describe
    from embodied_mem.agent.worlds.household.world import HomeMap, HouseholdWorld
    from embodied_mem.memory import Memory

    c: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in stratified_seeds(args.first_seed, args.households):
            wf = Household(seed, days=args.days).save(Path(tmp) / f"household-{seed}.json")
            env = HouseholdEnv(world_file=str(wf))
            house = env.house
            agent = make_robomemory({"critic": {}}, env=env, seed=seed)
            memory = Memory({"spatial": {"place_radius": 1.5}})
            home = HomeMap.from_declared(describe(env).extra)
            cfg = AgentConfig().household
            for ep in range(env.n_tasks):
                memory.new_episode(f"task-{ep}")
                agent.reset(memory, seed=seed * 1000 + ep)
                obs, info = env.reset()
                t = env.clock
                if env.kind == "fetch" and t >= DAY:
                    obj, truth = env.target, house.where(env.target, env.clock)
                    locs = memory.spatial.locate(obj)
                    belief = home.nearest_place(locs[0].position) if locs else None
                    last = memory.temporal.last_seen(obj)
                    moved = [m for m in house.moves(obj) if m[0] <= t]
                    facts = memory.semantic.facts(subject=obj, relation=f"{home.slot(t)}_at")
                    fact = facts[0].object if facts else None
                    c["fetch_tasks"] += 1
                    kind = house.objects[obj]  # routine / away (keys, backpack: at home now) / anywhere (toys)
                    c[f"by_kind_{kind}_tasks"] += 1
                    c["last_sighting_before_last_slot_change"] += last is None or last < home.last_slot_change(t)
                    c["moved_since_last_sighting"] += last is None or (bool(moved) and moved[-1][0] > last)
                    c["belief_right"] += belief == truth
                    c["routine_fact_right"] += fact == truth
                    for off in ("none", "tm", "sem", "ep", "sem+ep", "tm+ep"):
                        w = HouseholdWorld(memory, home, cfg)
                        if off != "none":
                            for module in off.split("+"):
                                setattr(w, module, None)
                        first = w.rank(obj, t, env.place_names[env.place], set())[0]
                        c[f"first_place_right_{'all_modules' if off == 'none' else 'without_' + off}"] += first == truth
                        if off == "none":
                            c[f"by_kind_{kind}_first_place_right"] += first == truth
                        if off == "none" and first != truth:
                            scored = w.beliefs(obj, t)
                            why = ("belief" if truth == belief else "routine_fact" if truth == fact
                                   else "other_module" if truth in scored else "no_module")
                            c["first_wrong_truth_" + why] += 1
                            c[f"by_kind_{kind}_first_wrong_truth_{why}"] += 1
                for _ in range(env.max_steps):
                    obs, _, term, trunc, info = env.step(agent.act(obs, info))
                    if term or trunc:
                        break
    print(json.dumps(dict(sorted(c.items())), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
