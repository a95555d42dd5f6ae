"""The one error a config can raise: its message is the whole story, one line."""


class ConfigError(ValueError):
    """A config no run can use: the message names the file or key and what to do."""
