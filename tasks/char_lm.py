"""Character-level language modelling (next-character prediction; Graves 2013, Karpathy et al. 2015).

Each example is a window of ``seq_len`` characters; the target at every step
is the next character. The loss is the cross-entropy in bits per character
(bpc), averaged over all steps.

Corpora (parameter ``corpus``):
  * ``"stdlib"`` (default): a fixed, sorted list of this Python's own standard
    library source files. Needs no download and is identical on every machine
    with the same Python version; its sha256 is stored in every run record.
  * ``"tfds:tiny_shakespeare"``: Karpathy's tiny Shakespeare through
    tensorflow-datasets (train split for training, its validation split held out).
  * a path to any local UTF-8 text file.

Validation text is the last ``val_fraction`` (default 0.1) of the corpus, a
contiguous block never seen in training (for TFDS, the dataset's own
validation split). Training windows start at random offsets inside the
training part only.

Chance level: the best input-blind predictor predicts the unigram
distribution of the training text; ``chance_loss`` is its cross-entropy on the
validation text in bits (Laplace-smoothed), i.e. about the unigram entropy.
The uniform baseline log2(V) is reported too (``describe``).
"""
from __future__ import annotations

import functools
import hashlib
import math
import os
import sysconfig
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from suite.api import Head, InputSpec, SuiteError, Widths, seeded_rng

#: Standard-library files of the built-in corpus (relative to the stdlib dir).
STDLIB_FILES = (
    "argparse.py", "bisect.py", "calendar.py", "collections/__init__.py", "configparser.py",
    "csv.py", "dataclasses.py", "difflib.py", "fractions.py", "functools.py", "heapq.py",
    "json/decoder.py", "json/encoder.py", "random.py", "shlex.py", "statistics.py",
    "string.py", "textwrap.py",
)


@dataclass(frozen=True)
class Corpus:
    """A loaded corpus split into training and held-out validation text."""

    train: str
    validation: str
    vocab: str
    source: str
    sha256: str

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.vocab)}

    def ids(self, text: str) -> np.ndarray:
        """The int32 vocabulary ids of ``text`` (a fresh array on every call)."""
        table = self.index
        return np.fromiter((table[c] for c in text), dtype="int32", count=len(text))

    @functools.cached_property
    def train_ids(self) -> np.ndarray:
        """``ids(train)``, computed once per corpus (read-only: shared by every caller)."""
        return _read_only(self.ids(self.train))

    @functools.cached_property
    def validation_ids(self) -> np.ndarray:
        """``ids(validation)``, computed once per corpus (read-only: shared by every caller)."""
        return _read_only(self.ids(self.validation))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _read_text_file(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as err:
        raise SuiteError(f"char_lm.corpus: cannot read '{path}': {err.strerror}") from None
    if not raw.strip():
        raise SuiteError(f"char_lm.corpus: '{path}' is empty")
    if b"\x00" in raw:
        raise SuiteError(f"char_lm.corpus: '{path}' looks binary (contains NUL bytes)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SuiteError(f"char_lm.corpus: '{path}' is not UTF-8 (byte {err.start})") from None


def _split(text: str, val_fraction: float, source: str) -> Corpus:
    cut = int(round(len(text) * (1.0 - val_fraction)))
    return _make(text[:cut], text[cut:], source)


def _make(train: str, validation: str, source: str) -> Corpus:
    full = train + validation
    return Corpus(train=train, validation=validation, vocab="".join(sorted(set(full))),
                  source=source, sha256=hashlib.sha256(full.encode("utf-8")).hexdigest())


@functools.lru_cache(maxsize=4)
def load_corpus(corpus: str, val_fraction: float = 0.1) -> Corpus:
    """Loads a corpus by name (see module docstring); cached per process.

    Raises:
        SuiteError: unreadable, empty, binary or non-UTF-8 file, or a TFDS
            dataset that cannot be loaded (e.g. offline without a cache).
    """
    if corpus == "stdlib":
        root = sysconfig.get_paths()["stdlib"]
        parts = [_read_text_file(os.path.join(root, f)) for f in STDLIB_FILES
                 if os.path.exists(os.path.join(root, f))]
        if not parts:
            raise SuiteError(f"char_lm.corpus: no standard-library sources found under {root}")
        return _split("\n".join(parts), val_fraction, "stdlib:" + ",".join(STDLIB_FILES))
    if corpus.startswith("tfds:"):
        name = corpus[len("tfds:"):]
        try:
            import tensorflow_datasets as tfds

            def split_text(split: str) -> str:
                ds = tfds.load(name, split=split)
                return "".join(ex["text"].decode("utf-8") for ex in tfds.as_numpy(ds))

            return _make(split_text("train"), split_text("validation"), corpus)
        except SuiteError:
            raise
        except Exception as err:  # noqa: BLE001 - network, missing dataset, ...
            msg = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise SuiteError(f"char_lm.corpus: cannot load '{corpus}' through "
                             f"tensorflow-datasets ({msg}); use corpus = \"stdlib\" offline") from None
    return _split(_read_text_file(corpus), val_fraction, "file:" + os.path.basename(corpus))


@functools.lru_cache(maxsize=4)
def _bigram_bpc(corpus: str, val_fraction: float) -> float:
    """Validation bits per character of an add-one-smoothed bigram model of the training text."""
    c = load_corpus(corpus, val_fraction)
    v = len(c.vocab)
    train, val = c.train_ids.astype("int64"), c.validation_ids.astype("int64")
    pairs = np.bincount(train[:-1] * v + train[1:], minlength=v * v).reshape(v, v) + 1.0
    probs = pairs / pairs.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log2(probs[val[:-1], val[1:]])))


class CharLMTask:
    """Char-level LM; parameters: ``seq_len`` (default 100), ``corpus``
    (default ``"stdlib"``), ``val_fraction`` (default 0.1)."""

    name = "char_lm"
    version = "1"
    params = {"seq_len": 100, "corpus": "stdlib", "val_fraction": 0.1}
    primary_metric = "bpc"
    higher_is_better = False

    def _corpus(self, params: Mapping[str, Any]) -> Corpus:
        return load_corpus(params["corpus"], float(params["val_fraction"]))

    def validate(self, params: Mapping[str, Any]) -> None:
        t, frac = params["seq_len"], params["val_fraction"]
        if not isinstance(t, int) or isinstance(t, bool) or t < 2:
            raise SuiteError(f"char_lm.seq_len must be an integer >= 2, got {t!r}")
        if not isinstance(frac, (int, float)) or not 0.0 < frac < 1.0:
            raise SuiteError(f"char_lm.val_fraction must be in (0, 1), got {frac!r}")
        if not isinstance(params["corpus"], str) or not params["corpus"]:
            raise SuiteError("char_lm.corpus must be 'stdlib', 'tfds:NAME' or a file path")
        if params["corpus"].startswith("tfds:"):
            return  # loaded (and downloaded once) by the worker, not while validating
        c = self._corpus(params)
        for part, text in (("training", c.train), ("validation", c.validation)):
            if len(text) < t + 1:
                raise SuiteError(f"char_lm.seq_len={t} is longer than the {part} text "
                                 f"({len(text)} characters) of corpus '{params['corpus']}'")

    def sequence_length(self, params: Mapping[str, Any]) -> int:
        """Steps the model unrolls: the window of ``seq_len`` characters."""
        return int(params["seq_len"])

    def horizon(self, params: Mapping[str, Any]) -> None:
        """None: a next-character loss has no single horizon (most of it is short-range)."""
        return None

    def widths(self, params: Mapping[str, Any]) -> Widths | None:
        """One-hot characters in, a softmax over them at every step (for the estimates);
        ``None`` for ``tfds:`` corpora, which only the worker loads."""
        if params["corpus"].startswith("tfds:"):
            return None
        vocab = len(self._corpus(params).vocab)
        return Widths(vocab, vocab, True)

    def input_spec(self, params: Mapping[str, Any]) -> InputSpec:
        return InputSpec(vocab=len(self._corpus(params).vocab))

    def head(self, params: Mapping[str, Any]) -> Head:
        return Head(units=len(self._corpus(params).vocab), per_step=True, loss="ce_bits")

    def make_data(self, split: str, size: int, seed: int,
                  params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        t = params["seq_len"]
        c = self._corpus(params)
        if split == "train":
            ids = c.train_ids
            starts = seeded_rng(seed, "char_lm", split).integers(0, len(ids) - t, size)
        else:  # consecutive non-overlapping windows of the held-out text; seed unused
            ids = c.validation_ids
            starts = np.arange(0, len(ids) - t, t)[:size]
        idx = starts[:, None] + np.arange(t + 1)[None, :]
        windows = ids[idx]
        return windows[:, :-1], windows[:, 1:]

    def _unigram(self, c: Corpus) -> np.ndarray:
        counts = np.bincount(c.train_ids, minlength=len(c.vocab)).astype("float64") + 1.0
        return counts / counts.sum()

    def chance_loss(self, params: Mapping[str, Any]) -> float:
        c = self._corpus(params)
        p = self._unigram(c)
        return float(-np.mean(np.log2(p[c.validation_ids])))

    def solved_level(self, params: Mapping[str, Any]) -> float | None:
        """Solved at the bits per character of a bigram model of the training text.

        Language modelling has no "solved" point, so the level is a baseline a
        recurrent model must beat to show it uses more than the last character:
        the validation cross-entropy (bits) of an add-one-smoothed bigram model
        of the training text (order-1 Markov; stdlib corpus: about 3.75 bpc
        against a unigram chance of 4.68). N-gram models are the standard
        reference for character-level models (Shannon 1951; Karpathy, Johnson
        & Fei-Fei 2015 compare LSTMs with n-gram models). ``None``
        for ``tfds:`` corpora, which only the worker loads.
        """
        if params["corpus"].startswith("tfds:"):
            return None
        return _bigram_bpc(params["corpus"], float(params["val_fraction"]))

    def metrics(self, y_true: np.ndarray, y_pred: np.ndarray,
                params: Mapping[str, Any]) -> dict[str, float]:
        logits = np.asarray(y_pred, "float64")
        logits = logits - logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        y = np.asarray(y_true)
        nll = -np.take_along_axis(logp, y[..., None], -1)[..., 0]
        return {"bpc": float(nll.mean() / math.log(2)), "acc": float((logits.argmax(-1) == y).mean())}

    def describe(self, params: Mapping[str, Any]) -> dict[str, Any]:
        c = self._corpus(params)
        p = self._unigram(c)
        return {"corpus": {"source": c.source, "sha256": c.sha256,
                           "characters": len(c.train) + len(c.validation),
                           "train_characters": len(c.train),
                           "validation_characters": len(c.validation),
                           "vocab_size": len(c.vocab)},
                "uniform_bpc": math.log2(len(c.vocab)),
                "unigram_entropy_bpc": float(-(p * np.log2(p)).sum()),
                "chance_predictor": "unigram distribution of the training text"}


TASK = CharLMTask()
