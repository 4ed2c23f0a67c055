"""``medbench report``: leaderboards (Markdown and HTML), paper tables, plots and stage changes,
read from run, judge and bias folders (validated like user input).

May import: core, config, data, models, backends, scoring, analysis, audit, run, judge, bias, train
(medbench's packages).
"""
