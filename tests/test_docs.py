"""The generated reference documentation."""

from marshmallow import Schema

from tests.conftest import MAPPINGS, ROOT, write_mappings
from translator import docs
from translator.mapping import loader, spec

REGENERATE = ('run `translator docs` from the checkout (or `.venv/bin/python '
              '-c "from translator import docs; '
              'docs.write_all(\'mappings\', \'doc\')"`) and commit doc/')


def test_committed_docs_are_current():
    stale = docs.check_all(MAPPINGS, ROOT / 'doc')
    assert stale == [], 'out of date: %s; %s' % (
        ', '.join(str(p) for p in stale), REGENERATE)


def test_language_documents_every_key():
    text = docs.render_language()
    schemas = [s for s in vars(spec).values()
               if isinstance(s, type) and issubclass(s, Schema)]
    keys = {(s.__name__, f.data_key or name)
            for s in schemas for name, f in s().fields.items()}
    assert keys
    missing = sorted(k for k in keys if '``%s``' % k[1] not in text)
    assert missing == []


def test_events_of_a_service(tmp_path):
    root = write_mappings(tmp_path / 'mappings', {'demo/server.yaml': '''
        payloads:
          ServerPayload:
            version: "1.1"
            history: {"1.0": Initial version, "1.1": Added name}
            fields:
              uuid: {type: uuid, source: instance_id}
              name: {type: string, source: display_name, since: "1.1",
                     doc: Name shown to users.}
        rules:
          - match: compute.instance.{action}.{phase}
            captures: {action: [create, delete], phase: {start: begin}}
            event_type: server.{action}.{phase}
            payload: ServerPayload
            doc: The lifecycle.
        untranslated:
          - match: compute.instance.exists
            reason: Audit only.
    ''', 'other/thing.yaml': '''
        untranslated: [{match: volume.exists, reason: Not ours.}]
    '''})
    text = docs.render_events(loader.load_mapping_set(root), 'demo')
    for expected in ('``compute.instance.{action}.{phase}``',
                     '``{action}``: ``create``, ``delete``',
                     '``{phase}``: ``start → begin``',
                     '``server.{action}.{phase}``', '``ServerPayload`` 1.1',
                     'The lifecycle.', '``compute.instance.exists``',
                     'Audit only.', 'Name shown to users.'):
        assert expected in text
    assert 'volume.exists' not in text


def test_a_changed_or_missing_doc_file_is_named(tmp_path):
    written = docs.write_all(MAPPINGS, tmp_path)
    changed, missing = written[0], written[-1]
    changed.write_text(changed.read_text() + 'edited by hand\n')
    missing.unlink()
    assert docs.check_all(MAPPINGS, tmp_path) == [changed, missing]
    docs.write_all(MAPPINGS, tmp_path)
    assert docs.check_all(MAPPINGS, tmp_path) == []
