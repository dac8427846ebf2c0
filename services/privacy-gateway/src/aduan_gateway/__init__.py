"""Aduan privacy gateway: the only way report data leaves the system.

It owns the read model of reports (built from intake and workflow events), decides what each
role may see (labels, redaction, pseudonyms, coarse dates and places), writes every officer
read to an append-only access log, and publishes the redacted public projection that the
portal reads.
"""

__all__: list[str] = []
