"""Compile a checked mapping set into plans that translate quickly.

Each payload class becomes a PayloadPlan holding one small closure per
field. The closures read, reshape and check the legacy value once; the plan
then either assembles the primitive directly (the hot path, ``primitive``)
or builds the real oslo.versionedobjects object (``build``), which is the
reference the hot path is tested against.
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


def _reader(path):
    """A function reading one source path from (payload, context)."""
    if path == '.':
        return lambda root, ctx: root
    if path.startswith(spec.CONTEXT_SOURCE):
        # read where it travels: no context dict is made to translate
        key = envelope.CONTEXT_PREFIX + path[len(spec.CONTEXT_SOURCE):]
        return lambda root, ctx: ctx['message'].get(key)
    if path.startswith('$'):
        key = path[1:]
        return lambda root, ctx: ctx.get(key)
    keys = path.split('.')
    if len(keys) == 1:
        key = keys[0]
        return lambda root, ctx: root.get(key)

    def read(root, ctx):
        value = root
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
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


class FieldPlan:
    """One field: where its value comes from and how it is checked.

    ``primitive(root, ctx)`` gives the field's serialised value and
    ``value(root, ctx)`` the value to set on the object; both return ABSENT
    when a ``when`` condition leaves the field out, and raise FieldError.
    """

    __slots__ = ('name', 'spec', 'nested', 'value', 'primitive',
                 'convert_primitive')

    def __init__(self, name, fspec, nested=None):
        self.name = name
        self.spec = fspec
        self.nested = nested
        if nested is not None:
            many = fspec['type'] == 'list_of_objects'
            self.convert_primitive = None
            self.primitive = self._compose(
                _nested(lambda root, ctx: nested.primitive(root, ctx), many),
                True)
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
        if 'constant' in fspec:
            constant = fspec['constant']
            read = lambda root, ctx: constant  # noqa: E731
            where = 'constant'
        elif 'source' in fspec:
            read = _source_reader(fspec['source'])
            where = 'source ' + ' or '.join(fspec['source'])
        elif 'compose' in fspec:
            read = _composer(fspec['compose'])
            where = 'compose'
        else:
            read = lambda root, ctx: None  # noqa: E731
            where = 'default'
        shape = _shaper(fspec)
        empty_as_null = fspec.get('empty_as_null',
                                  fspec['type'] != 'string')
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


def _simple_key(field):
    """The payload key of a field read straight from one top-level key."""
    spec = field.spec
    sources = spec.get('source', ())
    if (field.nested is not None or len(sources) != 1
            or {'when', 'present_if', 'extract', 'unquote', 'case', 'map',
                'constant', 'reject'} & spec.keys()):
        return None
    key = sources[0]
    if key == '.' or key.startswith('$') or '.' in key:
        return None
    return key


_CONDITIONAL = frozenset({'when', 'present_if'})
_IMMUTABLE = (type(None), str, int, float, bool)


def _fixed(field):
    """A constant field whose primitive can be shared by every message."""
    if 'constant' not in field.spec or _CONDITIONAL & field.spec.keys():
        return False
    try:
        return isinstance(field.primitive({}, {}), _IMMUTABLE)
    except FieldError:
        return False  # it fails for every message; the closure says why


def _whole_payload_object(field):
    """A nested object read, unconditionally, from the payload itself."""
    spec = field.spec
    return (spec['type'] == 'object' and spec.get('source') == ['.']
            and not (_CONDITIONAL | {'reject'}) & spec.keys())


def _generate_primitive(plan):
    """Python source for ``primitive(root, ctx)`` of one payload class.

    Simple fields (one top-level key, no reshaping) are read inline; the
    rest call their FieldPlan. Same results and errors as the FieldPlans,
    several times faster: the property tests hold the two equal.
    """
    prefix = plan.prefix
    env = {'ABSENT': ABSENT, 'FieldError': FieldError}
    lines = ['def primitive(root, ctx):',
             '    data = {}',
             '    f = None',
             '    try:']
    for i, field in enumerate(plan.fields):
        name = field.name
        env['N%d' % i] = name
        if _fixed(field):
            # The same value for every message: computed once, here.
            env['V%d' % i] = field.primitive({}, {})
            lines.append('        data[N%d] = V%d' % (i, i))
            continue
        if _whole_payload_object(field):
            # looked up per call: the nested class may be compiled later
            env['P%d' % i] = field.nested
            lines += ['        try:',
                      '            data[N%d] = P%d.primitive(root, ctx)' % (i, i),
                      '        except FieldError as exc:',
                      '            raise exc.within(N%d) from None' % i]
            continue
        key = _simple_key(field)
        if key is None:
            env['P%d' % i] = field.primitive
            lines += ['        v = P%d(root, ctx)' % i,
                      '        if v is not ABSENT:',
                      '            data[N%d] = v' % i]
            continue
        spec = field.spec
        env['K%d' % i] = key
        env['C%d' % i] = field.convert_primitive
        empty_as_null = spec.get('empty_as_null', spec['type'] != 'string')
        lines.append('        v = root.get(K%d)' % i)
        lines.append('        if v is None%s:' % (" or v == ''"
                                                   if empty_as_null else ''))
        if 'default' in spec:
            env['D%d' % i] = (None if spec['default'] is None
                              else field.convert_primitive(spec['default']))
            lines.append('            data[N%d] = D%d' % (i, i))
        elif spec['nullable']:
            lines.append('            data[N%d] = None' % i)
        else:
            env['E%d' % i] = 'missing or null (source %s)' % key
            lines.append('            raise FieldError(N%d, E%d)' % (i, i))
        if spec['type'] == 'string' and 'values' not in spec:
            lines += ['        elif v.__class__ is str:',
                      '            data[N%d] = v' % i]
        env['W%d' % i] = ' (source %s)' % key
        lines += ['        else:',
                  '            f = %d' % i,
                  '            data[N%d] = C%d(v)' % (i, i)]
    env['WHERE'] = tuple(env.get('W%d' % i, '')
                         for i in range(len(plan.fields)))
    env['NAMES'] = tuple(f.name for f in plan.fields)
    lines += [
        '    except ValueError as exc:',
        '        raise FieldError(NAMES[f], str(exc) + WHERE[f]) from None',
        '    return {%r: %r, %r: %r, %r: %r, %r: data}' % (
            prefix + 'name', plan.definition.name,
            prefix + 'namespace', plan.definition.namespace,
            prefix + 'version', plan.definition.version,
            prefix + 'data'),
    ]
    code = compile('\n'.join(lines), '<payload %s.%s>' % (
        plan.definition.namespace, plan.definition.name), 'exec')
    exec(code, env)  # noqa: S102 - source built above from checked names
    return env['primitive']


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
