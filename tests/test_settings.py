"""translator/settings.py: what a reload must reconnect for."""

import dataclasses

import pytest
from oslo_config import cfg

from translator import config
from translator import settings as settings_module


@pytest.fixture
def settings():
    conf = cfg.ConfigOpts()
    config.register(conf)
    conf([], project='translator-tests')
    return settings_module.Settings.from_conf(conf)


# Each is declared when a connection opens: a reload that changes it is
# applied only through new connections.
@pytest.mark.parametrize('name, value', [
    ('quorum', True), ('durable', True), ('transient_quorum', True),
    ('quorum_delivery_limit', 7), ('default_queue_max_length', 3),
    ('default_queue_message_ttl', 60), ('default_queue_expires', 600),
    ('declare_default_queues', False), ('single_active_consumer', True)])
def test_what_is_declared_on_connecting_needs_new_connections(
        settings, name, value):
    changed = dataclasses.replace(settings, **{name: value})
    assert changed.needs_reconnect(settings)


def test_what_is_read_per_message_does_not(settings):
    changed = dataclasses.replace(settings, twin_wait=0.5,
                                  notification_format='versioned')
    assert not changed.needs_reconnect(settings)
