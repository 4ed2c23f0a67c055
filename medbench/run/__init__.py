"""One evaluation, start to finish: plan (settings, tasks, data checked before a model loads),
execute under lm-eval, record the run folder; shards and their merge; the contamination audit of
a run and the ``contamination`` command's run.

May import: core, config, data, models, backends, scoring, analysis, audit (medbench's packages).
"""
