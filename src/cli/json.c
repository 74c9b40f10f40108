/* json.c — the JSON reader of json.h: recursive descent with the nesting
 * capped at JSON_MAX_DEPTH, nodes in one growing array. */
#include "cli/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s;
    size_t pos, len;
    json_doc *d;
    const char *why;
} parser;

static int fail(parser *p, const char *why)
{
    if (!p->why)
        p->why = why;
    return -1;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos])
        p->pos++;
}

/* A new node; its index, or 0 when out of memory (0 is the root, made first). */
static uint32_t new_node(parser *p, uint8_t type)
{
    json_doc *d = p->d;
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 64;
        json_node *n = cap > d->cap ? realloc(d->nodes, (size_t)cap * sizeof *n) : NULL;
        if (!n)
            return fail(p, "out of memory"), UINT32_MAX;
        d->nodes = n;
        d->cap = cap;
    }
    memset(&d->nodes[d->n], 0, sizeof d->nodes[0]);
    d->nodes[d->n].type = type;
    return d->n++;
}

static int literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, "unexpected character");
    p->pos += n;
    return 0;
}

/* A string's raw span (escapes checked, not decoded); p->pos at the opening quote. */
static int string_span(parser *p, uint32_t *off, uint32_t *len)
{
    size_t i = ++p->pos;
    for (; i < p->len && p->s[i] != '"'; i++) {
        unsigned char c = (unsigned char)p->s[i];
        if (c < 0x20)
            return fail(p, "control character in a string");
        if (c != '\\')
            continue;
        if (++i >= p->len || !strchr("\"\\/bfnrtu", p->s[i]) || !p->s[i])
            return fail(p, "bad escape in a string");
        if (p->s[i] == 'u') {
            if (p->len - i < 5)
                return fail(p, "bad \\u escape");
            for (int k = 1; k <= 4; k++)
                if (!strchr("0123456789abcdefABCDEF", p->s[i + k]) || !p->s[i + k])
                    return fail(p, "bad \\u escape");
            i += 4;
        }
    }
    if (i >= p->len)
        return fail(p, "unterminated string");
    *off = (uint32_t)p->pos;
    *len = (uint32_t)(i - p->pos);
    p->pos = i + 1;
    return 0;
}

static int number(parser *p, double *out)
{
    char buf[64];
    size_t n = 0;
    while (p->pos + n < p->len && n < sizeof buf - 1 && strchr("+-0123456789.eE", p->s[p->pos + n]) &&
           p->s[p->pos + n])
        n++;
    memcpy(buf, p->s + p->pos, n);
    buf[n] = 0;
    char *end;
    *out = strtod(buf, &end);
    if (n == 0 || end != buf + n || (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9')))
        return fail(p, "bad number");
    p->pos += n;
    return 0;
}

static int value(parser *p, int depth, uint32_t *out);

/* Elements of an array, or members of an object (with their keys). */
static int container(parser *p, int depth, uint32_t self, int obj)
{
    char close = obj ? '}' : ']';
    uint32_t last = 0;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close)
        return p->pos++, 0;
    for (;;) {
        uint32_t koff = 0, klen = 0, v;
        skip_ws(p);
        if (p->pos >= p->len)
            return fail(p, "unexpected end");
        if (obj) {
            if (p->s[p->pos] != '"')
                return fail(p, "expected a key");
            if (string_span(p, &koff, &klen) < 0)
                return -1;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos++] != ':')
                return fail(p, "expected ':'");
        }
        if (value(p, depth + 1, &v) < 0)
            return -1;
        p->d->nodes[v].key_off = koff;
        p->d->nodes[v].key_len = klen;
        if (last)
            p->d->nodes[last].next = v;
        else
            p->d->nodes[self].child = v;
        last = v;
        skip_ws(p);
        if (p->pos >= p->len)
            return fail(p, "unterminated array or object");
        char c = p->s[p->pos++];
        if (c == close)
            return 0;
        if (c != ',')
            return fail(p, "expected ',' or the end of an array or object");
    }
}

static int value(parser *p, int depth, uint32_t *out)
{
    if (depth > JSON_MAX_DEPTH)
        return fail(p, "nested too deep");
    skip_ws(p);
    if (p->pos >= p->len)
        return fail(p, "unexpected end");
    char c = p->s[p->pos];
    uint8_t type = c == '{' ? JSON_OBJ : c == '[' ? JSON_ARR : c == '"' ? JSON_STR
                 : c == 't' ? JSON_TRUE : c == 'f' ? JSON_FALSE : c == 'n' ? JSON_NULL : JSON_NUM;
    uint32_t self = new_node(p, type);
    if (self == UINT32_MAX)
        return -1;
    *out = self;
    json_node *n = &p->d->nodes[self];
    switch (type) {
    case JSON_OBJ:
    case JSON_ARR: return container(p, depth, self, type == JSON_OBJ);
    case JSON_STR: return string_span(p, &n->str_off, &n->str_len);
    case JSON_TRUE: return literal(p, "true");
    case JSON_FALSE: return literal(p, "false");
    case JSON_NULL: return literal(p, "null");
    default: return number(p, &n->num);
    }
}

int json_parse(const char *text, size_t len, json_doc *doc, char *err, size_t errlen)
{
    memset(doc, 0, sizeof *doc);
    doc->text = text;
    parser p = {.s = text, .len = len, .d = doc};
    uint32_t root;
    if (len > UINT32_MAX - 1)
        fail(&p, "too large");
    else if (value(&p, 0, &root) == 0) {
        skip_ws(&p);
        if (p.pos != p.len)
            fail(&p, "text after the value");
    }
    if (!p.why)
        return 0;
    snprintf(err, errlen, "%s at byte %zu", p.why, p.pos);
    json_free(doc);
    return -1;
}

void json_free(json_doc *doc)
{
    free(doc->nodes);
    doc->nodes = NULL;
    doc->n = doc->cap = 0;
}

const json_node *json_first(const json_doc *d, const json_node *arr)
{
    if (!arr || (arr->type != JSON_ARR && arr->type != JSON_OBJ) || !arr->child)
        return NULL;
    return &d->nodes[arr->child];
}

const json_node *json_next(const json_doc *d, const json_node *v)
{
    return v && v->next ? &d->nodes[v->next] : NULL;
}

const json_node *json_get(const json_doc *d, const json_node *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJ)
        return NULL;
    size_t n = strlen(key);
    for (const json_node *m = json_first(d, obj); m; m = json_next(d, m))
        if (m->key_len == n && memcmp(d->text + m->key_off, key, n) == 0)
            return m;
    return NULL;
}

double json_num(const json_node *n, double dflt) { return n && n->type == JSON_NUM ? n->num : dflt; }

char *json_strdup(const json_doc *d, const json_node *n)
{
    if (!n || n->type != JSON_STR)
        return NULL;
    const char *s = d->text + n->str_off;
    char *out = malloc((size_t)n->str_len + 1), *o = out;
    if (!out)
        return NULL;
    for (uint32_t i = 0; i < n->str_len; i++) {
        if (s[i] != '\\') {
            *o++ = s[i];
            continue;
        }
        char c = s[++i]; /* the parser checked every escape */
        if (c == 'u') {
            char hex[5] = {s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0};
            unsigned long v = strtoul(hex, NULL, 16);
            *o++ = v && v < 0x80 ? (char)v : '?';
            i += 4;
        } else {
            const char *from = "bfnrt", *to = "\b\f\n\r\t", *k = strchr(from, c);
            *o++ = k && c ? to[k - from] : c;
        }
    }
    *o = 0;
    return out;
}
