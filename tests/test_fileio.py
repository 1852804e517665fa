"""costmodel.fileio: all-or-nothing writes, bounded reads, hostile JSON refused."""
import errno
import os

import pytest

from costmodel import fileio


def test_write_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    fileio.write_text(target, "old contents\n")
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(fileio.OutputError, match="No space left"):
        fileio.write_text(target, "new contents that do not fit\n")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert target.read_text() == "old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temporary left


@pytest.mark.parametrize("path,reason", [
    ("/dev/full", "No space left"),
    ("/etc/hostname/x.json", "Not a directory|does not exist|not a directory"),
    ("/nonexistent-dir/x.json", "No such file|does not exist"),
    ("/proc/costmodel-test.json", "cannot write"),
])
def test_unwritable_paths_are_one_line_errors(path, reason):
    with pytest.raises(fileio.OutputError, match=reason) as err:
        fileio.write_text(path, "x")
    assert "\n" not in str(err.value) and path in str(err.value)
    assert not os.path.isfile(path) or path == "/dev/full"


def test_check_writable_before_work(tmp_path):
    fileio.check_writable(tmp_path / "ok.json")
    with pytest.raises(fileio.OutputError, match="directory"):
        fileio.check_writable(tmp_path)
    with pytest.raises(fileio.OutputError, match="does not exist"):
        fileio.check_writable(tmp_path / "missing" / "x.json")


def test_reads_refuse_devices_fifos_and_huge_files(tmp_path):
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for p in (link, fifo, tmp_path):
        with pytest.raises(fileio.InputError, match="not a regular file"):
            fileio.read_text(p)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(fileio.InputError, match="larger than"):
        fileio.read_text(big, limit=1024)
    with pytest.raises(fileio.InputError, match="No such file"):
        fileio.read_text(tmp_path / "missing.json")
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(fileio.InputError, match="not UTF-8"):
        fileio.read_text(bad)


@pytest.mark.parametrize("text,match", [
    ("[" * 100_000 + "]" * 100_000, "nested deeper"),
    ('{"a": ' * 100 + "1" + "}" * 100, "nested deeper"),
    ('{"x": NaN}', "not valid JSON"), ('{"x": Infinity}', "not valid JSON"),
    ('{"x": 1', "not valid JSON"),
])
def test_hostile_json_is_refused(text, match):
    with pytest.raises(fileio.InputError, match=match):
        fileio.loads_json(text, "t.json")


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = '{"note": "' + "[" * 500 + '\\" {{{", "v": [[1]]}'
    assert fileio.loads_json(text)["v"] == [[1]]
