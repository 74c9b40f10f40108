"""test_install.py — `make install` lays out what a user and a packager expect:
the CLI, libsockit.a, libsockit.so.VERSION with the soname link and the
development link, every public header, and a sockit.pc whose prefix is PREFIX,
with DESTDIR only staging the files."""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import REPO, check, check_eq, main, tmpdir  # noqa: E402
from staged_install import make_install, pkg_config  # noqa: E402

HEADERS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(REPO, "include/sockit/*.h")))


def soname(path):
    r = subprocess.run(["readelf", "-d", path], stdout=subprocess.PIPE, text=True, timeout=30)
    for ln in r.stdout.splitlines():
        if "(SONAME)" in ln:
            return ln.split("[", 1)[1].rstrip("]")
    return None


def check_tree(root, prefix):
    """The files under root (= DESTDIR + PREFIX) for an install with PREFIX=prefix."""
    lib = os.path.join(root, "lib")
    check(os.access(os.path.join(root, "bin", "sockit"), os.X_OK), "bin/sockit installed")
    check(os.path.isfile(os.path.join(lib, "libsockit.a")), "lib/libsockit.a installed")
    reals = [p for p in glob.glob(os.path.join(lib, "libsockit.so.*.*.*"))
             if os.path.isfile(p) and not os.path.islink(p)]
    if not check_eq(len(reals), 1, "real libsockit.so.X.Y.Z files in lib"):
        return
    real = reals[0]
    name = soname(real)
    check_eq(name, "libsockit.so.0", "SONAME of %s" % os.path.basename(real))
    so0 = os.path.join(lib, "libsockit.so.0")
    dev = os.path.join(lib, "libsockit.so")
    for link in (so0, dev):
        check(os.path.islink(link), "%s is a symlink" % os.path.basename(link))
        check(not os.path.isabs(os.readlink(link)) if os.path.islink(link) else False,
              "%s is relative (survives a DESTDIR staging)" % os.path.basename(link))
        check_eq(os.path.realpath(link), os.path.realpath(real),
                 "%s resolves to the installed library" % os.path.basename(link))
    check_eq(os.readlink(dev) if os.path.islink(dev) else None, "libsockit.so.0",
             "the development link points at the soname")
    got = sorted(os.listdir(os.path.join(root, "include", "sockit")))
    check_eq(got, HEADERS, "installed headers")
    pcdir = os.path.join(lib, "pkgconfig")
    check_eq(pkg_config(pcdir, "--variable=prefix", "sockit"), (0, prefix), "sockit.pc prefix")
    check_eq(pkg_config(pcdir, "--libs", "sockit"), (0, "-L%s/lib -lsockit" % prefix),
             "pkg-config --libs sockit")
    check_eq(pkg_config(pcdir, "--cflags", "sockit"), (0, "-I%s/include" % prefix),
             "pkg-config --cflags sockit")


def test_install_into_prefix():
    prefix = os.path.join(tmpdir(), "usr")
    r = make_install(prefix)
    if not check_eq(r.returncode, 0, "make install exit status; output:\n%s" % r.stdout[-3000:]):
        return
    check_tree(prefix, prefix)


def test_install_twice_replaces_in_place():
    """A second install over the first (an upgrade) succeeds and leaves the same links."""
    prefix = os.path.join(tmpdir(), "usr")
    for i in range(2):
        r = make_install(prefix)
        check_eq(r.returncode, 0, "make install #%d; output:\n%s" % (i + 1, r.stdout[-3000:]))
    check_tree(prefix, prefix)


def test_destdir_stages_under_prefix():
    dest = tmpdir()
    r = make_install("/opt/sockit", destdir=dest)
    if not check_eq(r.returncode, 0, "make install exit status; output:\n%s" % r.stdout[-3000:]):
        return
    check_eq(sorted(os.listdir(dest)), ["opt"], "DESTDIR holds only the PREFIX tree")
    check_tree(os.path.join(dest, "opt", "sockit"), "/opt/sockit")


if __name__ == "__main__":
    main()
