"""Per-document detectors beside the matcher (language, source, data type, tokens, personal information), one module each."""
