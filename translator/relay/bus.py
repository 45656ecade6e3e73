"""AMQP connections to a bus named by an oslo.messaging transport URL."""

import contextlib
import dataclasses
import random
import socket
import ssl
import struct

import amqp
from amqp import method_framing
import oslo_messaging
from oslo_config import cfg
from oslo_log import log as logging

from translator import config

LOG = logging.getLogger(__name__)

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


def _shortstr(text):
    data = text.encode()
    return bytes((len(data),)) + data


#: basic.publish with the reserved ticket; then exchange, routing key and
#: the mandatory bit.
_PUBLISH = struct.pack('>HHH', 60, 40, 0)
#: The properties of the relay's outputs, in the order AMQP writes them:
#: content type, content encoding, delivery mode (persistent), and the
#: correlation id that follows them.
_PROPERTY_FLAGS = 0x8000 | 0x4000 | 0x1000 | 0x0400
_PROPERTIES = (_shortstr('application/json') + _shortstr('utf-8') +
               bytes((2,)))


class Publisher:
    """The frames of basic.publish, built here for the relay's outputs.

    py-amqp builds them field by field, some 20 us a message on this
    project's machine, a sixth of the relay's time: here a place's method
    frame is made once and a message takes two struct.pack calls. The
    bytes are py-amqp's own (a test holds them equal). Messages with
    headers (dead letters) go through py-amqp, which encodes the table.
    """

    def __init__(self, channel, write):
        self._connection = channel.connection
        self._channel = channel.channel_id
        self._write = write
        self._methods = {}  # (exchange, routing key) -> method frame

    def _method(self, exchange, routing_key):
        payload = (_PUBLISH + _shortstr(exchange) + _shortstr(routing_key)
                   + b'\x01')
        frame = (struct.pack('>BHI', 1, self._channel, len(payload)) +
                 payload + b'\xce')
        self._methods[(exchange, routing_key)] = frame
        return frame

    def publish(self, body, exchange, routing_key, correlation_id):
        """Mandatory, persistent, JSON in UTF-8."""
        method = (self._methods.get((exchange, routing_key)) or
                  self._method(exchange, routing_key))
        channel = self._channel
        header = struct.pack('>HHQH', 60, 0, len(body), _PROPERTY_FLAGS) + \
            _PROPERTIES + _shortstr(correlation_id)
        frames = [method, struct.pack('>BHI', 2, channel, len(header)),
                  header, b'\xce']
        chunk = self._connection.frame_max - 8
        for start in range(0, len(body), chunk):
            part = body[start:start + chunk]
            frames += [struct.pack('>BHI', 3, channel, len(part)), part,
                       b'\xce']
        self._write(b''.join(frames))
        self._connection.bytes_sent += 1  # heartbeats count writes


_DELIVER = struct.pack('>HH', 60, 60)


class Deliveries:
    """basic.deliver on one channel, read here: py-amqp makes a Message of
    each (properties parsed, the body decoded to text), a sixth of the
    relay's time on this project's machine; the relay needs the delivery
    tag, exchange, routing key and body bytes.

    Installed in place of the connection's frame handler, so that the
    deliveries read while py-amqp waits for a reply are taken here too;
    every other frame goes on to py-amqp. ``on_delivery(tag, exchange,
    routing_key, body, redelivered)``.
    """

    def __init__(self, channel, on_delivery):
        self._connection = connection = channel.connection
        self._channel = channel.channel_id
        self._on_delivery = on_delivery
        self._py_amqp = connection.on_inbound_frame
        self._pending = None  # (tag, exchange, routing key), body parts
        self._left = 0  # body bytes still to come
        connection.on_inbound_frame = self._frame

    def _frame(self, frame):
        kind, channel, payload = frame
        if channel != self._channel or not (
                self._pending is not None or (
                    kind == 1 and payload[:4] == _DELIVER)):
            return self._py_amqp(frame)
        self._connection.bytes_recv += 1  # heartbeats count reads
        if kind == 1:
            # consumer tag, delivery tag, redelivered, exchange, key
            at = 5 + payload[4]
            tag = struct.unpack_from('>Q', payload, at)[0]
            redelivered = bool(payload[at + 8] & 1)
            at += 9
            exchange = bytes(payload[at + 1:at + 1 + payload[at]]).decode()
            at += 1 + payload[at]
            key = bytes(payload[at + 1:at + 1 + payload[at]]).decode()
            self._pending = ((tag, exchange, key, redelivered), [])
        elif kind == 2:
            self._left = struct.unpack_from('>Q', payload, 4)[0]
        else:
            self._pending[1].append(bytes(payload))
            self._left -= len(payload)
        if kind != 1 and not self._left:
            (tag, exchange, key, redelivered), parts = self._pending
            self._pending = None
            self._on_delivery(tag, exchange, key, b''.join(parts)
                              if len(parts) != 1 else parts[0], redelivered)
        return True


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


@dataclasses.dataclass(frozen=True)
class Options:
    """How to reach a bus beyond its URL: TLS and the order of its hosts.

    The fields are the options of translator.config's bus block, named and
    meant as in oslo.messaging's [oslo_messaging_rabbit].
    """

    ssl: bool = False
    ssl_ca_file: str = ''
    ssl_cert_file: str = ''
    ssl_key_file: str = ''
    ssl_version: str = ''
    ssl_enforce_hostname_verification: bool = True
    kombu_failover_strategy: str = 'round-robin'

    @classmethod
    def from_group(cls, group):
        return cls(**{field.name: group[field.name]
                      for field in dataclasses.fields(cls)})

    def config_lines(self, *names):
        """The options as a config file section's lines, to pass them to
        a process of the benchmark; all of them, or those named."""
        return ''.join('%s = %s\n' % (name, getattr(self, name))
                       for name in names or [
                           field.name for field in dataclasses.fields(self)])

    def problem(self):
        """(option, what is wrong) of the first TLS file that cannot be
        used, or None: a bad path is a configuration mistake, not a
        connection failure to retry forever."""
        if not self.ssl:
            return None
        if self.ssl_key_file and not self.ssl_cert_file:
            return 'ssl_key_file', 'set without ssl_cert_file'
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for option, load in (
                ('ssl_ca_file', context.load_verify_locations),
                ('ssl_key_file', _readable),
                ('ssl_cert_file', lambda path: context.load_cert_chain(
                    path, self.ssl_key_file or None))):
            path = getattr(self, option)
            try:
                if path:
                    load(path)
            except OSError as exc:  # ssl.SSLError is one too
                what = ('not usable: %s' % exc.reason
                        if isinstance(exc, ssl.SSLError)
                        else 'cannot read: %s' % exc.strerror)
                return option, '%s: %s' % (path, what)
        return None

    def sslopts(self, hostname):
        """What py-amqp's ``ssl`` argument takes for one host, or False.

        py-amqp 5 takes a dict of ``ssl.wrap_socket`` keywords; an
        SSLContext given there is ignored and the system CAs are used
        without a hostname check (tests/test_tls.py shows it).
        """
        if not self.ssl:
            return False
        opts = {'cert_reqs': ssl.CERT_REQUIRED}
        if self.ssl_ca_file:
            opts['ca_certs'] = self.ssl_ca_file
            if self.ssl_enforce_hostname_verification:
                opts['server_hostname'] = hostname
        if self.ssl_cert_file:
            opts['certfile'] = self.ssl_cert_file
            opts['keyfile'] = self.ssl_key_file or None
        version = _TLS_VERSIONS.get(self.ssl_version.lower())
        if version is not None:
            opts['tls_minimum_version'] = version
        return opts


#: ssl_version, in any case -> the lowest version accepted; 'SSLv23' (any)
#: keeps Python's default.
_TLS_VERSIONS = {name.lower(): getattr(ssl.TLSVersion, name)
                 for name in config.TLS_VERSIONS if name.startswith('TLS')}


def _readable(path):
    with open(path, 'rb'):
        pass


def endpoint(conf, side):
    """(transport URL, Options) of the 'source' or 'target' bus, checked.

    A target without a URL of its own is the source bus, reached the same
    way. Raises config.Invalid naming the option and its file.
    """
    group = conf[side]
    if side == 'target' and not group.transport_url:
        return endpoint(conf, 'source')
    try:
        parse(group.transport_url)
    except BadURL as exc:
        raise config.Invalid('%s: %s' % (
            config.where(conf, side, 'transport_url'), exc)) from None
    options = Options.from_group(group)
    problem = options.problem()
    if problem:
        raise config.Invalid('%s: %s' % (
            config.where(conf, side, problem[0]), problem[1]))
    return group.transport_url, options


class _HostOrder:
    """The order in which the hosts of one URL are tried.

    Like oslo.messaging, the hosts are shuffled once, so that replicas
    given the same URL spread over a cluster. 'round-robin' then starts
    each connection after the host of the previous one, which moves off a
    node that failed; 'shuffle' starts from a random host each time.
    """

    def __init__(self, hosts, strategy):
        self.hosts = random.sample(hosts, len(hosts))
        self.strategy = strategy
        self.next = 0

    def __iter__(self):
        if self.strategy == 'shuffle':
            self.next = random.randrange(len(self.hosts))
        start = self.next
        for i in range(len(self.hosts)):
            index = (start + i) % len(self.hosts)
            self.next = index + 1
            yield self.hosts[index]


#: (URL, strategy) -> _HostOrder: a reconnection continues the order of
#: the connection it replaces, which is gone with its Source or Target.
_orders = {}


def connect(url, heartbeat, name, timeout=None, frame_writer=None,
            options=Options()):
    """An open amqp.Connection to the first reachable host of the URL.

    With ``timeout``, a write, or a wait for a reply (a declaration, a
    close), that takes longer raises: a hung broker or network must not
    hang the relay. The connection then does not ask to be told when the
    broker blocks publishers either: py-amqp would read the socket before
    every publish, a system call per message; a blocked broker shows as a
    write or a confirm that takes too long.
    """
    parsed = parse(url)
    key = (url, options.kombu_failover_strategy)
    order = _orders.get(key)
    if order is None:
        order = _orders[key] = _HostOrder(parsed.hosts,
                                          options.kombu_failover_strategy)
    failures = []
    for host in order:
        address = '%s:%d' % (host.hostname, host.port or 5672)
        conn = amqp.Connection(
            host=address,
            userid=host.username or 'guest',
            password=host.password or 'guest',
            virtual_host=parsed.virtual_host or '/',
            heartbeat=heartbeat, connect_timeout=10,
            read_timeout=timeout, write_timeout=timeout,
            ssl=options.sslopts(host.hostname),
            frame_writer=frame_writer or method_framing.frame_writer,
            client_properties={'connection_name': 'translator-%s' % name})
        if timeout is not None:
            conn.negotiate_capabilities = dict(
                conn.negotiate_capabilities, **{'connection.blocked': False})
        try:
            conn.connect()
        except CONNECTION_ERRORS as exc:
            failures.append('%s: %s' % (address, _cause(exc, options)))
            continue
        LOG.info('%s bus: connected to %s%s', name, address,
                 ' over TLS' if options.ssl else '')
        return conn
    raise ConnectionError('cannot connect to %s: %s'
                          % (mask_url(url), '; '.join(failures)))


#: OpenSSL's verify codes for a chain no trusted CA signed.
_UNTRUSTED = {2, 18, 19, 20}


def _cause(exc, options):
    if isinstance(exc, ssl.SSLCertVerificationError):
        cause = 'TLS: broker certificate refused: %s' % exc.verify_message
        if exc.verify_code in _UNTRUSTED:
            cause += ' (not signed by %s)' % (
                options.ssl_ca_file or 'a CA of the system')
        return cause
    if isinstance(exc, ssl.SSLError) and exc.reason in (
            'WRONG_VERSION_NUMBER', 'RECORD_LAYER_FAILURE'):
        return 'TLS handshake failed (%s): not a TLS port?' % exc.reason
    if isinstance(exc, ssl.SSLError):
        return 'TLS handshake failed: %s' % (exc.reason or exc)
    if isinstance(exc, ConnectionResetError) and not options.ssl:
        return '%s (a TLS port? see ssl)' % exc
    return str(exc) or type(exc).__name__


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
