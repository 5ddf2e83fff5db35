"""The offline datasets: music21's chorales as four voices and its folk tunes with their
ABC text, written deterministically without the network; ``corpus build --dataset``."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

from deepsym import read_midi
from deepsym.cli import main
from deepsym.data import Corpus
from deepsym.data.datasets import (
    DATA_ENV,
    JSB_VOICES,
    _write_chorale,
    data_root,
    folk_tunes,
    jsb_chorales,
)
from deepsym.hookspecs import hookimpl
from deepsym.plugins import manager


def test_jsb_writes_four_named_voices_matching_music21(tmp_path, offline):
    from music21 import corpus

    files = jsb_chorales(tmp_path / "a", limit=5)
    assert [p.name for p in files][:2] == ["bach-bwv1-6.mid", "bach-bwv10-7.mid"]
    assert len(files) == 5
    for path in files:
        score = read_midi(path)
        assert [t.name for t in score.tracks] == list(JSB_VOICES)
        assert [t.channel for t in score.tracks] == [0, 1, 2, 3]
        stem = path.stem.removeprefix("bach-").replace("-", ".") + "."
        source = next(s for s in corpus.getComposer("bach") if Path(s).name.startswith(stem))
        with warnings.catch_warnings():  # music21 expands repeats when it writes MIDI
            warnings.simplefilter("ignore")
            parts = {p.partName: p for p in corpus.parse(source).expandRepeats().parts}
        for track, voice in zip(score.tracks, JSB_VOICES, strict=True):
            theirs = [p.midi for n in parts[voice].stripTies().flatten().notes
                      for p in n.pitches]
            assert sorted(track.notes["pitch"].tolist()) == sorted(theirs), (path, voice)
    again = jsb_chorales(tmp_path / "b", limit=5)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in files]


def test_jsb_skips_what_is_not_four_voices(tmp_path):
    target = tmp_path / "bach-bwv846.mid"
    reason = _write_chorale(("bach/bwv846.mxl", str(target), None))
    assert reason == "not four voices: parts 'Piano', 'Piano'" and not target.exists()


def test_folk_writes_each_tune_with_its_abc_text(tmp_path, offline):
    from music21 import corpus

    files = folk_tunes(tmp_path / "a", limit=12)
    assert len(files) == 12 and all(p.parent.name == "airdsAirs" for p in files)
    source = Path(corpus.getWork("airdsAirs/book1.abc")).read_text(encoding="utf-8")
    for path in files:
        abc = path.with_suffix(".abc").read_text(encoding="utf-8")
        assert abc.startswith("X:") and abc in source + "\n"
        n = int(re.search(r"-(\d+)$", path.stem).group(1))
        assert re.findall(r"(?m)^X:.*$", source)[n] == abc.splitlines()[0]
        assert read_midi(path).n_notes > 0
    again = folk_tunes(tmp_path / "b", limit=12)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in files]


def test_a_second_call_converts_nothing(tmp_path, monkeypatch):
    files = folk_tunes(tmp_path, limit=3)
    import deepsym.data.datasets as datasets

    def fail(job):
        raise AssertionError(f"converted {job[0]} again")
    monkeypatch.setattr(datasets, "_write_tune", fail)
    assert folk_tunes(tmp_path, limit=3) == files


class TinyJSB:
    """A dataset plugin: the first four chorales."""

    @hookimpl
    def register_datasets(self, register):
        register(lambda root: jsb_chorales(root, limit=4), name="tiny-jsb")


def test_corpus_build_dataset_option(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    assert data_root() == tmp_path / "data"
    pm = manager()
    pm.register(TinyJSB(), "tiny-jsb-plugin")
    try:
        out = tmp_path / "corpus"
        assert main(["corpus", "build", "--dataset", "tiny-jsb", "-o", str(out), "-q"]) == 0
        corpus = Corpus.open(out)
        assert len(corpus) == 4
        assert all(Path(p.path).parent == tmp_path / "data" / "tiny-jsb" for p in corpus.pieces)
        assert [name for name, _ in corpus.pieces[0].track_names] == list(JSB_VOICES)
    finally:
        pm.unregister("tiny-jsb-plugin")
    capsys.readouterr()
    assert main(["corpus", "build", "--dataset", "jsbb", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown dataset 'jsbb'; did you mean 'jsb'?" in err
    assert main(["corpus", "build", "-o", str(out)]) == 1
    assert "name the MIDI sources (SRC...) or a dataset" in capsys.readouterr().err
