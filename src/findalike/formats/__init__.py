"""Untrusted bytes in: images (``imaging``), videos (``video``), tables and text
(``textio``). Each decoder is bounded by its output and knows nothing of apps or the
store."""
