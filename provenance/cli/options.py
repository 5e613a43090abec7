"""What the commands share: error handling and exit codes, the ``--archive`` option, sampling, progress.

Only click and the standard library are imported here, so ``provenance --help`` starts fast.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from provenance.errors import EXIT_CODES, ProvenanceError

INTERNAL_ERROR = 70
EXIT_TEXT = "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items()) + (
    f"\n  {INTERNAL_ERROR} internal error (a bug: rerun with --debug and report the traceback)"
    "\n  130 interrupted (Ctrl-C)"
)
ARCHIVE_ENV = "PROVENANCE_ARCHIVE"


def _fail(message: str, code: int) -> None:
    click.echo(f"provenance: error: {message}", err=True)
    sys.exit(code)


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one line on stderr and the documented exit code (traceback with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return func(*args, **kwargs)
        except ProvenanceError as exc:
            if debug:
                raise
            _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            if debug:
                raise
            text = str(exc).splitlines()[0] if str(exc) else ""
            _fail(f"internal error: {type(exc).__name__}: {text} (rerun with --debug for the traceback)",
                  INTERNAL_ERROR)

    return wrapper


def archive_option(required_default: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The shared ``--archive`` option; reads $PROVENANCE_ARCHIVE; archive commands fall back to the default."""
    help_text = f"Archive file (SQLite). Also read from ${ARCHIVE_ENV}."
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
