"""One writer thread and concurrent reader threads on one Memory (issue 18, item 11)."""

from __future__ import annotations

import collections
import threading

from embodied_mem import Memory, Percept, Pose, Sighting, View


def test_one_writer_and_concurrent_readers(tmp_path):
    path = tmp_path / "m.db"
    mem = Memory.open(path)
    errors: collections.Counter = collections.Counter()
    done = threading.Event()
    answered = collections.Counter()

    def writer() -> None:
        try:
            for i in range(600):
                mem.observe(Percept(t=i, pose=Pose(i % 30, i // 30), events=(f"step {i}",),
                                    sightings=(Sighting(f"obj{i % 7}", (i % 30, i // 30 + 1)),),
                                    view=View.disc((i % 30, i // 30), 2)))
                if i % 100 == 99:
                    mem.new_episode()
        finally:
            done.set()

    def reader(k: int) -> None:
        while not done.is_set():
            try:
                if k == 0:
                    mem.episodic.recall("obj3 step", k=3)  # strengthens: journals from this thread
                elif k == 1:
                    mem.stats()
                elif k == 2:
                    mem.retrieve("where is obj1")
                    mem.spatial.locate("obj2")
                    mem.temporal.between(0, 1e9, limit=5)
                else:
                    mem.graph.as_of(100)
                    list(mem.graph.edges(relation="located_at"))
                answered[k] += 1
            except Exception as exc:  # noqa: BLE001 - the test counts every failure
                errors[f"{type(exc).__name__}: {exc}"[:120]] += 1

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)] + [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, dict(errors)
    assert all(answered[k] > 0 for k in range(4))
    before = mem.stats()
    mem.close()
    with Memory.open(path, readonly=True) as again:
        assert again.stats() == before
