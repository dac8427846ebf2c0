"""The officer console's words, Indonesian first (officers' working language), English too,
from gettext message catalogues: `aduan_portal/locale/{id,en}/LC_MESSAGES/console.po`.

Each msgid is the key the code and the templates use (`t.logout` in a template, a quoted
key in `c.t[...]` in code), each
msgstr the text. The catalogues are read with Babel when the console is installed (no
compile step, nothing generated at build time); a missing or empty text is an error then,
not a blank on a page. Translators' steps are in docs/console.md, "Translating the
console"; `extract_keys` is the Babel extractor `pybabel extract` uses (babel.cfg).

Besides the page words, the catalogue holds the console's names for roles (`role.*`) and
privacy (`privacy.*`), and what it says in place of workflow's English: the evidence check
(`evidence.*`), system reasons (`system_reason.*`) and workflow's refusals (`refusal.*`).
Status labels come from the contracts (`ReportStatus.label_id/label_en`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from babel.messages.pofile import read_po

from aduan_contracts.enums import ReportStatus

__all__ = [
    "CONSOLE_LANGUAGES",
    "DOMAIN",
    "DYNAMIC_KEYS",
    "LOCALE_DIR",
    "N_",
    "CatalogueError",
    "ConsoleLanguage",
    "EvidenceFields",
    "catalogue_path",
    "console_strings",
    "evidence_text",
    "extract_keys",
    "load_catalogue",
    "privacy_name",
    "read_catalogue",
    "refusal_text",
    "role_name",
    "system_reason_text",
]

ConsoleLanguage = Literal["id", "en"]
CONSOLE_LANGUAGES: tuple[ConsoleLanguage, ...] = ("id", "en")
LOCALE_DIR = Path(__file__).parent.parent / "locale"
DOMAIN = "console"


def N_(key: str) -> str:
    """Marks a message key built or chosen at run time, so extraction finds it."""
    return key


# Keys put together at run time (in templates, or from a code): listed here so that
# `pybabel extract` (and the unit test comparing it with the catalogues) knows them.
DYNAMIC_KEYS = (
    # _macros.html: t['sla_' ~ badge]
    N_("sla_overdue"),
    N_("sla_due_soon"),
    # dashboard.html: t['stage_' ~ stage]
    N_("stage_triage"),
    N_("stage_dispatch"),
    N_("stage_follow_up"),
    N_("stage_validation"),
    # report.html: t['why_not_' ~ code]
    N_("why_not_no_contact"),
    N_("why_not_closed"),
    N_("why_not_too_many"),
    # signin: the login page's notice, t.get(f"reason_{reason}")
    N_("reason_expired"),
    N_("reason_expired_action"),
    N_("reason_required"),
    N_("reason_logged_out"),
    # role_name and privacy_name: f"role.{role}", f"privacy.{privacy}"
    N_("role.ticket-admin"),
    N_("role.agency-officer"),
    N_("role.validator"),
    N_("role.administrator"),
    N_("role.system"),
    N_("role.reporter"),
    N_("role.public"),
    N_("privacy.private"),
    N_("privacy.public"),
    # admin_templates.html: t['template_kind.' ~ kind]
    N_("template_kind.followup"),
    N_("template_kind.return"),
    N_("template_kind.reject"),
    N_("template_kind.question"),
)


class CatalogueError(Exception):
    """A catalogue is missing, unreadable, or has an untranslated or fuzzy entry."""


def catalogue_path(lang: ConsoleLanguage) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def load_catalogue(lang: ConsoleLanguage) -> dict[str, str]:
    """The shipped catalogue of `lang` as key -> text (read once per process)."""
    return read_catalogue(catalogue_path(lang), lang)


def read_catalogue(path: Path, lang: str) -> dict[str, str]:
    """A .po file as key -> text. Refuses an empty or fuzzy entry: gettext would show the
    key (or a guess) on the page; here the console does not start."""
    try:
        with path.open("rb") as f:
            catalogue = read_po(f, locale=lang, domain=DOMAIN)
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    strings: dict[str, str] = {}
    for message in catalogue:
        if not message.id:
            continue  # the header
        if not isinstance(message.id, str) or not isinstance(message.string, str):
            raise CatalogueError(f"{path}: {message.id!r}: plural forms are not used here")
        if message.fuzzy or not message.string:
            raise CatalogueError(f"{path}: {message.id!r} is untranslated or fuzzy")
        strings[message.id] = message.string
    return strings


def console_strings(lang: ConsoleLanguage) -> dict[str, str]:
    """The words of the console in `lang` (what templates get as `t`)."""
    return load_catalogue("en" if lang == "en" else "id")


def role_name(role: str, lang: ConsoleLanguage) -> str:
    return console_strings(lang).get(f"role.{role}", role)


# Privacy by name (officers read "Rahasia", never `private`). Channel names are the
# public pages' (rendering.channel_name).
def privacy_name(privacy: str, lang: ConsoleLanguage) -> str:
    return console_strings(lang).get(f"privacy.{privacy}", privacy)


# --- workflow's words, said in the console's language ---------------------------------------
#
# Workflow writes its evidence summary and its own reasons in English (it has no UI
# language). The console renders the evidence check from its structured fields and
# translates the system reasons it knows by pattern; an officer's own words are never
# touched, and anything unrecognised is shown verbatim rather than hidden.


class EvidenceFields(Protocol):
    """The structured part of an evidence check (contract `EvidenceCheck`)."""

    @property
    def photos_checked(self) -> int: ...
    @property
    def newer_than_report(self) -> bool | None: ...
    @property
    def within_distance(self) -> bool | None: ...
    @property
    def max_distance_m(self) -> float | None: ...
    @property
    def nearest_distance_m(self) -> float | None: ...
    @property
    def summary(self) -> str: ...


def _number(value: float, lang: ConsoleLanguage) -> str:
    text = f"{value:,.0f}" if value >= 1000 else f"{value:g}"
    if lang == "en":
        return text
    # Indonesian swaps the marks: 1.250 m, 12,5 m.
    return text.translate(str.maketrans(",.", ".,"))


def evidence_text(evidence: EvidenceFields, lang: ConsoleLanguage) -> str:
    """The evidence check as a sentence in the console's language, from its fields; the
    workflow's (English) summary only when the fields do not add up to a verdict."""
    w = console_strings(lang)
    within, limit = evidence.within_distance, evidence.max_distance_m
    if within is not None and limit is None:
        return evidence.summary  # a verdict without its radius: say what workflow said
    parts = [w[N_("evidence.checked")].format(n=evidence.photos_checked)]
    newer = evidence.newer_than_report
    parts.append(
        w[N_("evidence.time_unknown")]
        if newer is None
        else w[N_("evidence.time_after")]
        if newer
        else w[N_("evidence.time_before")]
    )
    if within is None or limit is None:
        parts.append(w[N_("evidence.place_unknown")])
    else:
        key = N_("evidence.place_within") if within else N_("evidence.place_beyond")
        place = w[key].format(max=_number(limit, lang))
        nearest = evidence.nearest_distance_m
        if nearest is not None:
            place += " (" + w[N_("evidence.nearest")].format(m=_number(round(nearest), lang)) + ")"
        parts.append(place)
    return "; ".join(parts) + "."


# Reasons workflow writes itself (actor role "system"), by pattern, and the key of what the
# console says instead. Add a row (and the key to both catalogues) when workflow gains
# one; an unknown system reason is shown as written.
_SYSTEM_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^auto-routed by the rule for category (?P<category>\S+)$"),
        N_("system_reason.auto_routed"),
    ),
    # A route by place (issue 19): the area said by its official name.
    (
        re.compile(
            r"^auto-routed by the rule for category (?P<category>\S+) in area (?P<area>[0-9.]+)$"
        ),
        N_("system_reason.auto_routed_area"),
    ),
)


def _area_name(code: str) -> str:
    """An area code as its official name ("Kec. Tebet, Kota Jakarta Selatan")."""
    import aduan_areas

    try:
        area = aduan_areas.get(code)
    except ValueError:
        area = None
    return aduan_areas.label(area) if area is not None else code


def system_reason_text(
    reason: str,
    actor_role: str,
    lang: ConsoleLanguage,
    category_names: Mapping[str, str] | None = None,
) -> str:
    """A timeline reason in the console's language when workflow wrote it; an officer's
    reason (any other role) exactly as they wrote it."""
    if actor_role != "system":
        return reason
    for pattern, key in _SYSTEM_REASONS:
        match = pattern.match(reason.strip())
        if match:
            fields = match.groupdict()
            if "category" in fields and category_names:
                fields["category"] = category_names.get(fields["category"], fields["category"])
            if "area" in fields:
                fields["area"] = _area_name(fields["area"])
            return console_strings(lang)[key].format(**fields)
    return reason


# Workflow's refusals (409) come back through the gateway as English sentences; the two an
# officer meets in daily work are said in the console's language. Others are shown as sent.
_REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^version (?P<expected>\d+) expected, report is at (?P<current>\d+)$"),
        N_("refusal.stale_version"),
    ),
    (
        re.compile(r"^cannot (?P<verb>.+) a report in status '?(?P<status>[a-z_]+)'?$"),
        N_("refusal.wrong_status"),
    ),
)


def refusal_text(detail: str, lang: ConsoleLanguage) -> str | None:
    """A workflow refusal in the console's language, or None when it is not a known one."""
    for pattern, key in _REFUSALS:
        match = pattern.match(detail.strip())
        if match:
            fields = match.groupdict()
            if "status" in fields:
                with contextlib.suppress(ValueError):
                    s = ReportStatus(fields["status"])
                    fields["status"] = f"“{s.label_en if lang == 'en' else s.label_id}”"
            return console_strings(lang)[key].format(**fields)
    return None


# --- extraction (pybabel extract -F babel.cfg) ----------------------------------------------

# Where a message key appears: `t.<key>` in a template; `t[<key>]`, `c.t[<key>]`,
# `self.t[<key>]` or `strings[<key>]` with a quoted key in a template or in code; and
# `N_(<key>)` for a key chosen at run time.
_TEMPLATE_ATTR = re.compile(r"(?<![\w.])t\.([a-z][a-z0-9_]*)\b(?!\s*\()")
_SUBSCRIPT = re.compile(r"(?<![\w.])(?:\w+\.)?(?:t|strings)\[\s*([\"'])([a-z][\w.\-]*)\1\s*\]")
_MARKED = re.compile(r"\bN_\(\s*([\"'])([a-z][\w.\-]*)\1\s*\)")


def _keys_in(text: str, template: bool) -> Iterator[tuple[int, str]]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        found: list[tuple[int, str]] = []
        if template:
            found += [(m.start(), m.group(1)) for m in _TEMPLATE_ATTR.finditer(line)]
        found += [(m.start(), m.group(2)) for m in _SUBSCRIPT.finditer(line)]
        found += [(m.start(), m.group(2)) for m in _MARKED.finditer(line)]
        for _, key in sorted(found):
            yield lineno, key


def extract_keys(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str, str, list[str]]]:
    """A Babel extractor (babel.cfg: `console_keys = aduan_portal.console.i18n:extract_keys`)
    yielding the message keys a template or a console module uses."""
    text = fileobj.read().decode(options.get("encoding", "utf-8"))
    template = getattr(fileobj, "name", "").endswith(".html")
    for lineno, key in _keys_in(text, template):
        yield lineno, "", key, []
