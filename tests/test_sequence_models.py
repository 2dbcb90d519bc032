"""Sequence property models: amino-acid tokens, encoders, estimator, CLI."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from molmat.cli.main import main
from molmat.data.csv import DataError, read_sequences
from molmat.data.sequences import PAD, TokenBatch, TokenBatcher
from molmat.featurizers.tokens import TokenError, tokenizer
from molmat.models.sequence import build_sequence_net
from molmat.nn.recurrent import reverse_within
from molmat.tasks.archives import load
from molmat.tasks.sequence import SequenceModel

from .conftest import DATA

PEPTIDES = DATA / "hemolytic_peptides_sample.csv"


@pytest.fixture(scope="module")
def peptides():
    return pd.read_csv(PEPTIDES)


def test_amino_acid_tokens_round_trip_and_bad_letters_are_named():
    tok = tokenizer("aa")
    assert tok.join(tok.split("gLfDiiKK")) == "GLFDIIKK"
    with pytest.raises(TokenError, match=r"'1'.*position 3"):
        tok.split("GLF1K")
    with pytest.raises(TokenError, match="empty"):
        tok.split("")


def test_reverse_within_keeps_padding_in_place():
    x = jnp.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]])
    flipped = reverse_within(x, jnp.array([3, 2]))
    np.testing.assert_array_equal(flipped, [[3, 2, 1, 0, 0], [5, 4, 0, 0, 0]])
    np.testing.assert_array_equal(reverse_within(flipped, jnp.array([3, 2])), x)


def test_token_batcher_plans_every_sequence_once_in_few_buckets():
    lengths = np.array([3, 40, 5, 12, 33, 7, 2])
    ids = np.arange(1, lengths.sum() + 1) % 7 + 3
    corpus = type("C", (), {})()
    corpus.ids, corpus.offsets = ids, np.concatenate([[0], np.cumsum(lengths)])
    corpus.lengths = lengths
    batcher = TokenBatcher(lengths, batch_size=2)
    order = np.random.default_rng(0).permutation(len(lengths))
    plan = batcher.plan(corpus, order)
    seen = np.concatenate([idx for idx, _ in plan])
    assert sorted(seen) == list(range(len(lengths)))
    assert {length for _, length in plan} <= set(batcher.budgets.values())
    y = np.arange(len(lengths), dtype=np.float32)[:, None]
    y[2] = np.nan
    for idx, length in plan:
        batch = batcher.batch(corpus, idx, length, y)
        assert batch.tokens.shape == (2, length)
        real = batch.row_mask.sum()
        assert real == len(idx)
        assert (batch.tokens[real:] == PAD).all()
        for row, i in enumerate(idx):
            n = lengths[i]
            seq = ids[corpus.offsets[i] : corpus.offsets[i] + n]
            np.testing.assert_array_equal(batch.tokens[row, 1 : n + 1], seq)
            assert batch.y_mask[row, 0] == (i != 2)


@pytest.mark.parametrize(
    ("encoder", "pool"),
    [
        ("cnn1d", "max"),
        ("gru", "mean"),
        ("transformer", "mean"),
        ("transformer", "cls"),
    ],
)
def test_prediction_unchanged_by_padding_and_batch_mates(encoder, pool):
    net = build_sequence_net(
        {
            "encoder": encoder,
            "vocab": 12,
            "embed": 8,
            "hidden": 16,
            "depth": 2,
            "pool": pool,
            "n_targets": 2,
        },
        key=jax.random.key(1),
    )
    tokens = jnp.array([[1, 5, 6, 7, 8, 2, 0, 0], [1, 9, 2, 0, 0, 0, 0, 0]])

    def run(t):
        rows = jnp.ones(len(t), bool)
        return net(TokenBatch(t, rows, jnp.zeros((len(t), 2)), rows[:, None]))

    both = run(tokens)
    padded = run(jnp.pad(tokens, ((0, 0), (0, 24))))
    alone = run(tokens[:1, :6])
    np.testing.assert_allclose(padded, both, atol=1e-5)
    np.testing.assert_allclose(alone[0], both[0], atol=1e-5)


def test_transformer_attention_ignores_padding():
    net = build_sequence_net(
        {
            "encoder": "transformer",
            "vocab": 12,
            "hidden": 16,
            "heads": 2,
            "n_targets": 1,
        },
        key=jax.random.key(0),
    )
    tokens = jnp.array([[1, 5, 6, 2, 0, 0, 0, 0]])
    maps = net.encoder.attention_weights(net.embed[tokens], tokens != PAD)
    assert maps.shape == (2, 1, 2, 8, 8)
    np.testing.assert_allclose(maps[..., :4].sum(-1), 1.0, atol=1e-5)
    assert float(jnp.abs(maps[..., 4:]).max()) == 0.0


@pytest.fixture(scope="module")
def peptide_model(peptides):
    """A small CNN fitted to 40 peptides (shared, read-only)."""
    X, y = list(peptides.sequence[:40]), peptides.hemolytic.to_numpy()[:40]
    return SequenceModel(
        model="cnn1d",
        tokens="aa",
        hidden=32,
        embed=16,
        epochs=60,
        max_lr=3e-3,
        batch_size=8,
        val_fraction=0,
        patience=None,
        progress=False,
        use_cache=False,
    ).fit(X, y)


def test_small_model_overfits_its_training_peptides(peptide_model, peptides):
    X, y = list(peptides.sequence[:40]), peptides.hemolytic.to_numpy()[:40]
    assert (peptide_model.predict(X) == y).mean() >= 0.95


def test_best_epoch_follows_the_chosen_validation_score(peptides):
    X, y = list(peptides.sequence[:60]), peptides.hemolytic.to_numpy()[:60]
    options = dict(model="cnn1d", tokens="aa", hidden=16, embed=8, epochs=8)
    options |= dict(batch_size=16, patience=None, val_fraction=0.3, progress=False)
    for select_by, key, best in (
        ("metric", "val_roc_auc", np.argmax),
        ("loss", "val_log_loss", np.argmin),
    ):
        model = SequenceModel(**options, select_by=select_by).fit(X, y)
        records = model.history_.records
        chosen = records[int(best([r[key] for r in records]))]["epoch"]
        assert model.history_.best_epoch == chosen, select_by
    with pytest.raises(ValueError, match="select_by must be one of"):
        SequenceModel(**options, select_by="auc").fit(X, y)


def test_archive_round_trip_predicts_identically(peptide_model, peptides, tmp_path):
    X = list(peptides.sequence[40:])
    peptide_model.save(tmp_path / "m")
    again = load(tmp_path / "m")
    assert isinstance(again, SequenceModel)
    np.testing.assert_array_equal(
        again.predict_proba(X), peptide_model.predict_proba(X)
    )


def test_bad_sequences_get_nan_and_the_others_their_prediction(
    peptide_model, peptides, caplog
):
    X = list(peptides.sequence[40:44])
    mixed = [X[0], "GLF1K", X[1], "", X[2]]
    pred = peptide_model.predict_proba(mixed)
    assert np.isnan(pred[[1, 3]]).all()
    np.testing.assert_allclose(pred[[0, 2, 4]], peptide_model.predict_proba(X[:3]))
    assert "sequence 1 skipped" in caplog.text and "'1'" in caplog.text


def test_smiles_transformer_trains_and_reads_molecules(esol):
    short = [i for i, smi in enumerate(esol.smiles) if len(smi) <= 14][:60]
    X, y = [esol.mols[i] for i in short], esol.y[short, 0]
    model = SequenceModel(
        model="transformer",
        tokens="smiles",
        hidden=16,
        embed=8,
        epochs=3,
        max_lr=3e-3,
        progress=False,
        val_fraction=0,
    ).fit(X, y)
    pred = model.predict([esol.smiles[i] for i in short] + ["C1CC("])
    assert np.isnan(pred[-1]) and np.isfinite(pred[:-1]).all()
    # molecules are read as canonical SMILES: a different writing, one result
    np.testing.assert_allclose(model.predict(["OCC"]), model.predict(["CCO"]))
    assert model.elements_ and model.unseen_elements(["C[Se]C"]) == [["Se"]]


def test_training_sequence_with_an_unknown_letter_is_a_clear_error(peptides):
    X = ["GLFDIIKK", "GLB2K", "KKLLKK"]
    with pytest.raises(DataError, match=r"1: .*'2'"):
        SequenceModel(tokens="aa", epochs=1, progress=False).fit(X, [0, 1, 0])


def test_read_sequences_reports_bad_rows_and_finds_the_column(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("peptide,active\nGLFDIIKK,1\nGL#K,0\n,1\nKKLLKK,\nkkllkk,0\n")
    table = read_sequences(path, check=tokenizer("aa").split)
    assert table.sequences == ["GLFDIIKK", "kkllkk"]
    assert list(table.rows) == [0, 4]
    reasons = {b.row: b.reason for b in table.report.bad_rows}
    assert "'#'" in reasons[1] and "empty" in reasons[2] and "missing" in reasons[3]
    with pytest.raises(DataError, match="no sequence column"):
        read_sequences(DATA / "tiny.csv")


def test_cli_trains_predicts_and_refuses_scaffold_splits(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["train", "--data", str(PEPTIDES), "--tokens", "aa", "--out", str(out)]
    code = main(
        [
            *common,
            "--model",
            "gru",
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--split",
            "random",
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "gru classification" in printed and "roc_auc" in printed
    predictions = pd.read_csv(out / "test_predictions.csv")
    assert "sequence" in predictions and predictions.hemolytic_prob.notna().all()
    assert (
        main(
            [
                "predict",
                "--model",
                str(out),
                "--data",
                str(PEPTIDES),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert len(predicted) == 80 and predicted.hemolytic_prob.notna().all()
    assert main([*common, "--model", "gru", "--split", "scaffold"]) == 2
    assert "split needs molecules" in capsys.readouterr().err
    assert main([*common, "--model", "rf"]) == 2
    assert "--tokens is for the sequence models" in capsys.readouterr().err


def test_attention_maps_of_one_molecule_are_drawn(esol, tmp_path):
    short = [i for i, smi in enumerate(esol.smiles) if len(smi) <= 14][:30]
    X, y = [esol.smiles[i] for i in short], esol.y[short, 0]
    model = SequenceModel(
        model="transformer",
        tokens="smiles",
        hidden=16,
        heads=2,
        depth=2,
        epochs=1,
        progress=False,
        val_fraction=0,
    ).fit(X, y)
    tokens, weights = model.attention("CCO")
    assert tokens == ["<bos>", "C", "C", "O", "<eos>"]
    assert weights.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    model.save(tmp_path / "m")
    out = tmp_path / "att.png"
    assert (
        main(
            [
                "attention",
                "--model",
                str(tmp_path / "m"),
                "--input",
                "CCO",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.stat().st_size > 1000
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        model.attention("C[Se]C")
