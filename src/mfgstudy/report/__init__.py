"""Tables, figures and the claims ledger, built from the stores the jobs wrote (never from data
or models): ``paper`` (Table 1, Figure 1, slopes), ``robustness``, ``hjb``, ``pde``, ``mfg``,
``claims``; ``common`` holds what they share (plotting, table writing)."""
