"""Compile a checked mapping set into plans that translate quickly.

Each payload class becomes a PayloadPlan holding one small closure per
field, which reads, reshapes and checks the legacy value once. The plan
builds the real oslo.versionedobjects object with them (``build``), the
reference the hot path is tested against; the hot path (``primitive``) is
one function per class generated from the same field specs, which
assembles the primitive directly.
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

    def finish(self, fields):
        self.fields = fields
        self.primitive = _generate_primitive(self)


_IMMUTABLE = (type(None), str, int, float, bool)


def _fixed(field):
    """A constant field whose primitive can be shared by every message."""
    fspec = field.spec
    if 'constant' not in fspec or 'when' in fspec or 'present_if' in fspec:
        return False
    try:
        return isinstance(field.primitive({}, {}), _IMMUTABLE)
    except FieldError:
        return False  # it fails for every message; the closure says why


class _Source:
    """Python source of one payload class's ``primitive(root, ctx)``,
    with the names it uses."""

    def __init__(self):
        self.env = {'FieldError': FieldError}
        self.lines = []

    def name(self, prefix, value):
        """A name in the function's globals for ``value``."""
        key = '%s%d' % (prefix, len(self.env))
        self.env[key] = value
        return key

    def add(self, indent, *lines):
        self.lines += ['    ' * indent + line for line in lines]

    def read(self, path):
        """An expression reading one source path, as ``_reader`` does."""
        kind, key = _source_path(path)
        if kind == '.':
            return 'root'
        if kind == 'keys':
            return '%s(root, ctx)' % self.name('R', _reader(path))
        return _READ_EXPRESSIONS[kind] % self.name('K', key)


#: The expressions reading a key of each kind but the nested one.
_READ_EXPRESSIONS = {'message': "ctx['message'].get(%s)",
                     'ctx': 'ctx.get(%s)', 'root': 'root.get(%s)'}


def _field_source(src, i, field):
    """Lines computing field ``i`` into ``data``: what FieldPlan._compose
    does, with the reads, conditions and checks written out."""
    fspec = field.spec
    name = src.name('N', field.name)
    condition = []
    if 'when' in fspec:
        condition.append('%s(ctx)' % src.name(
            'H', compile_condition(fspec['when'])))
    if 'present_if' in fspec:
        condition.append('(%s)' % ' or '.join(
            '%s is not None' % src.read(p) for p in fspec['present_if']))
    indent = 2
    if condition:
        src.add(indent, 'if %s:' % ' and '.join(condition))
        indent += 1
    if 'constant' in fspec:
        src.add(indent, 'v = %s' % src.name('K', fspec['constant']))
    elif 'source' in fspec:
        first, *rest = fspec['source']
        src.add(indent, 'v = %s' % src.read(first))
        for path in rest:
            src.add(indent, 'if v is None:', '    v = %s' % src.read(path))
    elif 'compose' in fspec:
        src.add(indent, 'v = %s(root, ctx)' % src.name(
            'R', _composer(fspec['compose'])))
    else:
        src.add(indent, 'v = None')
    shape = _shaper(fspec)
    if shape is not None:
        src.add(indent, 'if v is not None:',
                '    v = %s(v)' % src.name('S', shape))

    nested = field.nested is not None
    convert = src.name('C', field.convert_primitive)
    if nested:
        converted = ['f = %d' % i, 'try:',
                     '    data[%s] = %s(v, ctx)' % (name, convert),
                     'except FieldError as exc:',
                     '    raise exc.within(%s) from None' % name]
    else:
        converted = ['f = %d' % i, 'data[%s] = %s(v)' % (name, convert)]
    if 'reject' in fspec:
        converted = ['raise FieldError(%s, %s)' % (name, src.name(
            'E', '%s (%s)' % (fspec['reject'], field.where)))]
    default = fspec.get('default')
    src.add(indent, 'if v is None%s:' % (
        " or v == ''" if _empty_as_null(fspec) else ''))
    if default is not None and nested and 'reject' not in fspec:
        # read with the message's context: converted per message
        src.add(indent + 1, 'v = %s' % src.name('D', default))
        src.add(indent, *converted)
    else:
        if default is not None:
            empty = (converted if 'reject' in fspec else [
                'data[%s] = %s' % (name, src.name(
                    'D', field.convert_primitive(default)))])
        elif 'default' in fspec or fspec['nullable']:
            empty = ['data[%s] = None' % name]
        else:
            empty = ['raise FieldError(%s, %s)' % (name, src.name(
                'E', 'missing or null (%s)' % field.where))]
        src.add(indent + 1, *empty)
        if (fspec['type'] == 'string' and 'values' not in fspec
                and 'reject' not in fspec):
            src.add(indent, 'elif v.__class__ is str:',
                    '    data[%s] = v' % name)
        src.add(indent, 'else:')
        src.add(indent + 1, *converted)
    if condition and fspec.get('otherwise', 'absent') != 'absent':
        src.add(2, 'else:', '    data[%s] = None' % name)


def _generate_primitive(plan):
    """``primitive(root, ctx)`` of one payload class, as Python source.

    Every field is written out in one function, in the order of the
    class: reads, conditions and checks inline, no closure call per
    field, a constant computed once. Same results and errors as the
    FieldPlans: the property tests hold the two equal.
    """
    prefix = plan.prefix
    src = _Source()
    src.add(0, 'def primitive(root, ctx):', '    data = {}', '    f = None',
            '    try:')
    wheres = []
    for i, field in enumerate(plan.fields):
        wheres.append(' (%s)' % field.where)
        if _fixed(field):
            src.add(2, 'data[%s] = %s' % (src.name('N', field.name),
                                         src.name('V', field.primitive(
                                             {}, {}))))
        else:
            _field_source(src, i, field)
    src.env['WHERE'] = tuple(wheres)
    src.env['NAMES'] = tuple(f.name for f in plan.fields)
    src.add(1, 'except ValueError as exc:',
            '    raise FieldError(NAMES[f], str(exc) + WHERE[f]) from None',
            'return {%r: %r, %r: %r, %r: %r, %r: data}' % (
                prefix + 'name', plan.definition.name,
                prefix + 'namespace', plan.definition.namespace,
                prefix + 'version', plan.definition.version,
                prefix + 'data'))
    code = compile('\n'.join(src.lines), '<payload %s.%s>' % (
        plan.definition.namespace, plan.definition.name), 'exec')
    exec(code, src.env)  # noqa: S102 - source built above from checked names
    return src.env['primitive']


def compile_payloads(mapping_set, classes):
    """PayloadPlans for every class, nested classes wired in; classes()
    gives the oslo classes by (namespace, name)."""
    plans = {key: PayloadPlan(pdef, classes)
             for key, pdef in mapping_set.payloads.items()}
    for (namespace, _), plan in plans.items():
        plan.finish([
            FieldPlan(name, fspec, plans[(namespace, fspec['class_'])]
                      if 'class_' in fspec else None)
            for name, fspec in plan.definition.fields.items()])
    return plans
