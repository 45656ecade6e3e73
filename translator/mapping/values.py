"""Turning legacy values into the values of payload fields, one type each.

Every type has two functions over a value that is not None:

- ``normalise(v)``: the value an oslo.versionedobjects field is given
  (strict: a legacy value that does not fit raises ValueError with a reason);
- ``primitive(v)``: what the field's ``to_primitive`` makes of
  ``normalise(v)``, computed in one step for the hot path (the same
  function where the two are the same).

The property tests hold ``primitive(v)`` equal to what the object built with
``normalise(v)`` serialises to.
"""

import datetime
import re
import uuid

import netaddr
from oslo_utils import strutils

_UTC = datetime.timezone.utc
_fromisoformat = datetime.datetime.fromisoformat
_UUID_RE = re.compile(r'[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
                      r'[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z')
#: Legacy dates already in UTC, whose primitive is a re-arrangement.
_UTC_DATE_RE = re.compile(r'\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,6})?'
                          r'(Z|[+-]00:?00)?\Z')
_MAC_RE = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
_TEXT_TYPES = (str, int, float)


def _describe(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


def _string(v):
    if v.__class__ is str:
        return v
    # oslo.versionedobjects' StringField takes numbers as their text.
    if isinstance(v, _TEXT_TYPES):
        return str(v)
    raise ValueError('not a string: %s' % _describe(v))


_INT_MIN, _INT_MAX = -2 ** 63, 2 ** 63 - 1


def _int(v):
    if v.__class__ is not int:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ValueError('not an integer: %s' % _describe(v))
        try:
            if isinstance(v, float) and not v.is_integer():
                raise ValueError
            v = int(v.strip() if isinstance(v, str) else v)
        except (ValueError, OverflowError):
            raise ValueError('not an integer: %s' % _describe(v)) from None
    if not _INT_MIN <= v <= _INT_MAX:
        # JSON consumers (and the wire encoder) stop at 64 bits.
        raise ValueError('integer out of 64-bit range: %s' % _describe(v))
    return v


def _float(v):
    if v.__class__ is float:
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise ValueError('not a number: %s' % _describe(v))
    try:
        return float(v)
    except ValueError:
        raise ValueError('not a number: %s' % _describe(v)) from None


def _bool(v):
    if v.__class__ is bool:
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        try:
            return strutils.bool_from_string(v, strict=True)
        except ValueError:
            pass
    raise ValueError('not a boolean: %s' % _describe(v))


def _uuid(v):
    if v.__class__ is str and _UUID_RE.match(v):
        return v
    if not isinstance(v, str):
        raise ValueError('not a UUID: %s' % _describe(v))
    try:
        uuid.UUID(v)  # the rarer forms: braces, urn:uuid:
    except ValueError:
        raise ValueError('not a UUID: %s' % _describe(v)) from None
    return v


def _datetime(v):
    if not isinstance(v, str):
        raise ValueError('not a date: %s' % _describe(v))
    try:
        ts = datetime.datetime.fromisoformat(v.strip())
    except ValueError:
        raise ValueError('not a date: %s' % _describe(v)) from None
    if ts.tzinfo is None:
        # legacy notifications carry UTC without saying so
        ts = ts.replace(tzinfo=_UTC)
    else:
        try:
            ts = ts.astimezone(_UTC)
        except OverflowError:
            raise ValueError('date beyond year 9999 in UTC: %s'
                             % _describe(v)) from None
    if ts.year < 1000:
        # strftime writes such years without padding on some platforms
        # only; no real notification has one.
        raise ValueError('date before year 1000: %s' % _describe(v))
    return ts


def _datetime_primitive(v):
    if v.__class__ is str and v[:1] != '0' and _UTC_DATE_RE.match(v):
        try:
            _fromisoformat(v)  # the date exists
        except ValueError:
            pass  # the general path says why
        else:
            return '%sT%sZ' % (v[:10], v[11:19])
    ts = _datetime(v)
    # oslo.versionedobjects' isotime for a UTC value, without strftime.
    return '%04d-%02d-%02dT%02d:%02d:%02dZ' % (
        ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second)


def _ip(v):
    if not isinstance(v, str):
        raise ValueError('not an IP address: %s' % _describe(v))
    v = v.strip()
    try:
        # The version given, netaddr does not try IPv4 first and keep the
        # failure: cyclic garbage per IPv6 address, for the collector.
        return netaddr.IPAddress(v, 6 if ':' in v else 4)
    except (netaddr.AddrFormatError, ValueError):
        raise ValueError('not an IP address: %s' % _describe(v)) from None


_OCTET = r'(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)'
#: An IPv4 address as netaddr writes it: most legacy addresses are.
_CANONICAL_IPV4 = re.compile(r'%s(?:\.%s){3}\Z' % (_OCTET, _OCTET)).match


def _ip_primitive(v):
    if v.__class__ is str and _CANONICAL_IPV4(v):
        return v
    return str(_ip(v))


def _mac(v):
    if isinstance(v, str):
        lowered = v.lower().replace('-', ':')
        if _MAC_RE.match(lowered):
            return lowered
    raise ValueError('not a MAC address: %s' % _describe(v))


def _dict_of_strings(v):
    if not isinstance(v, dict):
        raise ValueError('not an object: %s' % _describe(v))
    out = {}
    for key, item in v.items():
        if item is None:
            raise ValueError('null value for key %r' % key)
        out[key] = _string(item)
    return out


def _list_of_strings(v):
    if not isinstance(v, list):
        raise ValueError('not a list: %s' % _describe(v))
    return [_string(item) for item in v]


class ValueType:
    __slots__ = ('name', 'normalise', 'primitive')

    def __init__(self, name, normalise, primitive=None):
        self.name = name
        self.normalise = normalise
        self.primitive = primitive or normalise


SCALAR_TYPES = {t.name: t for t in (
    ValueType('string', _string),
    ValueType('int', _int),
    ValueType('float', _float),
    ValueType('bool', _bool),
    ValueType('uuid', _uuid),
    ValueType('datetime', _datetime, _datetime_primitive),
    ValueType('ip_address', _ip, _ip_primitive),
    ValueType('mac_address', _mac),
    ValueType('dict_of_strings', _dict_of_strings),
    ValueType('list_of_strings', _list_of_strings),
)}


def enum_type(allowed):
    allowed = frozenset(allowed)

    def normalise(v):
        v = _string(v)
        if v not in allowed:
            raise ValueError('%s is not one of %s' % (
                _describe(v), ', '.join(sorted(allowed))))
        return v
    return ValueType('string', normalise)
