"""Grading: rubrics, evidence analyzers, the LLM judge, reports and calibration."""

from pathlib import Path

#: Hand-written damaged-laptop transcripts shipped with the product: a model answer, a warm
#: policy breaker, a rude, a robotic, an early-closing and a grader-instructing candidate.
#: Used by the tests, the benchmarks and ``roleplay calibrate``'s judge-stability figure.
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
