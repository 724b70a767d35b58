"""Metrics: W2 estimators for 2-D laws (``w2``), the closed-form Gaussian law of a sampler
(``gaussian``), Fréchet distances in a feature space through clean-fid (``fd``), and where
samples sit relative to a support or to the training points (``support``)."""

CONFIDENCE = 0.9  # a generated digit is confidently classified above this top probability
