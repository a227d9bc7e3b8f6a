"""Package layout: the top-level folders envs/, robots/ and configs/ install under embodied_mem.

Kept in setup.py (not pyproject) only because the package list is computed: every sub-package of
those folders is found and mapped, so adding envs/minecraft/ needs no edit here.
"""

from setuptools import find_packages, setup

MAPPED = {"envs": "embodied_mem.envs", "robots": "embodied_mem.robots", "configs": "embodied_mem.configs"}

packages = find_packages(include=["embodied_mem", "embodied_mem.*"])
package_dir = {"embodied_mem": "embodied_mem"}
for folder, name in MAPPED.items():
    package_dir[name] = folder
    packages += [name + p[len(folder):] for p in find_packages(include=[folder, folder + ".*"])]

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={
        "embodied_mem": ["py.typed", "data/**/*", "encoders/pretrained/**/*"],
        "embodied_mem.configs": ["*.yaml", "**/*.yaml"],
        "embodied_mem.envs": ["**/*.js", "**/*.json", "**/*.md"],
        "embodied_mem.robots": ["**/*.yaml", "**/*.md", "**/*.rviz"],
    },
)
