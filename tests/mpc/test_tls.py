"""TLS 1.3 with mutual authentication: the session CA only, roles bound to certificates, clear errors."""

from __future__ import annotations

import os
import ssl
import stat
import time

import pytest
import torch

from privformers.mpc.launch import free_ports
from privformers.mpc.transport.base import CertificateRefused, TlsError, TransportError
from privformers.mpc.transport.certs import ephemeral_certs
from privformers.mpc.transport.connect import connect_party, dial
from privformers.mpc.transport.tls import TlsConfig
from tests.mpc.test_tcp import DTYPES, addrs_of, run_threads
from tests.mpc.tls_helpers import make_pki, tls_pair, tls_streams

ROLES = ("client", "server", "dealer")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsConfig]:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsConfig]:
    """Certificates of the same roles, signed by another CA."""
    return make_pki(tmp_path_factory.mktemp("other-pki"))


def test_three_tls_links_carry_every_dtype(pki):
    sid, addrs = os.urandom(16), addrs_of(free_ports(3))
    links = dict(zip(ROLES, run_threads(*(lambda r=r: connect_party(r, sid, addrs, 10, 10, tls=pki[r])
                                          for r in ROLES))))
    for mine in links.values():
        assert not isinstance(mine, BaseException), mine
        assert all(ch.encrypted for ch in mine.values())
    c, s = links["client"]["server"], links["server"]["client"]
    for dt in DTYPES:
        t = (torch.arange(50_000) % 5).to(dt)
        c.send(t)
        assert torch.equal(s.recv(), t)
    big = torch.randint(-2**62, 2**62, (3_000_000,))   # several chunks and many records
    got_s, got_c = run_threads(lambda: (s.send(big), s.recv())[1], lambda: (c.send(big + 1), c.recv())[1])
    assert torch.equal(got_s, big + 1) and torch.equal(got_c, big)
    for mine in links.values():
        for ch in mine.values():
            ch.close()


def test_certificate_from_another_ca_is_refused_on_both_sides(pki, other_pki):
    """An impostor with another CA's certificate (trusting only its own CA) cannot join as the server."""
    addrs = addrs_of(free_ports(3))
    sid = os.urandom(16)
    dealer, impostor = run_threads(lambda: connect_party("dealer", sid, addrs, 2, tls=pki["dealer"]),
                                   lambda: dial("server", "dealer", sid, addrs["dealer"], time.monotonic() + 5, 5,
                                                other_pki["server"]))
    assert isinstance(dealer, CertificateRefused), dealer
    assert isinstance(impostor, CertificateRefused), impostor
    # the impostor trusts only its own CA, so it refuses the dealer first; each side says what happened
    assert "connection from 127.0.0.1" in str(dealer)
    assert "refused our certificate (TLS alert: unknown ca)" in str(dealer)
    assert "dealer at 127.0.0.1" in str(impostor) and "certificate we do not accept" in str(impostor)


def test_foreign_certificate_trusting_our_ca_is_refused_on_both_sides(pki, other_pki):
    """The impostor trusts our CA (so it accepts the dealer) but its own certificate is another CA's."""
    foreign = TlsConfig(other_pki["server"].cert, other_pki["server"].key, pki["server"].ca)
    addrs = addrs_of(free_ports(3))
    sid = os.urandom(16)
    dealer, impostor = run_threads(lambda: connect_party("dealer", sid, addrs, 2, tls=pki["dealer"]),
                                   lambda: dial("server", "dealer", sid, addrs["dealer"], time.monotonic() + 5, 5,
                                                foreign))
    assert isinstance(dealer, CertificateRefused) and "certificate we do not accept" in str(dealer)
    assert isinstance(impostor, CertificateRefused), impostor
    assert "refused our certificate" in str(impostor) and "dealer at" in str(impostor)


def test_client_certificate_cannot_pose_as_the_dealer(pki):
    """Listening with the client's certificate: the dialer refuses (wrong key usage / wrong role)."""
    addrs = addrs_of(free_ports(3))
    sid = os.urandom(16)
    fake = TlsConfig(pki["client"].cert, pki["client"].key, pki["client"].ca)   # its own check_role bypassed
    fake.check_role = lambda role: None  # type: ignore[method-assign]
    fake_dealer, server = run_threads(lambda: connect_party("dealer", sid, addrs, 2, tls=fake),
                                      lambda: dial("server", "dealer", sid, addrs["dealer"], time.monotonic() + 5,
                                                   5, pki["server"]))
    assert isinstance(server, CertificateRefused), server
    assert "dealer at" in str(server)
    assert isinstance(fake_dealer, TransportError)

    # The server's certificate allows listening, but names the server: refused as the dealer.
    fake = TlsConfig(pki["server"].cert, pki["server"].key, pki["server"].ca)
    fake.check_role = lambda role: None  # type: ignore[method-assign]
    fake_dealer, client = run_threads(lambda: connect_party("dealer", sid, addrs, 2, tls=fake),
                                      lambda: dial("client", "dealer", sid, addrs["dealer"], time.monotonic() + 5,
                                                   5, pki["client"]))
    assert isinstance(client, CertificateRefused)
    assert "certificate for the server, not the dealer" in str(client)
    assert isinstance(fake_dealer, CertificateRefused) and "refused our certificate" in str(fake_dealer)


def test_client_certificate_cannot_claim_the_server_role(pki):
    addrs = addrs_of(free_ports(3))
    sid = os.urandom(16)
    dealer, liar = run_threads(lambda: connect_party("dealer", sid, addrs, 2, tls=pki["dealer"]),
                               lambda: dial("server", "dealer", sid, addrs["dealer"], time.monotonic() + 5, 5,
                                            pki["client"]))
    assert isinstance(dealer, CertificateRefused)
    assert "claims to be the server with a certificate for the client" in str(dealer)
    assert isinstance(liar, TransportError) and "certificate is for another role" in str(liar)


def test_own_certificate_must_match_the_role(pki):
    with pytest.raises(TlsError, match="is for the client, but this party runs as the dealer"):
        connect_party("dealer", os.urandom(16), addrs_of(free_ports(3)), 1, tls=pki["client"])


def test_plain_peer_and_tls_peer_explain_the_mismatch(pki):
    addrs = addrs_of(free_ports(3))
    sid = os.urandom(16)
    dealer, plain = run_threads(lambda: connect_party("dealer", sid, addrs, 2, tls=pki["dealer"]),
                                lambda: dial("server", "dealer", sid, addrs["dealer"], time.monotonic() + 5, 5, None))
    assert isinstance(dealer, TlsError) and "does not speak TLS" in str(dealer)
    assert isinstance(plain, TransportError)
    assert "expects an encrypted link" in str(plain) or "closed the connection" in str(plain)


def test_tls13_only_and_no_system_cas(pki):
    a, b = tls_streams(pki["client"], pki["server"])
    assert a._tls.version() == "TLSv1.3" and b._tls.version() == "TLSv1.3"
    ctx = pki["client"].context(False)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3 and ctx.verify_mode == ssl.CERT_REQUIRED
    assert len(ctx.get_ca_certs()) == 1
    assert a.peer_role() == "server" and b.peer_role() == "client"
    a.close()
    b.close()


def test_ephemeral_certificates_are_private_and_deleted():
    with ephemeral_certs() as files:
        folder = files["client"].cert.parent
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(files["dealer"].key.stat().st_mode) == 0o600
        assert not (folder / "ca-key.pem").exists()
        assert TlsConfig.from_files(files["server"]).role() == "server"
    assert not folder.exists()


def test_tls_pair_round_trip(pki):
    a, b = tls_pair(pki, os.urandom(16))
    a.send(b"x" * 100_000)
    assert b.recv() == b"x" * 100_000
    b.send(torch.ones(3))
    assert torch.equal(a.recv(), torch.ones(3))
    a.close()
    b.close()
