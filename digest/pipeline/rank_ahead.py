"""Rank an edition's chunks in a thread of its own, behind the workers in CPU priority.

On Celery workers the planner only ranks, enqueues and follows the ledger, and ranking is
most of its CPU: 100,000 readers cost it about 20 s of CPU in the first half minute of an
edition, which on a machine it shares with the workers (one host, the usual set-up)
halved their sending while it lasted. Ranking need not be faster than sending, only ahead
of it, and the workers leave CPU unused whenever they wait for the database or the relay.
So the first chunk is ranked at once (the first batches wait for it), and from the
second on the ranking thread runs at a lower priority (``nice``, a per-thread attribute on
Linux): it takes what the workers leave. Its chunks double in size up to 5,000, so it
stays ahead of the workers all the same; the chunks reach the run through a queue.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterable, Iterator

log = logging.getLogger(__name__)

_DONE = object()


class RankAhead:
    """The chunks of ``chunks`` (a generator that ranks as it is iterated), ranked in a
    thread started at once: the first at the caller's priority, the rest ``nice`` steps
    lower (0: the same). Iterating gives them as they come; an error of the ranking is
    raised there, at the chunk it stopped at. ``close`` (or leaving the ``with``) stops
    the thread at its next chunk and waits for it."""

    def __init__(self, chunks: Iterable[list[int]], *, nice: int):
        self._chunks, self._nice = chunks, nice
        self._handed: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._rank, name="digest-rank", daemon=True)
        self._thread.start()

    def _rank(self) -> None:
        try:
            for n, chunk in enumerate(self._chunks):
                self._handed.put(chunk)
                if self._stop.is_set():
                    return
                if n == 0 and self._nice > 0:
                    _lower_priority(self._nice)
        except BaseException as exc:  # raised in the run's thread
            self._handed.put(exc)
        finally:
            self._handed.put(_DONE)

    def __iter__(self) -> Iterator[list[int]]:
        while (item := self._handed.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> RankAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lower_priority(steps: int) -> None:
    """This thread only (Linux: the nice value belongs to the thread); where that is not
    possible, nothing changes."""
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + steps)
    except (AttributeError, OSError) as exc:  # no setpriority (Windows), or not allowed
        log.debug("ranking keeps its priority: %s", exc)
