"""The command line: bad inputs give the documented exit status and one clear line, and no
mount is left behind; --help and --version work."""

import json
import os
import subprocess

import pytest

from conftest import DATUMFS, is_mounted

EXIT_FAILURE, EXIT_USAGE, EXIT_BAD_INPUT = 1, 2, 3


def run(*args):
    return subprocess.run([DATUMFS, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def mnt(tmp_path, mounts):
    path = tmp_path / "mnt"
    path.mkdir()
    yield str(path)
    assert not is_mounted(str(path)), "a failed mount left a mount behind"


def mount_with(tmp_path, mnt, text, *extra):
    inputs = tmp_path / "inputs.json"
    inputs.write_bytes(text if isinstance(text, bytes) else text.encode())
    return run("mount", "--inputs", str(inputs), "--api", str(tmp_path / "none"),
               "--cache-dir", str(tmp_path / "cache"), *extra, mnt)


def one_error_line(p):
    lines = [line for line in p.stderr.splitlines() if line.startswith("datumfs: ")]
    assert len(lines) == 1, p.stderr
    return lines[0]


def test_version_and_help():
    p = run("--version")
    assert p.returncode == 0 and p.stdout.startswith("datumfs ")
    p = run("--help")
    assert p.returncode == 0 and "mount" in p.stdout
    p = run("mount", "--help")
    assert p.returncode == 0
    for option in ["--inputs", "--api", "--strict", "--foreground", "-o", "--read-timeout"]:
        assert option in p.stdout


def test_bad_command_line_is_exit_2(mnt):
    assert run().returncode == EXIT_USAGE
    assert run("frobnicate").returncode == EXIT_USAGE
    assert run("mount", "--no-such-option", mnt).returncode == EXIT_USAGE
    assert run("mount", "--read-timeout", "-1", mnt).returncode == EXIT_USAGE


def test_missing_inputs_json(tmp_path, mnt):
    p = run("mount", "--inputs", str(tmp_path / "absent.json"), mnt)
    assert p.returncode == EXIT_BAD_INPUT
    assert one_error_line(p) == f"datumfs: {tmp_path}/absent.json: No such file or directory"


def test_inputs_json_that_is_not_json(tmp_path, mnt):
    p = mount_with(tmp_path, mnt, "this is not json\n")
    assert p.returncode == EXIT_BAD_INPUT
    assert one_error_line(p) == (f"datumfs: {tmp_path}/inputs.json:1:2 (byte 1): invalid JSON: "
                                 "Invalid value.")


def test_truncated_inputs_json(tmp_path, mnt):
    text = json.dumps({"x": {"files": [{"name": "a", "size": 1, "storage_uri": "http://s/a"}]}},
                      indent=1)
    p = mount_with(tmp_path, mnt, text[:-20])
    assert p.returncode == EXIT_BAD_INPUT
    line = one_error_line(p)
    assert line.startswith(f"datumfs: {tmp_path}/inputs.json:")
    assert "invalid JSON" in line


def test_inputs_json_with_wrong_types(tmp_path, mnt):
    p = mount_with(tmp_path, mnt, '{"x": {"files": [\n {"name": "a.bin", "size": "10", '
                                  '"storage_uri": "http://s/a"}]}}')
    assert p.returncode == EXIT_BAD_INPUT
    assert one_error_line(p) == (f"datumfs: {tmp_path}/inputs.json:2:32 (byte 49): input \"x\", "
                                 "file 0 (\"a.bin\"): \"size\" must be a non-negative integer")


def test_bad_names_are_skipped_with_a_warning(tmp_path, mounts, store):
    doc = {"x": {"input_id": "i", "files": [
        {"name": "../escape", "size": 1, "storage_uri": store.url("x/a")},
        {"name": "good.txt", "size": 3, "storage_uri": store.url("x/good.txt")},
        {"name": "good.txt", "size": 5, "storage_uri": store.url("x/other")},
    ]}}
    store.put("x/good.txt", b"abc")
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps(doc))
    mnt = str(tmp_path / "m")
    os.mkdir(mnt)
    mounts.points.append(mnt)
    p = mounts.run("--inputs", str(inputs), "--api", str(tmp_path / "none"),
                   "--cache-dir", str(tmp_path / "cache"), mnt)
    assert p.returncode == 0, p.stderr
    assert (f"{inputs}: input \"x\", file 0 (\"../escape\"): '.' or '..' path segment; skipped"
            in p.stderr)
    assert (f"{inputs}: input \"x\", file 2 (\"good.txt\"): another file has the same path; "
            "skipped" in p.stderr)
    assert os.listdir(os.path.join(mnt, "x")) == ["good.txt"]
    assert open(os.path.join(mnt, "x/good.txt"), "rb").read() == b"abc"


def test_strict_refuses_bad_names(tmp_path, mnt):
    p = mount_with(tmp_path, mnt, json.dumps({"x": {"files": [
        {"name": "/etc/passwd", "size": 1, "storage_uri": "http://s/a"}]}}), "--strict")
    assert p.returncode == EXIT_BAD_INPUT
    assert one_error_line(p) == (f"datumfs: {tmp_path}/inputs.json: input \"x\", file 0 "
                                 "(\"/etc/passwd\"): absolute path")


def test_missing_mountpoint_is_exit_1(tmp_path):
    inputs = tmp_path / "inputs.json"
    inputs.write_text("{}")
    p = run("mount", "--inputs", str(inputs), str(tmp_path / "nowhere"))
    assert p.returncode == EXIT_FAILURE
    assert one_error_line(p) == f"datumfs: {tmp_path}/nowhere: No such file or directory"


def test_invalid_api_json_is_refused(tmp_path, mnt):
    inputs = tmp_path / "inputs.json"
    inputs.write_text("{}")
    api = tmp_path / "api.json"
    api.write_text('{"input_request": {"url": 5}}')
    p = run("mount", "--inputs", str(inputs), "--api", str(api), mnt)
    assert p.returncode == EXIT_BAD_INPUT
    assert one_error_line(p) == f"datumfs: {api}: \"input_request.url\" must be a string"


def test_bad_fuse_option_is_refused_without_a_mount(tmp_path, mnt):
    p = mount_with(tmp_path, mnt, "{}", "-o", "no_such_fuse_option")
    assert p.returncode == EXIT_FAILURE
    assert "invalid FUSE options" in one_error_line(p)


def test_mount_options_come_from_the_environment_and_the_command_line_wins(mounts, dataset,
                                                                           tmp_path):
    mnt = tmp_path / "env-mnt"
    mnt.mkdir()
    env = dict(os.environ, DATUMFS_INPUTS=str(dataset["inputs"]), DATUMFS_MOUNTPOINT=str(mnt),
               DATUMFS_CACHE_DIR=str(tmp_path / "env-cache"), DATUMFS_CACHE_MAX="bogus",
               DATUMFS_API=str(tmp_path / "no-api.json"))
    p = subprocess.run([DATUMFS, "mount"], env=env, capture_output=True, text=True)
    assert p.returncode == 2 and "bogus" in p.stderr  # read from DATUMFS_CACHE_MAX
    assert not is_mounted(str(mnt))
    p = subprocess.run([DATUMFS, "mount", "--cache-max", "1G"], env=env, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    mounts.points.append(str(mnt))
    assert sorted(os.listdir(mnt)) == ["test", "train"]
    assert os.path.isdir(tmp_path / "env-cache")


def test_durations_must_be_finite_and_at_most_a_week(mounts, tmp_path):
    # "nan" and 1e10 passed CLI11's PositiveNumber and overflowed into a passed deadline.
    for option, value in [("--read-timeout", "nan"), ("--read-timeout", "1e10"),
                          ("--read-timeout", "inf"), ("--read-timeout", "0"),
                          ("--stall-timeout", "-1"), ("--refresh-margin", "nan"),
                          ("--read-timeout", "ten")]:
        p = mounts.run("--inputs", str(tmp_path / "none.json"), option, value, str(tmp_path))
        assert p.returncode == 2, (option, value, p.stderr)
        assert value in p.stderr and option in p.stderr, p.stderr
    for args in (["stats", "--watch", "--interval", "nan", str(tmp_path)],
                 ["prefetch", "--interval", "1e300", str(tmp_path)]):
        p = subprocess.run([DATUMFS, *args], capture_output=True, text=True)
        assert p.returncode == 2, (args, p.stderr)
