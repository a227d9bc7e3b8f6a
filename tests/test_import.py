"""``import embodied_mem`` stays light: no torch, simulators, DDS, plotting or graph library at import."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["torch", "crafter", "cyclonedds", "open3d", "matplotlib", "networkx", "scipy", "gymnasium", "hydra",
         "rosbags", "minerl", "habitat_sim", "rclpy", "ray", "yaml", "tqdm"]

PROBE = f"""
import json, sys, time
t0 = time.perf_counter()
import embodied_mem
from embodied_mem import Memory, Percept, Pose, Sighting, View
dt = time.perf_counter() - t0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(json.dumps({{"seconds": dt, "heavy": heavy}}))
"""


def test_import_pulls_in_no_heavy_package_and_is_quick():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(out.stdout)
    assert result["heavy"] == []
    print(f"import embodied_mem took {result['seconds'] * 1e3:.0f} ms")
    assert result["seconds"] < 3.0  # about 0.15 s here (numpy is most of it); generous for a busy machine


def test_networkx_arrives_only_with_a_networkx_copy_of_the_graph():
    code = ("import sys, embodied_mem; assert 'networkx' not in sys.modules; "
            "m = embodied_mem.Memory(); m.observe(embodied_mem.Percept(t=0)); m.graph.as_of(0.0); "
            "assert 'networkx' not in sys.modules; "
            "g = m.graph.to_nx(); assert 'networkx' in sys.modules and g.number_of_nodes() == len(m.graph); "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
