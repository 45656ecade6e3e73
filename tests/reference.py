"""An independent reference for the hot path.

A payload is built the plain way: each field's legacy value is read by
following the mapping's declared sources as the mapping language documents
them (``translator docs mapping-language``), and set on the
oslo.versionedobjects object, whose own field coercion decides the value;
the object then serialises itself. Nothing here comes from
``translator.mapping.values`` or the compiler's readers, which the hot path
and ``PayloadPlan.build`` share: a defect there changes both of them, not
this.

Where the translator's documented rule for a type (``spec.FIELD_TYPES``)
is not what oslo's coercion does, the type has an entry in TYPE_RULES
saying why; every other type is oslo's coercion alone.
"""

import ast
import datetime
import fnmatch
import functools
import re
import warnings

from oslo_versionedobjects import fields

_UTC = datetime.timezone.utc
_TRUE = frozenset({'1', 't', 'true', 'on', 'y', 'yes'})
_FALSE = frozenset({'0', 'f', 'false', 'off', 'n', 'no'})


class Refused(Exception):
    """Refused(path, reason): the legacy value cannot fill that field."""

    @property
    def path(self):
        return self.args[0]


def _integer(coerce, value):
    # oslo's int() truncates 2.7 to 2 and reads True as 1: each would report
    # a number the service never sent, so a fraction or a boolean is refused.
    # Beyond 64 bits JSON consumers lose digits, so that is refused too.
    if isinstance(value, bool) or (isinstance(value, float)
                                   and not value.is_integer()):
        raise ValueError('not an integer: %r' % (value,))
    value = coerce(value)
    if not -2 ** 63 <= value < 2 ** 63:
        raise ValueError('beyond 64 bits: %r' % (value,))
    return value


def _float(coerce, value):
    # oslo's float() reads True as 1.0; a boolean is no measurement.
    if isinstance(value, bool):
        raise ValueError('not a number: %r' % (value,))
    return coerce(value)


def _boolean(coerce, value):
    # oslo's bool() makes any non-empty text true, 'false' and 'no'
    # included. Legacy payloads write booleans as text, so text is read the
    # way oslo.utils reads it (any case, blanks around ignored), and the
    # numbers 1 and 0; everything else is refused.
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        value = value.strip().lower() in _TRUE
    elif type(value) is int and value in (0, 1):
        value = bool(value)
    elif not isinstance(value, bool):
        raise ValueError('not a boolean: %r' % (value,))
    return coerce(value)


def _uuid(coerce, value):
    # oslo only warns about a value that is not a UUID (a FutureWarning
    # that says it will refuse them); the translator refuses them already,
    # by the same test, and takes only text: 32 digits of a number are no
    # identifier.
    if not isinstance(value, str):
        raise ValueError('not a UUID: %r' % (value,))
    with warnings.catch_warnings():
        warnings.simplefilter('error', FutureWarning)
        try:
            return coerce(value)
        except FutureWarning:
            raise ValueError('not a UUID: %r' % (value,)) from None


def _datetime(coerce, value):
    # Text is read as Python's ISO 8601 parser reads it, blanks around
    # ignored, as the translator documents (oslo's iso8601 would also take
    # '2016' and refuse week dates); a time without offset is UTC, as oslo
    # has it. The time is then given in UTC, which oslo does not do: every
    # versioned notification says 'Z'. Years before 1000 are refused: no
    # notification has one, and strftime writes them unpadded.
    if isinstance(value, str):
        parsed = datetime.datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_UTC)
        try:
            value = parsed.astimezone(_UTC)
        except OverflowError:
            raise ValueError('beyond year 9999 in UTC: %r' % (value,)) \
                from None
        if value.year < 1000:
            raise ValueError('before year 1000 in UTC: %r' % (value,))
    return coerce(value)


def _ip_address(coerce, value):
    # oslo hands anything to netaddr, which makes 5 into 0.0.0.5; an
    # address is text, and blanks around it are ignored.
    if not isinstance(value, str):
        raise ValueError('not an IP address: %r' % (value,))
    return coerce(value.strip())


def _enum(coerce, value):
    # A string field with `values` turns numbers into their text first, as
    # every string field does; oslo's Enum compares the number with the
    # texts and refuses it.
    return coerce(fields.String().coerce(None, None, value))


TYPE_RULES = {
    'int': _integer,
    'float': _float,
    'bool': _boolean,
    'uuid': _uuid,
    'datetime': _datetime,
    'ip_address': _ip_address,
}


def _read(path, root, ctx):
    if path == '.':
        return root
    if path.startswith('$context.'):
        # the request context travels as _context_<key> in the message
        return ctx['message'].get('_context_' + path[len('$context.'):])
    if path.startswith('$'):
        return ctx.get(path[1:])
    value = root
    for key in path.split('.'):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _first(paths, root, ctx):
    """The first of the paths that holds a value (not null)."""
    for path in paths:
        value = _read(path, root, ctx)
        if value is not None:
            return value
    return None


def _present(fspec, root, ctx):
    for key, globs in fspec.get('when', {}).items():
        value = ctx.get(key)
        if value is None or not any(fnmatch.fnmatchcase(value, glob)
                                    for glob in globs):
            return False
    return ('present_if' not in fspec
            or _first(fspec['present_if'], root, ctx) is not None)


def _legacy_value(fspec, root, ctx):
    if 'constant' in fspec:
        return fspec['constant']
    if 'source' in fspec:
        return _first(fspec['source'], root, ctx)
    if 'compose' in fspec:
        composed = {key: _first(paths, root, ctx)
                    for key, paths in fspec['compose'].items()}
        return {k: v for k, v in composed.items() if v is not None}
    return None


def _python_literal(text):
    """What a Python string literal stands for, by Python's definition."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _shaped(fspec, value):
    """extract, unquote, case, map: in that order, on what they apply
    to."""
    if 'extract' in fspec and isinstance(value, str):
        found = re.search(fspec['extract'], value)
        value = found.group(1) if found else None
    if 'unquote' in fspec and value is not None:
        value = (_python_literal(value) if isinstance(value, str)
                 and value[:1] in '\'"' else None)
    if 'case' in fspec and isinstance(value, str):
        value = value.lower() if fspec['case'] == 'lower' else value.upper()
    if 'map' in fspec and value is not None:
        try:
            value = fspec['map'].get(value, value)
        except TypeError:  # a list or an object is no key of the map
            pass
    return value


def _value(name, fspec, root, ctx):
    """The legacy value as the field's rule gives it; None for null."""
    value = _shaped(fspec, _legacy_value(fspec, root, ctx))
    if value == '' and fspec.get('empty_as_null', fspec['type'] != 'string'):
        value = None
    if value is None:
        return fspec.get('default')
    if 'reject' in fspec:
        raise Refused(name, fspec['reject'])
    return value


class Reference:
    """Payload primitives of the classes of one PayloadRegistry."""

    def __init__(self, registry):
        self.classes = registry.classes

    def primitive(self, cls, root, ctx):
        obj = self.build(cls, root, ctx)
        obj.obj_reset_changes(recursive=True)
        return obj.obj_to_primitive()

    def build(self, cls, root, ctx):
        obj = cls()
        for name, fspec in cls.mapping.fields.items():
            if _present(fspec, root, ctx):
                self._set(obj, name, fspec, _value(name, fspec, root, ctx),
                          ctx)
            elif fspec.get('otherwise', 'absent') != 'absent':
                self._set(obj, name, fspec, None, ctx)
        return obj

    def _set(self, obj, name, fspec, value, ctx):
        coerce = functools.partial(obj.fields[name].coerce, obj, name)
        rule = _enum if 'values' in fspec else TYPE_RULES.get(fspec['type'])
        try:
            if value is not None and 'class_' in fspec:
                value = self._objects(obj, fspec, value, ctx)
            elif value is not None and rule is not None:
                value = rule(coerce, value)
            setattr(obj, name, value)
        except Refused as exc:
            sep = '' if exc.path.startswith('[') else '.'
            raise Refused(name + sep + exc.path, *exc.args[1:]) from None
        # oslo's coercion raises TypeError for some kinds (int([])).
        except (ValueError, TypeError) as exc:
            raise Refused(name, str(exc)) from None

    def _objects(self, obj, fspec, value, ctx):
        """Nested objects built from a legacy object or list of them; what
        is neither is left for oslo's field to refuse."""
        cls = self.classes[(obj.OBJ_PROJECT_NAMESPACE, fspec['class_'])]
        if fspec['type'] == 'object':
            return self.build(cls, value, ctx) if isinstance(
                value, dict) else value
        if not isinstance(value, list):
            return value
        built = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise Refused('[%d]' % i, 'not an object')
            try:
                built.append(self.build(cls, item, ctx))
            except Refused as exc:
                raise Refused('[%d].%s' % (i, exc.path),
                              *exc.args[1:]) from None
        return built
