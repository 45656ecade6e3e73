"""Outputs checked against the contracts ``translator schema`` writes: a
versioned notification against the JSON Schema of its payload class
version, a relay output against its message in the AsyncAPI document.

The schemas are those of the mapping set the output was translated with:
the shipped one, or inside ``translating_with(directory)`` (the
``mappings`` fixture) the tests' own, read again when it has no schema
for a payload class (a test added a mapping file).
"""

import contextlib
import json
import pathlib

import jsonschema

from translator.contracts import asyncapi
from translator import config
from translator.contracts import schema
from translator.mapping import loader

_in_use = [pathlib.Path(config.default_mappings_dir())]
_TOPICS = {opt.dest: opt.default for opt in config.target_opts}


@contextlib.contextmanager
def translating_with(mappings_dir):
    _in_use.append(pathlib.Path(mappings_dir))
    try:
        yield
    finally:
        _in_use.pop()


class _Contracts:
    """The validators of one mapping set: notifications by payload class
    version, their messagingv2 bodies by AsyncAPI message key, and the
    dead letters' headers."""

    def __init__(self, directory):
        mapping_set = loader.load_mapping_set(directory)
        sent = [(pdef, rules, schema.file_name(pdef))
                for pdef, rules in schema.emitted(mapping_set)]
        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        self.notifications = {
            (pdef.namespace, pdef.name, pdef.version):
            jsonschema.Draft202012Validator(schema.notification_schema(
                mapping_set, pdef, rules), format_checker=checker)
            for pdef, rules, _ in sent}
        # AsyncAPI schemas are draft-07 with extensions
        messages = asyncapi.document(mapping_set, sent)['components'][
            'messages']
        self.bodies = {key: jsonschema.Draft7Validator(message['payload'])
                       for key, message in messages.items()}
        self.dead_letter_headers = jsonschema.Draft7Validator(
            messages['deadLetter']['headers'])


_loaded = {}


def _contracts(directory, payload_class=None):
    directory = pathlib.Path(directory)
    found = _loaded.get(directory)
    if found is None or (payload_class is not None and payload_class
                         not in found.notifications):
        if len(_loaded) > 8:
            _loaded.clear()
        found = _loaded[directory] = _Contracts(directory)
    return found


def _payload_class(notification):
    payload = notification['payload']
    [name] = [key for key in payload if key.endswith('_object.name')]
    prefix = name[:-len('name')]
    return (payload[prefix + 'namespace'], payload[prefix + 'name'],
            payload[prefix + 'version'])


def validate(notification, mappings_dir=None):
    """Raise jsonschema.ValidationError unless the notification is what
    the schema of its payload class version allows."""
    key = _payload_class(notification)
    validators = _contracts(mappings_dir or _in_use[-1],
                            key).notifications
    if key not in validators:
        raise jsonschema.ValidationError('no schema for %s.%s %s' % key)
    validators[key].validate(notification)


def check_output(amqp_message):
    """Validate what the relay published: a versioned notification, its
    messagingv2 body and routing key; a dead letter's headers. A legacy
    copy is whatever the service sent."""
    routing_key = amqp_message.delivery_info['routing_key']
    topic, _, priority = routing_key.rpartition('.')
    if topic == _TOPICS['dead_letter_topic']:
        _contracts(_in_use[-1]).dead_letter_headers.validate(
            amqp_message.properties['application_headers'])
    if topic != _TOPICS['versioned_topic']:
        return
    body = json.loads(amqp_message.body)
    notification = json.loads(body['oslo.message'])
    validate(notification)
    _contracts(_in_use[-1]).bodies[asyncapi.message_key(
        *_payload_class(notification))].validate(body)
    assert priority == notification['priority'].lower()
