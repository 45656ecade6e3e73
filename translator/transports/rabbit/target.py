"""Publishing on RabbitMQ in confirm mode, without waiting for each
confirm."""

import amqp

from translator.transports import base
from translator.transports.rabbit import connection
from translator.transports.rabbit import declare
from translator.transports.rabbit import frames


class Target(connection.Side, base.Target):
    """The relay's outputs, published where a native emitter would.

    A broker confirms a message that no queue is bound for, and drops it.
    So, before anything is consumed, the dead-letter queue is declared and
    bound on every source exchange; on the first publish to a place, per
    connection, its exchange gets the dead-letter binding too and (as
    oslo.messaging's Notifier does) a queue named after the routing key.
    Every publish is mandatory: what still finds no queue comes back,
    with its publish sequence number as correlation_id, to ``on_return``.
    """

    def __init__(self, settings, dead_letters, on_confirm, on_refuse,
                 on_return):
        self.settings = settings
        self._dead_letters = dead_letters
        self.writes = frames.BatchedWrites()
        super().__init__(connection.connect(
            settings.target, settings.heartbeat, 'target',
            timeout=settings.confirm_timeout,
            frame_writer=self.writes.frame_writer))
        try:
            self.channel = self.conn.channel()
            self.channel.confirm_select()
            self.channel.events['basic_ack'].add(on_confirm)
            self.channel.events['basic_nack'].add(on_refuse)
            self.channel.events['basic_return'].add(self._returned)
            self._on_return = on_return
            self._publisher = frames.Publisher(self.channel,
                                               self.writes.write)
            self.seq = 0
            self._exchanges = set()
            self._places = set()  # (exchange, routing key) made routable
            self._kinds = declare.Kinds.of(settings, settings.target,
                                           self.conn)
            dead_letters.declare(self.channel, self._kinds)
            for exchange in settings.exchanges:
                self._use_exchange(exchange)
        except BaseException:
            connection.close_quietly(self.conn)
            raise

    def _use_exchange(self, exchange):
        with declare.saying('exchange %r' % exchange,
                            '[source] amqp_durable_queues'):
            declare.ensure_exchange(self.conn, exchange, self._kinds.durable)
        self._dead_letters.bind(self.channel, exchange)
        self._exchanges.add(exchange)

    def _prepare(self, output):
        with self.writes.paused():
            if output.exchange not in self._exchanges:
                self._use_exchange(output.exchange)
            if (output.kind != base.DEAD_LETTER
                    and self.settings.declare_default_queues):
                with declare.saying(
                        'default queue %r' % output.routing_key,
                        '[source] rabbit_quorum_queue, amqp_durable_queues '
                        'or [target] declare_default_queues'):
                    declare.ensure_queue(self.channel, output.routing_key,
                                         *self._kinds.default_queue())
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
                             correlation_id=str(self.seq),
                             app_id=frames.APP_ID),
                exchange=output.exchange, routing_key=output.routing_key,
                mandatory=True)
        return self.seq

    def _returned(self, exc, exchange, routing_key, message):
        self._on_return(int(message.properties['correlation_id']),
                        '%s, exchange %r, routing key %r' % (
                            exc.reply_text, exchange, routing_key))

    def hold(self):
        self.writes.hold()

    def flush(self):
        self.writes.flush()

