"""The mutation tool (.ci/mutants.py, run by hand) still names code that
exists: a mutant whose text is gone would be reported broken, not run."""

import importlib.util
import pathlib

from tests.conftest import ROOT


def test_every_mutant_changes_one_place_of_the_code_and_names_its_tests():
    spec = importlib.util.spec_from_file_location(
        'mutants', ROOT / '.ci' / 'mutants.py')
    mutants = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mutants)
    assert len(mutants.MUTANTS) >= 50
    for name, (path, text, replacement, tests) in mutants.MUTANTS.items():
        assert (ROOT / path).read_text().count(text) == 1, name
        assert text != replacement, name
        assert tests and all((ROOT / t).is_file() for t in tests), name
        assert pathlib.Path(path).parts[0] == 'translator', name
