"""Evaluation and benchmarks for rag (run through `rag eval` and `rag bench`)."""
