"""The translator command as a user runs it."""

import json
import subprocess
import sys

import pytest

from tests.conftest import DEMO_MAPPINGS, ID, MAPPINGS, write_mappings

THING = {
    'message_id': '7e0b7a49-0dd6-4c3c-a5a0-0e4e4a3d4c54',
    'publisher_id': 'compute.host1', 'event_type': 'thing.create.end',
    'priority': 'INFO', 'timestamp': '2016-08-19 10:20:59.279903',
    'payload': {'id': ID, 'name': 'db1'}}


@pytest.fixture
def demo(tmp_path):
    return str(write_mappings(tmp_path / 'demo', DEMO_MAPPINGS))


def run(*args, stdin=b''):
    return subprocess.run([sys.executable, '-m', 'translator.cli', *args],
                          input=stdin, capture_output=True, timeout=60)


def wire(message):
    return json.dumps({'oslo.version': '2.0',
                       'oslo.message': json.dumps(message)})


def test_translate_stdin_in_order_with_errors_on_stderr(demo):
    delete = dict(THING, event_type='thing.delete.end', message_id='m2')
    lines = [wire(THING), 'not json', '',
             json.dumps({'event_type': 'thing.nothing', 'payload': {},
                         'publisher_id': 'h'}),
             json.dumps(delete)]
    result = run('--mappings', demo, 'translate',
                 stdin='\n'.join(lines).encode())
    assert result.returncode == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [n['event_type'] for n in out] == ['thing.create.end',
                                              'thing.delete.end']
    assert set(out[0]) == {'message_id', 'publisher_id', 'event_type',
                           'priority', 'payload', 'timestamp'}
    assert out[0]['timestamp'] == '2016-08-19 10:20:59.279903'
    errors = [json.loads(line) for line in result.stderr.splitlines()
              if line.startswith(b'{')]
    assert [(e['line'], e['outcome']) for e in errors] == [
        (2, 'malformed'), (4, 'unmapped')]
    assert errors[1]['event_type'] == 'thing.nothing'
    assert b'Traceback' not in result.stderr


def test_translate_files_all_good_exit_zero(tmp_path, demo):
    path = tmp_path / 'in.jsonl'
    path.write_text(wire(THING) + '\n')
    result = run('--mappings', demo, 'translate', str(path), str(path))
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    # the same input twice gives the same derived message id
    assert json.loads(first)['message_id'] == json.loads(second)[
        'message_id']


def test_translate_missing_file_is_a_clear_error(tmp_path):
    result = run('translate', str(tmp_path / 'nope.jsonl'))
    assert result.returncode == 2
    assert b'cannot read input' in result.stderr
    assert b'Traceback' not in result.stderr


@pytest.mark.parametrize('option,value,why', [
    ('--pairs', '0', b'must be at least 1: 0'),
    ('--messages', 'many', b'not a whole number: many')])
def test_bench_counts_are_checked_before_anything_runs(option, value, why):
    result = run('bench', 'relay', option, value)
    assert result.returncode == 2
    assert b'argument %s: %s' % (option.encode(), why) in result.stderr
    assert b'Traceback' not in result.stderr


def test_validate_shipped_mappings():
    result = run('validate-mappings', str(MAPPINGS))
    assert result.returncode == 0, result.stderr
    assert b'rule(s)' in result.stdout


def test_validate_summarises_a_set(demo):
    result = run('validate-mappings', demo)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].endswith(': 1 file(s), 2 rule(s), 1 payload class(es)')
    assert lines[1] == '  demo.ThingPayload 1.0 (3 fields)'


def test_validate_refuses_with_file_names(tmp_path):
    bad = write_mappings(tmp_path / 'm', {
        'trove/instance.yaml': DEMO_MAPPINGS['demo/thing.yaml'],
        'trove/syntax.yaml': 'rules: [\n',
        'trove/types.yaml': '''
            payloads:
              A:
                version: "1.0"
                history: {"1.0": Initial version}
                fields:
                  x: {type: colour, source: x}
                  y: {type: string}
        '''})
    result = run('validate-mappings', str(bad))
    assert result.returncode == 1
    err = result.stderr.decode()
    assert 'syntax.yaml:2: YAML syntax error' in err
    assert 'types.yaml:7: payloads.A.fields.x.type: Must be one of' in err
    assert ('types.yaml:8: payloads.A.fields.y.source: needs a source, a '
            'constant or a default') in err
    assert 'refused: 3 problem(s)' in err
    result = run('--mappings', str(bad), 'translate',
                 stdin=wire(THING).encode())
    assert result.returncode == 2 and result.stdout == b''


def test_config_options_are_taken_after_the_command_too():
    from translator import cli
    assert cli._hoist_config_options(
        ['relay', '--config-file', 'a.conf', '--config-dir=d', '-v']) == [
        '--config-file', 'a.conf', '--config-dir=d', 'relay', '-v']


def test_translate_to_unversioned_reads_versioned_lines_back(tmp_path):
    """Nova 34's own versioned notifications, as wire bodies and as bare
    notifications: legacy ones out, in order; what cannot be read back on
    stderr, a versioned-only event said but not a failure."""
    from tests import judges
    pairs = judges.nova_pairs()[:3]
    versioned = [pair['versioned'][0] for pair in pairs]
    bad_date = json.loads(json.dumps(versioned[0]))
    bad_date['payload']['nova_object.data']['created_at'] = 'yesterday'
    lines = [wire(versioned[0]), json.dumps(versioned[1]), 'not json',
             json.dumps(dict(versioned[2], event_type='instance.lock')),
             json.dumps(dict(versioned[2], event_type='instance.nothing')),
             json.dumps(bad_date), wire(versioned[2])]
    path = tmp_path / 'versioned.jsonl'
    path.write_text('\n'.join(lines) + '\n')
    result = run('translate', '--to', 'unversioned', str(path))
    assert result.returncode == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [n['event_type'] for n in out] == [
        pair['legacy'][0]['event_type'] for pair in pairs]
    assert out[0]['payload']['instance_id'] == pairs[0]['legacy'][0][
        'payload']['instance_id']
    errors = [json.loads(line) for line in result.stderr.splitlines()
              if line.startswith(b'{')]
    assert [(e['line'], e['outcome']) for e in errors] == [
        (3, 'malformed'), (4, 'skipped'), (5, 'unmapped'), (6, 'invalid')]
    assert errors[3]['reason'].startswith(
        "InstanceCreatePayload: field created_at: not a date: 'yesterday'")
    skipped_only = tmp_path / 'skipped.jsonl'
    skipped_only.write_text(lines[3] + '\n')
    assert run('translate', '--to', 'unversioned',
               str(skipped_only)).returncode == 0
