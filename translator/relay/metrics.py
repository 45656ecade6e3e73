"""Prometheus metrics of the relay, and its /healthz and /readyz.

Label values are bounded: event types the mapping set does not know
collapse into ``unknown``, dead-letter reasons are outcome kinds, broker
sides are ``source`` and ``target``.
"""

import datetime
import platform
import threading
import wsgiref.simple_server

import prometheus_client as prom

import translator
from translator.relay import dead_letter
from translator.transports import base

UNKNOWN_EVENT = 'unknown'
# Translation is microseconds; delivery across buses is milliseconds to
# minutes when a broker stalls.
_TRANSLATION_BUCKETS = (5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2)
_DELAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                  1, 2.5, 5, 10, 30, 60, 300)


class RelayMetrics:
    def __init__(self, registry=None):
        self.registry = registry or prom.CollectorRegistry()
        r = self.registry
        self.received = prom.Counter(
            'translator_messages_received',
            "Messages received from services, by their format ('legacy' "
            "or 'versioned').", ['exchange', 'format', 'event_type'],
            registry=r)
        self.published = prom.Counter(
            'translator_messages_published',
            'Messages published on the target bus, by kind and by the '
            'format of the message each comes from (origin): a copy where '
            'the two are one, else a translation.',
            ['kind', 'origin'], registry=r)
        self.duplicates = prom.Counter(
            'translator_duplicates',
            'Events the target bus now carries twice in one format: the '
            "relay made the notification before the service's own came "
            '(README: the switchboard).', ['format'], registry=r)
        self.own_outputs = prom.Counter(
            'translator_own_outputs',
            "A translator's outputs read back from the source (published "
            "where services' notifications are read), passed over.",
            registry=r)
        self.held = prom.Gauge(
            'translator_held_messages',
            'Legacy notifications waiting for their versioned twin.',
            registry=r)
        self.twin_waits_expired = prom.Counter(
            'translator_twin_waits_expired',
            'Legacy notifications whose versioned twin did not come within '
            'twin_wait: the relay made the versioned one.', registry=r)
        self.dead_letters = prom.Counter(
            'translator_dead_letters', 'Messages dead-lettered, by reason.',
            ['reason'], registry=r)
        self.suppressed = prom.Counter(
            'translator_unchanged_updates_suppressed',
            'Versioned updates not emitted: watched fields unchanged.',
            registry=r)
        self.publish_failures = prom.Counter(
            'translator_publish_failures',
            'Publishes the target refused (nack) or did not confirm in '
            'time; their source messages are delivered again.',
            ['cause'], registry=r)
        unroutable = prom.Counter(
            'translator_unroutable',
            'Outputs the target broker returned because no queue was bound '
            'for them, by kind. A dead letter is held and retried; a '
            'versioned or legacy one too unless unroutable = acknowledge.',
            ['kind'], registry=r)
        self.redelivered = prom.Counter(
            'translator_messages_redelivered',
            'Legacy messages the broker delivered again: a connection, '
            'channel or quorum queue leader was lost before they were '
            'acknowledged. Their outputs may go out twice, with the same '
            'message ids.', registry=r)
        self.acknowledged = prom.Counter(
            'translator_messages_acknowledged',
            'Source messages acknowledged after all their outputs were '
            'confirmed.', registry=r)
        self.translation = prom.Histogram(
            'translator_translation_seconds',
            'Time to route one message (translate it, as the case may be), '
            'by its format.', ['format'], buckets=_TRANSLATION_BUCKETS,
            registry=r)
        self.delay = prom.Histogram(
            'translator_end_to_end_delay_seconds',
            'From the legacy timestamp to the acknowledgement of the source '
            'message, all outputs confirmed.', buckets=_DELAY_BUCKETS,
            registry=r)
        self.in_flight = prom.Gauge(
            'translator_in_flight_messages',
            'Source messages received and not yet acknowledged.',
            registry=r)
        self.queue_depth = prom.Gauge(
            'translator_source_queue_depth',
            'Messages waiting in the pool queue, polled from the broker.',
            registry=r)
        self.connected = prom.Gauge(
            'translator_broker_connected', '1 when connected to the broker.',
            ['side'], registry=r)
        self.reloads = prom.Counter(
            'translator_config_reloads', 'SIGHUP reloads, by result.',
            ['result'], registry=r)
        self.format = prom.Gauge(
            'translator_notification_format',
            '1 for the notification_format in force.', ['format'],
            registry=r)
        self.payload_classes = prom.Gauge(
            'translator_payload_class_info',
            'Payload classes of the loaded mapping set.',
            ['namespace', 'name', 'version'], registry=r)
        self.mappings_loaded = prom.Gauge(
            'translator_mappings_loaded_timestamp_seconds',
            'When the mapping set in force was loaded.', registry=r)
        prom.Info('translator_build', 'Version of the translator.',
                  registry=r).info({
                      'version': translator.__version__,
                      'python': platform.python_version()})
        for side in ('source', 'target'):
            self.connected.labels(side).set(0)
        for cause in ('nack', 'timeout', 'connection'):
            self.publish_failures.labels(cause)
        for result in ('success', 'failure'):
            self.reloads.labels(result)
        self._known_events = frozenset()
        # Label children, looked up once: labels() costs more than inc().
        self._received = {}
        self._published = {(kind, origin): self.published.labels(kind,
                                                                 origin)
                            for kind in base.KINDS
                            for origin in (base.LEGACY, base.VERSIONED)}
        self.unroutable = {kind: unroutable.labels(kind)
                           for kind in base.KINDS}
        self._translation = {fmt: self.translation.labels(fmt)
                             for fmt in (base.LEGACY, base.VERSIONED)}
        self._duplicates = {fmt: self.duplicates.labels(fmt)
                            for fmt in (base.LEGACY, base.VERSIONED)}
        self._dead_letters = {reason: self.dead_letters.labels(reason)
                              for reason in dead_letter.OUTCOMES}

    def routed(self, exchange, routed, seconds):
        """One delivery routed in ``seconds``, its outputs published."""
        if routed.own:
            self.own_outputs.inc()
            return
        self._translation[routed.input_format].observe(seconds)
        key = (exchange, routed.input_format, self.event_label(routed))
        received = self._received.get(key)
        if received is None:
            received = self._received[key] = self.received.labels(*key)
        received.inc()
        self.published_outputs(routed.outputs, routed.suppressed)
        if routed.duplicate:
            self._duplicates[routed.duplicate].inc()

    def published_outputs(self, outputs, suppressed=0):
        for output in outputs:
            self._published[(output.kind, output.origin)].inc()
            if output.kind == base.DEAD_LETTER:
                self._dead_letters[output.outcome].inc()
        if suppressed:
            self.suppressed.inc(suppressed)

    def made_after_wait(self, outputs, suppressed):
        """A held legacy notification's twin did not come: these were
        made of it."""
        self.twin_waits_expired.inc()
        self.published_outputs(outputs, suppressed)

    def loaded(self, settings, translator_):
        """The config and mapping set in force changed."""
        for fmt in ('unversioned', 'versioned', 'both'):
            self.format.labels(fmt).set(
                fmt == settings.notification_format)
        self.payload_classes.clear()
        for (namespace, name), pdef in translator_.mapping_set.payloads.items():
            self.payload_classes.labels(namespace, name, pdef.version).set(1)
        self.mappings_loaded.set_to_current_time()
        self._translator = translator_
        self._known_events = translator_.known_event_types()

    def event_label(self, routed):
        """The event type, or ``unknown`` for one the mapping set does not
        know: labels stay bounded whatever comes."""
        event_type = routed.event_type
        if event_type is None:
            return UNKNOWN_EVENT
        if event_type in self._known_events or (
                routed.outcome is not None and routed.outcome.ok):
            return event_type
        if routed.input_format == base.VERSIONED and (
                self._translator.knows_versioned(event_type)):
            return event_type
        return UNKNOWN_EVENT


def delay_since(timestamp, now):
    """Seconds from a legacy timestamp (UTC) to ``now`` (time.time()), or
    None if it has none."""
    if timestamp.__class__ is not str:
        return None
    try:
        ts = _fromisoformat(timestamp)
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=_UTC)
    return now - ts.timestamp()


_fromisoformat = datetime.datetime.fromisoformat
_UTC = datetime.timezone.utc


class HealthServer:
    """/metrics, /healthz (alive) and /readyz (connected, mappings loaded)."""

    def __init__(self, metrics, ready, host, port):
        self._metrics_app = prom.make_wsgi_app(metrics.registry)
        self._ready = ready
        self._server = wsgiref.simple_server.make_server(
            host, port, self._app, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name='metrics', daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if path == '/healthz':
            return _text(start_response, '200 OK', 'ok\n')
        if path == '/readyz':
            problems = self._ready()
            if problems:
                return _text(start_response, '503 Service Unavailable',
                             ''.join(p + '\n' for p in problems))
            return _text(start_response, '200 OK', 'ready\n')
        return self._metrics_app(environ, start_response)


def _text(start_response, status, body):
    data = body.encode()
    start_response(status, [('Content-Type', 'text/plain; charset=utf-8'),
                            ('Content-Length', str(len(data)))])
    return [data]


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass  # scrapes every few seconds would drown the relay's own log
