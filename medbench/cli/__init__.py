"""The command line: the parser derived from the configs, one ``cmd_<name>`` per command, the demo,
suites and the data commands. Nothing imports it.

May import: core, config, data, models, backends, scoring, analysis, audit, run, judge, bias, train,
report (medbench's packages).
"""
