"""Typed configs, declared once: every setting's help text, range and whether it changes results
live on its field (:mod:`medbench.config.fields`); flags, config.json, leaderboard row keys and the
one-line validation errors are derived from them. Also the declared schemas of the files one
command writes and another reads (:mod:`medbench.config.schemas`) and plug-in discovery.

May import: core (medbench's packages).
"""
