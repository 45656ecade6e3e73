"""Check versioned notifications against Nova's own notification classes.

Runs in the .venv-nova virtualenv (nova and its object dependencies, see
requirements.txt), not in the translator's: Nova is too heavy to be a test
dependency of the translator itself.

Usage: check.py FILE...   (JSON lines, one versioned notification each)

For every notification: the envelope is one Nova sends (event type made of
Nova's object, action and phase enums and declared by a Nova notification
class, with that class's payload; publisher ``<NotificationSource>:<host>``;
priority ERROR for errors and exceptions, INFO otherwise), and the payload
deserialises with Nova's classes at their current versions, every field of
every (nested) class is set, no key is unknown, and serialising the objects
again gives the same primitive. Prints one line per problem; exit status 1
if there is any.
"""

import json
import pathlib
import sys
import warnings

warnings.simplefilter('ignore')

# The comparison the golden tests use; it needs nothing but Python.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from tests.compare import differences  # noqa: E402

# Each module of the notification package declares its classes to Nova's
# registry, which keeps them apart from the RPC objects until
# register_notification_objects() below makes them resolvable by name (as
# Nova's own notification tests do).
import nova.notifications.objects.aggregate  # noqa: E402,F401
import nova.notifications.objects.compute_task  # noqa: E402,F401
import nova.notifications.objects.exception  # noqa: E402,F401
import nova.notifications.objects.flavor  # noqa: E402,F401
import nova.notifications.objects.image  # noqa: E402,F401
import nova.notifications.objects.instance  # noqa: E402,F401
import nova.notifications.objects.keypair  # noqa: E402,F401
import nova.notifications.objects.libvirt  # noqa: E402,F401
import nova.notifications.objects.metrics  # noqa: E402,F401
import nova.notifications.objects.request_spec  # noqa: E402,F401
import nova.notifications.objects.scheduler  # noqa: E402,F401
import nova.notifications.objects.server_group  # noqa: E402,F401
import nova.notifications.objects.service  # noqa: E402,F401
import nova.notifications.objects.volume  # noqa: E402,F401
import nova.objects  # noqa: E402
from nova.notifications.objects import base as notification_base  # noqa: E402
from nova.objects import base as nova_base  # noqa: E402
from nova.objects import fields as nova_fields  # noqa: E402
from oslo_versionedobjects import base as ovo_base  # noqa: E402

nova.objects.register_all()
nova_base.NovaObjectRegistry.register_notification_objects()

PREFIX = 'nova_object.'
ENVELOPE_KEYS = {PREFIX + k for k in ('name', 'namespace', 'version', 'data')}
#: Classes Nova fills only with what the source has (populate_schema with
#: set_none=False): unset fields are its normal output.
SPARSE = {'ImageMetaPropsPayload'}
#: Fields Nova declares but never sets, so its notifications never have them.
NEVER_SET = {('RequestSpecPayload', 'image_meta')}


def _without_init(cls):
    # Payload classes take their source objects as __init__ arguments,
    # which deserialising does not have; oslo's own _obj_from_primitive
    # calls cls() and fails, so build the object without that __init__.
    obj = cls.__new__(cls)
    ovo_base.VersionedObject.__init__(obj)
    return obj


@classmethod
def _obj_from_primitive(cls, context, objver, primitive):
    obj = _without_init(cls)
    obj._context = context
    obj.VERSION = objver
    data = primitive[PREFIX + 'data']
    for name, field in obj.fields.items():
        if name in data:
            setattr(obj, name, field.from_primitive(obj, name, data[name]))
    return obj


ovo_base.VersionedObject._obj_from_primitive = _obj_from_primitive


def declared_event_types():
    """{event type: payload class name} from Nova's notification classes.

    Each notification class names its sample files
    (``instance-create-end.json``); those spelling a plain
    object-action[-phase] give the event types the class sends.
    """
    out = {}
    for versions in nova_base.NovaObjectRegistry.obj_classes().values():
        cls = versions[0]
        if not issubclass(cls, notification_base.NotificationBase):
            continue
        payload = cls.fields['payload'].AUTO_TYPE._obj_name
        for sample in getattr(cls, 'samples', ()):
            parts = sample[:-len('.json')].split('-')
            if _event_type_problem(parts) is None:
                out['.'.join(parts)] = payload
    return out


def _event_type_problem(parts):
    if len(parts) not in (2, 3):
        return 'is not object.action[.phase]'
    if parts[1] not in nova_fields.NotificationAction.ALL:
        return 'action %r is not a Nova NotificationAction' % parts[1]
    if len(parts) == 3 and parts[2] not in nova_fields.NotificationPhase.ALL:
        return 'phase %r is not a Nova NotificationPhase' % parts[2]
    return None


def check_envelope(note, declared):
    problems = []
    event_type = note.get('event_type') or ''
    parts = event_type.split('.')
    wrong = _event_type_problem(parts)
    if wrong:
        return ['event_type %r %s' % (event_type, wrong)]
    payload_name = note.get('payload', {}).get(PREFIX + 'name')
    if event_type not in declared:
        problems.append('no Nova notification sends %r' % event_type)
    elif declared[event_type] != payload_name:
        problems.append('Nova sends %r with %s, not %s' % (
            event_type, declared[event_type], payload_name))
    source, _, host = (note.get('publisher_id') or '').partition(':')
    if source not in nova_fields.NotificationSource.ALL or not host:
        problems.append('publisher_id %r is not <NotificationSource>:<host>'
                        % note.get('publisher_id'))
    error = parts[-1] == 'error' or parts[1] == 'exception'
    expected = 'ERROR' if error else 'INFO'
    if note.get('priority') != expected:
        problems.append('priority %r, Nova sends %s' % (
            note.get('priority'), expected))
    return problems


def check_object(obj, primitive, where):
    """Problems of one deserialised object against its primitive."""
    cls = type(obj)
    problems = []
    if set(primitive) != ENVELOPE_KEYS:
        problems.append('%s: keys %s, Nova sends %s' % (
            where, sorted(primitive), sorted(ENVELOPE_KEYS)))
    if primitive.get(PREFIX + 'namespace') != 'nova':
        problems.append('%s: namespace %r' % (
            where, primitive.get(PREFIX + 'namespace')))
    if primitive.get(PREFIX + 'version') != cls.VERSION:
        problems.append('%s: %s version %s, Nova 34 has %s' % (
            where, cls.__name__, primitive.get(PREFIX + 'version'),
            cls.VERSION))
    data = primitive.get(PREFIX + 'data', {})
    for key in sorted(set(data) - set(cls.fields)):
        problems.append('%s.%s: not a field of %s' % (where, key,
                                                      cls.__name__))
    for name in cls.fields:
        here = '%s.%s' % (where, name)
        if not obj.obj_attr_is_set(name):
            if cls.__name__ not in SPARSE and (
                    cls.__name__, name) not in NEVER_SET:
                problems.append('%s: missing' % here)
            continue
        value = getattr(obj, name)
        if isinstance(value, ovo_base.VersionedObject):
            problems += check_object(value, data[name], here)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ovo_base.VersionedObject):
                    problems += check_object(item, data[name][i],
                                             '%s[%d]' % (here, i))
    return problems


def _wire(value):
    """A value as it travels (tuples and sets become lists)."""
    return json.loads(json.dumps(value))


def _without_changes(node):
    """Nova's serialisation lists the changed fields; what it sends does not."""
    if isinstance(node, dict):
        return {k: _without_changes(v) for k, v in node.items()
                if k != PREFIX + 'changes'}
    if isinstance(node, list):
        return [_without_changes(v) for v in node]
    return node


def check_payload(primitive):
    try:
        obj = nova_base.NovaObject.obj_from_primitive(_wire(primitive))
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return ['payload does not deserialise: %s: %s' % (
            type(exc).__name__, exc)]
    problems = check_object(obj, primitive, 'payload')
    sent = _wire(primitive)
    again = _without_changes(_wire(obj.obj_to_primitive()))
    for name, field in obj.fields.items():
        if isinstance(field, nova_fields.DiskConfigField):
            # DiskConfig.coerce turns every truthy value into AUTO, the
            # text 'MANUAL' included, so even Nova's own 'MANUAL' comes
            # back as AUTO: check the wire value is one of the enum's.
            value = sent[PREFIX + 'data'].pop(name, None)
            again[PREFIX + 'data'].pop(name, None)
            if value not in nova_fields.DiskConfig.ALL:
                problems.append('payload.%s: %r is not a DiskConfig' % (
                    name, value))
    # What Nova makes of the objects is the expected form.
    return problems + differences(again, sent, 'payload')


def main(paths):
    declared = declared_event_types()
    count = bad = 0
    for path in paths:
        with open(path, encoding='utf-8') as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                count += 1
                note = json.loads(line)
                problems = check_envelope(note, declared)
                problems += check_payload(note.get('payload', {}))
                if problems:
                    bad += 1
                    print('%s:%d %s' % (path, number, note.get('event_type')))
                    for problem in problems:
                        print('    ' + problem)
    print('%d notifications checked, %d with problems' % (count, bad))
    return 1 if bad or not count else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
