"""The studies' measurements beyond a method's training and sampling, without I/O: the closed-form
MFG equilibrium (``mfg_equilibrium``), Theorem 2 convergence curves (``convergence``), the exact
score under perturbation (``robustness_exact``), the class-embedding attack (``injection``) and
the digits classifier that judges generated digits (``classifier``). The jobs read their inputs,
call these and write the stores."""
