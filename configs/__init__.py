"""Hydra configs shipped with the package (``pkg://embodied_mem.configs``)."""
