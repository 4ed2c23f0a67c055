"""Scoring one item: multiple choice (log-likelihood and generated letters, option rotations),
generation (BLEU/ROUGE under each convention), NER, answer extraction (rules or an LLM), and the
papers' official scorers (CMExam, CMB). Task YAMLs' hooks and aggregations live here.

May import: core, config, data, models, backends (medbench's packages).
"""
