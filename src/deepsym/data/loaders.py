"""torch datasets and loaders over a corpus: crops, transposition, padding and masks.

``SequenceDataset`` reads one piece at a time from the corpus's memory-mapped arrays,
so a corpus larger than memory trains: only the pieces of the current batch are ever
copied out. Item ``k`` is piece ``split[k]``: transposed, encoded by the representation
and cropped to ``length`` steps (a random window for training, the start otherwise).
``collate`` pads a batch to its longest item and says which steps are real (``mask``).

Determinism: everything random about item ``k`` in epoch ``e`` (its transposition and
its window) comes from ``numpy.random.default_rng((seed, e, 0, k))``, and the order of
a shuffled epoch from ``default_rng((seed, e, 1))``, so a loader gives the same batches
whatever its number of workers and however they are scheduled. Call
``loader.dataset.set_epoch(e)`` before each epoch (workers must not be persistent).

Transposition (augmentation): a shift drawn uniformly from ``transpose = (low, high)``
semitones, narrowed for each piece to the shifts that keep all its non-drum notes within
the voices' range, the lowest to the highest pitch of the split's non-drum notes (a piece
that cannot move keeps shift 0); drum tracks never move. Condition features (if the
representation has any) are computed on the whole transposed piece, so a conditional
model learns the key and the pitch height from the condition, not from the data alone.

numpy is enough for the dataset itself; torch is imported by ``collate`` and
``make_loader`` only.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from deepsym.data.corpus import Corpus
from deepsym.data.fit import voice_range
from deepsym.errors import CorpusError, DeepsymError, MissingExtraError
from deepsym.representations.base import Representation
from deepsym.score import Score

if TYPE_CHECKING:
    import torch

ITEM, SHUFFLE = 0, 1  # the third entropy word: an item's draws, or an epoch's order


class SequenceDataset:
    """Crops of the encoded pieces of one split of a corpus (a map-style torch dataset).

    Parameters
    ----------
    corpus : Corpus or path
        The corpus (its arrays stay memory-mapped; a worker reopens it by path).
    representation : Representation or str
        An instance, or a registered name (built with its defaults).
    split : str
        "train", "valid" or "test".
    length : int, optional
        Crop every sequence to at most this many steps (None: whole pieces).
    transpose : (low, high)
        Semitones to draw a transposition from, both included; (0, 0) for none. Each
        piece moves only as far as keeps it within the split's voices' range.
    seed : int
    random_crop : bool
        A random window of ``length`` steps (default), or always the first.

    A representation with an ``encode_piece(corpus, i)`` method (e.g. ``text``, which
    reads the ABC text kept beside a piece) is asked for piece ``i`` directly; it cannot
    be transposed.
    """

    def __init__(self, corpus: Corpus | str | os.PathLike, representation: Representation | str,
                 split: str = "train", length: int | None = None, *,
                 transpose: tuple[int, int] = (0, 0), seed: int = 0,
                 random_crop: bool = True) -> None:
        self._corpus = corpus if isinstance(corpus, Corpus) else Corpus.open(corpus)
        self.path, self.version = self._corpus.path, self._corpus.version
        self.representation = _representation(representation)
        self.split = split
        self.pieces = self._corpus.split(split)
        if length is not None and (not isinstance(length, int) or length < 1):
            raise DeepsymError(f"length must be a positive integer or None, not {length!r}")
        low, high = (int(v) for v in transpose)
        if low > high:
            raise DeepsymError(f"transpose must be (low, high) with low <= high, not {transpose}")
        if (low, high) != (0, 0) and hasattr(self.representation, "encode_piece"):
            raise DeepsymError(f"representation {self.representation.name!r} cannot be "
                               "transposed; use transpose=(0, 0)")
        self.length = length
        self.transpose = (low, high)
        self.voices = voice_range(self._corpus, self.pieces) if (low, high) != (0, 0) \
            else (0, 127)
        self.seed = seed
        self.random_crop = random_crop
        self.epoch = 0

    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:  # unpickled in a worker: reopen the same version
            corpus = Corpus.open(self.path)
            if corpus.version != self.version:
                raise CorpusError(f"{self.path} was rebuilt ({self.version} -> "
                                  f"{corpus.version}) while a loader was reading it")
            self._corpus = corpus
        return self._corpus

    def set_epoch(self, epoch: int) -> None:
        """Draw epoch ``epoch``'s transpositions, windows and order from now on."""
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        """The random generator of item ``index`` in the current epoch."""
        return np.random.default_rng((self.seed, self.epoch, ITEM, int(index)))

    def __len__(self) -> int:
        return len(self.pieces)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Item ``index``: ``x`` (the cropped array, time first), ``piece`` (its index in
        the corpus), ``shift`` (semitones) and, with conditions, ``condition``."""
        piece = int(self.pieces[index])
        rng = self.rng(index)
        encode_piece = getattr(self.representation, "encode_piece", None)
        score = None
        shift = 0
        if encode_piece is not None:
            x = encode_piece(self.corpus, piece)
        else:
            score = self.corpus.score(piece)
            low, high = shift_range(score, *self.transpose, voices=self.voices)
            shift = int(rng.integers(low, high + 1)) if high > low else low
            score = transpose_score(score, shift)
            x = self.representation.encode(score)
        if self.length is not None and len(x) > self.length:
            start = int(rng.integers(0, len(x) - self.length + 1)) if self.random_crop else 0
            x = x[start:start + self.length]
        item = {"x": np.ascontiguousarray(x), "piece": piece, "shift": shift}
        if self.representation.conditions:
            score = score if score is not None else self.corpus.score(piece)
            item["condition"] = self.representation.condition_vector(score)
        return item

    def __getstate__(self) -> dict[str, Any]:
        # memory maps would be pickled as copies of the whole arrays: send the path instead
        return {**self.__dict__, "_corpus": None}


def shift_range(score: Score, low: int, high: int, voices: tuple[int, int] = (0, 127)
                ) -> tuple[int, int]:
    """``(low, high)`` narrowed to the shifts that keep every non-drum note within
    ``voices`` (lowest, highest pitch); ``(0, 0)`` when no shift in the range does (or
    there is nothing to move)."""
    pitches = [t.notes["pitch"] for t in score.tracks if not t.is_drum and len(t.notes)]
    if not pitches:
        return 0, 0
    lowest = min(int(p.min()) for p in pitches)
    highest = max(int(p.max()) for p in pitches)
    low, high = max(low, voices[0] - lowest), min(high, voices[1] - highest)
    return (low, high) if low <= high else (0, 0)


def transpose_score(score: Score, semitones: int) -> Score:
    """The score with every non-drum note moved by ``semitones`` (drums stay).

    Raises DeepsymError if a note would leave 0..127 (see ``shift_range``).
    """
    if semitones == 0:
        return score
    tracks = []
    for track in score.tracks:
        if track.is_drum or not len(track.notes):
            tracks.append(track)
            continue
        pitch = track.notes["pitch"].astype(np.int16) + semitones
        if pitch.min() < 0 or pitch.max() > 127:
            raise DeepsymError(f"transposing by {semitones} moves notes of track "
                               f"{track.name!r} outside 0..127")
        notes = track.notes.copy()
        notes["pitch"] = pitch
        tracks.append(track.replace(notes=notes))
    return dataclasses.replace(score, tracks=tracks)


def collate(items: Sequence[dict[str, Any]], pad_value: float = 0) -> dict[str, torch.Tensor]:
    """Items of a ``SequenceDataset`` as one padded batch of tensors.

    Returns
    -------
    dict
        ``x``: ``(batch, steps, *feature_shape)``, int64 tokens or float32 values,
        ``pad_value`` after each item's end; ``mask``: ``(batch, steps)`` bool, True on
        real steps; ``lengths``, ``pieces``, ``shifts``: ``(batch,)`` int64; and
        ``condition``: ``(batch, condition_size)`` float32 when the items have one.
    """
    torch = _torch()
    lengths = np.array([len(item["x"]) for item in items], np.int64)
    first = items[0]["x"]
    dtype = np.int64 if first.dtype.kind in "iub" else np.float32
    steps = int(lengths.max()) if len(lengths) else 0
    x = np.full((len(items), steps, *first.shape[1:]), pad_value, dtype)
    for row, item in enumerate(items):  # one copy per sequence, not per step
        x[row, :len(item["x"])] = item["x"]
    batch = {
        "x": torch.from_numpy(x),
        "mask": torch.from_numpy(np.arange(steps) < lengths[:, None]),
        "lengths": torch.from_numpy(lengths),
        "pieces": torch.tensor([item["piece"] for item in items], dtype=torch.int64),
        "shifts": torch.tensor([item["shift"] for item in items], dtype=torch.int64),
    }
    if "condition" in items[0]:
        batch["condition"] = torch.from_numpy(
            np.stack([item["condition"] for item in items]).astype(np.float32))
    return batch


class EpochSampler:
    """The order of one epoch: a permutation drawn from ``(seed, epoch)``, or in order."""

    def __init__(self, dataset: SequenceDataset, shuffle: bool = True) -> None:
        self.dataset = dataset
        self.shuffle = shuffle

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if not self.shuffle:
            return iter(range(n))
        rng = np.random.default_rng((self.dataset.seed, self.dataset.epoch, SHUFFLE))
        return iter(rng.permutation(n).tolist())


def make_loader(corpus: Corpus | str | os.PathLike, representation: Representation | str,
                split: str = "train", *, length: int | None = None, batch_size: int = 32,
                transpose: tuple[int, int] = (0, 0), seed: int = 0,
                shuffle: bool | None = None, num_workers: int = 0, pad_value: float = 0,
                drop_last: bool = False, **loader_options: Any) -> torch.utils.data.DataLoader:
    """A DataLoader of padded batches (see ``collate``) over ``SequenceDataset``.

    ``shuffle`` (default: for the train split only) also picks random windows; other
    splits are read in order from each piece's start. Further keyword arguments go to
    ``torch.utils.data.DataLoader`` (``pin_memory``, ``prefetch_factor``, ...).
    """
    torch = _torch()
    if loader_options.get("persistent_workers"):
        raise DeepsymError("persistent workers would not see set_epoch; leave "
                           "persistent_workers off")
    shuffle = split == "train" if shuffle is None else shuffle
    dataset = SequenceDataset(corpus, representation, split, length, transpose=transpose,
                              seed=seed, random_crop=shuffle)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=EpochSampler(dataset, shuffle),
        collate_fn=partial(collate, pad_value=pad_value), num_workers=num_workers,
        drop_last=drop_last, **loader_options)


def _representation(representation: Representation | str) -> Representation:
    if isinstance(representation, Representation):
        return representation
    if isinstance(representation, str):
        from deepsym.plugins import manager

        return manager().representations.get(representation)()
    raise DeepsymError(f"representation must be a Representation or a registered name, "
                       f"not {type(representation).__name__}")


def _torch():
    try:
        import torch
    except ImportError:
        raise MissingExtraError('loaders need torch: pip install "deepsym[torch]"') from None
    return torch


__all__ = ["EpochSampler", "SequenceDataset", "collate", "make_loader", "shift_range",
           "transpose_score"]
