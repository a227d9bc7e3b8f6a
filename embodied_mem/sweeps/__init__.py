"""Ablation sweeps: summarising a Hydra multirun directory."""
