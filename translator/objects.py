"""Payload classes as real oslo.versionedobjects classes.

Every payload class of a mapping set becomes a VersionedObject subclass
whose serialised form is ``<namespace>_object.{name,namespace,version,data}``
(``nova_object.*`` for Nova, exactly Nova's shape). The classes live in the
set's own PayloadRegistry, not in oslo's process-wide one, so a reloaded
set never mixes with the set it replaces.
"""

import json

from oslo_versionedobjects import base
from oslo_versionedobjects import exception
from oslo_versionedobjects import fields

from translator.mapping import spec

_FIELD_CLASSES = {
    'string': fields.StringField,
    'int': fields.IntegerField,
    'float': fields.FloatField,
    'bool': fields.BooleanField,
    'uuid': fields.UUIDField,
    'datetime': fields.DateTimeField,
    'ip_address': fields.IPV4AndV6AddressField,
    'mac_address': fields.MACAddressField,
    'dict_of_strings': fields.DictOfStringsField,
    'list_of_strings': fields.ListOfStringsField,
}


def oslo_field(fspec):
    """The oslo.versionedobjects field for one field rule."""
    nullable = fspec['nullable']
    kind = fspec['type']
    if kind == 'object':
        return fields.ObjectField(fspec['class_'], nullable=nullable)
    if kind == 'list_of_objects':
        return fields.ListOfObjectsField(fspec['class_'], nullable=nullable)
    if 'values' in fspec:
        return fields.EnumField(fspec['values'], nullable=nullable)
    return _FIELD_CLASSES[kind](nullable=nullable)


class PayloadRegistry:
    """The payload classes of one mapping set, by namespace and name."""

    def __init__(self):
        self.classes = {}
        self._bases = {}

    def base_for(self, namespace):
        if namespace not in self._bases:
            self._bases[namespace] = type(
                '%sPayloadBase' % namespace.capitalize(),
                (_PayloadBase,),
                {'OBJ_SERIAL_NAMESPACE': spec.serial_namespace(namespace),
                 'OBJ_PROJECT_NAMESPACE': namespace,
                 '_registry': self})
        return self._bases[namespace]

    def add(self, pdef):
        cls = type(pdef.name, (self.base_for(pdef.namespace),), {
            'VERSION': pdef.version,
            'fields': {name: oslo_field(fspec)
                       for name, fspec in pdef.fields.items()},
            '__doc__': pdef.doc or None,
            'mapping': pdef,
        })
        # Field properties without registering in oslo's global registry.
        base.VersionedObjectRegistry.objectify(cls)
        self.classes[(pdef.namespace, pdef.name)] = cls
        return cls

    def lookup(self, namespace, name, version):
        cls = self.classes.get((namespace, name))
        if cls is None:
            raise exception.UnsupportedObjectError(objtype=name)
        if cls.VERSION != version:
            raise exception.IncompatibleObjectVersion(
                objname=name, objver=version, supported=cls.VERSION)
        return cls


class _PayloadBase(base.VersionedObject):
    _registry = None

    @classmethod
    def obj_class_from_name(cls, objname, objver):
        return cls._registry.lookup(cls.OBJ_PROJECT_NAMESPACE, objname,
                                    objver)


def build_registry(mapping_set):
    registry = PayloadRegistry()
    for pdef in mapping_set.payloads.values():
        registry.add(pdef)
    return registry


def mapping_fingerprint_data(cls):
    """Extra data for ObjectVersionChecker: the class's field mapping.

    A change of where a field comes from changes what consumers read, so
    it needs a version bump as much as a change of the field's type.
    """
    rules = {name: {k: v for k, v in fspec.items()
                    if k not in ('doc', 'legacy')}
             for name, fspec in cls.mapping.fields.items()}
    return (json.dumps(rules, sort_keys=True, default=repr),)
