"""Certificates for the TLS tests, made at test time with the openssl command (no private key is
ever committed): a CA, and leaf certificates it signs for the names a test needs."""

import subprocess
from pathlib import Path


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _new_key_args(kind):
    if kind == "rsa":
        return ["-newkey", "rsa:2048"]
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]


class Pki:
    """A CA in `folder`; leaf() signs certificates with it."""

    def __init__(self, folder, name="ballast test CA"):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca = self.folder / f"{name.replace(' ', '-')}.pem"
        self.ca_key = self.folder / f"{name.replace(' ', '-')}.key"
        _openssl(
            "req", "-x509", *_new_key_args("ec"), "-nodes", "-keyout", str(self.ca_key),
            "-out", str(self.ca), "-days", "3", "-subj", f"/CN={name}", cwd=self.folder,
        )

    def leaf(self, file_name, names, kind="ec", days=30, common_name=None, ips=()):
        """(cert, key) paths for a certificate valid for DNS `names` and IP addresses `ips` (the
        first name as CN unless common_name), signed by this CA, its key `kind` ("ec" or
        "rsa")."""
        cert = self.folder / f"{file_name}.pem"
        key = self.folder / f"{file_name}.key"
        csr = self.folder / f"{file_name}.csr"
        extensions = self.folder / f"{file_name}.ext"
        alt = ",".join([f"DNS:{name}" for name in names] + [f"IP:{ip}" for ip in ips])
        extensions.write_text(f"subjectAltName={alt}\n" if alt else "basicConstraints=CA:FALSE\n")
        subject = common_name or (names[0] if names else file_name)
        _openssl(
            "req", "-new", *_new_key_args(kind), "-nodes", "-keyout", str(key), "-out", str(csr),
            "-subj", f"/CN={subject}/O=ballast tests", cwd=self.folder,
        )
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey", str(self.ca_key),
            "-CAcreateserial", "-days", str(days), "-out", str(cert), "-extfile", str(extensions),
            cwd=self.folder,
        )
        return cert, key


def s_client(port, *args, stdin=b"", timeout_s=20):
    """`openssl s_client` against 127.0.0.1:port with `args`; its whole output as text."""
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
        input=stdin, capture_output=True, timeout=timeout_s,
    )
    return result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")


def served_subject(port, *args):
    """The subject line s_client prints for the certificate the server sent."""
    for line in s_client(port, *args).splitlines():
        if line.startswith("subject="):
            return line
    return None
