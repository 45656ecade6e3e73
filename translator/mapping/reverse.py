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
import re

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
    legacy keys of its serialised ``data`` into ``out``."""

    def __init__(self, definition, writers, options, date=None):
        self.definition = definition
        self._options = {'option.' + name: value
                         for name, value in options.items()}
        self._steps = []
        self._nested_writers = []
        for name, fspec in definition.fields.items():
            kind, where = _how(fspec)
            if kind in (SKIP, OMIT):
                continue
            legacy = fspec.get('legacy', {})
            if kind in (MERGE, NESTED, COMPOSED):
                nested = writers(fspec['class_'], legacy.get('date', date))
                self._nested_writers.append((kind, where, nested, fspec[
                    'type'] == 'list_of_objects'))
                self._steps.append(self._nested(
                    name, kind, where, nested,
                    fspec['type'] == 'list_of_objects'))
            else:
                self._steps.append(self._scalar(
                    name, where, fspec, legacy.get('date', date)))
        self._computed = [(key, self._value(value))
                          for key, value in definition.legacy.items()]
        self.prefix = spec.serial_namespace(definition.namespace) + '.'
        self.data_key = self.prefix + 'data'

    def _scalar(self, name, key, fspec, date):
        legacy = fspec.get('legacy', {})
        inverse = ({v: k for k, v in fspec['map'].items()}
                   if 'map' in fspec else None)
        empty_given = 'empty' in legacy
        empty = legacy.get('empty')
        skip_null = legacy.get('skip_null', False)
        templates = legacy.get('format')
        is_date = fspec['type'] == 'datetime'
        options = self._options

        def write(data, out):
            if name not in data:
                return  # absent in this event (`when`, `present_if`)
            value = data[name]
            if empty_given and _is_empty(value):
                _put(out, key, empty)
                return
            if value is None:
                if not skip_null:
                    _put(out, key, None)
                return
            try:
                if is_date:
                    value = _legacy_date(value, date)
                if inverse is not None:
                    value = inverse.get(value, value)
            except (ValueError, TypeError) as exc:
                raise ReverseError(name, str(exc)) from None
            if templates is not None:
                value = _render(templates, dict(options, value=value))
            _put(out, key, value)
        return write

    def _nested(self, name, kind, where, nested, many):
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

        def write(data, out):
            value = data.get(name)
            if value is None:
                if name in data and kind == NESTED:
                    _put(out, where, None)
                return
            if many:
                if not isinstance(value, list):
                    raise ReverseError(name, 'not a list')
                _put(out, where, [one(item) for item in value])
            elif kind == MERGE:
                out.update(one(value))
            elif kind == COMPOSED:
                inner = one(value)
                for part, legacy_key in where.items():
                    if part in inner:
                        _put(out, legacy_key, inner[part])
            else:
                _put(out, where, one(value))
        return write

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

    def write(self, data, out):
        for step in self._steps:
            step(data, out)
        for key, compute in self._computed:
            _put(out, key, compute(data))


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
