"""AlpacaEval 2.0: its part of the report (`report`); its data, judging and scores are still the library's."""
