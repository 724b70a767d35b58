"""Methods: how each builds its network, its training loss and its score (``base.Method``); the
registry by config ``kind`` is ``registry`` (``build_method``)."""
