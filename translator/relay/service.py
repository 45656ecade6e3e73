"""The relay process: consume, translate, publish, then acknowledge.

One thread drives two AMQP connections with select(): the source delivers
up to ``prefetch`` legacy messages, each batch is routed and published on
the target in confirm mode without waiting, and a source message is
acknowledged (in bulk, ``multiple=True``) only once the target broker has
confirmed every output it caused. Anything that breaks a connection drops
both; the broker then delivers the unacknowledged messages again, after a
backoff, so nothing is lost and duplicates carry the same message ids.
"""

import collections
import dataclasses
import gc
import select
import signal
import time

import amqp
from oslo_log import log as logging

from translator import config
from translator import metrics as metrics_module
from translator import translate
from translator.relay import bus
from translator.relay import problem_log
from translator.relay import router

LOG = logging.getLogger(__name__)
_IDLE_WAIT = 0.5  # seconds select() waits when there is nothing to do


class ConfigError(config.Invalid):
    """A configuration the relay refuses to run with; says why."""


@dataclasses.dataclass(frozen=True)
class Settings:
    source_url: str
    target_url: str
    same_bus: bool
    exchanges: tuple
    topics: tuple
    pool: str
    quorum_queue: bool
    durable_exchanges: bool
    notification_format: str
    versioned_topic: str
    legacy_topic: str
    dead_letter_topic: str
    dead_letter_queue: str
    declare_default_queues: bool
    unroutable: str
    mappings_dir: str
    prefetch: int
    batch_size: int
    confirm_timeout: float
    reconnect_delay_max: float
    heartbeat: int
    watch_cache_size: int
    problem_log_interval: float
    source_bus: bus.Options = bus.Options()
    target_bus: bus.Options = bus.Options()

    @classmethod
    def from_conf(cls, conf):
        source_url, source_bus = bus.endpoint(conf, 'source')
        target_url, target_bus = bus.endpoint(conf, 'target')
        same_bus = bus.same_bus(source_url, target_url)
        settings = cls(
            source_url, target_url, same_bus, tuple(conf.source.exchanges),
            tuple(conf.source.topics), conf.source.pool,
            conf.source.quorum_queue, conf.source.durable_exchanges,
            conf.notifications.notification_format,
            conf.target.versioned_topic, conf.target.legacy_topic,
            conf.target.dead_letter_topic, conf.target.dead_letter_queue,
            conf.target.declare_default_queues, conf.target.unroutable,
            conf.relay.mappings_dir, conf.relay.prefetch,
            conf.relay.batch_size, conf.relay.confirm_timeout,
            conf.relay.reconnect_delay_max, conf.relay.heartbeat,
            conf.relay.watch_cache_size, conf.relay.problem_log_interval,
            source_bus=source_bus, target_bus=target_bus)
        settings.check()
        return settings

    def check(self):
        if not self.exchanges or not self.topics:
            raise ConfigError('[source] exchanges and topics must not be '
                              'empty')
        if self.same_bus:
            # The relay's queue would receive its own output, forever.
            for option in ('versioned_topic', 'dead_letter_topic'):
                if getattr(self, option) in self.topics:
                    raise ConfigError(
                        '[target] %s %r is one of the [source] topics on the '
                        'same bus: the relay would consume its own output'
                        % (option, getattr(self, option)))

    #: What is set up when a connection opens (queues, bindings, qos).
    CONNECTION_FIELDS = (
        'source_url', 'target_url', 'exchanges', 'topics', 'pool',
        'quorum_queue', 'durable_exchanges', 'dead_letter_topic',
        'dead_letter_queue', 'declare_default_queues', 'prefetch',
        'heartbeat', 'source_bus', 'target_bus')

    def needs_reconnect(self, other):
        return any(getattr(self, name) != getattr(other, name)
                   for name in self.CONNECTION_FIELDS)


class Ledger:
    """Which source messages wait for which publisher confirms."""

    def __init__(self):
        # source tag -> [outputs not yet confirmed, legacy timestamp];
        # insertion order is delivery order, which bulk acks rely on.
        self.waiting = collections.OrderedDict()
        # target publish sequence number -> (source tag, memo, sent at,
        # output kind)
        self.sent = collections.OrderedDict()

    def __len__(self):
        return len(self.waiting)

    def open(self, tag, timestamp):
        self.waiting[tag] = [0, timestamp]

    def expect(self, tag, seq, memo, kind):
        self.waiting[tag][0] += 1
        self.sent[seq] = (tag, memo, time.monotonic(), kind)

    def settle(self, seq, multiple):
        """Confirmed sequence numbers -> [(source tag, memo)]; the tag is
        None where the source message was already delivered again."""
        if multiple:
            done = []
            while self.sent and next(iter(self.sent)) <= seq:
                done.append(self.sent.popitem(last=False))
        else:
            done = [(seq, self.sent.pop(seq))] if seq in self.sent else []
        settled = []
        for _, (tag, memo, _, _) in done:
            entry = self.waiting.get(tag)
            if entry is None:  # its source was already delivered again
                tag = None
            else:
                entry[0] -= 1
            settled.append((tag, memo))
        return settled

    def fail(self, seq, multiple):
        """Refused sequence numbers -> [(source tag to deliver again or
        None if it already is, memo)]."""
        return [(tag if tag is not None and self.waiting.pop(tag, None)
                 is not None else None, memo)
                for tag, memo in self.settle(seq, multiple)]

    def completed(self):
        """Source messages whose outputs are all confirmed, in order.

        Returns [(tag, timestamp)] of the longest fully confirmed prefix,
        so that one ``basic_ack(last tag, multiple=True)`` covers them.
        """
        done = []
        while self.waiting:
            tag, (left, timestamp) = next(iter(self.waiting.items()))
            if left:
                break
            self.waiting.popitem(last=False)
            done.append((tag, timestamp))
        return done

    def oldest_unconfirmed_age(self):
        if not self.sent:
            return 0.0
        return time.monotonic() - next(iter(self.sent.values()))[2]


class Source:
    """The pool queue: declared, bound to every exchange, consumed."""

    def __init__(self, settings, on_delivery):
        self.settings = settings
        self.conn = bus.connect(settings.source_url, settings.heartbeat,
                                'source', timeout=settings.confirm_timeout,
                                options=settings.source_bus)
        self.reads = bus.ChunkedReads(self.conn.transport)
        self.channel = self.conn.channel()
        self.queue = self._declare()
        self.channel.basic_qos(0, settings.prefetch, False)
        self._on_delivery = on_delivery
        self.consumer_tag = self._consume()

    def _consume(self):
        """Start consuming; bus.Deliveries reads what comes, not py-amqp."""
        bus.Deliveries(self.channel, self._delivered)
        return self.channel.basic_consume(self.queue)

    def _declare(self):
        """Make the queue to consume ready; its name."""
        settings = self.settings
        for exchange in settings.exchanges:
            bus.ensure_exchange(self.conn, exchange,
                                settings.durable_exchanges)
        arguments = ({'x-queue-type': 'quorum'} if settings.quorum_queue
                     else None)
        self.channel.queue_declare(settings.pool, durable=True,
                                   auto_delete=False, arguments=arguments)
        for exchange in settings.exchanges:
            for topic in settings.topics:
                # '<topic>.*' is every priority oslo.messaging sends.
                self.channel.queue_bind(settings.pool, exchange,
                                        topic + '.*')
        return settings.pool

    def _delivered(self, tag, exchange, routing_key, body, redelivered):
        self._on_delivery(router.Delivery(tag, exchange, routing_key, body,
                                          time.monotonic(), redelivered))

    def depth(self):
        return self.channel.queue_declare(self.queue,
                                          passive=True).message_count

    def close(self):
        _close_quietly(self.conn)


class Target:
    """Publishing in confirm mode, without waiting for each confirm.

    A broker confirms a message that no queue is bound for, and drops it.
    So, before anything is consumed, the dead-letter queue is declared and
    bound on every source exchange; on the first publish to a place, per
    connection, its exchange gets the dead-letter binding too and (as
    oslo.messaging's Notifier does) a queue named after the routing key.
    Every publish is mandatory: what still finds no queue comes back,
    with its publish sequence number as correlation_id, to ``on_return``.
    """

    def __init__(self, settings, on_ack, on_nack, on_return):
        self.settings = settings
        self.writes = bus.BatchedWrites()
        self.conn = bus.connect(settings.target_url, settings.heartbeat,
                                'target', timeout=settings.confirm_timeout,
                                frame_writer=self.writes.frame_writer,
                                options=settings.target_bus)
        self.reads = bus.ChunkedReads(self.conn.transport)
        self.channel = self.conn.channel()
        self.channel.confirm_select()
        self.channel.events['basic_ack'].add(on_ack)
        self.channel.events['basic_nack'].add(on_nack)
        self.channel.events['basic_return'].add(self._returned)
        self._on_return = on_return
        self._publisher = bus.Publisher(self.channel, self.writes.write)
        self.seq = 0
        self._exchanges = set()
        self._places = set()  # (exchange, routing key) made routable
        bus.ensure_queue(self.channel, settings.dead_letter_queue, True,
                         settings.quorum_queue)
        for exchange in settings.exchanges:
            self._use_exchange(exchange)

    def _use_exchange(self, exchange):
        bus.ensure_exchange(self.conn, exchange,
                            self.settings.durable_exchanges)
        self.channel.queue_bind(self.settings.dead_letter_queue, exchange,
                                self.settings.dead_letter_topic + '.*')
        self._exchanges.add(exchange)

    def _prepare(self, output):
        with self.writes.paused():
            if output.exchange not in self._exchanges:
                self._use_exchange(output.exchange)
            if (output.kind != router.DEAD_LETTER
                    and self.settings.declare_default_queues):
                bus.ensure_queue(self.channel, output.routing_key,
                                 self.settings.durable_exchanges,
                                 self.settings.quorum_queue)
                self.channel.queue_bind(output.routing_key, output.exchange,
                                        output.routing_key)
        self._places.add((output.exchange, output.routing_key))

    def publish(self, output):
        if (output.exchange, output.routing_key) not in self._places:
            self._prepare(output)
        self.seq += 1
        if output.headers is None:
            self._publisher.publish(output.body, output.exchange,
                                    output.routing_key, str(self.seq))
        else:
            self.channel.basic_publish(
                amqp.Message(output.body, content_type='application/json',
                             content_encoding='utf-8', delivery_mode=2,
                             application_headers=output.headers,
                             correlation_id=str(self.seq)),
                exchange=output.exchange, routing_key=output.routing_key,
                mandatory=True)
        return self.seq

    def _returned(self, exc, exchange, routing_key, message):
        self._on_return(int(message.properties['correlation_id']),
                        '%s, exchange %r, routing key %r' % (
                            exc.reply_text, exchange, routing_key))

    def close(self):
        _close_quietly(self.conn)


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


def _close_quietly(conn):
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - it is going away either way
        try:
            conn.collect()
        except Exception:  # noqa: BLE001
            pass


class _Stalled(Exception):
    pass


class _Held(Exception):
    """An output came back unroutable and its source is held."""


class Relay:
    source_class = Source

    def __init__(self, conf, metrics):
        self.conf = conf
        self.metrics = metrics
        self.settings = self._settings(conf)
        self.router = self._router(self.settings)
        _freeze_heap()
        self.source = self.target = None
        self.ledger = Ledger()
        self.pending = collections.deque()
        self.problems = problem_log.ProblemLog(
            LOG, self.settings.problem_log_interval)
        self.stopping = False
        self.reload_wanted = False
        self._held = None  # why the current connection holds its sources
        self._progressed = False
        self._last_depth_poll = 0.0

    # -- configuration --------------------------------------------------

    def _settings(self, conf):
        return Settings.from_conf(conf)

    def _router(self, settings):
        translator = translate.Translator.from_directory(
            settings.mappings_dir)
        changes = router.ChangeFilter(settings.watch_cache_size)
        self.metrics.loaded(settings, translator)
        return router.Router(settings, translator, changes)

    def reload(self):
        """SIGHUP: new config and mappings, or keep the old ones."""
        self.reload_wanted = False
        try:
            self.conf.reload_config_files()
            settings = self._settings(self.conf)
            new = self._router(settings)
        # Whatever is wrong with the new files, the relay keeps running.
        except Exception as exc:  # noqa: BLE001
            LOG.error('reload refused, the running configuration and '
                      'mappings stay in force: %s', exc)
            self.metrics.reloads.labels('failure').inc()
            return
        new.changes = self.router.changes  # what was emitted stays true
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
            self._disconnect()

    # -- signals ----------------------------------------------------------

    def install_signal_handlers(self):
        signal.signal(signal.SIGTERM, self._stop_signal)
        signal.signal(signal.SIGINT, self._stop_signal)
        signal.signal(signal.SIGHUP, self._reload_signal)

    def _stop_signal(self, signum, frame):
        self.stopping = True

    def _reload_signal(self, signum, frame):
        self.reload_wanted = True

    # -- connections --------------------------------------------------------

    def ready(self):
        """Why the relay is not ready; [] when it is."""
        problems = []
        if self.source is None:
            problems.append('source bus not connected')
        if self.target is None:
            problems.append('target bus not connected')
        return problems

    def _connect(self):
        # Target first: with no target, messages wait in the source queue.
        self.target = Target(self.settings, self._on_ack, self._on_nack,
                             self._on_return)
        self.metrics.connected.labels('target').set(1)
        self.source = self.source_class(self.settings, self._on_delivery)
        self.metrics.connected.labels('source').set(1)
        LOG.info('relaying queue %s of %s (exchanges %s, topics %s) to %s, '
                 'notification_format=%s', self.source.queue,
                 bus.mask_url(self.settings.source_url),
                 ','.join(self.settings.exchanges),
                 ','.join(self.settings.topics),
                 bus.mask_url(self.settings.target_url),
                 self.settings.notification_format)

    def _on_delivery(self, delivery):
        if delivery.redelivered:
            self.metrics.redelivered.inc()
        self.pending.append(delivery)

    def _disconnect(self):
        for side in ('source', 'target'):
            conn = getattr(self, side)
            if conn is not None:
                conn.close()
                setattr(self, side, None)
            self.metrics.connected.labels(side).set(0)
        # Unacknowledged deliveries go back to the queue with the channel.
        self.ledger = Ledger()
        self.router.changes.connection_lost()
        self.pending.clear()
        self._held = None
        self.metrics.in_flight.set(0)

    # -- confirms -------------------------------------------------------------

    def _on_ack(self, seq, multiple):
        changes = self.router.changes
        for _, memo in self.ledger.settle(seq, multiple):
            if memo is not None:
                # delivered even if its source comes back: it is known
                changes.remember(memo)

    def _on_nack(self, seq, multiple):
        """The target broker refused outputs (a full queue that rejects
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
        """The target broker returned an output: no queue is bound for it.

        A dead letter must never vanish, and a versioned or legacy one
        only if the operator chose ``unroutable = acknowledge``: otherwise
        its source is held, not acknowledged, and the connection is dropped
        to be retried with backoff (the reconnection declares and binds the
        queues again).
        """
        entry = self.ledger.sent.get(seq)
        if entry is None:
            return  # settled already: a return of an older connection
        kind = entry[3]
        self.metrics.unroutable[kind].inc()
        held = (kind == router.DEAD_LETTER
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
            try:
                self._connect()
                self._serve()
            except (_Stalled, _Held, ConnectionError,
                    *bus.CONNECTION_ERRORS) as exc:
                if self._progressed:
                    delay = 0.5  # the connection worked for a while
                if isinstance(exc, _Held):
                    what = 'holding'
                else:
                    what = 'bus failure'
                    cause = ('timeout' if isinstance(exc, _Stalled) else
                             'connection')
                    if len(self.ledger.sent):
                        self.metrics.publish_failures.labels(cause).inc(
                            len(self.ledger.sent))
                LOG.warning('%s, unacknowledged messages will be delivered '
                            'again; retrying in %.1f s: %s', what, delay,
                            _masked(exc, self.settings))
                self._disconnect()
                self._sleep(delay)
                delay = min(delay * 2, self.settings.reconnect_delay_max)
        self._disconnect()
        LOG.info('stopped')

    def _sleep(self, seconds):
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, deadline - time.monotonic()))

    def _serve(self):
        draining = False
        while True:
            if self.reload_wanted:
                self.reload()
                if self.source is None:
                    return  # reload asked for new connections
            if self.stopping and not draining:
                # Stop consuming; finish what is in flight.
                self.source.channel.basic_cancel(self.source.consumer_tag)
                draining = True
                deadline = time.monotonic() + self.settings.confirm_timeout
            if draining and not self.pending and not len(self.ledger):
                return
            if draining and time.monotonic() > deadline:
                LOG.warning('stopping with %d messages unconfirmed; they '
                            'will be delivered again', len(self.ledger))
                return
            self._step()

    def _step(self):
        source, target = self.source, self.target
        held = [side.reads.buffered() for side in (source, target)]
        wait = 0 if self.pending or any(held) else _IDLE_WAIT
        readable, _, _ = select.select([source.conn.sock, target.conn.sock],
                                       [], [], wait)
        for side, buffered in zip((source, target), held):
            if buffered or side.conn.sock in readable:
                bus.drain(side.conn)
        if self._held:
            raise _Held(self._held)
        if self.pending:
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
        source.conn.heartbeat_tick()
        target.conn.heartbeat_tick()

    def _publish_batch(self):
        route = self.router.route
        metrics = self.metrics
        self.target.writes.hold()
        try:
            self._publish_some(route, metrics)
        finally:
            self.target.writes.flush()
        metrics.in_flight.set(len(self.ledger) + len(self.pending))

    def _publish_some(self, route, metrics):
        for _ in range(min(len(self.pending), self.settings.batch_size)):
            delivery = self.pending.popleft()
            started = time.perf_counter()
            routed = route(delivery)
            seconds = time.perf_counter() - started
            self.ledger.open(delivery.tag, routed.timestamp)
            if routed.outcome is not None and not routed.outcome.ok:
                self.problems.report(
                    logging.INFO, 'dead letter (%s)' % routed.outcome.kind,
                    routed.outcome.reason)
            for output in routed.outputs:
                seq = self.target.publish(output)
                self.ledger.expect(delivery.tag, seq, output.remember,
                                   output.kind)
            metrics.routed(delivery.exchange, routed, seconds)

    def _acknowledge(self):
        done = self.ledger.completed()
        if not done:
            return
        self.source.channel.basic_ack(done[-1][0], multiple=True)
        self._progressed = True
        self.metrics.acknowledged.inc(len(done))
        now = time.time()
        observe = self.metrics.delay.observe
        for _, timestamp in done:
            delay = metrics_module.delay_since(timestamp, now)
            if delay is not None:
                observe(delay)
        self.metrics.in_flight.set(len(self.ledger) + len(self.pending))


def _masked(exc, settings):
    if isinstance(exc, TimeoutError) and not str(exc):
        # what py-amqp raises when a reply or a write takes too long
        return 'a broker did not answer within %g s (confirm_timeout)' % (
            settings.confirm_timeout)
    text = str(exc)
    for url in (settings.source_url, settings.target_url):
        if url:
            text = text.replace(url, bus.mask_url(url))
    return text
