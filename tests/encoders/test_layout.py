"""Memory layouts: FIFO keeps the most recent steps; place-centric shares slots out per place."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mem.encoders.layout import organise


def test_fifo_keeps_most_recent_steps_in_time_order() -> None:
    places = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    lay = organise(places, 5, "fifo", 2)
    assert lay.steps.tolist() == [3, 4, 5, 6, 7]
    assert lay.chunks.tolist() == [0, 0, 1, 1, 2]


def test_place_memory_keeps_every_place_and_is_fifo_inside_a_place() -> None:
    places = np.array([0] * 10 + [1] * 10 + [2] * 10)
    lay = organise(places, 6, "place", 2)
    kept = places[lay.steps]
    assert sorted(set(kept.tolist())) == [0, 1, 2]  # FIFO with 6 slots would only keep place 2
    assert [int((kept == p).sum()) for p in range(3)] == [2, 2, 2]
    assert lay.steps.tolist() == [8, 9, 18, 19, 28, 29]  # the latest steps of each place
    assert lay.chunks.tolist() == [0, 0, 1, 1, 2, 2]  # chunks never straddle places


def test_place_chunks_split_long_places_and_order_places_by_first_visit() -> None:
    places = np.array([3, 3, 3, 1, 1, 3])
    lay = organise(places, 10, "place", 2)
    assert lay.steps.tolist() == [0, 1, 2, 5, 3, 4]
    assert lay.chunks.tolist() == [0, 0, 1, 1, 2, 2]
    assert lay.n_chunks == 3


def test_full_budget_keeps_the_same_steps_in_both_layouts() -> None:
    places = np.random.default_rng(0).integers(0, 5, 40)
    f = organise(places, 40, "fifo", 4)
    p = organise(places, 40, "place", 4)
    assert sorted(f.steps.tolist()) == sorted(p.steps.tolist()) == list(range(40))


@pytest.mark.parametrize("kwargs, word", [
    ({"budget": 0, "kind": "fifo", "chunk_size": 2}, "budget"),
    ({"budget": 3, "kind": "lifo", "chunk_size": 2}, "kind"),
    ({"budget": 3, "kind": "place", "chunk_size": 0}, "chunk_size"),
])
def test_bad_arguments_are_refused_by_name(kwargs: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        organise(np.zeros(4, int), **kwargs)
