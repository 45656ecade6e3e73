import pathlib
import textwrap

import pytest

from tests import broker
from tests import contracts
from tests import tls
from translator import envelope
from translator import translation

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAPPINGS = ROOT / 'mappings'


# The CLI and the relay are tested with a mapping set of the tests' own,
# so that work on the shipped mappings cannot change these outcomes.
DEMO_MAPPINGS = {'demo/thing.yaml': '''
    payloads:
      ThingPayload:
        version: "1.0"
        history: {"1.0": Initial version}
        fields:
          id: {type: uuid, source: id}
          name: {type: string, source: name}
          state: {type: string, source: state, nullable: true}
    rules:
      - match: thing.{action}.{phase}
        captures: {phase: [start, end, error]}
        event_type: thing.{action}.{phase}
        publisher: demo-{service}:{host}
        payload: ThingPayload
      - match: thing.update
        event_type: thing.update
        payload: ThingPayload
        watch: {identity: id, fields: [state]}
    untranslated:
      - match: thing.legacy_only
        reason: no versioned form
'''}
ID = '0b2a3c4d-1111-4222-8333-944445555666'


def write_mappings(directory, files):
    """Write {relative path: YAML text} below directory; return it."""
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return directory


def legacy(event_type, payload, publisher_id='compute.host1',
           priority='INFO', message_id='5f1d6a5e-0c43-4d4e-9a52-0f6a3b2c1d00',
           timestamp='2016-08-19 10:20:59.279903', **extra):
    message = dict(event_type=event_type, payload=payload,
                   publisher_id=publisher_id, priority=priority,
                   message_id=message_id, timestamp=timestamp, **extra)
    return envelope.from_message(message)


@pytest.fixture
def make_translator(tmp_path):
    def make(files):
        return translation.Translator.from_directory(
            write_mappings(tmp_path / 'mappings', files))
    return make


@pytest.fixture(scope='session')
def shipped():
    return translation.Translator.from_directory(MAPPINGS)


@pytest.fixture
def vhost():
    with broker.vhost() as name:
        yield name


@pytest.fixture
def relay(tmp_path):
    """Start ``translator relay`` processes; all are stopped at the end."""
    started = []

    def start(ready=True, **options):
        process = broker.RelayProcess(tmp_path / str(len(started)), **options)
        started.append(process)
        return process.start(ready)
    yield start
    for process in started:
        process.stop()


@pytest.fixture
def mappings(tmp_path):
    root = write_mappings(tmp_path / 'mappings', DEMO_MAPPINGS)
    with contracts.translating_with(root):
        yield root


@pytest.fixture(scope='session')
def tls_nodes():
    """RabbitMQ nodes that take TLS only with a client certificate."""
    nodes = tls.TLSNodes().start()
    yield nodes
    nodes.stop()
