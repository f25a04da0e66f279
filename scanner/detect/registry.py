"""The registered detectors, in the order they run (each sees the values of those before it) and in
which their annotation columns appear. Adding a detector: its module, and one line here."""

from scanner.detect.classifier import ClassifierDetector
from scanner.detect.datatype import DataTypeDetector
from scanner.detect.language import LanguageDetector
from scanner.detect.pii import PiiDetector
from scanner.detect.policy import PolicyDetector
from scanner.detect.source import SourceDetector
from scanner.detect.tokens import TokenDetector

DETECTORS = (
    LanguageDetector,
    SourceDetector,
    DataTypeDetector,
    TokenDetector,
    PiiDetector,
    ClassifierDetector,
    PolicyDetector,
)
