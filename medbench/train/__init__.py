"""medbench's trainer: continued pre-training, SFT, reward model, rejection sampling, RL and DPO on TRL."""
