"""The relay's reading of a connection, on the real RabbitMQ."""

import select
import time

import amqp
import pytest

from tests import bus as test_bus
from translator.relay import bus


@pytest.fixture
def vhost():
    with test_bus.vhost() as name:
        yield name


def _publish(url, queue, bodies):
    conn = bus.connect(url, 0, 'test-producer')
    channel = conn.channel()
    channel.queue_declare(queue, durable=False, auto_delete=False)
    for body in bodies:
        channel.basic_publish(amqp.Message(body), routing_key=queue)
    conn.close()


def _consume(url, queue, count, settle=0.0):
    """The bodies of ``count`` messages read through ChunkedReads, and the
    sizes of the socket reads it made; ``settle`` seconds pass between
    subscribing and reading, for the deliveries to reach the socket."""
    conn = bus.connect(url, 0, 'test-consumer')
    reads = bus.ChunkedReads(conn.transport)
    socket_reads = []
    real_recv = reads._recv

    def counted(size):
        socket_reads.append(size)
        return real_recv(size)
    reads._recv = counted
    received = []
    channel = conn.channel()
    channel.basic_consume(queue, no_ack=True,
                          callback=lambda m: received.append(m.body))
    time.sleep(settle)
    deadline = time.monotonic() + 30
    while len(received) < count and time.monotonic() < deadline:
        if reads.buffered() or select.select([conn.sock], [], [], 1)[0]:
            bus.drain(conn)
    assert not reads.buffered()
    conn.close()
    return received, socket_reads


def test_chunked_reads_deliver_everything_in_order(vhost):
    url = test_bus.url(vhost)
    # several frames per message, some bodies longer than one read
    bodies = [('%04d:' % i).encode() + b'x' * (i * 97 % 70000)
              for i in range(300)]
    _publish(url, 'chunked', bodies)
    received, _ = _consume(url, 'chunked', len(bodies))
    assert received == bodies


def test_chunked_reads_take_many_frames_per_read(vhost):
    url = test_bus.url(vhost)
    # small enough to sit whole in the socket's receive buffer, so the
    # count of reads does not depend on how fast the broker sends
    bodies = [('%04d:' % i).encode() + b'x' * 50 for i in range(300)]
    _publish(url, 'small', bodies)
    received, socket_reads = _consume(url, 'small', len(bodies), settle=1)
    assert received == bodies
    # py-amqp alone reads three times per frame, three frames per message
    assert len(socket_reads) < len(bodies) / 10


def test_drain_returns_at_once_when_nothing_is_ready(vhost):
    conn = bus.connect(test_bus.url(vhost), 0, 'test-idle')
    bus.ChunkedReads(conn.transport)
    started = time.monotonic()
    bus.drain(conn)
    assert time.monotonic() - started < 0.5
    # the socket is blocking again for py-amqp's own waits
    assert conn.sock.gettimeout() != 0
    conn.close()
