"""Files written whole or not at all (qa.core.files): what a crash or a failed write leaves."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from qa.index.generations import uploads_owner

from qa.core.errors import IndexDamagedError
from qa.core.files import replace_file, replace_text


def test_a_replaced_file_keeps_its_mode_and_its_link(tmp_path: Path) -> None:
    target = tmp_path / "reader.json"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    replace_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o600
    mask = os.umask(0o027)  # a new file gets the umask's mode, as open() would give it
    try:
        replace_text(tmp_path / "new.json", "{}")
    finally:
        os.umask(mask)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o640
    source = tmp_path / "weights.bin"
    source.write_bytes(bytes(range(256)) * 4096)
    replace_file(tmp_path / "copy.bin", source)
    assert (tmp_path / "copy.bin").read_bytes() == source.read_bytes()


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "reader.json"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        replace_text(target, "half \ud800")
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["reader.json"]


def test_writers_at_once_each_write_whole(tmp_path: Path) -> None:
    target = tmp_path / "CURRENT"
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for _ in range(50):
                replace_text(target, f"gen-{n}\n" * 100)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(target.read_text().splitlines())) == 1
    assert sorted(os.listdir(tmp_path)) == ["CURRENT"]


def test_servers_made_at_once_agree_on_one_id_for_their_uploads(tmp_path: Path) -> None:
    """The id by which servers sharing a database tell their uploads apart is made once, by
    whichever writer comes first, and a damaged one is refused, never replaced."""
    assert uploads_owner(tmp_path) is None  # (made only by a writer that needs one)
    made: list[str | None] = []
    threads = [threading.Thread(target=lambda: made.append(uploads_owner(tmp_path, make=True)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 1 and len(made[0] or "") == 32
    assert os.listdir(tmp_path / "uploads") == [".server-id"]
    (tmp_path / "uploads" / ".server-id").write_text("not an id")
    with pytest.raises(IndexDamagedError, match=r"uploads/\.server-id holds no server id"):
        uploads_owner(tmp_path)
    (tmp_path / "uploads" / ".server-id").unlink()
    (tmp_path / "uploads" / ".server-id").symlink_to("/dev/zero")
    with pytest.raises(IndexDamagedError, match="cannot be read"):
        uploads_owner(tmp_path, make=True)


def test_a_benchmark_never_empties_a_work_folder_it_did_not_make(tmp_path: Path) -> None:
    import subprocess
    import sys

    from bench.common import work_folder

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    result = subprocess.run([sys.executable, "-m", "bench.build_memory", "--work", str(mine)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "holds files no benchmark wrote" in result.stderr
    assert (mine / "thesis.tex").read_text() == "years of work"
    ours = work_folder(tmp_path / "ours", empty=True)
    (ours / "index").mkdir()
    assert list(work_folder(ours, empty=True).iterdir()) == [ours / ".article-qa-bench"]
