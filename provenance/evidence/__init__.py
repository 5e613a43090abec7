"""Evidence reports that travel with the file: signed, verifiable, with a custody log.

Modelled on the Berkeley Protocol's integrity and chain-of-custody practice. Modules, in the order
the work flows:

- ``report``: ``make_report`` writes the self-contained HTML page (rendered by
  ``provenance.report.html``) and the JSON record that holds its digest;
- ``signing``: Ed25519 key pairs (PEM) and the report's signature block, over the canonical JSON
  form of ``provenance.canonical``;
- ``trust``: which keys a verifier trusts (``--key``, or the ``trusted_keys`` file);
- ``timestamp``: RFC 3161 requests (``.tsq``) and token checks (``.tsr``, via ``openssl ts``);
- ``verify``: ``verify_report`` checks signature and its key, file hashes, page and time stamp,
  with exit codes;
- ``checkpoint``: signed custody checkpoints, and ``verify_custody``, which checks the custody log
  against the heads that checkpoints and reports recorded.

The custody log itself lives with the archive (``provenance.archive.custody``). Import the
submodule you need (``from provenance.evidence.verify import verify_report``); this package
imports nothing itself, so the command line stays quick to start.
"""
