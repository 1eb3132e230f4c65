"""Log set-up, and the problem log: each problem logged when it appears and when it is fixed.

Log lines carry the time, the process id and the level, in gunicorn's format (under
gunicorn, through gunicorn's own error-log handlers). Nothing is set up at import time.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from medfeed.coordination import Leader, claim_once, process_start_time, wait_until_gone
from medfeed.errors import Problem

LOGGER = "medfeed"
GUNICORN_ERROR_LOG = "gunicorn.error"
LINE_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"
DATE_FORMAT = "[%Y-%m-%d %H:%M:%S %z]"
"""gunicorn's error-log format: ``[2026-12-02 07:00:00 +0000] [1234] [WARNING] ...``."""
START_FAILURE_WAIT = 10.0
"""Seconds a worker that cannot start waits for the sibling that said why to be gone."""
LOCK_FILE = "problems.lock"
"""The lock file in the state folder whose holder logs the folder's problems."""


def configure_logging(loggers: Iterable[str] = (LOGGER,)) -> bool:
    """Send log lines with time, pid and level to stderr, or to gunicorn's error log.

    Does nothing where logging was set up already (the root logger has handlers):
    a second call, ``gunicorn --log-config``, a test runner. ``loggers`` get gunicorn's
    ``--log-level`` under gunicorn, INFO elsewhere. Returns whether it set anything up.
    """
    root = logging.getLogger()
    if root.handlers:
        return False
    gunicorn = logging.getLogger(GUNICORN_ERROR_LOG)
    if gunicorn.handlers:
        # Its handlers write where the operator told gunicorn to (--error-logfile) and
        # are the ones gunicorn reopens on SIGUSR1.
        handlers, level = list(gunicorn.handlers), gunicorn.level or logging.INFO
    else:
        stderr = logging.StreamHandler()
        stderr.setFormatter(logging.Formatter(LINE_FORMAT, DATE_FORMAT))
        handlers, level = [stderr], logging.INFO
    for handler in handlers:
        root.addHandler(handler)
    for name in loggers:
        logging.getLogger(name).setLevel(level)
    return True


class ProblemLog:
    """Logs each problem when it appears and "fixed: ..." when it goes, from one process.

    Every process serving a folder sees the same problems; only the elected one logs. A
    newly elected process logs the problems standing at that moment once more, so that
    the log after a restart or a takeover says what is still wrong.
    """

    def __init__(self, leader: Leader, logger: logging.Logger | None = None) -> None:
        self.leader = leader
        self.logger = logger or logging.getLogger(LOGGER)
        self.known: frozenset[Problem] = frozenset()
        self.leading = False
        self._lock_trouble: str | None = None

    def update(self, problems: Iterable[Problem]) -> None:
        """Take the problems as they stand now; log what changed if this process leads."""
        current = frozenset(problems)
        appeared, fixed = current - self.known, self.known - current
        self.known = current
        if not (appeared or fixed):
            return  # nothing to say, so no need to ask who says it
        leading = self.leader.is_leader()
        if leading and not self.leading:
            appeared = current
        self.leading = leading
        if not leading:
            return
        self._warn_about_the_lock()
        for problem in sorted(fixed):
            self.logger.info("fixed: %s", problem)
        for problem in sorted(appeared):
            self.logger.warning("%s", problem)

    def _warn_about_the_lock(self) -> None:
        error = self.leader.error
        trouble = None if error is None else f"{self.leader.path}: {error.strerror or error}"
        if trouble and trouble != self._lock_trouble:
            self.logger.warning("every process logs problems: cannot use the lock %s", trouble)
        self._lock_trouble = trouble


def problem_log(state_folder: Path) -> ProblemLog:
    """The problem log of the processes that share ``state_folder``."""
    return ProblemLog(Leader(state_folder / LOCK_FILE))


def log_start_failure(problems: Iterable[Problem]) -> int:
    """Log why this process cannot start, one line per problem, once among its siblings.

    A sibling (another gunicorn worker of the same master) that said it after this
    process started has said it for both. Returns the pid of the process that said it.
    """
    started = process_start_time()
    marker = Path(tempfile.gettempdir()) / f"medfeed-{os.getuid()}" / f"start-{os.getppid()}"
    reporter = os.getpid() if started is None else claim_once(marker, started)
    if reporter == os.getpid():
        logger = logging.getLogger(LOGGER)
        for problem in problems:
            logger.error("medfeed cannot start: %s", problem)
    return reporter


def exit_for_start_failure(problems: Iterable[Problem]) -> NoReturn:
    """Log why this process cannot start (once among its siblings), then exit.

    The status is 3, gunicorn's "worker failed to boot", which stops the server rather
    than restarting the worker forever.
    """
    reporter = log_start_failure(problems)
    if reporter == os.getpid():
        raise SystemExit(3)
    # gunicorn stops on the reporter's status; a second status 3 while it stops makes it
    # crash with a traceback. So the others wait until the reporter is reaped (gunicorn
    # is stopping then) and leave quietly.
    gone = wait_until_gone(reporter, START_FAILURE_WAIT)
    under_gunicorn = bool(logging.getLogger(GUNICORN_ERROR_LOG).handlers)
    raise SystemExit(0 if gone and under_gunicorn else 3)
