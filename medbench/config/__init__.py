"""Typed configs, declared once: every setting's help text, range and whether it changes results
live on its field (:mod:`medbench.config.fields`); flags, config.json, leaderboard row keys and the
one-line validation errors are derived from them."""
