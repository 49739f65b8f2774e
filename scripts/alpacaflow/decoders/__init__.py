"""The judge's decoders, one module per backend, as alpaca_eval keeps its ``decoders/<backend>.py``.

Each module gives the alpaca_eval annotator configuration of its backend
(``annotator_config``) and what is specific to it: `vllm_local` a local vLLM
judge (alpaca_eval's ``vllm_local_completions`` for ranking, our log-probability
decoder for weighted), `openai` the OpenAI API judge (key check, cost
estimate, one-line API errors). `judge` puts them behind alpaca_eval's
`PairwiseAnnotator`.
"""
