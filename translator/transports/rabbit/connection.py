"""Connections to a RabbitMQ bus: TLS, the order its hosts are tried in,
and one line of cause for each failure."""

import random
import socket
import ssl

import amqp
from amqp import method_framing
from oslo_log import log as logging

from translator import config
from translator import secrets
from translator.transports import base
from translator.transports.rabbit import frames
from translator.transports.rabbit import url as urls

LOG = logging.getLogger(__name__)

#: What a lost or refused connection raises; the relay reconnects on these.
CONNECTION_ERRORS = (OSError, socket.timeout, amqp.exceptions.AMQPError,
                     amqp.exceptions.RecoverableConnectionError,
                     amqp.exceptions.ConnectionForced)


def sslopts(options, hostname):
    """What py-amqp's ``ssl`` argument takes for one host, or False.

    py-amqp 5 takes a dict of ``ssl.wrap_socket`` keywords; an SSLContext
    given there is ignored and the system CAs are used without a hostname
    check (tests/test_tls.py shows it).
    """
    if not options.ssl:
        return False
    opts = {'cert_reqs': ssl.CERT_REQUIRED}
    if options.ssl_ca_file:
        opts['ca_certs'] = options.ssl_ca_file
        if options.ssl_enforce_hostname_verification:
            opts['server_hostname'] = hostname
    if options.ssl_cert_file:
        opts['certfile'] = options.ssl_cert_file
        opts['keyfile'] = options.ssl_key_file or None
    version = _TLS_VERSIONS.get(options.ssl_version.lower())
    if version is not None:
        opts['tls_minimum_version'] = version
    return opts


#: ssl_version, in any case -> the lowest version accepted; 'SSLv23' (any)
#: keeps Python's default.
_TLS_VERSIONS = {name.lower(): getattr(ssl.TLSVersion, name)
                 for name in config.TLS_VERSIONS if name.startswith('TLS')}


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


def connect(endpoint, heartbeat, name, timeout=None, frame_writer=None):
    """An open amqp.Connection to the first reachable host of the URL.

    With ``timeout``, a write, or a wait for a reply (a declaration, a
    close), that takes longer raises: a hung broker or network must not
    hang the relay. The connection then does not ask to be told when the
    broker blocks publishers either: py-amqp would read the socket before
    every publish, a system call per message; a blocked broker shows as a
    write or a confirm that takes too long.
    """
    url, options = endpoint.url, endpoint.options
    parsed = urls.parse(url)
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
            ssl=sslopts(options, host.hostname),
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
                          % (secrets.mask_url(url), '; '.join(failures)))


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


def close_quietly(conn):
    """Close a connection that may be broken already."""
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - it is going away either way
        try:
            conn.collect()
        except Exception:  # noqa: BLE001
            pass


class Side(base.Side):
    """A source's or a target's connection, ``conn``, its reads chunked
    (``frames.ChunkedReads``)."""

    def __init__(self, conn):
        self.conn = conn
        self.reads = frames.ChunkedReads(conn.transport)

    def fileno(self):
        return self.conn.sock.fileno()

    def buffered(self):
        return self.reads.buffered()

    def pump(self):
        frames.drain(self.conn)

    def tick(self):
        self.conn.heartbeat_tick()

    def close(self):
        close_quietly(self.conn)
