"""medbench: evaluation harness and benchmark suite for Chinese medical LLMs."""

__version__ = "0.1.0"
