"""The files of deploy/, checked with the real tools: promtool, a real
Prometheus scraping a relay that carries traffic, systemd-analyze,
oslo-config-generator, and the relay started with each command line the
deploy files give."""

import configparser
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
import yaml

from tests import broker
from tests.conftest import DEMO_MAPPINGS, ID, ROOT, write_mappings

DEPLOY = ROOT / 'deploy'
PROMETHEUS_DIR = DEPLOY / 'prometheus'
ALERTS = PROMETHEUS_DIR / 'translator-alerts.yml'
DASHBOARD = DEPLOY / 'grafana' / 'translator-dashboard.json'
KUBERNETES = DEPLOY / 'kubernetes'
UNIT = DEPLOY / 'systemd' / 'translator.service'
# The translator command of this virtualenv, standing in for the installed
# /usr/bin/translator or the image's.
TRANSLATOR = os.path.join(os.path.dirname(sys.executable), 'translator')
INSTALLED_CONFIG = '/etc/translator/translator.conf'
INSTALLED_CONFIG_DIR = '/etc/translator/translator.conf.d'


def prometheus_tool(name):
    path = shutil.which(name)
    assert path, '%s missing: .ci/setup installs the prometheus package' % name
    return path


def promtool(*args):
    result = subprocess.run([prometheus_tool('promtool'), *args],
                            cwd=PROMETHEUS_DIR, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def alert_rules():
    groups = yaml.safe_load(ALERTS.read_text())['groups']
    return [rule for group in groups for rule in group['rules']]


# -- promtool --

def test_promtool_check_config():
    assert 'SUCCESS: 8 rules found' in promtool('check', 'config',
                                                'prometheus.yml')


def test_promtool_check_rules():
    assert 'SUCCESS: 8 rules found' in promtool('check', 'rules',
                                                ALERTS.name)


def test_promtool_alert_unit_tests():
    assert 'SUCCESS' in promtool('test', 'rules',
                                 'translator-alerts.test.yml')


def test_every_alert_is_complete_and_unit_tested():
    cases = yaml.safe_load(
        (PROMETHEUS_DIR / 'translator-alerts.test.yml').read_text())['tests']
    checks = [check for case in cases for check in case['alert_rule_test']]
    names = []
    for rule in alert_rules():
        name = rule['alert']
        names.append(name)
        assert 'for' in rule, name
        assert rule['labels']['severity'] in ('warning', 'critical'), name
        assert set(rule['annotations']) == {'summary', 'description'}, name
        mine = [c for c in checks if c['alertname'] == name]
        assert any(c['exp_alerts'] for c in mine), name + ' never fires'
        assert any(not c['exp_alerts'] for c in mine), \
            name + ' has no case where it must not fire'
    assert names == ['TranslatorDown', 'TranslatorDeadLettersRising',
                     'TranslatorBacklogGrowing',
                     'TranslatorDeadLettersUnroutable',
                     'TranslatorOutputsUnroutable', 'TranslatorPublishFailures',
                     'TranslatorReloadFailed', 'TranslatorBrokerDisconnected']


# -- the dashboard and the alert rules against a real Prometheus --

def dashboard():
    return json.loads(DASHBOARD.read_text())


def test_dashboard_takes_its_datasource_from_a_variable():
    board = dashboard()
    [variable] = [v for v in board['templating']['list']
                  if v['type'] == 'datasource']
    assert variable['query'] == 'prometheus'
    # every uid in the file is the variable's: none of one Grafana's own
    uids = re.findall(r'"uid": "([^"]*)"', DASHBOARD.read_text())
    assert set(uids) == {'${%s}' % variable['name'], board['uid']}
    for panel in board['panels']:
        if panel['type'] != 'row':
            assert panel['targets'], panel['title']
            assert panel['datasource']['uid'] == '${datasource}'


def dashboard_queries(board, job):
    """Each panel query as Prometheus gets it with the dashboard's default
    selection: job the first of its values, every relay (instance "All",
    its allValue), $__rate_interval as for a 15 s scrape interval."""
    instance = [v for v in board['templating']['list']
                if v['name'] == 'instance'][0]
    values = {'$__rate_interval': '1m', '$__range': '1h', '$job': job,
              '$instance': instance['allValue']}
    queries = []
    for panel in board['panels']:
        for target in panel.get('targets', ()):
            expr = target['expr']
            for variable, value in values.items():
                expr = expr.replace(variable, value)
            assert '$' not in expr, expr
            queries.append(('panel %r' % panel['title'], expr))
    return queries


COMPARISON = re.compile(
    r'\s+(?:==|!=|>=|<=|>|<|and|or|unless)(?:\s+bool)?\s+')


def alert_operands(expr):
    """The parts of an alert expression that carry data.

    An alert expression returns series only while its condition holds,
    and absent() only while its metric is missing, so on a healthy relay
    they are rightly empty. What must have data is what the conditions
    compare: the expression is split at its top-level comparison and set
    operators, numbers are dropped and absent(x) gives x.
    """
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(expr):
        char = expr[i]
        if char == '"':
            quoted = not quoted
        elif not quoted and char in '([{':
            depth += 1
        elif not quoted and char in ')]}':
            depth -= 1
        elif not quoted and depth == 0:
            match = COMPARISON.match(expr, i)
            if match:
                parts.append(expr[start:i])
                start = i = match.end()
                continue
        i += 1
    parts.append(expr[start:])
    operands = []
    for part in (p.strip() for p in parts):
        if re.fullmatch(r'[0-9.e+-]+', part):
            continue
        absent = re.fullmatch(r'absent\((.*)\)', part, re.S)
        operands.append(absent.group(1) if absent else part)
    return operands


def test_alert_operands():
    assert alert_operands('up{job="a"} == 0 or absent(up{job="a"})') == [
        'up{job="a"}', 'up{job="a"}']
    assert alert_operands(
        'max by (job) (x{a=">"}) > 1000 and max by (job) (deriv(x[10m])) > 0'
    ) == ['max by (job) (x{a=">"})', 'max by (job) (deriv(x[10m]))']


class Prometheus:
    """The Debian package's prometheus binary with a config and storage of
    the test's own, on a free port (whatever the package's service does)."""

    def __init__(self, tmp_path, config):
        self.port = broker.free_port()
        config_file = tmp_path / 'prometheus.yml'
        config_file.write_text(yaml.safe_dump(config))
        self.log = tmp_path / 'prometheus.log'
        with open(self.log, 'wb') as log:
            self.proc = subprocess.Popen(
                [prometheus_tool('prometheus'),
                 '--config.file=%s' % config_file,
                 '--storage.tsdb.path=%s' % (tmp_path / 'data'),
                 '--web.listen-address=%s:%d' % (broker.HOST, self.port)],
                stdout=log, stderr=subprocess.STDOUT)

    def api(self, path, **params):
        url = 'http://%s:%d/api/v1/%s?%s' % (
            broker.HOST, self.port, path, urllib.parse.urlencode(params))
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body['status'] == 'success', body
        return body['data']

    def query(self, expr):
        return self.api('query', query=expr)['result']

    def wait(self, what, condition, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail('prometheus exited:\n' + self.log.read_text())
            try:
                if condition():
                    return
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                pytest.fail('prometheus: no %s after %d s' % (what, timeout))
            time.sleep(0.2)

    def value(self, expr):
        result = self.query(expr)
        return float(result[0]['value'][1]) if result else None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def scrape_config(relay_port):
    """The shipped prometheus.yml, scraping the test's relay every second.

    Only the target, the intervals and the rule file's path (absolute, as
    the config is written elsewhere) change; the Alertmanager is dropped as
    none runs here.
    """
    config = yaml.safe_load((PROMETHEUS_DIR / 'prometheus.yml').read_text())
    assert config['rule_files'] == [ALERTS.name]
    config['rule_files'] = [str(ALERTS)]
    config['global'].update(scrape_interval='1s', evaluation_interval='1s')
    del config['alerting']
    [job] = config['scrape_configs']
    assert job['job_name'] == 'translator'
    assert job['static_configs'] == [{'targets': ['127.0.0.1:9717']}]
    job['static_configs'] = [{'targets': ['%s:%d' % (broker.HOST, relay_port)]}]
    return config


def has_data(result):
    """At least one series with a number: a quantile over no observations
    is NaN, which a panel draws as nothing."""
    return any(not math.isnan(float(series['value'][1]))
               for series in result)


def send_traffic(vhost, producer, waves):
    for wave in range(waves):
        for i in range(10):
            producer.send('thing.create.end', dict(id=ID, name='n%d' % i))
        # the second update changes no watched field: suppressed
        producer.send('thing.update', dict(id=ID, name='u', state='s%d'
                                           % wave))
        producer.send('thing.update', dict(id=ID, name='u', state='s%d'
                                           % wave))
        producer.send('thing.create.end', dict(id='not-a-uuid', name='x'))
        producer.send('other.event', {'x': 1})
        broker.publish_raw(vhost, 'demo', 'notifications.error', b'{not json')
        time.sleep(1.1)  # a scrape between waves: rates see an increase
    return waves * 15  # messages sent


def test_every_dashboard_and_alert_expression_has_data(tmp_path):
    mappings = write_mappings(tmp_path / 'mappings', DEMO_MAPPINGS)
    with broker.vhost() as vhost:
        options = {'source': {'transport_url': broker.url(vhost),
                              'exchanges': 'demo'},
                   'notifications': {'notification_format': 'both'},
                   'relay': {'mappings_dir': mappings}}
        relay = broker.RelayProcess(tmp_path / 'relay', **options)
        relay.start()
        prometheus = Prometheus(tmp_path, scrape_config(relay.port))
        producer = broker.Producer(broker.url(vhost), 'demo')
        try:
            # Counters scraped at 0 before the traffic: rates start there.
            prometheus.wait('scrape of the relay', lambda: prometheus.value(
                'up{job="translator"}') == 1)
            sent = send_traffic(vhost, producer, 2)

            # A reload that succeeds, then one that fails.
            options['notifications']['notification_format'] = 'versioned'
            relay.write_config(options)
            relay.signal(signal.SIGHUP)
            prometheus.wait('successful reload', lambda: prometheus.value(
                'translator_config_reloads_total{result="success"}') == 1)
            (mappings / 'demo' / 'broken.yaml').write_text('rules: [\n')
            relay.signal(signal.SIGHUP)
            prometheus.wait('failed reload', lambda: prometheus.value(
                'translator_config_reloads_total{result="failure"}') == 1)

            # Traffic in the last minute, for the rates and quantiles.
            sent += send_traffic(vhost, producer, 3)
            # and the relay's own outputs, read back on this bus
            prometheus.wait('every message acknowledged', lambda: (
                prometheus.value('translator_messages_acknowledged_total')
                - prometheus.value('translator_own_outputs_total') == sent))

            board = dashboard()
            # The variables' label_values(metric, label) queries, as
            # Grafana runs them: the labels of the metric's series.
            [job] = {s['job'] for s in prometheus.api(
                'series', **{'match[]': 'translator_build_info'})}
            instances = {s['instance'] for s in prometheus.api(
                'series', **{'match[]': 'translator_build_info{job="%s"}'
                             % job})}
            assert (job, instances) == (
                'translator', {'%s:%d' % (broker.HOST, relay.port)})

            queries = dashboard_queries(board, job)
            for rule in alert_rules():
                queries += [('alert %s' % rule['alert'], operand)
                            for operand in alert_operands(rule['expr'])]
            empty = [(where, expr, result) for where, expr in queries
                     for result in [prometheus.query(expr)]
                     if not has_data(result)]
            assert empty == []

            # Prometheus itself evaluates every rule without error, and
            # the one alert without for: fires on the refused reload.
            def rules_evaluated():
                rules = [r for g in prometheus.api('rules')['groups']
                         for r in g['rules']]
                # a rule not yet evaluated has the zero time, year 0001
                return len(rules) == 8 and all(
                    r['health'] == 'ok' and
                    not r['lastEvaluation'].startswith('0001')
                    for r in rules)
            prometheus.wait('evaluation of the rules', rules_evaluated)

            def firing():
                return {a['labels']['alertname']
                        for a in prometheus.api('alerts')['alerts']
                        if a['state'] == 'firing'}
            assert firing() == {'TranslatorReloadFailed'}

            # A real fault: the dead-letter queue deleted under traffic.
            # The dead letters come back unroutable and the alert for them
            # fires (the relay declares the queue again and goes on).
            conn = broker.connection(vhost)
            conn.channel().queue_delete('notifications_dead_letter')
            conn.close()
            sent += send_traffic(vhost, producer, 1)
            prometheus.wait('the unroutable dead letters alert', lambda: (
                firing() == {'TranslatorReloadFailed',
                             'TranslatorDeadLettersUnroutable'}), timeout=60)
            prometheus.wait('every message acknowledged', lambda: (
                prometheus.value('translator_messages_acknowledged_total')
                - prometheus.value('translator_own_outputs_total') == sent))
        finally:
            producer.close()
            prometheus.stop()
            relay.stop()


# -- the sample configuration --

def test_sample_config_is_current(tmp_path):
    generated = tmp_path / 'translator.conf.sample'
    subprocess.run(
        [os.path.join(os.path.dirname(sys.executable),
                      'oslo-config-generator'),
         '--config-file', 'deploy/translator-config-generator.conf',
         '--output-file', str(generated)], cwd=ROOT, check=True, timeout=60)
    assert generated.read_text() == \
        (DEPLOY / 'translator.conf.sample').read_text(), (
            'deploy/translator.conf.sample is stale: run oslo-config-generator'
            ' --config-file deploy/translator-config-generator.conf')


# -- systemd --

def unit():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(UNIT.read_text())
    return parser


@pytest.mark.skipif(not shutil.which('systemd-analyze'),
                    reason='systemd-analyze is not installed')
def test_systemd_unit_verifies(tmp_path):
    # verify also checks that ExecStart's program exists: the copy points
    # at this virtualenv's translator instead of /usr/bin/translator.
    text = UNIT.read_text()
    assert 'ExecStart=/usr/bin/translator ' in text
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace('ExecStart=/usr/bin/translator ',
                                 'ExecStart=%s ' % TRANSLATOR))
    result = subprocess.run(['systemd-analyze', 'verify', str(copy)],
                            capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # unknown keys and bad values are warnings only, still exit 0
    assert UNIT.name not in output, output


@pytest.mark.skipif(not shutil.which('systemd-sysusers'),
                    reason='systemd-sysusers is not installed')
def test_systemd_user(tmp_path):
    (tmp_path / 'etc').mkdir()
    result = subprocess.run(
        ['systemd-sysusers', '--dry-run', '--root', str(tmp_path),
         str(DEPLOY / 'systemd' / 'translator.sysusers.conf')],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert unit()['Service']['User'] == 'translator'
    assert "Creating user 'translator'" in result.stdout + result.stderr


# -- the relay started as each deploy file starts it --

def containerfile_command():
    text = (DEPLOY / 'container' / 'Containerfile').read_text()
    entrypoint = json.loads(re.search(r'^ENTRYPOINT (.*)$', text, re.M)[1])
    command = json.loads(re.search(r'^CMD (.*)$', text, re.M)[1])
    assert re.search(r'^EXPOSE 9717$', text, re.M)
    assert re.search(r'^USER 10001$', text, re.M)
    return entrypoint + command


def manifests():
    return {doc['kind']: doc for path in sorted(KUBERNETES.glob('*.yaml'))
            for doc in yaml.safe_load_all(path.read_text())}


def test_kubernetes_manifests_fit_together():
    docs = manifests()
    assert sorted(docs) == ['ConfigMap', 'Deployment', 'Secret']
    assert all('namespace' not in d['metadata'] for d in docs.values())
    deployment = docs['Deployment']
    spec = deployment['spec']['template']['spec']
    [container] = spec['containers']
    assert deployment['spec']['replicas'] == 2
    conf = configparser.ConfigParser()
    conf.read_string(docs['ConfigMap']['data']['translator.conf'])
    assert conf['metrics']['host'] == '0.0.0.0'
    port = int(conf['metrics']['port'])
    [metrics_port] = container['ports']
    assert metrics_port['containerPort'] == port
    annotations = deployment['spec']['template']['metadata']['annotations']
    assert annotations['prometheus.io/port'] == str(port)
    assert container['livenessProbe']['httpGet'] == {
        'path': '/healthz', 'port': metrics_port['name']}
    assert container['readinessProbe']['httpGet'] == {
        'path': '/readyz', 'port': metrics_port['name']}
    assert spec['securityContext']['runAsUser'] == 10001  # the image's
    mounts = {m['name']: m for m in container['volumeMounts']}
    volumes = {v['name']: v for v in spec['volumes']}
    assert volumes['config']['configMap']['name'] == \
        docs['ConfigMap']['metadata']['name']
    assert volumes['transport']['secret']['secretName'] == \
        docs['Secret']['metadata']['name']
    assert mounts['config']['mountPath'] == INSTALLED_CONFIG
    assert mounts['transport']['mountPath'] == INSTALLED_CONFIG_DIR


def run_until_ready(argv, port, log, timeout=30):
    """Start argv, wait for /readyz to say 200, stop it with SIGTERM."""
    with open(log, 'wb') as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen('http://%s:%d/readyz' % (
                        broker.HOST, port), timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass  # not listening, or 503 while it connects
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        proc.terminate()
        assert proc.wait(30) == 0, log.read_text()


def installed(argv, paths):
    """argv of a deploy file, with this virtualenv's translator and the
    config paths of the test."""
    assert argv[0] in ('/usr/bin/translator', 'translator')
    return [TRANSLATOR] + [paths.get(a, a) for a in argv[1:]]


@pytest.mark.parametrize('command', ['systemd', 'container'])
def test_command_line_starts_the_relay(tmp_path, command):
    argv = (shlex.split(unit()['Service']['ExecStart']) if command ==
            'systemd' else containerfile_command())
    port = broker.free_port()
    config = tmp_path / 'translator.conf'
    with broker.vhost() as vhost:
        config.write_text(
            '[source]\ntransport_url = %s\n[metrics]\nport = %d\n'
            '[relay]\nmappings_dir = %s\n' % (
                broker.url(vhost), port,
                write_mappings(tmp_path / 'mappings', DEMO_MAPPINGS)))
        run_until_ready(installed(argv, {INSTALLED_CONFIG: str(config)}),
                        port, tmp_path / 'relay.log')


def test_kubernetes_config_and_secret_start_the_relay(tmp_path):
    """The Deployment's arguments with the ConfigMap and the Secret as
    mounted: the broker URL comes from the Secret's file in --config-dir."""
    docs = manifests()
    port = broker.free_port()
    # Before the Secret's URL, one of no broker: a relay that did not read
    # the Secret would never get ready (nor use the default broker's "/").
    unreachable = 'rabbit://guest:guest@%s:%d/' % (broker.HOST, broker.free_port())
    text = docs['ConfigMap']['data']['translator.conf']
    assert '[source]\n' in text and 'port = 9717\n' in text
    config = tmp_path / 'translator.conf'
    config.write_text(text.replace(
        '[source]\n', '[source]\ntransport_url = %s\n' % unreachable).replace(
        'port = 9717\n', 'port = %d\n' % port))
    config_dir = tmp_path / 'translator.conf.d'
    config_dir.mkdir()
    [(name, secret)] = docs['Secret']['stringData'].items()
    [container] = docs['Deployment']['spec']['template']['spec'][
        'containers']
    with broker.vhost() as vhost:
        placeholder = 'rabbit://translator:CHANGE-ME@rabbitmq:5672/'
        assert placeholder in secret
        (config_dir / name).write_text(secret.replace(placeholder,
                                                      broker.url(vhost)))
        log = tmp_path / 'relay.log'
        run_until_ready(installed(
            ['translator'] + container['args'],
            {INSTALLED_CONFIG: str(config),
             INSTALLED_CONFIG_DIR: str(config_dir)}), port, log)
        # the relay's own queue is in the Secret's vhost: it used that URL
        assert broker.queue_depth(vhost, 'translator') == 0
        assert 'guest:***@127.0.0.1:5672/%s' % vhost in log.read_text()
