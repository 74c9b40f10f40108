"""ws_python.py — makes Python's `websockets` importable for a test script:
`need_websockets(__file__)` before importing it. When the running python
lacks it, re-executes the script under /usr/bin/python3 (Debian's
python3-websockets); when that lacks it too, prints FAIL and exits 1."""
import os
import sys


def need_websockets(script):
    try:
        import websockets  # noqa: F401
        return
    except ImportError:
        pass
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") \
            and os.path.exists("/usr/bin/python3") and not os.environ.get("SOCKIT_WS_REEXEC"):
        os.environ["SOCKIT_WS_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(script)] + sys.argv[1:])
    print("FAIL: python module websockets is missing (run tests/interop/install.sh)", flush=True)
    sys.exit(1)
