/* json.h — a small JSON reader for the files sockit writes itself (`bench
 * --json`, read back by `bench merge`): the whole text is parsed into an
 * array of nodes (no pointers into freed memory, no recursion limit
 * surprises: nesting is capped), then looked up by key or walked. */
#ifndef SOCKIT_CLI_JSON_H
#define SOCKIT_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32
#define JSON_MAX_BYTES ((size_t)256 << 20) /* a larger file is refused before reading it */

enum { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

/* A value. Nodes are numbered in document order; 0 is the root, and 0 as a
 * child or next index means "none" (the root is nobody's child). */
typedef struct json_node {
    uint8_t type;      /* JSON_* */
    uint32_t child;    /* array/object: the first element or member value */
    uint32_t next;     /* the next element or member of the parent */
    uint32_t key_off;  /* object member: its key (raw, between the quotes) */
    uint32_t key_len;
    uint32_t str_off;  /* string: its raw text between the quotes */
    uint32_t str_len;
    double num;        /* number */
} json_node;

typedef struct json_doc {
    const char *text; /* the parsed text (not owned; must outlive the doc) */
    json_node *nodes; /* owned */
    uint32_t n, cap;
} json_doc;

/* Parses text[0..len) (one value, white space around it). Returns 0, or -1
 * with a reason in err (and doc empty). Free doc with json_free either way. */
int json_parse(const char *text, size_t len, json_doc *doc, char *err, size_t errlen);
void json_free(json_doc *doc);

/* The member key of object node obj (raw keys compared: no escapes), or NULL. */
const json_node *json_get(const json_doc *d, const json_node *obj, const char *key);
/* The first element of an array (or member of an object), the one after it; NULL at the end. */
const json_node *json_first(const json_doc *d, const json_node *arr);
const json_node *json_next(const json_doc *d, const json_node *v);
/* The number of n, or dflt when n is NULL or not a number. */
double json_num(const json_node *n, double dflt);
/* The string n decoded (\uXXXX beyond ASCII becomes '?') into a new
 * NUL-terminated buffer (free it), or NULL when n is not a string / out of memory. */
char *json_strdup(const json_doc *d, const json_node *n);

#endif
