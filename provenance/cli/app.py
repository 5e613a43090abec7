"""The ``provenance`` command group: the commands of each module registered on one click group."""

from __future__ import annotations

import gc
import os
from collections.abc import MutableMapping

import click

from provenance.cli import archive as archive_commands
from provenance.cli import check as check_command
from provenance.cli import evidence as evidence_commands
from provenance.cli import fetch as fetch_command
from provenance.cli import imports as import_commands
from provenance.cli import interop as interop_commands
from provenance.cli import telegram as telegram_commands
from provenance.cli import triage as triage_command
from provenance.cli import warc as warc_commands
from provenance.cli.options import EXIT_TEXT
from provenance.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=EXIT_TEXT)
@click.version_option(__version__, prog_name="provenance")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Offline video provenance: what a file says, whether it appeared before, and how it was edited.

    \b
    Examples:
      provenance check clip.mp4
      provenance check clip.mp4 --archive cases.sqlite --json > report.json
      provenance check clip.mp4 --keyframes ./keyframes
      provenance archive add --archive cases.sqlite --platform telegram --first-seen 2020-10-05 old.mp4
    """


cli.add_command(check_command.check)
cli.add_command(archive_commands.archive)
for _command in evidence_commands.COMMANDS:
    cli.add_command(_command)
cli.add_command(triage_command.command)
cli.add_command(interop_commands.export)
cli.add_command(fetch_command.fetch)
archive_commands.archive.add_command(interop_commands.import_hashes)
archive_commands.archive.add_command(import_commands.import_group)
import_commands.import_group.add_command(telegram_commands.telegram)
import_commands.import_group.add_command(warc_commands.warc)


def limit_math_threads(environ: MutableMapping[str, str]) -> None:
    """Run numpy's BLAS on one thread unless the user chose a count (``OPENBLAS_NUM_THREADS``).

    Our matrices are small (a 64x64 DCT a frame), so BLAS threads never pay back the CPU they spend
    starting at numpy's import (a tenth of a second) and then contend with ffmpeg's decoding threads
    and the other triage workers, which inherit the setting. One thread also sums in one order on any
    machine.
    """
    environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main() -> None:
    """Entry point of the ``provenance`` command."""
    limit_math_threads(os.environ)  # before anything imports numpy: OpenBLAS reads it once, at load
    try:
        cli(prog_name="provenance")
    finally:
        # Everything the command made is garbage now, and the interpreter's shutdown would walk all of it
        # for cycles (a tenth of a second after a check): the process is ending, so its memory is freed
        # anyway. Exit handlers, file flushes and temporary-folder clean-up still run.
        gc.disable()
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    main()
