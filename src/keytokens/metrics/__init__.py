"""Metrics: how well embeddings align with their texts' tokens."""

from keytokens.metrics.alignment import DEFINITIONS, AlignmentScores, Definition, alignment_scores, score_rankings

__all__ = ["DEFINITIONS", "AlignmentScores", "Definition", "alignment_scores", "score_rankings"]
