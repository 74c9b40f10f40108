"""test_docs.py — the man page and the bash completion say what --help says:
every option of every subcommand's --help is in that subcommand's section of
sockit(1) (and nothing else is), `man -l` renders it, bash offers exactly the
options --help lists, the services and the framing modes, and `make install`
puts both where man and bash-completion look."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import SOCKIT, check, check_eq, main, run_sockit, tmpdir  # noqa: E402
from staged_install import BUILD, make_install  # noqa: E402

OPT_RE = re.compile(r"^  (?:-(\w), |  )--([\w-]+)", re.M)


def commands():
    """The subcommands `sockit --help` lists ("  sockit NAME ...")."""
    out = run_sockit(["--help"]).stdout.decode()
    names = re.findall(r"^  sockit (\w+) ", out, re.M)
    return [n for n in names if n != "help"]


def help_options(cmd):
    """{"--name", "-c", ...} of `sockit CMD --help`."""
    r = run_sockit([cmd, "--help"])
    check_eq(r.returncode, 0, "sockit %s --help exit status" % cmd)
    opts = set()
    for short, name in OPT_RE.findall(r.stdout.decode()):
        opts.add("--" + name)
        if short:
            opts.add("-" + short)
    return opts


def man_text():
    r = run_sockit(["--man"])
    check_eq(r.returncode, 0, "sockit --man exit status")
    return r.stdout.decode()


def man_sections(text):
    """{cmd: its .SS section's text}."""
    parts = re.split(r'^\.SS "sockit (\w+)"\n', text, flags=re.M)
    out = {}
    for i in range(1, len(parts) - 1, 2):
        out[parts[i]] = re.split(r"^\.SH ", parts[i + 1], flags=re.M)[0]
    return out


def man_options(section):
    """Options of the .TP entries of a section, troff escapes undone."""
    opts = set()
    for ln in re.findall(r"^\.TP\n(.*)$", section, re.M):
        ln = ln.replace("\\-", "-")
        opts.update(re.findall(r"\\fB(--?[\w-]+)\\fR", ln))
    return opts


def test_man_page_has_every_option_of_every_help():
    cmds = commands()
    check(len(cmds) >= 4 and "serve" in cmds and "bench" in cmds, "commands found: %s" % cmds)
    sections = man_sections(man_text())
    check_eq(sorted(sections), sorted(cmds), "man page sections (one per subcommand)")
    for cmd in cmds:
        want = help_options(cmd)
        check(len(want) > 3, "%s --help lists options: %s" % (cmd, sorted(want)))
        got = man_options(sections.get(cmd, ""))
        check_eq(sorted(want - got), [], "options of 'sockit %s --help' missing from the man page" % cmd)
        check_eq(sorted(got - want), [], "man page options of %s that --help does not list" % cmd)


def test_built_man_page_is_current():
    path = os.path.join(BUILD, "sockit.1")
    check(os.path.isfile(path), "%s built by make" % path)
    if os.path.isfile(path):
        with open(path) as f:
            check(f.read() == man_text(), "%s is what sockit --man writes now" % path)


def test_man_renders():
    if not shutil.which("man"):
        print("    (man is not installed: rendering not checked)")
        return
    env = dict(os.environ, MANWIDTH="200", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    path = os.path.join(tmpdir(), "sockit.1")
    with open(path, "w") as f:
        f.write(man_text())
    r = subprocess.run(["man", "-l", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=60)
    out = r.stdout.decode(errors="replace")
    check_eq(r.returncode, 0, "man -l exit status (stderr %r)" % r.stderr[-500:])
    check_eq(r.stderr.decode(errors="replace").strip(), "", "man -l warnings")
    for words in ("SOCKIT(1)", "sockit serve SERVICE", "-c, --conns N", "--frame MODE",
                  "len32be", "EXIT STATUS"):
        check(words in out, "rendered page shows %r" % words)
    check("\\f" not in out and "\\-" not in out, "no raw troff escapes in the rendered page")


def complete(script, words, cword=None):
    """COMPREPLY of _sockit for COMP_WORDS=words in a real bash."""
    cword = len(words) - 1 if cword is None else cword
    arr = " ".join("'%s'" % w for w in words)
    prog = ('source "$1"; COMP_WORDS=(%s); COMP_CWORD=%d; _sockit; '
            'printf "%%s\\n" "${COMPREPLY[@]}"' % (arr, cword))
    r = subprocess.run(["bash", "--norc", "-c", prog, "bash", script], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    check_eq(r.stderr.decode(), "", "bash stderr completing %s" % words)
    return sorted(x for x in r.stdout.decode().split("\n") if x)


def completion_script():
    path = os.path.join(tmpdir(), "sockit.bash")
    r = run_sockit(["--completion", "bash"])
    check_eq(r.returncode, 0, "sockit --completion bash exit status")
    with open(path, "wb") as f:
        f.write(r.stdout)
    return path


def test_bash_completes_commands_services_options_and_modes():
    s = completion_script()
    check_eq(complete(s, ["sockit", "serve", "--fra"]), ["--frame", "--frame-timeout"],
             "sockit serve --fra<TAB>")
    check_eq(complete(s, ["sockit", "se"]), ["serve"], "sockit se<TAB>")
    check_eq(complete(s, ["sockit", "serve", "ch"]), ["chat"], "sockit serve ch<TAB>")
    services = re.search(r"^services: (.*)$", run_sockit(["--help"]).stdout.decode(), re.M)
    check_eq(complete(s, ["sockit", "serve", ""]), sorted(services.group(1).split()),
             "sockit serve <TAB>: the services")
    check_eq(complete(s, ["sockit", "connect", "tcp://x:1", "--frame", "len32"]),
             ["len32be", "len32le"], "--frame len32<TAB>")
    check_eq(complete(s, ["sockit", "bench", "tcp://x:1", "--io", ""]), ["epoll", "uring"],
             "--io <TAB>")
    check_eq(complete(s, ["sockit", "bench", "tcp://x:1", "-c", ""]), [],
             "-c <TAB> (a number: nothing offered)")
    check_eq(complete(s, ["sockit", "info", "--js"]), ["--json"], "info --js<TAB>")
    check_eq(complete(s, ["sockit", "help", "b"]), ["bench"], "help b<TAB>")


def test_bash_offers_every_option_of_every_help():
    s = completion_script()
    for cmd in commands():
        check_eq(complete(s, ["sockit", cmd, "-"]), sorted(help_options(cmd)),
                 "sockit %s -<TAB>" % cmd)


def test_make_install_puts_the_man_page_and_completion_in_place():
    prefix = os.path.join(tmpdir(), "usr")
    r = make_install(prefix)
    if not check_eq(r.returncode, 0, "make install; output:\n%s" % r.stdout[-3000:]):
        return
    man = os.path.join(prefix, "share", "man", "man1", "sockit.1")
    comp = os.path.join(prefix, "share", "bash-completion", "completions", "sockit")
    for path in (man, comp):
        check(os.path.isfile(path), "%s installed" % path)
    if os.path.isfile(man):
        with open(man) as f:
            check(f.read() == man_text(), "the installed man page is the current one")
    if os.path.isfile(comp):
        check_eq(complete(comp, ["sockit", "bench", "--dur"]), ["--duration"],
                 "the installed completion works")
    if shutil.which("man"):  # man finds it by name through MANPATH
        env = dict(os.environ, MANPATH=os.path.join(prefix, "share", "man"), MANPAGER="cat",
                   PAGER="cat", MANWIDTH="120")
        r = subprocess.run(["man", "sockit"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=60)
        check(r.returncode == 0 and b"--conns" in r.stdout, "`man sockit` finds the installed page")


if __name__ == "__main__":
    print("sockit binary: %s" % SOCKIT)
    main()
