"""Golden samples: a legacy message in, the versioned notifications out.

Each ``golden/<service>/<case>.json`` holds ``input`` (a legacy message,
plain or as the messagingv2 wire body) and either ``expected`` (the list of
versioned notifications) or ``outcome`` and ``reason`` for a message that
must not translate. Every field is compared.
"""

import json
import pathlib

import orjson
import pytest

from tests import contracts
from tests.compare import differences
from tests.conftest import MAPPINGS

GOLDEN = pathlib.Path(__file__).parent / 'golden'
CASES = sorted(GOLDEN.rglob('*.json'))


def test_every_shipped_service_has_golden_cases():
    shipped = {p.name for p in MAPPINGS.iterdir() if p.is_dir()}
    assert shipped and shipped <= {p.parent.name for p in CASES}


@pytest.mark.parametrize('case', CASES,
                         ids=[str(p.relative_to(GOLDEN)) for p in CASES])
def test_golden(shipped, case):
    spec = json.loads(case.read_text())
    outcome = shipped.body_to_versioned(orjson.dumps(spec['input']))
    if 'expected' in spec:
        assert outcome.ok, outcome.reason
        assert differences(spec['expected'], outcome.notifications) == []
        for notification in outcome.notifications:
            contracts.validate(notification, MAPPINGS)
    else:
        assert outcome.kind == spec['outcome']
        assert spec['reason'] in outcome.reason
