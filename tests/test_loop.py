"""translator.relay.loop, without a broker: a reload lets the replaced
mapping set go."""

import gc
import weakref

from oslo_config import cfg

from translator import config
from translator.relay import loop
from translator.relay import metrics
from tests.conftest import DEMO_MAPPINGS, write_mappings


def test_reload_lets_the_replaced_mapping_set_go(tmp_path):
    # The relay keeps its heap frozen for the collector; a reload must not
    # keep the replaced mapping set there for good.
    mappings = write_mappings(tmp_path / 'mappings', DEMO_MAPPINGS)
    config_file = tmp_path / 'translator.conf'
    config_file.write_text('[relay]\nmappings_dir = %s\n' % mappings)
    conf = cfg.ConfigOpts()
    config.register(conf)
    conf(['--config-file', str(config_file)], project='translator')
    relay = loop.Relay(conf, metrics.RelayMetrics())
    try:
        # payload classes live in reference cycles: only a collection
        # frees them
        old_class = weakref.ref(relay.router.translator.registry.classes[
            ('demo', 'ThingPayload')])
        relay.reload()
        new_class = relay.router.translator.registry.classes[
            ('demo', 'ThingPayload')]
        assert new_class is not old_class()
        assert old_class() is None
    finally:
        gc.unfreeze()
