"""The mapping language, defined once.

These marshmallow schemas are the only definition of what a mapping file may
say: the loader validates with them, their messages become the load errors,
and ``translator docs mapping-language`` renders their descriptions.
"""

import re

from marshmallow import (RAISE, Schema, ValidationError, fields, validate,
                         validates_schema)

from translator.mapping import values

#: Value types a payload field may have; each is backed by an
#: oslo.versionedobjects field class (see ``translator.objects``).
FIELD_TYPES = {
    'string': 'text; ints and floats are turned into their text as '
              'oslo.versionedobjects does',
    'int': 'integer; numeric strings are accepted. A fraction, a boolean '
           'or a number beyond 64 bits is refused (oslo.versionedobjects '
           'would make 2.7 into 2 and true into 1)',
    'float': 'floating point number; numeric strings are accepted, '
             'booleans refused',
    'bool': 'boolean; also the numbers 1 and 0 and, in any case, the '
            'strings true/false, yes/no, on/off, t/f, y/n and 1/0; '
            'anything else is refused',
    'uuid': 'UUID string, checked and kept as written',
    'datetime': "date and time; legacy forms such as '2016-08-19 10:20:49+00:00' "
                "and '2016-08-19T10:20:59.135390' become '2016-08-19T10:20:49Z'"
                ". Any ISO 8601 text Python's datetime.fromisoformat reads, "
                "blanks around it ignored; without an offset it is UTC; "
                "given in UTC to the second, which must fall in the years "
                "1000 to 9999",
    'ip_address': 'IPv4 or IPv6 address as text (blanks around it '
                  'ignored), given in canonical form',
    'mac_address': 'MAC address, lower case with colons',
    'dict_of_strings': 'object whose values are strings',
    'list_of_strings': 'list of strings',
    'object': 'nested payload class named by `class`',
    'list_of_objects': 'list of nested payload classes named by `class`; '
                       'each element of the source list is the source of one',
}
OBJECT_TYPES = ('object', 'list_of_objects')

VERSION_RE = r'^\d+\.\d+$'


def version_key(version):
    """``'1.10'`` -> ``(1, 10)``: versions compare as numbers, not as
    text."""
    return tuple(int(part) for part in version.split('.'))
IDENTIFIER_RE = r'^[A-Za-z_][A-Za-z0-9_]*$'
#: Source roots other than the legacy payload; see ``FieldSchema.source``.
ENVELOPE_SOURCES = ('$publisher_id', '$service', '$host', '$event_type',
                    '$legacy_event_type', '$timestamp')
#: A key of the request context sent beside the payload (``_context_<key>``
#: on the wire).
CONTEXT_SOURCE = '$context.'
# `$context` alone is the whole context, which no field can hold.
_DOLLAR_PATH_RE = r'^\$((?!context$)[A-Za-z_]\w*|context\.[A-Za-z_]\w*)$'


def serial_namespace(namespace):
    """The key prefix of a payload class's serialised form: ``nova``
    gives ``nova_object.name``, ``.version``, ``.data``..."""
    return '%s_object' % namespace


class _Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class _StringOrList(fields.Field):
    """A string, or a non-empty list of strings (written either way)."""

    default_error_messages = {
        'invalid': 'Must be a string or a non-empty list of strings.'}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return [value]
        if (isinstance(value, list) and value
                and all(isinstance(v, str) for v in value)):
            return list(value)
        raise self.make_error('invalid')


class _Otherwise(fields.Field):
    """`absent`, or `null` (YAML reads a bare null as None, kept)."""

    default_error_messages = {'invalid': 'Must be absent or null.'}

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if value in ('null', 'absent'):
            return value
        raise self.make_error('invalid')


class _Condition(fields.Dict):
    """Capture or event-type name to a glob or list of globs."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), values=_StringOrList(),
                         **kwargs)


#: Names a ``legacy`` template may read, ``{option.<name>}``: the options of
#: the relay's ``[legacy]`` group.
LEGACY_OPTIONS = ('image_url',)
_TEMPLATE_RE = r'\{([^{}]*)\}'


class _Templates(_StringOrList):
    """A template, or a list of fallbacks: the first whose names all have
    a value is used."""


class LegacyFieldSchema(_Strict):
    """How a field is written back into a legacy payload (versioned to
    legacy); without it, a field read from one plain payload path is
    written back there as it is."""

    key = fields.String(metadata={'description': (
        'Dotted path of the legacy payload key to write (default: the '
        'source path). Needed where the source is not one plain path '
        '(fallbacks, `extract`).')})
    date = fields.String(metadata={'description': (
        'For `datetime` fields: the legacy form, as a strftime format '
        "(`'%Y-%m-%dT%H:%M:%S.%f'`); for `object` fields: the form of "
        "the nested class's dates. Required for a datetime written back.")})
    empty = fields.Raw(allow_none=True, metadata={'description': (
        "What the legacy payload holds when the value is null, 0 or '' "
        "(Nova writes `''` for an unset date, task state or progress).")})
    format = _Templates(metadata={'description': (
        'The legacy text, from a template: `{value}` is the value, '
        '`{option.<name>}` an option of the `[legacy]` group (' +
        ', '.join('`%s`' % o for o in LEGACY_OPTIONS) + ').')})
    skip_null = fields.Boolean(metadata={'description': (
        'Left out when the value is null: the legacy payload has the key '
        'only when there is a value.')})
    omit = fields.String(metadata={'description': (
        'Not written back, and why: the legacy payload never held this '
        'fact under the name read (defaults of facts legacy events lack), '
        'or cannot be given it faithfully.')})

    @validates_schema
    def _check(self, data, **kwargs):
        if 'omit' in data and len(data) > 1:
            raise ValidationError('excludes every other key', 'omit')
        for template in data.get('format', ()):
            _check_template(template, {'value'}, 'format')


def _check_template(template, names, key):
    """``names``: what it may name besides ``{option.<name>}``; None:
    any field, dotted for a nested one."""
    if template.count('{') != template.count('}'):
        raise ValidationError('braces do not pair in %r' % template, key)
    for name in re.findall(_TEMPLATE_RE, template):
        if name.startswith('option.'):
            if name[len('option.'):] not in LEGACY_OPTIONS:
                raise ValidationError('unknown option {%s}' % name, key)
        elif names is None:
            if not re.match(r'^%s(\.%s)*$' % (IDENTIFIER_RE[1:-1],
                                                 IDENTIFIER_RE[1:-1]), name):
                raise ValidationError('{%s} is not a field name' % name,
                                      key)
        elif name not in names:
            raise ValidationError('unknown name {%s}' % name, key)


class LegacyValueSchema(_Strict):
    """A legacy payload key computed from several fields of the class
    (versioned to legacy)."""

    sum = fields.List(fields.String(), validate=validate.Length(min=2),
                      metadata={'description': (
                          'Fields of the class whose sum it is; null when '
                          'one is null.')})
    field = fields.String(metadata={'description': (
        'A field of the class (dotted for a nested one) it copies.')})
    format = _Templates(metadata={'description': (
        'A template of fields of the class (`{name}`, dotted for nested '
        'ones) and `{option.<name>}`.')})
    empty = fields.Raw(allow_none=True, metadata={'description': (
        "What it holds when the value is null, 0 or ''.")})
    doc = fields.String(metadata={'description': 'What it holds.'})

    @validates_schema
    def _check(self, data, **kwargs):
        given = {'sum', 'field', 'format'} & data.keys()
        if len(given) != 1:
            raise ValidationError('needs exactly one of sum, field, format',
                                  'sum')
        for template in data.get('format', ()):
            _check_template(template, None, 'format')


class FieldSchema(_Strict):
    type = fields.String(
        required=True, validate=validate.OneOf(list(FIELD_TYPES)),
        metadata={'description': 'Value type: ' + ', '.join(FIELD_TYPES)})
    source = _StringOrList(metadata={'description': (
        "Where the value comes from: a dotted path into the legacy payload "
        "(`image_meta.base_image_ref`), `.` for the payload itself (nested "
        "objects whose facts sit at the top level), or one of "
        + ', '.join('`%s`' % s for s in ENVELOPE_SOURCES) +
        " or `$<capture>` for the notification around the payload, "
        "`$context.<key>` for a key of the request context sent with it "
        "(`$context.request_id`). A list "
        "gives fallbacks: the first that is present and not null wins.")})
    constant = fields.Raw(allow_none=True, metadata={
        'description': 'Fixed value; no source is read.'})
    default = fields.Raw(allow_none=True, metadata={
        'description': 'Value used when every source is missing or null.'})
    nullable = fields.Boolean(load_default=False, metadata={
        'description': 'Whether null is a valid value (default false). '
                       'A null or missing value of a non-nullable field '
                       'without default makes the message invalid.'})
    empty_as_null = fields.Boolean(metadata={'description': (
        "Treat '' as null. Always on for every type but `string`, where "
        "the default is off.")})
    extract = fields.String(metadata={'description': (
        'Regular expression with one group; the group is kept '
        "(`'/([^/]+)$'` takes the last part of a URL). No match is null.")})
    unquote = fields.String(validate=validate.OneOf(['python']), metadata={
        'description': (
            "After `extract`: the text is a Python string literal as "
            "`repr()` writes it, quotes included (`'it\\'s'`), and becomes "
            "the string it stands for. Text that is not one is null.")})
    case = fields.String(validate=validate.OneOf(['lower', 'upper']),
                         metadata={'description': 'Change the case of text.'})
    map = fields.Dict(keys=fields.Raw(), values=fields.Raw(allow_none=True),
                      metadata={'description': (
                          'Value map applied after extract and case; values '
                          'not in the map pass unchanged.')})
    values = fields.List(fields.String(), validate=validate.Length(min=1),
                         metadata={'description': (
                             'For `string`: the only values allowed (an '
                             'oslo.versionedobjects EnumField); a number is '
                             'compared as its text.')})
    when = _Condition(metadata={'description': (
        'The field exists only for events matching every condition: keys '
        'are `event_type` (the versioned one), `legacy_event_type` or a '
        'capture name; values are globs.')})
    present_if = _StringOrList(metadata={'description': (
        'The field exists only when one of these paths (as in `source`) '
        'holds a value (a volume object only when the volume keys are '
        'sent).')})
    otherwise = _Otherwise(
        metadata={'description': 'With `when`: leave the field out '
                                 '(`absent`, default) or set it to null.'})
    class_ = fields.String(data_key='class', metadata={
        'description': 'Payload class of an `object` or `list_of_objects`.'})
    since = fields.String(validate=validate.Regexp(VERSION_RE), metadata={
        'description': 'Payload version that added the field (default '
                       'the first version of the class).'})
    compose = fields.Dict(
        keys=fields.String(validate=validate.Regexp(IDENTIFIER_RE)),
        values=_StringOrList(), metadata={'description': (
            'For `object`, instead of `source`: the nested class reads an '
            'object made of these keys, each taken from a payload path '
            '(fallbacks as in `source`); keys without a value are left out. '
            'For an object whose facts sit under other names (the new '
            'flavor of a resize) or that needs a fact of its parent.')})
    reject = fields.String(metadata={'description': (
        'The message is invalid, with this reason, when the source holds a '
        'value: the target has the field but the mapping cannot render it '
        'faithfully, and leaving it out would say something false. '
        'Without a value the field is null, or absent with `present_if`.')})
    legacy = fields.Nested(LegacyFieldSchema, metadata={'description': (
        'How the field is written back into a legacy payload, where its '
        'class is read back from versioned notifications (rules with '
        '`reverse`).')})
    doc = fields.String(metadata={'description': 'What the field holds.'})

    @validates_schema
    def _check(self, data, **kwargs):
        if 'source' in data and 'constant' in data:
            raise ValidationError('source and constant exclude each other',
                                  'constant')
        if not ({'source', 'constant', 'default', 'compose'}
                & data.keys()):
            raise ValidationError(
                'needs a source, a constant or a default', 'source')
        if 'compose' in data and (data['type'] != 'object' or {
                'source', 'constant'} & data.keys()):
            raise ValidationError(
                'only object fields take it, instead of a source or '
                'constant', 'compose')
        # A constant is already refused beside the source reject needs.
        if 'reject' in data and ('source' not in data or 'default' in data
                                 or not (data['nullable']
                                         or 'present_if' in data)):
            raise ValidationError(
                'needs a source, no default, and nullable or present_if '
                '(what the field is without a value)', 'reject')
        if (data['type'] in OBJECT_TYPES) != ('class_' in data):
            raise ValidationError(
                '`class` is required for object and list_of_objects, '
                'and only for them', 'class')
        if 'unquote' in data and data['type'] != 'string':
            raise ValidationError('only string fields take it', 'unquote')
        if 'values' in data and data['type'] != 'string':
            raise ValidationError('only string fields take `values`',
                                  'values')
        for key in ('default', 'constant'):
            if key in data:
                self._check_fixed_value(data, key)
        if 'otherwise' in data and not ({'when', 'present_if'}
                                        & data.keys()):
            raise ValidationError(
                'only fields with `when` or `present_if` take it',
                'otherwise')
        if data.get('otherwise', 'absent') != 'absent' \
                and not data['nullable']:
            raise ValidationError('null, but the field is not nullable',
                                  'otherwise')
        if 'extract' in data:
            try:
                groups = re.compile(data['extract']).groups
            except re.error as exc:
                raise ValidationError('not a regular expression: %s' % exc,
                                      'extract')
            if groups != 1:
                raise ValidationError('needs exactly one group', 'extract')
        for key in ('source', 'present_if'):
            self._check_paths(data.get(key, ()), key)
        for name, paths in data.get('compose', {}).items():
            self._check_paths(paths, 'compose', name)

    @staticmethod
    def _check_paths(paths, key, name=None):
        for path in paths:
            if path.startswith('$') and not re.match(_DOLLAR_PATH_RE, path):
                message = 'bad envelope source %r' % path
                raise ValidationError(
                    {name: [message]} if name else message, key)

    @staticmethod
    def _check_fixed_value(data, key):
        value = data[key]
        if value is None:
            if not data['nullable']:
                raise ValidationError('null, but the field is not nullable',
                                      key)
            return
        if data['type'] == 'list_of_objects' and value == []:
            return
        if data['type'] in OBJECT_TYPES:
            raise ValidationError('object fields take no fixed value but '
                                  'null (and [] for lists)', key)
        check = (values.enum_type(data['values']) if 'values' in data
                 else values.SCALAR_TYPES[data['type']]).normalise
        try:
            check(value)
        except ValueError as exc:
            raise ValidationError('%s for type %s' % (exc, data['type']),
                                  key)


class PayloadSchema(_Strict):
    version = fields.String(required=True,
                            validate=validate.Regexp(VERSION_RE),
                            metadata={'description': 'Current version.'})
    history = fields.Dict(
        keys=fields.String(validate=validate.Regexp(VERSION_RE)),
        values=fields.String(), required=True,
        metadata={'description': (
            'Every version to the current one, with what it changed; '
            'fields say which version added them with `since`.')})
    namespace = fields.String(metadata={'description': (
        'Object namespace (`nova` gives `nova_object.*` keys); default the '
        "file's `namespace`.")})
    extends = fields.String(metadata={'description': (
        'Payload class whose fields this one starts from (its own fields '
        'add to or replace them); versions are independent.')})
    doc = fields.String(metadata={'description': 'What the payload is.'})
    fields_ = fields.Dict(
        data_key='fields', keys=fields.String(
            validate=validate.Regexp(IDENTIFIER_RE)),
        values=fields.Nested(FieldSchema), required=True,
        metadata={'description': 'Field name to field rule.'})
    legacy = fields.Dict(
        keys=fields.String(), values=fields.Nested(LegacyValueSchema),
        metadata={'description': (
            'Versioned to legacy: legacy payload keys (dotted paths) that no '
            'one field gives, computed from several.')})
    not_carried = fields.Dict(
        keys=fields.String(), values=fields.String(),
        metadata={'description': (
            'Versioned to legacy: legacy payload keys (dotted paths) that '
            'the versioned payload does not carry, with the reason. They '
            'are left out, never invented.')})

    @validates_schema
    def _check(self, data, **kwargs):
        if data['version'] not in data['history']:
            raise ValidationError('must list the current version %s'
                                  % data['version'], 'history')


class WatchSchema(_Strict):
    identity = fields.String(required=True, metadata={
        'description': 'Payload field that identifies the resource.'})
    fields_ = fields.List(fields.String(), data_key='fields', required=True,
                          validate=validate.Length(min=1), metadata={
                              'description': 'Payload fields whose change '
                                             'is worth a notification.'})


class RuleSchema(_Strict):
    match = _StringOrList(required=True, metadata={'description': (
        'Legacy event types: exact names or globs (`*` any text, `?` one '
        'character), and `{name}` captures one dot-free part of the name.')})
    exclude = _StringOrList(metadata={
        'description': 'Globs of legacy event types the rule skips.'})
    captures = fields.Dict(keys=fields.String(
        validate=validate.Regexp(IDENTIFIER_RE)), values=fields.Raw(),
        metadata={'description': (
            'Per capture: a list of the values it may take, or a map of '
            'legacy value to the value used in templates. Such values may '
            'contain dots.')})
    event_type = fields.String(required=True, metadata={
        'description': 'Versioned event type; `{capture}` is replaced.'})
    payload = fields.String(required=True, metadata={
        'description': 'Payload class of the versioned notification.'})
    priority = fields.String(
        validate=validate.OneOf(['AUDIT', 'DEBUG', 'INFO', 'WARN', 'ERROR',
                                 'CRITICAL', 'SAMPLE']),
        metadata={'description': (
            'Fixed priority. Default: ERROR when the versioned event type '
            "ends in `.error`, otherwise the legacy message's.")})
    publisher = fields.String(load_default='{publisher_id}', metadata={
        'description': (
            'Publisher template: `{publisher_id}`, `{service}` and `{host}` '
            '(the legacy publisher split at its first `.` or `:`), and '
            'captures. Default `{publisher_id}`.')})
    watch = fields.Nested(WatchSchema, metadata={'description': (
        'Emit only when one of these fields changed since the last '
        'notification for the same identity (the relay remembers).')})
    reverse = fields.Boolean(load_default=False, metadata={'description': (
        'The service also sends these versioned notifications itself: the '
        'relay reads them back into legacy ones (`notification_format`). '
        'The legacy event type is the match pattern with the captures '
        'read from the versioned one, so the rule needs one pattern '
        'without globs whose captures the event type all names.')})
    legacy_publisher = fields.String(metadata={'description': (
        'With `reverse`: the legacy publisher template (`{service}`, '
        '`{host}` read from the versioned publisher with `publisher`). '
        "Default `{service}.{host}`; needed where `publisher` names no "
        '`{service}`.')})
    continue_ = fields.Boolean(data_key='continue', load_default=False,
                               metadata={'description': (
                                   'Keep matching later rules after this '
                                   'one, so one legacy event can give '
                                   'several versioned ones.')})
    doc = fields.String(metadata={'description': 'Why the rule exists.'})

    @validates_schema
    def _check(self, data, **kwargs):
        for name, allowed in data.get('captures', {}).items():
            ok = (isinstance(allowed, list) and allowed
                  and all(isinstance(v, str) for v in allowed)) or (
                isinstance(allowed, dict) and allowed and all(
                    isinstance(k, str) and isinstance(v, str)
                    for k, v in allowed.items()))
            if not ok:
                raise ValidationError({name: [
                    'must be a list of strings or a map of strings']},
                    'captures')


class VersionedOnlySchema(_Strict):
    match = _StringOrList(required=True, metadata={
        'description': 'Versioned event types (exact names or globs).'})
    reason = fields.String(required=True, metadata={
        'description': 'Why there is no legacy form; a versioned '
                       'notification of these makes no legacy one.'})


class UntranslatedSchema(_Strict):
    match = _StringOrList(required=True, metadata={
        'description': 'Legacy event types (exact names or globs).'})
    reason = fields.String(required=True, metadata={
        'description': 'Why there is no versioned equivalent; it becomes '
                       'the reason of the `unmapped` outcome.'})


class MappingFileSchema(_Strict):
    namespace = fields.String(metadata={'description': (
        'Default object namespace of the payload classes in this file; '
        'default the name of the folder.')})
    doc = fields.String(metadata={'description': 'What the file covers.'})
    payloads = fields.Dict(
        keys=fields.String(validate=validate.Regexp(IDENTIFIER_RE)),
        values=fields.Nested(PayloadSchema), load_default=dict,
        metadata={'description': 'Payload classes, by name.'})
    rules = fields.List(fields.Nested(RuleSchema), load_default=list,
                        metadata={'description': (
                            'Legacy event types to versioned notifications. '
                            'Exact names win over globs; otherwise the first '
                            'matching rule, files in name order, wins.')})
    untranslated = fields.List(fields.Nested(UntranslatedSchema),
                               load_default=list, metadata={'description': (
                                   'Legacy event types deliberately left '
                                   'untranslated, with the reason.')})
    versioned_only = fields.List(
        fields.Nested(VersionedOnlySchema), load_default=list,
        metadata={'description': (
            'Versioned event types the service sends that have no legacy '
            'form (nothing to read back), with the reason.')})
