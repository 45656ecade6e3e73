"""RabbitMQ 4 nodes of the tests' own, beside the local RabbitMQ 3.10.

They run from the Debian 13 root that ``.ci/rabbitmq4`` builds once per
machine (``rabbitmq-server`` 4.0.x), with every deprecated feature that an
AMQP 0.9.1 client can touch denied (``DENY``): the bus tests run against
them to show the relay works on a RabbitMQ that has dropped those features.

``Rabbit4Broker`` has the public face of ``PrivateBroker`` (start, launch,
wait, boot, url, stop, stop_app, start_app, port, node) and ``ctl`` for
rabbitmqctl; ``Rabbit4Cluster`` is three of them joined with join_cluster.

How a node is isolated from the host's RabbitMQ:

- its own node name (``translator-test4-<pid>-<n>@localhost``), AMQP port
  and distribution port, as a PrivateBroker;
- its own epmd (``Epmd``) on a port of its own (``ERL_EPMD_PORT``), run
  from the root: the host's epmd and its 3.10 node never see it; the nodes
  of a cluster share one;
- it runs chrooted, as the root's rabbitmq user, in a mount namespace of
  its own where /proc and /dev are mounted into the root, /tmp of the root
  is a tmpfs of the node's own, and its directory (``base``) and the
  host directories it must read (``paths``: the certificates a TLS
  listener names) appear at their host paths. The mounts exist only in that
  namespace: the host never sees them, and they vanish with the node's last
  process, however it ends (stop, crash, kill -9 of the test run). So
  nothing is ever left mounted, and ``base`` may be below pytest's
  tmp_path, which the rabbitmq user could not enter from the host's side.
  rabbitmqctl runs the same way (a namespace per call, a few ms).

Every process started from the root carries ``OWNER_VARIABLE`` = the pid of
the Python process that started it: what remains of a test run that was
killed (its owner is gone) is killed when the next node or epmd starts,
and at exit a test process kills what it left running.
"""

import atexit
import contextlib
import itertools
import os
import pathlib
import secrets
import shlex
import shutil
import signal
import subprocess
import time
import uuid

from tests import cluster as cluster_module
from tests.broker import HOST, free_port, wait_port

CHECKOUT = pathlib.Path(__file__).resolve().parent.parent
BUILD = CHECKOUT / '.ci' / 'rabbitmq4'
ROOT = pathlib.Path(os.environ.get('TRANSLATOR_RABBITMQ4_ROOT',
                                   '/var/cache/translator/rabbitmq4'))
#: What .ci/rabbitmq4 writes last: the root is complete.
MARKER = '.translator-rabbitmq4-built'
NODE_PREFIX = 'translator-test4-'
OWNER_VARIABLE = 'TRANSLATOR_RABBIT4_OWNER'
#: The deprecated features of RabbitMQ 4.0 (rabbitmqctl
#: list_deprecated_features) that an AMQP 0.9.1 client or the tests'
#: cluster operations can use, all denied. Not denied:
#: classic_queue_mirroring (removed in 4.0: always denied) and
#: management_metrics_collection (only with the management plugin, which
#: the tests do not run; denying it would only blank the UI's statistics).
DENY = '\n'.join([
    # queue.declare durable=false exclusive=false (oslo's default queues
    # without amqp_durable_queues): 541 INTERNAL_ERROR
    'deprecated_features.permit.transient_nonexcl_queues = false',
    # basic.qos global=true: still answered qos-ok, but the limit then
    # applies per consumer, as with global=false; the node logs an error
    'deprecated_features.permit.global_qos = false',
    # the x-queue-master-locator queue argument and policy key
    'deprecated_features.permit.queue_master_locator = false',
    # join_cluster --ram, change_cluster_node_type ram
    'deprecated_features.permit.ram_node_type = false',
    # AMQP 1.0 v1 address formats: not AMQP 0.9.1, but nothing here needs
    # them either
    'deprecated_features.permit.amqp_address_v1 = false',
    ''])

_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
_nodes = itertools.count()
#: One cookie for every node a test process starts (a cluster needs them
#: equal); rabbitmqctl reads it from the node's base.
_COOKIE = secrets.token_hex(20).upper()


def available():
    """Whether the root is built and this process may use it (root)."""
    return os.geteuid() == 0 and (ROOT / MARKER).is_file()


_checked = []


def ensure_root():
    """The root, built first if it is not, or not by the checkout's recipe
    (under a minute, once per machine): .ci/rabbitmq4 runs once per
    process, and only checks (a few ms) when the root is built. Raises if
    the build fails."""
    if not _checked:
        result = subprocess.run([str(BUILD)], capture_output=True,
                                text=True, timeout=1800, check=False,
                                env=dict(os.environ,
                                         TRANSLATOR_RABBITMQ4_ROOT=str(ROOT)))
        if result.returncode:
            raise RuntimeError('%s failed (%d):\n%s' % (
                BUILD, result.returncode, result.stderr))
        _checked.append(ROOT)
    return ROOT


def version():
    """The root's rabbitmq-server package version (4.0.5-6+deb13u2)."""
    for line in (ROOT / MARKER).read_text().splitlines():
        if line.startswith('rabbitmq-server '):
            return line.split(' ', 1)[1]
    return None


def _rabbitmq_ids():
    """uid and gid of the rabbitmq user of the root (not the host's)."""
    for line in (ROOT / 'etc' / 'passwd').read_text().splitlines():
        fields = line.split(':')
        if fields[0] == 'rabbitmq':
            return int(fields[2]), int(fields[3])
    raise RuntimeError('no rabbitmq user in %s: rebuild it' % ROOT)


def _plugins_dir():
    """The package's plugins directory, in the node's view (the default
    search path names /usr/lib/rabbitmq/plugins too, which does not exist
    and which rabbitmq-plugins refuses)."""
    found = sorted((ROOT / 'usr/lib/rabbitmq/lib').glob(
        'rabbitmq_server-*/plugins'))
    if not found:
        raise RuntimeError('no RabbitMQ in %s: rebuild it' % ROOT)
    return '/' + str(found[-1].relative_to(ROOT))


def _marked_processes():
    """(pid, environment) of the processes running from the root that carry
    the owner mark."""
    root = str(ROOT)
    mark = OWNER_VARIABLE.encode() + b'='
    for proc in pathlib.Path('/proc').iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.readlink(proc / 'root') != root:
                continue
            environ = (proc / 'environ').read_bytes().split(b'\0')
        except OSError:  # gone meanwhile, or a kernel thread
            continue
        if any(item.startswith(mark) for item in environ):
            yield int(proc.name), dict(
                item.decode(errors='replace').split('=', 1)
                for item in environ if b'=' in item)


def _kill(pids):
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    for pid in pids:
        while os.path.exists('/proc/%d' % pid) and _state(pid) != 'Z' \
                and time.monotonic() < deadline:
            time.sleep(0.02)


def _state(pid):
    with contextlib.suppress(OSError):
        stat = pathlib.Path('/proc/%d/stat' % pid).read_text()
        return stat.rpartition(')')[2].split()[0]
    return None


def reap_orphans():
    """Kill what test runs that are gone left running from the root."""
    _kill([pid for pid, env in _marked_processes()
           if not os.path.exists('/proc/%s' % env[OWNER_VARIABLE])])


@atexit.register
def _kill_leftovers():
    """What this process started and did not stop (a fixture that never
    got to its teardown): killed, not left behind."""
    if os.path.isdir(ROOT):
        _kill([pid for pid, env in _marked_processes()
               if env[OWNER_VARIABLE] == str(os.getpid())])


def _in_root(command, env, paths=()):
    """argv that runs ``command`` chrooted in the root, in a mount namespace
    of its own with /proc, /dev, a private /tmp and ``paths`` (host
    directories, at the same path) mounted; as the rabbitmq user."""
    root = str(ROOT)
    script = ['set -e',
              'mount -t proc proc %s/proc' % shlex.quote(root),
              'mount --rbind /dev %s/dev' % shlex.quote(root),
              'mount -t tmpfs -o mode=1777,size=64m tmpfs %s/tmp'
              % shlex.quote(root)]
    for path in paths:
        inside = shlex.quote(root + os.path.abspath(path))
        script += ['mkdir -p %s' % inside,
                   'mount --bind %s %s' % (shlex.quote(str(path)), inside)]
    uid, gid = _rabbitmq_ids()
    script.append('exec chroot --userspec=%d:%d --groups=%d %s %s' % (
        uid, gid, gid, shlex.quote(root),
        ' '.join(shlex.quote(arg) for arg in command)))
    return ['unshare', '--mount', '--propagation', 'private', '--',
            'sh', '-c', '\n'.join(script)], dict(env, PATH=_PATH)


class Epmd:
    """An epmd of the RabbitMQ 4 nodes' own on a port of its own, from the
    root (OTP 27's), listening on 127.0.0.1 only."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.proc = None

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            return self
        reap_orphans()
        uid, gid = _rabbitmq_ids()
        # No mounts needed: a plain chroot.
        self.proc = subprocess.Popen(
            ['chroot', '--userspec=%d:%d' % (uid, gid), str(ROOT),
             '/usr/bin/epmd', '-address', HOST, '-port', str(self.port)],
            env={'PATH': _PATH, OWNER_VARIABLE: str(os.getpid())},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        wait_port(self.port, timeout=10, alive=self.proc)
        return self

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)


class ToolError(subprocess.CalledProcessError):
    """A CLI tool failed: what it said is in the message, not only in
    ``stderr``."""

    def __init__(self, name, args, node, result):
        super().__init__(result.returncode, [name] + list(args),
                         result.stdout, result.stderr)
        self.node = node

    def __str__(self):
        return '%s against %s exited %d:\n%s%s' % (
            ' '.join(self.cmd), self.node, self.returncode, self.stderr,
            self.stdout)


class Rabbit4Broker:
    """A RabbitMQ 4 node of the tests' own, which fault tests may stop.

    ``config``: lines of its rabbitmq.conf after ``deny`` (a TLS listener,
    say); ``plugins``: those to enable; ``paths``: host directories the
    node must read (the certificates ``config`` names), seen at their host
    paths (a mount point is made for each in the root: below /tmp in the
    node's own /tmp, elsewhere an empty directory that stays in the root);
    ``deny``: the first lines of rabbitmq.conf (``DENY``; '' runs the node
    with RabbitMQ 4's defaults); ``epmd``: an ``Epmd`` shared with the
    other nodes of a cluster (started and stopped by its owner), else the
    node runs one of its own.
    ``base`` is the node's directory (data, logs, configuration), removed
    and made again by ``launch``; below pytest's tmp_path is fine.
    """

    def __init__(self, base, config='', plugins=(), paths=(), epmd=None,
                 deny=DENY):
        self.base = pathlib.Path(base).resolve()
        self.config = config
        self.plugins = plugins
        self.paths = [pathlib.Path(path).resolve() for path in paths]
        self.deny = deny
        self.node = '%s%d-%d@localhost' % (NODE_PREFIX, os.getpid(),
                                           next(_nodes))
        self.port = free_port()
        self.dist_port = free_port()
        self._own_epmd = epmd is None
        self.epmd = epmd or Epmd()
        self.proc = None
        self._output = None
        self.log = self.base / 'log' / (self.node + '.log')
        self.output = self.base / 'log' / 'output.log'

    def _env(self):
        """What the node and its CLI tools share."""
        return {'HOME': str(self.base), 'LANG': 'C.UTF-8',
                'ERL_EPMD_PORT': str(self.epmd.port),
                'RABBITMQ_ENABLED_PLUGINS_FILE': str(self.base / 'plugins'),
                'RABBITMQ_PLUGINS_DIR': _plugins_dir(),
                OWNER_VARIABLE: str(os.getpid())}

    @property
    def env(self):
        """The node's environment, in its own view (paths as on the
        host)."""
        return dict(
            self._env(), RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS=HOST,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.base / 'mnesia'),
            RABBITMQ_LOG_BASE=str(self.base / 'log'),
            RABBITMQ_CONFIG_FILE=str(self.base / 'rabbitmq'),
            # distribution on the loopback only, as the AMQP port
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                '-kernel inet_dist_use_interface {127,0,0,1}'))

    def start(self):
        return self.launch().wait()

    def launch(self):
        """Start the node without waiting for it: nodes start together."""
        ensure_root()
        reap_orphans()
        if self.base.exists():
            shutil.rmtree(self.base)
        uid, gid = _rabbitmq_ids()
        for directory in (self.base, self.base / 'mnesia',
                          self.base / 'log'):
            directory.mkdir(parents=True, exist_ok=True)
            os.chown(directory, uid, gid)
        os.chmod(self.base, 0o755)
        files = {'rabbitmq.conf': self.deny + self.config + '\n',
                 'plugins': '[%s].\n' % ','.join(self.plugins),
                 '.erlang.cookie': _COOKIE}
        for name, text in files.items():
            path = self.base / name
            path.write_text(text)
            os.chown(path, uid, gid)
        os.chmod(self.base / '.erlang.cookie', 0o400)
        self.boot()
        return self

    def boot(self):
        """Start the node's Erlang VM again on the data it has (after a
        stop or a kill)."""
        if self._own_epmd:
            self.epmd.start()  # again after a stop; no-op if it runs
        if self.proc is not None:
            self.proc.poll()  # the one before, reaped
        if self._output is not None:
            self._output.close()
        self._output = open(self.output, 'ab')
        self._output_from = self._output.tell()
        argv, env = _in_root(['/usr/lib/rabbitmq/bin/rabbitmq-server'],
                             self.env, paths=[self.base] + self.paths)
        self.proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=self._output,
            stderr=subprocess.STDOUT, start_new_session=True)

    #: What rabbitmq-server prints when the node has started, plugins and
    #: listeners included: waiting for it, not for rabbitmqctl
    #: await_startup, saves the CLI's start (0.6 s of the 3 s).
    STARTED = b'Starting broker... completed with'

    def wait(self, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            with open(self.output, 'rb') as output:
                output.seek(self._output_from)
                if self.STARTED in output.read():
                    break
            if self.proc.poll() is not None:
                problem = 'exited %s' % self.proc.returncode
            elif time.monotonic() > deadline:
                problem = 'not started after %d s' % timeout
            else:
                time.sleep(0.05)
                continue
            raise RuntimeError('RabbitMQ 4 node %s %s; its output:\n%s' % (
                self.node, problem, self.tail()))
        wait_port(self.port, timeout=10, alive=self.proc)
        return self

    def tail(self, lines=40):
        """The last lines of the node's output, for error messages."""
        with contextlib.suppress(OSError):
            return '\n'.join(
                self.output.read_text(errors='replace').splitlines()[-lines:])
        return ''

    def url(self, vhost=''):
        return 'rabbit://guest:guest@%s:%d/%s' % (HOST, self.port, vhost)

    def tool(self, name, *args, check=True, timeout=120):
        """A CLI tool of the root (rabbitmqctl, rabbitmq-diagnostics,
        rabbitmq-queues, rabbitmq-plugins) against this node."""
        argv, env = _in_root(
            ['/usr/lib/rabbitmq/bin/' + name, '-q', '-n', self.node]
            + list(args), self._env(), paths=[self.base])
        result = subprocess.run(argv, env=env, capture_output=True,
                                text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode:
            raise ToolError(name, args, self.node, result)
        return result

    def ctl(self, *args, check=True, timeout=120):
        return self.tool('rabbitmqctl', *args, check=check, timeout=timeout)

    @contextlib.contextmanager
    def vhost(self):
        """A fresh virtual host on this node, as the tests' vhost helper
        makes one on the local RabbitMQ."""
        name = 'translator-test-%s' % uuid.uuid4().hex[:8]
        self.ctl('add_vhost', name)
        self.ctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*')
        try:
            yield name
        finally:
            self.ctl('delete_vhost', name, check=False)

    def pid(self):
        """The pid of the node's Erlang VM (beam.smp), None if it is not
        running."""
        for pid, env in _marked_processes():
            if env.get('RABBITMQ_NODENAME') == self.node and \
                    env.get(OWNER_VARIABLE) == str(os.getpid()) and \
                    _comm(pid) == 'beam.smp':
                return pid
        return None

    def stop_app(self):
        self.ctl('stop_app')

    def start_app(self):
        # A node joining a cluster of 4.0.5 sometimes fails its boot-time
        # check that no transient non-exclusive queue exists, while none
        # does (its metadata store is not yet in sync; see
        # rabbitmq/rabbitmq-server#12840 and #17163): starting it again
        # passes.
        for attempt in range(3):
            try:
                self.ctl('start_app')
                break
            except ToolError as exc:
                if attempt == 2 or 'failed_to_deny_deprecated_features' \
                        not in str(exc):
                    raise
        wait_port(self.port)

    def stop(self, timeout=60):
        """Stop the node and its epmd if it has its own; kill what does not
        stop in time. Its mounts go with it."""
        if self.proc is not None and self.proc.poll() is None:
            # SIGTERM to rabbitmq-server: it stops the node as rabbitmqctl
            # stop does, without a CLI to start (1 s, not 4).
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever of the node is left (or a VM that another boot made).
        _kill([pid for pid, env in _marked_processes()
               if env.get('RABBITMQ_NODENAME') == self.node])
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        if self._output is not None:
            self._output.close()
            self._output = None
        if self._own_epmd:
            self.epmd.stop()


def _comm(pid):
    with contextlib.suppress(OSError):
        return pathlib.Path('/proc/%d/comm' % pid).read_text().strip()
    return None


class Cluster(cluster_module.Cluster):
    """Three (``size``) RabbitMQ 4 nodes of one cluster, sharing one
    epmd."""

    def __init__(self, size=3, config='', plugins=()):
        self.epmd = Epmd()
        super().__init__(size, lambda base: Rabbit4Broker(
            base, config=config, plugins=plugins, epmd=self.epmd))

    def start(self):
        ensure_root()
        self.epmd.start()
        return super().start()

    def stop(self):
        super().stop()
        self.epmd.stop()
