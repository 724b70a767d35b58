"""The one base class of the errors a user can fix.

A ``UserError``'s message names the file or config key at fault and the fix; the CLI reports it
as that one message, without a traceback (``mfgstudy.cli``). Anything else is a bug and keeps its
traceback.
"""


class UserError(Exception):
    """An error in the user's inputs, config, files or environment: the message says what to do."""


class ConfigError(UserError, ValueError):
    """A config that passed the schema but refers to something undefined or inconsistent, or
    holds a value no job can use (``mfgstudy.pipeline.config_values``)."""
