"""Aduan workflow: owns every report's lifecycle status (received -> ... -> completed), its
append-only history, routing rules, and the verdicts on officers' and reporters' commands."""

__all__: list[str] = []
