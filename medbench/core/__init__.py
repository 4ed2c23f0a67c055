"""What every part of medbench stands on: errors, paths, hashing, atomic writing, safe names and
table cells, archives, prompt templates, the per-item record's unit of analysis, sums-of-statistics
metrics, plotting basics, the console and progress bars, and the one place lm-eval is adapted.

May import: nothing of medbench.
"""
