"""TLS for ``wss://``: a self-signed certificate for a router, and the client side's trust.

`make_certificate` writes a key and a self-signed certificate (what
``sisock cert`` does); the router config takes them in its endpoint's
``tls`` section (`sisock.router.directory.router_config`), and clients trust that
certificate through ``SISOCK_CA_FILE`` (`client_options`).
"""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Names the certificate is valid for by default.
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


def make_certificate(directory, hosts=DEFAULT_HOSTS, days=825):
    """Write ``key.pem`` (mode 0600) and a self-signed ``cert.pem`` into ``directory``.

    Parameters
    ----------
    directory : str
        Created if missing.
    hosts : sequence of str
        DNS names and IP addresses the certificate is valid for.
    days : int
        Validity in days from now (UTC).

    Returns
    -------
    tuple of str
        ``(key_path, cert_path)``, absolute.
    """
    os.makedirs(directory, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    names = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_path = os.path.abspath(os.path.join(directory, "key.pem"))
    cert_path = os.path.abspath(os.path.join(directory, "cert.pem"))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fp:
        fp.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    with open(cert_path, "wb") as fp:
        fp.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def client_options(hostname, ca_file=None):
    """Twisted TLS options for connecting to ``hostname``.

    Parameters
    ----------
    hostname : str
    ca_file : str, optional
        PEM certificate(s) to trust, e.g. the router's self-signed one;
        default ``SISOCK_CA_FILE``, else the system's trusted authorities.

    Returns
    -------
    twisted.internet.interfaces.IOpenSSLClientConnectionCreator
    """
    from twisted.internet import ssl

    ca_file = ca_file or os.environ.get("SISOCK_CA_FILE")
    if not ca_file:
        return ssl.optionsForClientTLS(hostname)
    with open(ca_file, "rb") as fp:
        trust = ssl.Certificate.loadPEM(fp.read())
    return ssl.optionsForClientTLS(hostname, trustRoot=trust)
