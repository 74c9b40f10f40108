"""test_exports.py — libsockit.so exports exactly the public API: every sk_
function declared in include/sockit/*.h, and nothing else (no sk__ internals,
no helpers). The list is read from the headers, so new functions need no edit
here; a declaration without SK_EXTERN is reported by name."""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import REPO, check, check_eq, main  # noqa: E402

BUILD = os.path.join(REPO, os.environ.get("SOCKIT_BUILD") or "build")
SHARED = os.path.join(BUILD, "libsockit.so")
HEADERS = sorted(glob.glob(os.path.join(REPO, "include", "sockit", "*.h")))

COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
# A top-level declaration: from the end of the previous one (or a brace, or a
# preprocessor line) up to the name followed by "(". Function-pointer typedefs
# and struct members have "(*name)" and do not match.
DECL_RE = re.compile(r"(?:^|[;{}])\s*((?:SK_EXTERN\s+)?[^;{}()#]*?\b(sk_[a-z0-9_]+)\s*\()", re.M)


def declared():
    """{name: (header, has SK_EXTERN)} for every function the headers declare."""
    out = {}
    for path in HEADERS:
        with open(path) as f:
            text = COMMENT_RE.sub(" ", f.read())
        text = "\n".join("" if ln.lstrip().startswith("#") else ln for ln in text.split("\n"))
        for m in DECL_RE.finditer(text):
            head, name = m.group(1), m.group(2)
            if head.lstrip().startswith("typedef"):
                continue
            out[name] = (os.path.basename(path), head.lstrip().startswith("SK_EXTERN"))
    return out


def exported():
    """Names of the symbols libsockit.so defines in its dynamic table."""
    r = subprocess.run(["nm", "-D", "--defined-only", SHARED], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if not check_eq(r.returncode, 0, "nm -D exit status (stderr %r)" % r.stderr):
        return set()
    return {ln.split()[-1] for ln in r.stdout.decode().splitlines() if ln.strip()}


def test_headers_declare_the_api():
    decl = declared()
    # A sanity floor so a broken parser cannot pass by finding nothing.
    check(len(decl) >= 50, "only %d sk_ functions found in %d headers" % (len(decl), len(HEADERS)))
    for name in ("sk_loop_new", "sk_conn_send", "sk_listen", "sk_strerror", "sk_version"):
        check(name in decl, "%s not found among the declared functions" % name)
    check(not [n for n in decl if n.startswith("sk__")],
          "public headers declare internal names: %s" % [n for n in decl if n.startswith("sk__")])
    bare = sorted("%s (%s)" % (n, h) for n, (h, ext) in decl.items() if not ext)
    check(not bare, "declared without SK_EXTERN: %s" % ", ".join(bare))


def test_shared_library_exports_exactly_the_declared_functions():
    if not check(os.path.exists(SHARED), "%s missing (run make)" % SHARED):
        return
    decl = set(declared())
    syms = exported()
    print("    %d functions declared in include/sockit, %d symbols exported"
          % (len(decl), len(syms)), flush=True)
    internal = sorted(s for s in syms if s.startswith("sk__"))
    check(not internal, "%d internal sk__ symbols exported: %s" % (len(internal), internal))
    missing = sorted(decl - syms)
    check(not missing, "declared but not exported: %s" % missing)
    extra = sorted(syms - decl - set(internal))
    check(not extra, "exported but not declared in include/sockit: %s" % extra)


if __name__ == "__main__":
    main()
