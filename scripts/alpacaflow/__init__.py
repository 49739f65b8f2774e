"""alpacaflow: evaluate instruction-tuned language models on AlpacaEval 2.0.

The Snakemake rules under ``rules/`` are thin; every step's logic lives in
this package and is reached through ``python -m alpacaflow <step>``.
"""

__version__ = "0.1.0"
