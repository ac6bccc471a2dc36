"""The archive format's one home (docs/archive-format.md): written and read only through this package.

- :mod:`~ssmd.archive_format.layout`: paths, file names and their order, rotation windows, the ``.tmp`` rule;
- :mod:`~ssmd.archive_format.members`: the gzip member framing (the ``SM`` FEXTRA subfield);
- :mod:`~ssmd.archive_format.envelope`: ``format: envelope`` lines;
- :mod:`~ssmd.archive_format.manifest`: ``manifest.json`` as one typed model (load, validate, save atomically);
- :mod:`~ssmd.archive_format.writer`: :class:`ArchiveWriter`, durable batch by batch, recoverable after ``kill -9``;
- :mod:`~ssmd.archive_format.days` and :mod:`~ssmd.archive_format.lines`: a user's path to ordered days and
  files, and the checked lines of one file (:mod:`~ssmd.archive_format.problems` names what can be wrong).

A library on a low floor: it knows no service and no exchange (what the manifest records of a frame comes from
the feed, as :class:`~ssmd.archive_format.stats.FrameFacts`). The archiver, the connector's file mode, the
``ssmd archive`` tools, the simulator's replay and ``ssmd.testing`` all call it.
"""
