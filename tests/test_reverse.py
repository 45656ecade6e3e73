"""translator.mapping.reverse: versioned notifications read back into
legacy ones, each reading of the language on its own."""

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from translator import envelope
from translator import translation
from translator.mapping import reverse
from tests.conftest import ID, legacy, write_mappings

MAPPINGS = {'demo/thing.yaml': '''
    payloads:
      ThingPayload:
        version: "1.0"
        history: {"1.0": Initial version}
        fields:
          id: {type: uuid, source: thing_id}
          name: {type: string, source: [display, name],
                 legacy: {key: display}}
          size: {type: object, class: SizePayload, source: .}
          owner: {type: string, source: meta.owner, nullable: true}
          made_at: {type: datetime, source: made_at, nullable: true,
                    legacy: {date: '%Y-%m-%d %H:%M:%S', empty: ''}}
          state: {type: string, source: state, map: {ACTIVE: active},
                  nullable: true}
          progress: {type: int, source: progress, default: 0,
                     legacy: {empty: ''}}
          note: {type: string, source: note, nullable: true,
                 legacy: {skip_null: true}}
          image: {type: string, source: image_url, extract: '([^/]*)$',
                  legacy: {format: ['{option.image_url}/images/{value}',
                                    '{value}']}}
          parts: {type: list_of_objects, class: PartPayload,
                  source: parts, default: []}
          next_size: {type: object, class: SizePayload, nullable: true,
                      compose: {disk: next_disk}}
          request_id: {type: string, source: $context.request_id,
                       nullable: true}
          kind: {type: string, constant: thing}
          secret: {type: string, source: hidden, default: x,
                   legacy: {omit: the legacy payload never had it}}
        legacy:
          label: {format: ['{name} ({size.disk} GB)']}
        not_carried:
          serial: the versioned payload has no serial number
      SizePayload:
        version: "1.0"
        history: {"1.0": Initial version}
        fields:
          disk: {type: int, source: disk, nullable: true}
          swap: {type: int, source: swap, nullable: true}
        legacy:
          total: {sum: [disk, swap]}
      PartPayload:
        version: "1.0"
        history: {"1.0": Initial version}
        fields:
          part: {type: string, source: part}
    rules:
      - match: thing.{action}.{phase}
        captures: {action: {finish_resize: resize_finish, grow: grow},
                   phase: [start, end]}
        event_type: thing.{action}.{phase}
        publisher: demo-{service}:{host}
        payload: ThingPayload
        reverse: true
      - match: thing.audit
        event_type: thing.exists
        publisher: demo-audit:{host}
        legacy_publisher: thing.{host}
        payload: ThingPayload
        reverse: true
    versioned_only:
      - match: thing.locked
        reason: no legacy form
'''}

LEGACY = dict(thing_id=ID, display='t', disk=20, swap=2, owner=None,
              meta={'owner': 'o'}, made_at='2026-03-01 10:20:49',
              state='ACTIVE', progress='', note=None,
              image_url='http://img/images/i-1',
              parts=[{'part': 'a'}, {'part': 'b'}], next_disk=40)


@pytest.fixture
def translator(tmp_path):
    return translation.Translator.from_directory(
        write_mappings(tmp_path / 'mappings', MAPPINGS),
        {'image_url': 'http://img'})


def round_trip(translator, event_type='thing.grow.end', **changes):
    """The legacy notification of the versioned translation of one."""
    forward = translator.to_versioned(legacy(event_type, dict(
        LEGACY, **changes), publisher_id='compute.host1.example.org',
        _context_request_id='req-1'))
    assert forward.ok, forward.reason
    [versioned] = forward.notifications
    outcome = translator.to_legacy(envelope.from_message(dict(
        versioned, _context_request_id='req-1')))
    assert outcome.ok, outcome.reason
    [back] = outcome.notifications
    return versioned, back


def test_every_reading_backwards(translator):
    versioned, back = round_trip(translator)
    assert back['payload'] == {
        'thing_id': ID,
        'display': 't',  # the key legacy.key names, of two sources
        'disk': 20, 'swap': 2, 'total': 22,  # a nested class at the top
        'meta': {'owner': 'o'},  # a nested path
        'made_at': '2026-03-01 10:20:49',  # in the form given
        'state': 'ACTIVE',  # the map inverted
        'progress': '',  # 0 is empty
        # `note` is null: left out
        'image_url': 'http://img/images/i-1',  # from the template
        'parts': [{'part': 'a'}, {'part': 'b'}],  # a list of objects
        'next_disk': 40,  # only the composed key of the nested class
        'label': 't (20 GB)',  # computed from fields
    }
    # context, constants, omitted fields: nothing written for them
    assert back['event_type'] == 'thing.grow.end'
    assert back['publisher_id'] == 'compute.host1.example.org'
    assert back['priority'] == versioned['priority']
    assert back['timestamp'] == versioned['timestamp']
    assert back['message_id'] == envelope.derived_id(
        versioned['message_id'], 0)


def test_capture_renames_and_empty_values_read_backwards(translator):
    _, back = round_trip(translator, 'thing.finish_resize.start',
                         made_at='', progress=7, note='n', swap=None)
    assert back['event_type'] == 'thing.finish_resize.start'
    payload = back['payload']
    assert (payload['made_at'], payload['progress'], payload['note']) == (
        '', 7, 'n')
    assert payload['swap'] is None and payload['total'] is None


def test_the_option_missing_takes_the_next_template(tmp_path):
    translator = translation.Translator.from_directory(write_mappings(
        tmp_path / 'mappings', MAPPINGS))
    _, back = round_trip(translator)
    assert back['payload']['image_url'] == 'i-1'


def test_a_fixed_publisher_reads_back_as_its_legacy_template(translator):
    _, back = round_trip(translator, 'thing.audit')
    assert back['event_type'] == 'thing.audit'
    assert back['publisher_id'] == 'thing.host1.example.org'


def test_what_cannot_be_read_back_says_why(translator):
    versioned, _ = round_trip(translator)

    def outcome(**changes):
        return translator.to_legacy(envelope.from_message(dict(
            versioned, **changes)))
    locked = outcome(event_type='thing.locked')
    assert (locked.kind, locked.reason) == (
        translation.SKIPPED, "event type 'thing.locked' has no legacy "
        "form: no legacy form")
    other = outcome(event_type='thing.shrink.end')
    assert (other.kind, other.reason) == (
        translation.UNMAPPED, "no rule reads event type 'thing.shrink.end'"
        " back into a legacy one")
    wrong_class = outcome(payload=dict(versioned['payload'], **{
        'demo_object.name': 'PartPayload'}))
    assert wrong_class.kind == translation.INVALID
    assert wrong_class.reason.startswith("payload class 'PartPayload'")
    publisher = outcome(publisher_id='other:host1')
    assert publisher.kind == translation.INVALID
    assert publisher.reason.startswith("publisher 'other:host1' is not "
                                       "'demo-{service}:{host}'")
    data = dict(versioned['payload']['demo_object.data'],
                made_at='yesterday')
    bad_date = outcome(payload=dict(versioned['payload'], **{
        'demo_object.data': data}))
    assert bad_date.kind == translation.INVALID
    assert bad_date.reason.startswith(
        "ThingPayload: field made_at: not a date: 'yesterday'")


def test_bodies_that_are_not_notifications_are_malformed(translator):
    outcome = translator.body_to_legacy(b'{"oslo.version": "2.0"}')
    assert outcome.kind == translation.MALFORMED


def test_a_writer_lists_what_is_not_carried_nested_classes_included(
        translator):
    [rule, _] = translator.reverse_index.rules
    assert dict(rule.writer.not_carried()) == {
        'serial': 'the versioned payload has no serial number'}


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime.datetime(1000, 1, 1),
                    max_value=datetime.datetime(9999, 12, 31)),
       st.sampled_from(['%Y-%m-%d %H:%M:%S+00:00', '%Y-%m-%dT%H:%M:%S.%f',
                        '%Y-%m-%d %H:%M:%S', '%d/%m/%Y %H%% %M', '%b %Y']),
       st.booleans())
def test_dates_re_arranged_as_text_are_what_datetime_gives(when, form, utc):
    """The legacy form of a versioned date, re-arranged from its text,
    equals strftime's of the datetime it stands for; so does one in
    another form (an offset), which goes through datetime."""
    text = when.replace(microsecond=0).isoformat() + ('Z' if utc
                                                      else '+02:00')
    expected = reverse._legacy_date(text, form)
    assert reverse._date_writer(form)(text) == expected
    if utc:
        assert expected == when.replace(microsecond=0).strftime(form)
