"""The relay benchmark: the translator beside its baselines, one run.

On the [source] bus, with the same corpus (the golden legacy samples,
Nova and Trove mixed) and the same prefetch, it measures:

(s) RabbitMQ's Shovel, inside the broker (the anchor),
(p) a bare py-amqp consume-and-republish loop, acknowledging after the
    confirms, pipelined (the target: c >= 0.85 p),
(a) a bare kombu consume-and-republish loop without confirms (the ceiling),
(b) an oslo.messaging notification listener republishing with a Notifier,
(c) the translator relay, every guarantee on (confirms before acks),
(d), (e) the relay on Nova's instance events alone, legacy to versioned
    and, of the versioned ones that makes, versioned to legacy,

then the end-to-end delay of (c) at a fixed offered rate of half its peak,
and its peak RSS. Each throughput run preloads the messages into the pool
queue and times the output from its first message to its last, so
start-up is not counted. (s) and (c) run in alternated pairs: on a shared
machine their rates drift by a fifth and more from run to run, and c/s is
the median of the pairs' ratios.
"""

import datetime
import json
import multiprocessing
import os
import pathlib
import platform
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

import amqp
import orjson

from translator import envelope
from translator.bench import baselines
from translator.bench import load_corpus
from translator.bench import request_context
from translator.bench import with_context
from translator import secrets
from translator import settings
from translator.transports.rabbit import connection
from translator.transports.rabbit import frames
from translator.transports.rabbit import url as urls

_POLL = 0.02
#: The properties of a legacy notification as oslo.messaging (kombu) sends
#: it: persistent, so the broker writes it to disk in a durable queue.
AS_SENT = {'content_type': 'application/json', 'content_encoding': 'utf-8',
           'delivery_mode': 2}


class Bench:
    """Names of one run on the bus, and the connection that feeds it."""

    def __init__(self, endpoint):
        self.endpoint = endpoint  # with TLS, as [source] says
        self.url = endpoint.url
        self.options = endpoint.options
        self.conn = connection.connect(endpoint, 0, 'bench')
        self.channel = self.conn.channel()
        run = uuid.uuid4().hex[:8]
        self.exchange = 'bench-%s' % run
        self.pool = 'bench-pool-%s' % run
        self.dead_letters = 'bench-dead-letters-%s' % run
        # The output topic is the run's own. The sink is the queue an
        # oslo.messaging Notifier and the relay declare for it (all the
        # outputs are INFO), so that every variant routes each output to
        # one queue, as a consumer of that default queue would read it.
        self.topic = 'bench-%s-versioned' % run
        self.sink = self.topic + '.info'
        self.channel.exchange_declare(self.exchange, 'topic', durable=True,
                                      auto_delete=False)

    def _delete_queues(self):
        # With those an oslo.messaging Notifier declares for the topic, so
        # that no later variant routes its output to them too.
        for queue in [self.pool, self.dead_letters] + [
                '%s.%s' % (self.topic, priority) for priority in (
                    'audit', 'debug', 'info', 'warn', 'error', 'critical',
                    'sample')]:
            self.channel.queue_delete(queue)

    def fresh_queues(self):
        self._delete_queues()
        for queue in (self.pool, self.sink):
            self.channel.queue_declare(queue, durable=True,
                                       auto_delete=False)
        self.channel.queue_bind(self.pool, self.exchange, 'notifications.*')
        self.channel.queue_bind(self.sink, self.exchange, self.topic + '.*')

    def depth(self, queue):
        return self.channel.queue_declare(queue, passive=True).message_count

    def preload(self, bodies, count, wait=True):
        for i in range(count):
            self.channel.basic_publish(
                amqp.Message(bodies[i % len(bodies)](), **AS_SENT),
                exchange=self.exchange, routing_key='notifications.info')
        while wait and self.depth(self.pool) < count:
            time.sleep(_POLL)

    def time_outputs(self, expected, relays):
        """msg/s from the first output to the expected count, and the CPU
        the relaying processes and the broker took meanwhile.

        Fails at once if a relaying process dies, and after a deadline
        that allows 200 msg/s: a broken run must not look like a slow one.
        """
        deadline = time.monotonic() + 60 + expected / 200

        def check(done):
            gone = [pid for pid in relays if not _running(pid)]
            if gone:
                raise RuntimeError('relaying process %s exited' % gone)
            if time.monotonic() > deadline:
                raise TimeoutError('%d of %d outputs' % (done, expected))

        while self.depth(self.sink) == 0:
            check(0)
            time.sleep(_POLL)
        cpu = _CPU({'relay': relays, 'broker': _broker_pids(self.url)})
        first = self.depth(self.sink)
        while (done := self.depth(self.sink)) < expected:
            check(done)
            time.sleep(_POLL)
        return (expected - first) / cpu.elapsed(), cpu.shares()

    def close(self):
        self._delete_queues()
        self.channel.exchange_delete(self.exchange)
        self.conn.close()


def _legacy_bodies(corpus, timestamp=None):
    """Makers of wire bodies as services send them: a request context,
    a fresh id, request id and timestamp each call."""
    context = request_context()
    makers = []
    for _, raw in corpus:
        message = envelope.unwrap(orjson.loads(raw))

        def make(message=message):
            # oslo.messaging listeners drop repeated _unique_ids.
            fresh = dict(with_context(message, context),
                         message_id=str(uuid.uuid4()),
                         timestamp=timestamp or _now_text(),
                         _unique_id=uuid.uuid4().hex)
            # as a Notifier sends it; some samples are bare dicts
            fresh.setdefault('priority', envelope.DEFAULT_PRIORITY)
            fresh.pop('metadata', None)
            return envelope.wire_body(fresh)
        makers.append(make)
    return makers


def _now_text():
    """Now, as oslo.messaging writes a timestamp (always 26 characters)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(
        tzinfo=None).isoformat(' ', 'microseconds')


#: Stands for the send time in bodies rendered before the delay run, so
#: that sending one costs a replace rather than two JSON encodings: on two
#: cores the harness must not take the CPU the relay is measured on.
_PLACEHOLDER = '0000-00-00 00:00:00.000000'
_TIMESTAMP_RE = re.compile(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}')


def _shovel(bench, count, bodies, prefetch, node):
    """RabbitMQ's own relay, the anchor: a dynamic shovel inside the
    broker that acknowledges each message once the broker confirmed its
    copy (ack-mode on-confirm). (rate, CPU) or (None, why not)."""
    bench.fresh_queues()
    bench.preload(bodies, count)
    vhost = urls.parse(bench.url).virtual_host or '/'
    # amqp:// without a host: a direct connection inside the node
    uri = 'amqp:///' + urllib.parse.quote(vhost, safe='')
    ctl = ['rabbitmqctl', '-q'] + (['-n', node] if node else [])
    name = bench.pool + '-shovel'
    result = subprocess.run(ctl + [
        'set_parameter', '-p', vhost, 'shovel', name, json.dumps({
            'src-protocol': 'amqp091', 'src-uri': uri,
            'src-queue': bench.pool, 'src-prefetch-count': prefetch,
            'dest-protocol': 'amqp091', 'dest-uri': uri,
            'dest-exchange': bench.exchange,
            'dest-exchange-key': bench.topic + '.info',
            'ack-mode': 'on-confirm'})],
        capture_output=True, text=True, timeout=120)
    if result.returncode:
        why = (result.stderr or result.stdout).strip().splitlines()
        return None, why[-1] if why else 'rabbitmqctl failed'
    try:
        return bench.time_outputs(count, []), None
    finally:
        subprocess.run(ctl + ['clear_parameter', '-p', vhost, 'shovel',
                              name], capture_output=True, timeout=120)


def _baseline(bench, target, count, bodies, prefetch):
    bench.fresh_queues()
    bench.preload(bodies, count)
    stop = multiprocessing.get_context('spawn').Event()
    process = multiprocessing.get_context('spawn').Process(
        target=target, args=(bench.endpoint, bench.exchange,
                             bench.pool, bench.topic, prefetch, stop))
    process.start()
    try:
        return bench.time_outputs(count, [process.pid])
    finally:
        stop.set()
        process.join(30)
        if process.is_alive():
            process.kill()


#: The relay's topics in each direction: where the benchmark puts what it
#: reads (its preload topic, ``notifications``), where it writes (the
#: sink's), the format it is to write. Forward, the stream is legacy only:
#: no services' versioned notifications are read (nothing to pair).
_DIRECTIONS = {
    'forward': ('topics = notifications\nversioned_topics =\n',
                'versioned_topic = %s\n', 'versioned'),
    # as forward, but reading versioned notifications too (where none
    # come): the switchboard pairs as for the reverse direction
    'paired': ('topics = notifications\nversioned_topics = %s-in\n',
               'versioned_topic = %s\n', 'versioned'),
    'reverse': ('topics = %s-legacy-in\nversioned_topics = notifications\n',
                'legacy_topic = %s\nversioned_topic = %s-unused\n',
                'unversioned'),
}


class RelayRun:
    """The translator relay as operators run it: its own process."""

    def __init__(self, conf, bench, workdir, direction='forward'):
        source, target, fmt = _DIRECTIONS[direction]
        self.config = pathlib.Path(workdir) / 'bench.conf'
        self.config.write_text(
            '[source]\ntransport_url = %s\nexchanges = %s\npool = %s\n%s%s'
            '[target]\n%sdead_letter_queue = %s\n'
            '[notifications]\nnotification_format = %s\n'
            '[relay]\nmappings_dir = %s\nprefetch = %d\nbatch_size = %d\n'
            '[legacy]\n%s'
            '[metrics]\nport = 0\n' % (
                bench.url, bench.exchange, bench.pool,
                bench.options.config_lines(),
                source.replace('%s', bench.topic),
                target.replace('%s', bench.topic), bench.dead_letters, fmt,
                conf.mappings or conf.relay.mappings_dir,
                conf.relay.prefetch, conf.relay.batch_size,
                ''.join('%s = %s\n' % (name, conf.legacy[name])
                        for name in conf.legacy)))
        self.log = open(pathlib.Path(workdir) / 'relay.log', 'wb')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'translator.cli', '--config-file',
             str(self.config), 'relay'], stdout=self.log,
            stderr=subprocess.STDOUT)

    def status(self, field):
        """A field of /proc/<pid>/status in MiB (VmRSS, VmHWM)."""
        with open('/proc/%d/status' % self.proc.pid) as status:
            for line in status:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) / 1024
        raise KeyError(field)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()


def _relay_throughput(conf, bench, count, bodies, workdir, replicas=1,
                      direction='forward'):
    """(msg/s, CPU of the relays and the broker) of ``replicas`` relays
    sharing the pool, and the first's peak RSS."""
    bench.fresh_queues()
    bench.preload(bodies, count)
    relays = []
    for i in range(replicas):
        replica_dir = pathlib.Path(workdir) / ('replica-%d' % i)
        replica_dir.mkdir(exist_ok=True)
        relays.append(RelayRun(conf, bench, replica_dir, direction))
    try:
        return (bench.time_outputs(count, [relay.proc.pid
                                           for relay in relays]),
                relays[0].status('VmHWM'))
    finally:
        for relay in relays:
            relay.stop()


def _delays(conf, bench, rate, seconds, corpus, workdir):
    """End-to-end delays (s) at a fixed offered rate, read at the sink:
    from the legacy timestamp, set when sent, to the versioned message's
    arrival (translated notifications keep the legacy timestamp); and the
    CPU each process took meanwhile, in % of one core."""
    bench.fresh_queues()
    relay = RelayRun(conf, bench, workdir)
    total = int(rate * seconds)
    makers = _legacy_bodies(corpus, timestamp=_PLACEHOLDER)
    bodies = [makers[i % len(makers)]() for i in range(total)]
    spawn = multiprocessing.get_context('spawn')
    ready, stop = spawn.Event(), spawn.Event()
    results, sink_end = spawn.Pipe(duplex=False)
    sink = spawn.Process(target=_sink, args=(bench.endpoint,
                                             bench.sink, total,
                                             ready, stop, sink_end))
    sink.start()
    try:
        ready.wait(30)
        time.sleep(2)  # the relay connects
        usage = _CPU({'relay': [relay.proc.pid],
                      'broker': _broker_pids(bench.url),
                      'producer': [os.getpid()], 'sink': [sink.pid]})
        _produce(bench, bodies, rate)
        cpu = usage.shares()
        if not results.poll(30):
            stop.set()  # it reports what arrived so far
        delays = results.recv() if results.poll(10) else []
    finally:
        stop.set()
        sink.join(10)
        relay.stop()
    return delays, total, cpu


#: The producer sends what is due every millisecond, in one write: one
#: system call and one wake-up per message would take the CPU the relay
#: is measured on.
_TICK = 0.001


def _produce(bench, bodies, rate):
    writes = frames.BatchedWrites()
    conn = connection.connect(bench.endpoint, 0, 'bench-producer',
                              frame_writer=writes.frame_writer)
    channel = conn.channel()
    placeholder = _PLACEHOLDER.encode()
    start = time.monotonic()
    sent = 0
    while sent < len(bodies):
        due = min(len(bodies), 1 + int((time.monotonic() - start) * rate))
        stamp = _now_text().encode()
        writes.hold()
        for body in bodies[sent:due]:
            channel.basic_publish(
                amqp.Message(body.replace(placeholder, stamp), **AS_SENT),
                exchange=bench.exchange, routing_key='notifications.info')
        writes.flush()
        sent = due
        time.sleep(max(_TICK, start + sent / rate - time.monotonic()))
    conn.close()


def _sink(endpoint, queue, total, ready, stop, results):
    """Sorted delays of the messages arriving on ``queue``, sent to
    ``results``. A process of its own: in the producer's, each arrival
    would wait for the producer's turn at the interpreter lock."""
    conn = connection.connect(endpoint, 0, 'bench-sink')
    reads = frames.ChunkedReads(conn.transport)
    arrivals = []

    def received(message):
        arrivals.append((time.time(), message.body))
    conn.channel().basic_consume(queue, callback=received, no_ack=True)
    ready.set()
    while len(arrivals) < total and not stop.is_set():
        if reads.buffered() or select.select([conn.sock], [], [], 0.2)[0]:
            frames.drain(conn)
    conn.close()
    results.send(sorted(arrived - _sent_at(body) for arrived, body in
                        arrivals))


def _sent_at(body):
    if isinstance(body, bytes):
        body = body.decode()
    return datetime.datetime.fromisoformat(
        _TIMESTAMP_RE.search(body).group(0)).replace(
            tzinfo=datetime.timezone.utc).timestamp()


def _running(pid):
    """Whether a process runs (a zombie has exited but is not reaped)."""
    try:
        with open('/proc/%d/stat' % pid) as stat:
            return stat.read().rpartition(')')[2].split()[0] != 'Z'
    except OSError:
        return False


def _broker_pids(url):
    """The process of the broker that serves ``url``, if it runs here.

    Found by the listening socket of its port: the machine may run other
    nodes, and rabbitmqctl starts short-lived Erlang VMs of the same name.
    """
    host = urls.parse(url).hosts[0]
    port = host.port or 5672
    inodes = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    # state 0A is LISTEN
                    if (fields[3] == '0A'
                            and int(fields[1].rpartition(':')[2], 16) == port):
                        inodes.add('socket:[%s]' % fields[9])
        except OSError:
            continue
    for fd_dir in pathlib.Path('/proc').glob('[0-9]*/fd'):
        try:
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                return [int(fd_dir.parent.name)]
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return []


class _CPU:
    """CPU time of groups of processes from now on, in % of one core.

    A process that is gone counts with the time it had when last read.
    """

    def __init__(self, groups):
        self.groups = {name: pids for name, pids in groups.items() if pids}
        self.started = time.monotonic()
        self._last = {}
        self.spent = {name: self._seconds(pids)
                      for name, pids in self.groups.items()}

    def elapsed(self):
        return time.monotonic() - self.started

    def shares(self):
        elapsed = self.elapsed()
        return {name: 100 * (self._seconds(pids) - self.spent[name]) / elapsed
                for name, pids in self.groups.items()}

    def _seconds(self, pids):
        ticks = 0
        for pid in pids:
            try:
                with open('/proc/%d/stat' % pid) as stat:
                    fields = stat.read().rpartition(')')[2].split()
                self._last[pid] = int(fields[11]) + int(fields[12])
            except OSError:
                pass
            ticks += self._last.get(pid, 0)  # utime + stime
        return ticks / os.sysconf('SC_CLK_TCK')


def _percentile(values, fraction):
    return values[min(len(values) - 1, int(len(values) * fraction))]


def _soak(conf, bench, bodies, workdir):
    """RSS of one relay after 100k and after 1M messages."""
    bench.fresh_queues()
    relay = RelayRun(conf, bench, workdir)
    samples = {}
    try:
        for chunk in range(1, 11):
            # the relay consumes while they arrive: nothing to wait for
            bench.preload(bodies, 100000, wait=False)
            while bench.depth(bench.sink) < 100000:
                time.sleep(0.1)
            # keep the broker from holding a million outputs
            bench.channel.queue_purge(bench.sink)
            if chunk in (1, 10):
                samples[chunk * 100000] = relay.status('VmRSS')
    finally:
        relay.stop()
    return samples


def _versioned_bodies(translator, corpus):
    """The Nova instance events of the corpus that read back, and makers
    of the wire bodies of their versioned translations as Nova sends them:
    the request context, fresh ids each call."""
    context = request_context()
    events, makers = [], []
    for name, raw in corpus:
        outcome = translator.body_to_versioned(raw)
        [versioned] = outcome.notifications
        if not translator.to_legacy(envelope.from_message(versioned)).ok:
            continue
        events.append((name, raw))

        def make(versioned=versioned):
            return envelope.wire_body(dict(
                with_context(versioned, context),
                message_id=str(uuid.uuid4()), timestamp=_now_text(),
                _unique_id=uuid.uuid4().hex))
        makers.append(make)
    return events, makers


def _directions(conf, bench, count, forward, reverse, workdir, pairs):
    """(d) and (e) ``pairs`` times in turn: [(d) rate and CPU], [(e)]."""
    runs = {'forward': [], 'reverse': []}
    for _ in range(pairs):
        for direction, mode, bodies in (('forward', 'paired', forward),
                                        ('reverse', 'reverse', reverse)):
            run, _ = _relay_throughput(conf, bench, count, bodies, workdir,
                                       direction=mode)
            runs[direction].append(run)
    return runs['forward'], runs['reverse']


def _alternated(conf, bench, count, bodies, workdir, pairs, node):
    """(s) and (c) run ``pairs`` times in turn: [(s) rate and CPU or None],
    [(c) rate and CPU], the highest peak RSS of (c), why (s) is missing."""
    shovel, relay, peak_rss, missing = [], [], 0, None
    for _ in range(pairs):
        run, missing = _shovel(bench, count, bodies, conf.relay.prefetch,
                               node)
        shovel.append(run)
        run, rss = _relay_throughput(conf, bench, count, bodies, workdir)
        relay.append(run)
        peak_rss = max(peak_rss, rss)
    return shovel, relay, peak_rss, missing


def _median_run(runs):
    """The run of median rate (the lower of the two middle ones)."""
    return sorted(runs, key=lambda run: run[0])[(len(runs) - 1) // 2]


def run(conf, translator, corpus_dir, count, soak, broker_node=None,
        pairs=3):
    # Only messages that give exactly one versioned notification, so that
    # every variant writes one output per input.
    corpus = [(name, raw) for name, raw in load_corpus(corpus_dir)
              if len(translator.body_to_versioned(raw).notifications) == 1]
    bodies = _legacy_bodies(corpus)
    instance_events, versioned = _versioned_bodies(translator, corpus)
    prefetch = conf.relay.prefetch
    bench = Bench(settings.Endpoint.from_conf(conf, 'source'))
    workdir = tempfile.mkdtemp(prefix='translator-bench-')
    rows = {}
    try:
        shovel, relay, peak_rss, shovel_missing = _alternated(
            conf, bench, count, bodies, workdir, pairs, broker_node)
        rows['c'] = _median_run(relay)
        rows['s'] = None if None in shovel else _median_run(shovel)
        ratios = ([] if None in shovel else
                  sorted(c[0] / s[0] for s, c in zip(shovel, relay)))
        rows['p'] = _baseline(bench, baselines.pyamqp_loop, count, bodies,
                              prefetch)
        rows['a'] = _baseline(bench, baselines.kombu_loop, count, bodies,
                              prefetch)
        rows['b'] = _baseline(bench, baselines.oslo_relay, count // 4,
                              bodies, prefetch)
        rows['c2'], _ = _relay_throughput(conf, bench, count, bodies,
                                          workdir, 2)
        forward, reverse = _directions(
            conf, bench, count, _legacy_bodies(instance_events), versioned,
            workdir, pairs)
        rows['d'], rows['e'] = _median_run(forward), _median_run(reverse)
        directions = sorted(e[0] / d[0] for d, e in zip(forward, reverse))
        rate = rows['c'][0] / 2
        delays, offered, delay_cpu = _delays(conf, bench, rate, 10, corpus,
                                             workdir)
        soak_rss = _soak(conf, bench, bodies, workdir) if soak else None
    finally:
        bench.close()
    from translator.bench import translation
    print()
    translate_us = translation.run(translator, corpus_dir, rounds=3,
                                   number=500)[0]
    print()
    print('translator bench relay --messages %d --pairs %d%s' % (
        count, pairs, ' --soak' if soak else ''))
    print('bus %s, %d distinct legacy messages (golden samples, Nova and '
          'Trove, each with a Nova request context of %d keys), prefetch '
          '%d, batch %d' % (
              secrets.mask_url(bench.url), len(bodies),
              len(request_context()),
              prefetch, conf.relay.batch_size))
    print('machine: %d cores, Python %s, %s' % (
        os.cpu_count(), platform.python_version(), platform.platform()))
    print('(s) and (c) alternated %d times, (d) and (e) too: the runs of '
          'median rate; (d) and (e) on the %d Nova instance events that '
          'read back' % (pairs, len(instance_events)))
    _report_throughput(rows, ratios, shovel_missing, directions)
    print('translation: %.1f us/msg (median over the samples)'
          % translate_us)
    p99 = _report_delays(delays, offered, rate, delay_cpu)
    print('relay peak RSS: %.1f MiB' % peak_rss)
    growth = None
    if soak_rss:
        first, last = soak_rss[100000], soak_rss[1000000]
        growth = (last - first) / first
        print('relay RSS after 100k: %.1f MiB, after 1M: %.1f MiB '
              '(%+.1f %%)' % (first, last, 100 * growth))
    _report_targets(rows, ratios, directions, p99, growth)
    return 0


_ROWS = {'s': '(s) RabbitMQ Shovel, ack-mode on-confirm',
         'p': '(p) bare py-amqp consume+republish, confirms',
         'a': '(a) bare kombu consume+republish, no confirms',
         'b': '(b) oslo.messaging listener -> Notifier',
         'c': '(c) translator relay, confirms before acks',
         'c2': '(c) with two relays sharing the pool',
         'd': '(d) relay, legacy to versioned, instance events',
         'e': '(e) relay, versioned to legacy, the same events'}


def _median_of(ratios):
    """'x.xx (median of n pairs: a, b, ...)' of sorted ratios, or '-'."""
    if not ratios:
        return '-'
    return '%.2f (median of %d pairs: %s)' % (
        statistics.median(ratios), len(ratios),
        ', '.join('%.2f' % r for r in ratios))


def _report_throughput(rows, ratios, shovel_missing, directions):
    print('%-48s %7s   %s' % ('', 'msg/s', 'CPU, % of one core'))
    for key, label in _ROWS.items():
        if rows[key] is None:
            print('%-48s %7s   (%s)' % (label, '-', shovel_missing))
            continue
        rate, cpu = rows[key]
        print('%-48s %7.0f   %s' % (label, rate, _shares(cpu)))
    (p, _), (a, _), (b, _), (c, cpu), (c2, _) = (
        rows[key] for key in 'p a b c c2'.split())
    print('c/s = %s   c/p = %.2f   c/a = %.2f   c/b = %.1f   two relays / '
          'one = %.2f' % (_median_of(ratios), c / p, c / a, c / b, c2 / c))
    print('e/d = %s' % _median_of(directions))
    for key in ('c', 'e'):
        print('CPU per message in (%s): %s' % (key, ', '.join(
            '%s %.0f us' % (name, 1e4 * share / rows[key][0])
            for name, share in rows[key][1].items())))


def _report_delays(delays, offered, rate, cpu):
    if not delays:
        print('end-to-end delay at %.0f msg/s offered: nothing received'
              % rate)
        return None
    p99 = _percentile(delays, 0.99)
    print('end-to-end delay at %.0f msg/s offered (half of c), %d of %d '
          'received: p50 %.1f ms, p99 %.1f ms' % (
              rate, len(delays), offered, 1000 * statistics.median(delays),
              1000 * p99))
    print('CPU meanwhile, %% of one core: %s' % _shares(cpu))
    return p99


def _report_targets(rows, ratios, directions, p99, growth):
    c = rows['c'][0]
    checks = [('c >= 0.8 s', ratios and statistics.median(ratios) >= 0.8),
              ('c >= 0.85 p', c >= 0.85 * rows['p'][0]),
              ('e >= d', statistics.median(directions) >= 1),
              ('c >= 0.8 a', c >= 0.8 * rows['a'][0]),
              ('c >= 4 b', c >= 4 * rows['b'][0]),
              ('p99 <= 50 ms', p99 is not None and p99 <= 0.05)]
    if growth is not None:
        checks.append(('RSS within 10 %', abs(growth) <= 0.1))
    print('targets: %s' % ', '.join(
        '%s %s' % (name, 'met' if met else 'MISSED') for name, met in checks))


def _shares(cpu):
    return ', '.join('%s %.0f' % item for item in cpu.items())
