"""The mathematics, without I/O: the forward SDE and time grids (``sde``), the samplers, score
perturbations (``perturb``), exact scores of known laws (``exact``, ``mixtures``) and derivative
operators (``diffops``). Nothing here reads or writes a file."""
