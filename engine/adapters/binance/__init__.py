"""Binance spot adapter: wire models (``schemas``) and frame parsers (``parsing``).

No networking here: a data client feeds received text frames to
:func:`~engine.adapters.binance.parsing.parse_frame` with their receive time.
"""
