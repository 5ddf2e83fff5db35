"""Where a training run reports: a CSV log (always), TensorBoard (when installed), a
progress bar with loss and throughput (tqdm when installed, else a line every few
seconds) and one-line notes on stderr. Only the main process reports."""
from __future__ import annotations

import csv
import io
import math
import sys
import time
from pathlib import Path
from typing import Any

from deepsym.fileio import write_atomic

PLAIN_EVERY = 5.0  # seconds between progress lines without tqdm


class Monitor:
    """Rows of ``columns`` into ``folder/log.csv`` (rows after ``start_step`` from an
    interrupted session are dropped), and into ``folder/tensorboard`` if ``tensorboard``.
    With ``folder=None`` (not the main process) everything is silent."""

    def __init__(self, folder: Path | None, columns: list[str], *, start_step: int,
                 total: int | None, progress: bool, tensorboard: bool) -> None:
        self.columns = columns
        self.total = total
        self._file = self._writer = self._board = self._bar = None
        self._last_line = time.monotonic()
        self._postfix: dict[str, str] = {}
        self._plain = False
        if folder is None:
            return
        self._file = _open_log(folder / "log.csv", columns, start_step)
        self._writer = csv.DictWriter(self._file, columns, extrasaction="ignore",
                                      lineterminator="\n")
        if tensorboard:
            self._board = self._open_board(folder / "tensorboard", start_step)
        if progress:
            self._bar = _tqdm(total, start_step)
            self._plain = self._bar is None

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
        for thing in (self._bar, self._board, self._file):
            if thing is not None:
                thing.close()
        self._file = self._writer = self._board = self._bar = None

    def _open_board(self, folder: Path, start_step: int) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self.note("deepsym: note: TensorBoard logging is off (pip install tensorboard); "
                      "log.csv has the same numbers")
            return None
        return SummaryWriter(str(folder), purge_step=start_step + 1)


def _open_log(path: Path, columns: list[str], start_step: int) -> io.TextIOWrapper:
    """``path`` opened for appending rows, keeping only rows up to ``start_step`` of an
    earlier session (rewritten atomically) and with the header ``columns``."""
    kept: list[dict[str, str]] = []
    if path.is_file() and start_step > 0:
        with path.open(newline="", encoding="utf-8") as f:
            kept = [r for r in csv.DictReader(f) if r.get("step", "").isdigit()
                    and int(r["step"]) <= start_step]
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    write_atomic(path, text.getvalue().encode())
    return path.open("a", newline="", encoding="utf-8")


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
