"""translator.transports.rabbit.frames: the relay's own reading and
writing of AMQP frames, on the real RabbitMQ."""

import contextlib
import select
import socket
import time

import amqp
import pytest

from tests import broker
from translator import settings
from translator.transports.rabbit import connection
from translator.transports.rabbit import frames


def connect(url, heartbeat, name, **kwargs):
    return connection.connect(settings.Endpoint(url), heartbeat, name,
                              **kwargs)


def _publish(url, queue, bodies):
    conn = connect(url, 0, 'test-producer')
    channel = conn.channel()
    channel.queue_declare(queue, durable=False, auto_delete=False)
    for body in bodies:
        channel.basic_publish(amqp.Message(body), routing_key=queue)
    conn.close()


def _consume(url, queue, count, settle=0.0):
    """The bodies of ``count`` messages read through ChunkedReads, and the
    sizes of the socket reads it made; ``settle`` seconds pass between
    subscribing and reading, for the deliveries to reach the socket."""
    conn = connect(url, 0, 'test-consumer')
    reads = frames.ChunkedReads(conn.transport)
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
            frames.drain(conn)
    assert not reads.buffered()
    conn.close()
    return received, socket_reads


def test_chunked_reads_deliver_everything_in_order(vhost):
    url = broker.url(vhost)
    # several frames per message, some bodies longer than one read
    bodies = [('%04d:' % i).encode() + b'x' * (i * 97 % 70000)
              for i in range(300)]
    _publish(url, 'chunked', bodies)
    received, _ = _consume(url, 'chunked', len(bodies))
    assert received == bodies


def test_chunked_reads_take_many_frames_per_read(vhost):
    url = broker.url(vhost)
    # small enough to sit whole in the socket's receive buffer, so the
    # count of reads does not depend on how fast the broker sends
    bodies = [('%04d:' % i).encode() + b'x' * 50 for i in range(300)]
    _publish(url, 'small', bodies)
    received, socket_reads = _consume(url, 'small', len(bodies), settle=1)
    assert received == bodies
    # py-amqp alone reads three times per frame, three frames per message
    assert len(socket_reads) < len(bodies) / 10


def test_drain_returns_at_once_when_nothing_is_ready(vhost):
    conn = connect(broker.url(vhost), 0, 'test-idle')
    frames.ChunkedReads(conn.transport)
    started = time.monotonic()
    frames.drain(conn)
    assert time.monotonic() - started < 0.5
    # the socket is blocking again for py-amqp's own waits
    assert conn.sock.gettimeout() != 0
    conn.close()


@pytest.mark.parametrize('size', [0, 10, 'frame', 'two frames'])
def test_publisher_frames_are_py_amqps(vhost, size):
    """The relay's own basic.publish frames, byte for byte what py-amqp
    writes for the same message; and the broker takes them."""
    writes = frames.BatchedWrites()
    conn = connect(broker.url(vhost), 0, 'test-publisher',
                       frame_writer=writes.frame_writer)
    channel = conn.channel()
    channel.queue_declare('out', durable=False, auto_delete=False)
    chunk = conn.frame_max - 8
    length = {'frame': chunk, 'two frames': chunk + 1}.get(size, size)
    body = (b'{"n": 0123456789}' * length)[:length]
    writes.hold()
    channel.basic_publish(
        amqp.Message(body, content_type='application/json',
                     content_encoding='utf-8', delivery_mode=2,
                     correlation_id='42', app_id='translator'),
        exchange='', routing_key='out', mandatory=True)
    ours = []
    frames.Publisher(channel, ours.append).publish(body, '', 'out', '43')
    assert b''.join(ours) == b''.join(writes._held).replace(b'\x0242',
                                                             b'\x0243')
    writes.flush()
    writes.write(b''.join(ours))
    got = broker.read_queue(vhost, 'out', 2)
    assert [m.body for m in got] == [body.decode()] * 2
    assert [m.properties['correlation_id'] for m in got] == ['42', '43']
    assert [m.properties['app_id'] for m in got] == ['translator'] * 2
    assert got[1].properties['delivery_mode'] == 2
    conn.close()


def test_deliveries_are_read_whole_from_any_number_of_frames(vhost):
    """Bodies of one frame, exactly a frame, and several frames: taken
    whole by Deliveries, also while py-amqp waits for a reply; other
    frames still reach py-amqp."""
    url = broker.url(vhost)

    def consume(count):
        """A connection, its channel and the deliveries it took."""
        conn = connect(url, 0, 'test-consumer')
        channel = conn.channel()
        got = []
        frames.Deliveries(channel, lambda *delivery: got.append(delivery))
        channel.basic_consume('in')
        # a reply py-amqp waits for, with the deliveries arriving meanwhile
        assert channel.queue_declare('in', passive=True).queue == 'in'
        deadline = time.monotonic() + 10
        while len(got) < count and time.monotonic() < deadline:
            conn.drain_events(timeout=1)
        return conn, channel, got

    probe = connect(url, 0, 'test-frame-max')
    chunk = probe.frame_max - 8
    probe.close()
    bodies = [b'{"a": 1}', b'b' * chunk, b'c' * (2 * chunk + 5)]
    _publish(url, 'in', bodies)
    conn, _, got = consume(len(bodies))
    assert got == [(tag, '', 'in', body, False, False)
                   for tag, body in enumerate(bodies, 1)]
    conn.close()
    # not acknowledged: the broker delivers them again, and says so
    conn, channel, again = consume(len(bodies))
    assert again == [(tag, '', 'in', body, True, False)
                     for tag, body in enumerate(bodies, 1)]
    channel.basic_ack(3, multiple=True)
    conn.close()


def test_deliveries_read_here_count_for_heartbeats(vhost):
    """A connection that only receives deliveries is alive: py-amqp
    counts them as read, or it would give up after two heartbeats."""
    url = broker.url(vhost)
    _publish(url, 'in', [])
    conn = connect(url, 1, 'test-consumer')
    channel = conn.channel()
    got = []
    frames.Deliveries(channel, lambda *delivery: got.append(delivery))
    channel.basic_consume('in', no_ack=True)
    producer = connect(url, 0, 'test-producer')
    out = producer.channel()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        out.basic_publish(amqp.Message(b'x'), routing_key='in')
        time.sleep(0.05)
        with contextlib.suppress(socket.timeout):
            conn.drain_events(timeout=0.05)
        conn.heartbeat_tick()  # raises when too many were missed
    assert len(got) > 10  # they came all along
    producer.close()
    conn.close()
