"""Per-message problems in the log, at a rate an operator can read.

A stream of bad messages must not become a stream of log lines (10,000
dead letters were 10,000 lines): each kind of problem is logged when it
first occurs, then once per interval with how many more there were and
the latest of them. The metrics keep every one.
"""

import time


class _Window:
    __slots__ = ('ends', 'level', 'more', 'latest')

    def __init__(self, ends, level):
        self.ends = ends
        self.level = level
        self.more = 0
        self.latest = None


class ProblemLog:
    def __init__(self, logger, interval, clock=time.monotonic):
        self._logger = logger
        self.interval = interval
        self._clock = clock
        self._windows = {}  # kind -> _Window of the interval running

    def report(self, level, kind, message):
        """One problem of ``kind`` (a short label that bounds the lines)."""
        window = self._windows.get(kind)
        if window is not None and self._clock() < window.ends:
            window.more += 1
            window.latest = message
            return
        self._close(kind, window)
        self._windows[kind] = _Window(self._clock() + self.interval, level)
        self._logger.log(level, '%s: %s', kind, message)

    def tick(self):
        """Summarise the intervals that are over; call it now and then."""
        now = self._clock()
        for kind, window in list(self._windows.items()):
            if now >= window.ends:
                self._close(kind, window)
                del self._windows[kind]

    def _close(self, kind, window):
        if window is not None and window.more:
            self._logger.log(
                window.level, '%s: %d more in the last %.0f s, the latest: '
                '%s', kind, window.more, self.interval, window.latest)
