"""The Crafter adapter: Gymnasium conformance, sensor-only percepts, metrics and the score formula,
comparability with a standard crafter.Env (render=True), and the counterfactual fairness check."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from embodied_mem.envs.crafter import (
    ACHIEVEMENTS,
    ACTIONS,
    INVENTORY,
    LABELS,
    crafter_score,
    episode_metrics,
    make_percept,
    summarize,
)

crafter = pytest.importorskip("crafter")
gymnasium = pytest.importorskip("gymnasium")


@pytest.fixture(scope="module")
def env():
    from embodied_mem import envs

    e = envs.make("crafter", length=300)
    yield e
    e.close()


def test_check_env():
    from gymnasium.utils.env_checker import check_env

    from embodied_mem import envs

    check_env(envs.make("crafter", length=100, area=(24, 24)), skip_render_check=True)  # a small world resets fast


def _world_crop(env) -> np.ndarray:
    """What the local view should show, read from the simulator (allowed in a test only)."""
    world, p = env._env._world, env._env._player
    px, py = int(p.pos[0]), int(p.pos[1])
    out = np.zeros((7, 9), np.int16)
    for r in range(7):
        for c in range(9):
            x, y = px - 4 + c, py - 3 + r
            if 0 <= x < world.area[0] and 0 <= y < world.area[1]:
                mat, obj = world[(x, y)]
                name = mat if obj is None else type(obj).__name__.lower()
                if name == "plant" and obj.ripe:
                    name = "ripe_plant"
                out[r, c] = LABELS.index(name)
    return out


def test_percept_matches_local_view_and_nothing_more(env):
    obs, info = env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _step in range(120):
        assert "semantic" not in info
        view = obs["view"]
        assert view.shape == (7, 9)
        if not info["sleeping"]:
            np.testing.assert_array_equal(view, _world_crop(env))
        p = info["percept"]
        px, py = info["position"]
        assert (p.pose.x, p.pose.y) == (px, py)
        assert p.t == info["step"]
        seen = {}
        for s in p.sightings:
            x, y = int(s.position[0]), int(s.position[1])
            assert abs(x - px) <= 4 and abs(y - py) <= 3, "a sighting outside the 9x7 view"
            assert p.view.contains(s.position)
            assert LABELS[view[y - py + 3, x - px + 4]] == s.label
            seen[(x, y)] = s.label
        for r in range(7):
            for c in range(9):
                lab = LABELS[view[r, c]]
                if lab not in ("unknown", "grass", "sand", "path", "player"):
                    assert seen.get((px - 4 + c, py - 3 + r)) == lab
        if p.free is not None:
            free = {tuple(map(int, q)) for q in p.free}
            blocked = {tuple(map(int, q)) for q in p.blocked}
            assert not free & blocked
            assert all(abs(x - px) <= 4 and abs(y - py) <= 3 for x, y in free | blocked)
            assert all(LABELS[view[y - py + 3, x - px + 4]] != "lava" for x, y in free), "lava must never be free"
        inv = obs["inventory"]
        assert inv[0] == info["inventory"]["health"] and inv.min() >= 0 and inv.max() <= 9
        obs, _, term, trunc, info = env.step(int(rng.integers(17)))
        if term or trunc:
            break


def test_same_seed_same_episode(env):
    def roll() -> list[bytes]:
        obs, _ = env.reset(seed=11)
        rng = np.random.default_rng(1)
        out = []
        for _ in range(150):
            obs, *_ = env.step(int(rng.integers(17)))
            out.append(obs["view"].tobytes() + obs["inventory"].tobytes())
        return out

    assert roll() == roll()


def test_bad_arguments_are_refused():
    from embodied_mem import envs

    with pytest.raises(ValueError, match="length"):
        envs.make("crafter", length=0)
    e = envs.make("crafter", length=10)
    e.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        e.step(99)


def test_events_record_inventory_changes_and_achievements():
    view = np.full((7, 9), LABELS.index("grass"), np.int16)
    view[3, 4] = LABELS.index("player")
    view[3, 5] = LABELS.index("tree")
    view[0, 0] = LABELS.index("lava")
    p = make_percept(5.0, (10, 10), (1, 0), view, ["achievement collect_wood", "+1 wood"], "do", "tree")
    assert p.action == "do" and p.target == "tree"
    assert [s.label for s in p.sightings] == ["lava", "tree"]
    assert (6.0, 7.0) in {tuple(b) for b in p.blocked.tolist()}  # lava is blocked
    assert p.view.bounds() == (6.0, 7.0, 14.0, 13.0)
    asleep = make_percept(6.0, (10, 10), (1, 0), np.zeros((7, 9), np.int16), [], "sleep", "grass", sleeping=True)
    assert asleep.view is None and not asleep.sightings


def test_score_formula_edges():
    assert crafter_score({a: 100.0 for a in ACHIEVEMENTS}) == pytest.approx(100.0)
    assert crafter_score({}) == 0.0
    assert crafter_score({"collect_wood": 100.0}) == pytest.approx(math.exp(math.log(101) / 22) - 1)
    with pytest.raises(ValueError, match="collect_wood"):
        crafter_score({"collect_wood": 120.0})


def test_score_formula_against_human_experts(shared_data):
    path = shared_data / "crafter" / "scores_crafter_reward-human.json"
    ref = shared_data / "crafter" / "computed_success_rates.json"
    if not path.is_file() or not ref.is_file():
        pytest.skip("Crafter human score files absent")
    runs = json.loads(path.read_text())
    expected = json.loads(ref.read_text())["scores_crafter_reward-human.json"]
    pooled, per_run = [], []
    for run in runs:  # the official score: per run (seed) of 20 episodes, then mean over runs
        episodes = [{"length": run["length"][i], "reward": run["reward"][i],
                     **episode_metrics({"achievements": {a: run[f"achievement_{a}"][i] for a in ACHIEVEMENTS}})}
                    for i in range(len(run["length"]))]
        per_run.append(summarize(episodes)["crafter_score"])
        pooled += episodes
    assert float(np.mean(per_run)) == pytest.approx(expected["score_mean"], abs=0.01)
    assert float(np.mean(per_run)) == pytest.approx(50.53, abs=0.01)
    assert float(np.std(per_run)) == pytest.approx(expected["score_std"], abs=0.01)
    rates = summarize(pooled)["success_rates"]
    for a in ACHIEVEMENTS:
        assert rates[a] == pytest.approx(expected["success_rates_pct"][a], abs=0.01)


def test_plot_writes_success_rates(tmp_path):
    pytest.importorskip("matplotlib")
    from embodied_mem.envs.crafter import plot

    eps = [{"length": 10, "reward": 1.0, "achievements": {"collect_wood": 1}}]
    paths = plot(tmp_path, None, eps, summarize(eps))
    assert [p.name for p in paths] == ["success_rates.png"]
    assert paths[0].stat().st_size > 1000


# ---------------------------------------------------------------------- comparability with crafter.Env
INFO_KEYS = {"percept", "achievements", "position", "facing", "sleeping", "inventory", "unlocked", "daylight", "step"}


def _standard_env(seed: int, length: int):
    """A standard ``crafter.Env`` as the adapter builds its own (9x9 view, 64x64 images, same seed).

    Standard Crafter keeps each chunk's creatures in a ``set`` ordered by memory address and picks the
    creature to despawn by index into it, so two standard envs with the same seed drift apart; the
    reference keeps them in insertion order, as the adapter does (documented in envs/crafter.py)."""
    import collections

    ref = crafter.Env(area=(64, 64), view=(9, 9), size=(64, 64), length=length, seed=seed)
    world, original = ref._world, ref._world.reset

    class _Chunk(dict):  # the part of set Crafter uses, in insertion order
        def add(self, obj):
            self[obj] = None

        def remove(self, obj):
            del self[obj]

    def reset_ordered(seed=None):
        original(seed=seed)
        world._chunks = collections.defaultdict(_Chunk)

    world.reset = reset_ordered
    return ref


def _expected_view(ref) -> np.ndarray:
    """The 9x7 label view around the reference's player, from its semantic map (ripe plants told apart)."""
    p, world = ref._player, ref._world
    view = np.zeros((7, 9), np.int16)
    if p.sleeping:
        return view
    px, py = int(p.pos[0]), int(p.pos[1])
    for r in range(7):
        for c in range(9):
            x, y = px - 4 + c, py - 3 + r
            if 0 <= x < 64 and 0 <= y < 64:
                mat, obj = world[(x, y)]
                name = mat if obj is None else type(obj).__name__.lower()
                if name == "plant" and obj.ripe:
                    name = "ripe_plant"
                view[r, c] = LABELS.index(name)
    return view


def _facing_label(ref) -> str:
    p = ref._player
    mat, obj = ref._world[(int(p.pos[0] + p.facing[0]), int(p.pos[1] + p.facing[1]))]
    if obj is not None:
        name = type(obj).__name__.lower()
        return "ripe_plant" if name == "plant" and obj.ripe else name
    return mat


def _world_state(world) -> tuple:
    objs = tuple((type(o).__name__, int(o.pos[0]), int(o.pos[1]), float(o.health)) for o in world.objects)
    return world._mat_map.tobytes(), objs


def _assert_step_matches(obs, info, ref, ref_info, prev_inv, unlocked, action, target, t):
    assert set(obs) == {"view", "inventory"} and set(info) == INFO_KEYS, "a new field: compare it here too"
    p = ref._player
    inv = ref_info["inventory"] if ref_info else dict(p.inventory)
    view = _expected_view(ref)
    np.testing.assert_array_equal(obs["view"], view, err_msg=f"view at step {t}")
    np.testing.assert_array_equal(obs["inventory"], [min(9, max(0, inv[k])) for k in INVENTORY])
    assert info["inventory"] == inv
    assert info["achievements"] == (ref_info["achievements"] if ref_info else dict(p.achievements))
    assert info["position"] == tuple(int(v) for v in p.pos)
    assert info["facing"] == tuple(int(v) for v in p.facing)
    assert info["sleeping"] == bool(p.sleeping)
    assert info["daylight"] == float(ref._world.daylight)
    assert info["step"] == ref._step == t
    assert info["unlocked"] == unlocked
    events = [f"achievement {n}" for n in unlocked]
    events += [f"{inv[k] - prev_inv[k]:+d} {k}" for k in INVENTORY if inv[k] != prev_inv.get(k, inv[k])]
    expected = make_percept(float(t), info["position"], info["facing"], view, events, action, target,
                            sleeping=bool(p.sleeping))
    got = info["percept"]
    assert (got.t, got.pose, got.sightings, got.events, got.action, got.target) == (
        expected.t, expected.pose, expected.sightings, expected.events, expected.action, expected.target)
    assert (got.view is None) == (expected.view is None)
    if got.view is not None:
        assert got.view.bounds() == expected.view.bounds()
        for a, b in ((got.free, expected.free), (got.blocked, expected.blocked)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 7, 10])  # random play that lives into the first night
def test_render_mode_keeps_the_world_identical_to_crafter_env(seed):
    """render=True: whole episodes (past the first nights), every field of obs and info, the reward,
    the end of the episode, the image and the whole world equal a standard crafter.Env's, step by step."""
    from embodied_mem import envs

    length = 700  # whole episodes: random play dies in the first night (steps ~150-270)
    env = envs.make("crafter", length=length, render=True, render_mode="rgb_array")
    ref = _standard_env(seed, length)
    obs, info = env.reset(seed=seed)
    frame = ref.reset()
    np.testing.assert_array_equal(env.render(), frame)
    prev_inv = dict(ref._player.inventory)
    _assert_step_matches(obs, info, ref, None, prev_inv, [], None, None, 0)
    rng = np.random.default_rng(seed)
    seen_unlocked: set[str] = set()
    night_steps = 0
    for t in range(1, length + 1):
        a = int(rng.choice(17, p=_RANDOM_P))
        target = _facing_label(ref)
        obs, reward, term, trunc, info = env.step(a)
        frame, ref_reward, done, ref_info = ref.step(a)
        unlocked = sorted(n for n, c in ref_info["achievements"].items() if c > 0 and n not in seen_unlocked)
        seen_unlocked.update(unlocked)
        _assert_step_matches(obs, info, ref, ref_info, prev_inv, unlocked, ACTIONS[a], target, t)
        prev_inv = dict(ref_info["inventory"])
        assert reward == ref_reward
        assert (term or trunc) == done and term == (ref._player.health <= 0)
        np.testing.assert_array_equal(env.render(), frame, err_msg=f"image at step {t}")
        assert _world_state(env._env._world) == _world_state(ref._world), f"world at step {t}"
        night_steps += bool(ref._world.daylight < 0.5)  # the image got night noise from the world's generator
        if done:
            break
    assert night_steps >= 20, f"the episode ended at step {t}, before the first night"


# Random play that lives long enough to see nights: mostly moves and 'do', a little of everything.
_RANDOM_P = np.array([2, 4, 4, 4, 4, 6, 0.5] + [0.5] * 10, float)
_RANDOM_P /= _RANDOM_P.sum()


def test_without_rendering_the_world_drifts_from_the_first_night():
    """The documented difference: render=False equals crafter.Env up to the first night, then differs."""
    from embodied_mem import envs

    seed, length = 10, 400
    env = envs.make("crafter", length=length)
    ref = _standard_env(seed, length)
    env.reset(seed=seed)
    ref.reset()
    rng = np.random.default_rng(seed)
    first_diff = None
    for t in range(1, length + 1):
        a = int(rng.choice(17, p=_RANDOM_P))
        _, _, term, trunc, _ = env.step(a)
        _, _, done, _ = ref.step(a)
        if _world_state(env._env._world) != _world_state(ref._world):
            first_diff = t
            break
        if done:
            break
    assert first_diff is not None, "render=False stayed identical: the README's caveat would be wrong"
    assert first_diff > 140, f"render=False differs at step {first_diff}, before any night-time noise"


# ---------------------------------------------------------------------- counterfactual: the view is all an agent has
def _agent_factory(name: str):
    """An agent factory as the runner finds it: by name, in the env's config (configs/env/crafter.yaml)."""
    from importlib import resources

    import embodied_mem.configs
    import yaml

    from embodied_mem.runner import import_string

    cfg = yaml.safe_load(resources.files(embodied_mem.configs).joinpath("env/crafter.yaml").read_text())
    return import_string(cfg["agents"][name])


def _twin_worlds(seed: int, margin: tuple[int, int] = (18, 16)):
    """Two adapters on the same seed; in the second, every stone and tree at least ``margin`` cells
    from the player (outside its 9x7 view) becomes diamond and iron. Non-walkable stays non-walkable
    and no grass or path changes, so creatures move and spawn alike: the worlds differ only in what
    the player could see there."""
    from embodied_mem import envs

    env_a, env_b = envs.make("crafter", length=1000), envs.make("crafter", length=1000)
    start_a, start_b = env_a.reset(seed=seed), env_b.reset(seed=seed)
    mat = env_b._env._world._mat_map  # test-only access: change the hidden part of world B
    ids = env_b._env._world._mat_ids
    px, py = start_b[1]["position"]
    xs, ys = np.meshgrid(np.arange(mat.shape[0]), np.arange(mat.shape[1]), indexing="ij")
    far = (np.abs(xs - px) >= margin[0]) | (np.abs(ys - py) >= margin[1])
    stone, tree = far & (mat == ids["stone"]), far & (mat == ids["tree"])
    mat[stone], mat[tree] = ids["diamond"], ids["iron"]
    assert stone.sum() + tree.sum() > 300
    return (env_a, *start_a), (env_b, *start_b)


def _same_input(obs_a, info_a, obs_b, info_b) -> bool:
    """Everything an agent is handed is equal (observation, info, percept)."""
    if not all(np.array_equal(obs_a[k], obs_b[k]) for k in obs_a):
        return False
    pa, pb = info_a["percept"], info_b["percept"]
    return (all(info_a[k] == info_b[k] for k in info_a if k != "percept")
            and (pa.t, pa.pose, pa.sightings, pa.events, pa.action, pa.target)
            == (pb.t, pb.pose, pb.sightings, pb.events, pb.action, pb.target))


def _steps_with_same_actions(make_agent, seed: int, steps: int) -> tuple[int, str | None]:
    """Run one agent per twin world while their inputs are identical; return (steps compared, first
    mismatch or None)."""
    from embodied_mem import Memory

    (env_a, obs_a, info_a), (env_b, obs_b, info_b) = _twin_worlds(seed)
    agents = [make_agent(env_a), make_agent(env_b)]
    for ag in agents:
        mem = None
        if getattr(ag, "uses_memory", False):
            mem = Memory()
            if mem.semantic.enabled:
                mem.load_priors("crafter")
            mem.new_episode("episode-0")
        ag.reset(mem, seed=seed)
    for t in range(steps):
        if not _same_input(obs_a, info_a, obs_b, info_b):
            return t, None
        a, b = agents[0].act(obs_a, info_a), agents[1].act(obs_b, info_b)
        if a != b:
            return t, f"step {t}: same input, actions {a} vs {b}"
        obs_a, _, term_a, trunc_a, info_a = env_a.step(a)
        obs_b, _, term_b, trunc_b, info_b = env_b.step(b)
        if term_a or trunc_a or term_b or trunc_b:
            return t + 1, None
    return steps, None


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["robomemory", "reactive"])
@pytest.mark.parametrize("seed", [5, 8])
def test_worlds_differing_outside_the_view_give_the_same_actions(agent, seed):
    factory = _agent_factory(agent)
    n, mismatch = _steps_with_same_actions(lambda env: factory({}, env=env, seed=seed), seed, steps=300)
    assert mismatch is None, f"{agent} acted on what it cannot see: {mismatch}"
    assert n >= 50, f"the views differed after {n} steps: the test says too little"


class _Peeker:
    """A cheating policy (reads the simulator's map): walks toward the nearest diamond anywhere."""

    uses_memory = False

    def __init__(self, env):
        self.env = env

    def reset(self, memory, *, seed=None):
        pass

    def act(self, obs, info):
        world = self.env._env._world
        xs, ys = np.nonzero(world._mat_map == world._mat_ids["diamond"])
        if not len(xs):
            return 0
        px, py = info["position"]
        i = int(np.argmin(np.abs(xs - px) + np.abs(ys - py)))
        dx, dy = int(xs[i]) - px, int(ys[i]) - py
        if abs(dx) >= abs(dy):
            return 2 if dx > 0 else 1
        return 4 if dy > 0 else 3


def test_the_counterfactual_check_catches_an_agent_that_peeks():
    _, mismatch = _steps_with_same_actions(_Peeker, seed=5, steps=300)
    assert mismatch is not None
