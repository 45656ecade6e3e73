"""The plans of a payload class: one small closure per field, which
reads, reshapes and checks the legacy value once.

A PayloadPlan builds the real oslo.versionedobjects object with them
(``build``): the reference the hot path (``translator.mapping.codegen``)
is tested against.
"""

import ast
import re

from translator import envelope
from translator.mapping import rules
from translator.mapping import spec
from translator.mapping import values

#: A field whose ``when`` condition is false and that is left out.
ABSENT = object()


class FieldError(Exception):
    """A legacy value cannot fill a field; ``path`` names the field."""

    def __init__(self, path, reason):
        super().__init__('%s: %s' % (path, reason))
        self.path = path
        self.reason = reason

    def within(self, outer):
        """The same error, seen from the field that holds this one."""
        sep = '' if self.path.startswith('[') else '.'
        return FieldError(outer + sep + self.path, self.reason)


def compile_condition(condition):
    """``{key: globs}`` to a predicate over the context dict."""
    checks = tuple((key, rules.glob_matcher(globs))
                   for key, globs in condition.items())

    def holds(ctx):
        for key, match in checks:
            value = ctx.get(key)
            if value is None or not match(value):
                return False
        return True
    return holds


def _source_path(path):
    """What a source path reads, as (kind, key): ``('.', None)`` the
    payload itself, ``('message', key)`` a request context key read where
    it travels (no context dict is made to translate), ``('ctx', key)`` a
    value of the envelope or the rule, ``('root', key)`` a payload key,
    ``('keys', keys)`` a nested one."""
    if path == '.':
        return '.', None
    if path.startswith(spec.CONTEXT_SOURCE):
        return 'message', (envelope.CONTEXT_PREFIX +
                           path[len(spec.CONTEXT_SOURCE):])
    if path.startswith('$'):
        return 'ctx', path[1:]
    keys = path.split('.')
    return ('root', keys[0]) if len(keys) == 1 else ('keys', keys)


def _reader(path):
    """A function reading one source path from (payload, context)."""
    kind, key = _source_path(path)
    if kind == '.':
        return lambda root, ctx: root
    if kind == 'message':
        return lambda root, ctx: ctx['message'].get(key)
    if kind == 'ctx':
        return lambda root, ctx: ctx.get(key)
    if kind == 'root':
        return lambda root, ctx: root.get(key)

    def read(root, ctx):
        value = root
        for name in key:
            if not isinstance(value, dict):
                return None
            value = value.get(name)
        return value
    return read


def _source_reader(sources):
    readers = [_reader(p) for p in sources]
    if len(readers) == 1:
        return readers[0]

    def read(root, ctx):
        for reader in readers:
            value = reader(root, ctx)
            if value is not None:
                return value
        return None
    return read


def _composer(parts):
    """A reader assembling an object from ``{key: source paths}``."""
    readers = tuple((key, _source_reader(paths))
                    for key, paths in parts.items())

    def read(root, ctx):
        built = {}
        for key, reader in readers:
            value = reader(root, ctx)
            if value is not None:
                built[key] = value
        return built
    return read


def _python_string(v):
    """The string a Python string literal stands for; None for any other
    text. literal_eval reads literals only: nothing is run."""
    if not isinstance(v, str) or v[:1] not in ('"', "'"):
        return None
    try:
        value = ast.literal_eval(v)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def _shaper(fspec):
    """Extract, unquote, case and map, in that order; None when there is
    none."""
    steps = []
    if 'extract' in fspec:
        pattern = re.compile(fspec['extract'])

        def extract(v):
            if not isinstance(v, str):
                return v
            found = pattern.search(v)
            return found.group(1) if found else None
        steps.append(extract)
    if 'unquote' in fspec:
        steps.append(_python_string)
    if 'case' in fspec:
        method = getattr(str, fspec['case'])
        steps.append(lambda v: method(v) if isinstance(v, str) else v)
    if 'map' in fspec:
        table = fspec['map']

        def remap(v):
            try:
                return table.get(v, v)
            except TypeError:  # unhashable legacy value: nothing to map
                return v
        steps.append(remap)
    if not steps:
        return None

    def shape(v):
        for step in steps:
            if v is None:
                return None
            v = step(v)
        return v
    return shape


def _empty_as_null(fspec):
    return fspec.get('empty_as_null', fspec['type'] != 'string')


def _where(fspec):
    """Where a field's value comes from, for error messages."""
    if 'constant' in fspec:
        return 'constant'
    if 'source' in fspec:
        return 'source ' + ' or '.join(fspec['source'])
    return 'compose' if 'compose' in fspec else 'default'


class FieldPlan:
    """One field: where its value comes from and how it is checked.

    ``primitive(root, ctx)`` gives the field's serialised value and
    ``value(root, ctx)`` the value to set on the object; both return ABSENT
    when a ``when`` condition leaves the field out, and raise FieldError.
    """

    __slots__ = ('name', 'spec', 'nested', 'where', 'value', 'primitive',
                 'convert_primitive')

    def __init__(self, name, fspec, nested=None):
        self.name = name
        self.spec = fspec
        self.nested = nested
        self.where = _where(fspec)
        if nested is not None:
            many = fspec['type'] == 'list_of_objects'
            self.convert_primitive = _nested(
                lambda root, ctx: nested.primitive(root, ctx), many)
            self.primitive = self._compose(self.convert_primitive, True)
            self.value = self._compose(_nested(nested.build, many), True)
        else:
            vtype = (values.enum_type(fspec['values']) if 'values' in fspec
                     else values.SCALAR_TYPES[fspec['type']])
            self.convert_primitive = vtype.primitive
            self.primitive = self._compose(vtype.primitive, False)
            self.value = self._compose(vtype.normalise, False)

    def _compose(self, convert, pass_ctx):
        fspec = self.spec
        name = self.name
        nullable = fspec['nullable']
        where = self.where
        if 'constant' in fspec:
            constant = fspec['constant']
            read = lambda root, ctx: constant  # noqa: E731
        elif 'source' in fspec:
            read = _source_reader(fspec['source'])
        elif 'compose' in fspec:
            read = _composer(fspec['compose'])
        else:
            read = lambda root, ctx: None  # noqa: E731
        shape = _shaper(fspec)
        empty_as_null = _empty_as_null(fspec)
        has_default = 'default' in fspec
        default = fspec.get('default')
        reject = fspec.get('reject')
        when = compile_condition(fspec['when']) if 'when' in fspec else None
        if 'present_if' in fspec:
            present = _source_reader(fspec['present_if'])
            if when is None:
                when_present = lambda root, ctx: (  # noqa: E731
                    present(root, ctx) is not None)
            else:
                cond = when
                when_present = lambda root, ctx: (  # noqa: E731
                    cond(ctx) and present(root, ctx) is not None)
        else:
            when_present = (None if when is None
                            else lambda root, ctx: when(ctx))
        otherwise = (ABSENT if fspec.get('otherwise', 'absent') == 'absent'
                     else None)

        def field(root, ctx):
            if when_present is not None and not when_present(root, ctx):
                return otherwise
            v = read(root, ctx)
            if shape is not None and v is not None:
                v = shape(v)
            if v is None or (empty_as_null and v == ''):
                if not has_default:
                    if nullable:
                        return None
                    raise FieldError(name, 'missing or null (%s)' % where)
                v = default
                if v is None:
                    return None
            if reject is not None:
                raise FieldError(name, '%s (%s)' % (reject, where))
            try:
                return convert(v, ctx) if pass_ctx else convert(v)
            except ValueError as exc:
                raise FieldError(name, '%s (%s)' % (exc, where)) from None
            except FieldError as exc:
                raise exc.within(name) from None
        return field


def _nested(build, many):
    """Convert a legacy dict (or list of them) with a nested plan."""
    if not many:
        def one(v, ctx):
            if not isinstance(v, dict):
                raise ValueError('not an object: %s' % type(v).__name__)
            return build(v, ctx)
        return one

    def each(v, ctx):
        if not isinstance(v, list):
            raise ValueError('not a list: %s' % type(v).__name__)
        out = []
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                raise FieldError('[%d]' % i, 'not an object: %s'
                                 % type(item).__name__)
            try:
                out.append(build(item, ctx))
            except FieldError as exc:
                raise exc.within('[%d]' % i) from None
        return out
    return each


class PayloadPlan:
    """One payload class: its fields' plans and its oslo class.

    ``classes()`` gives the oslo classes by (namespace, name), made when
    first asked for: the hot path needs none of them.
    """

    def __init__(self, pdef, classes):
        self.definition = pdef
        self._classes = classes
        self.prefix = spec.serial_namespace(pdef.namespace) + '.'
        self.data_key = self.prefix + 'data'
        self.fields = []
        #: ``primitive(root, ctx)``, the hot path: made by codegen
        self.primitive = None

    @property
    def cls(self):
        return self._classes()[(self.definition.namespace,
                                self.definition.name)]

    def build(self, root, ctx):
        """The oslo.versionedobjects object, set field by field."""
        obj = self.cls()
        for plan in self.fields:
            v = plan.value(root, ctx)
            if v is not ABSENT:
                setattr(obj, plan.name, v)
        return obj

    def build_primitive(self, root, ctx):
        """What a native emitter would send: the object, serialised."""
        obj = self.build(root, ctx)
        obj.obj_reset_changes(recursive=True)
        return obj.obj_to_primitive()
