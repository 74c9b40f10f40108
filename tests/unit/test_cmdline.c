/* test_cmdline.c — unit tests for the exec service's command lines: argv
 * splitting with quotes, the --shell program scan, and allow-list vetting. */
#include "services/cmdline.h"

#include "check.h"

#include <stdlib.h>
#include <string.h>

/* Splits cmd and compares with the space-free word list want ("|"-joined). */
static int split_is(const char *cmd, const char *want)
{
    int err = 0;
    char **argv = sk__cmd_split(cmd, &err);
    if (!argv)
        return 0;
    char got[512] = "";
    for (int i = 0; argv[i]; i++) {
        strcat(got, i ? "|" : "");
        strcat(got, argv[i]);
    }
    free(argv);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "split(%s) = [%s], want [%s]\n", cmd, got, want);
    return strcmp(got, want) == 0;
}

static void test_split(void)
{
    CHECK(split_is("echo hi", "echo|hi"));
    CHECK(split_is("  a \t b\r\n", "a|b"));
    CHECK(split_is("'a b' \"c d\"", "a b|c d"));
    CHECK(split_is("a'b'\"c\"d", "abcd"));
    CHECK(split_is("\"say \\\"hi\\\" \\\\ \\n\"", "say \"hi\" \\ \\n"));
    CHECK(split_is("a\\ b \\'c", "a b|'c"));
    CHECK(split_is("'$HOME' `id` $(x)", "$HOME|`id`|$(x)"));
    CHECK(split_is("echo a | tr a b", "echo|a|||tr|a|b"));
    CHECK(split_is("x ''", "x|"));
    CHECK(split_is("trailing\\", "trailing\\"));
    CHECK(split_is("", ""));
    int err = 0;
    char **argv = sk__cmd_split("   ", &err);
    CHECK(argv && argv[0] == NULL);
    free(argv);
    CHECK(sk__cmd_split("echo 'open", &err) == NULL && err == SK__CMD_QUOTE);
    CHECK(sk__cmd_split("echo \"open\\\"", &err) == NULL && err == SK__CMD_QUOTE);
}

static int collect(const char *word, void *ud)
{
    char *out = ud;
    strcat(out, *out ? "|" : "");
    strcat(out, word);
    return 0;
}

static int words_are(const char *cmd, const char *want)
{
    char got[512] = "";
    int r = sk__cmd_shell_words(cmd, collect, got);
    if (r != 0 || strcmp(got, want) != 0)
        fprintf(stderr, "shell_words(%s) = %d [%s], want [%s]\n", cmd, r, got, want);
    return r == 0 && strcmp(got, want) == 0;
}

static int stop_at_b(const char *word, void *ud) { return strcmp(word, "b") == 0 ? 7 : 0; }

static void test_shell_words(void)
{
    CHECK(words_are("echo a | tr a b", "echo|tr"));
    CHECK(words_are("a;b&c|d&&e||f\ng", "a|b|c|d|e|f|g"));
    CHECK(words_are("(id) ; { ls; }", "id|{|}"));
    CHECK(words_are("echo a 2>&1 >&2 <&0 &>/dev/null", "echo"));
    CHECK(words_are("x=1 ls; >f cat", "x=1|>f"));
    CHECK(words_are("'e'ch\"o\" 'a;b' \"c|d\"", "echo"));
    CHECK(words_are("\\rm x", "rm"));
    CHECK(words_are("", ""));
    CHECK(sk__cmd_shell_words("echo $(id)", collect, (char[64]){0}) == SK__CMD_SUBST);
    CHECK(sk__cmd_shell_words("echo `id`", collect, (char[64]){0}) == SK__CMD_SUBST);
    CHECK(sk__cmd_shell_words("diff <(a) b", collect, (char[64]){0}) == SK__CMD_SUBST);
    CHECK(sk__cmd_shell_words("echo 'x", collect, (char[64]){0}) == SK__CMD_QUOTE);
    CHECK(sk__cmd_shell_words("a; b; c", stop_at_b, NULL) == 7);
}

/* Runs sk__cmd_argv on a copy of cmd (len bytes); returns the status. */
static int vet(const char *cmd, size_t len, int shell, const char *const *allow, char *why,
               char **argv0)
{
    char buf[256];
    memcpy(buf, cmd, len);
    buf[len] = '\0';
    char **argv = NULL;
    int r = sk__cmd_argv(buf, len, shell, allow, &argv, why, 200);
    *argv0 = NULL;
    if (argv) {
        static char first[64];
        snprintf(first, sizeof first, "%s", argv[0]);
        *argv0 = first;
    }
    free(argv);
    return r;
}

static void test_vetting(void)
{
    const char *const allow[] = {"echo", "/bin/true", NULL};
    char why[200];
    char *argv0;
    CHECK_EQ_INT(vet("echo hi", 7, 0, allow, why, &argv0), 0);
    CHECK(argv0 && strcmp(argv0, "echo") == 0);
    CHECK_EQ_INT(vet("/bin/true", 9, 0, allow, why, &argv0), 0);
    CHECK_EQ_INT(vet("ls /", 4, 0, allow, why, &argv0), 126);
    CHECK(strcmp(why, "'ls' is not allowed (allowed: echo, /bin/true)") == 0);
    CHECK_EQ_INT(vet("/tmp/x/echo", 11, 0, allow, why, &argv0), 126);
    CHECK_EQ_INT(vet("true", 4, 0, allow, why, &argv0), 126);
    CHECK_EQ_INT(vet("ls", 2, 0, NULL, why, &argv0), 0);
    CHECK_EQ_INT(vet(" \t", 2, 0, NULL, why, &argv0), 127);
    CHECK(strcmp(why, "empty command") == 0);
    CHECK_EQ_INT(vet("a\0b", 3, 0, NULL, why, &argv0), 2);
    CHECK_EQ_INT(vet("echo 'x", 7, 0, NULL, why, &argv0), 2);
    CHECK_EQ_INT(vet("echo a | ls", 11, 1, NULL, why, &argv0), 0);
    CHECK(argv0 && strcmp(argv0, "/bin/sh") == 0);
    CHECK_EQ_INT(vet("echo a | echo b", 15, 1, allow, why, &argv0), 0);
    CHECK_EQ_INT(vet("echo a; ls", 10, 1, allow, why, &argv0), 126);
    CHECK(strncmp(why, "'ls' is not allowed", 19) == 0);
    CHECK_EQ_INT(vet("echo $(ls)", 10, 1, allow, why, &argv0), 126);
    CHECK_EQ_INT(vet("echo $(ls)", 10, 1, NULL, why, &argv0), 0);
}

/* Output redirections: every form that opens a file for writing is seen,
 * quoted and escaped '>' and descriptor duplication are not. */
static void test_redirects(void)
{
    const char *yes[] = {"ls > f",     "ls>f",      "ls >> f",      "ls 2> f",   "ls 2>>f",
                         "ls &> f",    "ls >| f",   "ls <> f",      "ls >&f",    "ls 1>&2x",
                         "a | b > f",  "ls >",      "ls '>'>f",     "ls \\\\>f", "echo \">\" >f",
                         "ls # > f",   "ls 2>&1 >f", "ls >&12a",    ">f ls",     "ls\t>\tf"};
    const char *no[] = {"ls",          "ls '>' f",  "ls \">\" f", "ls \\> f", "ls 2>&1",
                        "ls >&2",      "ls 1>&-",   "ls 2>&1|tr a b", "ls 2>&1;ls", "echo 'a>b'",
                        "echo \"x\\\">y\"", "ls <f",    "ls << EOF",   ""};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!sk__cmd_redirects(yes[i]))
            fprintf(stderr, "not seen: %s\n", yes[i]);
        CHECK_EQ_INT(sk__cmd_redirects(yes[i]), 1);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        if (sk__cmd_redirects(no[i]))
            fprintf(stderr, "seen: %s\n", no[i]);
        CHECK_EQ_INT(sk__cmd_redirects(no[i]), 0);
    }
    /* every prefix of every case is scanned without reading past its end */
    char buf[64];
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        for (size_t n = 0; n <= strlen(yes[i]); n++) {
            memcpy(buf, yes[i], n);
            buf[n] = 0;
            int r = sk__cmd_redirects(buf);
            CHECK(r == 0 || r == 1);
        }

    /* vetting: refused with --shell --allow, unless SK__CMD_REDIRECT */
    const char *const allow[] = {"ls", NULL};
    char why[200], *argv0;
    CHECK_EQ_INT(vet("ls > /tmp/f", 11, SK__CMD_SHELL, allow, why, &argv0), 126);
    CHECK(strstr(why, "redirection") != NULL);
    CHECK_EQ_INT(vet("ls 2>/tmp/f", 11, SK__CMD_SHELL, allow, why, &argv0), 126);
    CHECK_EQ_INT(vet("ls > /tmp/f", 11, SK__CMD_SHELL | SK__CMD_REDIRECT, allow, why, &argv0), 0);
    CHECK_EQ_INT(vet("ls > /tmp/f", 11, SK__CMD_SHELL, NULL, why, &argv0), 0); /* no allow-list */
    CHECK_EQ_INT(vet("ls > /tmp/f", 11, 0, allow, why, &argv0), 0); /* argv: '>' is a word */
    CHECK_EQ_INT(vet("ls 2>&1", 7, SK__CMD_SHELL, allow, why, &argv0), 0);
    CHECK_EQ_INT(vet("rm > f", 6, SK__CMD_SHELL, allow, why, &argv0), 126);
    CHECK(strncmp(why, "'rm' is not allowed", 19) == 0); /* the program is named first */
}

int main(void)
{
    test_split();
    test_shell_words();
    test_vetting();
    test_redirects();
    return check_done("test_cmdline");
}
