"""The translator command as a user runs it."""

import json
import subprocess
import sys

from tests.conftest import MAPPINGS, write_mappings

TROVE_CREATE = {
    'message_id': '7e0b7a49-0dd6-4c3c-a5a0-0e4e4a3d4c54',
    'publisher_id': 'trove-host-1', 'event_type': 'trove.instance.create',
    'priority': 'INFO', 'timestamp': '2016-08-19 10:20:59.279903',
    'payload': {
        'created_at': '2016-08-19 10:20:49', 'name': 'db1',
        'instance_id': '0b2a3c4d-1111-4222-8333-944445555666',
        'instance_name': 'db1', 'instance_type_id': '7',
        'launched_at': '2016-08-19T10:20:59',
        'nova_instance_id': 'a1b2c3d4-0000-4000-8000-000000000001',
        'region': 'RegionOne', 'state': 'ACTIVE',
        'state_description': 'ACTIVE', 'tenant_id': 't1', 'user_id': 'u1',
        'instance_type': 'm1.small', 'service_id': 'mysql',
        'instance_size': 2048, 'availability_zone': 'nova'}}


def run(*args, stdin=b''):
    return subprocess.run([sys.executable, '-m', 'translator.cli', *args],
                          input=stdin, capture_output=True, timeout=60)


def wire(message):
    return json.dumps({'oslo.version': '2.0',
                       'oslo.message': json.dumps(message)})


def test_translate_stdin_in_order_with_errors_on_stderr():
    delete = dict(TROVE_CREATE, event_type='trove.instance.delete',
                  message_id='m2')
    lines = [wire(TROVE_CREATE), 'not json', '',
             json.dumps({'event_type': 'trove.nothing', 'payload': {},
                         'publisher_id': 'h'}),
             json.dumps(delete)]
    result = run('translate', stdin='\n'.join(lines).encode())
    assert result.returncode == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [n['event_type'] for n in out] == ['instance.create.end',
                                              'instance.delete.end']
    assert set(out[0]) == {'message_id', 'publisher_id', 'event_type',
                           'priority', 'payload', 'timestamp'}
    assert out[0]['timestamp'] == '2016-08-19 10:20:59.279903'
    errors = [json.loads(line) for line in result.stderr.splitlines()
              if line.startswith(b'{')]
    assert [(e['line'], e['outcome']) for e in errors] == [
        (2, 'malformed'), (4, 'unmapped')]
    assert errors[1]['event_type'] == 'trove.nothing'
    assert b'Traceback' not in result.stderr


def test_translate_files_all_good_exit_zero(tmp_path):
    path = tmp_path / 'in.jsonl'
    path.write_text(wire(TROVE_CREATE) + '\n')
    result = run('translate', str(path), str(path))
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


def test_validate_shipped_mappings():
    result = run('validate-mappings', str(MAPPINGS))
    assert result.returncode == 0, result.stderr
    assert b'trove.TroveInstancePayload' in result.stdout


def test_validate_refuses_with_file_names(tmp_path):
    good = MAPPINGS / 'trove' / 'instance.yaml'
    bad = write_mappings(tmp_path / 'm', {
        'trove/instance.yaml': good.read_text(),
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
                 stdin=wire(TROVE_CREATE).encode())
    assert result.returncode == 2 and result.stdout == b''
