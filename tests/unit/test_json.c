/* test_json.c — unit tests for the JSON reader bench merge uses: values,
 * lookups, string escapes, and the input it must refuse (every truncation
 * of a valid document, every split of it into two halves joined by junk,
 * nesting beyond JSON_MAX_DEPTH) without crashing or leaking. */
#include "cli/json.c" /* the CLI's reader is not part of libsockit */

#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char doc_text[] =
    "{\"target\": \"tcp://a:1\\u0021 \\\"q\\\" \\\\\", \"size\": 64, \"rate\": -1.5e3,\n"
    " \"ok\": true, \"no\": false, \"nil\": null, \"empty\": {}, \"none\": [],\n"
    " \"buckets\": [[7328, 81], [7360, 149]], \"nested\": {\"a\": {\"b\": [1, 2, 3]}}}";

static int parses(const char *text, size_t len)
{
    json_doc d;
    char err[128];
    int r = json_parse(text, len, &d, err, sizeof err);
    json_free(&d);
    return r == 0;
}

static void test_values(void)
{
    json_doc d;
    char err[128];
    CHECK_EQ_INT(json_parse(doc_text, strlen(doc_text), &d, err, sizeof err), 0);
    const json_node *r = &d.nodes[0];
    CHECK_EQ_INT(r->type, JSON_OBJ);
    char *s = json_strdup(&d, json_get(&d, r, "target"));
    CHECK(s && strcmp(s, "tcp://a:1! \"q\" \\") == 0);
    free(s);
    CHECK(json_num(json_get(&d, r, "size"), 0) == 64);
    CHECK(json_num(json_get(&d, r, "rate"), 0) == -1500);
    CHECK(json_num(json_get(&d, r, "missing"), 7) == 7);
    CHECK(json_num(json_get(&d, r, "target"), 7) == 7); /* a string is not a number */
    CHECK_EQ_INT(json_get(&d, r, "ok")->type, JSON_TRUE);
    CHECK_EQ_INT(json_get(&d, r, "no")->type, JSON_FALSE);
    CHECK_EQ_INT(json_get(&d, r, "nil")->type, JSON_NULL);
    CHECK(json_first(&d, json_get(&d, r, "empty")) == NULL);
    CHECK(json_first(&d, json_get(&d, r, "none")) == NULL);
    const json_node *b = json_first(&d, json_get(&d, r, "buckets"));
    CHECK(b && json_num(json_first(&d, b), 0) == 7328);
    b = json_next(&d, b);
    CHECK(b && json_num(json_next(&d, json_first(&d, b)), 0) == 149);
    CHECK(json_next(&d, b) == NULL);
    const json_node *arr = json_get(&d, json_get(&d, json_get(&d, r, "nested"), "a"), "b");
    int n = 0;
    for (const json_node *v = json_first(&d, arr); v; v = json_next(&d, v))
        n += (int)json_num(v, 0);
    CHECK_EQ_INT(n, 6);
    CHECK(json_get(&d, arr, "x") == NULL); /* not an object */
    json_free(&d);
}

/* Every proper prefix is incomplete, so refused; the whole parses. */
static void test_every_truncation_is_refused(void)
{
    size_t len = strlen(doc_text);
    int accepted = 0;
    for (size_t i = 0; i < len; i++)
        accepted += parses(doc_text, i);
    CHECK_EQ_INT(accepted, 0);
    CHECK(parses(doc_text, len));
}

/* The document cut in two at every byte and the halves joined again (as a
 * reader fed in pieces would see it) parses the same; with a stray byte
 * between the halves it is refused unless the byte lands in a string or
 * is white space. */
static void test_splits(void)
{
    size_t len = strlen(doc_text);
    char *buf = malloc(len + 2);
    int same = 0, refused = 0, cuts = 0;
    for (size_t cut = 1; cut < len; cut++) {
        memcpy(buf, doc_text, cut);
        memcpy(buf + cut, doc_text + cut, len - cut);
        same += parses(buf, len);
        memcpy(buf + cut + 1, doc_text + cut, len - cut);
        buf[cut] = '}';
        refused += !parses(buf, len + 1);
        cuts++;
    }
    CHECK_EQ_INT(same, cuts);
    CHECK(refused > cuts / 2); /* a '}' inside a string is still valid */
    free(buf);
}

static void test_refused(void)
{
    const char *bad[] = {"", " ", "{", "}", "[1,]", "{\"a\" 1}", "{\"a\":}", "{a:1}", "tru",
                         "\"abc", "\"\\x\"", "\"\\u12g4\"", "\"a\nb\"", "1 2", "-", "[1e]",
                         "{\"a\":1,}", "nul", "[\"\\u12\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ok = parses(bad[i], strlen(bad[i]));
        if (ok)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(!ok);
    }
    CHECK(!parses("1\0", 2)); /* a NUL byte is not white space */
    CHECK(parses(" [ ] ", 5));
    CHECK(parses("0", 1));
}

static void test_depth_limit(void)
{
    char deep[2 * (JSON_MAX_DEPTH + 2) + 1];
    for (int depth = JSON_MAX_DEPTH; depth <= JSON_MAX_DEPTH + 1; depth++) {
        int n = depth + 1; /* the root is depth 0 */
        memset(deep, '[', (size_t)n);
        memset(deep + n, ']', (size_t)n);
        CHECK_EQ_INT(parses(deep, (size_t)(2 * n)), depth == JSON_MAX_DEPTH);
    }
}

/* Random bytes and random mutations of the document never crash. */
static void test_random_mutations(void)
{
    size_t len = strlen(doc_text);
    char *buf = malloc(len);
    uint64_t x = 88172645463325252ull;
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(buf, doc_text, len);
        for (int k = 0; k < 3; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[x % len] = (char)(x >> 32);
        }
        accepted += parses(buf, (size_t)(x >> 40) % (len + 1));
    }
    CHECK(accepted < 20000);
    free(buf);
}

int main(void)
{
    test_values();
    test_every_truncation_is_refused();
    test_splits();
    test_refused();
    test_depth_limit();
    test_random_mutations();
    return check_done("test_json");
}
