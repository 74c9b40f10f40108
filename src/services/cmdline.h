/* cmdline.h — command lines for the exec service: split into argv with simple
 * quoting, or handed to `sh -c`, and vetted against an allow-list. */
#ifndef SOCKIT_CMDLINE_H
#define SOCKIT_CMDLINE_H

#include <stddef.h>

enum {
    SK__CMD_QUOTE = -1, /* unterminated ' or " */
    SK__CMD_SUBST = -2, /* command substitution: ` $( <( >( */
    SK__CMD_NOMEM = -3,
};

/* Splits cmd into words, the way a shell would for a simple command without
 * expansions: blanks separate words; '...' is literal; "..." is literal
 * except \" \\ \$ \`; outside quotes a backslash escapes the next byte;
 * adjacent parts join ("a"'b'c is one word). Returns a NULL-terminated argv
 * in one block that the caller frees with free() (argv[0] is NULL for an
 * all-blank line), or NULL with *err set to SK__CMD_QUOTE or SK__CMD_NOMEM. */
char **sk__cmd_split(const char *cmd, int *err);

/* For an allow-list under --shell: calls each(word, ud) with the first word
 * (quotes removed) of every command in the line, i.e. after the start and
 * after every unquoted ; & | ( ) or newline (the & of redirections such as
 * 2>&1 or &> does not count). Anything unusual in that position (a keyword,
 * an assignment, a redirection, $var) is passed as it is, so a strict
 * allow-list refuses it. Returns the first nonzero result of each, 0 if all
 * passed, or SK__CMD_SUBST (checked first: a substituted command cannot be
 * vetted), SK__CMD_QUOTE, SK__CMD_NOMEM. */
int sk__cmd_shell_words(const char *cmd, int (*each)(const char *word, void *ud), void *ud);

/* Returns 1 when the shell could open a file for writing for cmd: an
 * unquoted, unescaped '>' anywhere (>, >>, 2>, &>, >|, <>, >&FILE), else 0;
 * only ">&N" and ">&-" (2>&1: duplicate or close a descriptor) are not.
 * Conservative: a '>' in a comment counts too. */
int sk__cmd_redirects(const char *cmd);

/* sk__cmd_argv's flags. */
enum {
    SK__CMD_SHELL = 1,    /* run with /bin/sh -c */
    SK__CMD_REDIRECT = 2, /* shell + allow-list: output redirections are permitted */
};

/* Turns one received command (len bytes) into the argv to run: the words of
 * cmd, or /bin/sh -c cmd when flags has SK__CMD_SHELL (argv[2] then points
 * to cmd).
 * With an allow-list (NULL: anything goes) the program must be named in it
 * exactly: "ls" allows the ls found in PATH, "/bin/ls" that path, and
 * "/tmp/x/ls" is neither; under shell every command of the line is checked
 * (see sk__cmd_shell_words), and a line that redirects output into a file
 * (sk__cmd_redirects) is refused unless flags has SK__CMD_REDIRECT. Returns 0 and sets *argv (one block: free()),
 * or the exit status to report instead (2: bad syntax or a NUL byte, 126:
 * refused or out of memory, 127: empty) with a one-line reason in why. */
int sk__cmd_argv(char *cmd, size_t len, int flags, const char *const *allow, char ***argv,
                 char *why, size_t whylen);

#endif
