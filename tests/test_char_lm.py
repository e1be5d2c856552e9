"""char_lm corpora: the built-in default, local files, and TFDS tiny_shakespeare offline."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from suite.registry import discover

TASK = discover(entry_points=False)["char_lm"]
LOAD = TASK._corpus.__globals__["load_corpus"]
FAKE = {"train": "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20,
        "validation": "All:\nSpeak, speak.\n" * 10}


@pytest.fixture(autouse=True)
def fresh_cache():
    LOAD.cache_clear()
    yield
    LOAD.cache_clear()


def test_stdlib_corpus_is_fingerprinted_and_held_out():
    p = dict(TASK.params)
    info = TASK.describe(p)["corpus"]
    corpus = LOAD("stdlib", 0.1)
    assert info["sha256"] == hashlib.sha256((corpus.train + corpus.validation).encode()).hexdigest()
    assert info["characters"] == len(corpus.train) + len(corpus.validation) > 100_000
    assert info["vocab_size"] == len(set(corpus.train + corpus.validation))
    assert abs(len(corpus.validation) / info["characters"] - 0.1) < 1e-3
    # training windows come only from the training part
    x, y = TASK.make_data("train", 2000, 7, p)
    for row in y[:50]:  # targets are the later characters: they must be training text too
        assert "".join(corpus.vocab[i] for i in row) in corpus.train
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    xv, _ = TASK.make_data("validation", 10, 0, p)
    np.testing.assert_array_equal(xv[0], corpus.ids(corpus.validation[:p["seq_len"]]))


def test_token_ids_are_computed_once_per_corpus(monkeypatch):
    corpus = LOAD("stdlib", 0.1)
    real, calls = type(corpus).ids, []
    monkeypatch.setattr(type(corpus), "ids", lambda self, text: calls.append(len(text)) or real(self, text))
    p = dict(TASK.params)
    first, _ = TASK.make_data("train", 8, 3, p)
    first = first.copy()
    for seed in range(3):
        x, _ = TASK.make_data("train", 8, seed, p)
        x[:] = 0  # the windows are copies: the cached ids stay as they were
        TASK.make_data("validation", 8, seed, p)
    TASK.chance_loss(p)
    assert calls == [len(corpus.train), len(corpus.validation)]
    np.testing.assert_array_equal(TASK.make_data("train", 8, 3, p)[0], first)
    assert not corpus.train_ids.flags.writeable and not corpus.validation_ids.flags.writeable


def test_uniform_and_unigram_baselines():
    d = TASK.describe(TASK.params)
    assert d["uniform_bpc"] == pytest.approx(np.log2(d["corpus"]["vocab_size"]))
    assert d["unigram_entropy_bpc"] < d["uniform_bpc"]
    assert TASK.chance_loss(TASK.params) == pytest.approx(d["unigram_entropy_bpc"], rel=0.1)


def test_local_file(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("héllo wörld, " * 500, encoding="utf-8")
    p = {**TASK.params, "corpus": str(f), "seq_len": 20}
    TASK.validate(p)
    assert TASK.describe(p)["corpus"]["source"] == "file:t.txt"
    x, y = TASK.make_data("train", 4, 0, p)
    assert x.shape == (4, 20) and x.max() < TASK.input_spec(p).vocab


def test_tiny_shakespeare_offline_with_mock_data():
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def fake_as_dataset(self, split, **kwargs):
        return tf.data.Dataset.from_tensors({"text": tf.constant(FAKE[str(split)])})

    with tfds.testing.mock_data(as_dataset_fn=fake_as_dataset):
        p = {**TASK.params, "corpus": "tfds:tiny_shakespeare", "seq_len": 30}
        TASK.validate(p)
        corpus = LOAD("tfds:tiny_shakespeare", 0.1)
        x, y = TASK.make_data("train", 8, 0, p)
        xv, _ = TASK.make_data("validation", 100, 0, p)
        info = TASK.describe(p)["corpus"]
    assert corpus.train == FAKE["train"] and corpus.validation == FAKE["validation"]
    assert info["source"] == "tfds:tiny_shakespeare"
    assert "".join(corpus.vocab[i] for i in xv[0]) == FAKE["validation"][:30]
    assert xv.shape == ((len(FAKE["validation"]) - 1) // 30, 30)
    assert x.shape == (8, 30)


def test_tfds_failure_is_a_suite_error(monkeypatch):
    import tensorflow_datasets as tfds

    from suite.api import SuiteError

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(SuiteError, match="cannot load 'tfds:tiny_shakespeare'.*no network"):
        LOAD("tfds:tiny_shakespeare", 0.1)
