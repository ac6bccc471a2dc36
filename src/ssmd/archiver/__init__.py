"""ssmd-archiver: JetStream -> rotated ``.jsonl.gz`` files + manifest, exactly once across crashes."""
