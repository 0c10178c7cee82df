"""Quality measurement: the answer metrics of shared/eval/score.py and measure-extraction precision/recall."""
