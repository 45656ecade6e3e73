"""Benchmarks; each prints its figures and the command that reproduces them."""

import pathlib

import orjson

DEFAULT_CORPUS = pathlib.Path(__file__).resolve().parents[2] / 'tests' / \
    'golden'


def load_corpus(directory):
    """(name, raw legacy message) of the golden samples that translate."""
    raws = []
    for path in sorted(pathlib.Path(directory).rglob('*.json')):
        spec = orjson.loads(path.read_bytes())
        if 'expected' in spec:
            raws.append((path.stem, orjson.dumps(spec['input'])))
    return raws
