"""Grading: rubrics, evidence analyzers, the LLM judge, reports and calibration."""
