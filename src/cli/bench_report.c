/* bench_report.c — the results of `sockit bench`: merging the threads'
 * counters, the human report on stdout, the --json file and the exit status. */
#include "cli/bench.h"

#include <errno.h>
#include <string.h>

/* Names of the error kinds: for people, and as JSON keys. */
static const char *const err_human[BE_COUNT] = {
    "connect refused",     "connect timeout",   "connect reset",     "connect failed",
    "handshake failed",    "reset after connect", "closed by server",  "frame error",       "send failed",
    "verify: lost",        "verify: duplicate", "verify: reordered", "verify: corrupt",
};
static const char *const err_json[BE_COUNT] = {
    "connect_refused",  "connect_timeout", "connect_reset", "connect_other", "handshake", "reset",
    "closed_by_server", "frame",           "send",          "lost",          "dup",
    "reorder",          "corrupt",
};

const char *bench_err_key(int kind) { return err_json[kind]; }

void bench_merge(bench_stats *dst, const bench_stats *src)
{
    int first = dst->t_start_ns == 0;
    dst->conns_ok += src->conns_ok;
    dst->conns_failed += src->conns_failed;
    dst->conns_not_started += src->conns_not_started;
    dst->ramp_up += src->ramp_up;
    dst->sent += src->sent;
    dst->received += src->received;
    dst->bytes_sent += src->bytes_sent;
    dst->bytes_received += src->bytes_received;
    for (int i = 0; i < 2; i++) {
        dst->zwire[i] += src->zwire[i];
        dst->zplain[i] += src->zplain[i];
    }
    dst->wire_out += src->wire_out;
    dst->wire_in += src->wire_in;
    for (int k = 0; k < BE_COUNT; k++)
        dst->errors[k] += src->errors[k];
    if (!dst->other_errno)
        dst->other_errno = src->other_errno;
    if (!dst->hs_errno) {
        dst->hs_errno = src->hs_errno;
        memcpy(dst->hs_why, src->hs_why, sizeof dst->hs_why);
    }
    if (first || src->t_start_ns < dst->t_start_ns)
        dst->t_start_ns = src->t_start_ns;
    if (src->t_end_ns > dst->t_end_ns)
        dst->t_end_ns = src->t_end_ns;
    hist_merge(&dst->hist, &src->hist);
    dst->handshakes += src->handshakes;
    dst->resumed += src->resumed;
    hist_merge(&dst->hs_hist, &src->hs_hist);
    hist_merge(&dst->iter_hist, &src->iter_hist);
}

void bench_finish(const bench_cfg *cfg, bench_stats *st)
{
    st->errors[BE_LOST] = st->sent > st->received ? st->sent - st->received : 0;
    if (st->t_end_ns < st->t_start_ns)
        st->t_end_ns = st->t_start_ns;
}

static double seconds(const bench_stats *st)
{
    return (double)(st->t_end_ns - st->t_start_ns) / 1e9;
}

static double per_sec(double n, const bench_stats *st)
{
    double s = seconds(st);
    return s > 0 ? n / s : 0;
}

/* Lost replies are an error only with --verify (datagram loss is a measurement). */
static int is_error(const bench_cfg *cfg, int k) { return k != BE_LOST || cfg->verify; }

int bench_exit_status(const bench_cfg *cfg, const bench_stats *st)
{
    if (st->conns_failed)
        return 1;
    if (cfg->verify)
        for (int k = BE_LOST; k <= BE_CORRUPT; k++)
            if (st->errors[k])
                return 1;
    return 0;
}

const char *bench_fmt_ns(uint64_t ns, char *buf, size_t len)
{
    if (ns < 1000)
        snprintf(buf, len, "%lluns", (unsigned long long)ns);
    else if (ns < 1000000)
        snprintf(buf, len, "%.1fus", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, len, "%.2fms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.2fs", (double)ns / 1e9);
    return buf;
}

static void print_setup(FILE *f, const bench_cfg *cfg)
{
    fprintf(f, "  setup        %u connection%s, %u thread%s, %zu-byte messages, ", cfg->conns,
            cfg->conns == 1 ? "" : "s", cfg->threads, cfg->threads == 1 ? "" : "s", cfg->size);
    if (cfg->dgram)
        fputs("datagrams", f);
    else if (cfg->ws)
        fputs("ws binary messages", f);
    else if (cfg->in_frame == cfg->out_frame)
        fprintf(f, "%s framing", sk_frame_name(cfg->out_frame));
    else
        fprintf(f, "%s out / %s in", sk_frame_name(cfg->out_frame), sk_frame_name(cfg->in_frame));
    if (cfg->handshakes)
        fputs(", a new connection per message (connect, handshake, send, close)", f);
    else if (cfg->rate > 0)
        fprintf(f, ", depth %u, open loop at %.0f msgs/s", cfg->depth, cfg->rate);
    else
        fprintf(f, ", depth %u, closed loop", cfg->depth);
    fputs(cfg->verify ? ", verified\n" : "\n", f);
}

/* --compress: bytes of message bodies on the wire (codec byte included)
 * against the messages' own bytes, each way. */
static void print_compression(FILE *f, const bench_cfg *cfg, const bench_stats *st)
{
    static const char *const way[2] = {"received", "sent"};
    fprintf(f, "  compression  %s:", sk_zcodec_name(cfg->compress->codec));
    for (int i = 1; i >= 0; i--)
        fprintf(f, "%s %s %llu bytes on the wire for %llu (%.3f)", i ? "" : ";", way[i],
                (unsigned long long)st->zwire[i], (unsigned long long)st->zplain[i],
                st->zplain[i] ? (double)st->zwire[i] / (double)st->zplain[i] : 0.0);
    fputc('\n', f);
}

static void print_errors(FILE *f, const bench_cfg *cfg, const bench_stats *st)
{
    const char *lead = "  errors       ";
    int any = 0;
    for (int k = 0; k < BE_COUNT; k++) {
        if (!st->errors[k] || !is_error(cfg, k))
            continue;
        fprintf(f, "%s%s: %llu", lead, err_human[k], (unsigned long long)st->errors[k]);
        if (k == BE_CONNECT_OTHER && st->other_errno)
            fprintf(f, " (first: %s)", sk_strerror(st->other_errno));
        if (k == BE_HANDSHAKE && (st->hs_why[0] || st->hs_errno))
            fprintf(f, " (first: %s)", st->hs_why[0] ? st->hs_why : sk_strerror(st->hs_errno));
        fputc('\n', f);
        lead = "               ";
        any = 1;
    }
    if (!any)
        fprintf(f, "%snone\n", lead);
}

/* --ws-deflate: messages' bytes against the bytes on the wire. */
static void print_deflate(FILE *f, const bench_cfg *cfg, const bench_stats *st)
{
    uint64_t msg = (st->sent + st->received) * cfg->size, wire = st->wire_out + st->wire_in;
    fprintf(f, "  compression  %llu bytes on the wire for %llu of messages: ratio %.2f\n",
            (unsigned long long)wire, (unsigned long long)msg, wire ? (double)msg / (double)wire : 0.0);
}

/* "  NAME p50 .. max" for h, or NAME and none when it is empty. */
static void print_latency(FILE *f, const char *name, const histogram *h, const char *none)
{
    char a[32], b[32], c[32], d[32], e[32];
    if (!h->total) {
        fprintf(f, "  %-12s %s\n", name, none);
        return;
    }
    fprintf(f, "  %-12s p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", name,
            bench_fmt_ns(hist_percentile(h, 50), a, sizeof a),
            bench_fmt_ns(hist_percentile(h, 90), b, sizeof b),
            bench_fmt_ns(hist_percentile(h, 99), c, sizeof c),
            bench_fmt_ns(hist_percentile(h, 99.9), d, sizeof d), bench_fmt_ns(h->max, e, sizeof e));
}

/* --handshakes: how many, how fast, how long each took. */
static void print_handshakes(FILE *f, const bench_cfg *cfg, const bench_stats *st)
{
    fprintf(f, "  handshakes   %llu done, %.1f/s; %llu full, %llu resumed%s\n",
            (unsigned long long)st->handshakes, per_sec((double)st->handshakes, st),
            (unsigned long long)(st->handshakes - st->resumed), (unsigned long long)st->resumed,
            cfg->resume ? "" : " (no --resume)");
    print_latency(f, "handshake", &st->hs_hist, "no handshake done");
    print_latency(f, "iteration", &st->iter_hist, "no iteration done");
}

void bench_print(FILE *f, const bench_cfg *cfg, const bench_stats *st)
{
    const histogram *h = &st->hist;
    uint64_t lost = st->errors[BE_LOST];
    fprintf(f, "sockit bench %s\n", cfg->target);
    print_setup(f, cfg);
    fprintf(f, "  connections  %llu ok, %llu failed", (unsigned long long)st->conns_ok,
            (unsigned long long)st->conns_failed);
    if (st->conns_not_started)
        fprintf(f, ", %llu not started (the run ended first)",
                (unsigned long long)st->conns_not_started);
    if (cfg->ramp)
        fprintf(f, "\n  ramp         %llu connection%s up in %.2f s", (unsigned long long)st->ramp_up,
                st->ramp_up == 1 ? "" : "s", (double)st->ramp_ns / 1e9);
    fprintf(f, "\n  messages     %llu sent, %llu received, %llu lost (%.2f%%)\n",
            (unsigned long long)st->sent, (unsigned long long)st->received,
            (unsigned long long)lost, st->sent ? 100.0 * (double)lost / (double)st->sent : 0.0);
    fprintf(f, "  duration     %.2f s\n", seconds(st));
    fprintf(f,
            "  throughput   %.0f msgs/s; %.2f MB/s sent, %.2f MB/s received (1 MB = 10^6 bytes)\n",
            per_sec((double)st->received, st), per_sec((double)st->bytes_sent, st) / 1e6,
            per_sec((double)st->bytes_received, st) / 1e6);
    print_latency(f, "latency", h, "no replies");
    if (cfg->compress)
        print_compression(f, cfg, st);
    if (cfg->ws_opts.deflate)
        print_deflate(f, cfg, st);
    if (cfg->handshakes)
        print_handshakes(f, cfg, st);
    print_errors(f, cfg, st);
}

/* ---- JSON ---- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static double us(uint64_t ns) { return (double)ns / 1e3; }

static void json_latency(FILE *f, const histogram *h)
{
    fprintf(f,
            "{\"count\": %llu, \"min\": %.3f, \"mean\": %.3f, \"p50\": %.3f, \"p90\": %.3f, "
            "\"p99\": %.3f, \"p99_9\": %.3f, \"max\": %.3f}",
            (unsigned long long)h->total, us(h->total ? h->min : 0), hist_mean(h) / 1e3,
            us(hist_percentile(h, 50)), us(hist_percentile(h, 90)), us(hist_percentile(h, 99)),
            us(hist_percentile(h, 99.9)), us(h->max));
}

/* "handshakes": null, or what --handshakes measured. */
static void json_handshakes(FILE *f, const bench_cfg *cfg, const bench_stats *st)
{
    if (!cfg->handshakes) {
        fputs("  \"handshakes\": null,\n", f);
        return;
    }
    fprintf(f,
            "  \"handshakes\": {\"count\": %llu, \"per_sec\": %.1f, \"full\": %llu, "
            "\"resumed\": %llu, \"resume\": %s,\n    \"latency_us\": ",
            (unsigned long long)st->handshakes, per_sec((double)st->handshakes, st),
            (unsigned long long)(st->handshakes - st->resumed), (unsigned long long)st->resumed,
            cfg->resume ? "true" : "false");
    json_latency(f, &st->hs_hist);
    fputs(",\n    \"iteration_latency_us\": ", f);
    json_latency(f, &st->iter_hist);
    fputs("},\n", f);
}

/* What bench merge reads back: the histograms, the timeline, the start. */
static void json_full(FILE *f, const bench_cfg *cfg, const bench_stats *st)
{
    fputs("  \"histogram_ns\": ", f);
    bench_hist_json(f, &st->hist);
    if (cfg->handshakes) {
        fputs(",\n  \"handshake_histogram_ns\": ", f);
        bench_hist_json(f, &st->hs_hist);
        fputs(",\n  \"iteration_histogram_ns\": ", f);
        bench_hist_json(f, &st->iter_hist);
    }
    fprintf(f, ",\n  \"start_unix\": %.6f,\n  \"timeline\": ",
            st->tl.origin_unix + ((double)st->t_start_ns - (double)cfg->t0_ns) / 1e9);
    bench_tl_json(f, &st->tl);
    fputs(",\n", f);
}

static void json_body(FILE *f, const bench_cfg *cfg, const bench_stats *st)
{
    const histogram *h = &st->hist;
    static const char *const schemes[] = {"tcp", "udp", "unix", "unixgram", "ws", "tls", "wss"};
    fputs("{\n  \"target\": ", f);
    json_string(f, cfg->target);
    fprintf(f, ",\n  \"transport\": \"%s\",\n  \"frame\": \"%s\",\n", schemes[cfg->url.scheme],
            cfg->dgram ? "datagram" : cfg->ws ? "ws" : sk_frame_name(cfg->out_frame));
    fprintf(f,
            "  \"size\": %zu,\n  \"depth\": %u,\n  \"threads\": %u,\n  \"rate\": %.3f,\n"
            "  \"verify\": %s,\n",
            cfg->size, cfg->depth, cfg->threads, cfg->rate, cfg->verify ? "true" : "false");
    fprintf(f,
            "  \"connections\": {\"requested\": %u, \"ok\": %llu, \"failed\": %llu, "
            "\"not_started\": %llu},\n",
            cfg->conns, (unsigned long long)st->conns_ok, (unsigned long long)st->conns_failed,
            (unsigned long long)st->conns_not_started);
    uint64_t lost = st->errors[BE_LOST];
    fprintf(f,
            "  \"messages\": {\"sent\": %llu, \"received\": %llu, \"lost\": %llu, "
            "\"lost_pct\": %.4f},\n",
            (unsigned long long)st->sent, (unsigned long long)st->received,
            (unsigned long long)lost, st->sent ? 100.0 * (double)lost / (double)st->sent : 0.0);
    if (cfg->ramp)
        fprintf(f, "  \"ramp_s\": %.6f,\n  \"ramp_up\": %llu,\n", (double)st->ramp_ns / 1e9,
                (unsigned long long)st->ramp_up);
    else
        fputs("  \"ramp_s\": null,\n  \"ramp_up\": null,\n", f);
    fprintf(f, "  \"duration_s\": %.6f,\n  \"msgs_per_sec\": %.1f,\n", seconds(st),
            per_sec((double)st->received, st));
    fprintf(f, "  \"bytes\": {\"sent\": %llu, \"received\": %llu},\n",
            (unsigned long long)st->bytes_sent, (unsigned long long)st->bytes_received);
    fprintf(f, "  \"wire_bytes\": {\"sent\": %llu, \"received\": %llu},\n",
            (unsigned long long)st->wire_out, (unsigned long long)st->wire_in);
    fprintf(f, "  \"mb_per_sec\": {\"sent\": %.3f, \"received\": %.3f},\n",
            per_sec((double)st->bytes_sent, st) / 1e6,
            per_sec((double)st->bytes_received, st) / 1e6);
    if (cfg->compress)
        fprintf(f, "  \"compression\": {\"codec\": \"%s\", \"sent_wire\": %llu, \"sent_plain\": %llu, "
                "\"received_wire\": %llu, \"received_plain\": %llu},\n",
                sk_zcodec_name(cfg->compress->codec), (unsigned long long)st->zwire[1],
                (unsigned long long)st->zplain[1], (unsigned long long)st->zwire[0],
                (unsigned long long)st->zplain[0]);
    fputs("  \"latency_us\": ", f);
    json_latency(f, h);
    fputs(",\n", f);
    json_handshakes(f, cfg, st);
    json_full(f, cfg, st);
    fputs("  \"errors\": {", f);
    for (int k = 0; k < BE_COUNT; k++)
        fprintf(f, "%s\"%s\": %llu", k ? ", " : "", err_json[k],
                (unsigned long long)(is_error(cfg, k) ? st->errors[k] : 0));
    fprintf(f, "},\n  \"ok\": %s\n}\n", bench_exit_status(cfg, st) ? "false" : "true");
}

int bench_write_json(const char *path, const bench_cfg *cfg, const bench_stats *st)
{
    int to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    json_body(f, cfg, st);
    int bad = ferror(f);
    if (to_stdout ? fflush(f) != 0 : fclose(f) != 0)
        bad = 1;
    if (bad) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
