"""Exchanges and queues, used as they are or made as oslo.messaging
makes them."""

import amqp


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


def ensure_queue(channel, name, durable, quorum):
    """Use the queue as it is, or create it (as oslo.messaging would:
    durable, or a quorum queue)."""
    if _exists(channel.connection,
               lambda ch: ch.queue_declare(name, passive=True)):
        return
    channel.queue_declare(
        name, durable=durable or quorum, auto_delete=False,
        arguments={'x-queue-type': 'quorum'} if quorum else None)
