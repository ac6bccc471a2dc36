"""Polymarket's public CLOB market channel behind the feed seam (see docs/polymarket.md).

Everything that names Polymarket's wire fields or hosts lives here: the protocol (:mod:`.protocol`), the
normalised events and their one field table (:mod:`.events`), Gamma discovery (:mod:`.discovery`), the
:class:`~ssmd.feed.base.Feed` (:mod:`.feed`) and the simulator (:mod:`.sim`).
"""
