"""Payload fingerprints, as Nova keeps them: a change to a payload class's
fields or to where they come from, without a version bump, fails here.

When a change is deliberate: bump the class's version, add the version to
its history, and put the new fingerprint printed by the failure below. A
Nova class keeps Nova's version: a change that makes its values more like
Nova's own only takes the new fingerprint.
"""

from oslo_versionedobjects import fixture

from translator import objects
from translator import translation
from tests.conftest import DEMO_MAPPINGS, MAPPINGS, write_mappings

EXPECTED = {
    'nova.AuditPeriodPayload': '1.0-4111e7e537054b2ec871c4008c5b1ac2',
    'nova.ComputeTaskPayload': '1.0-b674c62eb7014de054ac02593ff46c13',
    'nova.ExceptionPayload': '1.1-27abe8e4773b3d391552fddb8f4080cf',
    'nova.FlavorPayload': '1.4-5634e2333f6436f90f048fbe0075a7c1',
    'nova.ImageMetaPayload': '1.0-d54444707a4505a2c12f881ef6ddbc72',
    'nova.ImageMetaPropsPayload': '1.20-6cece9ce863c659ab296ba1ddcbc98fa',
    'nova.InstanceActionPayload': '1.9-517ba1241e92cbdc22fd12176014bcac',
    'nova.InstanceActionRebuildPayload': '1.10-bb4ee8f41abbed4b45a194d39b5a1f28',
    'nova.InstanceActionRescuePayload': '1.4-a6f83548ef1643d88453ea62e4b8d090',
    'nova.InstanceActionResizePrepPayload': '1.4-70980dbf1ca5ebb2be088f4b3c9e9338',
    'nova.InstanceActionVolumePayload': '1.7-dfc7986af68496bee3ef24cf8b9b7266',
    'nova.InstanceCreatePayload': '1.13-203bc8bc0055fb8a560f100de1a4b54e',
    'nova.InstanceExistsPayload': '2.1-d758af7f5f73e1fffa25bc71d3859d59',
    'nova.InstancePCIRequestPayload': '1.1-9140148e0e1de785aeedfea3a8485c99',
    'nova.InstancePCIRequestsPayload': '1.0-647715352a565bcb478592c5aa6e99f6',
    'nova.InstancePayload': '1.9-0e8cbcc91350b390fd4b0395334ffc53',
    'nova.InstanceStateUpdatePayload': '1.0-f50af00873bed6330bd2214d64270677',
    'nova.InstanceUpdatePayload': '2.1-4d62ae3ccec4c5b0560150b32793854b',
    'nova.IpPayload': '1.0-aa3e27f284d733ea19244441e9124bf3',
    'nova.KeypairPayload': '1.0-c8f1cad6306cd165be2a3683e8cd82c5',
    'nova.LibvirtErrorPayload': '1.0-453dcc01bfe002485c5b13b7e57b0d7c',
    'nova.MetricPayload': '1.0-1713362955c65109ee817aa81832b759',
    'nova.MetricsPayload': '1.0-094116ce9369ce7f0be64929da8b1ad8',
    'nova.RequestSpecPayload': '1.1-c77a5cc2d0596b32731a3a9c7f7f6249',
    'nova.ServerGroupPayload': '1.1-c1f1574aa1219af404dbfb5dc662c09f',
    'nova.VolumeUsagePayload': '1.0-f4dfaead2efac1dd517d375405e270ab',
    'trove.TroveActionPayload': '1.0-8193a3158a664d0e55c7e309c18acd3a',
    'trove.TroveAuditPeriodPayload': '1.0-4249d7cae99d8a94a0294787611e82ee',
    'trove.TroveBackupActionPayload': '1.0-0b96c7ddb59b33ac432c5db70205123b',
    'trove.TroveClusterActionPayload': '1.1-2d2cc0d5e244b5815aa7fdf722e4b012',
    'trove.TroveConfigurationActionPayload': '1.0-7625c05126841385603ec84f94c6ef34',
    'trove.TroveDatabaseActionPayload': '1.0-6e1db8921abe2ed3ac5c5cb25a8cf02b',
    'trove.TroveDatabaseSpecPayload': '1.0-58fc9db00908bf83042f215e50794b03',
    'trove.TroveDatastorePayload': '1.0-a567e2bcec34cf7f34fcadafa28b6fc0',
    'trove.TroveFaultPayload': '1.0-7498baed71c433828bab39d79e5e3f07',
    'trove.TroveFlavorPayload': '1.0-d4a4e17889e1caf50496eed3c2e4848c',
    'trove.TroveInstanceActionPayload': '1.1-939342a7fb18790d3a011d25bc4dbd2b',
    'trove.TroveInstanceCreateActionPayload': '1.0-825dfceec2e970ac3a4942873ae5357d',
    'trove.TroveInstanceCreateUsagePayload': '1.0-a3ac6520b548c3748e14eb8433159d1b',
    'trove.TroveInstanceDeleteUsagePayload': '1.0-ad348be35be50f98ffb2fdb369cdbfd6',
    'trove.TroveInstanceExistsPayload': '1.0-d2de8d2080bfed620ab2203692571166',
    'trove.TroveInstanceModifyUsagePayload': '1.0-b928777ee931b94757a562d8f1a1d59d',
    'trove.TroveInstanceResizeFlavorUsagePayload': '1.0-0885d1e539f34bb3c5c63de95a6b121d',
    'trove.TroveInstanceResizeVolumeUsagePayload': '1.0-9d6ab1c1daa8cc63b0c1fb1af740b5d5',
    'trove.TroveInstanceUsagePayload': '1.0-4220afa373e375273c1d2bc36ae148b8',
    'trove.TroveNicPayload': '1.0-3bffb9c0b212b7f03f192e4567d1a3a7',
    'trove.TroveQuotaPayload': '1.0-68d24b69194617800e574a975fc62864',
    'trove.TroveRequestPayload': '1.0-96f368566860c3d49fa1e9b926ac3050',
    'trove.TroveUserActionPayload': '1.1-ed717f6f780561cebab1399a19b4dbff',
    'trove.TroveUserSpecPayload': '1.0-10e832d596f8501acedabde5acf6a018',
    'trove.TroveVolumePayload': '1.0-cbacf0f503860c97908056c60f53c718',
}


def fingerprints(translator):
    checker = fixture.ObjectVersionChecker({
        '%s.%s' % key: [cls]
        for key, cls in translator.registry.classes.items()})
    return checker.get_hashes(
        extra_data_func=objects.mapping_fingerprint_data)


def test_shipped_payload_fingerprints():
    actual = fingerprints(translation.Translator.from_directory(MAPPINGS))
    changed = {name: actual.get(name) for name in set(actual) | set(EXPECTED)
               if actual.get(name) != EXPECTED.get(name)}
    assert not changed, (
        'payload classes changed; bump their version if consumers can see '
        'it, then set these fingerprints in EXPECTED: %r' % changed)


def test_a_mapping_change_changes_the_fingerprint(tmp_path):
    before = fingerprints(translation.Translator.from_directory(
        write_mappings(tmp_path / 'a', DEMO_MAPPINGS)))
    changed = DEMO_MAPPINGS['demo/thing.yaml'].replace(
        'name: {type: string, source: name}',
        'name: {type: string, source: title}')
    after = fingerprints(translation.Translator.from_directory(
        write_mappings(tmp_path / 'b', {'demo/thing.yaml': changed})))
    assert before['demo.ThingPayload'] != after['demo.ThingPayload']
    # same version, different fingerprint: exactly what the test above flags
    assert before['demo.ThingPayload'][:4] == after['demo.ThingPayload'][:4]
