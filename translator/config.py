"""Every option of the translator, for oslo.config and its sample generator.

``oslo-config-generator --namespace translator`` reads ``list_opts``.
"""

import pathlib
import sys

from oslo_config import cfg


def default_mappings_dir():
    """The shipped mapping set: the checkout's, else the installed copy."""
    checkout = pathlib.Path(__file__).resolve().parent.parent / 'mappings'
    if checkout.is_dir():
        return str(checkout)
    return str(pathlib.Path(sys.prefix) / 'share' / 'translator' / 'mappings')


relay_opts = [
    cfg.StrOpt('mappings_dir', default=default_mappings_dir(),
               sample_default='<installed mappings>',
               help='Directory of the mapping set (mappings/<service>/*.yaml).'),
]


def list_opts():
    return [('relay', relay_opts)]


def register(conf):
    for group, opts in list_opts():
        conf.register_opts(opts, group=group)
