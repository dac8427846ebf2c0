"""Aduan intake: owns the channel adapters (web form first; app, e-mail, SMS, WhatsApp, X,
Facebook, Instagram, LAPOR!, staff entry and Open311 slot in under `entrypoints/channels/`),
the normalization of every channel's payload into one report, the filing of each inbound
message exactly once (receipt codes), and the per-reporter keys that seal reporter identities.

It publishes `ReportSubmitted` and the reporter key events; it never keeps a report's status
(workflow does) and never shows reports to anyone (the privacy gateway does).
"""
