"""Training-corpus compliance scanner: blocked-keyword matching and corpus statistics over Arrow.

The public API is re-exported here so cleaning jobs write ``import scanner`` and nothing deeper.
"""

from scanner.detect.source import Registry, load_registry
from scanner.errors import ConfigError, LexiconError, ScannerError, ShardError
from scanner.evidence.stats import ShardStats
from scanner.lexicon.load import Lexicon, load_lexicon, load_lexicons
from scanner.match.matcher import Matcher
from scanner.scan import Scanner, ScanOptions
from scanner.version import __version__

__all__ = [
    "ConfigError",
    "Lexicon",
    "LexiconError",
    "Matcher",
    "Registry",
    "ScanOptions",
    "Scanner",
    "ScannerError",
    "ShardError",
    "ShardStats",
    "__version__",
    "load_lexicon",
    "load_lexicons",
    "load_registry",
]
