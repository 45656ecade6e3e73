"""Reference documentation, generated from the mapping language and set.

The language reference is built by walking the schemas of
``translator.mapping.spec``, so a key added there is documented without
anyone editing this module; the event references are built from a loaded
mapping set. ``check_all`` lets a test insist the committed copies are
current.
"""

import json
import pathlib
import re

from marshmallow import fields, validate

from translator import config
from translator.mapping import loader, reverse, spec

LANGUAGE_FILE = 'mapping-language.rst'
EXAMPLE = pathlib.PurePath('trove', 'instance.yaml')


def _heading(text, char):
    return [text, char * len(text), '']


def _literals(values):
    return ', '.join('``%s``' % v for v in values)


def _list_table(headers, rows):
    """A list-table; a cell is text or a list of paragraphs."""
    if not rows:
        return ['None.', '']
    lines = ['.. list-table::', '   :header-rows: 1', '']
    for row in [headers] + rows:
        for i, cell in enumerate(row):
            paragraphs = cell if isinstance(cell, list) else [cell]
            text = '\n\n'.join(p for p in paragraphs if p)
            mark = '   * - ' if i == 0 else '     - '
            for j, line in enumerate(text.split('\n')):
                lines.append(((mark if j == 0 else ' ' * len(mark)) + line)
                             .rstrip())
    return lines + ['']


# The language ------------------------------------------------------------

def _title(schema):
    words = re.sub(r'(?<!^)(?=[A-Z])', ' ', schema.__name__)
    return words.removesuffix(' Schema').capitalize()


def _nested(field):
    """The schema a field holds, directly or as list or mapping values."""
    if isinstance(field, fields.Nested):
        return field.nested
    if isinstance(field, fields.List):
        return _nested(field.inner)
    if isinstance(field, fields.Dict) and field.value_field is not None:
        return _nested(field.value_field)
    return None


def _schemas(schema, path=''):
    """(schema, key path) of ``schema`` and every schema below it."""
    yield schema, path
    for name, field in schema().fields.items():
        inner = _nested(field)
        if inner is None:
            continue
        key = path + (field.data_key or name)
        if isinstance(field, fields.List):
            key += '[]'
        elif isinstance(field, fields.Dict):
            key += '.<name>'
        yield from _schemas(inner, key + '.')


def _value(field):
    """What a key takes, from its field class and validators."""
    if type(field).__module__ == spec.__name__:
        # The language's own value kinds say what they are in a docstring.
        kind = type(field).__doc__.strip().rstrip('.')
        kind = kind[0].lower() + kind[1:]
    elif isinstance(field, fields.Nested):
        kind = '`%s`_' % _title(field.nested)
    elif isinstance(field, fields.List):
        kind = 'list of ' + _value(field.inner)
    elif isinstance(field, fields.Dict) and field.value_field:
        kind = 'mapping of %s to %s' % (_value(field.key_field),
                                        _value(field.value_field))
    else:
        kind = {'Raw': 'any value'}.get(type(field).__name__,
                                        type(field).__name__.lower())
    for check in field.validators:
        if isinstance(check, validate.OneOf):
            kind += ' (one of %s)' % _literals(check.choices)
        elif isinstance(check, validate.Regexp):
            kind += ' (matching ``%s``)' % check.regex.pattern
    return kind


def _schema_section(schema, path):
    lines = _heading(_title(schema), '-')
    if path:
        lines += ['Each ``%s``:' % path.rstrip('.'), '']
    rows = [['``%s``%s' % (field.data_key or name,
                           ' (required)' if field.required else ''),
             _value(field), field.metadata['description']]
            for name, field in schema().fields.items()]
    return lines + _list_table(['Key', 'Value', 'Description'], rows)


def render_language():
    """The mapping language reference, in reStructuredText."""
    lines = _heading('The mapping language', '=') + [
        'Generated from ``translator/mapping/spec.py`` by '
        '``translator docs``; do not edit.', '',
        'A mapping file, ``mappings/<service>/*.yaml``, is a YAML mapping; '
        'each section below is one level of it.', '']
    for schema, path in _schemas(spec.MappingFileSchema):
        lines += _schema_section(schema, path)
    lines += _heading('Field types', '-') + _list_table(
        ['Type', 'Meaning'],
        [['``%s``' % name, meaning] for name, meaning in
         spec.FIELD_TYPES.items()])
    example = pathlib.Path(config.default_mappings_dir()) / EXAMPLE
    lines += _heading('Example', '-') + [
        '``mappings/%s``:' % EXAMPLE.as_posix(), '', '.. code-block:: yaml',
        '']
    lines += [('   ' + line).rstrip()
              for line in example.read_text(encoding='utf-8').splitlines()]
    return '\n'.join(lines).rstrip('\n') + '\n'


# The events of a service -------------------------------------------------

def service_of(mapping_set, file):
    """The folder of mappings/ a file is in (``nova``), or None."""
    relative = pathlib.Path(file).resolve().relative_to(
        pathlib.Path(mapping_set.root).resolve())
    return relative.parts[0] if len(relative.parts) > 1 else None


def _legacy(rule):
    cell = ['``%s``' % pattern for pattern in rule['match']]
    if 'exclude' in rule:
        cell.append('except ' + _literals(rule['exclude']))
    for name, allowed in rule.get('captures', {}).items():
        if isinstance(allowed, dict):
            allowed = ['%s → %s' % item for item in allowed.items()]
        cell.append('``{%s}``: %s' % (name, _literals(allowed)))
    return cell


def _rule_row(mapping_set, ruledef):
    rule = ruledef.spec
    pdef = mapping_set.payload(rule['namespace'], rule['payload'])
    return [_legacy(rule), '``%s``' % rule['event_type'],
            rule.get('priority', 'default'), '``%s``' % rule['publisher'],
            '``%s`` %s' % (pdef.name, pdef.version), rule.get('doc', '')]


def _field_row(name, field, first_version):
    kind = '``%s``' % field['type']
    if 'class_' in field:
        kind += ' of ``%s``' % field['class_']
    if 'values' in field:
        kind += ', one of ' + _literals(field['values'])
    source = [_literals(field.get('source', ()))]
    for fixed in ('constant', 'default'):
        if fixed in field:
            source.append('%s ``%s``' % (fixed, json.dumps(field[fixed])))
    return ['``%s``' % name, kind, 'yes' if field['nullable'] else 'no',
            source, field.get('since', first_version),
            field.get('doc', '')]


def _reverse_rule_row(mapping_set, ruledef):
    rule = ruledef.spec
    pdef = mapping_set.payload(rule['namespace'], rule['payload'])
    return ['``%s``' % rule['event_type'], _legacy(rule),
            '``%s``' % (rule.get('legacy_publisher') or (
                '{publisher_id}' if rule['publisher'] == '{publisher_id}'
                else '{service}.{host}')),
            '``%s``' % pdef.name]


def read_back(mapping_set):
    """(namespace, name) of every payload class that rules with
    ``reverse`` read back, nested classes included."""
    found = set()

    def walk(namespace, name):
        if (namespace, name) in found:
            return
        found.add((namespace, name))
        for field in mapping_set.payload(namespace, name).fields.values():
            if 'class_' in field:
                walk(namespace, field['class_'])
    for ruledef in mapping_set.rules:
        if ruledef.spec['reverse']:
            walk(ruledef.spec['namespace'], ruledef.spec['payload'])
    return found


def _written_back(name, field):
    """(legacy key, how) of one field read back, or None if nothing is
    written for it."""
    kind, where = reverse._how(field)
    legacy = field.get('legacy', {})
    if kind == reverse.SKIP:
        return None
    if kind == reverse.OMIT:
        return '-', 'not written: %s' % legacy['omit']
    if kind == reverse.MERGE:
        return '(the keys of ``%s``)' % field['class_'], 'at the top level'
    if kind == reverse.COMPOSED:
        return _literals(sorted(where.values())), ', '.join(
            '``%s`` from its ``%s``' % (key, part)
            for part, key in where.items())
    how = []
    if 'date' in legacy:
        how.append('dates as ``%s``' % legacy['date'])
    if 'empty' in legacy:
        how.append("null, 0 or '' as ``%s``" % json.dumps(legacy['empty']))
    if legacy.get('skip_null'):
        how.append('left out when null')
    if 'format' in legacy:
        how.append('as ' + ' or '.join('``%s``' % t
                                       for t in legacy['format']))
    if 'map' in field:
        how.append('the value map inverted')
    return '``%s``' % where, '; '.join(how) or 'as it is'


def _read_back_section(pdef):
    rows = []
    for name, field in pdef.fields.items():
        written = _written_back(name, field)
        if written is not None:
            rows.append([written[0], '``%s``' % name, written[1]])
    for key, value in pdef.legacy.items():
        how = ('sum of ' + _literals(value['sum']) if 'sum' in value else
               'copy of ``%s``' % value['field'] if 'field' in value else
               ' or '.join('``%s``' % t for t in value['format']))
        if 'empty' in value:
            how += "; null, 0 or '' as ``%s``" % json.dumps(value['empty'])
        rows.append(['``%s``' % key, '-', [how, value.get('doc', '')]])
    lines = ['Read back into legacy payloads:', ''] + _list_table(
        ['Legacy key', 'Field', 'How'], rows)
    if pdef.not_carried:
        lines += ['Legacy keys not carried, left out:', ''] + _list_table(
            ['Legacy key', 'Why'], [['``%s``' % key, why] for key, why in
                                    pdef.not_carried.items()])
    return lines


def _payload_section(pdef, read_back_too=False):
    lines = _heading(pdef.name, '~')
    if pdef.doc:
        lines += [pdef.doc, '']
    lines += [':Namespace: ``%s``' % pdef.namespace,
              ':Version: %s' % pdef.version, ':History:', '']
    lines += ['  * %s: %s' % item for item in pdef.history.items()] + ['']
    first = pdef.first_version
    lines += _list_table(
        ['Field', 'Type', 'Nullable', 'Source', 'Since', 'Description'],
        [_field_row(name, field, first)
         for name, field in pdef.fields.items()])
    return lines + (_read_back_section(pdef) if read_back_too else [])


def render_events(mapping_set, service):
    """The events and payload classes of one service, in reStructuredText."""
    def ours(file):
        return service_of(mapping_set, file) == service

    lines = _heading('%s events' % service.capitalize(), '=') + [
        'Generated from ``mappings/%s/`` by ``translator docs``; do not '
        'edit. The keys are described in ``%s``.' % (service, LANGUAGE_FILE),
        '']
    lines += _heading('Translated events', '-') + _list_table(
        ['Legacy event type', 'Versioned event type', 'Priority',
         'Publisher', 'Payload', 'Description'],
        [_rule_row(mapping_set, r) for r in mapping_set.rules
         if ours(r.file)])
    lines += _heading('Untranslated events', '-') + _list_table(
        ['Legacy event type', 'Reason'],
        [[_literals(globs), reason]
         for globs, reason, file in mapping_set.untranslated if ours(file)])
    backwards = [r for r in mapping_set.rules
                 if ours(r.file) and r.spec['reverse']]
    if backwards:
        lines += _heading('Versioned events read back into legacy ones',
                          '-') + _list_table(
            ['Versioned event type', 'Legacy event type', 'Legacy publisher',
             'Payload'],
            [_reverse_rule_row(mapping_set, r) for r in backwards])
        lines += _heading('Versioned events without a legacy form',
                          '-') + _list_table(
            ['Versioned event type', 'Reason'],
            [[_literals(globs), reason]
             for globs, reason, file in mapping_set.versioned_only
             if ours(file)])
    read = read_back(mapping_set)
    lines += _heading('Payload classes', '-')
    for key, pdef in mapping_set.payloads.items():
        if ours(pdef.file):
            lines += _payload_section(pdef, key in read)
    return '\n'.join(lines).rstrip('\n') + '\n'


# Files -------------------------------------------------------------------

def _generate(mappings_dir, out_dir):
    """{path: text} of every doc file the mapping set gives."""
    mapping_set = loader.load_mapping_set(mappings_dir)
    out_dir = pathlib.Path(out_dir)
    docs = {out_dir / LANGUAGE_FILE: render_language()}
    for service in sorted({service_of(mapping_set, f)
                           for f in mapping_set.files} - {None}):
        docs[out_dir / ('events-%s.rst' % service)] = render_events(
            mapping_set, service)
    return docs


def write_files(files):
    """Write generated files, ``{path: text}``; return their paths."""
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding='utf-8')
    return list(files)


def outdated(files):
    """Paths of generated files, ``{path: text}``, that are missing or
    hold another text."""
    return [path for path, text in files.items()
            if not path.is_file()
            or path.read_text(encoding='utf-8') != text]


def write_all(mappings_dir, out_dir):
    """Write every doc file; return their paths."""
    return write_files(_generate(mappings_dir, out_dir))


def check_all(mappings_dir, out_dir):
    """Paths of the doc files that are missing or not current."""
    return outdated(_generate(mappings_dir, out_dir))
