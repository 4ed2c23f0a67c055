"""Analyses over the per-item records of a run: scores with their n and interval over units,
circular accuracy, fragile margins, slices, explanations, and paired comparison of runs.

May import: core, config, data, models, backends, scoring (medbench's packages).
"""
