"""Compile a checked mapping set into plans that translate quickly: the
FieldPlans of every payload class (``plans``), nested classes wired in,
and its generated hot path (``codegen``)."""

from translator.mapping import codegen
from translator.mapping import plans


def compile_payloads(mapping_set, classes):
    """PayloadPlans for every class, nested classes wired in; classes()
    gives the oslo classes by (namespace, name)."""
    compiled = {key: plans.PayloadPlan(pdef, classes)
                for key, pdef in mapping_set.payloads.items()}
    for (namespace, _), plan in compiled.items():
        plan.fields = [
            plans.FieldPlan(name, fspec, compiled[(namespace, fspec['class_'])]
                            if 'class_' in fspec else None)
            for name, fspec in plan.definition.fields.items()]
        plan.primitive = codegen.generate_primitive(plan)
    return compiled
