"""Exchanges and queues, used as they are or made as oslo.messaging
makes them, of the kinds the broker allows; and the broker's refusals
that no retry would change, said in one line with the option to set."""

import contextlib
import dataclasses
import re

import amqp

from translator.transports import base
from translator.transports.rabbit import connection


@dataclasses.dataclass(frozen=True)
class Kinds:
    """What the relay declares on one broker: from the settings
    (oslo.messaging's options and meaning) and from what the broker
    allows."""

    durable: bool  # exchanges and default queues
    quorum: bool
    transient_quorum: bool
    delivery_limit: int
    #: RabbitMQ 4 quorum queues drop a message redelivered 20 times unless
    #: given another limit; -1 is none
    unlimited: bool
    default_queue_arguments: tuple  # ((key, value), ...) of default queues

    @classmethod
    def of(cls, settings, endpoint, conn):
        """The kinds on the broker of ``conn``, open to ``endpoint``."""
        durable = settings.durable or settings.quorum or (
            not _transient_queues_allowed(endpoint,
                                          settings.confirm_timeout))
        arguments = []
        if settings.default_queue_max_length:
            arguments.append(('x-max-length',
                              settings.default_queue_max_length))
        if settings.default_queue_message_ttl:
            arguments.append(('x-message-ttl',
                              settings.default_queue_message_ttl * 1000))
        if settings.default_queue_expires:
            arguments.append(('x-expires',
                              settings.default_queue_expires * 1000))
        return cls(durable, settings.quorum, settings.transient_quorum,
                   settings.quorum_delivery_limit, _major(conn) >= 4,
                   tuple(arguments))

    def own_queue(self):
        """(durable, arguments) of the relay's own queues, the pool and the
        dead-letter queue: durable, and a quorum queue with quorum, that
        drops nothing however often it is delivered again."""
        if not self.quorum:
            return True, {}
        arguments = {'x-queue-type': 'quorum'}
        if self.unlimited:
            arguments['x-delivery-limit'] = -1
        return True, arguments

    def default_queue(self):
        """(durable, arguments) of a default queue, as oslo.messaging's
        Notifier declares one with the same options."""
        arguments = dict(self.default_queue_arguments)
        if self.quorum or (self.transient_quorum and not self.durable):
            arguments['x-queue-type'] = 'quorum'
            if self.delivery_limit:
                arguments['x-delivery-limit'] = self.delivery_limit
            return True, arguments
        return self.durable, arguments


def _major(conn):
    version = conn.server_properties.get('version', b'0')
    if isinstance(version, bytes):
        version = version.decode('ascii', 'replace')
    found = re.match(r'(\d+)', version)
    return int(found.group(1)) if found else 0


def _transient_queues_allowed(endpoint, timeout):
    """Whether the broker takes a transient queue that is not exclusive,
    which RabbitMQ 4 may deny (the deprecated feature
    transient_nonexcl_queues). Asked on a connection of its own: the broker
    closes the whole connection when it denies it."""
    probe = connection.connect(endpoint, 0, 'probe', timeout=timeout)
    try:
        channel = probe.channel()
        name = channel.queue_declare('', durable=False, exclusive=False,
                                     auto_delete=True).queue
        channel.queue_delete(name)
        return True
    except amqp.exceptions.InternalError as exc:
        if 'transient_nonexcl_queues' in str(exc):
            return False
        raise
    finally:
        connection.close_quietly(probe)


def _exists(conn, passive_declare):
    """Whether ``passive_declare(channel)`` finds the entity. Probing first
    means an entity that exists is used as it is: declaring it again with
    other properties would be refused (and close the channel)."""
    probe = conn.channel()
    try:
        passive_declare(probe)
    except amqp.exceptions.NotFound:
        return False  # the broker closed the probe channel
    probe.close()
    return True


def ensure_exchange(conn, name, durable):
    """Use the exchange as it is, or create it if nobody has yet."""
    if _exists(conn, lambda ch: ch.exchange_declare(name, 'topic',
                                                    passive=True)):
        return
    channel = conn.channel()
    channel.exchange_declare(name, 'topic', durable=durable,
                             auto_delete=False)
    channel.close()


def ensure_queue(channel, name, durable, arguments):
    """Use the queue as it is, or create it so."""
    if _exists(channel.connection,
               lambda ch: ch.queue_declare(name, passive=True)):
        return
    channel.queue_declare(name, durable=durable, auto_delete=False,
                          arguments=arguments or None)


@contextlib.contextmanager
def saying(what, options):
    """Declarations of ``what`` that the broker may refuse for good: such
    a refusal is raised as BrokerRefused, naming ``options`` to set."""
    try:
        yield
    except (amqp.exceptions.PreconditionFailed,
            amqp.exceptions.InternalError) as exc:
        refusal = refused(exc, what, options)
        if refusal is None:
            raise
        raise refusal from None


def refused(exc, what, options):
    """The BrokerRefused of a refusal no retry changes, else None:
    ``what`` the relay declared, ``options`` what to set."""
    text = str(exc)
    if isinstance(exc, amqp.exceptions.PreconditionFailed):
        return base.BrokerRefused(
            '%s: the broker refuses it (%s): it exists with other '
            'arguments; set %s as it was declared, or delete it' % (
                what, text, options))
    if isinstance(exc, amqp.exceptions.InternalError) and (
            'is deprecated' in text):
        feature = re.search(r'Feature `?(\w+)`? is deprecated', text)
        return base.BrokerRefused(
            '%s: the broker denies the deprecated feature %s (%s); set %s' % (
                what, feature.group(1) if feature else '?',
                text.splitlines()[0], options))
    return None
