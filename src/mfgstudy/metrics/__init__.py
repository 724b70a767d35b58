"""Metrics: W2 estimators for 2-D laws (``w2``), the closed-form Gaussian law of a sampler
(``gaussian``), and Fréchet distances in a feature space through clean-fid (``fd``)."""
