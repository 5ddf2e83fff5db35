"""Piano-roll pictures: notes as bars over time, one colour per track, bar and beat lines.

``plot_pianoroll`` draws into a matplotlib Figure (for notebooks); ``save_pianoroll``
writes a PNG atomically with the headless Agg canvas. matplotlib is imported only here,
when a picture is asked for (``pip install 'deepsym[plot]'``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.fileio import write_atomic
from deepsym.gm import PROGRAM_NAMES
from deepsym.metrics.notes import bar_lines, ends
from deepsym.score import Score, Track

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NOTE_HEIGHT = 0.8
COPIED_COLOUR = "#d62728"


def pitch_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch: 60 -> C4, 61 -> C#4, 21 -> A0."""
    return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


def plot_pianoroll(score: Score | Track, ax: Axes | None = None, against: Any = None, *,
                   name: str = "", min_run: int = 4, figsize: tuple[float, float] = (12, 5),
                   ) -> Figure:
    """Draw the piano-roll of ``score`` and return its Figure (new unless ``ax`` is given).

    Time runs in seconds along x, with a line at every bar (solid) and beat (dotted);
    pitches run up y, labelled with their names; each track has its own colour. The
    title gives ``name`` and the duration. ``against``, a
    :class:`~deepsym.metrics.originality.PlagiarismReport` for this piece, shades
    the copied run of every match of at least ``min_run`` notes and names its source.
    """
    matplotlib = require_matplotlib()
    if isinstance(score, Track):
        score = Score(tracks=[score])
    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = matplotlib.figure.Figure(figsize=figsize, layout="constrained")
        FigureCanvasAgg(fig)  # headless: never a GUI window, and no pyplot state
        ax = fig.add_subplot()
    end_tick = score.end_tick
    duration = float(score.to_seconds(end_tick))
    low, high = _draw_tracks(matplotlib, ax, score)
    _draw_grid(ax, score, end_tick)
    ax.set_xlim(0, max(duration, 1e-3))
    ax.set_ylim(low - 1, high + 1)
    ticks = _pitch_ticks(low, high)
    ax.set_yticks(ticks, [pitch_name(p) for p in ticks])
    ax.yaxis.grid(True, color="0.92", linewidth=0.6, zorder=0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pitch")
    copied = _shade_copies(matplotlib, ax, against, min_run) if against is not None else 0
    title = f"{name}  ({_clock(duration)})" if name else _clock(duration)
    if against is not None:
        title += f", {copied} copied span{'' if copied == 1 else 's'} of {min_run}+ notes"
    ax.set_title(title)
    if len(score.tracks) > 1 or against is not None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize="small",
                  borderaxespad=0)
    return ax.figure


def save_pianoroll(score: Score | Track, path: str | os.PathLike, against: Any = None, *,
                   name: str = "", min_run: int = 4, figsize: tuple[float, float] = (12, 5),
                   dpi: int = 100) -> Path:
    """Write the piano-roll as a PNG of ``figsize * dpi`` pixels, atomically (temporary
    file, then rename: an existing picture is replaced whole or not at all)."""
    fig = plot_pianoroll(score, against=against, name=name, min_run=min_run, figsize=figsize)
    return write_atomic(path, lambda out: fig.savefig(out, format="png", dpi=dpi))


def require_matplotlib() -> Any:
    """The matplotlib module, or a DeepsymError saying how to install it."""
    try:
        import matplotlib
        import matplotlib.collections
        import matplotlib.figure
        import matplotlib.patches
    except ImportError:
        raise DeepsymError("deepsym plot needs matplotlib: pip install 'deepsym[plot]'") \
            from None
    return matplotlib


def _track_label(index: int, track: Track) -> str:
    if track.is_drum:
        return f"{track.name or f'track {index}'} (drums)"
    return track.name or f"track {index} ({PROGRAM_NAMES[track.program]})"


def _draw_tracks(matplotlib: Any, ax: Axes, score: Score) -> tuple[int, int]:
    """One PolyCollection of note rectangles per track; returns the lowest and highest pitch."""
    cmap = matplotlib.colormaps["tab10" if len(score.tracks) <= 10 else "tab20"]
    low, high = 127, 0
    for i, track in enumerate(score.tracks):
        notes = track.notes
        if not len(notes):
            continue
        x0 = score.to_seconds(notes["start"])
        x1 = np.maximum(score.to_seconds(ends(notes)), x0)
        y0 = notes["pitch"] - NOTE_HEIGHT / 2
        y1 = y0 + NOTE_HEIGHT
        verts = np.stack([np.column_stack(c) for c in
                          ((x0, y0), (x0, y1), (x1, y1), (x1, y0))], axis=1)
        colour = cmap(i % cmap.N)
        ax.add_collection(matplotlib.collections.PolyCollection(
            verts, facecolors=[colour], edgecolors=["black"], linewidths=0.3,
            label=_track_label(i, track), gid=f"track-{i}", zorder=2))
        low, high = min(low, int(notes["pitch"].min())), max(high, int(notes["pitch"].max()))
    return (low, high) if low <= high else (54, 66)


def _draw_grid(ax: Axes, score: Score, end_tick: int) -> None:
    bars = bar_lines(score, end_tick + 1)
    beats = np.arange(0, end_tick + 1, score.ticks_per_beat)
    beats = beats[~np.isin(beats, bars)]
    for ticks, gid, style in ((beats, "beat-lines", dict(colors="0.85", linestyles=":")),
                              (bars, "bar-lines", dict(colors="0.55", linestyles="-"))):
        lines = ax.vlines(score.to_seconds(ticks), 0, 1, transform=ax.get_xaxis_transform(),
                          linewidths=0.6, zorder=1, **style)
        lines.set_gid(gid)


def _pitch_ticks(low: int, high: int) -> list[int]:
    """Every pitch for a narrow range, else every C and G."""
    if high - low <= 18:
        return list(range(low, high + 1))
    return [p for p in range(low, high + 1) if p % 12 in (0, 7)]


def _shade_copies(matplotlib: Any, ax: Axes, report: Any, min_run: int) -> int:
    """Shade each match's copied run in the generated piece; returns how many were shaded."""
    shown = [m for m in report.matches if m.run_notes >= min_run and m.run_notes > 0]
    for k, match in enumerate(shown):
        span, source = match.generated_span, match.training_span
        ax.add_patch(matplotlib.patches.Rectangle(
            (span.start_seconds, 0), span.end_seconds - span.start_seconds, 1,
            transform=ax.get_xaxis_transform(), facecolor=COPIED_COLOUR, alpha=0.18,
            edgecolor=COPIED_COLOUR, linewidth=0.8, gid="copied", zorder=0,
            label="copied" if k == 0 else None))
        ax.text(span.start_seconds, 0.99 - 0.05 * (k % 4), f" {Path(match.piece).name} "
                f"{_clock(source.start_seconds)}-{_clock(source.end_seconds)}: "
                f"{match.run_notes} notes", transform=ax.get_xaxis_transform(),
                va="top", ha="left", fontsize="x-small", color=COPIED_COLOUR, clip_on=True)
    return len(shown)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"
