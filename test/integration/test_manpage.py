"""The man page renders without a warning and names every subcommand and option that
`--help` lists, so the two cannot drift apart."""

import os
import re
import shutil
import subprocess

from conftest import DATUMFS, require

PAGE = os.path.join(os.path.dirname(__file__), "..", "..", "doc", "datumfs.1")
SUBCOMMANDS = [["mount"], ["stats"], ["prefetch"], ["cache", "ls"], ["cache", "gc"], ["cache", "verify"]]


def render():
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    return subprocess.run(["man", "--warnings", "-l", PAGE], capture_output=True, text=True,
                          env=env, timeout=60)


def test_the_man_page_renders_cleanly():
    require(shutil.which("man"), "man (man-db) is not installed")
    p = render()
    assert p.returncode == 0
    assert p.stderr == ""
    for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "FILES", "EXAMPLES"]:
        assert re.search(rf"^{section}$", p.stdout, re.M), section


def test_the_man_page_names_every_subcommand_and_option():
    require(shutil.which("man"), "man (man-db) is not installed")
    require(DATUMFS and os.path.exists(DATUMFS), "datumfs binary not built (DATUMFS_BIN)")
    text = render().stdout
    text = re.sub(r"-\n\s*", "-", text)  # words hyphenated across lines
    for words in SUBCOMMANDS:
        assert "datumfs " + " ".join(words) in text, words
        help_text = subprocess.run([DATUMFS, *words, "--help"], capture_output=True, text=True,
                                   check=True).stdout
        for option in set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", help_text)) - {"--help"}:
            assert option in text, f"{' '.join(words)} {option} is not in the man page"
