/* bench_html.c — `sockit bench --html FILE`: the report as one
 * self-contained page (no network fetch: the data and the drawing code are
 * inline, the plots inline SVG drawn by the page's own script): the setup
 * and summary as the terminal shows them, latency by percentile on a
 * logarithmic percentile axis (as HdrHistogram's plotter draws it),
 * replies/s, p99 and errors per second, and the errors by kind. */
#include "cli/bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* s as HTML text. */
static void html_text(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
}

/* s as a JavaScript string literal that is safe inside <script>. */
static void js_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '"' || c == '\\' || c == '\'')
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* [[percentile, µs], ...]: after each non-zero bucket, the share of values
 * at or below it and its upper bound (the exact max for the last one). */
static void js_percentiles(FILE *f, const histogram *h)
{
    fputc('[', f);
    if (h->total)
        fprintf(f, "[0, %.3f]", (double)h->min / 1e3);
    uint64_t seen = 0;
    for (size_t i = 0; h->total && i < HIST_BUCKETS; i++) {
        if (!h->counts[i])
            continue;
        seen += h->counts[i];
        uint64_t top = hist_bucket_low(i) + hist_bucket_width(i) - 1;
        top = top > h->max || seen == h->total ? h->max : top < h->min ? h->min : top;
        fprintf(f, ", [%.10g, %.3f]", 100.0 * (double)seen / (double)h->total, (double)top / 1e3);
    }
    fputc(']', f);
}

/* [[second, replies, p99 µs or null, errors], ...] */
static void js_timeline(FILE *f, const bench_timeline *tl)
{
    histogram *h = malloc(sizeof *h);
    fputc('[', f);
    for (size_t i = 0; h && i < tl->nsecs; i++) {
        bench_tl_hist(tl, i, h);
        fprintf(f, "%s[%zu, %llu, ", i ? ", " : "", i, (unsigned long long)tl->secs[i].received);
        if (h->total)
            fprintf(f, "%.3f", (double)hist_percentile(h, 99) / 1e3);
        else
            fputs("null", f);
        fprintf(f, ", %llu]", (unsigned long long)tl->secs[i].errors);
    }
    fputc(']', f);
    free(h);
}

static void js_errors(FILE *f, const bench_cfg *cfg, const bench_stats *st)
{
    fputc('{', f);
    for (int k = 0; k < BE_COUNT; k++)
        fprintf(f, "%s\"%s\": %llu", k ? ", " : "", bench_err_key(k),
                (unsigned long long)(k != BE_LOST || cfg->verify ? st->errors[k] : 0));
    fputc('}', f);
}

/* The plotting code: plot(id, points, options) draws one SVG chart. */
static const char script[] =
    "function niceTicks(lo, hi, n) {\n"
    "  const span = hi - lo || 1, step0 = span / n, mag = Math.pow(10, Math.floor(Math.log10(step0)));\n"
    "  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= step0);\n"
    "  const out = [];\n"
    "  const top = Math.ceil(hi / step - 1e-9) * step; /* the last tick covers hi */\n"
    "  for (let v = Math.ceil(lo / step) * step; v <= top + step * 1e-9; v += step) out.push(+v.toPrecision(12));\n"
    "  return out;\n"
    "}\n"
    "function fmtUs(us) {\n"
    "  if (us >= 1e6) return +(us / 1e6).toPrecision(3) + ' s';\n"
    "  if (us >= 1e3) return +(us / 1e3).toPrecision(3) + ' ms';\n"
    "  return +us.toPrecision(3) + ' \\u00b5s';\n"
    "}\n"
    "function plot(id, pts, o) {\n"
    "  const svg = document.getElementById(id), NS = 'http://www.w3.org/2000/svg';\n"
    "  const W = 860, H = 300, L = 80, R = 40, T = 20, B = 45;\n"
    "  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);\n"
    "  const el = (n, a, text) => { const e = document.createElementNS(NS, n);\n"
    "    for (const k in a) e.setAttribute(k, a[k]); if (text !== undefined) e.textContent = text;\n"
    "    svg.appendChild(e); return e; };\n"
    "  pts = pts.filter(p => p[1] !== null && isFinite(p[0]) && isFinite(p[1]));\n"
    "  svg.dataset.points = pts.length;\n"
    "  if (!pts.length) { el('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle'}, 'no data'); return; }\n"
    "  const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);\n"
    "  const x0 = o.xmin !== undefined ? o.xmin : Math.min(...xs), x1 = Math.max(o.xmax || 0, ...xs, x0 + 1);\n"
    "  const yt = niceTicks(0, Math.max(...ys) || 1, 5), y1 = yt[yt.length - 1] || 1;\n"
    "  const X = x => L + (x - x0) / (x1 - x0) * (W - L - R), Y = y => H - B - y / y1 * (H - T - B);\n"
    "  el('line', {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#444'});\n"
    "  el('line', {x1: L, y1: T, x2: L, y2: H - B, stroke: '#444'});\n"
    "  for (const v of yt) {\n"
    "    el('line', {x1: L, y1: Y(v), x2: W - R, y2: Y(v), stroke: '#ddd'});\n"
    "    el('text', {x: L - 6, y: Y(v) + 4, 'text-anchor': 'end'}, o.yfmt(v));\n"
    "  }\n"
    "  const xt = o.xticks || niceTicks(x0, x1, 8).filter(v => v <= x1 && (!o.xint || v === Math.round(v))).map(v => [v, String(v)]);\n"
    "  for (const [v, label] of xt) {\n"
    "    el('line', {x1: X(v), y1: T, x2: X(v), y2: H - B, stroke: '#eee'});\n"
    "    el('text', {x: X(v), y: H - B + 16, 'text-anchor': 'middle'}, label);\n"
    "  }\n"
    "  el('text', {x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle'}, o.xlabel);\n"
    "  const line = el('polyline', {fill: 'none', stroke: o.color, 'stroke-width': 2,\n"
    "    points: pts.map(p => X(p[0]).toFixed(1) + ',' + Y(p[1]).toFixed(1)).join(' ')});\n"
    "  line.setAttribute('class', 'data');\n"
    "  if (pts.length <= 120) for (const p of pts) el('circle', {cx: X(p[0]), cy: Y(p[1]), r: 2.5, fill: o.color});\n"
    "}\n"
    "const n = DATA.percentiles.length ? DATA.count : 0;\n"
    "const xmax = Math.max(1, Math.ceil(Math.log10(Math.max(n, 10))));\n"
    "const lx = p => Math.min(xmax, p >= 100 ? xmax : Math.log10(100 / (100 - p)));\n"
    "const pticks = [];\n"
    "for (let k = 0; k <= xmax; k++) pticks.push([k, (+(100 - 100 / Math.pow(10, k)).toFixed(k)) + '%']);\n"
    "plot('pct', DATA.percentiles.map(p => [lx(p[0]), p[1]]),\n"
    "     {xlabel: 'percentile', xmin: 0, xmax: xmax, xticks: pticks, yfmt: fmtUs, color: '#1f77b4'});\n"
    "plot('tput', DATA.timeline.map(s => [s[0], s[1]]),\n"
    "     {xlabel: 'second', xmin: 0, xint: 1, yfmt: v => v.toLocaleString('en'), color: '#2ca02c'});\n"
    "plot('p99', DATA.timeline.map(s => [s[0], s[2]]),\n"
    "     {xlabel: 'second', xmin: 0, xint: 1, yfmt: fmtUs, color: '#d62728'});\n"
    "plot('errs', DATA.timeline.map(s => [s[0], s[3]]),\n"
    "     {xlabel: 'second', xmin: 0, xint: 1, yfmt: v => String(v), color: '#ff7f0e'});\n"
    "const tb = document.getElementById('errors');\n"
    "for (const k in DATA.errors) {\n"
    "  const tr = tb.insertRow(); tr.insertCell().textContent = k;\n"
    "  tr.insertCell().textContent = DATA.errors[k];\n"
    "  if (DATA.errors[k]) tr.className = 'bad';\n"
    "}\n"
    "document.body.dataset.ready = '1';\n";

static const char style[] =
    "body { font: 14px system-ui, sans-serif; margin: 24px auto; max-width: 900px; color: #222; }\n"
    "pre { background: #f6f6f6; padding: 10px; overflow-x: auto; }\n"
    "svg { width: 100%; height: auto; border: 1px solid #ddd; background: #fff; }\n"
    "svg text { font-size: 11px; fill: #333; }\n"
    "table { border-collapse: collapse; } td, th { padding: 2px 12px; border-bottom: 1px solid #eee; }\n"
    "th { text-align: left; font-weight: normal; color: #666; }\n"
    "tr.bad td { color: #b00; font-weight: bold; }\n";

static void setup_row(FILE *f, const char *name, const char *value)
{
    fprintf(f, "<tr><th>%s</th><td>", name);
    html_text(f, value);
    fputs("</td></tr>\n", f);
}

/* The setup as a table: when, what, how (the summary below has the results). */
static void setup_table(FILE *f, const bench_cfg *cfg, const bench_stats *st)
{
    static const char *const schemes[] = {"tcp", "udp", "unix", "unixgram", "ws", "tls", "wss"};
    char v[160];
    time_t when = (time_t)st->tl.origin_unix;
    struct tm tm;
    fputs("<table id=\"setup\">\n", f);
    if (when > 0 && gmtime_r(&when, &tm) && strftime(v, sizeof v, "%Y-%m-%d %H:%M:%S UTC", &tm))
        setup_row(f, "started", v);
    setup_row(f, "target", cfg->target);
    snprintf(v, sizeof v, "%s, %s", schemes[cfg->url.scheme % 7],
             cfg->dgram ? "datagrams" : cfg->ws ? "WebSocket messages" : sk_frame_name(cfg->out_frame));
    setup_row(f, "transport, framing", v);
    snprintf(v, sizeof v, "%u connection%s, %u thread%s, %zu-byte messages", cfg->conns,
             cfg->conns == 1 ? "" : "s", cfg->threads, cfg->threads == 1 ? "" : "s", cfg->size);
    setup_row(f, "load", v);
    if (cfg->handshakes)
        snprintf(v, sizeof v, "a new connection and handshake per message");
    else if (cfg->rate > 0)
        snprintf(v, sizeof v, "open loop at %.0f msgs/s, depth %u", cfg->rate, cfg->depth);
    else
        snprintf(v, sizeof v, "closed loop, depth %u", cfg->depth);
    setup_row(f, "mode", v);
    setup_row(f, "verified", cfg->verify ? "every reply, byte for byte" : "no");
    fputs("</table>\n", f);
}

static void page(FILE *f, const bench_cfg *cfg, const bench_stats *st, const char *summary)
{
    fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>sockit bench ", f);
    html_text(f, cfg->target);
    fprintf(f, "</title>\n<style>\n%s</style></head>\n<body>\n<h1>sockit bench ", style);
    html_text(f, cfg->target);
    fputs("</h1>\n<h2>Setup</h2>\n", f);
    setup_table(f, cfg, st);
    fputs("<h2>Summary</h2>\n<pre id=\"summary\">", f);
    html_text(f, summary);
    fputs("</pre>\n<h2>Latency by percentile</h2>\n<svg id=\"pct\"></svg>\n"
          "<h2>Throughput: replies per second</h2>\n<svg id=\"tput\"></svg>\n"
          "<h2>p99 latency, second by second</h2>\n<svg id=\"p99\"></svg>\n"
          "<h2>Errors</h2>\n<svg id=\"errs\"></svg>\n<table id=\"errors\"></table>\n"
          "<script>\nconst DATA = {\"target\": ",
          f);
    js_string(f, cfg->target);
    fprintf(f, ",\n\"count\": %llu,\n\"percentiles\": ", (unsigned long long)st->hist.total);
    js_percentiles(f, &st->hist);
    fputs(",\n\"timeline\": ", f);
    js_timeline(f, &st->tl);
    fputs(",\n\"errors\": ", f);
    js_errors(f, cfg, st);
    fprintf(f, "};\n%s</script>\n</body></html>\n", script);
}

int bench_write_html(const char *path, const bench_cfg *cfg, const bench_stats *st)
{
    char *summary = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&summary, &len);
    if (!mem) {
        cli_error("out of memory");
        return -1;
    }
    bench_print(mem, cfg, st);
    fclose(mem);
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        free(summary);
        return -1;
    }
    page(f, cfg, st, summary ? summary : "");
    free(summary);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
