/*
 * bench.h: cetbench, the load generator for cetd's HTTP API.
 *
 * Shape. cetbench runs --threads worker threads; each owns one libevent
 * event_base, its share of the connections, its share of the candidates (the
 * candidate with index i belongs to thread i % threads) and its own statistics.
 * Nothing is shared between workers while the load runs except relaxed atomic
 * counters the main thread reads for the progress line. After the run the main
 * thread merges the workers' statistics, writes the reports and, with --verify,
 * checks the engine's data against the bench's own log of acknowledged
 * registrations.
 *
 * A request (bench_req_t) carries its intended send time. In open-loop mode
 * (--rate) intended times follow a fixed schedule and latency is measured from
 * them, so a stalled server is charged for the requests it kept waiting (no
 * coordinated omission). In closed-loop mode a request is intended when a
 * connection slot is free. A follow-up step of the same candidate (offers ->
 * registration -> payment -> notice) is intended at the moment its predecessor
 * was answered.
 *
 * Files: bench_hist.c (histogram), bench_http.c (HTTP/1.1 and HTTP/2 client
 * connections), bench_scen.c (scenarios), bench_report.c (text, JSON, SVG),
 * bench_verify.c (correctness check), bench_main.c (options, threads, progress).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "base/cet_limits.h"

/* ------------------------------------------------------------------------ */
/* Histogram: log-linear buckets over microseconds (HDR-style).             */
/* ------------------------------------------------------------------------ */

/*
 * Values below 2^sub_bits microseconds are counted exactly; above, every
 * power-of-two range is cut into 2^(sub_bits-1) equal buckets, so a bucket is
 * at most 1/2^(sub_bits-1) of its value wide (sub_bits 8: 0.78%). Values above
 * BENCH_LATENCY_US_MAX clamp into the top bucket; max is kept exactly.
 */
typedef struct bench_hist {
    uint32_t sub_bits;
    uint32_t n_buckets;
    uint64_t count;
    uint64_t sum_us;
    uint64_t min_us;
    uint64_t max_us;
    uint64_t *buckets;
} bench_hist_t;

#define BENCH_HIST_SUB_BITS_FINE 8   /* the run's histograms: < 1% */
#define BENCH_HIST_SUB_BITS_COARSE 6 /* one per second of the series: ~3% */

/** Prepares h with 2^sub_bits linear buckets (sub_bits 4..12); allocates. */
void bench_hist_init(bench_hist_t *h, uint32_t sub_bits);
/** Frees h's buckets; h may be zeroed or initialised. */
void bench_hist_free(bench_hist_t *h);
/** Counts one value in microseconds. */
void bench_hist_record(bench_hist_t *h, uint64_t us);
/** Adds src into dst; both must have the same sub_bits (asserted). */
void bench_hist_merge(bench_hist_t *dst, const bench_hist_t *src);
/**
 * The value at percentile p (0..100) in microseconds: the middle of the bucket
 * holding that rank, never above max. 0 for an empty histogram.
 */
uint64_t bench_hist_percentile(const bench_hist_t *h, double p);

/* ------------------------------------------------------------------------ */
/* Candidates (from `cetctl bench-prep`)                                     */
/* ------------------------------------------------------------------------ */

typedef struct bench_cand {
    char *token; /* bearer token */
    char *email;
    char *id_type;
    char *id_number;
    char *name;
    char *campus;   /* 6-digit bound campus */
    char *subjects; /* qualified subject codes, concatenated ("12F") */
} bench_cand_t;

/**
 * Reads a bench-prep TSV file (token, email, id_type, id_number, name, campus,
 * qualified_subjects; '#' lines skipped). Returns the number of candidates
 * (>= 0) and a cet_malloc'd array in *out (free with bench_cands_free), or -1
 * with a message on stderr.
 */
long bench_cands_load(const char *path, bench_cand_t **out);
/** Frees what bench_cands_load returned. */
void bench_cands_free(bench_cand_t *c, long n);

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

typedef enum bench_scenario {
    BENCH_SCEN_RAW,
    BENCH_SCEN_OPENING,
    BENCH_SCEN_HOT,
    BENCH_SCEN_SPREAD,
    BENCH_SCEN_BROWSE,
    BENCH_SCEN_LOGIN,
    BENCH_SCEN_EXPIRY,
    BENCH_SCEN_TICKETS,
} bench_scenario_t;

/* Operations, for per-operation latency. */
typedef enum bench_op {
    BENCH_OP_RAW,
    BENCH_OP_OFFERS,
    BENCH_OP_REGISTER,
    BENCH_OP_ORAL,
    BENCH_OP_CANCEL,
    BENCH_OP_PAY,
    BENCH_OP_NOTIFY,
    BENCH_OP_CANDIDATE,
    BENCH_OP_LOGIN,
    BENCH_OP_TICKET,
    BENCH_OP__COUNT
} bench_op_t;

/** The operation's short name ("register"). */
const char *bench_op_name(bench_op_t op);

typedef struct bench_cfg {
    /* target */
    char *target;   /* as given */
    bool tls;       /* https:// */
    bool unix_sock; /* unix:/path */
    char host[256]; /* for connect and :authority / Host */
    char port[8];
    char authority[300]; /* Host header value */
    char unix_path[108];
    struct sockaddr_storage addr; /* resolved once (TCP or unix) */
    socklen_t addr_len;
    bool h2; /* --http2: ALPN h2 over TLS, prior knowledge over http */
    /* load shape */
    bench_scenario_t scenario;
    uint32_t threads;
    uint32_t connections; /* total, split over threads */
    uint32_t streams;     /* per HTTP/2 connection */
    double rate;          /* requests (or arrivals) per second, 0 = closed loop */
    double duration_s;    /* 0 = until --requests or candidates run out */
    uint64_t requests;    /* 0 = unbounded */
    double timeout_s;
    uint64_t seed;
    /* scenario parameters */
    char *path; /* raw */
    char *cands_file;
    char *password;    /* login */
    char *secret_file; /* payment notice HMAC key */
    unsigned char secret[256];
    size_t secret_len;
    char *hot_campus;
    char hot_subject;
    bool hot_any; /* hot: do not filter candidates by campus */
    double oral_share;
    double pay_share;
    double cancel_share;
    double wave_share; /* expiry: candidates registering in the first wave */
    double hold_ttl_s; /* the engine's --hold-ttl, for verification */
    /* outputs */
    char *json_file;
    char *svg_file;
    char *label; /* a free-text label for reports */
    bool quiet;
    bool progress; /* stderr is a terminal */
    /* verification */
    bool verify;
    char *data_dir;
    char *cetctl;
    /* loaded */
    bench_cand_t *cands;
    long n_cands;
    uint32_t *order; /* candidate indexes used by the scenario, in order */
    long n_order;
} bench_cfg_t;

/* ------------------------------------------------------------------------ */
/* Requests, connections, threads                                            */
/* ------------------------------------------------------------------------ */

typedef struct bench_thread bench_thread_t;
typedef struct bench_conn bench_conn_t;

typedef struct bench_req {
    struct bench_req *next;          /* follow-up FIFO / free list */
    struct bench_req *cprev, *cnext; /* the connection's in-flight list */
    bench_conn_t *conn;
    int32_t stream_id; /* HTTP/2 */
    uint32_t user;     /* index into the thread's users, or UINT32_MAX */
    uint8_t op;        /* bench_op_t */
    bool is_post;
    bool is_delete;
    uint64_t intended_ns; /* monotonic */
    uint64_t sent_ns;
    /* request */
    char path[256];
    char auth[160]; /* "Bearer ..." or "" */
    char sig[72];   /* X-Signature or "" */
    char xff[20];   /* X-Forwarded-For or "" (login: the candidate's own client address) */
    char body[512];
    uint32_t body_len;
    uint32_t body_sent; /* HTTP/2 data provider */
    /* answer */
    int status;       /* 0: none (connection failed, timeout) */
    const char *fail; /* why there is no answer ("conn_error", "timeout") */
    char resp[BENCH_RESP_KEEP_BYTES + 1];
    uint32_t resp_len;   /* bytes kept (NUL-terminated) */
    uint64_t resp_bytes; /* bytes received */
} bench_req_t;

/* A registration the engine acknowledged with 201. */
typedef struct bench_ack {
    uint32_t cand; /* index into cfg->cands */
    char subject;
    const char *campus; /* where it was taken (points into cfg) */
    bool paid;          /* the payment notice was answered 200 */
    bool cancelled;     /* the bench cancelled it and the engine said yes */
    int64_t acked_s;    /* wall clock */
} bench_ack_t;

/* A candidate's progress through a multi-step scenario. */
typedef struct bench_user {
    uint32_t cand;
    uint8_t step;
    char written; /* registered written subject, 0 if none */
    char oral;
    uint32_t ack_written; /* index into the thread's acks, UINT32_MAX if none */
    uint32_t ack_oral;
    char order_id[64];
    int64_t amount;
} bench_user_t;

typedef struct bench_code_count {
    char code[48];
    uint64_t n;
} bench_code_count_t;

/*
 * The report's flatness figure compares the mean of the durable registrations
 * per second in the first and in the last this many whole seconds (halves of
 * the window when it is shorter than twice this).
 */
#define BENCH_FLAT_HEAD_S 10

/* One thread's (and after merging, the run's) statistics. */
typedef struct bench_stats {
    bench_hist_t all;
    bench_hist_t op[BENCH_OP__COUNT];
    uint64_t op_count[BENCH_OP__COUNT];
    uint64_t op_fail[BENCH_OP__COUNT]; /* status 0 or >= 400 */
    uint64_t status[600];              /* [0]: no answer */
    bench_code_count_t codes[BENCH_CODES_MAX];
    uint32_t n_codes;
    uint64_t codes_other; /* beyond BENCH_CODES_MAX distinct */
    uint64_t bytes_in;
    uint64_t connects;
    uint64_t conn_failures;
    uint64_t dropped; /* open loop: schedule slots never sent */
    /*
     * Durable registrations: registration answers (written or oral subject)
     * with 201, each made durable by the engine before it answered. Their
     * latency, and the answer time of the last one (from the run start, 0
     * when there was none): the time they were being produced, which for
     * the hot scenario ends when the offer sells out.
     */
    bench_hist_t reg201;
    uint64_t reg201_last_ns;
    /* per-second series, by completion time */
    uint64_t sec_done[BENCH_SERIES_S_MAX];
    uint64_t sec_fail[BENCH_SERIES_S_MAX];
    uint64_t sec_2xx[BENCH_SERIES_S_MAX];    /* answers 200..299 */
    uint64_t sec_reg201[BENCH_SERIES_S_MAX]; /* durable registrations */
    bench_hist_t *sec_hist[BENCH_SERIES_S_MAX];
    uint32_t n_secs;
} bench_stats_t;

/** Prepares zeroed stats. */
void bench_stats_init(bench_stats_t *s);
/** Frees what stats hold. */
void bench_stats_free(bench_stats_t *s);
/** Adds src into dst. */
void bench_stats_merge(bench_stats_t *dst, const bench_stats_t *src);
/** Counts one completed request finished at done_ns (monotonic); t0_ns is the run start. */
void bench_stats_record(bench_stats_t *s, const bench_req_t *r, uint64_t t0_ns, uint64_t done_ns);

struct event_base;
struct event;
struct ssl_ctx_st;

struct bench_thread {
    uint32_t idx;
    bench_cfg_t *cfg;
    struct event_base *base;
    struct ssl_ctx_st *ssl_ctx;
    uint64_t t0_ns;  /* run start, shared by all threads */
    uint64_t end_ns; /* stop issuing at this time (0: no time bound) */
    uint64_t drain_end_ns;
    /* connections */
    bench_conn_t **conns;
    uint32_t n_conns;
    bench_conn_t *ready, *ready_tail; /* connections with a free slot, a queue (bench_http.c) */
    uint32_t inflight;
    /* work */
    bench_user_t *users;
    uint32_t n_users;
    uint32_t next_user;                 /* next user to start */
    uint64_t issued;                    /* requests sent */
    uint64_t request_quota;             /* 0 = unbounded */
    uint64_t sched_k;                   /* open loop: next schedule slot */
    double interval_ns;                 /* open loop: schedule spacing */
    uint64_t phase_ns;                  /* open loop: this thread's offset */
    bench_req_t *fifo_head, *fifo_tail; /* follow-ups, ready now */
    bench_req_t *free_reqs;
    bool source_done; /* no new users/requests will come */
    bool stopping;
    bool finished;
    struct event *tick;    /* every 100 ms: end of run, drain, watchdog */
    struct event *sched;   /* open loop: the next schedule slot; also the start */
    uint64_t last_done_ns; /* the last answer */
    uint64_t starts;       /* scenario starts (bounded by request_quota) */
    uint64_t rng;
    uint64_t browse_i;
    uint64_t gateway_n;
    /* results */
    bench_stats_t stats;
    bench_ack_t *acks;
    uint32_t n_acks, cap_acks;
    _Atomic uint64_t prog_done;
    _Atomic uint64_t prog_fail;
    _Atomic uint32_t prog_inflight;
};

/* ---- bench_http.c ---- */

/** Builds the TLS client context (no certificate check: loopback benches); NULL on error. */
struct ssl_ctx_st *bench_tls_ctx_new(const bench_cfg_t *cfg);
/** Opens the thread's connections (asynchronously); 0 ok, -1 on setup failure. */
int bench_conns_open(bench_thread_t *t);
/** Closes and frees the thread's connections; in-flight requests are dropped. */
void bench_conns_close(bench_thread_t *t);
/** True when some connection of t has a free slot (cleans stale ready entries). */
bool bench_conn_available(bench_thread_t *t);
/**
 * Sends req on a connection taken from t->ready (which must be non-empty);
 * the connection goes back on the ready list while it has free slots.
 */
void bench_conn_send(bench_thread_t *t, bench_req_t *req);

/* ---- bench_main.c (called by bench_http.c) ---- */

/**
 * A request is over (answered, or failed with req->status 0 and req->fail
 * set): counts it, hands it to the scenario, and sends more work.
 */
void bench_thread_complete(bench_thread_t *t, bench_req_t *req);
/** Sends queued and due work on free connection slots. */
void bench_thread_pump(bench_thread_t *t);
/** A request object from the thread's pool (never NULL). */
bench_req_t *bench_req_get(bench_thread_t *t);
/** Returns req to the pool. */
void bench_req_put(bench_thread_t *t, bench_req_t *req);

/* ---- bench_scen.c ---- */

/** Parses a scenario name; -1 if unknown. */
int bench_scenario_parse(const char *name);
/** The scenario's name. */
const char *bench_scenario_name(bench_scenario_t s);
/**
 * Checks the options the scenario needs and chooses its candidates
 * (cfg->order); 0 ok, -1 with a message on stderr.
 */
int bench_scen_prepare(bench_cfg_t *cfg);
/** Gives thread t its users (its share of cfg->order). */
void bench_scen_thread_init(bench_thread_t *t);
/**
 * A new request of a new user (or of the endless scenarios) intended at
 * intended_ns, or NULL when the scenario has nothing more to start.
 */
bench_req_t *bench_scen_start(bench_thread_t *t, uint64_t intended_ns);
/**
 * req was answered: the scenario records what it learned and either turns
 * req into the user's next step (pushed on the follow-up FIFO) or frees it.
 */
void bench_scen_done(bench_thread_t *t, bench_req_t *req, uint64_t done_ns);
/** Queues req as a follow-up, ready now. */
void bench_fifo_push(bench_thread_t *t, bench_req_t *req);
/**
 * Extracts a JSON string or number field's text from body (a flat search for
 * "key": good enough for the engine's answers). 0 ok, -1 absent.
 */
int bench_json_field(const char *body, const char *key, char *out, size_t cap);

/* ---- bench_report.c ---- */

typedef struct bench_result {
    const bench_cfg_t *cfg;
    bench_stats_t *stats; /* merged */
    double elapsed_s;     /* first send to last answer */
    uint64_t acks;        /* 201 registrations */
    long expiries_before; /* cetd_expiries_total, -1 unknown */
    long expiries_after;
    int verify_rc; /* -1 not run, 0 passed, 1 failed */
    char verify_note[512];
} bench_result_t;

/** The human report on f. */
void bench_report_text(FILE *f, const bench_result_t *r);
/** The JSON report into path; 0 ok, -1 (message on stderr). */
int bench_report_json(const char *path, const bench_result_t *r);
/** The SVG chart (per-second throughput and p99) into path; 0 ok, -1. */
int bench_report_svg(const char *path, const bench_result_t *r);

/* ---- bench_verify.c ---- */

/**
 * After the run: `cetctl check`, then `cetctl export registrations` and every
 * acknowledged registration present (unless cancelled, or unpaid and older
 * than the hold TTL), and no campus-subject above capacity when capacities can
 * be exported. Prints what it finds; returns 0 passed, 1 failed (LOUD), 2
 * could not run. note receives a one-line summary.
 */
int bench_verify(const bench_cfg_t *cfg, bench_thread_t *threads, uint32_t n_threads, char *note,
                 size_t note_cap);

/**
 * A blocking GET of path from the target (plain HTTP or unix socket only) for
 * out-of-band reads (/metrics). Returns the HTTP status and the body in
 * out (NUL-terminated, truncated to cap), or -1.
 */
int bench_simple_get(const bench_cfg_t *cfg, const char *path, char *out, size_t cap);

#endif
