"""Polymarket adapter: wire models (``schemas``), frame parsers (``parsing``), local books (``book``).

No networking here: a data client feeds received text frames to
:func:`~engine.adapters.polymarket.parsing.parse_market_frame` or to a
:class:`~engine.adapters.polymarket.book.BookRegistry`.
"""
