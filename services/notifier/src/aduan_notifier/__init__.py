"""Aduan notifier: tells reporters what happened to their report, on their own channel.

It keeps how to answer each reporter (channel, language, receipt code and the sealed identity,
never opened in this skeleton), the per-reporter keys that open those identities, and a
delivery log that records each message exactly once per (status change, channel).
"""

__all__: list[str] = []
