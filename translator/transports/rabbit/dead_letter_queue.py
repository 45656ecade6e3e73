"""The dead-letter store on RabbitMQ: a durable queue of the target bus.

It is declared (a quorum queue with ``rabbit_quorum_queue``) and bound to
``<dead_letter_topic>.*`` on every exchange the relay publishes to before
anything is consumed, so a dead letter always finds it. Reading it
without taking (``browse``) leaves every message unacknowledged: they go
back to the queue when the connection closes.
"""

import socket

import amqp

from translator import secrets
from translator.transports import base
from translator.transports.rabbit import connection
from translator.transports.rabbit import declare
from translator.transports.rabbit import source

_IDLE = 2.0  # seconds without a delivery after which a browse is done


class DeadLetterQueue(base.DeadLetterStore):
    def __init__(self, settings):
        self.settings = settings
        self.queue = settings.dead_letter_queue
        self.name = '%s on %s' % (self.queue,
                                  secrets.mask_url(settings.target.url))

    def declare(self, channel, kinds):
        """Make it ready, as ``kinds`` (declare.Kinds) says."""
        with declare.saying('[target] dead_letter_queue %r' % self.queue,
                            '[source] rabbit_quorum_queue'):
            declare.ensure_queue(channel, self.queue, *kinds.own_queue())

    def bind(self, channel, exchange):
        channel.queue_bind(self.queue, exchange,
                           self.settings.dead_letter_topic + '.*')

    def _connect(self):
        return connection.connect(self.settings.target, 0, 'dead-letters')

    def _depth(self, channel):
        try:
            return channel.queue_declare(self.queue,
                                         passive=True).message_count
        except amqp.exceptions.NotFound:
            raise base.StoreMissing(
                'no queue %r on %s: nothing was dead-lettered there, or '
                '[target] dead_letter_queue names another' % (
                    self.queue, secrets.mask_url(self.settings.target.url))
            ) from None

    def depth(self):
        conn = self._connect()
        try:
            return self._depth(conn.channel())
        finally:
            conn.close()

    def browse(self, limit, on_letter):
        conn = self._connect()
        try:
            channel = conn.channel()
            depth = self._depth(channel)
            wanted = depth if limit is None else min(depth, limit)
            seen = 0

            def received(delivery):
                nonlocal seen
                seen += 1
                if seen <= wanted:
                    on_letter(delivery)
            if wanted:
                # prefetch is 16 bits; 0 is no limit
                source.QueueSource(
                    conn, channel, self.queue,
                    wanted if wanted < 65536 else 0, received,
                    with_headers=True)
                while seen < wanted:
                    try:
                        conn.drain_events(timeout=_IDLE)
                    except socket.timeout:
                        break  # someone else took the rest
            return depth
        finally:
            conn.close()  # nothing acknowledged: everything stays queued

    def source(self, settings, on_delivery):
        conn = connection.connect(settings.target, settings.heartbeat,
                                  'dead-letters',
                                  timeout=settings.confirm_timeout)
        try:
            return source.QueueSource(conn, conn.channel(), self.queue,
                                      settings.prefetch, on_delivery,
                                      with_headers=True)
        except BaseException:
            connection.close_quietly(conn)
            raise

