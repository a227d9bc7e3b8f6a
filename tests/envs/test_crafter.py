"""The Crafter adapter: Gymnasium conformance, sensor-only percepts, metrics and the score formula."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from embodied_mem.envs.crafter import ACHIEVEMENTS, LABELS, crafter_score, episode_metrics, make_percept, summarize

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
