"""Alignment metrics on a hand-made case; every expected number is worked out in the comments."""

import numpy as np
import pytest

from keytokens.errors import UnknownNameError
from keytokens.heads import LinearHead
from keytokens.lens import Vocabulary
from keytokens.metrics import alignment_scores, score_rankings
from tests.fakes import WordTokenizer

WORDS = ["[CLS]", "the", "apple", "banana", ",", "Apple", "fruit", "car"]
TEXTS = ["the apple", "banana , car"]  # T_A = {1, 2}; T_B = {3, 4, 7}


def _case():
    vocab = Vocabulary.from_tokenizer(WordTokenizer(WORDS))
    head = LinearHead(weight=np.eye(8, dtype=np.float32))  # logits = the embedding itself
    emb = np.zeros((2, 8), np.float32)
    # text A ranks ids 5 1 6 2 0 3 4 7; text B ranks 0 3 6 7 1 2 4 5
    emb[0, [5, 1, 6, 2, 0, 3, 4, 7]] = [8, 7, 6, 5, 4, 3, 2, 1]
    emb[1, [0, 3, 6, 7, 1, 2, 4, 5]] = [8, 7, 6, 5, 4, 3, 2, 1]
    return emb, head, vocab


def _scores(definition):
    emb, head, vocab = _case()
    (s,) = alignment_scores(emb, TEXTS, head, vocab, k=2, definitions=[definition])
    return s


def test_vocabulary_classes_by_hand():
    _, _, vocab = _case()
    assert vocab.special.tolist() == [True] + [False] * 7
    # 'the' is a stopword, ',' has no letter, [CLS] is special
    assert vocab.content.tolist() == [False, False, True, True, False, True, True, True]
    assert vocab.surface[2] == vocab.surface[5]  # apple == Apple
    assert vocab.surface[2] != vocab.surface[3]


def test_paper_definition():
    s = _scores("paper")
    # A: top-2 {5,1} hits 1; top-|T_A|=2 matches {1} -> 1/2. B: top-2 {0,3} hits 3; top-3 {0,3,6} -> 1/3
    assert s.hit == 1.0
    assert s.lar == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert s.gar == pytest.approx(2 / 5)  # matched {1,3} of union {1,2,3,4,7}


def test_authors_code_definition_counts_special_tokens_and_caps_at_k():
    s = _scores("authors-code")
    # T_A = {0,1,2}: top-2 {5,1} -> 1/3. T_B = {0,3,4,7}: top-2 {0,3} -> 2/4
    assert s.hit == 1.0
    assert s.lar == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert s.gar == pytest.approx(3 / 6)


def test_content_definition_drops_special_stopwords_and_punctuation():
    s = _scores("content")
    # T_A = {2}; content ranking 5 6 2 ... -> no hit in top-2, top-1 {5} -> 0
    # T_B = {3,7}; content ranking 3 6 7 ... -> hit; top-2 {3,6} -> 1/2
    assert s.hit == 0.5
    assert s.lar == pytest.approx(0.25)
    assert s.gar == pytest.approx(1 / 3)


def test_content_surface_definition_matches_case_variants():
    s = _scores("content-surface")
    # A: surfaces apple fruit (apple again dropped) banana car -> hit, top-1 apple -> 1
    # B: banana fruit car apple -> hit, top-2 {banana, fruit} -> 1/2
    assert s.hit == 1.0
    assert s.lar == pytest.approx(0.75)
    assert s.gar == pytest.approx(2 / 3)


def test_text_without_content_tokens_is_skipped_and_counted():
    emb, head, vocab = _case()
    (s,) = alignment_scores(emb, ["the ,", "banana , car"], head, vocab, k=2, definitions=["content"])
    assert s.n_texts == 1 and s.n_skipped == 1


def test_unknown_definition_lists_the_known_ones():
    emb, head, vocab = _case()
    with pytest.raises(UnknownNameError, match="paper"):
        alignment_scores(emb, TEXTS, head, vocab, definitions=["nope"])


def test_score_rankings_perfect_alignment():
    s = score_rankings([np.array([3, 4])], np.array([[4, 3, 9]]), k=1, capped=False)
    assert (s.hit, s.lar, s.gar) == (1.0, 1.0, 1.0)


def test_mismatched_lengths_are_refused():
    emb, head, vocab = _case()
    with pytest.raises(ValueError, match="1 texts for 2 embeddings"):
        alignment_scores(emb, TEXTS[:1], head, vocab)
