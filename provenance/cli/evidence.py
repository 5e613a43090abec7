"""Evidence commands: ``report``, ``keygen``, ``verify``, ``custody`` and ``timestamp-request``.

Thin shells over ``provenance.evidence``; ``provenance.cli.app`` registers ``COMMANDS``. Only click
and the standard library are imported here at module level (the shared ``handles_errors`` and
``archive_option`` come from the CLI module); the library is imported inside each command.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from provenance.cli.options import (
    DATE,
    DATE_FORMS_HELP,
    archive_option,
    exit_codes_help,
    handles_errors,
    resolve_archive,
    sampling,
)

if TYPE_CHECKING:
    from provenance.model import DateInterval

EXAMINER_HELP = "Who examines the file, for the record and the custody log (default: the OS user)."


@click.command("report", epilog=exit_codes_help((3, 4, 5), notes={
    3: "ffmpeg/ffprobe not installed, or --pdf without headless Chromium (Debian: apt-get install chromium; or "
       "name it in $PROVENANCE_CHROMIUM)"}))
@click.argument("file", type=click.Path(dir_okay=True, allow_dash=False))
@archive_option(required_default=False)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for the two reports (created if missing). Never the evidence's own folder.")
@click.option("--beside", is_flag=True, help="Write the reports next to the evidence file instead (on purpose).")
@click.option("--examiner", help=EXAMINER_HELP)
@click.option("--case", "case", help="Case or incident identifier, recorded in the report and custody log.")
@click.option("--sign", "key", type=click.Path(dir_okay=False),
              help="Sign the JSON report with this Ed25519 private key (made by `provenance keygen`).")
@click.option("--claimed-date", type=DATE, help=f"The date the footage is said to be from ({DATE_FORMS_HELP}).")
@click.option("--fps", type=float, default=None, help="Samples per second to hash (default 2).")
@click.option("--overwrite", is_flag=True, help="Replace reports of the same name in the output folder.")
@click.option("--pdf", is_flag=True, help="Also print the page to FILE.provenance.pdf with headless Chromium.")
@handles_errors
def report(file: str, archive: str | None, out_dir: str | None, beside: bool, examiner: str | None,
           case: str | None, key: str | None, claimed_date: DateInterval | None, fps: float | None,
           overwrite: bool, pdf: bool) -> None:
    """Write the evidence report of FILE: FILE.provenance.json (signed with --sign) and FILE.provenance.html.

    The JSON holds the full check record, matches, earliest appearance, what the file says about
    itself (structure, last writer, edit indicators, C2PA), tool version, parameters, time,
    examiner and case; the HTML is a self-contained page for people, its conclusion first. With
    --archive, FILE is matched and the reading is logged in the archive's custody log. With --pdf
    the page is also printed to FILE.provenance.pdf (headless Chromium). FILE is opened read-only.

    \b
    Examples:
      provenance report clip.mp4 --archive cases.sqlite --out reports/ --examiner "A. Analyst" --case 17
      provenance report clip.mp4 --archive cases.sqlite --out reports/ --sign ~/keys/desk.key
      provenance report clip.mp4 --beside --sign ~/keys/desk.key
      provenance report clip.mp4 --archive cases.sqlite --out reports/ --pdf
    """

    from provenance.evidence.report import make_report

    files = make_report(file, archive=archive, out_dir=out_dir, beside=beside, examiner=examiner, case=case,
                        key_path=key, params=sampling(fps), claimed_date=claimed_date, overwrite=overwrite,
                        pdf=pdf)
    click.echo(f"report  {files.json_path}")
    click.echo(f"page    {files.html_path}")
    if files.pdf_path:
        click.echo(f"pdf     {files.pdf_path}")
    signed = f"signed by key {files.key_id}" if files.key_id else "NOT signed (give --sign KEY)"
    logged = f"custody entry #{files.custody_seq}" if files.custody_seq else "no custody log (no --archive)"
    click.echo(f"sha256  {files.sha256}; {files.matches} match(es); {signed}; {logged}")


@click.command("keygen", epilog=exit_codes_help(notes={2: "usage error: bad option, a key file of that name exists, "
                                                          "or it cannot be written"}))
@click.argument("name", type=click.Path(dir_okay=False))
@handles_errors
def keygen(name: str) -> None:
    """Make an Ed25519 key pair: NAME.key (private, mode 0600) and NAME.pub (share it with verifiers).

    Existing files are never overwritten. Keep NAME.key private: whoever holds it can sign reports.
    The last line printed is the key's trusted-keys line: a verifier who adds it to
    ~/.config/provenance/trusted_keys ($XDG_CONFIG_HOME honoured) accepts reports signed with it
    without --key.

    \b
    Examples:
      provenance keygen ~/keys/desk
      provenance report clip.mp4 --out reports/ --sign ~/keys/desk.key
      provenance verify reports/clip.mp4.provenance.json clip.mp4 --key ~/keys/desk.pub
    """
    from pathlib import Path

    from provenance.evidence.signing import generate_key_pair, load_public_key
    from provenance.evidence.trust import trusted_key_line, trusted_keys_path

    files = generate_key_pair(name)
    click.echo(f"private key  {files.private_key}  (mode 0600; keep it secret)")
    click.echo(f"public key   {files.public_key}")
    click.echo(f"key id       {files.key_id}")
    click.echo(f"to trust it, a verifier adds this line to {trusted_keys_path()}:")
    click.echo(trusted_key_line(load_public_key(files.public_key), Path(files.public_key).stem))


@click.command("verify", epilog=exit_codes_help((3, 4, 5, 6, 7, 8, 10, 11), notes={
    0: "intact: the file is the one the report describes, and the report is as signed",
    3: "openssl is not installed (it checks the time-stamp token of --tsa-ca)"}))
@click.argument("report_path", metavar="REPORT", type=click.Path(exists=True, dir_okay=False))
@click.argument("file", required=False, type=click.Path(dir_okay=True))
@click.option("--key", type=click.Path(dir_okay=False),
              help="The public key the report must be signed with (without it: a key in the trusted_keys file).")
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

    The signature must be by the key given with --key, or by one listed in
    ~/.config/provenance/trusted_keys ($XDG_CONFIG_HOME honoured; one 'ed25519 BASE64KEY comment'
    line per key, as `provenance keygen` prints it): a valid signature by any other key is
    refused. The HTML page beside REPORT is checked against the digest the record holds. Prints
    one line and exits with a documented code. FILE is read-only; with --archive the reading is
    logged in the custody log.

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


@click.command("custody", epilog=exit_codes_help((4, 5, 9, 10, 11)))
@click.argument("file", required=False, type=click.Path(dir_okay=True))
@click.option("--sha256", help="Show the history of this SHA-256 without reading any file.")
@click.option("--verify", "check_chain", is_flag=True, help="Check the whole log's hash chain.")
@click.option("--checkpoint", "checkpoints", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="With --verify: a signed checkpoint kept elsewhere; the log must still pass through its head. "
                   "Repeatable.")
@click.option("--report", "reports", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="With --verify: a signed evidence report; the log must still pass through the head it recorded. "
                   "Repeatable.")
@click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False),
              help="A public key the checkpoints and reports may be signed with (default: the trusted_keys file). "
                   "Repeatable.")
@archive_option(required_default=True)
@click.option("--examiner", help=EXAMINER_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
@handles_errors
def custody(file: str | None, sha256: str | None, check_chain: bool, checkpoints: tuple[str, ...],
            reports: tuple[str, ...], keys: tuple[str, ...], archive: str | None, examiner: str | None,
            as_json: bool) -> None:
    """Print the custody history of FILE (who read it, when, with what, the SHA-256 seen), or check the log.

    Reading FILE to hash it is itself logged. Without FILE or --sha256, every entry is printed.
    --verify checks every link; it can show the log consistent, not complete: whoever can write the
    archive could wipe or rebuild it. Give --checkpoint (made by `provenance custody checkpoint
    --sign KEY --out FILE`) or --report files kept elsewhere to detect that.

    \b
    Examples:
      provenance custody clip.mp4 --archive cases.sqlite
      provenance custody --verify --archive cases.sqlite --checkpoint ~/safe/cases-week12.json
      provenance custody checkpoint --sign ~/keys/desk.key --out ~/safe/cases-week12.json --archive cases.sqlite
    """
    from provenance.archive.custody import Reading, append_entries, custody_entries
    from provenance.archive.store import ArchiveStore, masked_location
    from provenance.codec import to_jsonable
    from provenance.errors import CustodyChainError, UsageError
    from provenance.evidence.checkpoint import verify_custody

    if file and sha256:
        raise UsageError("give FILE or --sha256, not both")
    if (checkpoints or reports) and not check_chain:
        raise UsageError("--checkpoint and --report are what --verify checks the log against: give --verify too")
    path = resolve_archive(archive)
    with ArchiveStore.open(path, create=False) as store:
        if check_chain:
            status = verify_custody(store, checkpoints, reports, keys)
            where = f" at entry #{status.broken_at}" if status.broken_at is not None else ""
            line = status.reason if status.ok else f"CUSTODY LOG BROKEN{where}: {status.reason}"
            if status.ok and not (checkpoints or reports):
                line += (" (consistent, not proven complete: whoever can write the archive could wipe or rebuild it; "
                         "give --checkpoint or --report files kept elsewhere)")
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
    click.echo(f"custody log of {masked_location(path)}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} "
               f"for {subject}")
    for e in entries:
        case = f"  case {e.case}" if e.case else ""
        click.echo(f"  #{e.seq:<5} {e.at}  {e.examiner}  {e.command} {e.tool_version}  {e.sha256[:16]}  "
                   f"{e.path}{case}")


@click.command("checkpoint", epilog=exit_codes_help((5, 9)))
@click.option("--sign", "key", required=True, type=click.Path(dir_okay=False),
              help="Sign the checkpoint with this Ed25519 private key (made by `provenance keygen`).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The checkpoint file to write. Keep it away from the archive (another disk, a colleague).")
@archive_option(required_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing checkpoint file.")
@handles_errors
def checkpoint(key: str, out: str, archive: str | None, overwrite: bool) -> None:
    """Write a signed checkpoint of the custody log: its head (entry number and hash), entry count, time, archive id.

    The log is checked first; a broken log gets no checkpoint. The checkpoint is also kept in the
    archive. Later, `provenance custody --verify --checkpoint FILE` detects a log wiped, cut short
    or rebuilt since, which the log alone cannot show.

    \b
    Examples:
      provenance custody checkpoint --sign ~/keys/desk.key --out ~/safe/cases-week12.json --archive cases.sqlite
      provenance custody --verify --archive cases.sqlite --checkpoint ~/safe/cases-week12.json
    """
    from provenance.evidence.checkpoint import make_checkpoint

    written = make_checkpoint(resolve_archive(archive), key, out, overwrite=overwrite)
    made = written.checkpoint
    click.echo(f"checkpoint  {written.path}")
    click.echo(f"custody log of {made.archive} (archive id {made.archive_id}): {made.entries} entries, head "
               f"#{made.head.seq} {made.head.entry_hash[:16]}; signed by key {written.key_id[:16]}; also kept in the "
               "archive")


class CustodyCommands(click.Group):
    """``provenance custody``: the log command itself, unless the first word is a subcommand (``checkpoint``).

    ``custody FILE``, ``custody --verify`` and ``custody --help`` run the log command as they always
    did; ``custody checkpoint ...`` runs the subcommand. A file named like a subcommand is given as
    ``./checkpoint``.
    """

    def __init__(self, default: click.Command, subcommands: tuple[click.Command, ...]) -> None:
        super().__init__(default.name, commands=subcommands, help=default.help, short_help=default.short_help,
                         epilog=default.epilog)
        self.default = default

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        """The subcommand's group context when ``args`` start with its name, else the log command's own."""
        if args and args[0] in self.commands:
            return super().make_context(info_name, args, parent=parent, **extra)
        return self.default.make_context(info_name, args, parent=parent, **extra)


custody_commands = CustodyCommands(custody, (checkpoint,))
"""``custody`` with its ``checkpoint`` subcommand, as registered."""


@click.command("timestamp-request", epilog=exit_codes_help((7,), notes={
    7: "REPORT is not a provenance report (not a JSON object): altered, or another file"}))
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


COMMANDS = (report, keygen, verify, custody_commands, timestamp_request)
"""The commands ``provenance.cli.app`` registers."""
