"""Every kind of measurement a claims file may name, one module each (or one per table a few of
them read), each registered where it is defined (:mod:`.registry`); :mod:`..catalogue` imports
them all."""
