"""The dead-letter workflow: see what is in the dead-letter queue, and
replay it through the current mapping set once a mapping is fixed.

``list`` and ``replay --dry-run`` read without taking: the messages stay
unacknowledged and go back to the queue when the connection closes.
``replay`` is the relay's own loop over the dead-letter queue, so it keeps
the relay's promise (a dead letter is acknowledged only once what it
became is confirmed) and gives the message ids a first-time translation
gives: consumers drop the duplicates. What still fails goes back to the
dead-letter queue with its new reason.
"""

import collections
import dataclasses
import socket
import sys
import time

import amqp

from translator import metrics as metrics_module
from translator import translate
from translator.relay import bus
from translator.relay import router
from translator.relay import service

H = router.HEADER_PREFIX
#: Dead letters shown by ``list``.
SAMPLES = 3
#: Reasons shown, the most frequent first; the rest are summed.
REASONS = 20
_IDLE = 2.0  # seconds without a delivery after which a replay is done


class NoQueue(Exception):
    pass


def _headers(message):
    return message.properties.get('application_headers') or {}


def as_delivered(message, tag=None):
    """The Delivery a dead letter was made of: its source exchange and
    routing key, from its headers (those of the dead-letter queue for a
    message the relay did not put there)."""
    headers = _headers(message)
    info = message.delivery_info
    body = message.body
    return router.Delivery(
        info['delivery_tag'] if tag is None else tag,
        headers.get(H + 'source-exchange', info['exchange']),
        headers.get(H + 'source-routing-key', info['routing_key']),
        body.encode() if isinstance(body, str) else body, time.monotonic())


def _depth(channel, settings):
    try:
        return channel.queue_declare(settings.dead_letter_queue,
                                     passive=True).message_count
    except amqp.exceptions.NotFound:
        raise NoQueue('no queue %r on %s: nothing was dead-lettered there, '
                      'or [target] dead_letter_queue names another' % (
                          settings.dead_letter_queue,
                          bus.mask_url(settings.target_url))) from None


def queue_depth(settings):
    conn = bus.connect(settings.target_url, 0, 'dead-letters',
                       options=settings.target_bus)
    try:
        return _depth(conn.channel(), settings)
    finally:
        conn.close()


def browse(settings, limit, on_message):
    """Hand the first ``limit`` (None: all) dead letters to on_message
    and leave them in the queue; returns how many the queue held."""
    conn = bus.connect(settings.target_url, 0, 'dead-letters',
                       options=settings.target_bus)
    try:
        channel = conn.channel()
        depth = _depth(channel, settings)
        wanted = depth if limit is None else min(depth, limit)
        seen = 0

        def received(message):
            nonlocal seen
            seen += 1
            if seen <= wanted:
                on_message(message)
        if wanted:
            # prefetch is 16 bits; 0 is no limit
            channel.basic_qos(0, wanted if wanted < 65536 else 0, False)
            channel.basic_consume(settings.dead_letter_queue,
                                  callback=received)
            while seen < wanted:
                try:
                    conn.drain_events(timeout=_IDLE)
                except socket.timeout:
                    break  # someone else took the rest
        return depth
    finally:
        conn.close()  # nothing acknowledged: everything stays queued


class Tally:
    """Outcomes by kind and reason, with a few examples."""

    def __init__(self):
        self.counts = collections.Counter()
        self.samples = []

    def add(self, outcome, reason, example=None):
        self.counts[(outcome, reason)] += 1
        if example is not None and len(self.samples) < SAMPLES:
            self.samples.append(example)

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


def list_dead_letters(settings, limit, out=sys.stdout):
    tally = Tally()

    def count(message):
        headers = _headers(message)
        outcome = headers.get(H + 'outcome', '?')
        reason = headers.get(H + 'reason', '(no x-translator-reason)')
        tally.add(outcome, reason, (
            headers.get(H + 'event-type'), outcome, reason,
            headers.get(H + 'source-exchange'),
            headers.get(H + 'source-routing-key')))
    depth = browse(settings, limit, count)
    out.write('%s on %s: %d dead letters%s\n' % (
        settings.dead_letter_queue, bus.mask_url(settings.target_url),
        depth, '' if tally.total() == depth else
        ', the first %d read' % tally.total()))
    tally.report(out)
    for event_type, outcome, reason, exchange, routing_key in tally.samples:
        out.write('\n  event type  %s\n  outcome     %s\n  reason      %s\n'
                  '  came from   exchange %s, routing key %s\n' % (
                      event_type or '-', outcome, reason, exchange,
                      routing_key))
    return 0


def replay_settings(conf, limit=None):
    """The relay's settings for a replay: from the dead-letter queue on the
    target bus, versioned only (the legacy copy went out the first time)."""
    settings = service.Settings.from_conf(conf)
    return dataclasses.replace(
        settings, source_url=settings.target_url,
        source_bus=settings.target_bus, notification_format='versioned',
        prefetch=min(settings.prefetch, limit or settings.prefetch))


def dry_run(settings, limit, out=sys.stdout):
    translator = translate.Translator.from_directory(settings.mappings_dir)
    route = router.Router(settings, translator, router.ChangeFilter(0)).route
    tally = Tally()

    def try_one(message):
        outcome = route(as_delivered(message)).outcome
        tally.add(outcome.kind, '' if outcome.ok else outcome.reason)
    depth = browse(settings, limit, try_one)
    read = tally.total()
    out.write('dry run over %d of %d dead letters in %s: %d would be '
              'translated, %d would stay dead letters\n' % (
                  read, depth, settings.dead_letter_queue,
                  tally.total(translate.TRANSLATED),
                  read - tally.total(translate.TRANSLATED)))
    tally.report(out, exclude=(translate.TRANSLATED,))
    return 0


class DeadLetterSource(service.Source):
    """The dead-letter queue, consumed; each message presented as it came
    to the relay the first time."""

    def _declare(self):
        return self.settings.dead_letter_queue

    def _consume(self):
        # py-amqp reads the deliveries: their headers say where they came from
        return self.channel.basic_consume(
            self.queue, callback=lambda message: self._on_delivery(
                as_delivered(message)))


class _Tallied(metrics_module.RelayMetrics):
    def __init__(self):
        super().__init__()
        self.tally = Tally()

    def routed(self, exchange, routed, seconds):
        super().routed(exchange, routed, seconds)
        outcome = routed.outcome
        self.tally.add(outcome.kind, '' if outcome.ok else outcome.reason)


class Replay(service.Relay):
    """Replays the first ``limit`` dead letters once, then stops."""

    source_class = DeadLetterSource

    def __init__(self, conf, limit, progress=None):
        self.limit = limit
        super().__init__(conf, _Tallied())
        self.received = self.acknowledged = 0
        self._last_delivery = None
        self._progress = progress

    def _settings(self, conf):
        return replay_settings(conf, self.limit)

    def _connect(self):
        super()._connect()
        self._last_delivery = time.monotonic()

    def _acknowledge(self):
        waiting = len(self.ledger)
        super()._acknowledge()
        self.acknowledged += waiting - len(self.ledger)

    def _on_delivery(self, delivery):
        self._last_delivery = time.monotonic()
        if self.received >= self.limit:
            # delivered before the consumer was cancelled: not ours
            self.source.channel.basic_reject(delivery.tag, requeue=True)
            return
        self.received += 1
        self.pending.append(delivery)
        if self.received == self.limit:
            self.stopping = True

    def _step(self):
        super()._step()
        if self._progress is not None:
            self._progress(self.acknowledged, self.limit)
        if (not self.pending and not len(self.ledger) and
                time.monotonic() - self._last_delivery > _IDLE):
            self.stopping = True  # the queue holds fewer than expected

    def run(self):
        """Replay; bus failures are raised, not retried: what was not
        acknowledged is still in the dead-letter queue."""
        self._connect()
        try:
            self._serve()
        finally:
            self._disconnect()


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
    wanted = queue_depth(settings)
    if limit is not None:
        wanted = min(wanted, limit)
    if not wanted:
        out.write('%s on %s is empty: nothing to replay\n' % (
            settings.dead_letter_queue, bus.mask_url(settings.target_url)))
        return 0
    progress = Progress(err) if err.isatty() else None
    relay = Replay(conf, wanted, progress)
    relay.install_signal_handlers()
    try:
        relay.run()
    finally:
        if progress is not None:
            progress.end()
    tally = relay.metrics.tally
    translated = tally.total(translate.TRANSLATED)
    out.write('replayed %d of %d dead letters from %s: %d translated, %d '
              'back in the dead-letter queue, %d acknowledged\n' % (
                  relay.received, wanted, settings.dead_letter_queue,
                  translated, tally.total() - translated,
                  relay.acknowledged))
    tally.report(out, exclude=(translate.TRANSLATED,))
    return 1 if tally.total() > translated else 0
