"""Evidence commands: ``report``, ``keygen``, ``verify``, ``custody`` and ``timestamp-request``.

Thin shells over ``provenance.evidence``; ``provenance.cli.app`` registers ``COMMANDS``. Only click
and the standard library are imported here at module level (the shared ``handles_errors`` and
``archive_option`` come from the CLI module); the library is imported inside each command.
"""

from __future__ import annotations

import json
import sys

import click

from provenance.cli.options import archive_option, handles_errors, resolve_archive, sampling

EXAMINER_HELP = "Who examines the file, for the record and the custody log (default: the OS user)."


@click.command("report")
@click.argument("file", type=click.Path(dir_okay=True, allow_dash=False))
@archive_option(required_default=False)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for the two reports (created if missing). Never the evidence's own folder.")
@click.option("--beside", is_flag=True, help="Write the reports next to the evidence file instead (on purpose).")
@click.option("--examiner", help=EXAMINER_HELP)
@click.option("--case", "case", help="Case or incident identifier, recorded in the report and custody log.")
@click.option("--sign", "key", type=click.Path(dir_okay=False),
              help="Sign the JSON report with this Ed25519 private key (made by `provenance keygen`).")
@click.option("--claimed-date", help="The date the footage is said to be from (YYYY-MM-DD).")
@click.option("--fps", type=float, default=None, help="Samples per second to hash (default 2).")
@click.option("--overwrite", is_flag=True, help="Replace reports of the same name in the output folder.")
@handles_errors
def report(file: str, archive: str | None, out_dir: str | None, beside: bool, examiner: str | None,
           case: str | None, key: str | None, claimed_date: str | None, fps: float | None, overwrite: bool) -> None:
    """Write the evidence report of FILE: FILE.provenance.json (signed with --sign) and FILE.provenance.html.

    The JSON holds the full check record, matches, earliest appearance, tool version, parameters,
    time, examiner and case; the HTML is a self-contained page for people. With --archive, FILE is
    matched and the reading is logged in the archive's custody log. FILE is opened read-only.

    \b
    Examples:
      provenance report clip.mp4 --archive cases.sqlite --out reports/ --examiner "A. Analyst" --case 17
      provenance report clip.mp4 --archive cases.sqlite --out reports/ --sign ~/keys/desk.key
      provenance report clip.mp4 --beside --sign ~/keys/desk.key
    """

    from provenance.evidence.report import make_report

    files = make_report(file, archive=archive, out_dir=out_dir, beside=beside, examiner=examiner, case=case,
                        key_path=key, params=sampling(fps), claimed_date=claimed_date, overwrite=overwrite)
    click.echo(f"report  {files.json_path}")
    click.echo(f"page    {files.html_path}")
    signed = f"signed by key {files.key_id}" if files.key_id else "NOT signed (give --sign KEY)"
    logged = f"custody entry #{files.custody_seq}" if files.custody_seq else "no custody log (no --archive)"
    click.echo(f"sha256  {files.sha256}; {files.matches} match(es); {signed}; {logged}")


@click.command("keygen")
@click.argument("name", type=click.Path(dir_okay=False))
@handles_errors
def keygen(name: str) -> None:
    """Make an Ed25519 key pair: NAME.key (private, mode 0600) and NAME.pub (share it with verifiers).

    Existing files are never overwritten. Keep NAME.key private: whoever holds it can sign reports.

    \b
    Examples:
      provenance keygen ~/keys/desk
      provenance report clip.mp4 --out reports/ --sign ~/keys/desk.key
      provenance verify reports/clip.mp4.provenance.json clip.mp4 --key ~/keys/desk.pub
    """
    from provenance.evidence.signing import generate_key_pair

    files = generate_key_pair(name)
    click.echo(f"private key  {files.private_key}  (mode 0600; keep it secret)")
    click.echo(f"public key   {files.public_key}")
    click.echo(f"key id       {files.key_id}")


@click.command("verify", epilog="Exit codes: 0 intact; 6 file altered; 7 report altered, bad signature, wrong key or "
                                "unsigned; 8 time stamp missing or invalid; 2 usage; 5 archive error.")
@click.argument("report_path", metavar="REPORT", type=click.Path(exists=True, dir_okay=False))
@click.argument("file", required=False, type=click.Path(dir_okay=True))
@click.option("--key", type=click.Path(dir_okay=False), help="The public key the report must be signed with.")
@click.option("--tsa-ca", type=click.Path(dir_okay=False),
              help="CA file to check the RFC 3161 token (REPORT's name with .tsr) against; makes the token required.")
@click.option("--tsr", "token", type=click.Path(dir_okay=False), help="The time-stamp token, if not beside REPORT.")
@click.option("--allow-unsigned", is_flag=True, help="Accept an unsigned report (only the file is then checked).")
@archive_option(required_default=False)
@click.option("--examiner", help=EXAMINER_HELP)
@handles_errors
def verify(report_path: str, file: str | None, key: str | None, tsa_ca: str | None, token: str | None,
           allow_unsigned: bool, archive: str | None, examiner: str | None) -> None:
    """Check REPORT's signature and that FILE (default: the path it records) is the file it describes.

    Prints one line and exits with a documented code. FILE is read-only; with --archive the reading
    is logged in the custody log.

    \b
    Examples:
      provenance verify clip.mp4.provenance.json clip.mp4
      provenance verify clip.mp4.provenance.json clip.mp4 --key desk.pub --tsa-ca tsa-ca.pem
    """
    from provenance.evidence.verify import verify_report

    result = verify_report(report_path, file, public_key=key, tsa_ca=tsa_ca, token=token,
                           allow_unsigned=allow_unsigned, archive=archive, examiner=examiner)
    click.echo(result.line)
    if result.exit_code:
        sys.exit(result.exit_code)


@click.command("custody", epilog="Exit codes: 0 ok; 9 the chain is broken (with --verify); 5 archive error.")
@click.argument("file", required=False, type=click.Path(dir_okay=True))
@click.option("--sha256", help="Show the history of this SHA-256 without reading any file.")
@click.option("--verify", "check_chain", is_flag=True, help="Check the whole log's hash chain.")
@archive_option(required_default=True)
@click.option("--examiner", help=EXAMINER_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
@handles_errors
def custody(file: str | None, sha256: str | None, check_chain: bool, archive: str | None, examiner: str | None,
            as_json: bool) -> None:
    """Print the custody history of FILE (who read it, when, with what, the SHA-256 seen), or check the log.

    Reading FILE to hash it is itself logged. Without FILE or --sha256, every entry is printed.

    \b
    Examples:
      provenance custody clip.mp4 --archive cases.sqlite
      provenance custody --verify --archive cases.sqlite
    """
    from provenance.archive.custody import Reading, append_entries, custody_entries, verify_chain
    from provenance.archive.store import ArchiveStore
    from provenance.codec import to_jsonable
    from provenance.errors import CustodyChainError, UsageError

    if file and sha256:
        raise UsageError("give FILE or --sha256, not both")
    path = resolve_archive(archive)
    with ArchiveStore.open(path, create=False) as store:
        if check_chain:
            status = verify_chain(store)
            line = status.reason if status.ok else f"CUSTODY LOG BROKEN at entry #{status.broken_at}: {status.reason}"
            click.echo(line)
            if not status.ok:
                sys.exit(CustodyChainError.exit_code)
            if not file and not sha256:
                return
        wanted = sha256.lower() if sha256 else None
        if file:
            from provenance.media.identity import file_identity

            seen = file_identity(file)
            wanted = seen.sha256
            append_entries(store, [Reading(seen.sha256, seen.path)], command="provenance custody", examiner=examiner)
        entries = custody_entries(store, wanted)
    if as_json:
        click.echo(json.dumps(to_jsonable(entries), indent=2, ensure_ascii=False))
        return
    subject = f"SHA-256 {wanted}" if wanted else "all files"
    click.echo(f"custody log of {path}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} for {subject}")
    for e in entries:
        case = f"  case {e.case}" if e.case else ""
        click.echo(f"  #{e.seq:<5} {e.at}  {e.examiner}  {e.command} {e.tool_version}  {e.sha256[:16]}  "
                   f"{e.path}{case}")


@click.command("timestamp-request")
@click.argument("report_path", metavar="REPORT", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Where to write the request (default: REPORT's name "
                                                             "with .tsq).")
@click.option("--overwrite", is_flag=True, help="Replace an existing request file.")
@handles_errors
def timestamp_request(report_path: str, out: str | None, overwrite: bool) -> None:
    """Write an RFC 3161 time-stamp request (.tsq) for REPORT's digest, to send to a time-stamping authority.

    The digest is SHA-256 of the canonical report, signature included: sign first. Put the reply
    beside REPORT with the .tsr extension; `provenance verify --tsa-ca CAFILE` checks it.

    \b
    Examples:
      provenance timestamp-request reports/clip.mp4.provenance.json
      curl -sS -H 'Content-Type: application/timestamp-query' --data-binary @reports/clip.mp4.provenance.tsq \\
          https://tsa.example/tsr > reports/clip.mp4.provenance.tsr
    """
    from provenance.evidence.timestamp import write_timestamp_request

    request = write_timestamp_request(report_path, out, overwrite=overwrite)
    click.echo(f"request {request.path}")
    click.echo(f"digest  sha256 {request.digest}")


COMMANDS = (report, keygen, verify, custody, timestamp_request)
"""The commands ``provenance.cli.app`` registers."""
