"""Machine-learning strategies: features shared by training and live trading, walk-forward
training with honest out-of-sample evaluation, safe model files and the `ml_signal` strategy.

scikit-learn and skops come with the optional `ml` extra; the modules that need them import
them where used, so importing this package costs nothing without the extra.
"""
