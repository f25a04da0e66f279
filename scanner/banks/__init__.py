"""The filing's other keyword-driven materials (docs/banks.md): test-question banks (``bank``), the model's
answers to them (``answers``), refusal detection (``refusals``), the attachments' spreadsheet shapes
(``export``) and the audit and answer reports (``render``).

A layer of its own between the CLI and the report: it reuses the report's sheets, checks and page
conventions, and the scanner (lexicons, policy, matcher, classifier, order-free samples) below them.
"""
