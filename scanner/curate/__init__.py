"""Tools for lexicon owners: the audit against the keyword-library rules, tuning against clean references, exports."""
