"""Training-corpus compliance scanner: blocked-keyword matching and corpus statistics over Arrow.

The public API is re-exported here so cleaning jobs write ``import scanner`` and nothing deeper.
"""

from scanner.errors import ConfigError, LexiconError, ScannerError, ShardError
from scanner.lexicon import Lexicon, load_lexicon, load_lexicons
from scanner.matcher import Matcher
from scanner.scan import Scanner, ScanOptions
from scanner.stats import ShardStats

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Lexicon",
    "LexiconError",
    "Matcher",
    "ScanOptions",
    "Scanner",
    "ScannerError",
    "ShardError",
    "ShardStats",
    "__version__",
    "load_lexicon",
    "load_lexicons",
]
