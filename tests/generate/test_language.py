"""Language-model generators: networks, sampling, training, archives."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from molmat.data.moses import read_smiles_column
from molmat.generate.language import LanguageModel
from molmat.models.generative.language import (
    RNNLanguageModel,
    TransformerLanguageModel,
)
from molmat.models.generative.sampling import filter_logits, sample_tokens
from molmat.tasks.archives import load
from molmat.training.engine import Callback
from tests.conftest import DATA

# short molecules: one length bucket, so each model compiles its step once
TWENTY = [s for s in read_smiles_column(DATA / "moses_sample.csv") if len(s) <= 30][:20]


@pytest.mark.parametrize(
    "net",
    [
        RNNLanguageModel(11, hidden=16, layers=2, key=jax.random.key(0)),
        RNNLanguageModel(
            11, cell="lstm", hidden=16, n_condition=2, key=jax.random.key(1)
        ),
        TransformerLanguageModel(
            11,
            width=16,
            heads=2,
            layers=2,
            max_len=12,
            n_condition=2,
            key=jax.random.key(2),
        ),
    ],
    ids=["gru", "lstm-conditional", "transformer-conditional"],
)
def test_one_step_equals_the_full_forward_pass(net):
    tokens = jax.random.randint(jax.random.key(3), (3, 9), 0, 11)
    cond = jax.random.normal(jax.random.key(4), (3, 2 if net.cond is not None else 0))
    full = net(tokens, cond)
    state, steps = net.start(cond, 3), []
    for t in range(tokens.shape[1]):
        logits, state = net.step(state, tokens[:, t], t, cond)
        steps.append(logits)
    np.testing.assert_allclose(full, jnp.stack(steps, 1), atol=2e-5)


def test_causal_model_ignores_later_tokens():
    net = TransformerLanguageModel(
        9, width=16, heads=4, layers=1, max_len=8, key=jax.random.key(0)
    )
    a = jnp.array([[1, 4, 5, 6, 7]])
    b = a.at[0, 3:].set(3)
    cond = jnp.zeros((1, 0))
    forward = eqx.filter_jit(lambda net, x: net(x, cond))
    np.testing.assert_allclose(
        forward(net, a)[:, :3], forward(net, b)[:, :3], atol=1e-6
    )


def test_top_k_and_top_p_keep_the_right_tokens():
    logits = jnp.log(jnp.array([[0.5, 0.3, 0.15, 0.05]]))
    assert jnp.isfinite(filter_logits(logits, 2, None)).tolist() == [
        [True, True, False, False]
    ]
    # nucleus 0.7: 0.5 then 0.3 reach it
    assert jnp.isfinite(filter_logits(logits, None, 0.7)).tolist() == [
        [True, True, False, False]
    ]
    assert jnp.isfinite(filter_logits(logits, None, 0.4)).tolist() == [
        [True, False, False, False]
    ]
    shuffled = logits[:, ::-1]
    assert jnp.isfinite(filter_logits(shuffled, None, 0.7)).tolist() == [
        [False, False, True, True]
    ]


def test_sampling_is_seeded_and_stops_at_end_token():
    net = RNNLanguageModel(8, hidden=8, layers=1, key=jax.random.key(0))
    cond = jnp.zeros((64, 0))
    a = np.asarray(sample_tokens(net, jax.random.key(1), cond, 20))
    b = np.asarray(sample_tokens(net, jax.random.key(1), cond, 20))
    c = np.asarray(sample_tokens(net, jax.random.key(2), cond, 20))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    for row in a:
        ends = np.flatnonzero(row == 2)
        if len(ends):
            assert (row[ends[0] + 1 :] == 0).all()


@pytest.fixture(scope="module")
def overfit():
    lm = LanguageModel(
        hidden=96, layers=1, epochs=250, batch_size=20, lr=1e-2, patience=None,
        seed=0, progress=False,
    )  # fmt: skip
    return lm.fit(TWENTY, val_size=0)


def test_small_model_overfits_twenty_molecules_and_samples_them_back(overfit):
    samples = overfit.sample(200, temperature=0.7, seed=0)
    recalled = np.mean([s in set(TWENTY) for s in samples])
    assert recalled > 0.8, recalled
    assert len(set(samples) & set(TWENTY)) >= 10
    assert overfit.history_.compilations <= 3  # one per length bucket


def test_archive_round_trip_gives_identical_samples(overfit, tmp_path):
    overfit.save(tmp_path / "lm")
    loaded = load(tmp_path / "lm")
    assert loaded.sample(50, seed=3, top_p=0.9) == overfit.sample(50, seed=3, top_p=0.9)
    assert loaded.log_likelihood(TWENTY) == pytest.approx(
        overfit.log_likelihood(TWENTY)
    )


class _Kill(Callback):
    def on_epoch_end(self, loop, record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt


def test_killed_training_resumes_to_the_same_model(tmp_path):
    settings = dict(
        hidden=16, layers=1, epochs=4, batch_size=8, epoch_size=12, patience=None,
        progress=False,
    )  # fmt: skip
    straight = LanguageModel(**settings).fit(TWENTY, val_size=4)
    with pytest.raises(KeyboardInterrupt):
        LanguageModel(**settings).fit(
            TWENTY, val_size=4, checkpoint_dir=tmp_path, callbacks=[_Kill()]
        )
    resumed = LanguageModel(**settings).fit(
        TWENTY, val_size=4, checkpoint_dir=tmp_path, resume=True
    )
    assert resumed.sample(20, seed=0) == straight.sample(20, seed=0)
    last = resumed.history_.records[-1]["val_loss"]
    assert last == straight.history_.records[-1]["val_loss"]


def test_transformer_trains_and_round_trips(tmp_path):
    lm = LanguageModel(
        model="transformer", width=16, heads=2, layers=1, epochs=2, batch_size=10,
        patience=None, progress=False,
    )  # fmt: skip
    lm.fit(TWENTY, val_size=0)
    lm.save(tmp_path / "tr")
    assert load(tmp_path / "tr").sample(30, seed=2) == lm.sample(30, seed=2)


def test_conditional_model_needs_its_condition(tmp_path):
    y = np.arange(len(TWENTY), dtype=float)[:, None]
    lm = LanguageModel(hidden=16, layers=1, epochs=1, batch_size=10, progress=False)
    lm.fit(TWENTY, condition=y, condition_names=["rank"], val_size=0)
    assert len(lm.sample(5, condition={"rank": 3.0})) == 5
    with pytest.raises(ValueError, match="conditioned on rank"):
        lm.sample(5, condition={"logP": 1.0})
    with pytest.raises(ValueError, match="needs a condition"):
        lm.sample(5)
