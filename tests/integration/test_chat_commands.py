"""test_chat_commands.py — chat commands behave like commands: /nick without
a name and unknown commands (/foo, /WHO) get a one-line usage reply and are
not broadcast, "//" sends a line that starts with "/", a nick already taken
is refused, /who says how many names it left out, and a member that
half-closes gets the replies to its last lines before it is dropped."""
import re
import socket

from harness import LineSock, Server, check, check_eq, free_port, main, t

USAGE = "* commands: /nick NAME, /who (start a line with // to send one that begins with /)"
NICK_USAGE = "* usage: /nick NAME (1-48 visible characters, no spaces)"


class Member(LineSock):
    def __init__(self, port):
        super().__init__(socket.create_connection(("127.0.0.1", port), timeout=t(5)))
        self.nick = re.match(r"\* welcome (\S+) ", self.line()).group(1)

    def send(self, text):
        self.s.sendall(text.encode() + b"\n")

    def quiet(self, secs=0.3):
        """True if nothing arrives within secs."""
        return self.line(timeout=secs / max(t(1), 1)) is None


def room(port, n):
    members = []
    for i in range(n):
        m = Member(port)
        for o in members:
            check_eq(o.line(), "* %s joined" % m.nick, "join notice")
        members.append(m)
    return members


def test_usage_replies_are_not_broadcast():
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port, "--threads", "2"):
        a, b = room(port, 2)
        for cmd, want in [("/nick", NICK_USAGE), ("/nick   ", NICK_USAGE),
                          ("/nick two words", NICK_USAGE), ("/foo", USAGE), ("/WHO", USAGE),
                          ("/who is here", USAGE), ("/", USAGE)]:
            a.send(cmd)
            check_eq(a.line(), want, "reply to %r" % cmd)
        check(b.quiet(), "the other member heard none of the commands")
        a.send("//slash at the start")
        check_eq(b.line(), "%s: /slash at the start" % a.nick, "// sends a line with one /")
        a.send("/who ")
        check(re.fullmatch(r"\* 2 here:( \S+){2}", a.line() or ""), "/who with a trailing space")


def test_nick_taken():
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port, "--threads", "2"):
        a, b = room(port, 2)
        a.send("/nick alice")
        for m in (a, b):
            check_eq(m.line(), "* %s is now alice" % a.nick, "rename")
        b.send("/nick alice")
        check_eq(b.line(), "* alice is taken", "a nick already taken")
        b.send("/nick Alice")
        check_eq(b.line(), "* Alice is taken", "taken whatever the case")
        b.send("/nick %s" % b.nick)  # its own name: fine
        check_eq(b.line(), "* %s is now %s" % (b.nick, b.nick), "own nick again")
        a.line()
        check(a.quiet(), "refused renames are not announced")
        a.send("/nick Alice")  # only the case changes: one's own name
        check_eq(a.line(), "* alice is now Alice", "case change of one's own nick")


def test_default_nick_never_taken():
    """A member that took a future member's default name (its address) does
    not make two members share it: the newcomer gets another one."""
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port):
        a = Member(port)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))  # the newcomer's address, known in advance
        future = "127.0.0.1:%d" % s.getsockname()[1]
        a.send("/nick %s" % future)
        check_eq(a.line(), "* %s is now %s" % (a.nick, future), "took the future default")
        s.connect(("127.0.0.1", port))
        b = LineSock(s)
        w = re.match(r"\* welcome (\S+) ", b.line() or "")
        check(w and w.group(1) != future and w.group(1).startswith("127.0.0.1:"),
              "the newcomer's nick differs: %r" % (w and w.group(1)))


def test_who_says_how_many_it_left_out():
    port = free_port()
    n = 40
    with Server("chat", "tcp://127.0.0.1:%d" % port, "--threads", "2"):
        members = []
        for i in range(n):
            m = Member(port)
            m.send("/nick %s%02d" % ("n" * 40, i))
            members.append(m)
        asker = members[0]
        # drain everything the asker heard so far (the renames come from every
        # thread in any order), then ask
        asker.send("/nick asker")
        renames = 0
        while renames < n + 1:  # every member's first rename, then its own
            line = asker.line()
            if line is None:
                break
            renames += " is now " in line
        asker.send("/who")
        who = asker.line()
        m = re.fullmatch(r"\* (\d+) here:((?: \S+)+) \(and (\d+) more\)", who or "")
        if check(m, "/who reply with a count of the rest: %r" % who):
            check_eq(int(m.group(1)), n, "members counted")
            listed = m.group(2).split()
            check_eq(len(listed) + int(m.group(3)), n, "listed + left out = members")
            check(len(who) <= 1024, "one line of at most 1024 bytes (%d)" % len(who))
        for x in members:
            x.s.close()


def test_half_closed_member_gets_its_replies():
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port, "--threads", "4"):
        other = room(port, 1)[0]
        for i in range(20):  # on whichever thread each lands
            m = Member(port)
            check_eq(other.line(), "* %s joined" % m.nick, "join")
            m.s.sendall(b"/who\nbye\n")
            m.s.shutdown(socket.SHUT_WR)
            who = m.line()
            check(re.fullmatch(r"\* 2 here:( \S+){2}", who or ""),
                  "round %d: /who answered after a half-close: %r" % (i, who))
            check_eq(m.line(), None, "then EOF")
            check_eq(other.line(), "%s: bye" % m.nick, "its last line reached the room")
            check_eq(other.line(), "* %s left" % m.nick, "and it left")
            m.s.close()


if __name__ == "__main__":
    main()
