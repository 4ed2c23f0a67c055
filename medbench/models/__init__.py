"""Models: resolving a name to weights and a fingerprint, the tiny test models, starting servers,
chat calls and their request cache, chat encoding, thinking markers, token probabilities.

May import: core, config, data (medbench's packages).
"""
