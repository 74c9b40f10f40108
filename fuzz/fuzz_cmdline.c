/* fuzz_cmdline.c — libFuzzer target for exec's command lines (bytes from the
 * network): the argv splitter, the --shell allow-list scan and the output
 * redirection check never crash or over-read, and agree with each other: a
 * line the vetting lets through under --shell --allow has no '>' outside
 * quotes except descriptor duplication, and an allowed first word. */
#include "services/cmdline.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(cond) \
    do {              \
        if (!(cond))  \
            abort();  \
    } while (0)

static int count_words(const char *word, void *ud)
{
    REQUIRE(word != NULL);
    ++*(int *)ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int flags = data[0] & 3;
    char *cmd = malloc(size); /* exactly the line and its NUL: ASan sees any over-read */
    REQUIRE(cmd != NULL);
    memcpy(cmd, data + 1, size - 1);
    cmd[size - 1] = '\0';
    size_t len = strlen(cmd);

    int err = 0;
    char **argv = sk__cmd_split(cmd, &err);
    REQUIRE(argv || err == SK__CMD_QUOTE || err == SK__CMD_NOMEM);
    free(argv);
    int words = 0;
    int r = sk__cmd_shell_words(cmd, count_words, &words);
    REQUIRE(r == 0 || r == SK__CMD_SUBST || r == SK__CMD_QUOTE || r == SK__CMD_NOMEM);
    int redir = sk__cmd_redirects(cmd);
    REQUIRE(redir == 0 || redir == 1);
    REQUIRE(!redir || memchr(cmd, '>', len) != NULL); /* never without a '>' */

    static const char *const allow[] = {"ls", "echo", NULL};
    char why[256], **out = NULL;
    int code = sk__cmd_argv(cmd, size - 1, flags, allow, &out, why, sizeof why);
    REQUIRE(code == 0 || code == 2 || code == 126 || code == 127);
    REQUIRE((code == 0) == (out != NULL));
    if (code == 0 && (flags & SK__CMD_SHELL) && !(flags & SK__CMD_REDIRECT))
        REQUIRE(!redir); /* what the README promises */
    if (code == 0 && !(flags & SK__CMD_SHELL))
        REQUIRE(strcmp(out[0], "ls") == 0 || strcmp(out[0], "echo") == 0);
    free(out);
    free(cmd);
    return 0;
}
