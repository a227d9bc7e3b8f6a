"""``python -m embodied_mem.robots.ros2.testbot [options]``: see ``cli``."""

import sys

from .cli import main

sys.exit(main())
