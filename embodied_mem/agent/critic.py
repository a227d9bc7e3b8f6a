"""The critic: progress of the current subgoal, failure and loop detection (RoboMemory's
infinite-loop mitigation), for every world: it reads only the ``Progress`` the running skill reports.

Verdicts, one per step: ``"ok"`` (working on it), ``"progress"`` (something improved: the skill
got closer to its target than ever, gained inventory / task count, saw new cells, or is busy, e.g.
asleep), ``"done"``, ``"stalled"`` (no progress for ``stall_steps``: the loop puts the target aside
and replans), ``"loop"`` (oscillating between few cells without progress, or the same
(subgoal, place) cycle repeated ``cycle_repeats`` times: the loop puts it aside and explores for
``explore_steps``), ``"off"`` when the critic is disabled (it then never intervenes; the loop still
replans when a subgoal is done).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence

from .config import CriticConfig
from .protocols import Progress, Subgoal, Verdict

__all__ = ["ProgressCritic", "find_cycle"]


def find_cycle(seq: Sequence[Hashable], repeats: int) -> int:
    """Length of a cycle that the end of ``seq`` repeats at least ``repeats`` times (0 if none).

    ``[a, b, a, b, a, b]`` with repeats=3 -> 2. Cycles of length 1 (one item repeated) count too.
    """
    n = len(seq)
    seq = list(seq)
    for k in range(1, n // repeats + 1):
        tail = seq[n - k:]
        if all(seq[n - (r + 1) * k:n - r * k] == tail for r in range(1, repeats)):
            return k
    return 0


class ProgressCritic:
    """The default ``Critic``: stall, oscillation and (subgoal, place) cycle detection."""

    def __init__(self, config: CriticConfig) -> None:
        self.config = config
        self.verdicts: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        self.subgoal: Subgoal | None = None
        self.since = 0.0
        self.last_progress = 0.0
        self.best_dist: float | None = None
        self.positions: deque[tuple[float, ...]] = deque(maxlen=max(1, self.config.loop_window))
        self.cycle: list[tuple[str, Hashable]] = []
        self.verdicts = {}

    def start(self, subgoal: Subgoal, place: Hashable | None, t: float) -> None:
        """A new subgoal begins (at ``place``): record it for cycle detection."""
        self.subgoal, self.since, self.last_progress, self.best_dist = subgoal, t, t, None
        entry = (str(subgoal), place)
        if not self.cycle or self.cycle[-1] != entry:
            self.cycle.append(entry)
            del self.cycle[:-60]

    def judge(self, subgoal: Subgoal | None, progress: Progress) -> Verdict:
        """The verdict for this step (see the module docstring)."""
        if not self.config.enabled:
            return "off"
        t = progress.t
        self.positions.append(progress.position)
        progressed = progress.gained > 0 or progress.new_cells > 0
        dist = progress.target_distance
        if dist is not None and (self.best_dist is None or dist < self.best_dist):
            self.best_dist = dist
            progressed = True
        if progress.done:
            return self._say("done")
        if progressed or progress.busy:
            self.last_progress = t
            self.positions.clear()
            return self._say("progress")
        if t - self.last_progress >= self.config.stall_steps:
            self.last_progress = t
            return self._say("stalled")
        w = self.config.loop_window
        if len(self.positions) >= w and len(set(self.positions)) <= self.config.loop_cells:
            self.positions.clear()
            return self._say("loop")
        if find_cycle(self.cycle, self.config.cycle_repeats) >= 2:
            self.cycle.clear()
            return self._say("loop")
        return "ok"

    def _say(self, verdict: Verdict) -> Verdict:
        self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1
        return verdict
