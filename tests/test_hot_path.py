"""The compiled hot path produces exactly what the objects serialise to.

For every payload class of the shipped mappings, and of the feature mapping
of test_mapping_language, hypothesis generates legacy payloads (valid values
in legacy forms, and junk) and both paths must agree: the same primitive,
byte for byte once serialised, or the same error on the same field.
"""

import datetime
import functools

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from translator import translate
from translator.mapping import compiler
from tests.conftest import write_mappings
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


def legacy_payloads(plan, junk=True, depth=0):
    """Legacy dicts with every source path of the class.

    With ``junk`` a path may be missing or hold a value of any kind;
    without, every path holds a value of the field's type.
    """
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
            put = value.map(functools.partial(_put, path))
            parts.append(st.one_of(st.just({}), JUNK.map(
                functools.partial(_put, path)), put) if junk else put)
    return st.tuples(*parts).map(_merge)


def payloads_of(plan):
    return st.one_of(legacy_payloads(plan, junk=False), legacy_payloads(plan))


CONTEXTS = st.fixed_dictionaries({
    'event_type': st.sampled_from(['instance.create.start',
                                   'instance.delete.end',
                                   'instance.update', 'backup.create.error']),
    'legacy_event_type': st.sampled_from(['compute.instance.create.start',
                                          'trove.instance.delete']),
    'phase': st.sampled_from(['start', 'end', 'error']),
    'action': st.sampled_from(['create', 'delete', 'resize']),
    'publisher_id': st.just('compute.host1'),
    'service': st.just('compute'), 'host': st.just('host1'),
    'timestamp': st.just('2016-08-19 10:20:59.279903'),
    # the inner message, where $context.<key> sources read _context_<key>
    'message': st.fixed_dictionaries({}, optional={
        '_context_' + key: st.one_of(st.none(), st.text(max_size=8))
        for key in ('request_id', 'user_id', 'project_id')}),
})


def _outcome(make, root, ctx):
    try:
        return orjson.dumps(make(root, ctx)), None
    except compiler.FieldError as exc:
        return None, (exc.path, exc.reason)


def _plans():
    from tests.conftest import MAPPINGS
    sets = {'shipped': translate.Translator.from_directory(MAPPINGS)}
    import tempfile
    import pathlib
    tmp = pathlib.Path(tempfile.mkdtemp())
    sets['features'] = translate.Translator.from_directory(
        write_mappings(tmp, {'demo/instance.yaml': INSTANCE}))
    return [pytest.param(plan, id='%s:%s.%s' % (name, *key))
            for name, t in sets.items()
            for key, plan in sorted(t.payloads.items())]


def _examples(plan):
    """Fewer examples for the widest classes, whose inputs take long to
    generate: each of their fields still varies in every example."""
    return 150 if len(plan.fields) <= 30 else 50


@pytest.mark.parametrize('plan', _plans())
def test_hot_path_equals_object_serialisation(plan):
    @settings(max_examples=_examples(plan), deadline=None,
              suppress_health_check=[HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(root=payloads_of(plan), ctx=CONTEXTS)
    def agree(root, ctx):
        hot = _outcome(plan.primitive, root, ctx)
        reference = _outcome(plan.build_primitive, root, ctx)
        assert hot == reference
    agree()


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
