"""Gated promotion: ground truth, candidate training, evaluation, the approval gate, rotation.

No orchestrator here: tasks/promotion.py and flows/ wrap these functions for Prefect.
"""
