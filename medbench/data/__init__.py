"""Benchmark data: pinned sources and downloads, the Hub, local layouts, reading each row once with
what was skipped and why (the data report), and the task catalog lm-eval's TaskManager gives.

May import: core, config (medbench's packages).
"""
