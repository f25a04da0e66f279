"""Lexicons: loading and validation, the audit against the keyword-library rules, the risk taxonomy and threshold profiles."""
