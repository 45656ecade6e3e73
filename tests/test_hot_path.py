"""The compiled hot path produces exactly what the objects serialise to.

For every payload class of the shipped mappings, and of the feature mapping
of test_mapping_language, hypothesis generates legacy payloads (valid values
in legacy forms, and junk) and both paths must agree: the same primitive,
byte for byte once serialised, or the same error on the same field.

Both paths share their readers and value conversions, so each is also held
to tests/reference.py, which builds the object from the raw legacy values
through oslo's own field coercion: the same primitive, or a refusal of the
same field (its reasons are oslo's words, not the translator's).
"""

import datetime
import functools
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from translator import envelope
from translator import translation
from translator.mapping import plans
from tests import reference
from tests.conftest import write_mappings
from tests.test_golden import CASES, GOLDEN
from tests.test_mapping_language import INSTANCE

#: Nested classes deeper than this get junk or nothing: each nested class
#: is also tested as a top-level class, and deep trees cost minutes.
MAX_DEPTH = 2
JUNK = st.one_of(st.none(), st.just(''), st.booleans(), st.integers(),
                 st.floats(allow_nan=False, allow_infinity=False),
                 st.text(max_size=8), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(),
                                 max_size=2))
_DATES = st.datetimes(min_value=datetime.datetime(1000, 1, 2), timezones=st.one_of(
    st.none(), st.sampled_from([0, 120, -300]).map(
        lambda m: datetime.timezone(datetime.timedelta(minutes=m)))))
VALID = {
    'string': st.one_of(st.text(max_size=10), st.integers()),
    'int': st.one_of(st.integers(-2**40, 2**40),
                     st.integers(0, 999).map(str)),
    'float': st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                       st.integers(-1000, 1000)),
    'bool': st.one_of(st.booleans(), st.sampled_from(
        ['true', 'False', 'yes', '0', 1, 0])),
    'uuid': st.uuids().map(str),
    'datetime': st.tuples(_DATES, st.sampled_from([' ', 'T'])).map(
        lambda d: d[0].isoformat(d[1])),
    'ip_address': st.one_of(st.ip_addresses().map(str)),
    'mac_address': st.lists(st.integers(0, 255), min_size=6,
                            max_size=6).flatmap(
        lambda octets: st.sampled_from([':', '-']).map(
            lambda sep: sep.join('%02X' % o for o in octets))),
    'dict_of_strings': st.dictionaries(st.text(max_size=5), st.one_of(
        st.text(max_size=5), st.integers()), max_size=3),
    'list_of_strings': st.lists(st.text(max_size=5), max_size=3),
}


def _put(path, value):
    out = {}
    node = out
    keys = path.split('.')
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return out


def _merge(parts):
    out = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = _merge([out[key], value])
            else:
                out[key] = value
    return out


def _scalar(fspec, junk):
    if 'values' in fspec:
        valid = st.sampled_from(fspec['values'])
    else:
        valid = VALID[fspec['type']]
    if 'map' in fspec:
        valid = st.one_of(st.sampled_from(sorted(map(str, fspec['map']))),
                          valid)
    return st.one_of(valid, JUNK) if junk else valid


def _placed(path, value, junk):
    put = value.map(functools.partial(_put, path))
    return st.one_of(st.just({}), JUNK.map(functools.partial(_put, path)),
                     put) if junk else put


def _composed(nested, key, junk):
    """Values for a key of ``compose``: those of the nested field reading
    it, if it is a plain one."""
    readers = [f for f in nested.fields
               if f.nested is None and f.spec.get('source') == [key]]
    return _scalar(readers[0].spec, junk) if readers else JUNK


def legacy_payloads(plan, junk=True, depth=0):
    """Legacy dicts with every source path of the class.

    With ``junk`` a path may be missing or hold a value of any kind;
    without, every path holds a value of the field's type.
    """
    return st.tuples(*_parts(plan, junk, depth)).map(_merge)


def _parts(plan, junk, depth):
    """A strategy per source path of the class: {path: value}."""
    nested = functools.partial(legacy_payloads, junk=junk, depth=depth + 1)
    parts = []
    for field in plan.fields:
        spec = field.spec
        for path in spec.get('source', []) + spec.get('present_if', []):
            if path.startswith('$'):
                continue
            if path == '.':
                if field.nested is not None and depth < MAX_DEPTH:
                    parts.append(nested(field.nested))
                continue
            if field.nested is None:
                value = _scalar(spec, junk)
            elif depth >= MAX_DEPTH:
                value = JUNK
            elif spec['type'] == 'object':
                value = nested(field.nested)
            else:
                value = st.lists(nested(field.nested), max_size=2)
            parts.append(_placed(path, value, junk))
        for key, paths in spec.get('compose', {}).items():
            parts += [_placed(path, _composed(field.nested, key, junk), junk)
                      for path in paths if path[0] not in '$.']
    return parts


def one_bad_path(plan):
    """Legacy dicts valid but for one path, missing or junk: a class fails
    on its first bad field, so with junk everywhere the later fields would
    seldom be reached with it."""
    good, bad = _parts(plan, False, 0), _parts(plan, True, 0)
    return st.integers(0, len(good) - 1).flatmap(lambda i: st.tuples(
        *good[:i], bad[i], *good[i + 1:])).map(_merge)


def payloads_of(plan):
    return st.one_of(legacy_payloads(plan, junk=False), legacy_payloads(plan),
                     one_bad_path(plan))


CONTEXTS = st.fixed_dictionaries({
    'event_type': st.sampled_from(['instance.create.start',
                                   'instance.delete.end',
                                   'instance.update', 'backup.create.error']),
    'legacy_event_type': st.sampled_from(['compute.instance.create.start',
                                          'trove.instance.delete']),
    'publisher_id': st.just('compute.host1'),
    'service': st.just('compute'), 'host': st.just('host1'),
    'timestamp': st.just('2016-08-19 10:20:59.279903'),
    # the inner message, where $context.<key> sources read _context_<key>
    'message': st.fixed_dictionaries({}, optional={
        '_context_' + key: st.one_of(st.none(), st.text(max_size=8))
        for key in ('request_id', 'user_id', 'project_id')}),
}, optional={  # captures: a rule without them may use the class
    'phase': st.sampled_from(['start', 'end', 'error']),
    'action': st.sampled_from(['create', 'delete', 'resize']),
})


def _outcome(make, root, ctx):
    try:
        return orjson.dumps(make(root, ctx)), None
    except plans.FieldError as exc:
        return None, (exc.path, exc.reason)


def _judged(outcome):
    """An outcome as the reference can tell it: no reason for a refusal."""
    primitive, error = outcome
    return primitive, error and error[0]


def _reference_outcome(ref, plan, root, ctx):
    try:
        return orjson.dumps(ref.primitive(plan.cls, root, ctx)), None
    except reference.Refused as exc:
        return None, exc.path


def assert_as_reference(ref, plan, root, ctx, hot=None):
    hot = hot or _outcome(plan.primitive, root, ctx)
    assert _judged(hot) == _reference_outcome(ref, plan, root, ctx)


def _plans():
    from tests.conftest import MAPPINGS
    sets = {'shipped': translation.Translator.from_directory(MAPPINGS)}
    import tempfile
    import pathlib
    tmp = pathlib.Path(tempfile.mkdtemp())
    sets['features'] = translation.Translator.from_directory(
        write_mappings(tmp, {'demo/instance.yaml': INSTANCE}))
    return [pytest.param(plan, reference.Reference(t.registry),
                         id='%s:%s.%s' % (name, *key))
            for name, t in sets.items()
            for key, plan in sorted(t.payloads.items())]


def _examples(plan):
    """Fewer examples for the widest classes, whose inputs take long to
    generate: each of their fields still varies in every example."""
    return 150 if len(plan.fields) <= 30 else 50


@pytest.mark.parametrize('plan,ref', _plans())
def test_hot_path_equals_object_serialisation(plan, ref):
    @settings(max_examples=_examples(plan), deadline=None,
              suppress_health_check=[HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(root=payloads_of(plan), ctx=CONTEXTS)
    def agree(root, ctx):
        hot = _outcome(plan.primitive, root, ctx)
        assert hot == _outcome(plan.build_primitive, root, ctx)
        assert_as_reference(ref, plan, root, ctx, hot)
    agree()


BUILT = [case for case in CASES
         if json.loads(case.read_text()).get('outcome') != 'unmapped']


@pytest.mark.parametrize('case', BUILT,
                         ids=[str(p.relative_to(GOLDEN)) for p in BUILT])
def test_reference_agrees_on_golden_samples(shipped, case):
    spec = json.loads(case.read_text())
    ref = reference.Reference(shipped.registry)
    compared = []

    def both(plan, root, ctx):
        assert_as_reference(ref, plan, root, ctx)
        compared.append(plan)
        return plan.primitive(root, ctx)
    outcome = shipped.to_versioned(envelope.parse(orjson.dumps(spec['input'])),
                                build=both)
    assert outcome.kind == spec.get('outcome', translation.TRANSLATED)
    assert len(compared) == max(1, len(outcome.notifications))


def test_generator_reaches_both_outcomes():
    # The property above is only worth something if the generated inputs
    # both translate and fail; check that on the richest class.
    [plan] = [p.values[0] for p in _plans()
              if p.id == 'features:demo.InstancePayload']
    seen = set()

    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(root=payloads_of(plan), ctx=CONTEXTS)
    def run(root, ctx):
        seen.add(_outcome(plan.primitive, root, ctx)[1] is None)
    run()
    assert seen == {True, False}


#: Classes for the deterministic comparisons below.
DEMO = '''
payloads:
  Edge:
    version: "1.0"
    history: {"1.0": Initial version}
    fields:
      string: {type: string, source: string, nullable: true}
      int: {type: int, source: int, nullable: true}
      float: {type: float, source: float, nullable: true}
      bool: {type: bool, source: bool, nullable: true}
      uuid: {type: uuid, source: uuid, nullable: true}
      datetime: {type: datetime, source: datetime, nullable: true}
      ip_address: {type: ip_address, source: ip_address, nullable: true}
      mac_address: {type: mac_address, source: mac_address, nullable: true}
      dict_of_strings: {type: dict_of_strings, source: dict_of_strings,
                        nullable: true}
      list_of_strings: {type: list_of_strings, source: list_of_strings,
                        nullable: true}
      enum: {type: string, source: enum, values: ['1', a], nullable: true}
  Inner:
    version: "1.0"
    history: {"1.0": Initial version}
    fields: {name: {type: string, source: name, nullable: true},
             size: {type: int, source: size, nullable: true}}
  Read:
    version: "1.0"
    history: {"1.0": Initial version}
    fields:
      dotted: {type: string, source: a.b.c, nullable: true}
      fallback: {type: string, source: [first, second], nullable: true}
      context: {type: string, source: [$context.user, $host], nullable: true}
      shaped: {type: string, source: power, extract: '^power-(.*)$',
               case: lower, map: {'on': running}, nullable: true}
      phase: {type: string, source: $phase, when: {phase: 'err*'},
              nullable: true}
      volume: {type: string, source: vol, present_if: [vol_id, vol],
               nullable: true}
      composed: {type: object, class: Inner, nullable: true,
                 compose: {name: [new_name, old_name], size: new_size}}
      whole: {type: object, class: Inner, source: ., nullable: true}
      listed: {type: list_of_objects, class: Inner, source: items,
               default: []}
      numa: {type: string, source: numa, nullable: true, reject: no NUMA}
      empty: {type: string, source: empty, nullable: true,
              empty_as_null: true}
'''
UUID = '178b0921-8f85-4257-88b6-2e743b5a975c'
#: Legacy values at the edges of each type's rule, where the translator's
#: documented rule and oslo's coercion part (reference.TYPE_RULES) or
#: where a conversion could slip; hypothesis seldom draws them.
EDGE_VALUES = {
    'string': [' a b ', '\tx\n', 5, 2.5, True, [], {}],
    'int': [2.0, 2.7, -0.5, True, False, ' 12 ', '1_000', '2.0', '0x10',
            2 ** 63 - 1, 2 ** 63, -2 ** 63, -2 ** 63 - 1, 1e20, [1]],
    'float': [1, 1.5, ' 2.5 ', '1e3', True, 'x', [1.0]],
    'bool': [True, 0, 1, 2, 1.0, 'yes', 'No', ' TRUE ', 'on', 'OFF', 't',
             'f', 'y', 'n', '1', '0', 'maybe', [], {}],
    'uuid': [UUID, UUID.upper(), '{%s}' % UUID, 'urn:uuid:' + UUID,
             UUID.replace('-', ''), UUID + '\n', ' %s ' % UUID,
             10 ** 31, 'nope', 5],
    'datetime': ['2016-08-19 10:20:49+00:00', '2016-08-19T10:20:59.135390',
                 '2016-08-19T10:20:49+02:00', '2016-08-19 10:20:49-0530',
                 ' 2016-08-19T10:20:49 ', '2016-08-19', '2016-08-19T10',
                 '2016-W33-5', '2016-08-19t10:20:49Z',
                 '1000-01-01T00:00:00+01:00', '0999-12-31T23:00:00-01:00',
                 '9999-12-31T23:59:59-01:00', '2016-02-30T00:00:00', '2016',
                 1471602049, 'yesterday'],
    'ip_address': ['192.168.1.1', ' 10.0.0.1 ', '::1', 'FE80::0001',
                   '::ffff:1.2.3.4', '1', '01.2.3.4', '1.2.3.4\n', 5, True],
    'mac_address': ['FA-16-3E-A3-C0-0F', 'fa:16:3e:a3:c0:0f',
                    'fa16.3ea3.c00f', 'fa:16:3e:a3:c0:0f\n', 'zz', 5],
    'dict_of_strings': [{'a': 'b', 'n': 1, 'f': 0.5}, {'a': None},
                        {'a': [1]}, [], 'x'],
    'list_of_strings': [['a', 1, 2.5, True], [None], 'ab', {}],
    'enum': ['1', 1, 1.0, 'a', 'A', True],
}


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """(plan of a DEMO class by name, the reference)."""
    t = translation.Translator.from_directory(write_mappings(
        tmp_path_factory.mktemp('demo'), {'demo/demo.yaml': DEMO}))
    return (lambda name: t.payloads[('demo', name)],
            reference.Reference(t.registry))


@pytest.mark.parametrize('name,value', [
    (name, value) for name, values in EDGE_VALUES.items()
    for value in values])
def test_edge_values_as_the_reference(demo, name, value):
    plan, ref = demo
    assert_as_reference(ref, plan('Edge'), {name: value}, {'message': {}})


#: Legacy payloads (and context) at the edges of how the language reads
#: sources, each for one or two fields of Read.
READ_CASES = [
    {'a': {'b': {'c': 'x'}}}, {'a': {'b': 'x'}}, {'a': [{'b': {'c': 'x'}}]},
    {'first': '', 'second': 's'}, {'first': None, 'second': 's'},
    {'second': 0}, {'$context': {'user': 'u'}}, {'$context': {'user': None}},
    {'power': 'power-ON'}, {'power': 'POWER-on'}, {'power': 'power-Off'},
    {'power': 5}, {'power': ['x']}, {'$phase': 'error'}, {'$phase': 'end'},
    {},
    {'vol': 'v'}, {'vol_id': '', 'vol': None}, {'vol_id': 1},
    {'new_name': None, 'old_name': 'o', 'new_size': '2'}, {'new_name': 'n'},
    {'name': 'w', 'size': 2.5}, {'items': [{'name': 'a'}, 'x']},
    {'items': [{'size': 'big'}]}, {'items': {}}, {'items': None},
    {'numa': {'cells': []}}, {'numa': ''}, {'empty': ''},
]


@pytest.mark.parametrize('case', READ_CASES, ids=str)
def test_reading_as_the_reference(demo, case):
    plan, ref = demo
    root = {k: v for k, v in case.items() if not k.startswith('$')}
    # the request context travels as _context_<key> in the inner message
    ctx = {'host': 'host1', 'message': {
        '_context_' + key: value
        for key, value in case.get('$context', {}).items()}}
    if '$phase' in case:
        ctx['phase'] = case['$phase']
    assert_as_reference(ref, plan('Read'), root, ctx)
