"""TLS in the lab: a private CA and a server certificate per run (``openssl`` CLI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .common import LabError, require_binary


class TestPki:
    """A private CA and a server certificate for 127.0.0.1 / localhost, made per run.

    Generated with the ``openssl`` CLI so nothing in the lab needs a Python crypto
    package; a fresh CA per run means no test can pass by trusting a system CA by accident.
    """

    def __init__(self, directory: Path | str) -> None:
        self.dir = Path(directory)
        self.ca_cert = self.dir / "ca.crt"
        self.ca_key = self.dir / "ca.key"
        self.server_cert = self.dir / "server.crt"
        self.server_key = self.dir / "server.key"

    def create(self) -> TestPki:
        openssl = require_binary("openssl")
        self.dir.mkdir(parents=True, exist_ok=True)
        ext = self.dir / "server.ext"
        # Python verifies the host name against subjectAltName only (never the CN); the
        # key usages keep strict verifiers (VERIFY_X509_STRICT, Python 3.13+) satisfied.
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid:always\n",
            encoding="ascii",
        )
        ca_ext = "basicConstraints=critical,CA:TRUE"
        steps = [
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=cti_connector test CA", "-keyout", str(self.ca_key),
             "-out", str(self.ca_cert), "-addext", ca_ext,
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(self.server_key), "-out", str(self.dir / "server.csr")],
            [openssl, "x509", "-req", "-in", str(self.dir / "server.csr"),
             "-CA", str(self.ca_cert), "-CAkey", str(self.ca_key), "-CAcreateserial",
             "-days", "2", "-extfile", str(ext), "-out", str(self.server_cert)],
        ]  # fmt: skip
        for argv in steps:
            out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
            if out.returncode != 0:
                raise LabError(f"openssl failed: {' '.join(argv[:3])}\n{out.stderr}")
        return self
