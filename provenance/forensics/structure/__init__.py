"""The structure of ISO BMFF / QuickTime files (MP4, MOV, 3GP, M4A, HEIC): boxes, headers, writer strings.

``read_structure(path)`` walks the box tree with bounded, read-only reads and decodes the boxes that
say how and by what the file was written; see ``provenance.forensics.structure.model`` for the result.
"""

from __future__ import annotations

from provenance.forensics.structure.boxes import Box, StructureError
from provenance.forensics.structure.model import BoxStructure
from provenance.forensics.structure.read import read_structure

__all__ = ["Box", "BoxStructure", "StructureError", "read_structure"]
