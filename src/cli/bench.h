/* bench.h — internals of `sockit bench` shared by its files: the checked run
 * configuration, per-thread workers and their connections, counters, report. */
#ifndef SOCKIT_CLI_BENCH_H
#define SOCKIT_CLI_BENCH_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "cli/histogram.h"
#include "cli/options.h"

/* Errors by kind, as counted and reported. */
enum bench_err {
    BE_CONNECT_REFUSED,
    BE_CONNECT_TIMEOUT,
    BE_CONNECT_RESET,
    BE_CONNECT_OTHER,
    BE_HANDSHAKE, /* ws://, tls://: the TLS or WebSocket handshake failed */
    BE_RESET,   /* an established connection failed (reset, broken pipe, ...) */
    BE_CLOSED,  /* the server closed a connection before the end */
    BE_FRAME,   /* a reply broke the framing (too big, negative, truncated) */
    BE_SEND,    /* a send failed (e.g. datagram socket buffer full) */
    BE_LOST,    /* --verify: no reply by the end (filled in by bench_finish) */
    BE_DUP,     /* a reply that arrived twice */
    BE_REORDER, /* a reply that arrived after a later one */
    BE_CORRUPT, /* a reply whose bytes differ from what was sent */
    BE_COUNT
};

/* What the run does; filled and checked by bench_config, read-only after. */
typedef struct bench_cfg {
    sk_url url;
    const char *target;   /* the URL as typed */
    int dgram;            /* udp / unixgram: one message = one datagram */
    int ws;               /* ws://: one message = one WebSocket message (binary) */
    int whole;            /* replies arrive whole (a frame, a WebSocket message) */
    sk_ws_opts ws_opts;   /* ws://: shared read-only by every connection */
    sk_tls *tls;          /* tls:// and wss://: shared by every connection */
    char ws_host[SK_URL_HOST_MAX + 16]; /* its Host header, "[v6]:port" */
    sk_sockaddr addr;     /* stream target */
    sk_sockaddr *sources; /* --source-addrs, owned (freed by bench_config_free) */
    size_t nsources;
    sk_sockopts sock;
    sk_frame in_frame, out_frame;
    size_t max_frame;
    size_t over_out, over_in; /* framing bytes added to each message sent / received */
    uint32_t conns, threads, depth;
    uint32_t batch; /* messages one write may carry: >1 only closed-loop on a raw stream */
    size_t size;
    double duration;   /* seconds; 0 = until -n is reached */
    uint64_t messages; /* -n; 0 = until -d is over */
    double rate;       /* msgs/s over all connections; 0 = closed loop */
    int verify, verbose, progress;
    int ramp;          /* --ramp: connect all, then start the clock */
    const char *json;
    uint64_t timeout_ms; /* connect timeout; wait for the last replies */
    const cli_opts *cli; /* the command line (--io for the workers' loops) */
    int header;          /* messages have room for the id/seq header (size >= BMSG_HDR) */
    int match;           /* messages carry it and replies are matched by it (--verify, datagrams) */
    int handshakes;      /* --handshakes: each connection connects, handshakes, sends one
                          * message, closes, and starts again (bench_hs.c); -n counts them */
    int resume;          /* --resume: count the handshakes that resumed a session */
    const sk_zopts *compress; /* --compress: compressed framing (NULL: off) */
    const char *html;    /* --html FILE */
    uint64_t t0_ns;      /* the timeline's origin: second i is [t0 + i s, t0 + (i+1) s) */
    double t0_unix;      /* the same instant in wall-clock seconds (to align merged runs) */
} bench_cfg;

/* What happened second by second (bench_timeline.c): replies, errors, and
 * the latency histogram of each second, kept sparse (the non-zero buckets,
 * in bucket order) so that runs merge exactly. */
typedef struct bench_sec {
    uint64_t received, errors;
    size_t off;  /* its buckets: idx[off .. off+n), cnt[off .. off+n) */
    uint32_t n;
} bench_sec;

typedef struct bench_timeline {
    double origin_unix; /* wall-clock time of second 0 */
    bench_sec *secs;
    size_t nsecs, cap_secs;
    uint32_t *idx;
    uint64_t *cnt;
    size_t npairs, cap_pairs;
    int truncated; /* out of memory: later seconds are missing */
} bench_timeline;

/* Counters of one worker, and of the whole run once merged. */
typedef struct bench_stats {
    uint64_t conns_ok, conns_failed, conns_not_started;
    uint64_t sent, received; /* messages; each reply counts once */
    uint64_t bytes_sent, bytes_received;
    uint64_t zwire[2], zplain[2]; /* --compress: bodies on the wire / message bytes,
                                   * [0] received, [1] sent */
    uint64_t wire_out, wire_in; /* bytes on the wire of the closed connections (after
                                 * WebSocket framing and compression, before TLS) */
    uint64_t errors[BE_COUNT];
    int other_errno; /* first cause of BE_CONNECT_OTHER */
    int hs_errno;    /* first cause of BE_HANDSHAKE */
    char hs_why[160]; /* and its own words (a TLS failure's reason), or "" */
    uint64_t t_start_ns, t_stop_ns, t_last_rx_ns, t_end_ns;
    uint64_t ramp_up; /* --ramp: connections up when the ramp ended */
    uint64_t ramp_ns; /* --ramp: how long connecting took (set by bench.c) */
    histogram hist; /* reply latency in ns */
    /* --handshakes: handshakes done while the run ran (resumed: of them, how
     * many resumed a session), their latency (connect start -> on_open) and
     * that of whole iterations (connect start -> closed, error-free ones) */
    uint64_t handshakes, resumed;
    histogram hs_hist, iter_hist;
    bench_timeline tl; /* merged by bench_tl_merge, not by bench_merge */
} bench_stats;

/* One entry of a connection's ring of requests: seq << 2 | state. */
enum { SLOT_EMPTY, SLOT_OUT, SLOT_RCVD, SLOT_EXPIRED };
typedef struct bench_slot {
    uint64_t t_ns; /* when it was sent (rate mode: when it was scheduled) */
    uint64_t tag;
} bench_slot;

/* BC_HANDSHAKE: ws:// connected, upgrade request out, waiting for the answer
 * (still counted in worker->connecting: paced and timed like a connect). */
enum { BC_IDLE, BC_CONNECTING, BC_UP, BC_CLOSING, BC_DONE, BC_HANDSHAKE };
enum { PH_RUN, PH_DRAIN, PH_CLOSE, PH_DONE };

typedef struct bench_worker bench_worker;

typedef struct bench_conn {
    bench_worker *w;
    sk_conn *conn;   /* stream */
    sk_connector *pending; /* BC_CONNECTING: the connect, cancelled on a timeout */
    sk_dgram *dg;    /* datagram */
    uint32_t id;     /* global index, carried in every message */
    uint8_t state;   /* BC_* */
    uint8_t failed;  /* an error was counted: the connection is "failed" */
    uint8_t have_rx; /* max_rx is set */
    uint8_t rx_bad;  /* raw + verify: the reply being assembled is corrupt */
    uint32_t in_flight;
    uint64_t sent, lo;                      /* next seq to send; oldest seq not yet answered */
    uint64_t max_rx;                        /* highest seq answered (reorder detection) */
    uint64_t connect_ms;                    /* loop time the connect started */
    bench_slot *ring;                       /* worker->ring_mask + 1 entries */
    size_t rx_off;                          /* raw: bytes of the current reply received */
    uint8_t rx_hdr[16];                     /* raw + verify: header of the current reply */
    const uint8_t *rx_want;                 /* raw + verify: expected payload (absolute offsets) */
    uint64_t sched_base, sched_n, sched_ns; /* rate mode schedule */
    uint32_t heap_idx;                      /* rate mode: place in the worker's schedule heap */
    uint64_t t0_ns, sent_ns;                /* --handshakes: iteration start, message sent */
} bench_conn;

struct bench_worker {
    const bench_cfg *cfg;
    pthread_t thread;
    sk_loop *loop, *main_loop; /* the same loop when the worker shares the main thread */
    sk_timer *house;          /* housekeeping: timeouts, datagram expiry, progress */
    void (*on_done)(void *w); /* posted to main_loop when finished */
    void *owner;              /* for on_done */
    /* --ramp: 1 while connecting, 2 once every connection is up or failed
     * (on_ramped(w) posted to main_loop), 0 sending (after bw_go) */
    int ramping;
    void (*on_ramped)(void *w);
    int ramp_seen; /* main thread only: this worker's ramp end was counted */
    /* Calls back up, set by bw_init: the files depend one way, worker ->
     * conn -> traffic -> sched, and the lower ones reach the upper ones only
     * through these. None is on the per-message path. */
    void (*progress)(bench_worker *w); /* something ended: maybe the next phase */
    void (*drain)(bench_worker *w);    /* the budget is spent: stop sending */
    void (*fail)(bench_conn *c, int kind, int err); /* a send failed: count it, close c */
    /* Set by bw_init for the mode: how bc_start_connects starts a connection
     * (bc_start_one, or hs_start), and the callbacks its sk_conn gets. */
    void (*connect_one)(bench_conn *c);
    const sk_conn_cbs *cbs;
    bench_conn *conns;
    bench_slot *rings; /* storage of every connection's ring */
    uint32_t nconns, next_connect, scan_from;
    uint32_t connecting, connect_cap, open;
    uint64_t budget; /* messages this worker may send (UINT64_MAX: no limit) */
    uint64_t in_flight;
    uint64_t ring_mask;
    double interval_ns; /* rate mode: gap between sends of one connection */
    int phase, give_up, busy;
    uint64_t deadline_ms;
    unsigned house_ticks;
    uint64_t now_ns; /* time of the read being handled */
    uint8_t *sendbuf, *ramp; /* sendbuf: cfg->batch messages */
    size_t ramp_span;        /* messages start in ramp[0..ramp_span) (bmsg_want) */
    /* rate mode (bench_sched.c) */
    void (*on_due)(bench_worker *w); /* sends what is due (bench_traffic.c) */
    bench_conn **heap;
    uint32_t nheap;
    int tfd, in_tick;
    sk_watch *tick;
    uint64_t armed_ns;
    bench_stats st;
    histogram *window; /* progress: latencies of the last second */
    /* Published for the progress line (relaxed atomics). */
    uint64_t pub_received, pub_p99;
    uint32_t pub_up;
    /* --handshakes (bench_hs.c): iterations started (against budget), and
     * the connections waiting to start their next one (a stack of ids) */
    uint64_t hs_started;
    uint32_t *hs_wait, nhs_wait;
    /* the timeline (bench_timeline.c): the second being filled, its
     * latencies, and the error count when it began */
    uint64_t tl_cur, tl_err0;
    histogram *tl_hist;
};

/* Bytes of messages a raw stream's closed loop writes at once (cfg->batch). */
#define BENCH_BATCH_BYTES 65536

/* The clock every file reads: monotonic nanoseconds (vDSO: no system call). */
static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- bench_msg.c: the wire format of a message ---- */
#define BMSG_HDR 16 /* 6 hex digits of connection id, 10 of sequence number */
void bmsg_header(uint8_t *dst, uint32_t id, uint64_t seq);
int bmsg_parse(const uint8_t *src, uint32_t *id, uint64_t *seq); /* 0 or -1 */
/* ramp[k] = 'A' + k % 26 for k < len (len >= size + 26). The payload of
 * message (id, seq) at offset i >= BMSG_HDR is bmsg_want(...)[i]. */
void bmsg_ramp(uint8_t *ramp, size_t len);
/* The same with JSON-like text (--ws-deflate: what compression is measured
 * on; letters in a 26-byte cycle would compress far better than real
 * traffic), len >= size + BMSG_JSON_SPAN: messages start anywhere in the
 * first BMSG_JSON_SPAN bytes, so a message is rarely in a 32 KiB deflate
 * window of the ones before it (--verify, or every message is the same). */
#define BMSG_JSON_SPAN ((size_t)1 << 20)
void bmsg_ramp_json(uint8_t *ramp, size_t len);
struct bench_worker;
const uint8_t *bmsg_want(const struct bench_worker *w, uint32_t id, uint64_t seq);

/* ---- bench_config.c ---- */
/* Builds cfg from the command line. Returns 0, or the exit status after
 * printing one line (2 usage, 1 e.g. a name that does not resolve). */
int bench_config(const cli_opts *o, bench_cfg *cfg);
void bench_config_free(bench_cfg *cfg);

/* ---- bench_worker.c: one thread, its loop and its connections ---- */
/* Sets w up for connections first_id .. first_id+n-1, sending at most budget
 * messages; on_done(w) is posted to main_loop when it is finished. With
 * shared set, w runs on main_loop itself (bw_begin, then whoever runs
 * main_loop); else on a loop of its own in its own thread (bw_main). Returns
 * 0 or -1 (out of memory); call bw_free either way. */
int bw_init(bench_worker *w, const bench_cfg *cfg, uint32_t first_id, uint32_t n, uint64_t budget,
            sk_loop *main_loop, int shared, void (*on_done)(void *), void *owner);
void bw_begin(bench_worker *w); /* on w's loop thread: start connecting */
void *bw_main(void *w);         /* thread body: bw_begin, then run w's own loop */
void bw_stop(bench_worker *w);  /* any thread: stop sending, drain, close */
void bw_force(bench_worker *w); /* any thread: close everything now */
void bw_go(bench_worker *w);    /* any thread, --ramp: the ramp is over, start sending */
void bw_free(bench_worker *w);  /* after the thread was joined */

/* ---- bench_hs.c: --handshakes, a new connection per message ---- */
/* The iterations of a connection: hs_start begins one (connect, then the
 * handshake: hs_cbs), and each one that ends queues the next, which
 * hs_pump starts within the connect cap (or drops once the run is over). */
extern const sk_conn_cbs hs_cbs;
void hs_start(bench_conn *c);
void hs_pump(bench_worker *w); /* from the worker's progress: before its checks */

/* ---- bench_conn.c: connecting, connection callbacks, their end ---- */
extern const sk_conn_cbs bc_cbs;                       /* a connection that sends and receives */
void bc_start_one(bench_conn *c);                      /* connects (a stream) or opens (datagram) */
void bc_start_connects(bench_worker *w);               /* up to the in-flight cap */
void bc_count_error(bench_conn *c, int kind, int err); /* the first one fails c */
/* The handshake of c (in BC_HANDSHAKE) failed: counted as BE_HANDSHAKE, with
 * why it closed (the TLS layer's reason) kept when it is the worker's first. */
void bc_handshake_failed(bench_conn *c, sk_conn *sc, int err);
void bc_fail(bench_conn *c, int kind, int err);        /* count it and close c */
void bc_done(bench_conn *c);                           /* c is over: count it ok or failed */
void bc_connect_timed_out(bench_conn *c);              /* BC_CONNECTING past --timeout: cancel */
/* The stream callbacks both kinds of connection share: the peer's end of
 * stream (a handshake cut short counts as failed), and what a close counts. */
void bc_on_eof(sk_conn *sc, void *ud);
void bc_count_close(bench_conn *c, sk_conn *sc, int err);

/* ---- bench_traffic.c: sending, matching replies, verifying ---- */
int bt_init(bench_worker *w);  /* after the loop and conns exist (rate mode: the schedule); -1 on failure */
void bt_start(bench_conn *c);  /* the connection is up: start sending */
void bt_on_stream(bench_conn *c, const uint8_t *msg, size_t len);
void bt_on_datagram(bench_conn *c, const uint8_t *msg, size_t len);
void bt_expire(bench_conn *c, uint64_t timeout_ns); /* datagrams: give up on old ones */
void bt_conn_ended(bench_conn *c);                  /* release its in-flight messages and timer */

/* ---- bench_sched.c: rate mode's nanosecond schedule ---- */
/* How early a scheduled send may go. A send that goes early is timed from
 * when it really went, never from its later scheduled time, so the latency
 * reported is at least the message's own round trip; a late one is timed from
 * its scheduled time. Two windows:
 * - a wake-up of the schedule takes every connection due within BS_EARLY_NS
 *   (with thousands of connections a wake-up per slot costs more CPU than
 *   the sends; a longer window would make the rounds of writes longer, and
 *   replies wait for the round to end before they are read and timed);
 * - a connection that writes sends all its slots due within BS_BATCH_NS in
 *   that one write (at 1000 msgs/s per connection: two a write). The
 *   kernel's cost per write, and per read of the replies it brings, is most
 *   of a fast open loop's CPU. */
#define BS_EARLY_NS 1000000u
#define BS_BATCH_NS 2000000u
/* After the loop and conns exist: on_due(w) runs on each wake-up of the
 * schedule and takes the due connections with bs_pop_due. -1 on failure. */
int bs_init(bench_worker *w, void (*on_due)(bench_worker *w));
void bs_thread_init(void);   /* in the worker thread: fine timer slack */
void bs_wait(bench_conn *c); /* wake at c->sched_ns (on_due then pops c) */
int bs_queued(const bench_conn *c); /* 1 while c waits for a wake-up of the schedule */
bench_conn *bs_pop_due(bench_worker *w, uint64_t by_ns); /* earliest due by by_ns, dequeued; or NULL */
void bs_remove(bench_conn *c);
void bs_free(bench_worker *w);

/* ---- bench_timeline.c ---- */
int bench_tl_init(bench_worker *w);                  /* in bw_init; -1 out of memory */
void bench_tl_roll(bench_worker *w, uint64_t now_ns); /* a second ended: keep it */
void bench_tl_finish(bench_worker *w);               /* the last second */
/* Adds src into dst, src's second i into dst's second i + shift. -1 out of memory. */
int bench_tl_merge(bench_timeline *dst, const bench_timeline *src, size_t shift);
/* Appends one second's counts and buckets (bench merge reads them from JSON). */
int bench_tl_append(bench_timeline *tl, uint64_t received, uint64_t errors, const histogram *h);
/* The latency histogram of second i (min/max: its buckets' bounds). */
void bench_tl_hist(const bench_timeline *tl, size_t i, histogram *out);
void bench_tl_free(bench_timeline *tl);
/* JSON: a histogram as {"count", "min", "max", "sum", "buckets": [[low_ns, count], ...]}
 * and the timeline as {"origin_unix", "seconds": [[received, errors, buckets], ...]}. */
void bench_hist_json(FILE *f, const histogram *h);
void bench_tl_json(FILE *f, const bench_timeline *tl);

/* One reply's latency: the totals, this second's and the progress window. */
static inline void bench_record(bench_worker *w, uint64_t lat)
{
    if (w->now_ns >= w->cfg->t0_ns + (w->tl_cur + 1) * UINT64_C(1000000000))
        bench_tl_roll(w, w->now_ns);
    hist_record(&w->st.hist, lat);
    hist_record(w->tl_hist, lat);
    if (w->window)
        hist_record(w->window, lat);
}

/* ---- bench_html.c: --html FILE, one self-contained page ---- */
int bench_write_html(const char *path, const bench_cfg *cfg, const bench_stats *st);

/* ---- bench_merge.c: `sockit bench merge A.json B.json ...` ---- */
int bench_merge_cmd(const cli_opts *o);

/* ---- bench_report.c ---- */
const char *bench_err_key(int kind); /* the JSON key of an error kind */
void bench_merge(bench_stats *dst, const bench_stats *src);
void bench_finish(const bench_cfg *cfg, bench_stats *st); /* end time, lost count */
void bench_print(FILE *f, const bench_cfg *cfg, const bench_stats *st);
int bench_write_json(const char *path, const bench_cfg *cfg, const bench_stats *st);
int bench_exit_status(const bench_cfg *cfg, const bench_stats *st);
const char *bench_fmt_ns(uint64_t ns, char *buf, size_t len);

#endif
