"""Which software most likely wrote the file last, with the evidence for the conclusion.

The rules live in a data file, ``provenance/data/last_writer_rules.json``; this module only turns a
file into *facts* (named lists of strings taken from the box structure, ffprobe's tags, EXIF, XMP,
the SEI strings and the C2PA manifest) and evaluates the rules against them. A rule names a writer
and lists conditions on facts:

* ``require``: every condition must hold; ``require_any``: at least one must (when given);
* ``exclude``: none may hold; ``support``: optional, each one that holds is added as evidence.

A condition is ``{"fact": NAME, OP: VALUE, "why": TEXT}`` with OP one of ``equals`` (exact text),
``one_of`` (a list of texts), ``matches`` (a regular expression, searched) or ``present``
(true/false). Named groups of a regular expression fill ``{placeholders}`` in the writer's name.
Rules of one ``family`` describe the same software. Rules of kind ``encoder`` say what encoded the
video, not who wrote the container; of the others the matching rule with the highest ``priority``
is the conclusion, and the rest are listed beside it. When no rule matches, the answer is "unknown", never a guess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from provenance.errors import UsageError
from provenance.forensics.structure.model import BoxStructure, MetaItem, Track
from provenance.model import ExifInfo, Metadata

UNKNOWN = "unknown"
RULES_FILE = "last_writer_rules.json"
FBMD_SCAN_BYTES = 256 * 1024  # the IPTC block of a JPEG sits in its first segments

FACTS: dict[str, str] = {
    "brand": "major brand",
    "brand_minor": "ftyp minor version",
    "compatible_brands": "compatible brands",
    "top_box": "top-level box",
    "box_order": "top-level box order",
    "faststart": "moov before mdat",
    "fragmented": "fragmented (moof)",
    "movie_timescale": "movie timescale (mvhd)",
    "handler_name": "track handler name",
    "handler_maker": "handler component manufacturer",
    "data_handler": "data handler name",
    "vendor": "sample description vendor",
    "compressor": "compressor name",
    "language": "track language",
    "meta_key": "metadata key",
    "encoder_tag": "encoder tag",
    "software": "software tag",
    "make": "make",
    "model": "model",
    "sei_encoder": "SEI encoder",
    "sei_uuid": "SEI user data UUID",
    "sei_text": "SEI user data",
    "xmp_tool": "XMP software",
    "exif_make": "EXIF Make",
    "exif_model": "EXIF Model",
    "exif_software": "EXIF Software",
    "iptc": "IPTC marker",
    "c2pa_state": "C2PA validation state",
    "c2pa_generator": "C2PA claim generator",
    "text": "metadata text",
}
KINDS = frozenset({"signer", "platform", "editor", "camera", "muxer", "software-tag", "encoder"})
OPS = ("equals", "one_of", "matches", "present")
_ENCODER_KEYS = frozenset({"©too", "©swr", "©enc", "encoder", "com.apple.quicktime.encoder"})
_SOFTWARE_KEYS = frozenset({"com.apple.quicktime.software", "software", "©swf"})
_MAKE_KEYS = frozenset({"com.apple.quicktime.make", "com.android.manufacturer", "©mak", "make"})
_MODEL_KEYS = frozenset({"com.apple.quicktime.model", "com.android.model", "©mod", "model"})
# facts whose values also count as "text", so a rule can search every string a writer leaves at once
_TEXT_SOURCES = ("handler_name", "compressor", "encoder_tag", "software", "xmp_tool", "exif_software")


class RuleSetError(UsageError):
    """The last-writer rule file is malformed (the message names the rule and the field)."""


@dataclass(frozen=True)
class Facts:
    """Named lists of strings about one file, the input of the rules."""

    values: tuple[tuple[str, tuple[str, ...]], ...]

    def get(self, name: str) -> tuple[str, ...]:
        """The values of fact ``name`` (empty when the file has none)."""
        return next((v for k, v in self.values if k == name), ())


@dataclass(frozen=True)
class RuleMatch:
    """A rule that matched, with the writer it names and the evidence that made it match."""

    rule: str
    writer: str
    kind: str
    priority: int
    evidence: tuple[str, ...]
    note: str | None = None
    family: str = ""  # rules of one family describe the same software (e.g. 'android', 'adobe', 'ffmpeg')


@dataclass(frozen=True)
class LastWriter:
    """The conclusion: the most likely last writer (or "unknown"), why, and what else matched."""

    writer: str
    kind: str | None
    rule: str | None
    evidence: tuple[str, ...]
    statement: str
    also: tuple[RuleMatch, ...] = ()  # other writer rules that matched, best first
    encoders: tuple[RuleMatch, ...] = ()  # what encoded the video (x264 settings ...)
    family: str | None = None  # the concluding rule's family


@dataclass(frozen=True)
class Condition:
    """One test of a fact."""

    fact: str
    op: str
    value: Any
    why: str

    def test(self, facts: Facts) -> tuple[bool, str | None, dict[str, str]]:
        """(holds, the value that made it hold, named regex groups)."""
        values = facts.get(self.fact)
        if self.op == "present":
            return (bool(values) == bool(self.value)), (values[0] if values else None), {}
        for value in values:
            if self.op == "equals" and value == self.value:
                return True, value, {}
            if self.op == "one_of" and value in self.value:
                return True, value, {}
            if self.op == "matches":
                found = re.search(self.value, value)
                if found:
                    groups = {k: v for k, v in found.groupdict().items() if v}
                    return True, value, groups
        return False, None, {}

    def evidence(self, value: str | None) -> str:
        """One line saying what was found and why it matters."""
        label = FACTS.get(self.fact) or f"metadata {self.fact.removeprefix('meta:')}"
        if self.op == "present" and not self.value:
            seen = f"no {label}"
        else:
            shown = value if value is None or len(value) <= 160 else value[:157] + "..."
            seen = f"{label} {shown!r}"
        return f"{seen}: {self.why}" if self.why else seen


@dataclass(frozen=True)
class Rule:
    """One rule of the data file."""

    id: str
    writer: str
    kind: str
    priority: int
    require: tuple[Condition, ...]
    require_any: tuple[Condition, ...]
    exclude: tuple[Condition, ...]
    support: tuple[Condition, ...]
    basis: str
    note: str | None
    family: str

    def match(self, facts: Facts) -> RuleMatch | None:
        """The match of this rule on ``facts``, or None."""
        evidence: list[str] = []
        seen: set[tuple[str, str | None]] = set()
        groups: dict[str, str] = {}

        def note(cond: Condition, value: str | None, found: dict[str, str]) -> None:
            if (cond.fact, value) not in seen:
                seen.add((cond.fact, value))
                evidence.append(cond.evidence(value))
            for key, text in found.items():
                groups.setdefault(key, text)

        for cond in self.require:
            ok, value, found = cond.test(facts)
            if not ok:
                return None
            note(cond, value, found)
        if self.require_any:
            hits = [(cond, *cond.test(facts)) for cond in self.require_any]
            hits = [h for h in hits if h[1]]
            if not hits:
                return None
            for cond, _, value, found in hits:
                note(cond, value, found)
        if any(cond.test(facts)[0] for cond in self.exclude):
            return None
        for cond in self.support:
            ok, value, found = cond.test(facts)
            if ok:
                note(cond, value, found)
        writer = re.sub(r"(\s*)\{(\w+)\}", lambda m: m[1] + groups[m[2]] if m[2] in groups else "", self.writer)
        return RuleMatch(self.id, writer.strip(), self.kind, self.priority, tuple(evidence), self.note, self.family)


def _condition(rule_id: str, data: Any) -> Condition:
    if not isinstance(data, dict):
        raise RuleSetError(f"last-writer rule {rule_id!r}: a condition must be an object, not {data!r}")
    fact = data.get("fact")
    if fact not in FACTS and not (isinstance(fact, str) and fact.startswith("meta:")):
        raise RuleSetError(f"last-writer rule {rule_id!r}: unknown fact {fact!r} (known: {', '.join(FACTS)}, meta:KEY)")
    ops = [op for op in OPS if op in data]
    if len(ops) != 1:
        raise RuleSetError(f"last-writer rule {rule_id!r}: a condition on {fact!r} needs exactly one of {OPS}")
    op = ops[0]
    value = data[op]
    if op == "matches":
        try:
            re.compile(value)
        except (re.error, TypeError) as exc:
            raise RuleSetError(f"last-writer rule {rule_id!r}: bad regular expression {value!r}: {exc}") from None
    if op == "one_of" and not isinstance(value, list):
        raise RuleSetError(f"last-writer rule {rule_id!r}: 'one_of' needs a list")
    return Condition(fact, op, tuple(value) if op == "one_of" else value, str(data.get("why", "")))


def parse_rules(data: Any) -> tuple[Rule, ...]:
    """Validate the JSON of a rule file and build its rules (raises ``RuleSetError``)."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleSetError("a last-writer rule file is an object with a 'rules' list")
    rules = []
    seen: set[str] = set()
    for n, item in enumerate(data["rules"]):
        if not isinstance(item, dict) or not item.get("id") or not item.get("writer"):
            raise RuleSetError(f"last-writer rule #{n + 1}: needs an 'id' and a 'writer'")
        rule_id = str(item["id"])
        if rule_id in seen:
            raise RuleSetError(f"last-writer rule {rule_id!r} is defined twice")
        seen.add(rule_id)
        kind = item.get("kind")
        if kind not in KINDS:
            raise RuleSetError(f"last-writer rule {rule_id!r}: kind must be one of {sorted(KINDS)}")
        conds = {key: tuple(_condition(rule_id, c) for c in item.get(key) or ())
                 for key in ("require", "require_any", "exclude", "support")}
        if not conds["require"] and not conds["require_any"]:
            raise RuleSetError(f"last-writer rule {rule_id!r} has no 'require' or 'require_any' condition")
        rules.append(Rule(rule_id, str(item["writer"]), kind, int(item.get("priority", 0)), conds["require"],
                          conds["require_any"], conds["exclude"], conds["support"], str(item.get("basis", "")),
                          item.get("note"), str(item.get("family") or rule_id)))
    return tuple(rules)


@cache
def _packaged_rules() -> tuple[Rule, ...]:
    text = resources.files("provenance").joinpath("data", RULES_FILE).read_text(encoding="utf-8")
    return parse_rules(json.loads(text))


def load_rules(path: str | Path | None = None) -> tuple[Rule, ...]:
    """The rules of ``path``, or the packaged rule set (``provenance/data/last_writer_rules.json``)."""
    if path is None:
        return _packaged_rules()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RuleSetError(f"cannot read the last-writer rules {path}: {exc}") from None
    return parse_rules(data)


def _fbmd(path: str) -> bool:
    """True when a JPEG carries Facebook's IPTC marker ("FBMD" in Special Instructions) in its header."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(FBMD_SCAN_BYTES)
    except OSError:
        return False
    if head[:2] != b"\xff\xd8":
        return False
    scan = head.split(b"\xff\xda", 1)[0]  # stop at the start of the compressed picture
    return b"FBMD" in scan


class _FactSheet:
    """Facts as they are gathered: each name keeps its values once each, in the order first seen."""

    def __init__(self) -> None:
        self._values: dict[str, list[str]] = {}

    def add(self, name: str, value: object) -> None:
        """Record ``value`` (as stripped text) under ``name``; None and blank text are skipped."""
        if value is None:
            return
        text = str(value).strip()
        if text and text not in self._values.setdefault(name, []):
            self._values[name].append(text)

    def get(self, name: str) -> list[str]:
        """The values recorded under ``name`` so far."""
        return self._values.get(name, [])

    def facts(self) -> Facts:
        """Everything recorded, as Facts."""
        return Facts(tuple((k, tuple(v)) for k, v in self._values.items()))


def _add_layout(sheet: _FactSheet, structure: BoxStructure) -> None:
    """Facts of the file's layout: its ftyp, its top-level boxes and the movie header."""
    if structure.file_type is not None:
        sheet.add("brand", structure.file_type.major_brand.strip())
        sheet.add("brand_minor", structure.file_type.minor_version)
        sheet.add("compatible_brands", " ".join(b.strip() for b in structure.file_type.compatible_brands))
    for box in structure.top_level:
        sheet.add("top_box", box.type)
    sheet.add("box_order", " ".join(b.type for b in structure.top_level))
    if structure.faststart is not None:
        sheet.add("faststart", "yes" if structure.faststart else "no")
    sheet.add("fragmented", "yes" if structure.fragmented else "no")
    if structure.movie is not None:
        sheet.add("movie_timescale", structure.movie.timescale)


def _add_tracks(sheet: _FactSheet, tracks: tuple[Track, ...]) -> None:
    """Facts of the track headers: handlers, languages and sample descriptions."""
    for track in tracks:
        sheet.add("handler_name", track.handler_name)
        sheet.add("handler_maker", track.handler_manufacturer)
        sheet.add("language", track.language)
        for name in track.data_handler_names:
            sheet.add("data_handler", name)
        for entry in track.sample_entries:
            sheet.add("vendor", entry.vendor)
            sheet.add("compressor", entry.compressor_name)


def _add_meta_items(sheet: _FactSheet, items: tuple[MetaItem, ...]) -> None:
    """Facts of the metadata items in the boxes, with the well-known keys also filed by meaning."""
    for item in items:
        sheet.add("meta_key", item.key)
        sheet.add(f"meta:{item.key}", item.value)
        sheet.add("text", item.value)
        low = item.key.lower()
        if item.key in _ENCODER_KEYS or low in _ENCODER_KEYS:
            sheet.add("encoder_tag", item.value)
        if low in _SOFTWARE_KEYS:
            sheet.add("software", item.value)
        if item.key in _MAKE_KEYS or low in _MAKE_KEYS:
            sheet.add("make", item.value)
        if item.key in _MODEL_KEYS or low in _MODEL_KEYS:
            sheet.add("model", item.value)


def _add_embedded(sheet: _FactSheet, structure: BoxStructure) -> None:
    """Facts of what other tools embedded: the XMP packet and the SEI strings of the video."""
    if structure.xmp is not None:
        sheet.add("xmp_tool", structure.xmp.creator_tool)
        for agent in structure.xmp.history_agents:
            sheet.add("xmp_tool", agent)
    for sei in structure.sei:
        sheet.add("sei_encoder", sei.encoder)
        sheet.add("sei_uuid", sei.uuid)
        sheet.add("sei_text", sei.text)


def _add_structure(sheet: _FactSheet, structure: BoxStructure) -> None:
    """Facts read from the box structure."""
    _add_layout(sheet, structure)
    _add_tracks(sheet, structure.tracks)
    _add_meta_items(sheet, structure.metadata)
    _add_embedded(sheet, structure)


def _add_probe(sheet: _FactSheet, metadata: Metadata) -> None:
    """Facts from ffprobe's normalised metadata and its raw tags (filed under the key and its lower case)."""
    sheet.add("encoder_tag", metadata.encoder)
    sheet.add("software", metadata.software)
    sheet.add("make", metadata.make)
    sheet.add("model", metadata.model)
    for name in metadata.handler_names:
        sheet.add("handler_name", name)
    for key, value in metadata.tags:
        for name in dict.fromkeys((key, key.lower())):
            sheet.add(f"meta:{name}", value)
            sheet.add("meta_key", name)
        sheet.add("text", value)


def _add_exif(sheet: _FactSheet, exif: ExifInfo) -> None:
    """Facts from EXIF, both under their own names and as the file's make, model and software."""
    sheet.add("exif_make", exif.make)
    sheet.add("exif_model", exif.model)
    sheet.add("exif_software", exif.software)
    sheet.add("make", exif.make)
    sheet.add("model", exif.model)
    sheet.add("software", exif.software)


def _add_c2pa(sheet: _FactSheet, c2pa: Any) -> None:
    """Facts of the active C2PA manifest, when there is one."""
    if getattr(c2pa, "active", None) is not None:
        sheet.add("c2pa_state", c2pa.state)
        sheet.add("c2pa_generator", c2pa.active.claim_generator)


def collect_facts(structure: BoxStructure | None, metadata: Metadata | None = None, exif: ExifInfo | None = None,
                  c2pa: Any = None, path: str | None = None) -> Facts:
    """The facts about one file from everything read so far (any part may be None)."""
    sheet = _FactSheet()
    if structure is not None:
        _add_structure(sheet, structure)
    if metadata is not None:
        _add_probe(sheet, metadata)
    exif = exif or (metadata.exif if metadata is not None else None)
    if exif is not None:
        _add_exif(sheet, exif)
    for name in _TEXT_SOURCES:
        for value in sheet.get(name):
            sheet.add("text", value)
    if path is not None and _fbmd(path):
        sheet.add("iptc", "FBMD")
    if c2pa is not None:
        _add_c2pa(sheet, c2pa)
    return sheet.facts()


def last_writer(facts: Facts, rules: tuple[Rule, ...] | None = None) -> LastWriter:
    """Evaluate the rules on ``facts``: the conclusion, its evidence, and the other matches."""
    rules = load_rules() if rules is None else rules
    matches = [m for m in (rule.match(facts) for rule in rules) if m is not None]
    encoders = tuple(m for m in matches if m.kind == "encoder")
    writers = sorted((m for m in matches if m.kind != "encoder"), key=lambda m: -m.priority)
    if not writers:
        return LastWriter(UNKNOWN, None, None, (),
                          "unknown: the file carries none of the writer signatures of the rule set", (), encoders)
    best = writers[0]
    statement = f"most likely last written by {best.writer}"
    if best.note:
        statement += f" ({best.note})"
    return LastWriter(best.writer, best.kind, best.rule, best.evidence, statement, tuple(writers[1:]), encoders,
                      best.family)
