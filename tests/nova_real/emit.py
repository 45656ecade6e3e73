"""Let Nova 34 itself send each legacy notification and its versioned twin.

Runs in the .venv-nova virtualenv. Nova's own emitting functions
(nova.compute.utils, nova.notifications) are called the way Nova's services
call them, on in-memory Instance objects; no database is needed. Every
action runs under a request context of its own, so the legacy and the
versioned message of one action are told apart by their request id.

Usage: emit.py [--format unversioned|versioned|both] [--host NAME]
               [--transport-url rabbit://... [--durable]]
               [--legacy-topic TOPIC] [--versioned-topic TOPIC]

By default (``notification_format = both``, oslo.messaging's in-memory
``fake://`` transport) it prints one JSON line per action:
``{"action", "legacy", "versioned"}``, each message as the messagingv2 wire
carries it: the inner message with the context as ``_context_*`` keys.

With ``--transport-url`` Nova's Notifier publishes to that broker instead,
as a Nova with that nova.conf would: messagingv2 on the exchange ``nova``,
legacy messages on ``<legacy topic>.<priority>``
([oslo_messaging_notifications] topics, default ``notifications``),
versioned ones on ``<versioned topic>.<priority>`` ([notifications]
versioned_notifications_topics, default ``versioned_notifications``), as
``--format`` says. The rabbit driver declares the queue
``<topic>.<priority>`` on its first publish there; exchange and queues are
durable only with ``--durable`` (amqp_durable_queues = true, not Nova's
default; kombu marks every message persistent either way). Request ids are
Nova's own kind (``req-<uuid>``). It prints one JSON line per action once
it is published, ``{"action", "host", "request_id"}``, and exits 0 when all
is published and the connection closed, 1 if oslo.messaging logged a
notification it could not send (the Notifier only logs it and goes on). An
unreachable broker is retried forever (Nova's default retry = -1): run it
with a timeout.

``--host``: Nova's host (default compute-7), the host of the instance and
of the publishers.
"""

import argparse
import datetime
import json
import logging
import pathlib
import sys
import tempfile
import warnings

warnings.simplefilter('ignore')

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from tests.capture import collect  # noqa: E402

import nova.conf  # noqa: E402
from nova.compute import utils as compute_utils  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova import exception  # noqa: E402
from nova.network import model as network_model  # noqa: E402
from nova import notifications  # noqa: E402
from nova import objects  # noqa: E402
from nova.objects import fields  # noqa: E402
from nova import rpc  # noqa: E402

CONF = nova.conf.CONF
HOST = 'compute-7'
PHASE = fields.NotificationPhase
ACTION = fields.NotificationAction
UTC = datetime.timezone.utc


def when(day, hour=10, minute=20, second=49):
    return datetime.datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def flavor(name='m1.small', flavorid='2', memory_mb=2048, vcpus=2,
           root_gb=20, ephemeral_gb=1, id=5):
    return objects.Flavor(
        id=id, name=name, flavorid=flavorid, memory_mb=memory_mb,
        vcpus=vcpus, root_gb=root_gb, ephemeral_gb=ephemeral_gb, swap=512,
        rxtx_factor=1.5, vcpu_weight=3, disabled=False, is_public=False,
        extra_specs={'hw:watchdog_action': 'reset'}, projects=[],
        description='flavor for the judge')


def network_info():
    return network_model.NetworkInfo([network_model.VIF(
        id='2f1d5bd3-0f4e-4a55-a4f0-2b1f3e9c7d11',
        address='fa:16:3e:4c:2c:30',
        devname='tap2f1d5bd3-0f',
        network=network_model.Network(
            id='8a6e7d9c-1b2c-4d3e-9f0a-1b2c3d4e5f60', label='private',
            subnets=[network_model.Subnet(
                cidr='192.168.1.0/24',
                ips=[network_model.FixedIP(address='192.168.1.3',
                                           version=4)])]))])


def instance(context, **changes):
    """An instance whose every value is distinctive, so a value that is
    lost cannot hide behind another field's."""
    inst = objects.Instance(
        context=context, id=42, uuid='178b0921-8f85-4257-88b6-2e743b5a975c',
        user_id=context.user_id, project_id=context.project_id,
        display_name='judge server', display_description='judged by Nova',
        reservation_id='r-judge01', hostname='judge-server', host=HOST,
        node='node-7.example.org', os_type='linux', architecture='x86_64',
        availability_zone='az-7',
        image_ref='155d900f-4e14-4e4c-a73d-069cbf4541e6',
        key_name='judge-key', kernel_id='', ramdisk_id='',
        created_at=when(1), launched_at=when(1, 10, 21, 30),
        updated_at=when(2, 9), terminated_at=None, deleted_at=None,
        vm_state='active', power_state=1, task_state=None, progress=0,
        metadata={'purpose': 'judge'},
        system_metadata={'image_base_image_ref':
                         '155d900f-4e14-4e4c-a73d-069cbf4541e6',
                         'image_min_ram': '0'},
        locked=True, locked_by='admin', auto_disk_config=True,
        instance_type_id=5, flavor=flavor(), access_ip_v4=None,
        access_ip_v6=None, cell_name=None, deleted=False,
        info_cache=objects.InstanceInfoCache(network_info=network_info()),
        keypairs=objects.KeyPairList(objects=[objects.KeyPair(
            name='judge-key', user_id=context.user_id, type='ssh',
            fingerprint='1e:2c:9b:56:79:4b:45:77:f9:ca:7a:98:2c:b0:d5:3c',
            public_key='ssh-rsa AAAAjudge')]),
        tags=objects.TagList(objects=[objects.Tag(tag='judged')]),
        trusted_certs=None)
    for key, value in changes.items():
        setattr(inst, key, value)
    return inst


def _failure(error):
    """error, raised and caught: the state Nova's handlers send from."""
    try:
        raise error
    except Exception as caught:  # noqa: BLE001 - it is the point
        # Its traceback names this file and the line of ``raise error``
        # (134), and the default output carries it: a line added or removed
        # above that one changes the output.
        return caught


def _multi_line():
    return exception.BuildAbortException(
        instance_uuid='178b0921', reason="disk 'vda' failed:\n"
                                         'I/O error "sector 7"')


def _legacy(suffix, **kw):
    def send(context, inst, notifier):
        compute_utils.notify_about_instance_usage(notifier, context, inst,
                                                  suffix, **kw)
    return send


def action(name, phase, legacy_kw=None, exc=None, source=None, **kw):
    """An instance action: compute.instance.<name>.<phase> and
    notify_about_instance_action, as the compute manager sends both."""
    def run(context, inst, notifier):
        legacy = dict(legacy_kw or {})
        versioned = dict(kw)
        if exc is not None:
            legacy['fault'] = versioned['exception'] = exc
        if source is not None:
            versioned['source'] = source
        _legacy('%s.%s' % (name, phase), **legacy)(context, inst, notifier)
        compute_utils.notify_about_instance_action(
            context, inst, HOST, action=ACTIONS.get(name, name),
            phase=phase, **versioned)
    return run


#: Legacy action names Nova spells otherwise in its versioned events.
ACTIONS = {
    'finish_resize': ACTION.RESIZE_FINISH,
    'resize.confirm': ACTION.RESIZE_CONFIRM,
    'resize.revert': ACTION.RESIZE_REVERT,
    'live_migration.pre': ACTION.LIVE_MIGRATION_PRE,
    'live_migration._post': ACTION.LIVE_MIGRATION_POST,
    'live_migration.post.dest': ACTION.LIVE_MIGRATION_POST_DEST,
    'live_migration._rollback': ACTION.LIVE_MIGRATION_ROLLBACK,
    'live_migration.rollback.dest': ACTION.LIVE_MIGRATION_ROLLBACK_DEST,
    'live.migration.abort': ACTION.LIVE_MIGRATION_ABORT,
    'live.migration.force.complete': ACTION.LIVE_MIGRATION_FORCE_COMPLETE,
}


def create(phase, exc=None, **legacy_kw):
    def run(context, inst, notifier):
        legacy = dict(legacy_kw)
        if exc is not None:
            legacy['fault'] = exc
        _legacy('create.%s' % phase, **legacy)(context, inst, notifier)
        compute_utils.notify_about_instance_create(
            context, inst, HOST, phase=phase, exception=exc, bdms=None)
    return run


def rebuild(phase, exc=None, scheduled=False):
    def run(context, inst, notifier):
        kw = {'fault': exc} if exc is not None else {}
        if scheduled:
            _legacy('rebuild.scheduled')(context, inst, notifier)
            compute_utils.notify_about_instance_rebuild(
                context, inst, inst.host,
                action=ACTION.REBUILD_SCHEDULED,
                source=fields.NotificationSource.CONDUCTOR, bdms=None)
            return
        _legacy('rebuild.%s' % phase, **kw)(context, inst, notifier)
        compute_utils.notify_about_instance_rebuild(
            context, inst, HOST, phase=phase, exception=exc, bdms=None)
    return run


def rescue(phase):
    def run(context, inst, notifier):
        _legacy('rescue.%s' % phase, network_info=network_info(),
                extra_usage_info={'rescue_image_name': 'cirros-rescue'})(
            context, inst, notifier)
        compute_utils.notify_about_instance_rescue_action(
            context, inst, HOST, 'a0d1c3e5-7b9f-4a2c-8e6d-0f1b2c3d4e5f',
            phase=phase)
    return run


def resize_prep(phase):
    def run(context, inst, notifier):
        new = flavor(name='m1.large', flavorid='4', memory_mb=8192, vcpus=4,
                     root_gb=80, ephemeral_gb=6, id=8)
        extra = {}
        if phase == PHASE.END:
            extra = dict(new_instance_type=new.name,
                         new_instance_type_id=new.id)
        _legacy('resize.prep.%s' % phase, extra_usage_info=extra)(
            context, inst, notifier)
        compute_utils.notify_about_resize_prep_instance(
            context, inst, HOST, phase, new)
    return run


def volume(which):
    def run(context, inst, notifier):
        volume_id = '6a2c47b5-97f4-4c1e-9f3b-0f7c1c2e9d44'
        _legacy('volume.%s' % which,
                extra_usage_info={'volume_id': volume_id})(
            context, inst, notifier)
        compute_utils.notify_about_volume_attach_detach(
            context, inst, HOST, action='volume_%s' % which,
            phase=PHASE.END, volume_id=volume_id)
    return run


def exists(context, inst, notifier):
    compute_utils.notify_usage_exists(notifier, context, inst, HOST,
                                      current_period=True)


def update(old_changes, **kw):
    def run(context, inst, notifier):
        old = instance(context, **old_changes)
        notifications.send_update(context, old, inst, **kw)
    return run


def evacuate(context, inst, notifier):
    _legacy('evacuate')(context, inst, notifier)
    compute_utils.notify_about_instance_action(
        context, inst, HOST, action=ACTION.EVACUATE,
        source=fields.NotificationSource.API)


def _phases(name, *phases, **kw):
    return [('%s.%s' % (name, p), action(name, p, **kw), {})
            for p in phases]


_SE = (PHASE.START, PHASE.END)
_VOLUME_BACKED = {'image_ref': ''}

#: (case name, sender, instance changes). Each sender emits one legacy
#: notification and its versioned twin, as the compute manager, the API or
#: the conductor does at that step.
CASES = [
    ('create.start', create(PHASE.START, extra_usage_info={'image_name': 'cirros'}),
     {'vm_state': 'building', 'task_state': 'spawning', 'launched_at': None}),
    ('create.end', create(PHASE.END, network_info=network_info(),
                          extra_usage_info={'message': 'Success'}), {}),
    ('create.error', create(PHASE.ERROR, exc=_failure(_multi_line())),
     {'vm_state': 'building', 'task_state': 'spawning'}),
    ('create.error.volume-backed',
     create(PHASE.ERROR, exc=_failure(ValueError("can't boot:\n'vda'"))),
     dict(_VOLUME_BACKED, vm_state='error')),
    *[c for name in ('delete', 'soft_delete', 'shutdown', 'power_off',
                     'power_on', 'pause', 'unpause', 'suspend', 'resume',
                     'restore', 'shelve', 'shelve_offload', 'unshelve',
                     'unrescue', 'trigger_crash_dump', 'reboot', 'resize',
                     'finish_resize', 'resize.confirm', 'resize.revert',
                     'live_migration.pre', 'live_migration._post',
                     'live_migration.post.dest', 'live_migration._rollback',
                     'live_migration.rollback.dest', 'live.migration.abort',
                     'live.migration.force.complete')
       for c in _phases(name, *_SE)],
    ('delete.start.api', action('delete', PHASE.START,
                                source=fields.NotificationSource.API),
     {'host': None, 'node': None, 'vm_state': 'building'}),
    ('reboot.error', action('reboot', PHASE.ERROR, exc=_failure(
        exception.InstanceNotFound(instance_id='178b0921'))),
     {'task_state': 'rebooting'}),
    ('resize.error', action('resize', PHASE.ERROR, exc=_failure(
        exception.ResizeError(reason="it's\ttoo big"))),
     {'task_state': 'resize_migrating', 'progress': 40}),
    ('rebuild.start', rebuild(PHASE.START), {'task_state': 'rebuilding'}),
    ('rebuild.end', rebuild(PHASE.END), _VOLUME_BACKED),
    ('rebuild.error', rebuild(PHASE.ERROR, exc=_failure(_multi_line())),
     dict(_VOLUME_BACKED, vm_state='error')),
    ('rebuild_scheduled', rebuild(None, scheduled=True),
     {'task_state': 'rebuilding'}),
    ('rescue.start', rescue(PHASE.START), {'task_state': 'rescuing'}),
    ('rescue.end', rescue(PHASE.END), {'vm_state': 'rescued'}),
    ('resize_prep.start', resize_prep(PHASE.START),
     {'task_state': 'resize_prep'}),
    ('resize_prep.end', resize_prep(PHASE.END),
     {'task_state': 'resize_prep'}),
    ('volume_attach', volume('attach'), {}),
    ('volume_detach', volume('detach'), _VOLUME_BACKED),
    ('exists', exists, {}),
    ('evacuate', evacuate, {'task_state': 'rebuilding'}),
    ('update.state', update({'vm_state': 'building',
                             'task_state': 'spawning'}), {}),
    ('update.task-state', update({'task_state': 'powering-off'},
                                 service='api'), {'progress': 100}),
    ('update.display-name', update({'display_name': 'old name'},
                                   service='conductor', host='cond-1'), {}),
]


LEGACY_TOPIC = 'notifications'
VERSIONED_TOPIC = 'versioned_notifications'


def nova_conf(host=HOST, transport_url='fake://', format='both',
              legacy_topic=LEGACY_TOPIC, versioned_topic=VERSIONED_TOPIC,
              durable=False):
    """nova.conf as an operator would write it for this run: what is not
    Nova's or oslo.messaging's default is written down, nothing else."""
    rabbit = ['amqp_durable_queues = true'] if durable else []
    lines = [
        '[DEFAULT]',
        'host = %s' % host,
        'transport_url = %s' % transport_url,
        '[oslo_messaging_notifications]',
        'driver = messagingv2',
        *(['topics = %s' % legacy_topic]
          if legacy_topic != LEGACY_TOPIC else []),
        *(['[oslo_messaging_rabbit]', *rabbit] if rabbit else []),
        '[notifications]',
        'notification_format = %s' % format,
        *(['versioned_notifications_topics = %s' % versioned_topic]
          if versioned_topic != VERSIONED_TOPIC else []),
        'notify_on_state_change = vm_and_task_state',
        '[glance]',
        'api_servers = http://glance.example.org:9292',
    ]
    return '\n' + '\n'.join(lines) + '\n'


def configure(text):
    with tempfile.NamedTemporaryFile('w', suffix='.conf') as conf:
        conf.write(text)
        conf.flush()
        rpc.set_defaults(control_exchange='nova')
        CONF([], project='nova', default_config_files=[conf.name])
        objects.register_all()
        rpc.init(CONF)


def parse(argv):
    parser = argparse.ArgumentParser(
        description='Let Nova 34 send its notifications.')
    parser.add_argument('--format', default='both',
                        choices=('unversioned', 'versioned', 'both'),
                        help="Nova's [notifications] notification_format")
    parser.add_argument('--transport-url',
                        help='publish to this broker (rabbit://...) instead '
                             'of printing what was sent')
    parser.add_argument('--legacy-topic', default=LEGACY_TOPIC,
                        help='[oslo_messaging_notifications] topics')
    parser.add_argument('--versioned-topic', default=VERSIONED_TOPIC,
                        help='[notifications] versioned_notifications_topics')
    parser.add_argument('--host', default=HOST, help="Nova's host")
    parser.add_argument('--durable', action='store_true',
                        help='[oslo_messaging_rabbit] amqp_durable_queues')
    return parser.parse_args(argv)


class _Failures(logging.StreamHandler):
    """Shows the warnings and errors logged (on stderr) and keeps the
    errors: the Notifier logs a notification it could not send and goes
    on; its drivers log one such record per notification lost."""

    LOST = ('oslo_messaging.notify.messaging',
            'oslo_messaging.notify.notifier')

    def __init__(self):
        super().__init__(sys.stderr)
        self.setLevel(logging.WARNING)
        self.errors = []
        self.lost = 0

    def emit(self, record):
        if record.levelno >= logging.ERROR:
            self.errors.append(record)
            self.lost += record.name in self.LOST
        super().emit(record)


def request_context(request_id=None):
    """The request context of one action; without a request id, oslo.context
    makes one as it does for every Nova request."""
    kw = {'request_id': request_id} if request_id else {}
    return nova_context.RequestContext(
        user_id='ce64facc93354bbfa90f4f9f9a3e1e75',
        project_id='a4b4772d93c74d5e8b7c68cdd2a014e1',
        roles=['member'], **kw)


def publish(args):
    """Every action, published by Nova's Notifier to args.transport_url."""
    failures = _Failures()
    logging.getLogger().addHandler(failures)
    notifier = rpc.get_notifier('compute')
    for name, send, changes in CASES:
        ctxt = request_context()
        send(ctxt, instance(ctxt, **changes), notifier)
        print(json.dumps({'action': name, 'host': HOST,
                          'request_id': ctxt.request_id}, sort_keys=True),
              flush=True)
    # Closes the connections: what was published is with the broker.
    rpc.cleanup()
    if failures.errors:
        print('%d error(s) logged, %d notification(s) not sent'
              % (len(failures.errors), failures.lost), file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    global HOST
    args = parse(sys.argv[1:] if argv is None else argv)
    HOST = args.host
    configure(nova_conf(
        host=args.host, transport_url=args.transport_url or 'fake://',
        format=args.format, legacy_topic=args.legacy_topic,
        versioned_topic=args.versioned_topic, durable=args.durable))
    if args.transport_url:
        return publish(args)
    notifier = rpc.get_notifier('compute')

    def send_all():
        for name, send, changes in CASES:
            ctxt = request_context('req-judge-%s' % name)
            send(ctxt, instance(ctxt, **changes), notifier)

    by_request = {}
    for message in collect(CONF, (args.legacy_topic, args.versioned_topic),
                           send_all):
        by_request.setdefault(message['_context_request_id'], []).append(
            message)
    for name, _, _ in CASES:
        sent = by_request.get('req-judge-%s' % name, [])
        legacy = [m for m in sent if not m['event_type'].startswith(
            'instance.')]
        versioned = [m for m in sent if m['event_type'].startswith(
            'instance.')]
        print(json.dumps({'action': name, 'legacy': legacy,
                          'versioned': versioned}, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
