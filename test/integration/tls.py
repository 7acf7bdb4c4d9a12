"""Certificates for the test store, made with openssl: a CA of the test session, and server
certificates it signs (for 127.0.0.1, for another host name, expired), plus one of another CA
that datumfs is never told about."""

import os
import subprocess


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ec_key_request(cwd, name, subject):
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=cwd)


def _ca(cwd, name):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "3",
             "-subj", f"/CN=datumfs test {name}", cwd=cwd)


def _server(cwd, name, ca, alt_names, days):
    _ec_key_request(cwd, name, "/CN=datumfs test store")
    with open(os.path.join(cwd, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName={alt_names}\n")
    # -days -1: valid from now until yesterday, i.e. expired.
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", str(days),
             "-extfile", f"{name}.ext", cwd=cwd)
    return (os.path.join(cwd, f"{name}.pem"), os.path.join(cwd, f"{name}.key"))


class Certs:
    """ca: the CA file to trust. good / wrong_host / expired / other_ca: (cert, key) pairs."""

    def __init__(self, directory, more_ips=()):
        """more_ips: addresses the good certificate also names (the benchmark's store)."""
        os.makedirs(directory, exist_ok=True)
        _ca(directory, "ca")
        _ca(directory, "other-ca")
        self.ca = os.path.join(directory, "ca.pem")
        local = "IP:127.0.0.1,IP:::1,DNS:localhost"
        self.good = _server(directory, "store", "ca",
                            ",".join([local] + [f"IP:{ip}" for ip in more_ips]), 2)
        self.wrong_host = _server(directory, "wrong-host", "ca", "DNS:store.invalid", 2)
        self.expired = _server(directory, "expired", "ca", local, -1)
        self.other_ca = _server(directory, "other", "other-ca", local, 2)
