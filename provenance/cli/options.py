"""What the commands share: error handling and exit codes, the ``--archive`` option, sampling, progress.

Only click and the standard library are imported here, so ``provenance --help`` starts fast.

Standard output closed early (``provenance archive list | head -1``, ``check --json | true``) is not
an error: the command stops at once, silently, with exit 0. Standard output is then pointed at
``/dev/null``, so that Python's own flush at exit cannot fail again (the Python documentation's
"Note on SIGPIPE"). A broken pipe that is not standard output's is an internal error like any other.
"""

from __future__ import annotations

import functools
import os
import select
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import click

from provenance.errors import EXIT_CODES, ProvenanceError

INTERNAL_ERROR = 70
INTERRUPTED = 130
ALWAYS = (0, 2, INTERNAL_ERROR, INTERRUPTED)
"""The codes every command can end with: success, a usage error (click's own too), a bug, Ctrl-C."""
_CLI_CODES = {
    INTERNAL_ERROR: "internal error (a bug: rerun with --debug and report the traceback)",
    INTERRUPTED: "interrupted (Ctrl-C)",
}
HELP_WIDTH = 78  # click wraps help at 80 columns when the terminal's width is unknown, and indents the epilog by 2


def echo_added(error: str | None, created: bool, sha256: str, name: str, sightings_added: int,
               warnings: Sequence[str] = ()) -> None:
    """One file's line of an import (``archive add``, ``archive import``): added, known or FAILED, and its
    warnings; names and messages shown as ``shown_name`` and ``shown_text`` show them, whatever they hold."""
    from provenance.report.formatters import shown_name, shown_text

    if error:
        click.echo(f"FAILED  {shown_name(name)}: {shown_text(error)}")
        return
    state = "added  " if created else "known  "
    click.echo(f"{state} {sha256}  {shown_name(name)}  (+{sightings_added} sighting)")
    for w in warnings:
        click.echo(f"        ! {shown_text(w)}")


def exit_codes_help(codes: Iterable[int] = (), notes: Mapping[int, str] | None = None) -> str:
    """The "Exit codes:" table for a command's help: ``codes`` and ``ALWAYS``, described by ``EXIT_CODES``.

    ``notes`` replaces a code's text where a command means something narrower by it. Code 0 reads
    plain "success" unless ``codes`` names it (``EXIT_CODES`` words it for ``check``). Codes that
    ``EXIT_CODES`` does not (yet) hold and ``notes`` does not describe are left out. The table
    starts with click's ``\\b`` marker, so click prints it line by line instead of rewrapping it.
    """
    codes = set(codes)
    texts = {**EXIT_CODES, **_CLI_CODES, **({} if 0 in codes else {0: "success"}), **(notes or {})}
    wanted = sorted({*ALWAYS, *codes} & texts.keys())
    lines = ["\b", "Exit codes:"]
    for code in wanted:
        wrapped = textwrap.wrap(texts[code], width=HELP_WIDTH - 2 - 7)
        lines.append(f"  {code:>3}  {wrapped[0]}")
        lines.extend(f"{'':7}{more}" for more in wrapped[1:])
    return "\n".join(lines)


EXIT_TEXT = exit_codes_help(EXIT_CODES)
"""Every exit code, as the table ``provenance --help`` ends with."""
ARCHIVE_ENV = "PROVENANCE_ARCHIVE"


def _fail(message: str, code: int) -> None:
    from provenance.report.formatters import shown_text  # a name in a message can hold any character

    click.echo(f"provenance: error: {shown_text(message)}", err=True)
    sys.exit(code)


def _stdout_closed() -> bool:
    """True when standard output is a pipe (or socket) whose reading end is gone."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (click's test runner): not its pipe
        return False
    if not hasattr(select, "poll"):  # no way to ask (Windows): standard output is the likely pipe
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _silence_stdout() -> None:
    """Point standard output at /dev/null: what is still buffered, and Python's flush at exit, go nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _flush_stdout() -> bool:
    """Flush standard output; False (and silenced) when its reader has gone."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        _silence_stdout()
        return False
    return True


def _internal_error(exc: Exception) -> None:
    text = str(exc).splitlines()[0] if str(exc) else ""
    _fail(f"internal error: {type(exc).__name__}: {text} (rerun with --debug for the traceback)", INTERNAL_ERROR)


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one line on stderr and the documented exit code (traceback with --debug).

    The line shows the message with ``shown_text`` (a newline or a byte that is not UTF-8 in a name
    is escaped, so it stays one line). Standard output closed by its reader ends the command
    silently with exit 0 (see the module notes).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            result = func(*args, **kwargs)
            if not _flush_stdout():
                sys.exit(0)
            return result
        except BrokenPipeError as exc:
            if not _stdout_closed():
                if debug:
                    raise
                _internal_error(exc)
            _silence_stdout()
            sys.exit(0)
        except ProvenanceError as exc:
            if debug:
                raise
            _fail(str(exc) or type(exc).__name__, exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            _flush_stdout()
            raise
        except Exception as exc:
            if debug:
                raise
            _internal_error(exc)

    return wrapper


def archive_option(required_default: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The shared ``--archive`` option; reads $PROVENANCE_ARCHIVE; archive commands fall back to the default."""
    help_text = (f"Archive: a SQLite file, or a PostgreSQL team archive as postgresql://USER@HOST:PORT/DB. Also "
                 f"read from ${ARCHIVE_ENV}.")
    if required_default:
        help_text += " Default: ~/.local/share/provenance/archive.sqlite (XDG_DATA_HOME is honoured)."
    return click.option("--archive", "archive", envvar=ARCHIVE_ENV, type=click.Path(dir_okay=False),
                        default=None, help=help_text)


def resolve_archive(path: str | None) -> str:
    """The archive path to use for archive commands: the option, the env var, or the default."""
    if path:
        return path
    from provenance.archive.store import default_archive_path

    return str(default_archive_path())


def decode_progress() -> Callable[[float, float | None], None]:
    """A progress line on stderr for long decodes: seconds done, share and time left."""
    import time

    start = time.monotonic()

    def show(done: float, total: float | None) -> None:
        spent = time.monotonic() - start
        if total and total > 0 and done > 0:
            share = min(done / total, 1.0)
            left = spent * (1 - share) / share
            click.echo(f"\rdecoding {done:7.1f} / {total:.1f} s  {share:4.0%}  about {left:4.0f} s left",
                       err=True, nl=False)
        else:
            click.echo(f"\rdecoding {done:7.1f} s", err=True, nl=False)

    return show


def sampling(fps: float | None, fast: bool = False) -> Any:
    """SamplingParams for the --fps option (None = the documented default) and the --fast flag."""
    from provenance.model import SamplingParams

    if fps is None:
        return SamplingParams(keyframes_only=fast)
    if not 0.1 <= fps <= 30:
        raise click.BadParameter("must be between 0.1 and 30 samples per second", param_hint="--fps")
    return SamplingParams(fps=fps, keyframes_only=fast)


FAST_HELP = "Fast mode: decode and hash only the keyframes (I-frames), at their own times; --fps is ignored."

DATE_FORMS_HELP = "YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDTHH:MM (local time) or an ISO 8601 time with zone"
"""The date forms, as option help names them (``provenance.dates.ACCEPTED_FORMS`` in full)."""


class DateParam(click.ParamType):
    """A date option (``--claimed-date``, ``--first-seen``): its text read by ``provenance.dates.parse_date``.

    The value is the ``DateInterval``; an ambiguous or impossible date is click's usage error (exit 2),
    one line naming the forms accepted.
    """

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The ``DateInterval`` of ``value``; fails with the one-line reason otherwise."""
        from provenance.dates import DateError, parse_date
        from provenance.model import DateInterval

        if isinstance(value, DateInterval):
            return value
        try:
            return parse_date(str(value))
        except DateError as exc:
            self.fail(str(exc), param, ctx)


DATE = DateParam()
