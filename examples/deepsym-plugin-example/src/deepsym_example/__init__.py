"""An example deepsym plugin: melody tokens, a conjunct-motion metric, a small LSTM."""
__version__ = "0.1.0"
