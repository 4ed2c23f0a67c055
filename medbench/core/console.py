"""What reaches the console, and what goes to ``log.txt`` instead.

The console carries medbench's own lines: which stage and task, the tables, warnings about the
user's own data (once each, with file and row), errors. Everything the libraries say -- lm-eval's and
transformers' logs, Python warnings (FutureWarnings and the like), jieba's dictionary loading, the
trainers' per-step loss dictionaries -- goes to the ``log.txt`` of the run or training folder being
written, not the console, unless ``-v``. The libraries' tqdm bars are drawn into the void: in a
terminal, :mod:`medbench.core.progress` shows them as rows of one live display; elsewhere (CI logs,
``> out.txt``) nothing is drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medbench.core import progress

#: loggers whose records reach the console at INFO (everything else: ERROR and above only)
OWN = "medbench"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _ConsoleFilter(logging.Filter):
    """medbench's own records; other loggers' errors; nothing else (that goes to log.txt)."""

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == OWN or record.name.startswith(OWN + ".")
        if own and record.name.startswith(f"{OWN}.steps"):
            return False  # training steps: log.txt only
        return own or record.levelno >= logging.ERROR


class _Once(logging.Filter):
    """A warning the console has shown already (the same bundled row, read by every run of a demo)
    is not shown again; log.txt keeps every occurrence."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        text = record.getMessage()
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


def setup(verbose: bool) -> None:
    """Route the libraries' output; ``verbose`` leaves everything on the console as before."""
    root = logging.getLogger()
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    logging.getLogger(OWN).setLevel(logging.INFO)
    if verbose:
        for name in ("lm_eval", "lm-eval"):
            logging.getLogger(name).setLevel(logging.INFO)
        return
    root.setLevel(logging.INFO)  # log.txt gets the libraries' INFO; the console filter drops it
    for handler in root.handlers:
        if type(handler) is not logging.StreamHandler:  # the console basicConfig made, not a host's
            continue  # (a test runner's capture handler lives on: a filter there would outlive us)
        if not any(isinstance(f, _ConsoleFilter) for f in handler.filters):
            handler.addFilter(_ConsoleFilter())
            handler.addFilter(_Once())
    logging.captureWarnings(True)  # Python warnings become log records (py.warnings): log.txt only
    _quiet_jieba()
    _void_bars()
    progress.start()


def _quiet_jieba() -> None:
    """jieba gives its logger a DEBUG stream handler of its own on import; send it through ours."""
    jieba_log = logging.getLogger("jieba")
    jieba_log.setLevel(logging.INFO)
    jieba_log.propagate = True
    try:
        import jieba

        jieba.setLogLevel(logging.INFO)
        for handler in list(jieba.default_logger.handlers):
            jieba.default_logger.removeHandler(handler)
    except ImportError:
        pass


def _void_bars() -> None:
    """Every tqdm bar drawn into the void, whatever its caller asked (lm-eval passes
    ``disable=False``), and mirrored in the live display where there is one. Drawn, not disabled:
    callers read a bar's timings (vLLM divides by ``format_dict["elapsed"]``, which a disabled bar
    does not keep)."""
    import os

    from tqdm import std

    if getattr(std.tqdm.__init__, "_medbench_quiet", False):
        return
    init, show, close = std.tqdm.__init__, std.tqdm.display, std.tqdm.close
    void = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process

    def __init__(self, *args, **kwargs):
        kwargs["file"] = void
        init(self, *args, **kwargs)
        if (live := progress.display()) and not self.disable:
            live.opened(self)

    def display(self, *args, **kwargs):
        drawn = show(self, *args, **kwargs)
        if live := progress.display():
            live.shown(self)
        return drawn

    def close_(self):
        close(self)
        if live := progress.display():
            live.closed(self)

    __init__._medbench_quiet = True
    std.tqdm.__init__, std.tqdm.display, std.tqdm.close = __init__, display, close_


@contextmanager
def log_to(path: Path) -> Iterator[None]:
    """Every record (libraries' included) also written to ``path`` while the block runs."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


def _quiet() -> bool:
    return any(isinstance(f, _ConsoleFilter) for h in logging.getLogger().handlers for f in h.filters)


def quiet_trainer(trainer) -> None:
    """A trainer's per-step log dictionaries to log.txt (logger ``medbench.steps``) instead of print;
    in a terminal its step bar stays (a row of the live display). With ``-v`` (or outside the CLI)
    the trainer prints as usual."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback, TrainerCallback

    if not _quiet():
        return

    class _LogSteps(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_local_process_zero and logs:
                logging.getLogger(f"{OWN}.steps").info("step %s: %s", state.global_step, logs)

    class _StepBar(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            pass  # the bar only: the dictionaries go to log.txt

    for callback in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(callback)
    trainer.add_callback(_LogSteps())
    if progress.display():
        trainer.add_callback(_StepBar())
