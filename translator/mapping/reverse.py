"""Versioned to legacy: the mapping set read backwards.

A field read from one plain legacy path is written back there, as it is:
a rename, a nested path, a nested class whose facts sit at the top level
(``source: .``), a list of nested classes, an object composed of keys
(``compose``), a value map (inverted). What cannot be read backwards says
how next to the field (``legacy``: the key, the date format, the legacy
value of an empty one, a template, or ``omit`` with the reason), and what
the versioned payload does not carry at all is listed with its reason
(``not_carried``): it is left out, never invented. A field read from the
notification around the payload (``$context``, ``$publisher_id``) or a
constant was never in the legacy payload: nothing is written for it.

``problems`` says what a class lacks to be read backwards, ``ClassWriter``
writes it; both go by one classification of each field (``_how``).
"""

import datetime
import operator
import re

from translator.mapping import codegen
from translator.mapping import spec

_UTC = datetime.timezone.utc
_TEMPLATE_NAME = re.compile(r'\{([^{}]*)\}')


class ReverseError(Exception):
    """A versioned value that cannot be written back; ``path`` names the
    field."""

    def __init__(self, path, reason):
        super().__init__('%s: %s' % (path, reason))
        self.path = path
        self.reason = reason

    def within(self, outer):
        sep = '' if self.path.startswith('[') else '.'
        return ReverseError(outer + sep + self.path, self.reason)


class NotReversible(Exception):
    """A field its mapping does not say how to write back."""


# -- what each field becomes ---------------------------------------------

SKIP = 'skip'  # never in the legacy payload: nothing to write
OMIT = 'omit'  # in it under the name read, but said not to be written
MERGE = 'merge'  # a nested class whose facts sit at the top level
NESTED = 'nested'  # a nested class (or list of them) under a key
COMPOSED = 'composed'  # a nested class made of some legacy keys
SCALAR = 'scalar'


def _payload_paths(fspec):
    return [p for p in fspec.get('source', ()) if not p.startswith('$')]


def _how(fspec):
    """(kind, legacy key or compose map) of one field; NotReversible says
    what its mapping must add."""
    legacy = fspec.get('legacy', {})
    if 'omit' in legacy:
        return OMIT, None
    if 'constant' in fspec:
        return SKIP, None
    if 'compose' in fspec:
        return COMPOSED, {key: _payload_paths({'source': paths})[0]
                          for key, paths in fspec['compose'].items()
                          if _payload_paths({'source': paths})}
    paths = _payload_paths(fspec)
    if not paths:
        return SKIP, None  # the envelope, the context, or only a default
    key = legacy.get('key')
    if key is None:
        if len(paths) > 1:
            raise NotReversible(
                'read from %s: say which key it goes back to (legacy.key)'
                % ' or '.join(paths))
        key = paths[0]
    if fspec['type'] in spec.OBJECT_TYPES:
        return (MERGE, None) if key == '.' else (NESTED, key)
    for step in ('extract', 'unquote'):
        # cut out of the key it goes back to: the rest of it is not known
        if step in fspec and key in paths and 'format' not in legacy:
            raise NotReversible(
                'its value is cut out of the legacy one (%s): say how it is '
                'written back (legacy.format) or omit it (legacy.omit)'
                % step)
    if 'map' in fspec:
        values = list(fspec['map'].values())
        if len(set(map(repr, values))) != len(values):
            raise NotReversible('its map gives one value for several legacy '
                                'ones: say how (legacy.format) or omit it')
    return SCALAR, key


def problems(definition, classes, dated=False):
    """[(field name or None, what is wrong)] that keep a payload class
    from being read backwards; ``classes(name)`` gives a nested class's
    definition, ``dated``: its dates have a form from the field that holds
    it."""
    found = []
    for name, fspec in definition.fields.items():
        try:
            kind, _ = _how(fspec)
        except NotReversible as exc:
            found.append((name, str(exc)))
            continue
        if kind in (SKIP, OMIT):
            continue
        if fspec['type'] in spec.OBJECT_TYPES:
            nested = classes(fspec['class_'])
            inner_dated = dated or 'date' in fspec.get('legacy', {})
            found += [('%s.%s' % (name, field) if field else name, why)
                      for field, why in problems(nested, classes,
                                                 inner_dated)]
        elif (fspec['type'] == 'datetime' and not dated
              and 'date' not in fspec.get('legacy', {})):
            found.append((name, 'a date written back needs its legacy form '
                                '(legacy.date)'))
    for key, value in definition.legacy.items():
        for name in _names(value):
            if name.split('.')[0] not in definition.fields:
                found.append((None, 'legacy %s: %r is not a field of %s'
                              % (key, name, definition.name)))
    return found


def _names(value):
    if 'sum' in value:
        return list(value['sum'])
    if 'field' in value:
        return [value['field']]
    return [name for template in value['format']
            for name in _TEMPLATE_NAME.findall(template)
            if not name.startswith('option.')]


# -- writing ----------------------------------------------------------------


def _put(out, key, value):
    """Set a dotted key of the legacy payload."""
    *parents, last = key.split('.')
    for part in parents:
        out = out.setdefault(part, {})
    out[last] = value


def _is_empty(value):
    return value is None or value == '' or (
        value == 0 and value is not False)


def _render(templates, names):
    """The first template whose names all have a value; None if none."""
    for template in templates:
        wanted = _TEMPLATE_NAME.findall(template)
        if all(names.get(name) is not None for name in wanted):
            return _TEMPLATE_NAME.sub(
                lambda found: str(names[found.group(1)]), template)
    return None


def _legacy_date(text, form):
    if not isinstance(text, str):
        raise ValueError('not a date: %r' % (text,))
    try:
        value = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        raise ValueError('not a date: %r' % text) from None
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    return value.strftime(form)


class ClassWriter:
    """One payload class, written back: ``write(data, out)`` puts the
    legacy keys of its serialised ``data`` into ``out``.

    ``write`` is one function generated for the class, every field written
    out in it as ``_how`` says, as the forward hot path is
    (``translator.mapping.codegen``).
    """

    def __init__(self, definition, writers, options, date=None):
        self.definition = definition
        self._options = {'option.' + name: value
                         for name, value in options.items()}
        self.prefix = spec.serial_namespace(definition.namespace) + '.'
        self.data_key = self.prefix + 'data'
        self._nested_writers = []
        src = codegen.FunctionSource(ReverseError=ReverseError,
                                     EMPTY=_is_empty)
        src.add(0, 'def write(data, out):', '    f = None', '    try:')
        names = []
        for name, fspec in definition.fields.items():
            kind, where = _how(fspec)
            if kind in (SKIP, OMIT):
                continue
            legacy = fspec.get('legacy', {})
            names.append(name)
            src.add(2, 'f = %d' % (len(names) - 1))
            if kind in (MERGE, NESTED, COMPOSED):
                nested = writers(fspec['class_'], legacy.get('date', date))
                many = fspec['type'] == 'list_of_objects'
                self._nested_writers.append((kind, where, nested, many))
                self._nested_source(src, name, kind, where, nested, many)
            else:
                self._scalar_source(src, name, where, fspec,
                                    legacy.get('date', date))
        for key, value in definition.legacy.items():
            src.add(2, _put_line(src, key, '%s(data)' % src.name(
                'C', self._value(value))))
        src.env['NAMES'] = tuple(names)
        src.add(2, 'pass')  # a class of which nothing is written back
        src.add(1, 'except (ValueError, TypeError) as exc:',
                '    raise ReverseError(NAMES[f], str(exc)) from None')
        self.write = src.function('write', '<legacy %s.%s>' % (
            definition.namespace, definition.name))

    def _scalar_source(self, src, name, key, fspec, date):
        legacy = fspec.get('legacy', {})
        field = src.name('N', name)
        src.add(2, 'if %s in data:' % field, '    v = data[%s]' % field)
        if 'empty' in legacy:
            src.add(3, 'if EMPTY(v):', '    ' + _put_line(
                src, key, src.name('E', legacy['empty'])))
        else:
            src.add(3, 'if v is None:', '    ' + (
                'pass' if legacy.get('skip_null')
                else _put_line(src, key, 'None')))
        src.add(3, 'else:')
        if fspec['type'] == 'datetime':
            src.add(4, 'v = %s(v)' % src.name('D', _date_writer(date)))
        if 'map' in fspec:
            src.add(4, 'v = %s.get(v, v)' % src.name('M', {
                v: k for k, v in fspec['map'].items()}))
        if 'format' in legacy:
            src.add(4, 'v = %s(%s, dict(%s, value=v))' % (
                src.name('F', _render), src.name('T', legacy['format']),
                src.name('O', self._options)))
        src.add(4, _put_line(src, key, 'v'))

    def _nested_source(self, src, name, kind, where, nested, many):
        field = src.name('N', name)
        one = src.name('W', _one(name, nested))
        src.add(2, 'v = data.get(%s)' % field, 'if v is None:')
        if kind == NESTED:  # null, where the key is there
            src.add(3, 'if %s in data:' % field,
                    '    ' + _put_line(src, where, 'None'))
        else:
            src.add(3, 'pass')
        src.add(2, 'else:')
        if many:
            src.add(3, _put_line(src, where, '%s(%s, v)' % (
                src.name('L', _each), one)))
        elif kind == MERGE:
            src.add(3, 'out.update(%s(v))' % one)
        elif kind == COMPOSED:
            src.add(3, 'v = %s(v)' % one)
            for part, legacy_key in where.items():
                part_name = src.name('P', part)
                src.add(3, 'if %s in v:' % part_name, '    ' + _put_line(
                    src, legacy_key, 'v[%s]' % part_name))
        else:
            src.add(3, _put_line(src, where, '%s(v)' % one))

    def _value(self, value):
        empty_given = 'empty' in value
        empty = value.get('empty')

        def compute(data):
            if 'sum' in value:
                parts = [_path(data, name) for name in value['sum']]
                result = (None if any(p is None for p in parts)
                          else sum(parts))
            elif 'field' in value:
                result = _path(data, value['field'])
            else:
                names = dict(self._options)
                for template in value['format']:
                    for name in _TEMPLATE_NAME.findall(template):
                        if not name.startswith('option.'):
                            names[name] = _path(data, name)
                result = _render(value['format'], names)
            if empty_given and _is_empty(result):
                return empty
            return result
        return compute

    def not_carried(self, prefix=''):
        """(legacy key path, why) of every legacy key the versioned payload
        does not carry, nested classes' included; ``[]`` stands for each
        element of a list."""
        for key, why in self.definition.not_carried.items():
            yield prefix + key, why
        for kind, where, nested, many in self._nested_writers:
            if kind == MERGE:
                yield from nested.not_carried(prefix)
            elif kind == NESTED:
                yield from nested.not_carried('%s%s%s.' % (
                    prefix, where, '[]' if many else ''))


def _put_line(src, key, expression):
    """A line setting a dotted key of ``out`` to ``expression``."""
    *parents, last = key.split('.')
    target = 'out'
    for part in parents:
        target = '%s.setdefault(%s, {})' % (target, src.name('K', part))
    return '%s[%s] = %s' % (target, src.name('K', last), expression)


def _one(name, nested):
    """What the nested class's serialised value gives, read back."""
    def one(value):
        if not isinstance(value, dict) or nested.data_key not in value:
            raise ReverseError(name, 'not a %s object' % (
                nested.definition.name))
        inner = {}
        try:
            nested.write(value[nested.data_key], inner)
        except ReverseError as exc:
            raise exc.within(name) from None
        return inner
    return one


def _each(one, values):
    if not isinstance(values, list):
        raise ValueError('not a list')
    return [one(value) for value in values]


_ISO_UTC = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z').match
#: strftime directives, to where a versioned date (UTC, to the second:
#: 2016-08-19T10:20:49Z) holds them, or what they are in it
_PLACES = {'%Y': slice(0, 4), '%m': slice(5, 7), '%d': slice(8, 10),
           '%H': slice(11, 13), '%M': slice(14, 16), '%S': slice(17, 19)}
_FIXED = {'%f': '000000', '%%': '%%'}


def _date_writer(form):
    """A function from a versioned date to the legacy ``form``. A date in
    the form versioned payloads give is re-arranged as text; any other, or
    a form of other directives, goes through datetime."""
    parts = re.split(r'(%.)', form)
    if not all(part in _PLACES or part in _FIXED for part in parts[1::2]):
        return lambda text: _legacy_date(text, form)
    text_form = ''.join(
        part.replace('%', '%%') if i % 2 == 0 else
        '%s' if part in _PLACES else _FIXED[part]
        for i, part in enumerate(parts))
    places = [_PLACES[part] for part in parts[1::2] if part in _PLACES]
    pick = (operator.itemgetter(*places) if len(places) > 1 else
            (lambda text: (text[places[0]],)) if places else
            (lambda text: ()))

    def write(text):
        if text.__class__ is str and _ISO_UTC(text):
            return text_form % pick(text)
        return _legacy_date(text, form)
    return write


def _path(data, dotted):
    """A field's value, dotted through nested classes' data."""
    value = data
    for part in dotted.split('.'):
        if not isinstance(value, dict):
            return None
        value = _unwrapped(value.get(part))
    return value


def _unwrapped(value):
    """The data of a serialised nested class; other values as they are."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key.endswith('_object.data'):
                return inner
    return value


def writers(mapping_set, options):
    """``writer(namespace, name, date)``: the ClassWriter of a payload class
    whose dates take ``date`` (None: each field's own), made once."""
    made = {}

    def writer(namespace, name, date=None):
        key = (namespace, name, date)
        if key not in made:
            definition = mapping_set.payload(namespace, name)
            made[key] = ClassWriter(
                definition, lambda nested, nested_date: writer(
                    namespace, nested, nested_date), options, date)
        return made[key]
    return writer
