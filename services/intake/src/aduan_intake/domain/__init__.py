"""Intake's domain: plain Python, no I/O (normalized report, receipt codes, contacts)."""

from aduan_intake.domain.contact import Contact, contact_digest, normalize_contact
from aduan_intake.domain.errors import InvalidField
from aduan_intake.domain.receipt import RECEIPT_ALPHABET, new_receipt_code
from aduan_intake.domain.report import NormalizedReport, ReporterIdentity

__all__ = [
    "RECEIPT_ALPHABET",
    "Contact",
    "InvalidField",
    "NormalizedReport",
    "ReporterIdentity",
    "contact_digest",
    "new_receipt_code",
    "normalize_contact",
]
