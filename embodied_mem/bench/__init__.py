"""Benchmarks of embodied_mem against the memories users would otherwise build.

``embodied-mem bench qa`` (``bench/cli.py``) runs the memory question-answering benchmark
(``bench/qa.py``): spatio-temporal questions with exact ground truth from Crafter and TurtleBot 4
recordings, asked of embodied_mem and three baselines fed the same percept stream. Importing this
package imports no simulator; Crafter, rosbags and matplotlib load when a run needs them.
"""
