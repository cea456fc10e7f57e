"""The twin's error for a model config nice-flow would not accept (the message names the field or the step)."""


class ConfigError(ValueError):
    """A model config that nice-flow would not accept (the message names the field)."""


class StepError(ConfigError):
    """A flow step description nice-flow would refuse (the message names the step and the setting)."""
