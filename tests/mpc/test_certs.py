"""``privformers certs`` and make_certs: files written anew with exact modes, never through a link (issue 29,
item 5)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from privformers.mpc.transport import certs
from privformers.mpc.transport.certs import make_certs
from tests.cli_helpers import run_cli

PUBLIC = ["ca.pem", "client.pem", "server.pem", "dealer.pem"]
KEYS = ["ca-key.pem", "client.key", "server.key", "dealer.key"]
CERT_FILES = PUBLIC + KEYS


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_names_and_modes_of_a_fresh_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run_cli(["certs", "--out", str(tmp_path / "pki")], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "pki").iterdir()) == sorted(CERT_FILES)  # no temporary left
    assert {n: _mode(tmp_path / "pki" / n) for n in KEYS} == dict.fromkeys(KEYS, 0o600)
    assert {n: _mode(tmp_path / "pki" / n) for n in PUBLIC} == dict.fromkeys(PUBLIC, 0o644)


def test_force_rewrites_with_exact_modes_whatever_the_old_ones(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A key left 0644 (or 0666) by someone ends 0600; a certificate left 0600 ends 0644, under any umask."""
    pki = tmp_path / "pki"
    pki.mkdir()
    for name in CERT_FILES:
        (pki / name).write_text("old")
        os.chmod(pki / name, 0o666 if name in KEYS else 0o600)
    old_umask = os.umask(0o077)
    try:
        code, _, err = run_cli(["certs", "--out", str(pki), "--force"], capsys)
    finally:
        os.umask(old_umask)
    assert code == 0, err
    for name in CERT_FILES:
        assert (pki / name).read_text().startswith("-----BEGIN"), name
        assert _mode(pki / name) == (0o600 if name in KEYS else 0o644), name


def test_without_force_existing_files_are_kept(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "client.key").write_text("mine")
    code, _, err = run_cli(["certs", "--out", str(pki)], capsys)
    assert code == 2 and "already has client.key (use --force" in err
    assert (pki / "client.key").read_text() == "mine" and sorted(os.listdir(pki)) == ["client.key"]


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("dangling", [False, True])
def test_a_symbolic_link_is_refused_and_its_target_untouched(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                            force: bool, dangling: bool) -> None:
    """A key must never be written where a link points: with or without --force, and for a dangling link
    (which `exists()` calls absent), the command refuses, naming the link, and writes nothing."""
    pki, victim = tmp_path / "pki", tmp_path / "victim.txt"
    pki.mkdir()
    if not dangling:
        victim.write_text("precious")
    (pki / "server.key").symlink_to(victim)
    code, _, err = run_cli(["certs", "--out", str(pki), *(["--force"] if force else [])], capsys)
    assert code == 2, err
    assert f"{pki / 'server.key'}: a symbolic link" in err.strip().splitlines()[-1]
    assert (victim.read_text() == "precious") if not dangling else not victim.exists()
    assert sorted(os.listdir(pki)) == ["server.key"] and (pki / "server.key").is_symlink()


def test_make_certs_replaces_a_link_and_a_hard_link_never_writing_through(tmp_path: Path) -> None:
    """The library (no CLI check in front): the new file replaces a symbolic link itself and a hard link's
    name; the files they pointed to keep their content and mode."""
    pki = tmp_path / "pki"
    pki.mkdir()
    soft, hard = tmp_path / "soft-target", tmp_path / "hard-target"
    soft.write_text("soft")
    hard.write_text("hard")
    os.chmod(hard, 0o644)
    (pki / "client.key").symlink_to(soft)
    os.link(hard, pki / "dealer.key")
    make_certs(pki, days=1)
    assert soft.read_text() == "soft" and hard.read_text() == "hard" and _mode(hard) == 0o644
    for name in ("client.key", "dealer.key"):
        path = pki / name
        assert not path.is_symlink() and path.stat().st_nlink == 1 and _mode(path) == 0o600
        assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "ca.pem").write_text("old")

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(certs.os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        make_certs(pki, days=1)
    assert sorted(os.listdir(pki)) == ["ca.pem"] and (pki / "ca.pem").read_text() == "old"


def test_the_temporary_file_is_private_from_its_creation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key's bytes are never in a file others can read: the temporary is 0600 before anything is written,
    and is created without following links (O_EXCL | O_NOFOLLOW, by mkstemp)."""
    seen: list[int] = []
    real_fdopen = os.fdopen

    def spy(fd: int, *args: object, **kwargs: object):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(certs.os, "fdopen", spy)
    make_certs(tmp_path, days=1)
    assert seen and set(seen) == {0o600}
