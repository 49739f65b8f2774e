"""Every number the steps print, computed in one place.

* `winrate`: alpaca_eval's win rate and length-controlled win rate of a pair's annotations, offline, and per subset;
* `paired`: two models on the same prompts: paired bootstrap intervals, sign test, significance;
* `checkpoints`: a sweep's table against the step, its best step and whether the end still improves;
* `agreement`: two judges on the same pairs (judge validation);
* `audit`: the judge audit's position flips and longer-output wins, and its verdict;
* `arena`: Arena-Hard-Auto's judge labels, battles and bootstrapped score, as its official pipeline computes them.
"""
