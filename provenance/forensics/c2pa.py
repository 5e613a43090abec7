"""C2PA Content Credentials of a video or still, read with ``c2pa-python`` and never over the network.

The reader is configured with remote manifest fetching and OCSP fetching turned off, so a file
that only points to a manifest on a server is reported as such, not fetched. Absence of a
manifest is reported as "no manifest (unknown provenance)": platforms strip manifests, so a
missing one says nothing about authenticity.

The validation state is c2pa's: ``Invalid`` (a signature or hash does not verify: the file changed
after signing, or the manifest is damaged), ``Valid`` (signature and hashes verify, the signer is
not on a trust list known here) or ``Trusted`` (valid and the signer is on a trust list).

The file is read through one open ``MediaSource`` (given, or opened here once): its first bytes
decide the media type, and c2pa reads the same open file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from provenance.media.source import MediaSource, reads_source

ABSENT = "no manifest (unknown provenance)"
READER_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
MAX_ASSERTION_TEXT = 300


@dataclass(frozen=True)
class C2paAssertion:
    """One assertion of a manifest: its label and a short summary of its data."""

    label: str
    summary: str


@dataclass(frozen=True)
class C2paManifest:
    """The active manifest: who made the claim, who signed it, what it asserts."""

    label: str
    claim_generator: str | None
    title: str | None
    format: str | None
    signer: str | None  # certificate issuer (and common name)
    signed_at: str | None  # the signature's time stamp, when it has one
    algorithm: str | None
    assertions: tuple[C2paAssertion, ...]
    actions: tuple[str, ...]  # c2pa.actions: c2pa.created, c2pa.opened, c2pa.edited ...
    ingredients: tuple[str, ...]  # title and relationship of each ingredient


@dataclass(frozen=True)
class C2paReport:
    """What the file's Content Credentials say, and whether they verify."""

    state: str  # "absent", "Invalid", "Valid", "Trusted", "remote", "not checked", "unreadable"
    statement: str  # one line for people
    active: C2paManifest | None = None
    manifests: int = 0
    failures: tuple[str, ...] = ()  # "code: explanation" of each failed check of the active manifest
    informational: tuple[str, ...] = ()
    remote_url: str | None = None
    error: str | None = None

    @property
    def present(self) -> bool:
        """True when a manifest was found and read."""
        return self.active is not None


def _mime_type(source: MediaSource) -> str | None:
    """The media type c2pa needs, from the file's first bytes (extensions lie)."""
    head = source.pread(64)
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[:4] == b"%PDF":
        return "application/pdf"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"):
            return "image/heic"
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return "audio/mp4"
        return "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "video/quicktime"
    if head[:3] == b"ID3" or head[:2] in (b"\xff\xfb", b"\xff\xf3"):
        return "audio/mpeg"
    return None


def _short(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    return text if len(text) <= MAX_ASSERTION_TEXT else text[: MAX_ASSERTION_TEXT - 3] + "..."


def _manifest(label: str, data: dict[str, Any]) -> C2paManifest:
    signature = data.get("signature_info") or {}
    issuer = signature.get("issuer")
    common = signature.get("common_name")
    signer = ", ".join(x for x in (issuer, f"CN={common}" if common else None) if x) or None
    assertions = tuple(C2paAssertion(str(a.get("label", "?")), _short(a.get("data")))
                       for a in data.get("assertions") or ())
    actions: list[str] = []
    for assertion in data.get("assertions") or ():
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in (assertion.get("data") or {}).get("actions") or ():
                actions.append(str(action.get("action")))
    ingredients = tuple(f"{i.get('title', '?')} ({i.get('relationship', '?')})"
                        for i in data.get("ingredients") or ())
    generator = data.get("claim_generator")
    if not generator and data.get("claim_generator_info"):
        info = data["claim_generator_info"][0]
        generator = " ".join(str(x) for x in (info.get("name"), info.get("version")) if x)
    return C2paManifest(label=label, claim_generator=generator, title=data.get("title"), format=data.get("format"),
                        signer=signer, signed_at=signature.get("time"), algorithm=signature.get("alg"),
                        assertions=assertions, actions=tuple(actions), ingredients=ingredients)


def _statement(state: str, manifest: C2paManifest, failures: tuple[str, ...]) -> str:
    who = (f"claim by {manifest.claim_generator or 'an unnamed tool'}, "
           f"signed by {manifest.signer or 'an unnamed signer'}")
    if state == "Trusted":
        return f"valid and trusted: {who}"
    if state == "Valid":
        return (f"valid: signature and content hashes verify ({who}); the signer's certificate is not on a trust "
                "list known to this tool")
    hashes = [f for f in failures if "hash" in f.split(":", 1)[0].lower() or "mismatch" in f.lower()]
    if hashes:
        return f"INVALID: the content no longer matches the manifest (changed after signing) ({who})"
    return f"INVALID: {failures[0] if failures else 'the manifest does not verify'} ({who})"


@reads_source
def read_c2pa(source: MediaSource) -> C2paReport:
    """The Content Credentials of ``source`` (an open MediaSource, or a path; read-only, no network access)."""
    mime = _mime_type(source)
    try:
        import c2pa
    except ImportError:
        return C2paReport("not checked", "C2PA not checked: c2pa-python is not installed (pip install c2pa-python)")
    if mime is None or mime not in set(c2pa.Reader.get_supported_mime_types()):
        return C2paReport("not checked", f"C2PA not checked: c2pa does not read this format ({mime or 'unknown'})")
    context = c2pa.Context(settings=c2pa.Settings.from_dict(READER_SETTINGS))
    try:
        with open(source.fd_path, "rb") as stream, c2pa.Reader(mime, stream, context=context) as reader:
            store = json.loads(reader.json())
            state = str(reader.get_validation_state() or "Invalid")
            results = reader.get_validation_results() or {}
            remote = reader.get_remote_url()
    except c2pa.C2paError as exc:
        kind = type(exc).__name__
        text = str(exc)
        if "ManifestNotFound" in kind or "ManifestNotFound" in text or "no JUMBF" in text:
            return C2paReport("absent", ABSENT)
        if "Remote" in kind or "remote" in text.lower():
            return C2paReport("remote", f"the file points to a remote manifest, not fetched (offline): {text}",
                              error=text)
        return C2paReport("unreadable", f"a C2PA manifest is present but cannot be read: {text}", error=text)
    active_label = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    if not active_label or active_label not in manifests:
        return C2paReport("absent", ABSENT, manifests=len(manifests))
    manifest = _manifest(active_label, manifests[active_label])
    active_results = (results.get("activeManifest") or {}) if isinstance(results, dict) else {}
    failures = tuple(f"{f.get('code')}: {f.get('explanation', '')}".strip()
                     for f in active_results.get("failure") or ())
    info = tuple(f"{f.get('code')}: {f.get('explanation', '')}".strip()
                 for f in active_results.get("informational") or ())
    return C2paReport(state=state, statement=_statement(state, manifest, failures), active=manifest,
                      manifests=len(manifests), failures=failures, informational=info, remote_url=remote)
