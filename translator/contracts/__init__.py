"""What consumers may rely on, machine-readable: a JSON Schema per payload
class version (``schema``), an AsyncAPI document of the bus (``asyncapi``),
and the check that a changed mapping set keeps them or bumps the version
(``compatibility``)."""
