"""tls_pki.py — a throwaway PKI for the TLS tests, made with the `openssl`
command line in a temp dir: a test CA, server certificates (good, expired,
wrong name, IP-only/DNS-only, a second one for reload), client certificates
signed by the CA and by another CA. Plus small helpers shared by the TLS
test files: fingerprints, an `ssl` context that trusts the test CA, and
skip-with-reason for missing tools. Standard library only."""
import hashlib
import os
import shutil
import ssl
import subprocess
import sys

from harness import tmpdir

# A server certificate has the usual server extensions; `ca` signs with
# explicit dates so that an expired one needs no clock tricks.
_CA_CNF = """\
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = {dir}
database = {dir}/{name}-index.txt
new_certs_dir = {dir}/{name}-newcerts
serial = {dir}/{name}-serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
email_in_dn = no
[ any ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""


def _run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), r.stderr.decode(errors="replace")))
    return r.stdout


class PKI:
    """Every file is a path attribute, e.g. pki.server_crt / pki.server_key."""

    def __init__(self, d=None):
        self.dir = d or tmpdir()
        self._ca("ca", "sockit test CA")
        self._ca("otherca", "sockit other CA")
        self.server_crt, self.server_key = self._leaf(
            "server", "localhost", "DNS:localhost,IP:127.0.0.1,IP:::1", "serverAuth")
        self.server2_crt, self.server2_key = self._leaf(
            "server2", "localhost (second)", "DNS:localhost,IP:127.0.0.1", "serverAuth")
        self.expired_crt, self.expired_key = self._leaf(
            "expired", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth",
            dates=("20200101000000Z", "20200201000000Z"))
        self.wrong_crt, self.wrong_key = self._leaf(
            "wrong", "wrong.example", "DNS:wrong.example,IP:192.0.2.77", "serverAuth")
        # names 127.0.0.1 only as a DNS name: an IP literal must not match it
        self.dnsip_crt, self.dnsip_key = self._leaf(
            "dnsip", "127.0.0.1", "DNS:127.0.0.1,DNS:localhost", "serverAuth")
        self.client_crt, self.client_key = self._leaf(
            "client", "test client", "DNS:client.test", "clientAuth")
        self.otherclient_crt, self.otherclient_key = self._leaf(
            "otherclient", "stranger", "DNS:stranger.test", "clientAuth", ca="otherca")
        # an intermediate CA under ca, a server certificate it signed, and
        # the PEM chain (leaf, then intermediate) a server must send whole
        self.inter_crt, self.inter_key = self._leaf("inter", "sockit intermediate CA", None, None)
        self.leaf_crt, self.leaf_key = self._leaf(
            "leaf", "localhost (via intermediate)", "DNS:localhost,IP:127.0.0.1", "serverAuth",
            ca="inter")
        self.chain_crt = self.path("leaf-chain.pem")
        with open(self.chain_crt, "w") as out:
            for p in (self.leaf_crt, self.inter_crt):
                with open(p) as f:
                    out.write(f.read())

    def path(self, name):
        return os.path.join(self.dir, name)

    def _cnf(self, name):
        p = self.path(name + ".cnf")
        if not os.path.exists(p):
            with open(p, "w") as f:
                f.write(_CA_CNF.format(dir=self.dir, name=name))
            open(self.path(name + "-index.txt"), "w").close()
            with open(self.path(name + "-serial"), "w") as f:
                f.write("1000\n")
            os.makedirs(self.path(name + "-newcerts"), exist_ok=True)
        return p

    def _key(self, name):
        key = self.path(name + ".key")
        _run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-out", key], self.dir)
        return key

    def _ca(self, name, cn):
        key = self._key(name)
        crt = self.path(name + ".pem")
        _run(["openssl", "req", "-x509", "-new", "-key", key, "-out", crt, "-days", "30",
              "-subj", "/CN=" + cn, "-config", self._cnf(name), "-extensions", "v3_ca"], self.dir)
        setattr(self, name + "_crt", crt)
        setattr(self, name + "_key", key)

    def _leaf(self, name, cn, sans, eku, ca="ca", dates=None):
        """A certificate signed by ca (sans None: an intermediate CA)."""
        key = self._key(name)
        csr = self.path(name + ".csr")
        crt = self.path(name + ".pem")
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            if sans is None:  # an intermediate CA
                f.write("[ leaf ]\nbasicConstraints = critical,CA:true,pathlen:0\n"
                        "keyUsage = critical,keyCertSign,cRLSign\n")
            else:
                f.write("[ leaf ]\nbasicConstraints = CA:false\n"
                        "keyUsage = critical,digitalSignature\n"
                        "extendedKeyUsage = %s\nsubjectAltName = %s\n" % (eku, sans))
        _run(["openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + cn], self.dir)
        when = ["-startdate", dates[0], "-enddate", dates[1]] if dates else ["-days", "30"]
        _run(["openssl", "ca", "-batch", "-notext", "-config", self._cnf(ca),
              "-cert", getattr(self, ca + "_crt"), "-keyfile", getattr(self, ca + "_key"),
              "-in", csr, "-out", crt, "-extfile", ext, "-extensions", "leaf"] + when, self.dir)
        if sans is None:
            setattr(self, name + "_crt", crt)
            setattr(self, name + "_key", key)
        return crt, key


def fingerprint(pem_path):
    """'sha256:' + 64 lowercase hex digits of the certificate's DER."""
    with open(pem_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return "sha256:" + hashlib.sha256(der).hexdigest()


def cert_field(pem_path, *args):
    """Output of `openssl x509 -noout ARGS` for the certificate, stripped."""
    return _run(["openssl", "x509", "-in", pem_path, "-noout"] + list(args), "/").decode().strip()


def client_ctx(cafile, cert=None, key=None, alpn=None, tls_max=None):
    """An ssl client context that verifies against cafile (hostname checked)."""
    ctx = ssl.create_default_context(cafile=cafile)
    if cert:
        ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if tls_max:
        ctx.maximum_version = tls_max
    return ctx


def need(*tools):
    """The list of tools missing from PATH (a test reports them as a failure:
    install-deps.sh installs openssl, socat and ncat)."""
    return [x for x in tools if not shutil.which(x)]


def skip(why):
    """Prints SKIP with the reason (the test passes)."""
    print("    SKIP: %s" % why, flush=True)
    sys.stdout.flush()


_pki = []


def pki():
    """The test PKI of this process, made once."""
    if not _pki:
        _pki.append(PKI())
    return _pki[0]


def cert_args(crt=None, key=None):
    """serve's flags for a certificate of the test PKI (default: the server's)."""
    p = pki()
    return ["--cert", crt or p.server_crt, "--key", key or p.server_key]
