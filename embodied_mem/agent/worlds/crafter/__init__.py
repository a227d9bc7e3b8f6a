"""Crafter's agent knowledge: skills (executor), symbolic planner over the tech tree, preprocessor,
world model — run by the shared ``AgentLoop``. ``kit.KIT`` is the world's ``WorldKit``; importing
this package imports nothing heavy (the kit loads on first use)."""
