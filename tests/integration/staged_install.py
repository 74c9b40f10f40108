"""staged_install.py — runs `make install` of this checkout into a temporary
directory, for the tests of the installed library (test_install,
test_readme_example). Installs from $SOCKIT_BUILD, which `make test` and
`make asan` have already built, so make only copies files."""
import os
import subprocess

from harness import REPO

BUILD = os.environ.get("SOCKIT_BUILD") or "build"


def make_install(prefix, destdir=None, timeout=300):
    """`make install PREFIX=prefix [DESTDIR=destdir]`; returns the CompletedProcess
    (stdout and stderr merged, as text)."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)  # the outer make's jobserver is not ours to use
    cmd = ["make", "--no-print-directory", "-C", REPO, "install", "BUILD=" + BUILD,
           "PREFIX=" + prefix]
    if destdir is not None:
        cmd.append("DESTDIR=" + destdir)
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)


def pkg_config(pcdir, *args):
    """pkg-config ARGS with only pcdir on its search path; returns (rc, stdout)."""
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir, PKG_CONFIG_LIBDIR=pcdir)
    r = subprocess.run(["pkg-config"] + list(args), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    return r.returncode, r.stdout.strip()


def asan_flags(shared_lib):
    """The sanitizer flags a program linked with shared_lib needs: the ASan
    runtime must come first, so a `make asan` library wants them too."""
    r = subprocess.run(["nm", "-D", "--undefined-only", shared_lib], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, timeout=60)
    return ["-fsanitize=address,undefined"] if "__asan_init" in r.stdout else []
