"""The release as an operator gets it: the sdist and the wheel built from
this checkout, their metadata as the package index checks it, and the
wheel installed in a clean virtualenv with constraints.txt, from where its
commands run as they would on a machine that never saw the checkout."""

import email.parser
import importlib.metadata
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import translator
from tests import broker
from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
NAME = PYPROJECT['name']
VERSION = PYPROJECT['version']
GOLDEN = ROOT / 'tests' / 'golden'
MAPPING_FILES = sorted(str(p.relative_to(ROOT))
                       for p in (ROOT / 'mappings').rglob('*.yaml'))
GOLDEN_FILES = sorted(str(p.relative_to(ROOT)) for p in GOLDEN.rglob('*.json'))


def run(argv, **kwargs):
    result = subprocess.run([str(a) for a in argv], capture_output=True,
                            text=True, timeout=600, **kwargs)
    assert result.returncode == 0, (argv, result.stdout, result.stderr)
    return result


def containerfile():
    return (ROOT / 'deploy' / 'container' / 'Containerfile').read_text()


def image_sources():
    """What the Containerfile copies into /src, the package's build tree:
    {path in the checkout: path under /src}."""
    sources = {}
    for line in re.findall(r'^COPY (.*)$', containerfile(), re.M):
        *paths, destination = line.split()
        assert destination.startswith('/src/'), line
        for path in paths:
            sources[path] = destination[len('/src/'):] + (
                pathlib.Path(path).name if destination.endswith('/') else '')
    return sources


@pytest.fixture(scope='module')
def dist(tmp_path_factory):
    """The sdist and the wheel, built with the constrained setuptools of
    this virtualenv (no isolated build environment: nothing from the index
    that day), from only what the Containerfile copies: what the image is
    built from is all the package needs."""
    tree = tmp_path_factory.mktemp('src')
    for path, inside in image_sources().items():
        source, copy = ROOT / path, tree / inside
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns(
                '__pycache__'))
        else:
            shutil.copy(source, copy)
    out = tmp_path_factory.mktemp('dist')
    run([sys.executable, '-m', 'build', '--no-isolation', '--sdist',
         '--wheel', '--outdir', out, tree])
    (wheel,) = out.glob('*.whl')
    (sdist,) = out.glob('*.tar.gz')
    return wheel, sdist


@pytest.fixture(scope='module')
def installed(dist, tmp_path_factory):
    """The wheel in a virtualenv of its own, with the constraints."""
    venv = tmp_path_factory.mktemp('venv')
    run([sys.executable, '-m', 'venv', venv])
    # as the Containerfile installs it
    run([venv / 'bin' / 'pip', 'install', '-q', '--disable-pip-version-check',
         dist[0]], env=dict(os.environ, PIP_CONSTRAINT=str(
             ROOT / 'constraints.txt')))
    return venv


def command(venv, *args, cwd):
    """The installed ``translator``, away from the checkout (no
    PYTHONPATH, another working directory)."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return run([venv / 'bin' / 'translator', *args], cwd=cwd, env=env)


def pins():
    """{canonical name: version} of constraints.txt."""
    found = {}
    for line in (ROOT / 'constraints.txt').read_text().splitlines():
        line = line.split('#')[0].strip()
        if line:
            name, _, version = line.partition('==')
            found[canonicalize_name(name)] = version
    return found


def test_constraints_meet_the_lower_bounds():
    pinned = pins()
    for text in PYPROJECT['dependencies'] + \
            PYPROJECT['optional-dependencies']['test']:
        requirement = Requirement(text)
        version = pinned[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), (text, version)


def test_the_suite_runs_with_the_constrained_versions():
    """This environment is constraints.txt exactly: what the suite passes
    with is what the file says was tested."""
    # of this virtualenv's site-packages: not an egg-info of the checkout
    here = {canonicalize_name(d.metadata['Name']): d.version
            for d in importlib.metadata.distributions(
                path=[sysconfig.get_paths()['purelib']])}
    here.pop(canonicalize_name(NAME))
    here.pop('pip')
    assert here == pins()


def test_the_installed_wheel_takes_only_pinned_versions(installed):
    listed = json.loads(run([installed / 'bin' / 'pip', 'list',
                             '--format=json']).stdout)
    pinned = pins()
    # pip and setuptools come with the virtualenv, not with the wheel
    taken = {canonicalize_name(d['name']): d['version'] for d in listed
             if d['name'] not in ('pip', 'setuptools', NAME)}
    assert taken == {name: pinned[name] for name in taken}
    assert canonicalize_name('oslo.messaging') in taken


def test_the_metadata_is_what_the_index_accepts(dist):
    run([sys.executable, '-m', 'twine', 'check', '--strict', *dist])
    with zipfile.ZipFile(dist[0]) as wheel:
        info = '%s-%s.dist-info/' % (NAME.replace('-', '_'), VERSION)
        metadata = email.parser.Parser().parsestr(
            wheel.read(info + 'METADATA').decode())
        entry_points = wheel.read(info + 'entry_points.txt').decode()
        names = wheel.namelist()
    assert metadata['Name'] == NAME
    assert metadata['Version'] == VERSION
    assert metadata['Requires-Python'] == PYPROJECT['requires-python']
    requires = metadata.get_all('Requires-Dist')
    runtime = [r for r in requires if 'extra ==' not in r]
    assert sorted(runtime) == sorted(PYPROJECT['dependencies'])
    assert sorted(r.split(';')[0].strip() for r in requires
                  if 'extra == "test"' in r) == sorted(
        PYPROJECT['optional-dependencies']['test'])
    assert 'translator = translator.cli:main' in entry_points
    assert 'rabbit = translator.transports.rabbit:Driver' in entry_points
    # the mapping set and the benchmark's corpus, as data
    data = '%s-%s.data/data/share/translator/' % (NAME.replace('-', '_'),
                                                  VERSION)
    assert sorted(n[len(data):] for n in names if n.startswith(
        data + 'mappings/')) == MAPPING_FILES
    assert sorted('tests/' + n[len(data):] for n in names if n.startswith(
        data + 'golden/')) == GOLDEN_FILES
    assert not [n for n in names if n.startswith('tests/')]


def test_the_sdist_builds_the_same_wheel_from_what_it_holds(dist):
    """Everything the wheel is made of is in the sdist: the mappings, the
    golden samples, the README that is its long description."""
    with tarfile.open(dist[1]) as sdist:
        top = '%s-%s/' % (NAME.replace('-', '_'), VERSION)
        held = {n[len(top):] for n in sdist.getnames()}
    assert set(MAPPING_FILES + GOLDEN_FILES) <= held
    assert {'pyproject.toml', 'README.rst'} <= held


def test_version(installed, tmp_path):
    result = command(installed, '--version', cwd=tmp_path)
    assert result.stdout.strip() == '%s %s' % (NAME, VERSION)
    assert translator.DISTRIBUTION == NAME


def test_translate_a_file(installed, tmp_path):
    """With the mappings the wheel installed: a golden input in, its
    golden translation out."""
    spec = json.loads((GOLDEN / 'nova' / 'instance-create-start.json')
                      .read_text())
    source = tmp_path / 'legacy.jsonl'
    source.write_text(json.dumps(spec['input']) + '\n')
    result = command(installed, 'translate', source, cwd=tmp_path)
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert out == spec['expected']


def test_schema(installed, tmp_path):
    output = tmp_path / 'schema'
    result = command(installed, 'schema', '--output', output, cwd=tmp_path)
    written = {str(pathlib.Path(p).relative_to(output))
               for p in result.stdout.split()}
    shipped = ROOT / 'doc' / 'schema'
    assert written == {str(p.relative_to(shipped))
                       for p in shipped.rglob('*') if p.is_file()}
    for name in written:
        assert (output / name).read_bytes() == (shipped / name).read_bytes()


def test_bench_with_its_installed_corpus(installed, tmp_path):
    result = command(installed, 'bench', 'translate', '--rounds', '1',
                     '--lines', '0', cwd=tmp_path)
    median = re.search(r'MEDIAN over (\d+) samples', result.stdout)
    translated = [p for p in GOLDEN.rglob('*.json')
                  if 'expected' in json.loads(p.read_text())]
    assert int(median.group(1)) == len(translated)


def test_relay(installed, vhost, tmp_path):
    """The installed relay at its defaults on a bus of its own: a legacy
    notification in, as Nova sent it (its request context included), its
    golden translation out."""
    spec = json.loads((GOLDEN / 'nova' / 'instance-create-start.json')
                      .read_text())
    (expected,) = spec['expected']
    versioned = broker.Collector(vhost, 'nova', 'versioned_notifications.*')
    process = broker.RelayProcess(
        tmp_path / 'relay', command=[installed / 'bin' / 'translator'],
        source={'transport_url': broker.url(vhost)})
    process.start()
    try:
        broker.publish_raw(vhost, 'nova', 'notifications.info',
                           json.dumps(spec['input']).encode())
        (message,) = versioned.take(1)
        got = json.loads(json.loads(message.body)['oslo.message'])
    finally:
        process.stop()
    assert message.delivery_info['routing_key'] == \
        'versioned_notifications.info'
    # field by field, every field of the golden translation
    for key, value in expected.items():
        assert got[key] == value, key


# -- the image and the commands that build and run it --

def test_the_image_is_built_from_the_constraints_and_labelled():
    text = containerfile()
    labels = dict(re.findall(r'org\.opencontainers\.image\.(\w+)="([^"]*)"',
                             text))
    assert labels['title'] == NAME
    assert labels['version'] == VERSION
    assert labels['licenses'] == PYPROJECT['license']['text']
    (install,) = re.findall(r'^RUN (.*pip install.*)$', text, re.M)
    assert install.startswith('PIP_CONSTRAINT=/src/constraints.txt ')
    assert image_sources()['constraints.txt'] == 'constraints.txt'


def test_readme_and_deploy_name_the_same_image():
    tag = '%s:%s' % (NAME, VERSION)
    build = 'podman build -f deploy/container/Containerfile -t %s .' % tag
    readme = (ROOT / 'README.rst').read_text()
    assert build in readme
    assert ' '.join(re.sub(r'\\\n#', '', containerfile()).split()).count(
        build) == 1
    images = re.findall(r'^\s*image: (\S+)$', (
        ROOT / 'deploy' / 'kubernetes' / 'deployment.yaml').read_text(), re.M)
    assert images == [tag]


def test_readme_commands_are_what_ci_runs():
    """README's two commands: the relay's install, and the tests', which
    .ci/run runs exactly."""
    readme = (ROOT / 'README.rst').read_text()
    quick_start = readme.split('Quick start')[1].split('\n\n\n')[0]
    commands = re.findall(r'::\n\n    (.*)\n', quick_start)
    assert commands[:2] == ['.ci/install && .venv/bin/translator relay',
                            '.ci/setup && .venv/bin/python -m pytest']
    assert (ROOT / '.ci' / 'run').read_text().splitlines()[-1] == \
        commands[1]
