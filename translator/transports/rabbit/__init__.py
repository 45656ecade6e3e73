"""The RabbitMQ (AMQP 0-9-1) transport, as oslo.messaging's rabbit driver
reaches the bus: ``rabbit://`` and ``amqp://`` URLs.

- ``url``: transport URLs;
- ``connection``: TLS, host order, one line of cause per failure;
- ``declare``: exchanges and queues, used as they are or made;
- ``frames``: the frames the relay reads and writes itself;
- ``source``, ``target``, ``dead_letter_queue``: the boundary of
  ``translator.transports.base``.
"""

from translator.transports import base
from translator.transports.rabbit import connection
from translator.transports.rabbit import dead_letter_queue
from translator.transports.rabbit import source
from translator.transports.rabbit import target
from translator.transports.rabbit import url as urls


class Driver(base.Driver):
    errors = connection.CONNECTION_ERRORS

    def check(self, url):
        urls.parse(url)

    def same_bus(self, url_a, url_b):
        return urls.same_bus(url_a, url_b)

    def source(self, settings, on_delivery):
        return source.pool(settings, on_delivery)

    def target(self, settings, on_confirm, on_refuse, on_return):
        return target.Target(settings, self.dead_letter_store(settings),
                             on_confirm, on_refuse, on_return)

    def dead_letter_store(self, settings):
        return dead_letter_queue.DeadLetterQueue(settings)
