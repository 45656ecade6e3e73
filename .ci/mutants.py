#!/usr/bin/env python3
"""Mutation testing of the relay, the mapping language and the metrics.

Each mutant is a small, plausible mistake in one place of translator/relay,
translator/transports, translator/mapping or translator/secrets.py, and the tests that cover that
part must notice it. For each mutant the file is changed, the test files
of its part run (``pytest -x``: the first failure kills it), and the file
is put back. A mutant the tests let through is a promise nothing guards.

Run by hand, not in CI (a survivor runs its whole group, minutes each),
with RabbitMQ up, from the checkout::

    .venv/bin/python .ci/mutants.py            # every mutant
    .venv/bin/python .ci/mutants.py NAME ...   # some, by name
    .venv/bin/python .ci/mutants.py --list

It refuses to run while a file it would change has uncommitted changes,
and always puts the file back, even when interrupted.
"""

import argparse
import pathlib
import re
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

#: The tests of each part, quickest first: -x stops at the first failure.
RELAY = ['tests/test_ledger.py', 'tests/test_changes.py',
         'tests/test_secrets.py', 'tests/test_problem_log.py',
         'tests/test_loop.py', 'tests/test_dead_letters.py',
         'tests/test_delivery.py', 'tests/test_relay.py',
         'tests/test_metrics.py', 'tests/test_bench.py']
MAPPING = ['tests/test_mapping_errors.py', 'tests/test_mapping_language.py',
           'tests/test_golden.py', 'tests/test_hot_path.py',
           'tests/test_fingerprints.py', 'tests/test_trove.py',
           'tests/test_nova_real.py', 'tests/test_nova_emitters.py']
METRICS = ['tests/test_metrics.py', 'tests/test_deploy.py',
           'tests/test_relay.py']
SWITCHBOARD = ['tests/test_twins.py', 'tests/test_fleet.py',
               'tests/test_relay.py']
REVERSE = ['tests/test_reverse.py', 'tests/test_mapping_errors.py',
           'tests/test_nova_emitters.py', 'tests/test_ceilometer.py',
           'tests/test_cli.py']

S = 'translator/relay/loop.py'
LE = 'translator/relay/ledger.py'
CH = 'translator/relay/changes.py'
R = 'translator/relay/router.py'
TW = 'translator/relay/twins.py'
RV = 'translator/mapping/reverse.py'
DL = 'translator/relay/dead_letter.py'
T = 'translator/transports/rabbit/target.py'
Q = 'translator/transports/rabbit/dead_letter_queue.py'
SO = 'translator/transports/rabbit/source.py'
F = 'translator/transports/rabbit/frames.py'
DE = 'translator/transports/rabbit/declare.py'
P = 'translator/relay/problem_log.py'
D = 'translator/relay/dead_letter_commands.py'
V = 'translator/mapping/values.py'
L = 'translator/mapping/loader.py'
PL = 'translator/mapping/plans.py'
G = 'translator/mapping/codegen.py'
RU = 'translator/mapping/rules.py'
SP = 'translator/mapping/spec.py'
M = 'translator/relay/metrics.py'
E = 'translator/secrets.py'

#: name: (file, text, replacement, tests)
MUTANTS = {
    # -- at least once
    'ack-before-confirm': (
        LE, "self.waiting[tag].unconfirmed += 1\n        self.sent[seq]",
        "self.sent[seq]", RELAY),
    'held-acknowledged-before-decided': (
        LE, "        self.waiting[tag].unconfirmed += 1\n\n    def release",
        "        pass\n\n    def release", RELAY),
    'nack-ignored': (S, "        refused = 0\n", "        return\n", RELAY),
    'no-confirm-timeout': (
        S, "raise _Stalled('no confirm", "print('no confirm", RELAY),
    'ack-only-the-last': (
        S, "acknowledge(done[-1][0], multiple=True)",
        "acknowledge(done[-1][0], multiple=False)", RELAY),
    'completed-past-unconfirmed': (LE, "            if waiting.unconfirmed:\n",
                                   "            if waiting.unconfirmed > 1:\n",
                                   RELAY),
    'sigterm-drops-in-flight': (
        S, "if draining and self.idle:", "if draining:", RELAY),
    'reload-keeps-connections': (
        S, "            LOG.info('connection settings changed: "
        "reconnecting')\n            self.disconnect()",
        "            LOG.info('connection settings changed: "
        "reconnecting')", RELAY),
    'no-reply-timeout': (
        T, "'target',\n            timeout=settings.confirm_timeout,",
        "'target',", RELAY),
    'backoff-never-grows': (
        S, "return min(delay * 2, self.settings.reconnect_delay_max)",
        "return 0.5", RELAY),
    # -- nothing vanishes
    'not-mandatory': (T, "mandatory=True)", "mandatory=False)", RELAY),
    'returned-dead-letter-acknowledged': (
        S, "held = (kind == base.DEAD_LETTER\n"
        "                or self.settings.unroutable == 'hold')",
        "held = self.settings.unroutable == 'hold'", RELAY),
    'held-not-raised': (S, "            raise _Held(self._held)\n",
                        "            pass\n", RELAY),
    'no-dead-letter-queue': (
        T, "            dead_letters.declare(self.channel, self._kinds)\n", "",
        RELAY),
    'no-dead-letter-binding': (
        T, "        self._dead_letters.bind(self.channel, exchange)\n", "",
        RELAY),
    'no-default-queues': (
        T, "and self.settings.declare_default_queues):",
        "and False):", RELAY),
    'existing-queue-declared-again': (
        DE, "    except amqp.exceptions.NotFound:\n        return False",
        "    except amqp.exceptions.NotFound:\n        pass\n"
        "    return False", RELAY),
    'dead-letter-secrets-kept': (
        DL, "secrets.redacted_body(delivery.body)", "delivery.body", RELAY),
    'unparsed-dead-letter-secrets-kept': (
        E, "        return redacted_bytes(raw)\n    if not isinstance",
        "        return raw\n    if not isinstance", RELAY),
    'versioned-secrets-kept': (
        R, "context = secrets.redact_context(outcome.source.context())",
        "context = outcome.source.context()", RELAY),
    'copy-twice-on-same-bus': (
        R, "(s.same_bus and topic == place)", "False", RELAY),
    'priority-lost-in-routing-key': (
        R, "                    self.settings.versioned_topic,\n"
        "                    notification['priority'].lower()),",
        "                    self.settings.versioned_topic, 'info'),",
        RELAY),
    'no-unique-id': (
        R, "    return envelope.wire_body(dict(notification, _unique_id="
        "notification[\n        'message_id'].replace('-', '')), context)",
        "    return envelope.wire_body(notification, context)", RELAY),
    # -- the switchboard
    'own-outputs-relayed': (R, "        if delivery.own:\n", "        if False:\n",
                            SWITCHBOARD),
    'never-held-for-a-twin': (
        TW, "                else self.hold_unknown):\n            return HOLD",
        "                else self.hold_unknown):\n            pass",
        SWITCHBOARD),
    'twin-does-not-release': (
        TW, "            return RELEASED, entry.held", "            pass",
        SWITCHBOARD),
    'host-stays-versioned-after-a-wait': (
        TW, "                self._host_seen(host, None)",
        "                pass", SWITCHBOARD),
    'late-copy-passed-on': (
        R, "        return [], None if copy else fmt",
        "        return copy, None if copy else fmt", SWITCHBOARD),
    'duplicate-uncounted': (
        M, "            self._duplicates[routed.duplicate].inc()",
        "            pass", SWITCHBOARD),
    'unchanged-update-emitted-again': (
        S, "                changes.remember(memo)\n",
        "                pass\n", RELAY),
    'change-filter-forgets-the-first-remembered': (
        CH, "            if last is not None:\n"
        "                self._seen.move_to_end(key)\n", "",
        ['tests/test_changes.py'] + RELAY),
    'publisher-not-mandatory': (
        F, "                   + b'\\x01')", "                   + b'\\x00')",
        ['tests/test_rabbit_frames.py'] + RELAY),
    'deliveries-not-counted-for-heartbeats': (
        F, "        self._connection.bytes_recv += 1  # heartbeats count reads",
        "        pass", ['tests/test_rabbit_frames.py'] + RELAY),
    'delivery-of-several-frames-cut': (
        F, "            self._left -= len(payload)", "            pass",
        ['tests/test_rabbit_frames.py'] + RELAY),
    'context-texts-not-screened': (
        E, "            if _names_in(value):", "            if False:", RELAY),
    'url-password-shown': (
        E, "userinfo = userinfo.split(':', 1)[0] + ':***'", "pass", RELAY),
    'buffered-frames-ignored': (
        F, "return self._offset < len(self._data)", "return False", RELAY),
    'problem-log-floods': (
        P, "            window.latest = message\n            return\n",
        "            window.latest = message\n", RELAY),
    'problem-log-no-summary': (
        P, "            if now >= window.ends:", "            if False:",
        RELAY),
    'replay-sends-legacy-copies': (
        R, "if self._replaying or (s.same_bus", "if (s.same_bus", RELAY),
    'list-takes-the-dead-letters': (
        SO, "                queue, callback=self._message)",
        "                queue, callback=self._message, no_ack=True)",
        RELAY),
    # -- values and the mapping language
    'int-truncates-floats': (
        V, "if isinstance(v, float) and not v.is_integer():",
        "if False:", MAPPING),
    'datetime-not-converted-to-utc': (
        V, "            ts = ts.astimezone(_UTC)\n",
        "            ts = ts.replace(tzinfo=_UTC)\n", MAPPING),
    'bool-takes-any-int': (
        V, "if isinstance(v, int) and v in (0, 1):",
        "if isinstance(v, int):", MAPPING),
    'string-stripped': (V, "        return v\n    # oslo.versionedobjects'",
                        "        return v.strip()\n    # oslo.versionedobjects'",
                        MAPPING),
    'mac-not-lowered': (V, "lowered = v.lower().replace('-', ':')",
                        "lowered = v.replace('-', ':')", MAPPING),
    'empty-string-kept-for-numbers': (
        PL, "return fspec.get('empty_as_null', fspec['type'] != 'string')",
        "return fspec.get('empty_as_null', False)", MAPPING),
    'present-if-ignored': (
        PL, "                    present(root, ctx) is not None)",
        "                    True)", MAPPING),
    'hot-path-present-if-ignored': (
        G, "'%s is not None' % src.read(p) for p in fspec['present_if']",
        "'True' for p in fspec['present_if']", MAPPING),
    'hot-path-fallback-source-ignored': (
        G, "src.add(indent, 'if v is None:', '    v = %s' % src.read(path))",
        "pass", MAPPING),
    'hot-path-default-ignored': (
        G, "                'data[%s] = %s' % (name, src.name(\n"
        "                    'D', field.convert_primitive(default)))])",
        "                'data[%s] = None' % name])", MAPPING),
    'globs-before-exact-names': (
        RU, "for rule in exact + globbed:", "for rule in globbed + exact:",
        MAPPING),
    'error-priority-kept': (
        RU, "            return 'ERROR'\n", "            pass\n", MAPPING),
    'watch-fields-unchecked': (
        L, "            if fname not in pdef.fields:",
        "            if False:", MAPPING),
    'since-newer-than-version-allowed': (
        L, "if since and spec.version_key(since) > "
        "spec.version_key(pdef.version):",
        "if False:", MAPPING),
    'since-not-in-history-allowed': (
        L, "if since and since not in pdef.history:", "if False:", MAPPING),
    'history-newer-than-version-allowed': (
        L, "    if newest != pdef.version:", "    if False:", MAPPING),
    'captures-type-unchecked': (SP, "            if not ok:", "            if False:",
                                MAPPING),
    'reject-rule-unchecked': (
        SP, "        if 'reject' in data and ('source' not in data",
        "        if False and ('source' not in data", MAPPING),
    # -- versioned to legacy
    'reverse-map-not-inverted': (
        RV, "            src.add(4, 'v = %s.get(v, v)' % src.name('M', {",
        "            src.add(4, 'v = v' or src.name('M', {", REVERSE),
    'reverse-date-form-ignored': (
        RV, "            return text_form % pick(text)",
        "            return text", REVERSE),
    'reverse-empty-ignored': (
        RV, "            src.add(3, 'if EMPTY(v):', '    ' + _put_line(",
        "            src.add(3, 'if False:', '    ' + _put_line(", REVERSE),
    'reverse-null-written-anyway': (
        RV, "                'pass' if legacy.get('skip_null')",
        "                'pass' if False", REVERSE),
    'reverse-merge-dropped': (
        RV, "            src.add(3, 'out.update(%s(v))' % one)",
        "            src.add(3, 'pass')", REVERSE),
    'reverse-sum-wrong': (
        RV, "                          else sum(parts))",
        "                          else parts[0])", REVERSE),
    'reverse-fallbacks-unchecked': (
        RV, "        if len(paths) > 1:\n            raise NotReversible(",
        "        if False:\n            raise NotReversible(", REVERSE),
    # -- metrics
    'dead-letter-reasons-uncounted': (
        M, "                self._dead_letters[output.outcome].inc()",
        "                pass", METRICS),
    'event-type-label-unbounded': (
        M, "        if event_type in self._known_events or (\n"
        "                routed.outcome is not None and routed.outcome.ok):",
        "        if True:", METRICS),
    'suppressed-uncounted': (M, "            self.suppressed.inc(suppressed)",
                             "            pass", METRICS),
    'queue-depth-never-polled': (
        S, "            self.metrics.queue_depth.set(source.depth())",
        "            pass", METRICS),
    'cause-label-renamed': (M, "            ['cause'], registry=r)",
                            "            ['why'], registry=r)", METRICS),
    'delay-unobserved': (S, "                observe(delay)",
                         "                pass", METRICS),
    'unroutable-uncounted': (S, "        self.metrics.unroutable[kind].inc()\n",
                             "", METRICS),
}


def dirty(paths):
    out = subprocess.run(['git', 'status', '--porcelain', '--', *paths],
                         cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return out.strip()


def run_one(name, timeout):
    path, text, replacement, tests = MUTANTS[name]
    target = ROOT / path
    original = target.read_text()
    if original.count(text) != 1:
        return 'BROKEN', 'its text is not found once in %s' % path, 0
    started = time.monotonic()
    try:
        target.write_text(original.replace(text, replacement))
        try:
            result = subprocess.run(
                [sys.executable, '-m', 'pytest', '-x', '-q',
                 '-p', 'no:cacheprovider', '-p', 'no:warnings', *tests],
                cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 'killed', 'the tests hung (%d s)' % timeout, timeout
    finally:
        target.write_text(original)
    seconds = time.monotonic() - started
    if result.returncode == 0:
        return 'SURVIVED', 'all of %s passed' % ' '.join(tests), seconds
    found = re.search(r'^(?:FAILED|ERROR) (\S+)', result.stdout, re.M)
    return 'killed', found.group(1) if found else result.stdout.splitlines()[
        -1], seconds


def _interrupted(signum, frame):
    raise KeyboardInterrupt  # so that the file is put back


def main():
    signal.signal(signal.SIGTERM, _interrupted)
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('names', nargs='*', metavar='NAME')
    parser.add_argument('--list', action='store_true')
    parser.add_argument('--timeout', type=int, default=1200,
                        help='seconds per mutant before it counts as '
                        'killed by a hang')
    args = parser.parse_args()
    if args.list:
        for name, (path, _, _, _) in MUTANTS.items():
            print('%-36s %s' % (name, path))
        return 0
    names = args.names or list(MUTANTS)
    unknown = set(names) - set(MUTANTS)
    if unknown:
        parser.error('no mutant named %s' % ', '.join(sorted(unknown)))
    busy = dirty(sorted({MUTANTS[n][0] for n in names}))
    if busy:
        parser.error('commit or stash these first:\n' + busy)
    survived = []
    for name in names:
        verdict, detail, seconds = run_one(name, args.timeout)
        print('%-8s %-36s %4.0f s  %s' % (verdict, name, seconds, detail),
              flush=True)
        if verdict != 'killed':
            survived.append(name)
    killed = len(names) - len(survived)
    print('\n%d of %d mutants killed (%.0f %%)%s' % (
        killed, len(names), 100 * killed / len(names),
        '; left: ' + ', '.join(survived) if survived else ''))
    return 1 if survived else 0


if __name__ == '__main__':
    sys.exit(main())
