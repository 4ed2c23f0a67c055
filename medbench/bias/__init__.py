"""``medbench bias``: the MICA/CAMI bias scales asked of a model, scored per scale with intervals.

May import: core, config, data, models, backends, scoring, analysis, run (medbench's packages).
"""
