"""Benchmarks; each prints its figures and the command that reproduces them."""

import pathlib
import uuid

import orjson

from translator import config
from translator import envelope

#: The golden samples: the checkout's tests/golden, which a wheel installs
#: as share/translator/golden.
DEFAULT_CORPUS = config.shipped_dir('tests/golden', 'golden')


def load_corpus(directory):
    """(name, raw legacy message) of the golden samples that translate."""
    raws = []
    for path in sorted(pathlib.Path(directory).rglob('*.json')):
        spec = orjson.loads(path.read_bytes())
        if 'expected' in spec:
            raws.append((path.stem, orjson.dumps(spec['input'])))
    return raws


def request_context():
    """The request context a Nova API request attaches to the legacy
    notifications it causes, ``_context_*`` keys on the wire: what
    oslo.context's to_dict() gives, what Nova's RequestContext adds, a
    Keystone token (as services sent it before oslo.messaging redacted
    contexts), roles. Its request id is replaced per message."""
    from oslo_context import context
    values = context.RequestContext(
        auth_token='gAAAAABnY2F0' + 'Zm9vYmFyYmF6cXV4' * 11,
        user_id='9b8f2c1d0e3a4b5c8d7e6f5a4b3c2d1e',
        project_id='5f4e3d2c1b0a49887766554433221100',
        request_id='req-00000000-0000-0000-0000-000000000000',
        roles=['member', 'reader', 'load-balancer_member'],
        user_name='demo', project_name='demo', is_admin=False).to_dict()
    values.update(read_deleted='no', remote_address='10.0.0.15',
                  timestamp='2026-11-30T09:41:02.518463', quota_class=None,
                  service_catalog=[])
    return {envelope.CONTEXT_PREFIX + key: value
            for key, value in values.items()}


def with_context(message, context):
    """The inner message as a service sends it: a fresh request id."""
    return dict(message, **dict(context, _context_request_id='req-%s'
                                % uuid.uuid4()))
