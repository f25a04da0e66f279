"""Error classes that tell the caller what to do.

- ``ConfigError``: the user must fix an option, a lexicon or a path; the CLI exits with code 2.
- ``ShardError``: one input shard is unreadable; the run records it in ``report.json`` ``errors``
  and goes on with the other shards.
"""


class ScannerError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(ScannerError):
    """Bad options, paths or lexicons: nothing was scanned, fix the input and run again."""


class LexiconError(ConfigError):
    """A lexicon file is unreadable or invalid; the message names the file and line."""


class ShardError(ScannerError):
    """One shard could not be read; the run records it and continues with the others."""
