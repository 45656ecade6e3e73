"""The real emitters as judges: Nova 34 and Trove 26 send, the translator
translates, and what comes out is compared with what the emitter itself says.

The emitters run in their own virtualenvs (``.venv-nova``, ``.venv-trove``,
made by ``.ci/setup``) as subprocesses that print JSON lines; this process
never imports nova or trove.

``python -m tests.judges`` prints the measured figures.
"""

import datetime
import functools
import json
import re
import subprocess
import sys

from tests.conftest import MAPPINGS, ROOT
from translator import envelope
from translator import translation

NOVA_EMIT = ROOT / 'tests' / 'nova_real' / 'emit.py'
NOVA_PYTHON = ROOT / '.venv-nova' / 'bin' / 'python'
TROVE_EMIT = ROOT / 'tests' / 'trove_real' / 'emit.py'
TROVE_PYTHON = ROOT / '.venv-trove' / 'bin' / 'python'
CEILOMETER_EVENTS = ROOT / 'tests' / 'ceilometer_real' / 'events.py'
CEILOMETER_PYTHON = ROOT / '.venv-ceilometer' / 'bin' / 'python'

#: Ceilometer traits that the legacy notification read back from Nova's
#: versioned one cannot give, with the legacy key (not carried, listed in
#: the mappings) they are read from.
CEILOMETER_NOT_CARRIED = {
    'instance_type_id': 'instance_type_id',
    'os_architecture': 'image_meta',
    'os_distro': 'image_meta',
    'os_version': 'image_meta',
}

#: Fields of Nova's versioned payloads that a legacy message cannot carry,
#: by path (a path covers everything below it; ``<case>:`` limits an entry
#: to one case, ``$`` names an envelope key). For each difference the test
#: checks the excuse: the value Nova sent is nowhere in the legacy message.
NOVA_EXCUSES = {
    'display_description': 'legacy payloads do not carry it',
    'key_name': 'legacy payloads do not carry it',
    'updated_at': 'legacy payloads do not carry it',
    'power_state': 'legacy payloads carry the vm state, not the power state',
    'locked': 'legacy payloads do not carry the lock',
    'auto_disk_config': 'legacy payloads do not carry it',
    'ip_addresses': 'legacy payloads carry fixed_ips only where Nova passes '
                    'the network info (create.end, rescue), Nova reads the '
                    "instance's cache on every event",
    'ip_addresses[].port_uuid': 'legacy fixed_ips do not name the port',
    'ip_addresses[].device_name': 'legacy fixed_ips do not name the tap '
                                  'device',
    'flavor.swap': 'instance payloads do not carry it',
    'flavor.rxtx_factor': 'instance payloads do not carry it',
    'flavor.vcpu_weight': 'instance payloads do not carry it',
    'flavor.is_public': 'instance payloads do not carry it',
    'flavor.extra_specs': 'instance payloads do not carry them',
    'flavor.projects': 'instance payloads do not carry them',
    'flavor.description': 'instance payloads do not carry it',
    'keypairs': 'legacy payloads do not carry the key pairs',
    'tags': 'legacy payloads do not carry the tags',
    'instance_name': 'legacy payloads do not carry the libvirt name',
    'rescue_image_ref': 'legacy rescue events name the rescue image, not '
                        'its id',
    'new_flavor': 'resize_prep.start names no new flavor, .end only its '
                  'name (and its database id, not its flavorid)',
    'fault.module_name': 'legacy faults carry no traceback to tell the '
                         'module from',
    'fault.function_name': 'legacy faults carry no traceback to tell the '
                           'function from',
    'fault.traceback': 'legacy faults carry no traceback',
    'delete.start.api:$publisher_id': 'nova-api sends this delete under '
                                      'the legacy publisher compute.<host>, '
                                      "as the compute service's own",
}

#: Legacy Trove payload keys whose values the translation leaves out on
#: purpose, with the reason: ``key``, ``key@<legacy event type>`` or
#: ``key=<value>``; a key path with dots reaches into a dict value. Every
#: other value of a legacy payload must appear in the output.
TROVE_DROPS = {
    'state_description': 'repeats state',
    'notification_classname': "Trove's RPC serialization leaks the name of "
                              'its notification class into the payload',
    'service_id=unknown-service-id-error': "Trove's placeholder for no "
                                           'service id, sent as null',
    'username._is_root': 'whether the user is root: not part of the '
                         'delete request',
    'availability_zone@trove.instance.delete': 'the zone is given on '
                                               'create only (seed 000)',
    'availability_zone@trove.instance.modify_flavor': 'the zone is given '
                                                      'on create only '
                                                      '(seed 000)',
}

#: Legacy payload keys that Nova's own versioned notification, read back,
#: gives although Nova's legacy twin lacks them, by path as in NOVA_EXCUSES.
NOVA_REVERSE_EXTRAS = {
    'fixed_ips': 'Nova sends fixed_ips only where the compute manager '
                 'passes the network info (create.end, rescue); the '
                 'versioned ip_addresses are in every event',
    'resize_prep.start:new_instance_type': "Nova's legacy resize.prep.start "
                                           'does not name the new flavor, '
                                           'the versioned one does',
}

_DATE = re.compile(r'^\d{4}-\d\d-\d\d[ T]\d\d:\d\d')


def run_judge(python, script, lines=()):
    """The JSON lines a judge script prints, run in its virtualenv, given
    ``lines`` (JSON values) on its input."""
    if not python.exists():
        raise RuntimeError('%s is missing: run .ci/setup, which creates it'
                           % python.parent.parent)
    result = subprocess.run([str(python), str(script)], capture_output=True,
                            text=True, timeout=600, check=False,
                            input=''.join(json.dumps(line) + '\n'
                                          for line in lines))
    if result.returncode:
        raise RuntimeError('%s failed:\n%s' % (script.name, result.stderr))
    return [json.loads(line) for line in result.stdout.splitlines()]


@functools.lru_cache(maxsize=None)
def nova_pairs():
    return tuple(run_judge(NOVA_PYTHON, NOVA_EMIT))


@functools.lru_cache(maxsize=None)
def translator(path=MAPPINGS):
    return translation.Translator.from_directory(path)


def leaves(node, path=''):
    """(path, value) of every field below a payload; nested payload
    classes are walked, lists of them get ``[<index>]`` in the path."""
    if isinstance(node, dict):
        data = [k for k in node if k.endswith('_object.data')]
        if data:
            for key, value in node[data[0]].items():
                yield from leaves(value, '%s.%s' % (path, key) if path
                                  else key)
            return
    if (isinstance(node, list) and node
            and all(isinstance(item, dict) for item in node)):
        for i, item in enumerate(node):
            yield from leaves(item, '%s[%d]' % (path, i))
        return
    yield path, node


def comparable(value):
    """A value as its legacy and versioned forms both give it: dates in UTC
    to the second, text in lower case."""
    text = str(value)
    if _DATE.match(text):
        when = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
        if when.tzinfo is not None:
            when = when.astimezone(datetime.timezone.utc).replace(
                tzinfo=None)
        return when.replace(microsecond=0).isoformat()
    return text.lower()


def scalars(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from scalars(item)
    elif value is not None and value != '':
        yield value


def keys(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys(item)


def _excuse(excuses, case, path):
    path = re.sub(r'\[\d+\]', '[]', path)
    for key in (case + ':' + path, path):
        parts = re.split(r'(?=[.\[])', key)
        for i in range(len(parts), 0, -1):
            prefix = ''.join(parts[:i])
            if prefix in excuses:
                return prefix
    return None


def _excuse_holds(legacy, path, expected):
    """Whether a value Nova sent is really nowhere in the legacy message.

    A boolean is looked for by its key (true and false are everywhere). In
    a list of objects the unit is the element: it is nowhere when one of
    its values is (a key pair's user is the instance's, the pair is not).
    """
    value = expected.get(path)
    if isinstance(value, bool):
        return path.rsplit('.', 1)[-1] not in set(keys(legacy))
    found = {comparable(v) for v in scalars(legacy)}
    element = re.match(r'^(.*\[\d+\])\.', path)
    if element:
        value = [v for p, v in expected.items()
                 if p.startswith(element.group(1) + '.')]
    wanted = [comparable(v) for v in scalars(value)
              if not isinstance(v, bool)]
    return any(v not in found for v in wanted) if element else not any(
        v in found for v in wanted)


def compare_nova(pairs, excuses=NOVA_EXCUSES, mappings=MAPPINGS):
    """Field by field: {'equal', 'excused', 'different', 'false_excuses',
    'untranslated'}, the last three as lists of what they are."""
    out = {'equal': 0, 'excused': 0, 'different': [], 'false_excuses': [],
           'untranslated': [], 'used_excuses': set()}
    t = translator(mappings)
    for pair in pairs:
        case = pair['action']
        [legacy], [versioned] = pair['legacy'], pair['versioned']
        outcome = t.to_versioned(envelope.from_message(legacy))
        if not outcome.ok or len(outcome.notifications) != 1:
            out['untranslated'].append((case, outcome.reason))
            continue
        [mine] = outcome.notifications
        envelope_keys = ('event_type', 'publisher_id', 'priority')
        expected = {'$' + k: versioned[k] for k in envelope_keys}
        actual = {'$' + k: mine[k] for k in envelope_keys}
        for k in ('name', 'namespace', 'version'):
            key = '$payload.nova_object.' + k
            expected[key] = versioned['payload']['nova_object.' + k]
            actual[key] = mine['payload']['nova_object.' + k]
        expected.update(leaves(versioned['payload']))
        actual.update(leaves(mine['payload']))
        for path in sorted(set(expected) | set(actual)):
            want = expected.get(path, '<missing>')
            if actual.get(path, '<missing>') == want:
                out['equal'] += 1
                continue
            excuse = _excuse(excuses, case, path)
            if excuse is None:
                out['different'].append((case, path, actual.get(path), want))
            elif not _excuse_holds(legacy, path, expected):
                out['false_excuses'].append((case, path, want))
            else:
                out['excused'] += 1
                out['used_excuses'].add(excuse)
    return out


def legacy_leaves(node, path=''):
    """(dotted path, value) of every scalar of a legacy payload; lists of
    objects get ``[<index>]`` in the path."""
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from legacy_leaves(value, '%s.%s' % (path, key) if path
                                     else key)
        return
    if (isinstance(node, list) and node
            and all(isinstance(item, dict) for item in node)):
        for i, item in enumerate(node):
            yield from legacy_leaves(item, '%s[%d]' % (path, i))
        return
    yield path, node


def same_legacy_value(got, want):
    """Equal, or the same date to the second (versioned dates keep no
    fraction) in the same form: the same separator, the same offset."""
    if got == want:
        return True
    return (isinstance(got, str) and isinstance(want, str)
            and bool(_DATE.match(want)) and bool(_DATE.match(got))
            and got[10] == want[10]
            and got.endswith('+00:00') == want.endswith('+00:00')
            and comparable(got) == comparable(want))


def compare_nova_reverse(pairs, extras=NOVA_REVERSE_EXTRAS,
                         mappings=MAPPINGS, legacy_options=None):
    """Nova's versioned notification read back against Nova's own legacy
    twin, key by key: {'equal', 'not_carried', 'different', 'invented',
    'untranslated', 'used_not_carried', 'used_extras'}. A key Nova's
    legacy has and the translation lacks must be listed as not carried by
    the mapping; a key the translation has and Nova's lacks, excused in
    ``extras``."""
    out = {'equal': 0, 'not_carried': 0, 'different': [], 'invented': [],
           'untranslated': [], 'used_not_carried': set(),
           'used_extras': set()}
    t = translation.Translator.from_directory(
        mappings, legacy_options or NOVA_LEGACY_OPTIONS)
    for pair in pairs:
        case = pair['action']
        [legacy], [versioned] = pair['legacy'], pair['versioned']
        outcome = t.to_legacy(envelope.from_message(versioned))
        if not outcome.ok:
            out['untranslated'].append((case, outcome.reason))
            continue
        [mine] = outcome.notifications
        [rule] = outcome.rules
        carried = dict(rule.writer.not_carried())
        envelope_keys = ('event_type', 'publisher_id', 'priority')
        expected = {'$' + k: legacy[k] for k in envelope_keys}
        actual = {'$' + k: mine[k] for k in envelope_keys}
        expected.update(legacy_leaves(legacy['payload']))
        actual.update(legacy_leaves(mine['payload']))
        for path in sorted(set(expected) | set(actual)):
            if path in expected and path in actual:
                if same_legacy_value(actual[path], expected[path]):
                    out['equal'] += 1
                else:
                    out['different'].append((case, path, actual[path],
                                             expected[path]))
            elif path in expected:
                excuse = _excuse(carried, case, path)
                if excuse is None:
                    out['different'].append((case, path, '<missing>',
                                             expected[path]))
                else:
                    out['not_carried'] += 1
                    out['used_not_carried'].add(excuse)
            else:
                excuse = _excuse(extras, case, path)
                if excuse is None:
                    out['invented'].append((case, path, actual[path]))
                else:
                    out['used_extras'].add(excuse)
    return out


#: The relay's [legacy] options for Nova 34 as tests/nova_real/emit.py
#: configures it ([glance] api_servers).
NOVA_LEGACY_OPTIONS = {'image_url': 'http://glance.example.org:9292'}


def ceilometer_events(messages):
    """What Ceilometer 27's own event converter makes of each message."""
    return run_judge(CEILOMETER_PYTHON, CEILOMETER_EVENTS, messages)


def compare_ceilometer(pairs, mappings=MAPPINGS):
    """Ceilometer's event of Nova's legacy notification against its event
    of the legacy one read back from Nova's versioned twin, trait by trait:
    {'events', 'equal', 'not_carried', 'different'}."""
    t = translation.Translator.from_directory(mappings, NOVA_LEGACY_OPTIONS)
    novas, ours = [], []
    for pair in pairs:
        [legacy], [versioned] = pair['legacy'], pair['versioned']
        outcome = t.to_legacy(envelope.from_message(versioned))
        [mine] = outcome.notifications if outcome.ok else [{}]
        context = envelope.context_of(versioned)
        novas.append(legacy)
        ours.append(dict(mine, **context))
    out = {'events': 0, 'equal': 0, 'not_carried': 0, 'different': []}
    events = ceilometer_events(novas + ours)
    for pair, theirs, mine in zip(pairs, events[:len(pairs)],
                                  events[len(pairs):]):
        case = pair['action']
        if theirs is None or mine is None or (
                theirs['event_type'] != mine['event_type']):
            out['different'].append((case, '$event', theirs and theirs[
                'event_type'], mine and mine['event_type']))
            continue
        out['events'] += 1
        for name in sorted(set(theirs['traits']) | set(mine['traits'])):
            want, got = theirs['traits'].get(name), mine['traits'].get(name)
            if got == want or (got and want and got[0] == want[0] ==
                               'datetime' and comparable(got[1]) ==
                               comparable(want[1])):
                out['equal'] += 1
            elif got is None and name in CEILOMETER_NOT_CARRIED:
                out['not_carried'] += 1
            else:
                out['different'].append((case, name, got, want))
    return out


def ceilometer_report(result):
    return ('Ceilometer 27, events of the legacy notifications read back '
            'against those of Nova\'s own: %d events, %d traits equal, %d '
            'not carried (%s), %d different' % (
                result['events'], result['equal'], result['not_carried'],
                ', '.join(sorted(CEILOMETER_NOT_CARRIED)),
                len(result['different'])))


def nova_reverse_report(result, pairs):
    known = result['equal'] + len(result['different'])
    return ('Nova 34, versioned to legacy: %d pairs; of the legacy keys the '
            'versioned payload carries, %d equal, %d different (%.1f %% '
            'equal); %d keys not carried (listed in the mappings); %d '
            'invented' % (len(pairs), result['equal'],
                          len(result['different']),
                          100.0 * result['equal'] / known if known else 0,
                          result['not_carried'], len(result['invented'])))


@functools.lru_cache(maxsize=None)
def _trove_judge():
    return tuple(run_judge(TROVE_PYTHON, TROVE_EMIT))


def trove_scenarios():
    return tuple(s for s in _trove_judge() if s['scenario'] != '$declared')


def trove_declared_actions():
    """The action of every API notification class Trove 26 has."""
    [declared] = [s for s in _trove_judge() if s['scenario'] == '$declared']
    return declared['messages']


def _drop(drops, event_type, key, value):
    for name in ('%s=%s' % (key, value), key, '%s@%s' % (key, event_type)):
        if name in drops:
            return name
    return None


def _payload_values(payload, path=''):
    """(key path, value) of every scalar of a legacy payload."""
    for key, value in payload.items():
        here = path + key
        if isinstance(value, dict):
            yield from _payload_values(value, here + '.')
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    yield from _payload_values(item, here + '.')
                else:
                    yield here, item
        elif value is not None and value != '':
            yield here, value


def compare_trove(scenarios, drops=TROVE_DROPS, mappings=MAPPINGS):
    """Every legacy Trove message: translated, and each value of its
    payload kept or deliberately dropped."""
    out = {'events': 0, 'kept': 0, 'dropped': 0, 'lost': [],
           'untranslated': [], 'notifications': [], 'used_drops': set()}
    t = translator(mappings)
    for scenario in scenarios:
        for legacy in scenario['messages']:
            out['events'] += 1
            event_type = legacy['event_type']
            outcome = t.to_versioned(envelope.from_message(legacy))
            if not outcome.ok:
                out['untranslated'].append((scenario['scenario'],
                                            outcome.reason))
                continue
            out['notifications'] += [(legacy, n)
                                     for n in outcome.notifications]
            kept = {comparable(v) for n in outcome.notifications
                    for v in scalars(n['payload'])}
            for key, value in _payload_values(legacy['payload']):
                drop = _drop(drops, event_type, key, value)
                if drop:
                    out['dropped'] += 1
                    out['used_drops'].add(drop)
                elif comparable(value) in kept:
                    out['kept'] += 1
                else:
                    out['lost'].append((scenario['scenario'], event_type,
                                        key, value))
    return out


def trove_report(result):
    return ('Trove 26: %d legacy events, every one translated: %s; %d '
            'values kept, %d deliberately dropped, %d lost' % (
                result['events'], not result['untranslated'],
                result['kept'], result['dropped'], len(result['lost'])))


def nova_report(result, pairs):
    carried = result['equal'] + len(result['different'])
    return ('Nova 34: %d legacy/versioned pairs, %d fields; %d equal, %d '
            'excused (legacy cannot carry them), %d different: %.1f %% of '
            'what legacy carries is equal' % (
                len(pairs), carried + result['excused'], result['equal'],
                result['excused'], len(result['different']),
                100.0 * result['equal'] / carried))


def main():
    pairs = nova_pairs()
    print(nova_report(compare_nova(pairs), pairs))
    print(nova_reverse_report(compare_nova_reverse(pairs), pairs))
    print(ceilometer_report(compare_ceilometer(pairs)))
    print(trove_report(compare_trove(trove_scenarios())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
