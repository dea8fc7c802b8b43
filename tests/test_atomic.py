"""Files written whole or not at all (nodes/atomic.py): sidecars, cache entries, catalogs, the config."""
from __future__ import annotations

import stat

import pytest

from nodes.atomic import atomic_file


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "f.json"
    with atomic_file(path) as f:
        f.write(b"old")
    with pytest.raises(RuntimeError), atomic_file(path) as f:
        f.write(b"half of the new")
        raise RuntimeError("the writer failed")
    assert path.read_bytes() == b"old" and [p.name for p in path.parent.iterdir()] == ["f.json"]


def test_the_mode_applies_from_the_first_byte(tmp_path):
    path = tmp_path / "secret.json"
    with atomic_file(path, stat.S_IRUSR | stat.S_IWUSR) as f:
        tmp = next(p for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
        assert stat.S_IMODE(tmp.stat().st_mode) & 0o077 == 0   # no one else can read it while it is written
        f.write(b"{}")
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0 and path.read_bytes() == b"{}"
