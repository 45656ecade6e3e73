"""Field-by-field comparison that names every difference."""


def differences(expected, actual, path='$'):
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in expected.keys() - actual.keys():
            out.append('%s.%s: missing' % (path, key))
        for key in actual.keys() - expected.keys():
            out.append('%s.%s: unexpected %r' % (path, key, actual[key]))
        for key in expected.keys() & actual.keys():
            out += differences(expected[key], actual[key],
                               '%s.%s' % (path, key))
        return sorted(out)
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return ['%s: %d items, expected %d' % (path, len(actual),
                                                   len(expected))]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            out += differences(e, a, '%s[%d]' % (path, i))
        return out
    if type(expected) is not type(actual) or expected != actual:
        return ['%s: %r, expected %r' % (path, actual, expected)]
    return []
