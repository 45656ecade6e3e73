"""``translator dead-letters``: see what the dead-letter store holds, and
replay it through the current mapping set once a mapping is fixed.

``list`` and ``replay --dry-run`` read without taking: the messages stay
where they are. ``replay`` runs the relay's own loop with the store as its
source, so it keeps the relay's promise (a dead letter is acknowledged
only once what it became is confirmed) and gives the message ids a
first-time translation gives: consumers drop the duplicates. What still
fails goes back to the store with its new reason.
"""

import collections
import dataclasses
import sys
import time

from translator import settings as settings_module
from translator import translation
from translator.relay import changes
from translator.relay import dead_letter
from translator.relay import loop
from translator.relay import metrics
from translator.relay import router

#: Dead letters shown by ``list``.
SAMPLES = 3
#: Reasons shown, the most frequent first; the rest are summed.
REASONS = 20
_IDLE = 2.0  # seconds without a delivery after which a replay is done


class Tally:
    """Outcomes by kind and reason, with a few examples."""

    def __init__(self):
        self.counts = collections.Counter()
        self.samples = []

    def add(self, outcome, reason, example=None):
        self.counts[(outcome, reason)] += 1
        if example is not None and len(self.samples) < SAMPLES:
            self.samples.append(example)

    def add_routed(self, routed):
        outcome = routed.outcome
        self.add(outcome.kind, '' if outcome.ok else outcome.reason)

    def total(self, outcome=None):
        return sum(n for (kind, _), n in self.counts.items()
                   if outcome in (None, kind))

    def report(self, out, exclude=()):
        rows = [(n, kind, reason) for (kind, reason), n in
                self.counts.items() if kind not in exclude]
        rows.sort(key=lambda row: (-row[0], row[1], row[2]))
        for n, kind, reason in rows[:REASONS]:
            out.write('  %7d  %-9s  %s\n' % (n, kind, reason))
        rest = sum(row[0] for row in rows[REASONS:])
        if rest:
            out.write('  %7d  in %d other reasons\n' % (
                rest, len(rows) - REASONS))


def store_of(settings):
    return settings.target.driver.dead_letter_store(settings)


def list_dead_letters(settings, limit, out=sys.stdout):
    tally = Tally()

    def count(delivery):
        letter = dead_letter.Letter.read(delivery)
        outcome = letter.outcome or '?'
        reason = letter.reason or '(no %sreason)' % dead_letter.PREFIX
        tally.add(outcome, reason, (letter, outcome, reason))
    store = store_of(settings)
    depth = store.browse(limit, count)
    out.write('%s: %d dead letters%s\n' % (
        store.name, depth, '' if tally.total() == depth else
        ', the first %d read' % tally.total()))
    tally.report(out)
    for letter, outcome, reason in tally.samples:
        out.write('\n  event type  %s\n  outcome     %s\n  reason      %s\n'
                  '  came from   exchange %s, routing key %s\n' % (
                      letter.event_type or '-', outcome, reason,
                      letter.exchange, letter.routing_key))
    return 0


def replay_settings(conf, limit=None):
    """The relay's settings for a replay: from the dead-letter store on the
    target bus, each dead letter made into the other format (it became one
    because the relay had to make that; its copy went out the first
    time)."""
    settings = settings_module.Settings.from_conf(conf)
    return dataclasses.replace(
        settings, source=settings.target, notification_format='both',
        prefetch=min(settings.prefetch, limit or settings.prefetch))


def dry_run(settings, limit, out=sys.stdout):
    translator = translation.Translator.from_directory(
        settings.mappings_dir, settings.legacy_options)
    route = router.Router(settings, translator, changes.ChangeFilter(0),
                          replaying=True).route
    tally = Tally()

    def try_one(delivery):
        tally.add_routed(route(dead_letter.as_delivered(delivery)))
    store = store_of(settings)
    depth = store.browse(limit, try_one)
    read = tally.total()
    out.write('dry run over %d of %d dead letters in %s: %d would be '
              'translated, %d would stay dead letters\n' % (
                  read, depth, settings.dead_letter_queue,
                  tally.total(translation.TRANSLATED),
                  read - tally.total(translation.TRANSLATED)))
    tally.report(out, exclude=(translation.TRANSLATED,))
    return 0


class Replay:
    """The first ``limit`` dead letters through the relay once, then stop:
    a Relay whose source is the dead-letter store."""

    def __init__(self, conf, limit, progress=None):
        self.limit = limit
        self.tally = Tally()
        self.relay = loop.Relay(
            conf, metrics.RelayMetrics(),
            settings_of=lambda conf: replay_settings(conf, limit),
            open_source=self._open_source, on_routed=self.tally.add_routed,
            replaying=True)
        self.received = 0
        self._last_delivery = None
        self._progress = progress

    def _open_source(self, settings, on_delivery):
        return store_of(settings).source(settings, self._received)

    def _received(self, delivery):
        self._last_delivery = time.monotonic()
        if self.received >= self.limit:
            # delivered before the consumer was cancelled: not ours
            self.relay.source.reject(delivery.tag)
            return
        self.received += 1
        self.relay.accept(dead_letter.as_delivered(delivery))
        if self.received == self.limit:
            self.relay.stop()

    def _stepped(self):
        if self._progress is not None:
            self._progress(self.relay.acknowledged, self.limit)
        if (self.relay.idle
                and time.monotonic() - self._last_delivery > _IDLE):
            self.relay.stop()  # the store holds fewer than expected

    @property
    def acknowledged(self):
        return self.relay.acknowledged

    def run(self):
        """Replay; bus failures are raised, not retried: what was not
        acknowledged is still in the dead-letter store."""
        self.relay.install_signal_handlers()
        self._last_delivery = time.monotonic()
        self.relay.connect()
        try:
            self.relay.serve(on_step=self._stepped)
        finally:
            self.relay.disconnect()


class Progress:
    """`replayed n/N` on a terminal, redrawn at most 10 times a second."""

    def __init__(self, stream):
        self.stream = stream
        self._drawn = 0.0

    def __call__(self, done, total):
        now = time.monotonic()
        if now - self._drawn >= 0.1 or done == total:
            self._drawn = now
            width = 30
            filled = int(width * done / total) if total else width
            self.stream.write('\rreplaying [%s%s] %d/%d' % (
                '#' * filled, '.' * (width - filled), done, total))
            self.stream.flush()

    def end(self):
        self.stream.write('\n')


def replay(conf, limit, out=sys.stdout, err=sys.stderr):
    settings = replay_settings(conf)
    store = store_of(settings)
    wanted = store.depth()
    if limit is not None:
        wanted = min(wanted, limit)
    if not wanted:
        out.write('%s is empty: nothing to replay\n' % store.name)
        return 0
    progress = Progress(err) if err.isatty() else None
    replaying = Replay(conf, wanted, progress)
    try:
        replaying.run()
    finally:
        if progress is not None:
            progress.end()
    tally = replaying.tally
    translated = tally.total(translation.TRANSLATED)
    out.write('replayed %d of %d dead letters from %s: %d translated, %d '
              'back in the dead-letter queue, %d acknowledged\n' % (
                  replaying.received, wanted, settings.dead_letter_queue,
                  translated, tally.total() - translated,
                  replaying.acknowledged))
    tally.report(out, exclude=(translation.TRANSLATED,))
    return 1 if tally.total() > translated else 0

