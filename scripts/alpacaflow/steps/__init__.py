"""The workflow steps: one module per rule, named as the rule, each with a keyword-only ``run`` (`cli.STEPS`).

A step reads its inputs, calls the library and writes its outputs. It never
imports another step; what two steps share lives in the library below
(`test/test_architecture.py` checks both).
"""
