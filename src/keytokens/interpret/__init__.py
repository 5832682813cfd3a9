"""Interpretation analyses (PAPER.md §5): instructions, relatedness vs similarity, two texts compared."""

from keytokens.interpret.compare import Comparison, ScoredToken, compare, cosine
from keytokens.interpret.instructions import (
    Instruction,
    InstructionEffect,
    InstructionReport,
    accepts_instructions,
    instructable,
    instruction_analysis,
    preset_instructions,
)
from keytokens.interpret.relatedness import (
    CONTRAST,
    OVERLAPS,
    WORD_SETS,
    ModelRelatedness,
    WordPair,
    WordSet,
    WordSetScores,
    contrast,
    read_word_pairs,
    relatedness,
    word_set_scores,
)

__all__ = [
    "CONTRAST",
    "OVERLAPS",
    "WORD_SETS",
    "Comparison",
    "Instruction",
    "InstructionEffect",
    "InstructionReport",
    "ModelRelatedness",
    "ScoredToken",
    "WordPair",
    "WordSet",
    "WordSetScores",
    "accepts_instructions",
    "compare",
    "contrast",
    "cosine",
    "instructable",
    "instruction_analysis",
    "preset_instructions",
    "read_word_pairs",
    "relatedness",
    "word_set_scores",
]
