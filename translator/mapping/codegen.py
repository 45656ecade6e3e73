"""The hot path: one Python function per payload class, generated from
its field specs, that assembles the serialised payload directly.

What each function does is what the class's FieldPlans do
(``translator.mapping.plans``), with the reads, conditions and checks
written out: no closure call per field, a constant computed once. The
property tests hold the two equal.
"""

from translator.mapping import plans
from translator.mapping.plans import FieldError

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


class FunctionSource:
    """Python source of one generated function, with the values it uses
    as names of its globals."""

    def __init__(self, **env):
        self.env = dict(env)
        self.lines = []

    def name(self, prefix, value):
        """A name in the function's globals for ``value``."""
        key = '%s%d' % (prefix, len(self.env))
        self.env[key] = value
        return key

    def add(self, indent, *lines):
        self.lines += ['    ' * indent + line for line in lines]

    def function(self, name, filename):
        """The function ``name`` the source defines."""
        code = compile('\n'.join(self.lines), filename, 'exec')
        exec(code, self.env)  # noqa: S102 - source built from checked names
        return self.env[name]


class _Source(FunctionSource):
    """Python source of one payload class's ``primitive(root, ctx)``."""

    def __init__(self):
        super().__init__(FieldError=FieldError)

    def read(self, path):
        """An expression reading one source path, as ``_reader`` does."""
        kind, key = plans._source_path(path)
        if kind == '.':
            return 'root'
        if kind == 'keys':
            return '%s(root, ctx)' % self.name('R', plans._reader(path))
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
            'H', plans.compile_condition(fspec['when'])))
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
            'R', plans._composer(fspec['compose'])))
    else:
        src.add(indent, 'v = None')
    shape = plans._shaper(fspec)
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
        " or v == ''" if plans._empty_as_null(fspec) else ''))
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


def generate_primitive(plan):
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
    return src.function('primitive', '<payload %s.%s>' % (
        plan.definition.namespace, plan.definition.name))
