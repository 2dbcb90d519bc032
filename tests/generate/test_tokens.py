"""Tokenisers, vocabularies and length-bucketed sequence batches."""

import numpy as np
import pytest
from rdkit import Chem

from molmat.data.moses import read_smiles_column
from molmat.data.sequences import BOS, EOS, PAD, SequenceBatcher
from molmat.featurizers.tokens import (
    TokenError,
    Vocabulary,
    encode_corpus,
    tokenizer,
)
from tests.conftest import DATA

SMILES = read_smiles_column(DATA / "moses_sample.csv")[:300] + [
    "C[C@@H](N)C(=O)O",
    "[NH4+].[Cl-]",
    "Brc1ccc2c(c1)CC%10CC2%10",
    "C/C=C/C=C\\Cl",
]


@pytest.mark.parametrize("kind", ["smiles", "selfies"])
def test_tokens_round_trip(kind):
    tok = tokenizer(kind)
    vocab = Vocabulary.fit(tok, SMILES)
    index = vocab.index
    for s in SMILES:
        back = tok.join(vocab.decode(vocab.encode_one(s, tok, index)))
        if kind == "smiles":
            assert back == s
        else:  # SELFIES: the same molecule
            assert Chem.CanonSmiles(back) == Chem.CanonSmiles(s)


def test_smiles_tokens_are_atoms():
    tok = tokenizer("smiles")
    assert tok.split("Clc1[nH]c(Br)cc1%12") == [
        "Cl", "c", "1", "[nH]", "c", "(", "Br", ")", "c", "c", "1", "%12",
    ]  # fmt: skip
    with pytest.raises(TokenError, match="'CCQ'"):
        tok.split("CCQ")


def test_any_selfies_tokens_decode_to_a_valid_molecule():
    tok = tokenizer("selfies")
    vocab = Vocabulary.fit(tok, SMILES)
    rng = np.random.default_rng(0)
    for _ in range(200):
        ids = rng.integers(3, len(vocab), rng.integers(1, 40))
        smiles = tok.join(vocab.decode(ids))
        assert Chem.MolFromSmiles(smiles) is not None, smiles


def test_unknown_token_names_the_molecule():
    tok = tokenizer("smiles")
    vocab = Vocabulary.fit(tok, ["CCO", "c1ccccc1"])
    with pytest.raises(TokenError, match=r"'CCBr'.*'Br'"):
        vocab.encode_one("CCBr", tok)
    corpus, _ = encode_corpus(
        ["CCO", "CCBr", "CCQ", "OCC"], tok, vocab, use_cache=False
    )
    assert corpus.kept.tolist() == [0, 3]
    assert set(corpus.errors) == {1, 2}
    assert "'CCBr'" in corpus.errors[1] and "'CCQ'" in corpus.errors[2]


def test_encode_corpus_cache_gives_identical_arrays():
    tok = tokenizer("selfies")
    first, v1 = encode_corpus(SMILES[:50] + ["CCQ"], tok, max_tokens=30)
    second, v2 = encode_corpus(SMILES[:50] + ["CCQ"], tok, max_tokens=30)
    assert v1 == v2 and first.errors == second.errors
    np.testing.assert_array_equal(first.ids, second.ids)
    assert any("more than 30" in e for e in first.errors.values())


def test_batches_hold_every_sequence_once_in_few_buckets():
    tok = tokenizer("smiles")
    corpus, vocab = encode_corpus(SMILES, tok, use_cache=False)
    batcher = SequenceBatcher(corpus.lengths, batch_size=32)
    seen = []
    shapes = set()
    for idx, length in batcher.plan(np.arange(len(corpus)), np.random.default_rng(0)):
        batch = batcher.batch(corpus.ids, corpus.offsets, idx, length)
        shapes.add(batch.tokens.shape)
        assert batch.tokens.shape[0] == 32 and batch.weight.sum() == len(idx)
        for row, i in zip(batch.tokens, idx, strict=False):
            assert row[0] == BOS
            n = corpus.lengths[i]
            np.testing.assert_array_equal(
                row[1 : n + 1], corpus.ids[corpus.offsets[i] : corpus.offsets[i + 1]]
            )
            assert row[n + 1] == EOS and (row[n + 2 :] == PAD).all()
        seen.extend(idx.tolist())
    assert sorted(seen) == list(range(len(corpus)))
    assert len(shapes) <= len(batcher.buckets) <= 5
