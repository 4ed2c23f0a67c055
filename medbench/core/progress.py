"""One live progress display per command in a terminal (``rich``), instead of a tqdm bar per task.

Libraries draw their own tqdm bars (lm-eval's requests, vLLM's prompts, the trainers' steps); each
bar is drawn into the void (:func:`medbench.core.console._void_bars`) and mirrored here as one row of a
single ``rich`` display that updates in place: the stage medbench is in, then every open bar with
its count, rate, elapsed time and ETA. A bar that ran for a second or more leaves one summary line
when it closes; medbench's own lines print above the display. When stdout is not a terminal
(CI logs, ``> out.txt``) nothing is drawn at all.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time

#: a closed bar that ran at least this long leaves a summary line above the display
SUMMARY_AFTER_S = 1.0


class LiveDisplay:
    """The command's display: a stage row and one row per open library bar."""

    EMPTY = {"count": "", "rate": "", "eta": ""}

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(file=sys.stdout)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            console=self.console,
            redirect_stdout=True,
            redirect_stderr=True,
            transient=True,  # gone when the command ends: its summary lines and tables stay
        )
        self.stage_row = self.progress.add_task("medbench", total=None, **self.EMPTY)
        self.rows: dict[int, tuple[int, float]] = {}  # id(bar) -> (row, started)
        self.lock = threading.Lock()

    def start(self) -> None:
        self.progress.start()
        for handler in logging.getLogger().handlers:  # log lines through rich, above the display
            if type(handler) is logging.StreamHandler:
                handler.setStream(sys.stderr)

    def stop(self) -> None:
        self.progress.stop()
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler:
                handler.setStream(sys.__stderr__)

    def stage(self, text: str) -> None:
        self.progress.update(self.stage_row, description=f"[bold]{text}[/]")

    def opened(self, bar) -> None:
        with self.lock:
            row = self.progress.add_task(f"  {self._label(bar)}", total=bar.total, **self.EMPTY)
            self.rows[id(bar)] = (row, time.monotonic())

    def shown(self, bar) -> None:
        entry = self.rows.get(id(bar))
        if entry:
            elapsed = bar.format_dict.get("elapsed") or 0
            speed = bar.n / elapsed if elapsed > 0 and bar.n else 0
            left = (bar.total - bar.n) / speed if speed and bar.total else None
            self.progress.update(
                entry[0],
                completed=bar.n,
                total=bar.total,
                count=f"{bar.n}/{bar.total}" if bar.total else str(bar.n),
                rate=f"{speed:.1f}/s" if speed else "",
                eta=f"ETA {int(left) // 60}:{int(left) % 60:02d}" if left is not None else "",
            )

    def closed(self, bar) -> None:
        with self.lock:
            entry = self.rows.pop(id(bar), None)
        if entry is None:
            return
        row, started = entry
        self.progress.remove_task(row)
        seconds = time.monotonic() - started
        if seconds >= SUMMARY_AFTER_S:
            rate = f", {bar.n / seconds:.1f}/s" if bar.n else ""
            self.console.print(f"  done: {self._label(bar)}: {bar.n} in {seconds:.1f} s{rate}")

    @staticmethod
    def _label(bar) -> str:
        return (bar.desc or "progress").rstrip(": ")[:48]


_display: LiveDisplay | None = None


def start() -> LiveDisplay | None:
    """The command's live display, when stdout is a terminal (else None: nothing drawn)."""
    global _display
    if _display is None and sys.stdout.isatty():
        _display = LiveDisplay()
        _display.start()
        atexit.register(stop)
    return _display


def stop() -> None:
    global _display
    if _display is not None:
        _display.stop()
        _display = None


def stage(text: str) -> None:
    """Name what the command is doing now, in the display's first row (no-op without a display)."""
    if _display is not None:
        _display.stage(text)


def display() -> LiveDisplay | None:
    return _display
