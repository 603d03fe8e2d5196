"""A development/private CA and server certificates, and the ssl contexts the server and clients use.

A city's closed network rarely has a public CA. ``madoguchi-admin tls init-ca`` creates a private CA whose
certificate is installed on kiosks and consoles (``client_ssl_context``); ``tls issue`` signs the signaling
server's certificate for its DNS names and IP addresses. Private keys are written with mode 0600.
Keys are ECDSA P-256; certificates are X.509 v3 with the extensions modern verifiers require.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 397  # the CA/Browser Forum maximum, so browsers on staff PCs accept it too
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    subject: str
    issuer: str
    dns_names: list[str]
    ip_addresses: list[str]
    not_before: dt.datetime
    not_after: dt.datetime
    is_ca: bool
    sha256_fingerprint: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # also when the file already existed with wider permissions
        os.write(fd, data)
    finally:
        os.close(fd)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.chmod(0o644)


def _prepare_dir(directory: str | Path) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    return out


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise ValueError(f"file name stem {name!r} must be 1-64 letters, digits, _ or -")


def create_ca(
    directory: str | Path,
    common_name: str = "Remote Madoguchi private CA",
    days: int = CA_DAYS,
    name: str = "ca",
) -> tuple[Path, Path]:
    """Create a CA key and self-signed certificate in ``directory``: returns (cert_path, key_path)."""
    _check_name(name)
    if not 1 <= days <= 36_500:
        raise ValueError(f"CA validity must be 1-36500 days, got {days}")
    out = _prepare_dir(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = out / f"{name}.pem", out / f"{name}.key"
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert_path, key_path


def _san_entries(hostnames: list[str]) -> list[x509.GeneralName]:
    if isinstance(hostnames, str):
        raise TypeError("hostnames must be a list of names, not a single string")
    if not hostnames:
        raise ValueError("a server certificate needs at least one hostname or IP address")
    entries: list[x509.GeneralName] = []
    for raw in hostnames:
        host = raw.strip()
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
            continue
        except ValueError:
            pass
        labels = host.rstrip(".").split(".")
        if labels and labels[0] == "*":
            labels = labels[1:]
        if not host or len(host) > 253 or not labels or not all(_LABEL.match(lbl) for lbl in labels):
            raise ValueError(f"{raw!r} is neither an IP address nor a valid DNS name")
        entries.append(x509.DNSName(host.rstrip(".").lower()))
    return entries


def _load_key(path: str | Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: expected an EC private key made by create_ca")
    return key


def issue_server_cert(
    ca_cert: str | Path,
    ca_key: str | Path,
    hostnames: list[str],
    directory: str | Path,
    days: int = SERVER_DAYS,
    name: str = "server",
) -> tuple[Path, Path]:
    """Sign a TLS server certificate for DNS names and/or IPs: returns (cert_path, key_path)."""
    _check_name(name)
    if not 1 <= days <= 3650:
        raise ValueError(f"server certificate validity must be 1-3650 days, got {days}")
    sans = _san_entries(hostnames)
    issuer_cert = x509.load_pem_x509_certificate(Path(ca_cert).read_bytes())
    issuer_key = _load_key(ca_key)
    if issuer_cert.public_key() != issuer_key.public_key():
        raise ValueError(f"{ca_key} is not the private key of {ca_cert}")
    try:
        if not issuer_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise ValueError(f"{ca_cert} is not a CA certificate")
    except x509.ExtensionNotFound:
        raise ValueError(f"{ca_cert} is not a CA certificate (no basicConstraints)") from None
    out = _prepare_dir(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    first = sans[0].value
    now = _now()
    not_after = min(now + dt.timedelta(days=days), issuer_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(first))]))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
        .sign(issuer_key, hashes.SHA256())
    )
    cert_path, key_path = out / f"{name}.pem", out / f"{name}.key"
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert_path, key_path


def describe_certificate(cert_path: str | Path) -> CertificateInfo:
    """What ``madoguchi-admin tls show`` prints and monitoring checks (days left before expiry)."""
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = san.get_values_for_type(x509.DNSName)
        ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        dns_names=dns,
        ip_addresses=ips,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=is_ca,
        sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
    )


def server_ssl_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    """TLS 1.2+ server context for aiohttp (``web.TCPSite(..., ssl_context=...)``)."""
    for path in (cert, key):
        if not Path(path).is_file():
            raise FileNotFoundError(f"TLS file {path} does not exist")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return ctx


def client_ssl_context(ca_cert: str | Path) -> ssl.SSLContext:
    """A verifying client context that trusts only ``ca_cert`` (hostname checked against the SANs)."""
    if not Path(ca_cert).is_file():
        raise FileNotFoundError(f"CA certificate {ca_cert} does not exist")
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_cert))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
