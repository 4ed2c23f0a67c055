"""medbench's trainer: continued pre-training, SFT, reward model, rejection sampling, RL and DPO on TRL.

May import: core, config, data, models, backends, scoring, analysis, run (medbench's packages).
"""
