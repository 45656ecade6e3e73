"""Test helpers for the real RabbitMQ: vhosts, a private node, producers,
collectors and the relay as a subprocess."""

import contextlib
import itertools
import json
import os
import pathlib
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

import amqp
import pytest
import oslo_messaging
from oslo_config import cfg
from oslo_context import context as oslo_context

HOST = '127.0.0.1'
MAIN_PORT = 5672
#: Nodes of the tests' own are named <prefix><pid of the test run>-<n>, so
#: that test runs side by side (checkouts, CI, sessions) never share one.
NODE_PREFIX = 'translator-test-'
RABBIT_HOME = pathlib.Path('/var/lib/rabbitmq')


def ctl(*args, node=None, check=True):
    cmd = ['rabbitmqctl', '-q'] + (['-n', node] if node else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, check=check,
                          timeout=120)


def url(vhost, port=MAIN_PORT, password='guest'):
    return 'rabbit://guest:%s@%s:%d/%s' % (password, HOST, port, vhost)


@contextlib.contextmanager
def vhost(node=None):
    """A fresh virtual host, so a test sees only its own messages."""
    name = 'translator-test-%s' % uuid.uuid4().hex[:8]
    ctl('add_vhost', name, node=node)
    ctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*', node=node)
    try:
        yield name
    finally:
        ctl('delete_vhost', name, node=node, check=False)


def _stop_orphan_nodes():
    """Stop test nodes whose test run is gone (killed before teardown)."""
    names = subprocess.run(['epmd', '-names'], capture_output=True,
                           text=True, check=False).stdout
    for name in re.findall(r'^name (%s(\d+)-\d+) at' % NODE_PREFIX, names,
                           flags=re.M):
        if not pathlib.Path('/proc', name[1]).exists():
            ctl('stop', node=name[0] + '@localhost', check=False)


_nodes = itertools.count()


class PrivateBroker:
    """A RabbitMQ node of the tests' own, which fault tests may stop.

    ``config``: lines of its rabbitmq.conf (a TLS listener, say);
    ``plugins``: those to enable.
    """

    def __init__(self, base, config='', plugins=()):
        self.base = pathlib.Path(base)
        self.config = config
        self.plugins = plugins
        self.node = '%s%d-%d@localhost' % (NODE_PREFIX, os.getpid(),
                                           next(_nodes))
        self.port = free_port()
        self.env = dict(
            os.environ, RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS=HOST,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(free_port()),
            RABBITMQ_MNESIA_BASE=str(self.base / 'mnesia'),
            RABBITMQ_LOG_BASE=str(self.base / 'log'),
            RABBITMQ_CONFIG_FILE=str(self.base / 'rabbitmq'),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base / 'plugins'),
            HOME=str(self.base))

    def start(self):
        return self.launch().wait()

    def launch(self):
        """Start the node without waiting for it: nodes start together."""
        _stop_orphan_nodes()
        if self.base.exists():
            shutil.rmtree(self.base)
        self.base.mkdir(parents=True)
        (self.base / 'rabbitmq.conf').write_text(self.config)
        (self.base / 'plugins').write_text('[%s].\n' % ','.join(
            self.plugins))
        # rabbitmqctl authenticates with the cookie of the main node.
        shutil.copy(RABBIT_HOME / '.erlang.cookie', self.base)
        for path in (self.base, self.base / '.erlang.cookie',
                     self.base / 'rabbitmq.conf', self.base / 'plugins'):
            shutil.chown(path, 'rabbitmq', 'rabbitmq')
        self.boot()
        return self

    def boot(self):
        """Start the node's Erlang VM again on the data it has."""
        subprocess.run(['su', 'rabbitmq', '-s', '/bin/sh', '-c',
                        'rabbitmq-server -detached'], env=self.env,
                       check=True, timeout=60)

    def wait(self):
        # Until the node has registered, rabbitmqctl cannot even find it.
        wait_port(self.port, timeout=120)
        ctl('await_startup', '--timeout', '120', node=self.node)
        return self

    def url(self, vhost=''):
        return url(vhost, port=self.port)

    def ctl(self, *args, check=True):
        """rabbitmqctl against this node."""
        return ctl(*args, node=self.node, check=check)

    def pid(self):
        """The pid of the node's Erlang VM."""
        return int(self.ctl('eval', 'os:getpid().').stdout.strip()
                   .strip('"'))

    def stop_app(self):
        ctl('stop_app', node=self.node)

    def start_app(self):
        ctl('start_app', node=self.node)
        wait_port(self.port)

    def stop(self):
        ctl('stop', node=self.node, check=False)


def wait_port(port, timeout=60, alive=None):
    """Until something listens on port; ``alive`` (a Popen) dying first
    is an error at once, not after the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(
                (HOST, port), timeout=1):
            return
        if alive is not None and alive.poll() is not None:
            raise RuntimeError('exited %s before listening on port %d' % (
                alive.returncode, port))
        time.sleep(0.05)
    raise TimeoutError('nothing listens on port %d' % port)


def wait_for(what, condition, timeout=60, log=None):
    """The first true value of ``condition()``."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail('no %s after %d s%s' % (
                what, timeout, '\n' + log.read_text() if log else ''))
        time.sleep(0.1)
    return value


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class TcpProxy:
    """A TCP relay to a broker port that a test can stall.

    ``stall()`` stops the connections made so far from passing data (both
    ways, or only toward the client, which holds back the broker's
    confirms); connections made afterwards pass data as usual. ``cut()``
    resets the connections made so far, dropping whatever they hold.
    """

    def __init__(self, port=MAIN_PORT):
        self._to = port
        self._listener = socket.create_server((HOST, 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs = []  # [client, server, {'up': stalled, 'down': ...}]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, vhost_name=''):
        return url(vhost_name, port=self.port)

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection((HOST, self._to))
            pair = [client, server, {'up': False, 'down': False,
                                     'seen': True}]
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair,),
                             daemon=True).start()

    def _pump(self, pair):
        client, server, stalled = pair
        routes = {client: (server, 'up'), server: (client, 'down')}
        try:
            while True:
                # A stalled direction is not read: its data waits in the
                # kernel's buffers, as behind a hung broker or network.
                readable = [s for s, (_, way) in routes.items()
                            if not stalled[way]]
                stalled['seen'] = True  # what stall() set now holds
                ready, _, _ = select.select(readable, [], [], 0.05)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        raise OSError('closed')
                    routes[sock][0].sendall(data)
        except OSError:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.close()
            # a connection that is gone neither passes data nor stalls
            with self._lock:
                if pair in self._pairs:
                    self._pairs.remove(pair)

    def stall(self, ways=('up', 'down')):
        """Returns once no connection passes data any more that way."""
        with self._lock:
            states = [stalled for _, _, stalled in self._pairs]
        for stalled in states:
            stalled['seen'] = False
            for way in ways:
                stalled[way] = True
        deadline = time.monotonic() + 5
        while not all(stalled['seen'] for stalled in states):
            assert time.monotonic() < deadline, 'the proxy does not stall'
            time.sleep(0.01)

    def cut(self):
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, server, _ in pairs:
            for sock in (client, server):
                # RST, not FIN: what the proxy holds is dropped
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack('ii', 1, 0))
                    sock.close()

    def close(self):
        self._closed = True
        self._listener.close()
        self.cut()


def connection(vhost_name, port=MAIN_PORT):
    conn = amqp.Connection(host='%s:%d' % (HOST, port), userid='guest',
                           password='guest', virtual_host=vhost_name)
    conn.connect()
    return conn


class Collector:
    """A queue of the test's own, bound before anything is published."""

    def __init__(self, vhost_name, exchange, binding, port=MAIN_PORT,
                 durable=False, queue=None):
        """``durable``: exchange, queue and binding survive a broker
        restart, and ``queue`` names such a queue to read it again."""
        self.conn = connection(vhost_name, port)
        self.channel = self.conn.channel()
        self.channel.exchange_declare(exchange, 'topic', durable=durable,
                                      auto_delete=False)
        self.queue = queue or 'collect-%s' % uuid.uuid4().hex[:8]
        self.channel.queue_declare(self.queue, durable=durable,
                                   auto_delete=False, exclusive=not durable)
        self.channel.queue_bind(self.queue, exchange, binding)

    def take(self, count, timeout=30):
        """Exactly the first ``count`` messages, waiting up to timeout."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            message = self.channel.basic_get(self.queue, no_ack=True)
            if message is None:
                time.sleep(0.05)
            else:
                got.append(message)
        return got

    def rest(self, settle=1.0):
        """Whatever else arrives within ``settle`` seconds."""
        time.sleep(settle)
        got = []
        while True:
            message = self.channel.basic_get(self.queue, no_ack=True)
            if message is None:
                return got
            got.append(message)

    def close(self):
        with contextlib.suppress(Exception):
            self.conn.close()


def read_queue(vhost_name, queue, count, timeout=30, port=MAIN_PORT):
    """Take the first ``count`` messages of a queue the test did not make,
    waiting up to ``timeout``; fewer if no more come."""
    conn = connection(vhost_name, port)
    try:
        channel = conn.channel()
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            message = channel.basic_get(queue, no_ack=True)
            if message is None:
                time.sleep(0.05)
            else:
                got.append(message)
        return got
    finally:
        conn.close()


def queue_names(vhost_name, node=None):
    return set(ctl('list_queues', '-p', vhost_name, '--no-table-headers',
                   'name', node=node).stdout.split())


def queues(vhost_name, run_ctl=ctl):
    """name -> (messages, durable, type, arguments) of the vhost;
    ``run_ctl``: rabbitmqctl of the broker (a node's ``ctl``)."""
    rows = run_ctl('list_queues', '-p', vhost_name, '--formatter', 'json',
                   'name', 'messages', 'durable', 'type', 'arguments').stdout
    # arguments come as [key, value] or [key, type, value], or as a mapping
    return {q['name']: (q['messages'], q['durable'], q['type'], (
        {item[0]: item[-1] for item in q['arguments']}
        if isinstance(q['arguments'], list) else q['arguments']))
        for q in json.loads(rows)}


def queue_depth(vhost_name, queue, port=MAIN_PORT):
    conn = connection(vhost_name, port)
    try:
        return conn.channel().queue_declare(queue, passive=True).message_count
    finally:
        conn.close()


class ServiceContext(oslo_context.RequestContext):
    """A request context as services sent it before oslo.messaging
    redacted contexts itself (and as any still can): token included."""

    def redacted_copy(self, **kwargs):
        return self


def notification_transport(transport_url, exchange, durable):
    """An oslo.messaging notification transport on ``exchange``, with
    [oslo_messaging_rabbit] amqp_durable_queues = ``durable``."""
    conf = cfg.ConfigOpts()
    with tempfile.NamedTemporaryFile('w', suffix='.conf') as conf_file:
        # the driver registers its options when it is made: a file
        conf_file.write('[oslo_messaging_rabbit]\namqp_durable_queues = '
                        '%s\n' % str(durable).lower())
        conf_file.flush()
        conf(['--config-file', conf_file.name], project='translator-tests')
    # The driver reads the exchange when it is made, from this default.
    oslo_messaging.set_transport_defaults(control_exchange=exchange)
    return oslo_messaging.get_notification_transport(conf, url=transport_url)


class Producer:
    """Legacy notifications exactly as a service sends them: an
    oslo.messaging Notifier with the messagingv2 driver, with a request
    context whose secrets the relay must mask."""

    def __init__(self, transport_url, exchange, topic='notifications',
                 publisher_id='compute.host1', durable=False):
        """``durable``: [oslo_messaging_rabbit] amqp_durable_queues, what
        a service needs where the broker denies transient queues."""
        self.transport = notification_transport(transport_url, exchange,
                                                durable)
        self.notifier = oslo_messaging.Notifier(
            self.transport, publisher_id=publisher_id, driver='messagingv2',
            topics=[topic], retry=3)
        self.context = ServiceContext(
            auth_token='secret-token-value', user_id='u1',
            project_id='p1', request_id='req-7')

    def send(self, event_type, payload, priority='info'):
        getattr(self.notifier, priority)(self.context, event_type, payload)

    def close(self):
        self.transport.cleanup()


def publish_raw(vhost_name, exchange, routing_key, *bodies, port=MAIN_PORT):
    """Bodies as they are, such as malformed input no Notifier sends; the
    exchange as it is, or made as a Notifier without durable queues does."""
    conn = connection(vhost_name, port)
    try:
        channel = conn.channel()
        try:
            channel.exchange_declare(exchange, 'topic', passive=True)
        except amqp.exceptions.NotFound:
            channel = conn.channel()
            channel.exchange_declare(exchange, 'topic', durable=False,
                                     auto_delete=False)
        for body in bodies:
            channel.basic_publish(amqp.Message(body), exchange=exchange,
                                  routing_key=routing_key)
    finally:
        conn.close()


class RelayProcess:
    """``translator relay`` in a subprocess, with its own config file."""

    def __init__(self, tmp_path, command=(sys.executable, '-m',
                                          'translator.cli'), **options):
        """``command``: the translator command to run, by default the
        checkout's."""
        self.command = list(command)
        self.tmp = pathlib.Path(tmp_path)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        options.setdefault('metrics', {}).update(host=HOST, port=self.port)
        self.config = self.tmp / 'translator.conf'
        self.write_config(options)
        self.log = self.tmp / 'relay.log'
        self.proc = None

    def write_config(self, options):
        lines = []
        for group, values in options.items():
            lines.append('[%s]' % group)
            lines += ['%s = %s' % item for item in values.items()]
        self.config.write_text('\n'.join(lines) + '\n')

    def start(self, ready=True):
        self._log = open(self.log, 'ab')
        self.proc = subprocess.Popen(
            # the order the README documents: options after the command
            self.command + ['relay', '--config-file', str(self.config)],
            stdout=self._log,
            stderr=subprocess.STDOUT)
        if ready:
            self.wait_ready()
        return self

    def get(self, path):
        try:
            with urllib.request.urlopen('http://%s:%d%s' % (
                    HOST, self.port, path), timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('relay exited %s:\n%s' % (
                    self.proc.returncode, self.log.read_text()))
            with contextlib.suppress(OSError):
                if self.get('/readyz')[0] == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError('relay not ready:\n' + self.log.read_text())

    def metric(self, name, **labels):
        """The value of one sample of /metrics, 0.0 if absent."""
        _, text = self.get('/metrics')
        want = name + ('{%s}' % ','.join('%s="%s"' % kv for kv in sorted(
            labels.items())) if labels else '')
        for line in text.splitlines():
            if line.startswith('#'):
                continue
            key, _, value = line.rpartition(' ')
            if _normalise_labels(key) == want:
                return float(value)
        return 0.0

    def signal(self, signum):
        self.proc.send_signal(signum)

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._log.close()
        return self.proc.returncode if self.proc else None


def _normalise_labels(key):
    name, brace, labels = key.partition('{')
    if not brace:
        return key
    pairs = sorted(p for p in labels.rstrip('}').split(',') if p)
    return '%s{%s}' % (name, ','.join(pairs))
