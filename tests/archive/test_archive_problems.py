"""A damaged archive is read as far as it is readable, every problem is named, and the run fails unless the caller
accepts the loss (``--ignore-problems`` / ``ignore_problems=True``). Readers and verify name problems alike."""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

import ssmd.archive
from ssmd.archive.cli import archive_group
from ssmd.archive.problems import MAX_DETAILS, ArchiveProblems, Problem, Problems
from ssmd.archive.verify import verify
from ssmd.archive_format.lines import FileLines
from ssmd.testing import gz, write_day

DAY = "2026-02-12"
BROKEN = f"kalshi/{DAY}/1215.jsonl.gz"


def _archive(root: Path, samples: list[bytes]) -> Path:
    """Two files on the 12th (the second one gets damaged), one on the 13th (must still be read after it)."""
    write_day(root, "2026-02-13", [("0000.jsonl.gz", samples[20:])])
    return write_day(root, DAY, [("1200.jsonl.gz", samples[:10]), ("1215.jsonl.gz", samples[10:20])])


def _zero_byte(day: Path) -> None:
    (day / "1215.jsonl.gz").write_bytes(b"")


def _manifest_not_json(day: Path) -> None:
    (day / "manifest.json").write_bytes(b'{"version": 1, "files": [ this is not json')


def _missing_file(day: Path) -> None:
    (day / "1215.jsonl.gz").unlink()


def _random_gzip(day: Path) -> None:
    (day / "1215.jsonl.gz").write_bytes(gz(random.Random(12).randbytes(64 * 1024)))


# damage, the problem kind readers report for it, the sample range that stays readable
CASES: dict[str, tuple[Callable[[Path], None], str, slice]] = {
    "zero_byte_file": (_zero_byte, "bad_gzip", slice(10, 20)),
    "manifest_not_json": (_manifest_not_json, "manifest_invalid", slice(0, 0)),
    "manifest_lists_missing_file": (_missing_file, "missing_file", slice(10, 20)),
    "gzip_of_random_bytes": (_random_gzip, "bad_line", slice(10, 20)),
}


def _broken(root: Path, samples: list[bytes], case: str) -> tuple[str, list[bytes]]:
    damage, kind, lost = CASES[case]
    damage(_archive(root, samples))
    readable = [s for i, s in enumerate(samples) if not lost.start <= i < lost.stop]
    return kind, readable


def _stderr_problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("problem: ")]


def _is_text(line: bytes) -> bool:
    try:
        line.decode()
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize("case", CASES)
def test_cat_prints_what_is_readable_names_each_problem_and_exits_1(
        tmp_path: Path, samples: list[bytes], case: str) -> None:
    """cat prints every readable frame (the later day too), one stderr line per problem with verify's kind, exit 1;
    with --ignore-problems the same output and exit 0."""
    kind, readable = _broken(tmp_path, samples, case)
    result = CliRunner().invoke(archive_group, ["cat", str(tmp_path)])
    assert result.exit_code == 1, result.stderr
    lines = result.stdout_bytes.splitlines()
    assert all(_is_text(line) for line in lines), "cat printed bytes that are not text"
    assert [line for line in lines if line in readable] == readable
    if case != "gzip_of_random_bytes":
        assert lines == readable
    problems = _stderr_problems(result.stderr)
    assert any(f": {kind}: " in p for p in problems), result.stderr
    if kind != "manifest_invalid":
        assert any(p.startswith(f"problem: {BROKEN}") and f": {kind}: " in p for p in problems), result.stderr
    assert "--ignore-problems" in result.stderr

    accepted = CliRunner().invoke(archive_group, ["cat", str(tmp_path), "--ignore-problems"])
    assert accepted.exit_code == 0, accepted.stderr
    assert accepted.stdout_bytes == result.stdout_bytes
    assert _stderr_problems(accepted.stderr) == problems


@pytest.mark.parametrize("case", CASES)
def test_stats_counts_what_is_readable_and_exits_1(tmp_path: Path, samples: list[bytes], case: str) -> None:
    """stats --json counts the readable frames, names the problem on stderr and exits 1 (0 with --ignore-problems)."""
    kind, readable = _broken(tmp_path, samples, case)
    result = CliRunner().invoke(archive_group, ["stats", str(tmp_path), "--json"])
    assert result.exit_code == 1, result.stderr
    stats = orjson.loads(result.stdout)
    if case != "gzip_of_random_bytes":
        assert stats["frames"] == len(readable)
    assert stats["by_type"]["trade"] == sum(1 for s in readable if orjson.loads(s)["type"] == "trade")
    assert any(f": {kind}: " in p for p in _stderr_problems(result.stderr)), result.stderr
    accepted = CliRunner().invoke(archive_group, ["stats", str(tmp_path), "--json", "--ignore-problems"])
    assert accepted.exit_code == 0 and orjson.loads(accepted.stdout) == stats


@pytest.mark.parametrize(("case", "export_kind"), [("zero_byte_file", "bad_gzip"),
                                                   ("gzip_of_random_bytes", "sha256_mismatch"),
                                                   ("manifest_lists_missing_file", "missing_file"),
                                                   ("manifest_not_json", "manifest_invalid")])
def test_export_writes_nothing_unless_problems_are_accepted(tmp_path: Path, samples: list[bytes], case: str,
                                                            export_kind: str) -> None:
    """export of a damaged archive names the problem, writes nothing and exits 1; with --ignore-problems it exports
    every readable frame and exits 0. Export decodes whole files in bulk, so it does not judge lines one by one as
    cat does: it checks each file's bytes against its manifest entry, as verify does (random bytes in a valid gzip
    are a ``sha256_mismatch`` there, and in verify too)."""
    _, readable = _broken(tmp_path / "arc", samples, case)
    out = tmp_path / "out"
    result = CliRunner().invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(out)])
    assert result.exit_code == 1, result.stderr
    where = f"kalshi/{DAY}" if export_kind == "manifest_invalid" else BROKEN
    assert any(p.startswith(f"problem: {where}") and f": {export_kind}: " in p
               for p in _stderr_problems(result.stderr)), result.stderr
    assert "nothing was written" in result.stderr and not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "arc"]  # no partial output left behind

    accepted = CliRunner().invoke(archive_group, ["export", str(tmp_path / "arc"), "--to", "parquet", str(out),
                                                  "--ignore-problems"])
    assert accepted.exit_code == 0, accepted.stderr
    summary = orjson.loads(accepted.stdout)
    trades = sum(1 for s in readable if orjson.loads(s)["type"] == "trade")
    assert summary["rows"]["trades"] == trades
    assert (out / "trades").is_dir()


def test_open_yields_the_readable_frames_then_raises_naming_the_problems(tmp_path: Path,
                                                                        samples: list[bytes]) -> None:
    """The Python API yields every readable frame, later days included, and raises ArchiveProblems at the end."""
    kind, readable = _broken(tmp_path, samples, "zero_byte_file")
    seen: list[bytes] = []
    reader = ssmd.archive.open(tmp_path)
    with pytest.raises(ArchiveProblems) as raised:
        for frame in reader:
            seen.append(frame.raw)
    assert seen == readable
    assert [(p.kind, p.where) for p in raised.value.problems] == [(kind, BROKEN)]
    assert isinstance(raised.value, ssmd.archive.ArchiveError)
    assert "bad_gzip" in str(raised.value) and "ignore_problems" in str(raised.value)
    assert list(reader.problems) == list(raised.value.problems)


def test_open_with_ignore_problems_keeps_them_visible(tmp_path: Path, samples: list[bytes]) -> None:
    """ignore_problems=True does not raise; the problems are on .problems and go to on_problem as they are found."""
    kind, readable = _broken(tmp_path, samples, "manifest_lists_missing_file")
    heard: list[Problem] = []
    reader = ssmd.archive.open(tmp_path, ignore_problems=True, on_problem=heard.append)
    assert [f.raw for f in reader] == readable
    assert [p.kind for p in heard] == [kind]
    assert list(reader.problems) == heard and reader.problems.counts == {kind: 1}


def test_a_truncated_member_boundary_is_records_mismatch(tmp_path: Path, samples: list[bytes]) -> None:
    """A file cut exactly after a whole gzip member is valid gzip but lacks lines: the manifest's record count
    shows it (as in verify)."""
    day = _archive(tmp_path, samples)
    first_member = gz(b"".join(s + b"\n" for s in samples[10:15]))
    whole = first_member + gz(b"".join(s + b"\n" for s in samples[15:20]))
    (day / "1215.jsonl.gz").write_bytes(whole[:len(first_member)])
    reader = ssmd.archive.open(tmp_path, ignore_problems=True)
    assert [f.raw for f in reader] == samples[:15] + samples[20:]
    assert [(p.kind, p.where) for p in reader.problems] == [("records_mismatch", BROKEN)]
    assert verify(tmp_path, show_progress=False).totals()["problems_records_mismatch"] == 1


@pytest.mark.parametrize("case", CASES)
def test_verify_names_the_same_problem_kinds_as_the_readers(tmp_path: Path, samples: list[bytes], case: str) -> None:
    """Every kind a reader reports is one verify reports on the same archive (one classification, two users)."""
    _broken(tmp_path, samples, case)
    reader = ssmd.archive.open(tmp_path, ignore_problems=True)
    for _ in reader:
        pass
    verified = {p.kind for day in verify(tmp_path, show_progress=False).days for p in day.problems}
    read = set(reader.problems.counts)
    assert read and read <= verified, (read, verified)


def test_verify_calls_a_zero_byte_file_bad_gzip(tmp_path: Path, samples: list[bytes]) -> None:
    """An empty .jsonl.gz is not a gzip stream: bad_gzip (not only a size mismatch)."""
    _zero_byte(_archive(tmp_path, samples))
    totals = verify(tmp_path, show_progress=False).totals()
    assert totals["problems_bad_gzip"] == 1


def test_verify_flags_lines_that_are_not_text_even_when_the_manifest_matches(tmp_path: Path) -> None:
    """A gzip of random bytes listed with a matching manifest (sha, sizes, records) still fails: its lines are not
    UTF-8 text, so they are bad_line."""
    blob = random.Random(12).randbytes(64 * 1024)
    lines = blob.split(b"\n")
    write_day(tmp_path, DAY, [("1200.jsonl.gz", lines[:-1])])
    totals = verify(tmp_path, show_progress=False).totals()
    assert totals["problems_bad_line"] >= 1
    assert set(totals) & {"problems_sha256_mismatch", "problems_records_mismatch", "problems_size_mismatch"} == set()


def test_a_file_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    """A listed file removed between listing and reading is missing_file; a path that cannot be opened as a file is
    unreadable_file; neither yields anything nor raises."""
    problems = Problems()
    assert list(FileLines(tmp_path / "gone.jsonl.gz", "kalshi/d/gone.jsonl.gz", "jsonl", problems.add)) == []
    (tmp_path / "dir.jsonl.gz").mkdir()
    lines = FileLines(tmp_path / "dir.jsonl.gz", "kalshi/d/dir.jsonl.gz", "jsonl", problems.add)
    assert list(lines) == [] and not lines.complete
    assert [(p.kind, p.where) for p in problems] == [("missing_file", "kalshi/d/gone.jsonl.gz"),
                                                      ("unreadable_file", "kalshi/d/dir.jsonl.gz")]


def test_envelope_lines_that_are_not_envelopes_are_skipped_and_named(tmp_path: Path, samples: list[bytes]) -> None:
    """format: envelope: a line that is not a valid envelope is bad_line (never yielded); the others come back
    unwrapped, a data_b64 payload as its original bytes."""
    day = write_day(tmp_path, DAY, [("1200.jsonl.gz", [samples[0], b"not json {", samples[1]])], fmt="envelope")
    body = orjson.loads((day / "manifest.json").read_bytes())
    lines = gzip.decompress((day / "1200.jsonl.gz").read_bytes()).split(b"\n")
    lines.insert(1, b'{"subject":"prod.kalshi.json.trade.X","seq":9}')  # no data
    (day / "1200.jsonl.gz").write_bytes(gz(b"\n".join(lines)))
    body["files"][0]["records"] = 4
    (day / "manifest.json").write_bytes(orjson.dumps(body))
    reader = ssmd.archive.open(tmp_path, ignore_problems=True)
    assert [f.raw for f in reader] == [samples[0], b"not json {", samples[1]]
    assert [(p.kind, p.where) for p in reader.problems] == [("bad_line", f"kalshi/{DAY}/1200.jsonl.gz:2")]


def test_the_problem_lines_are_capped_per_kind_but_counted(tmp_path: Path, samples: list[bytes]) -> None:
    """A garbage file has a bad line per line: MAX_DETAILS of them are printed, the rest counted in one line."""
    _random_gzip(_archive(tmp_path, samples))
    result = CliRunner().invoke(archive_group, ["cat", str(tmp_path)])
    problems = _stderr_problems(result.stderr)
    bad = [p for p in problems if ": bad_line: " in p]
    assert len(bad) == MAX_DETAILS
    more = [p for p in problems if p.endswith(" more bad_line not shown")]
    total = int(more[0].split()[1]) + MAX_DETAILS
    assert f"bad_line: {total}" in result.stderr.splitlines()[-1]


def test_problems_are_met_where_the_data_would_be(tmp_path: Path, samples: list[bytes]) -> None:
    """A missing file is reported in archive order, where its frames would have come: cat --limit that stops before
    it prints complete output and exits 0; one that reads past it exits 1."""
    _missing_file(_archive(tmp_path, samples))
    before = CliRunner().invoke(archive_group, ["cat", str(tmp_path), "--limit", "10"])
    assert before.exit_code == 0 and before.stderr == ""
    assert before.stdout_bytes.splitlines() == samples[:10]
    past = CliRunner().invoke(archive_group, ["cat", str(tmp_path), "--limit", "11"])
    assert past.exit_code == 1 and f"problem: {BROKEN}: missing_file: " in past.stderr
    assert past.stdout_bytes.splitlines() == samples[:10] + samples[20:21]
