"""Where a training run reports: a CSV log (always), TensorBoard (when installed), a
progress bar with loss and throughput (tqdm when installed, else a line every few
seconds) and one-line notes on stderr. Only the main process reports. A log that cannot
be written (a full disk) is a DeepsymError naming it."""
from __future__ import annotations

import csv
import io
import math
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from deepsym.fileio import write_atomic
from deepsym.training.rundir import writing

PLAIN_EVERY = 5.0  # seconds between progress lines without tqdm
SUPERSEDED = "log-superseded.csv"


class Monitor:
    """Rows into ``folder/log.csv``, and into ``folder/tensorboard`` if ``tensorboard``.
    With ``folder=None`` (not the main process) everything is silent.

    The header is ``columns``, the columns of the log's earlier sessions and every name
    a row brings, in first-seen order (a new name goes after the row's name before it).
    A row with a new name rewrites the log atomically under the wider header first, so
    the file is always one valid CSV and no row is lost.

    A session that starts at ``start_step`` keeps the log's rows up to it; rows after it
    (of steps this session runs again: an interrupted session's steps after its last
    checkpoint, or those after an older checkpoint a resume went back to) are moved to
    ``folder/log-superseded.csv``, appended to what it holds, never dropped."""

    def __init__(self, folder: Path | None, columns: list[str], *, start_step: int,
                 total: int | None, progress: bool, tensorboard: bool) -> None:
        self.columns = list(columns)
        self.total = total
        self._file = self._writer = self._board = self._bar = None
        self._last_line = time.monotonic()
        self._postfix: dict[str, str] = {}
        self._plain = False
        if folder is None:
            return
        self._path = folder / "log.csv"
        with writing(self._path):
            self._file, self.columns, moved = _open_log(self._path, self.columns, start_step)
        self._writer = _writer(self._file, self.columns)
        if tensorboard:
            self._board = self._open_board(folder / "tensorboard", start_step)
        if progress:
            self._bar = _tqdm(total, start_step)
            self._plain = self._bar is None
        if moved:
            self.note(f"deepsym: note: {moved} log rows after step {start_step} moved to "
                      f"{SUPERSEDED}")

    @property
    def active(self) -> bool:
        return self._file is not None

    def note(self, text: str) -> None:
        """One line on stderr (above the bar)."""
        if not self.active:
            return
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def tick(self, step: int) -> None:
        """One step done (moves the bar; without tqdm, a line every few seconds)."""
        if self._bar is not None:
            self._bar.update(1)
        elif self._plain and time.monotonic() - self._last_line >= PLAIN_EVERY:
            self._last_line = time.monotonic()
            of = f"/{self.total}" if self.total else ""
            shown = "  ".join(f"{k} {v}" for k, v in self._postfix.items())
            print(f"step {step}{of}  {shown}", file=sys.stderr, flush=True)

    def row(self, values: dict[str, Any]) -> None:
        """One log row (CSV, TensorBoard) and the bar's loss and throughput."""
        if not self.active:
            return
        with writing(self._path):
            columns = _merge(self.columns, values)
            if columns != self.columns:
                self._widen(columns)
            self._writer.writerow({k: _cell(v) for k, v in values.items()})
            self._file.flush()
        step = values["step"]
        numbers = {k: v for k, v in values.items() if k != "step"
                   and isinstance(v, int | float) and math.isfinite(v)}
        if self._board is not None:
            for key, value in numbers.items():
                self._board.add_scalar(key, value, step)
        self._postfix = {k: f"{v:.4g}" for k, v in numbers.items()
                         if k.endswith("loss") or k == "steps_per_s"}
        if self._bar is not None:
            self._bar.set_postfix(self._postfix, refresh=False)

    def close(self) -> None:
        bar, board, file = self._bar, self._board, self._file
        self._file = self._writer = self._board = self._bar = None
        for thing in (bar, board):
            if thing is not None:
                thing.close()
        if file is not None:
            with writing(self._path):  # the last rows reach the disk now
                file.close()

    def _widen(self, columns: list[str]) -> None:
        """The log rewritten atomically under the header ``columns``, reopened to append."""
        self._file.close()
        write_atomic(self._path, _csv(columns, _rows(self._path)))
        self.columns = columns
        self._file = self._path.open("a", newline="", encoding="utf-8")
        self._writer = _writer(self._file, columns)

    def _open_board(self, folder: Path, start_step: int) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self.note("deepsym: note: TensorBoard logging is off (pip install tensorboard); "
                      "log.csv has the same numbers")
            return None
        return SummaryWriter(str(folder), purge_step=start_step + 1)


def _open_log(path: Path, columns: list[str], start_step: int
              ) -> tuple[io.TextIOWrapper, list[str], int]:
    """``path`` opened for appending rows, with the rows up to ``start_step`` of earlier
    sessions under a header of ``columns`` merged with theirs, that header, and how many
    later rows were moved to ``log-superseded.csv`` (written first: a failure in between
    leaves a row twice, never none). Both files are replaced atomically."""
    kept: list[dict[str, str]] = []
    moved: list[dict[str, str]] = []
    rows = _rows(path)
    for row in rows:
        step = row.get("step") or ""
        (kept if step.isdigit() and int(step) <= start_step else moved).append(row)
    header = _merge(_header(path), columns)
    if moved:
        superseded = path.with_name(SUPERSEDED)
        with writing(superseded):
            write_atomic(superseded, _csv(_merge(_header(superseded), header),
                                          _rows(superseded) + moved))
    write_atomic(path, _csv(header, kept))
    return path.open("a", newline="", encoding="utf-8"), header, len(moved)


def _merge(columns: list[str], names: Iterable[str]) -> list[str]:
    """``columns`` with the ``names`` they lack, each put after the name before it in
    ``names`` (at the start when it is the first)."""
    merged = list(columns)
    at = 0
    for name in names:
        if name in merged:
            at = merged.index(name) + 1
        else:
            merged.insert(at, name)
            at += 1
    return merged


def _header(path: Path) -> list[str]:
    """The header of a CSV log (none when there is no such file)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return next(csv.reader(f), [])


def _writer(file: io.TextIOWrapper, columns: list[str]) -> csv.DictWriter[str]:
    return csv.DictWriter(file, columns, extrasaction="ignore", lineterminator="\n")


def _rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV log (none when there is no such file)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _csv(columns: list[str], rows: list[dict[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else value


def _tqdm(total: int | None, initial: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="step", file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5)


__all__ = ["Monitor"]
