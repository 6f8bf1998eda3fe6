"""The edition's candidate pool, built in a thread while ``digest run`` plans the edition.

Building the pool (importing the ranker, reading the candidates, indexing them: about 2 s
for 2,000 papers) is work no reader can be ranked without, and planning 100,000 readers
spends most of its time waiting for the database to insert their ledger rows. Started when
the plan knows somebody is due, the build overlaps that wait, and the first batches go out
seconds earlier. When the plan finds nothing to rank (every due row has its picks: a rerun),
the thread is told so and stops before indexing if it has not begun; the run waits for it
before it returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from digest.pipeline.service import EditionPool

Build = Callable[[Callable[[], bool]], EditionPool | None]


class PoolAhead:
    """Runs ``build`` (given a ``wanted`` callable to ask before its costly part) in a
    thread from :meth:`start` on; :meth:`result` waits for it, or builds at once when it was
    never started. A context manager: leaving it tells a build still running that it is
    not wanted and joins the thread."""

    def __init__(self, build: Build):
        self._build = build
        self._unwanted = threading.Event()
        self._thread: threading.Thread | None = None
        self._result: EditionPool | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="digest-pool", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._build(self._wanted)
        except BaseException as exc:  # raised in the run's thread, by result()
            self._error = exc

    def cancel(self) -> None:
        """Not wanted after all (nothing to rank): a build that has not begun indexing
        stops before it does."""
        self._unwanted.set()

    def _wanted(self) -> bool:
        return not self._unwanted.is_set()

    def result(self) -> EditionPool | None:
        """The pool (None only when it was built as not wanted; the caller builds then)."""
        if self._thread is None:
            return self._build(lambda: True)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result

    def __enter__(self) -> PoolAhead:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()
        if self._thread is not None:
            self._thread.join()
