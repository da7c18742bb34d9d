"""Ruộng's core, which every other package imports and which imports none of them: settings,
the registry, the stores, the vocabulary of quantities, the node-health rules, the catalogue
of words (docs/architecture.md, "Layers")."""
