"""AMQP connections to a bus named by an oslo.messaging transport URL."""

import contextlib
import socket

import amqp
from amqp import method_framing
import oslo_messaging
from oslo_config import cfg

#: What a lost or refused connection raises; the relay reconnects on these.
CONNECTION_ERRORS = (OSError, socket.timeout, amqp.exceptions.AMQPError,
                     amqp.exceptions.RecoverableConnectionError,
                     amqp.exceptions.ConnectionForced)


class BadURL(ValueError):
    pass


def parse(url):
    try:
        parsed = oslo_messaging.TransportURL.parse(cfg.CONF, url)
    except Exception as exc:  # oslo raises several kinds for one mistake
        raise BadURL('invalid transport URL %s: %s'
                     % (mask_url(url), exc)) from None
    if parsed.transport not in ('rabbit', 'amqp'):
        raise BadURL('transport %r of %s is not supported: the relay '
                     'speaks AMQP 0-9-1 (rabbit://)'
                     % (parsed.transport, mask_url(url)))
    if not parsed.hosts:
        raise BadURL('no host in transport URL %s' % mask_url(url))
    return parsed


def mask_url(url):
    """The URL with every password replaced, for logs, errors and metrics."""
    if not url:
        return url
    scheme, sep, rest = url.partition('://')
    if not sep:
        return '***'
    hosts, slash, tail = rest.partition('/')
    masked = []
    for host in hosts.split(','):
        userinfo, at, address = host.rpartition('@')
        if at and ':' in userinfo:
            userinfo = userinfo.split(':', 1)[0] + ':***'
        masked.append(userinfo + at + address)
    return '%s://%s%s%s' % (scheme, ','.join(masked), slash, tail)


def same_bus(url_a, url_b):
    """Whether two URLs reach the same broker and virtual host."""
    a, b = parse(url_a), parse(url_b)
    return (a.virtual_host or '/') == (b.virtual_host or '/') and {
        (h.hostname, h.port or 5672) for h in a.hosts} & {
        (h.hostname, h.port or 5672) for h in b.hosts} != set()


class BatchedWrites:
    """Frames held while a batch is published, then sent in one write.

    One system call per message costs the relay and, more, the broker,
    which then reads many small packets. Used as py-amqp's transport by its
    frame writer; anything waiting for a reply must ``flush`` first.
    """

    def __init__(self):
        self._transport = None
        self._held = None

    def frame_writer(self, connection, transport):
        self._transport = transport
        return method_framing.frame_writer(connection, self)

    def write(self, data):
        if self._held is None:
            self._transport.write(data)
        else:
            self._held.append(bytes(data))  # data is py-amqp's reused buffer

    def hold(self):
        self._held = []

    def flush(self):
        """Send what is held; whether writes were being held."""
        held, self._held = self._held, None
        if held:
            self._transport.write(b''.join(held))
        return held is not None

    @contextlib.contextmanager
    def paused(self):
        """Send what is held and write through, for calls that wait for
        a reply; hold again afterwards if writes were being held."""
        holding = self.flush()
        try:
            yield
        finally:
            if holding:
                self.hold()


class ChunkedReads:
    """Socket reads of up to 64 KiB, handed to py-amqp a piece at a time.

    py-amqp reads a frame in three recv() calls of exactly the size it
    needs (header, payload, end byte), nine system calls per delivered
    message; this reads what the socket holds at once and serves those
    calls from memory. Data it holds is invisible to select(): ``drain``
    empties it, and after a call that waits for a reply ``buffered`` says
    whether deliveries arrived with that reply.
    """

    def __init__(self, transport, size=65536):
        self._recv = transport.sock.recv
        self._size = size
        self._data = b''
        self._offset = 0
        transport._quick_recv = self.recv

    def recv(self, size):
        if self._offset >= len(self._data):
            data = self._recv(max(size, self._size))
            if len(data) <= size:
                return data
            self._data, self._offset = data, 0
        start = self._offset
        self._offset = start + size
        return self._data[start:self._offset]

    def buffered(self):
        return self._offset < len(self._data)


def drain(conn):
    """Handle every frame the connection has ready, without blocking.

    One switch to non-blocking mode for all of them: drain_events(0) costs
    two fcntl() calls per frame.
    """
    transport = conn.transport
    with transport.having_timeout(0):
        while True:
            try:
                frame = transport.read_frame()
            except socket.timeout:
                return
            conn.on_inbound_frame(frame)


def connect(url, heartbeat, name, timeout=None, frame_writer=None):
    """An open amqp.Connection to the first reachable host of the URL.

    With ``timeout``, a write, or a wait for a reply (a declaration, a
    close), that takes longer raises: a hung broker or network must not
    hang the relay. The connection then does not ask to be told when the
    broker blocks publishers either: py-amqp would read the socket before
    every publish, a system call per message; a blocked broker shows as a
    write or a confirm that takes too long.
    """
    parsed = parse(url)
    last = None
    for host in parsed.hosts:
        conn = amqp.Connection(
            host='%s:%d' % (host.hostname, host.port or 5672),
            userid=host.username or 'guest',
            password=host.password or 'guest',
            virtual_host=parsed.virtual_host or '/',
            heartbeat=heartbeat, connect_timeout=10,
            read_timeout=timeout, write_timeout=timeout,
            frame_writer=frame_writer or method_framing.frame_writer,
            client_properties={'connection_name': 'translator-%s' % name})
        if timeout is not None:
            conn.negotiate_capabilities = dict(
                conn.negotiate_capabilities, **{'connection.blocked': False})
        try:
            conn.connect()
            return conn
        except CONNECTION_ERRORS as exc:
            last = exc
    raise ConnectionError('cannot connect to %s: %s' % (mask_url(url), last))


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
