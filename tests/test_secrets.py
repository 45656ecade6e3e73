"""translator.secrets: request contexts and bodies masked as oslo.utils
masks them."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oslo_utils import strutils

from translator import secrets


def _wire(message, **dumps):
    return json.dumps({'oslo.version': '2.0', 'oslo.message': json.dumps(
        message, **dumps)}, **dumps).encode()


SECRET_CONTEXT = {'_context_auth_token': 'tok"en\u00e9', '_context_user': 'u',
                  '_context_service_catalog': {'password': 'p'},
                  '_context_roles': ['admin']}


def test_dead_letter_bodies_keep_every_byte_but_the_secrets():
    message = dict(event_type='x.y', payload={'a': 'tok"en\u00e9'},
                   publisher_id='p', **SECRET_CONTEXT)
    del message['_context_service_catalog']
    raw = _wire(message)
    masked = secrets.redacted_body(raw)
    # Only the token's text changed: the same bytes around it.
    token = json.dumps(json.dumps('tok"en\u00e9')[1:-1])[1:-1].encode()
    assert masked == raw.replace(b'_context_auth_token\\": \\"' + token,
                                 b'_context_auth_token\\": \\"***')
    assert secrets.redacted_body(b'{not json') == b'{not json'
    plain = json.dumps({'x': 1, '_context_user': 'u'}).encode()
    assert secrets.redacted_body(plain) is plain  # nothing to mask


@pytest.mark.parametrize('damage', [
    lambda body: body[:-3] + b'\xff' + body[-3:],  # not UTF-8
    lambda body: body[:-10],  # cut short
    lambda body: body.replace(b'"2.0"', b'"3.0"'),  # another envelope
])
@pytest.mark.parametrize('dumps', [{}, {'separators': (',', ':')}])
def test_a_body_that_cannot_be_parsed_keeps_no_secret(damage, dumps):
    """Masked byte by byte: only the secrets' text changes, whatever
    their escapes (quotes and backslashes in them) and whatever is wrong
    elsewhere; a key that merely mentions a secret's name in a value is
    left alone."""
    token, password = 'tok"en\u00e9\\', 'pa\\ss"word'
    message = dict(event_type='x.y', payload={'note': 'a "token" here'},
                   publisher_id='p', _context_auth_token=token,
                   _context_user='u', _context_service_catalog={
                       'password': password},
                   _context_request_id='req-0123456789abcdef')
    raw = _wire(message, **dumps)
    expected = raw
    for value in (token, password):
        escaped = json.dumps(json.dumps(value)[1:-1])[1:-1].encode()
        assert raw.count(escaped) == 1
        expected = expected.replace(escaped, b'***')
    masked = secrets.redacted_bytes(damage(raw))
    assert masked == damage(expected)
    assert secrets.redacted_body(damage(raw)) == masked


@pytest.mark.parametrize('dumps', [{}, {'separators': (',', ':')}])
def test_dead_letter_bodies_are_masked_as_oslo_masks_whatever_their_form(
        dumps):
    message = dict(event_type='x.y', payload={}, publisher_id='p',
                   **SECRET_CONTEXT)
    inner = json.loads(json.loads(secrets.redacted_body(
        _wire(message, **dumps)))['oslo.message'])
    context = {k[len('_context_'):]: v for k, v in message.items()
               if k.startswith('_context_')}
    assert {k[len('_context_'):]: v for k, v in inner.items()
            if k.startswith('_context_')} == strutils.mask_dict_password(
                context)
    assert inner['_context_auth_token'] == '***'
    assert inner['_context_service_catalog'] == {'password': '***'}


_NAMES = st.sampled_from([
    'auth_token', 'AUTH_TOKEN', 'user_id', 'request_id', 'roles',
    'service_catalog', 'password', 'x_Password_y', 'token', 'secret_uuid',
    'user_name', 'timestamp', 'is_admin', 'chapsecret', 'remote_address'])
_TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(['password=hunter2', "'adminPass': 'aaaaa'",
                     'token: abc', 'a Secret here', 'SSLKEY=1',
                     '--password d81juxmEW_', 'req-1c2d', 'İ\u0130passwordΣ']))
_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(
        allow_nan=False), _TEXTS),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(
        st.one_of(_NAMES, st.text(max_size=6)), inner, max_size=3)),
    max_leaves=6)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.one_of(_NAMES, st.text(max_size=10)), _VALUES,
                       max_size=12))
def test_contexts_are_masked_exactly_as_oslo_masks_them(context):
    masked = strutils.mask_dict_password(context)
    assert secrets.redact_context(context) == masked
    # as they travel, each key prefixed: the same values masked
    assert secrets.redact_context({
        '_context_' + key: value for key, value in context.items()}) == {
        '_context_' + key: value for key, value in masked.items()}
