"""Evidence reports that travel with the file: signed, verifiable, with a custody log.

Modelled on the Berkeley Protocol's integrity and chain-of-custody practice. One module per job:

- ``canonical``: the canonical JSON form that is signed, time-stamped and chained;
- ``signing``: Ed25519 key pairs (PEM) and the report's signature block;
- ``report``: ``make_report`` writes the JSON sidecar and the self-contained HTML page
  (``html`` with its Jinja2 template in ``templates/``, ``timeline`` for each match's picture);
- ``custody``: the hash-chained custody log in the archive (``record_custody``, ``verify_chain``);
- ``timestamp``: RFC 3161 requests (``.tsq``) and token checks (``.tsr``, via ``openssl ts``);
- ``verify``: ``verify_report`` checks signature, file hashes and time stamp, with exit codes.

Import the submodule you need (``from provenance.evidence.verify import verify_report``); this
package imports nothing itself, so the command line stays quick to start.
"""
