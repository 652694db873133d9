"""Roleplay Evaluator: simulated difficult customers for rehearsing and assessing support staff."""

__version__ = "0.1.0"
