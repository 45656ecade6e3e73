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


def test_chunked_reads_deliver_everything_in_order_with_few_reads(vhost):
    url = test_bus.url(vhost)
    # several frames per message, some bodies longer than one read
    bodies = [('%04d:' % i).encode() + b'x' * (i * 97 % 70000)
              for i in range(300)]
    _publish(url, 'chunked', bodies)
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
    channel.basic_consume('chunked', no_ack=True,
                          callback=lambda m: received.append(m.body))
    deadline = time.monotonic() + 30
    while len(received) < len(bodies) and time.monotonic() < deadline:
        if reads.buffered() or select.select([conn.sock], [], [], 1)[0]:
            bus.drain(conn)
    assert received == bodies
    # py-amqp alone reads three times per frame, three frames per message
    assert len(socket_reads) < len(bodies)
    assert not reads.buffered()
    conn.close()


def test_drain_returns_at_once_when_nothing_is_ready(vhost):
    conn = bus.connect(test_bus.url(vhost), 0, 'test-idle')
    bus.ChunkedReads(conn.transport)
    started = time.monotonic()
    bus.drain(conn)
    assert time.monotonic() - started < 0.5
    # the socket is blocking again for py-amqp's own waits
    assert conn.sock.gettimeout() != 0
    conn.close()
