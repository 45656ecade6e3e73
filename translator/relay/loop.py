"""The relay: consume, route, publish, then acknowledge.

One thread drives a source and a target (``translator.transports``) with
select(): the source delivers up to ``prefetch`` messages, each batch is
routed and published without waiting, and a source message is
acknowledged (in bulk) only once the target has confirmed every output it
caused. Anything that breaks a connection drops both; the bus then
delivers the unacknowledged messages again, after a backoff, so nothing is
lost and duplicates carry the same message ids.
"""

import collections
import gc
import select
import signal
import time

from oslo_log import log as logging

from translator import settings as settings_module
from translator import translation
from translator.relay import changes as changes_module
from translator.relay import dead_letter
from translator.relay import ledger as ledger_module
from translator.relay import metrics as metrics_module
from translator.relay import problem_log
from translator.relay import router
from translator.transports import base

LOG = logging.getLogger(__name__)
_IDLE_WAIT = 0.5  # seconds select() waits when there is nothing to do


class _Stalled(Exception):
    pass


class _Held(Exception):
    """An output came back unroutable or refused, and its source is held."""


def _freeze_heap():
    """Keep what lives as long as the mapping set out of the collector.

    A full collection traversed the compiled mappings and the libraries
    each time, pausing the relay about 50 ms on this machine: that pause
    was the p99 end-to-end delay. Frozen objects are never traversed, so
    the set in force is thawed and the heap collected before freezing
    again.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class Relay:
    """The loop over one source and one target.

    ``settings_of(conf)`` reads its Settings (at start and on SIGHUP);
    ``open_source(settings, on_delivery)`` gives its Source, by default the
    pool of the source bus's driver; ``on_routed(routed)``, if given, sees
    what each delivery became. ``run`` serves until stopped, reconnecting
    with backoff; ``connect``, ``serve`` and ``disconnect`` are its parts,
    for a caller that wants no retries.
    """

    def __init__(self, conf, metrics, settings_of=None, open_source=None,
                 on_routed=None, replaying=False):
        self.conf = conf
        self.metrics = metrics
        self._settings_of = settings_of or settings_module.Settings.from_conf
        self._open_source = open_source
        self._on_routed = on_routed
        self._replaying = replaying
        self.settings = self._settings_of(conf)
        self.router = self._router(self.settings)
        _freeze_heap()
        self.source = self.target = None
        self.ledger = ledger_module.Ledger()
        self.pending = collections.deque()
        self.problems = problem_log.ProblemLog(
            LOG, self.settings.problem_log_interval)
        self.acknowledged = 0  # source messages, since the start
        self.stopping = False
        self.reload_wanted = False
        self._held = None  # why the current connection holds its sources
        self._progressed = False
        self._last_depth_poll = 0.0

    # -- configuration --------------------------------------------------

    def _router(self, settings):
        translator = translation.Translator.from_directory(
            settings.mappings_dir, settings.legacy_options)
        changes = changes_module.ChangeFilter(settings.watch_cache_size)
        self.metrics.loaded(settings, translator)
        return router.Router(settings, translator, changes,
                             replaying=self._replaying)

    def reload(self):
        """SIGHUP: new config and mappings, or keep the old ones."""
        self.reload_wanted = False
        problem = None
        try:
            self.conf.reload_config_files()
            settings = self._settings_of(self.conf)
            new = self._router(settings)
        # Whatever is wrong with the new files, the relay keeps running.
        except Exception as exc:  # noqa: BLE001
            problem = exc
        if problem is not None:
            # Said outside the except block, as every problem of the relay:
            # there oslo.log appends the exception to the line once more,
            # as it is, unmasked.
            LOG.error('reload refused, the running configuration and '
                      'mappings stay in force: %s', problem)
            self.metrics.reloads.labels('failure').inc()
            return
        # what was emitted, and what is known of the publishers, stays true
        new.changes, new.twins = self.router.changes, self.router.twins
        new.twins.wait = settings.twin_wait
        new.twins.hold_unknown = router.holds_unknown(settings)
        reconnect = settings.needs_reconnect(self.settings)
        self.settings, self.router = settings, new
        self.problems.interval = settings.problem_log_interval
        _freeze_heap()  # the old mapping set goes
        self.metrics.reloads.labels('success').inc()
        LOG.info('reloaded: notification_format=%s, mappings %s (%d rules)',
                 settings.notification_format, settings.mappings_dir,
                 len(new.translator.mapping_set.rules))
        if reconnect:
            LOG.info('connection settings changed: reconnecting')
            self.disconnect()

    # -- signals ----------------------------------------------------------

    def install_signal_handlers(self):
        signal.signal(signal.SIGTERM, self._stop_signal)
        signal.signal(signal.SIGINT, self._stop_signal)
        signal.signal(signal.SIGHUP, self._reload_signal)

    def _stop_signal(self, signum, frame):
        self.stop()

    def _reload_signal(self, signum, frame):
        self.reload_wanted = True

    def stop(self):
        """Stop consuming; ``serve`` returns once what is in flight is
        confirmed and acknowledged."""
        self.stopping = True

    # -- connections --------------------------------------------------------

    def ready(self):
        """Why the relay is not ready; [] when it is."""
        problems = []
        if self.source is None:
            problems.append('source bus not connected')
        if self.target is None:
            problems.append('target bus not connected')
        return problems

    @property
    def _bus_errors(self):
        return (self.settings.source.driver.errors
                + self.settings.target.driver.errors)

    def connect(self):
        # Target first: with no target, messages wait in the source queue.
        settings = self.settings
        self.target = settings.target.driver.target(
            settings, self._on_confirm, self._on_refuse, self._on_return)
        self.metrics.connected.labels('target').set(1)
        open_source = self._open_source or settings.source.driver.source
        self.source = open_source(settings, self.accept)
        self.metrics.connected.labels('source').set(1)
        LOG.info('relaying %s of %s (exchanges %s, topics %s) to %s, '
                 'notification_format=%s', self.source.name,
                 settings.masked(settings.source.url),
                 ','.join(settings.exchanges), ','.join(settings.topics),
                 settings.masked(settings.target.url),
                 settings.notification_format)

    def accept(self, delivery):
        """A delivery of the source, to route."""
        if delivery.redelivered:
            self.metrics.redelivered.inc()
        self.pending.append(delivery)

    def disconnect(self):
        for side in ('source', 'target'):
            conn = getattr(self, side)
            if conn is not None:
                conn.close()
                setattr(self, side, None)
            self.metrics.connected.labels(side).set(0)
        # Unacknowledged deliveries go back to the queue with the channel.
        self.ledger = ledger_module.Ledger()
        self.router.connection_lost()
        self.pending.clear()
        self._held = None
        self.metrics.in_flight.set(0)

    @property
    def idle(self):
        """Nothing delivered waits to be published, confirmed or
        acknowledged."""
        return not self.pending and not len(self.ledger)

    # -- confirms -------------------------------------------------------------

    def _on_confirm(self, seq, multiple):
        changes = self.router.changes
        for _, memo in self.ledger.settle(seq, multiple):
            if memo is not None:
                # delivered even if its source comes back: it is known
                changes.remember(memo)

    def _on_refuse(self, seq, multiple):
        """The target refused outputs (a full queue that rejects
        publishes, a quorum queue without its quorum): their sources are
        held and the relay backs off before it tries again, rather than
        spinning on a refusal that may last."""
        refused = 0
        for tag, memo in self.ledger.fail(seq, multiple):
            if memo is not None:
                self.router.changes.forget(memo)
            refused += tag is not None
        if refused:
            self.metrics.publish_failures.labels('nack').inc(refused)
            self._held = ('the target broker refused the outputs of %d '
                          'source message(s) (nack)' % refused)

    def _on_return(self, seq, where):
        """The target returned an output: nothing is bound to receive it.

        A dead letter must never vanish, and a versioned or legacy one
        only if the operator chose ``unroutable = acknowledge``: otherwise
        its source is held, not acknowledged, and the connection is dropped
        to be retried with backoff (the reconnection declares and binds the
        queues again).
        """
        kind = self.ledger.kind(seq)
        if kind is None:
            return  # settled already: a return of an older connection
        self.metrics.unroutable[kind].inc()
        held = (kind == base.DEAD_LETTER
                or self.settings.unroutable == 'hold')
        self.problems.report(
            logging.ERROR if held else logging.WARNING, 'unroutable ' + kind,
            'no queue is bound for it (%s); %s' % (
                where, 'its source is held and retried' if held else
                'lost, its source acknowledged (unroutable = acknowledge)'))
        settled = (self.ledger.fail if held else self.ledger.settle)(
            seq, False)
        for _, memo in settled:
            if memo is not None:
                self.router.changes.forget(memo)
        if held:
            self._held = 'the target broker returned a %s: %s' % (
                kind.replace('_', ' '), where)

    # -- the loop -------------------------------------------------------------

    def run(self):
        delay = 0.5
        while not self.stopping:
            self._progressed = False
            failure = None
            try:
                self.connect()
                self.serve()
            except base.BrokerRefused:
                self.disconnect()
                raise  # no retry changes it: the command says why
            except (_Stalled, _Held, ConnectionError,
                    *self._bus_errors) as exc:
                failure = exc
            if failure is not None:
                delay = self._retry(failure, delay)
        self.disconnect()
        LOG.info('stopped')

    def _retry(self, failure, delay):
        """Say the failure, wait ``delay``; the next delay."""
        if self._progressed:
            delay = 0.5  # the connection worked for a while
        if isinstance(failure, _Held):
            what = 'holding'
        else:
            what = 'bus failure'
            cause = ('timeout' if isinstance(failure, _Stalled) else
                     'connection')
            if len(self.ledger.sent):
                self.metrics.publish_failures.labels(cause).inc(
                    len(self.ledger.sent))
        LOG.warning('%s, unacknowledged messages will be delivered again; '
                    'retrying in %.1f s: %s', what, delay,
                    self._explained(failure))
        self.disconnect()
        self._sleep(delay)
        return min(delay * 2, self.settings.reconnect_delay_max)

    def _explained(self, exc):
        if isinstance(exc, TimeoutError) and not str(exc):
            # what py-amqp raises when a reply or a write takes too long
            return 'a broker did not answer within %g s (confirm_timeout)' % (
                self.settings.confirm_timeout)
        return self.settings.masked(str(exc))

    def _sleep(self, seconds):
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, deadline - time.monotonic()))

    def serve(self, on_step=None):
        """Relay until stopped and drained, or until a reload asks for new
        connections; ``on_step()`` after every turn."""
        draining = False
        while True:
            if self.reload_wanted:
                self.reload()
                if self.source is None:
                    return  # reload asked for new connections
            if self.stopping and not draining:
                # Stop consuming; finish what is in flight.
                self.source.stop_consuming()
                draining = True
                deadline = time.monotonic() + self.settings.confirm_timeout
            if draining and self.idle:
                return
            if draining and time.monotonic() > deadline:
                LOG.warning('stopping with %d messages unconfirmed; they '
                            'will be delivered again', len(self.ledger))
                return
            self._step()
            if on_step is not None:
                on_step()

    def _step(self):
        source, target = self.source, self.target
        held = [source.buffered(), target.buffered()]
        wait = 0 if self.pending or any(held) else self._idle_wait()
        readable, _, _ = select.select([source, target], [], [], wait)
        for side, buffered in zip((source, target), held):
            if buffered or side in readable:
                side.pump()
        if self._held:
            raise _Held(self._held)
        if self.pending or self._twins_due():
            self._publish_batch()
        self._acknowledge()
        now = time.monotonic()
        timeout = self.settings.confirm_timeout
        if self.ledger.oldest_unconfirmed_age() > timeout:
            raise _Stalled('no confirm from the target broker for %.0f s'
                           % timeout)
        if now - self._last_depth_poll > 5:
            self._last_depth_poll = now
            self.metrics.queue_depth.set(source.depth())
        self.problems.tick()
        source.tick()
        target.tick()

    def _idle_wait(self):
        """How long select() may wait: until the first held notification
        is due, at most _IDLE_WAIT."""
        due = self.router.twins.next_deadline()
        if due is None:
            return _IDLE_WAIT
        return min(_IDLE_WAIT, max(0.0, due - time.monotonic()))

    def _twins_due(self):
        due = self.router.twins.next_deadline()
        return due is not None and due <= time.monotonic()

    def _publish_batch(self):
        self.target.hold()
        try:
            self._publish_some(self.router.route, self.metrics)
            self._publish_expired()
        finally:
            self.target.flush()
        self.metrics.in_flight.set(len(self.ledger) + len(self.pending))
        self.metrics.held.set(len(self.router.twins))

    def _publish(self, tag, outputs):
        publish = self.target.publish
        for output in outputs:
            seq = publish(output)
            self.ledger.expect(tag, seq, output.remember, output.kind)
            if output.kind == base.DEAD_LETTER:
                self.problems.report(
                    logging.INFO, 'dead letter (%s)' % output.outcome,
                    output.headers[dead_letter.PREFIX + 'reason'])

    def _publish_expired(self):
        """What the relay makes of the legacy notifications whose twin did
        not come in time."""
        for held, outputs, suppressed in self.router.expired():
            self._publish(held.tag, outputs)
            self.ledger.release(held.tag)
            self.metrics.made_after_wait(outputs, suppressed)

    def _publish_some(self, route, metrics):
        ledger = self.ledger
        for _ in range(min(len(self.pending), self.settings.batch_size)):
            delivery = self.pending.popleft()
            started = time.perf_counter()
            routed = route(delivery)
            seconds = time.perf_counter() - started
            ledger.open(delivery.tag, routed.timestamp)
            if routed.held:
                ledger.hold(delivery.tag)
            elif routed.released is not None:
                ledger.release(routed.released.tag)
            self._publish(delivery.tag, routed.outputs)
            metrics.routed(delivery.exchange, routed, seconds)
            if self._on_routed is not None:
                self._on_routed(routed)

    def _acknowledge(self):
        done = self.ledger.completed()
        if not done:
            return
        self.source.acknowledge(done[-1][0], multiple=True)
        self._progressed = True
        self.acknowledged += len(done)
        self.metrics.acknowledged.inc(len(done))
        now = time.time()
        observe = self.metrics.delay.observe
        for _, timestamp in done:
            delay = metrics_module.delay_since(timestamp, now)
            if delay is not None:
                observe(delay)
        self.metrics.in_flight.set(len(self.ledger) + len(self.pending))
