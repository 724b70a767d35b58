"""Methods: how each builds its network, its training loss and its score (``base.Method``). The
method of config ``kind: k`` is the module ``k`` of this package (``registry.build_method``)."""
