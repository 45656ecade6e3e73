"""A RabbitMQ queue consumed: the relay's pool, or the dead-letter queue."""

import time

from translator.transports import base
from translator.transports.rabbit import connection
from translator.transports.rabbit import declare
from translator.transports.rabbit import frames


class QueueSource(connection.Side, base.Source):
    """Consumes one queue on an open connection, ``prefetch`` unacknowledged
    at most. Deliveries are read from the frames (``frames.Deliveries``);
    ``with_headers`` lets py-amqp read them instead, properties and all,
    for the few consumers that need their headers."""

    def __init__(self, conn, channel, queue, prefetch, on_delivery,
                 with_headers=False):
        super().__init__(conn)
        self.channel = channel
        self.name = queue
        self._on_delivery = on_delivery
        channel.basic_qos(0, prefetch, False)
        if with_headers:
            self._consumer_tag = channel.basic_consume(
                queue, callback=self._message)
        else:
            frames.Deliveries(channel, self._delivered)
            self._consumer_tag = channel.basic_consume(queue)

    def _delivered(self, tag, exchange, routing_key, body, redelivered, own):
        self._on_delivery(base.Delivery(tag, exchange, routing_key, body,
                                        time.monotonic(), redelivered, None,
                                        own))

    def _message(self, message):
        info = message.delivery_info
        body = message.body
        self._on_delivery(base.Delivery(
            info['delivery_tag'], info['exchange'], info['routing_key'],
            body.encode() if isinstance(body, str) else body,
            time.monotonic(), info.get('redelivered', False),
            message.properties.get('application_headers') or {},
            message.properties.get('app_id') == frames.APP_ID))

    def acknowledge(self, tag, multiple):
        self.channel.basic_ack(tag, multiple=multiple)

    def reject(self, tag):
        self.channel.basic_reject(tag, requeue=True)

    def stop_consuming(self):
        self.channel.basic_cancel(self._consumer_tag)

    def depth(self):
        return self.channel.queue_declare(self.name,
                                          passive=True).message_count


def pool(settings, on_delivery):
    """The relay's pool queue on the source bus: declared (a quorum queue
    with ``quorum_queue``, one consumer at a time with
    ``single_active_consumer``), bound to ``<topic>.*`` of every exchange
    for the legacy and the versioned topics, exactly as an oslo.messaging
    listener with a pool binds it, and consumed."""
    conn = connection.connect(settings.source, settings.heartbeat, 'source',
                              timeout=settings.confirm_timeout)
    try:
        kinds = declare.Kinds.of(settings, settings.source, conn)
        channel = conn.channel()
        with declare.saying('the exchanges %s' % ', '.join(
                settings.exchanges), '[source] amqp_durable_queues'):
            for exchange in settings.exchanges:
                declare.ensure_exchange(conn, exchange, kinds.durable)
        durable, arguments = kinds.own_queue()
        if settings.single_active_consumer:
            arguments['x-single-active-consumer'] = True
        with declare.saying(
                '[source] pool %r' % settings.pool, '[source] '
                'rabbit_quorum_queue and single_active_consumer'):
            channel.queue_declare(settings.pool, durable=durable,
                                  auto_delete=False,
                                  arguments=arguments or None)
        for exchange in settings.exchanges:
            for topic in settings.topics + settings.versioned_topics:
                # '<topic>.*' is every priority oslo.messaging sends.
                channel.queue_bind(settings.pool, exchange, topic + '.*')
        return QueueSource(conn, channel, settings.pool, settings.prefetch,
                           on_delivery)
    except BaseException:
        connection.close_quietly(conn)
        raise
