/* fuzz_json.c — libFuzzer target for the JSON reader of `sockit bench merge`:
 * any input parses or fails with a reason; a parsed document's nodes all
 * link inside the node array, and every string decodes. */
#include "cli/json.c" /* the CLI's reader is not part of libsockit */

#include <stdint.h>
#include <stdlib.h>

#define REQUIRE(cond) \
    do {              \
        if (!(cond))  \
            abort();  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_doc d;
    char err[128];
    if (json_parse((const char *)data, size, &d, err, sizeof err) < 0) {
        REQUIRE(err[0] && d.nodes == NULL);
        return 0;
    }
    REQUIRE(d.n >= 1);
    for (uint32_t i = 0; i < d.n; i++) {
        const json_node *n = &d.nodes[i];
        REQUIRE(n->child < d.n && n->next < d.n);
        REQUIRE(n->child == 0 || n->child > i); /* children come after their parent */
        REQUIRE((size_t)n->key_off + n->key_len <= size && (size_t)n->str_off + n->str_len <= size);
        char *s = json_strdup(&d, n);
        REQUIRE((s != NULL) == (n->type == JSON_STR));
        free(s);
    }
    json_free(&d);
    return 0;
}
