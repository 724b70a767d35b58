"""One module per kind of workflow job (``python -m mfgstudy <verb>``, table in
``mfgstudy.verbs``): each reads its inputs, calls the science below it and writes one store or
folder atomically."""
