/* cmdline.c — command lines for the exec service: a small quote-aware word
 * reader shared by the argv splitter and the --shell allow-list scan. */
#include "services/cmdline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* A shell control operator that starts a new command; the & of a redirection
 * (2>&1, <&3, &>file) does not. */
static int is_operator(const char *s, const char *line)
{
    if (*s == '&')
        return !(s > line && (s[-1] == '>' || s[-1] == '<')) && s[1] != '>';
    return *s == ';' || *s == '|' || *s == '(' || *s == ')' || *s == '\n';
}

/* Copies the word at *sp into out with its quotes removed and advances *sp
 * past it. Stops at an unquoted blank, at the end, and (shell) at an
 * operator. Returns the word's length, or SK__CMD_QUOTE. out must have room
 * for the rest of the line plus a NUL. */
static int read_word(const char **sp, const char *line, char *out, int shell)
{
    const char *s = *sp;
    int n = 0;
    char quote = 0;
    for (; *s; s++) {
        if (quote == '\'') {
            if (*s == '\'')
                quote = 0;
            else
                out[n++] = *s;
        } else if (quote == '"') {
            if (*s == '"')
                quote = 0;
            else if (*s == '\\' && s[1] && strchr("\"\\$`", s[1]))
                out[n++] = *++s;
            else
                out[n++] = *s;
        } else if (is_blank(*s) || (shell && is_operator(s, line))) {
            break;
        } else if (*s == '\'' || *s == '"') {
            quote = *s;
        } else {
            out[n++] = (*s == '\\' && s[1]) ? *++s : *s;
        }
    }
    out[n] = '\0';
    *sp = s;
    return quote ? SK__CMD_QUOTE : n;
}

char **sk__cmd_split(const char *cmd, int *err)
{
    /* Words are at least one byte and blank-separated: at most len/2 + 1 of
     * them, and their bytes plus NULs fit in len + 1. */
    size_t len = strlen(cmd), max = len / 2 + 2;
    char **argv = malloc(max * sizeof *argv + len + 1);
    if (!argv) {
        *err = SK__CMD_NOMEM;
        return NULL;
    }
    char *out = (char *)(argv + max);
    size_t n = 0;
    for (const char *s = cmd;;) {
        while (is_blank(*s))
            s++;
        if (!*s)
            break;
        int w = read_word(&s, cmd, out, 0);
        if (w < 0) {
            free(argv);
            *err = w;
            return NULL;
        }
        argv[n++] = out;
        out += w + 1;
    }
    argv[n] = NULL;
    return argv;
}

int sk__cmd_shell_words(const char *cmd, int (*each)(const char *word, void *ud), void *ud)
{
    if (strchr(cmd, '`') || strstr(cmd, "$(") || strstr(cmd, "<(") || strstr(cmd, ">("))
        return SK__CMD_SUBST;
    char *word = malloc(strlen(cmd) + 1);
    if (!word)
        return SK__CMD_NOMEM;
    int first = 1, r = 0;
    for (const char *s = cmd; *s && r == 0;) {
        if (is_operator(s, cmd)) {
            first = 1;
            s++;
        } else if (is_blank(*s)) {
            s++;
        } else {
            int w = read_word(&s, cmd, word, 1);
            r = w < 0 ? w : first ? each(word, ud) : 0;
            first = 0;
        }
    }
    free(word);
    return r;
}

/* ">&N" or ">&-" ending a word at s (pointing at '>'): a duplication or a
 * close of a descriptor (2>&1), which opens no file. */
static int dup_only(const char *s)
{
    if (s[1] != '&')
        return 0;
    const char *e = s + 2;
    if (*e == '-')
        e++;
    else
        while (*e >= '0' && *e <= '9')
            e++;
    return e > s + 2 && (!*e || is_blank(*e) || strchr(";&|()", *e));
}

int sk__cmd_redirects(const char *cmd)
{
    char quote = 0;
    for (const char *s = cmd; *s; s++) {
        if (quote) {
            if (*s == quote)
                quote = 0;
            else if (quote == '"' && *s == '\\' && s[1])
                s++;
        } else if (*s == '\'' || *s == '"') {
            quote = *s;
        } else if (*s == '\\' && s[1]) {
            s++; /* \> is a literal '>' */
        } else if (*s == '>' && !dup_only(s)) {
            return 1;
        }
    }
    return 0;
}

/* ---- vetting ---- */

/* Writes the reason of a refusal; returns the exit status to report. */
static int refused(int status, char *why, size_t whylen, const char *text)
{
    snprintf(why, whylen, "%s", text);
    return status;
}

static int allowed(const char *const *allow, const char *prog)
{
    for (; allow && *allow; allow++)
        if (strcmp(*allow, prog) == 0)
            return 1;
    return !allow;
}

static int not_allowed(const char *const *allow, const char *prog, char *why, size_t whylen)
{
    char list[300];
    size_t n = 0;
    list[0] = '\0';
    for (; *allow && n < sizeof list; allow++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", *allow);
    snprintf(why, whylen, "'%.100s' is not allowed (allowed: %s)", prog, list);
    return 126;
}

typedef struct word_check {
    const char *const *allow;
    char bad[128];
} word_check;

static int check_word(const char *word, void *ud)
{
    word_check *w = ud;
    if (allowed(w->allow, word))
        return 0;
    snprintf(w->bad, sizeof w->bad, "%s", word);
    return 1;
}

static int shell_argv(char *cmd, int flags, const char *const *allow, char ***out, char *why,
                      size_t whylen)
{
    word_check w = {.allow = allow};
    int r = allow ? sk__cmd_shell_words(cmd, check_word, &w) : 0;
    if (r == 1)
        return not_allowed(allow, w.bad, why, whylen);
    if (r == 0 && allow && !(flags & SK__CMD_REDIRECT) && sk__cmd_redirects(cmd))
        return refused(126, why, whylen,
                       "output redirection ('>') is not allowed with --allow (see --allow-redirect)");
    if (r == SK__CMD_SUBST)
        return refused(126, why, whylen, "command substitution is not allowed with --allow");
    if (r == SK__CMD_QUOTE)
        return refused(2, why, whylen, "unterminated quote");
    char **argv = r == 0 ? malloc(4 * sizeof *argv) : NULL;
    if (!argv)
        return refused(126, why, whylen, "out of memory");
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = cmd;
    argv[3] = NULL;
    *out = argv;
    return 0;
}

static int split_argv(const char *cmd, const char *const *allow, char ***out, char *why,
                      size_t whylen)
{
    int err = 0;
    char **argv = sk__cmd_split(cmd, &err);
    if (!argv && err == SK__CMD_QUOTE)
        return refused(2, why, whylen, "unterminated quote");
    if (!argv)
        return refused(126, why, whylen, "out of memory");
    if (!allowed(allow, argv[0])) {
        not_allowed(allow, argv[0], why, whylen);
        free(argv);
        return 126;
    }
    *out = argv;
    return 0;
}

int sk__cmd_argv(char *cmd, size_t len, int flags, const char *const *allow, char ***argv,
                 char *why, size_t whylen)
{
    *argv = NULL;
    if (strlen(cmd) != len)
        return refused(2, why, whylen, "command contains a NUL byte");
    if (!cmd[strspn(cmd, " \t\r\n\v\f")])
        return refused(127, why, whylen, "empty command");
    return (flags & SK__CMD_SHELL) ? shell_argv(cmd, flags, allow, argv, why, whylen)
                                   : split_argv(cmd, allow, argv, why, whylen);
}
