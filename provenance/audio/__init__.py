"""The soundtrack: its Chromaprint fingerprint (``chromaprint``) and the alignment of two of them (``align``)."""
