"""Contamination evidence: n-gram and MinHash overlap with training files, the Min-K% probe, clean
scores without flagged items, and the training files a model card names.

May import: core, config, data, models, backends, scoring, analysis (medbench's packages).
"""
