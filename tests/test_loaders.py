"""torch loaders over a real corpus: same seed same batches (with workers too), crops,
padding and masks, transposition that never moves drums nor leaves 0..127, conditions,
and memory that stays small because the arrays stay memory-mapped."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from music21_corpus import real_midi_files

from deepsym import Score, read_midi, write_midi
from deepsym.data import Corpus, build_corpus
from deepsym.data.datasets import folk_tunes
from deepsym.data.loaders import SequenceDataset, make_loader, shift_range, transpose_score
from deepsym.errors import DeepsymError
from deepsym.representations import pitch_class_histogram
from deepsym.representations.bars import Bars
from deepsym.representations.events import Events
from deepsym.representations.notes4 import Notes4
from deepsym.representations.text import to_text
from deepsym.score import sort_notes


def edited_pieces(folder: Path, chorales: list[Path]) -> dict[str, Path]:
    """A chorale whose bass is a drum track, and one moved up to reach pitch 125."""
    folder.mkdir()
    drums = read_midi(chorales[0])
    drums.tracks[-1] = drums.tracks[-1].replace(is_drum=True, channel=9)
    high = read_midi(chorales[1])
    top = max(int(t.notes["pitch"].max()) for t in high.tracks)
    high = transpose_score(high, 125 - top)
    paths = {"drums": folder / "drums.mid", "high": folder / "high.mid"}
    write_midi(drums, paths["drums"])
    write_midi(high, paths["high"])
    return paths


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    root = tmp_path_factory.mktemp("loaders")
    files = real_midi_files()
    edited = edited_pieces(root / "edited", [p for p in files if p.name.startswith("bach")])
    build_corpus([*files, *edited.values()], root / "corpus", workers=2, fractions=(1, 0, 0))
    return Corpus.open(root / "corpus")


def piece_named(corpus: Corpus, name: str) -> int:
    return next(i for i, p in enumerate(corpus.pieces) if Path(p.path).name == name)


def batches(loader, epochs=(0,)) -> list[dict[str, torch.Tensor]]:
    out = []
    for epoch in epochs:
        loader.dataset.set_epoch(epoch)
        out += list(loader)
    return out


def same(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(
        x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
        for x, y in zip(a, b, strict=True))


def test_same_seed_same_batches_with_and_without_workers(corpus):
    def run(seed=7, workers=0):
        loader = make_loader(corpus, "events", length=96, batch_size=24, transpose=(-4, 4),
                             seed=seed, num_workers=workers)
        return batches(loader, epochs=(0, 1))

    first = run()
    assert same(first, run())
    assert same(first, run(workers=2))
    assert not same(first, run(seed=8))
    half = len(first) // 2
    assert not same(first[:half], first[half:])  # another epoch, other windows and order
    shifts = torch.cat([b["shifts"] for b in first])
    assert set(shifts.tolist()) == set(range(-4, 5))


def test_padding_masks_and_crops(corpus):
    rep = Notes4()
    whole = make_loader(corpus, rep, batch_size=16, shuffle=False, pad_value=-1.0)
    assert len(whole.dataset) == len(corpus)
    for batch in list(whole)[:5]:
        assert batch["x"].shape[:2] == batch["mask"].shape
        assert torch.equal(batch["mask"].sum(1), batch["lengths"])
        assert torch.all(batch["x"][~batch["mask"]] == -1.0)
        for row, piece in enumerate(batch["pieces"].tolist()):
            expected = rep.encode(corpus.score(piece))
            assert np.array_equal(batch["x"][row, :len(expected)].numpy(), expected)
    cropped = make_loader(corpus, rep, length=32, batch_size=64, seed=3)
    batch = next(iter(cropped))
    assert batch["x"].shape[1] <= 32 and torch.all(batch["lengths"] <= 32)
    starts = []
    for row, piece in enumerate(batch["pieces"].tolist()):
        full = rep.encode(corpus.score(piece))
        crop = batch["x"][row, :batch["lengths"][row]].numpy()
        windows = np.lib.stride_tricks.sliding_window_view(full, crop.shape, axis=(0, 1))
        found = np.flatnonzero((windows[:, 0] == crop).all(axis=(1, 2)))
        assert len(found), piece  # the crop is a window of the piece
        starts.append(found[0])
    assert len(set(starts)) > 5  # random windows, not always the start


def test_transposition_never_moves_drums_nor_leaves_the_range(corpus):
    drums, high = piece_named(corpus, "drums.mid"), piece_named(corpus, "high.mid")
    rep = Bars(rule="family", n_tracks=5)
    dataset = SequenceDataset(corpus, rep, transpose=(-6, 6), seed=1)
    dataset.pieces = np.array([drums, high])
    original = rep.encode(corpus.score(drums))
    seen = {drums: set(), high: set()}
    for epoch in range(100):
        dataset.set_epoch(epoch)
        for index in range(2):
            item = dataset[index]
            seen[item["piece"]].add(item["shift"])
            if item["piece"] == drums:
                assert np.array_equal(item["x"][:, 0], original[:, 0])  # the drum slot
                assert np.array_equal(item["x"], rep.encode(
                    transpose_score(corpus.score(drums), item["shift"])))
    assert seen[drums] == set(range(-6, 7))
    assert seen[high] == set(range(-6, 1))  # its highest note, 125, tops the voices' range
    score = corpus.score(drums)
    moved = transpose_score(score, 5)
    assert np.array_equal(moved.tracks[-1].notes, score.tracks[-1].notes)
    assert np.array_equal(moved.tracks[0].notes["pitch"], score.tracks[0].notes["pitch"] + 5)


def test_shift_range():
    score = Score(tracks=[read_midi(real_midi_files()[0]).tracks[0]])
    low = int(score.tracks[0].notes["pitch"].min())
    assert shift_range(score, -200, 0) == (-low, 0)
    assert shift_range(score, 300, 400) == (0, 0)
    assert shift_range(Score(), -3, 3) == (0, 0)
    with pytest.raises(DeepsymError, match=r"outside 0\.\.127"):
        transpose_score(score, 200)


def test_conditions_follow_the_transposition(corpus):
    rep = Events(conditions=("pitch_classes", "mean_pitch"))
    loader = make_loader(corpus, rep, length=64, batch_size=8, transpose=(-5, 5), seed=2)
    batch = next(iter(loader))
    assert batch["condition"].shape == (8, 13)
    for row, (piece, shift) in enumerate(zip(batch["pieces"].tolist(),
                                             batch["shifts"].tolist(), strict=True)):
        hist = pitch_class_histogram(corpus.score(piece))
        assert np.allclose(batch["condition"][row, :12].numpy(), np.roll(hist, shift))


def test_text_reads_the_abc_beside_each_piece(tmp_path):
    files = folk_tunes(tmp_path / "folk", limit=6)
    build_corpus(files, tmp_path / "corpus", fractions=(1, 0, 0))
    loader = make_loader(tmp_path / "corpus", "text", batch_size=6, shuffle=False)
    batch = next(iter(loader))
    corpus = Corpus.open(tmp_path / "corpus")
    for row, piece in enumerate(batch["pieces"].tolist()):
        abc = Path(corpus.pieces[piece].path).with_suffix(".abc").read_text(encoding="utf-8")
        assert batch["x"][row, :batch["lengths"][row]].tolist() == to_text(abc).tolist()
    with pytest.raises(DeepsymError, match="'text' cannot be transposed"):
        make_loader(tmp_path / "corpus", "text", transpose=(-1, 1))


def test_datasets_pickle_without_the_arrays(corpus):
    dataset = SequenceDataset(corpus, "pianoroll", length=16)
    data = pickle.dumps(dataset)
    assert len(data) < 20_000 < corpus.note_array.nbytes
    clone = pickle.loads(data)
    assert np.array_equal(clone[3]["x"], dataset[3]["x"])
    assert isinstance(clone.corpus.note_array, np.memmap)


def long_pieces(folder: Path, sources: list[Path], count: int, per_piece: int) -> list[Path]:
    """``count`` MIDI files, each ``per_piece`` real pieces played one after another."""
    scores = [read_midi(p).resample(480) for p in sources]
    folder.mkdir()
    paths = []
    for k in range(count):
        notes, offset = [], 0
        rng = np.random.default_rng(k)
        for j in rng.choice(len(scores), per_piece):
            part = np.concatenate([t.notes for t in scores[j].tracks])
            part["start"] += offset
            part["pitch"] = np.clip(part["pitch"].astype(int) + rng.integers(-3, 4), 0, 127)
            notes.append(part)
            offset = int((part["start"].astype(np.int64) + part["duration"]).max())
        track = read_midi(sources[0]).tracks[0].replace(notes=sort_notes(np.concatenate(notes)))
        paths.append(folder / f"long-{k:03d}.mid")
        write_midi(Score(ticks_per_beat=480, tracks=[track]), paths[-1])
    return paths


MEASURE = """
import json, re, sys
from pathlib import Path
import numpy as np
from deepsym.data.loaders import make_loader

def anonymous_rss():  # bytes of anonymous memory resident (file pages not counted)
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"RssAnon:\\s+(\\d+) kB", status).group(1)) * 1024

path = sys.argv[1]
warm = make_loader(path, "notes4", length=256, batch_size=32)
next(iter(warm))  # imports, allocator pools, torch's first tensors
del warm
before = anonymous_rss()
loader = make_loader(path, "notes4", length=256, batch_size=32)
notes = loader.dataset.corpus.note_array
seen = sum(len(batch["x"]) for batch in loader)
epoch = anonymous_rss() - before
copy = np.array(notes)  # the control: holding the notes in memory costs their size
print(json.dumps({"memmap": isinstance(notes, np.memmap), "bytes": notes.nbytes,
                  "seen": seen, "epoch": epoch, "copy": anonymous_rss() - before}))
"""


def test_memory_stays_small_while_reading_a_whole_corpus(tmp_path):
    """300 pieces of about 8000 notes (notes.npy ~24 MB), read in a fresh process: one
    epoch adds far less anonymous memory than the notes array, which a copy of it adds
    whole."""
    files = long_pieces(tmp_path / "src", real_midi_files(), count=300, per_piece=40)
    build_corpus(files, tmp_path / "corpus", workers=2, fractions=(1, 0, 0))
    run = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / "corpus")],
                         capture_output=True, text=True, check=True)
    got = json.loads(run.stdout)
    assert got["memmap"] and got["bytes"] > 20e6 and got["seen"] == 300
    assert got["epoch"] < got["bytes"] / 4, got
    assert got["copy"] > 0.8 * got["bytes"], got
