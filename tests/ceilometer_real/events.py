"""Let Ceilometer 27 itself make its events of legacy notifications.

Runs in a virtualenv of its own, built from
tests/ceilometer_real/requirements.txt as .venv-nova is from
tests/nova_real/requirements.txt.
Ceilometer's own converter, ``ceilometer.event.converter.setup_events``, is
built as the notification agent's event endpoint builds it
(``ceilometer.pipeline.event.EventEndpoint``), with the event definitions
Ceilometer ships (``ceilometer/pipeline/data/event_definitions.yaml``) and
its trait plugins; no configuration file, no bus.

Usage: events.py < messages   (one JSON line in per notification, as the
messagingv2 wire carries its inner message: message_id, publisher_id,
event_type, priority, payload, timestamp and ``_context_*`` keys; one JSON
line out per non-blank line in: ``{"event_type", "traits": {name: [type,
value]}}``, the type by Ceilometer's own name (string, integer, float,
datetime), or ``null`` when Ceilometer makes no event of it)
"""

import json
import os
import sys
import traceback
import warnings

warnings.simplefilter('ignore')

from oslo_config import cfg  # noqa: E402
from stevedore import extension  # noqa: E402

from ceilometer.event import converter  # noqa: E402

#: ceilometer.pipeline.event.EventEndpoint defines only these two priority
#: methods; the agent drops notifications of any other priority unconverted.
PRIORITIES = ('info', 'error')


def make_converter():
    conf = cfg.ConfigOpts()
    # Only [event] is read by the converter (ceilometer.opts lists it so).
    conf.register_opts(converter.OPTS, group='event')
    # The shipped file by its absolute path: the default, a bare
    # 'event_definitions.yaml', would first be looked for in the current
    # directory and the oslo.config search path.
    conf.set_override('definitions_cfg_file', os.path.join(
        os.path.dirname(os.path.abspath(converter.__file__)),
        '..', 'pipeline', 'data', 'event_definitions.yaml'), group='event')
    return converter.setup_events(conf, extension.ExtensionManager(
        namespace='ceilometer.event.trait_plugin'))


def from_wire(message):
    """(priority, notification) as the agent's endpoint receives them.

    oslo.messaging's AMQP listener pops the ``_context_*`` keys into the
    context (amqp.unpack_context, which also adds ``msg_id``, ``reply_q``
    and ``client_timeout``; the context object keeps only the last, as
    None) and drops ``_unique_id``; its batch notification dispatcher
    (dispatcher._extract_user_message, with Ceilometer's no-op serializer)
    then hands each endpoint this dict.
    """
    message = dict(message)
    ctxt = {key[len('_context_'):]: message.pop(key) for key in list(message)
            if key.startswith('_context_')}
    ctxt['client_timeout'] = message.pop('_timeout', None)
    notification = dict(
        ctxt=ctxt,
        publisher_id=message.get('publisher_id'),
        event_type=message.get('event_type'),
        payload=message.get('payload'),
        metadata={'message_id': message.get('message_id'),
                  'timestamp': message.get('timestamp')})
    return message.get('priority', '').lower(), notification


def to_json(event):
    if event is None:
        return None
    traits = {}
    for trait in event.traits:
        # Trait.serialize() is Ceilometer's own: datetimes as isoformat().
        name, _, value = trait.serialize()
        traits[name] = [trait.get_type_name(), value]
    return {'event_type': event.event_type, 'traits': traits}


def main():
    events = make_converter()
    for line in sys.stdin:
        if not line.strip():
            continue
        priority, notification = from_wire(json.loads(line))
        event = None
        if priority in PRIORITIES:
            try:
                event = events.to_event(priority, notification)
            except Exception:  # noqa: BLE001
                # The endpoint logs the failure and acknowledges the message
                # (ack_on_event_error defaults to True): no event.
                traceback.print_exc()
        print(json.dumps(to_json(event), sort_keys=True), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
