"""The corpus report: merging unit statistics, checks against the profile, the filing table, sheets, Markdown and HTML."""
