"""Fixtures for the tests, the offline demo and the benchmarks: tiny and scripted models, tokenizers, synthetic data.

No step or library module imports this package (`test/test_architecture.py`).
It ships with alpacaflow because ``make demo``, ``make models``, ``make
realistic-data`` and the benchmarks build their models and data with it
(``python -m alpacaflow.testing.tiny``, ``python -m alpacaflow.testing.synthetic``).
"""
