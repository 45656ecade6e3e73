"""Whether payload classes changed as oslo.versionedobjects' rules allow.

Compares the JSON Schemas of two mapping sets, class by class (every class
in a schema's ``$defs``, nested ones included), as a schema registry
compares the versions of a subject. A consumer written for a class version
must keep working within its major version:

- major bump: a field removed, its type changed, a field that was never
  null may now be null, or one that was always there may now be absent,
  or a nested class's major version changed;
- minor bump: a field added, enum values changed, a field never null or
  always present from now on, or a nested class's minor version changed.

Descriptions do not count. A class that is no longer sent is not a
version question; the fingerprint test catches every change of a class's
fields and their sources, this check what the change means to consumers.
"""

import json
import pathlib

from translator.mapping import spec

MAJOR = 'major'
MINOR = 'minor'


def classes(documents):
    """{``<namespace>.<name>``: schema} of every class the documents
    describe."""
    found = {}
    for document in documents:
        found.update(document.get('$defs', {}))
    return found


def load(directory):
    """The classes of the notification schemas in a folder that
    ``translator schema`` wrote; ValueError if it holds none."""
    paths = sorted(pathlib.Path(directory).glob('*/*.json'))
    if not paths:
        raise ValueError('no notification schemas in %s' % directory)
    return classes(json.loads(path.read_text(encoding='utf-8'))
                   for path in paths)


def _parts(cls):
    """(version, data schema) of a class schema."""
    keys = cls['properties']
    prefix = next(key for key in keys
                  if key.endswith('_object.version'))[:-len('version')]
    return keys[prefix + 'version']['const'], keys[prefix + 'data']


def _shape(field):
    """(type schema without null or enum, null allowed, enum or None)."""
    field = {k: v for k, v in field.items() if k != 'description'}
    nullable = False
    if {'type': 'null'} in field.get('anyOf', ()):
        nullable = True
        [field] = [s for s in field['anyOf'] if s != {'type': 'null'}]
    elif isinstance(field.get('type'), list):
        nullable = 'null' in field['type']
        [kind] = [t for t in field['type'] if t != 'null']
        field = dict(field, type=kind)
    enum = field.pop('enum', None)
    if enum is not None:
        enum = [v for v in enum if v is not None]
    return field, nullable, enum


def _nested(field):
    """The ``$defs`` key of the class a field holds, or None."""
    ref = field.get('$ref') or field.get('items', {}).get('$ref')
    return ref.rpartition('/')[2] if ref else None


def _field_changes(name, old, new, old_classes, new_classes):
    (old_type, old_null, old_enum) = _shape(old['properties'][name])
    (new_type, new_null, new_enum) = _shape(new['properties'][name])
    if old_type != new_type:
        yield MAJOR, 'field %s: type changed from %s to %s' % (
            name, json.dumps(old_type), json.dumps(new_type))
        return
    if new_null and not old_null:
        yield MAJOR, 'field %s: was never null, may now be null' % name
    elif old_null and not new_null:
        yield MINOR, 'field %s: is never null now' % name
    was, now = name in old['required'], name in new['required']
    if was and not now:
        yield MAJOR, 'field %s: was always there, may now be absent' % name
    elif now and not was:
        yield MINOR, 'field %s: is always there now' % name
    if old_enum != new_enum:
        yield MINOR, 'field %s: values changed' % name
    nested = _nested(old_type)
    if nested:
        before = _parts(old_classes[nested])[0]
        after = _parts(new_classes[nested])[0]
        if before != after:
            major = spec.version_key(before)[0] != spec.version_key(after)[0]
            yield (MAJOR if major else MINOR), 'field %s: %s %s became %s' % (
                name, nested, before, after)


def changes(old_cls, new_cls, old_classes, new_classes):
    """[(MAJOR or MINOR, what)] between two schemas of one class."""
    old = _parts(old_cls)[1]
    new = _parts(new_cls)[1]
    found = [(MAJOR, 'field %s removed' % name)
             for name in old['properties'] if name not in new['properties']]
    for name in new['properties']:
        if name not in old['properties']:
            found.append((MINOR, 'field %s added' % name))
        else:
            found += _field_changes(name, old, new, old_classes, new_classes)
    return found


def check(old_classes, new_classes):
    """Problems, one line per class whose version does not follow its
    changes."""
    problems = []
    for key, new_cls in new_classes.items():
        if key not in old_classes:
            continue
        before = _parts(old_classes[key])[0]
        after = _parts(new_cls)[0]
        found = changes(old_classes[key], new_cls, old_classes, new_classes)
        majors = [what for kind, what in found if kind == MAJOR]
        old, new = spec.version_key(before), spec.version_key(after)
        if new < old:
            need = 'no version below %s' % before
        elif majors and new[0] <= old[0]:
            need = 'a major version bump'
        elif found and new <= old:
            need = 'a minor version bump'
        else:
            continue
        problems.append('%s %s -> %s needs %s%s' % (
            key, before, after, need, ''.join(
                '; ' + what for _, what in found)))
    return problems
