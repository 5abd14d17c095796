/*
 * net.h: the HTTP face of cetd: per-core libevent loops, requests, JSON,
 * routing, and the slow-work pool.
 *
 * Threads. net_server_start() runs one core thread per --threads, each with
 * its own event_base serving HTTP/1.1 (net_http.c); TCP listeners are opened
 * once per core with
 * SO_REUSEPORT, a unix listener is shared. Everything a handler touches runs
 * on its core's thread; other threads reach a core only through its mailbox
 * (store_mailbox_t) or net_pool completions, both delivered by event_active.
 *
 * A request (net_req_t) lives from its arrival until net_reply*() is called
 * exactly once; a handler either replies at once, or keeps req and replies
 * later from a completion on the same core (writer mailbox, pool). If the
 * client goes away first, the reply is dropped harmlessly (the net layer
 * tracks that), but the handler must still call net_reply*() to free req.
 */
#ifndef NET_H
#define NET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cet_err.h"
#include "store/store.h"
#include "store/store_writer.h"

struct evbuffer; /* libevent, for net_metrics_cb */

typedef struct net_server net_server_t;
typedef struct net_core net_core_t;
typedef struct net_req net_req_t;

typedef enum net_method {
    NET_GET = 1,
    NET_POST = 2,
    NET_PUT = 4,
    NET_DELETE = 8,
    NET_HEAD = 16,
    NET_OPTIONS = 32
} net_method_t;

/* ---- per-request ---- */
net_method_t net_req_method(const net_req_t *req);
/** Decoded path without the query ("/api/v1/registrations/1"). */
const char *net_req_path(const net_req_t *req);
/** A query parameter's decoded value, or NULL. */
const char *net_req_query(net_req_t *req, const char *name);
/** A request header, or NULL. */
const char *net_req_header(const net_req_t *req, const char *name);
/** The body bytes (bounded by CET_BODY_BYTES_MAX, or the upload route's limit; NUL-terminated copy). */
const char *net_req_body(const net_req_t *req, size_t *len);
/**
 * The client's address as text. On TCP the peer; on the unix socket (the
 * h2o edge) the last X-Forwarded-For entry, which h2o appended itself.
 */
const char *net_req_client(const net_req_t *req);
/**
 * The request id: the edge's X-Request-Id when it is 1..CET_REQUEST_ID_BYTES_MAX
 * characters of [A-Za-z0-9._-], else one made at arrival. Sent back as
 * X-Request-Id, put into error answers and into every log line written on the
 * core thread while the request is handled.
 */
const char *net_req_id(const net_req_t *req);
/** The core this request runs on. */
net_core_t *net_req_core(net_req_t *req);
/** Route label for metrics (set by the router). */
void net_req_set_route(net_req_t *req, const char *route);
/** Handler-owned pointer carried with the request until it is answered. */
void net_req_set_user(net_req_t *req, void *p);
void *net_req_user(const net_req_t *req);

/**
 * Decodes the body as one JSON object, strictly: UTF-8 checked, depth at most
 * CET_JSON_DEPTH_MAX, duplicate keys refused, and every key must be listed in
 * allowed (NULL-terminated). Returns CET_E_OK with *out (caller json_decref),
 * or CET_E_MALFORMED_JSON / CET_E_INVALID_UTF8 / CET_E_UNKNOWN_FIELD /
 * CET_E_UNSUPPORTED_MEDIA_TYPE (a Content-Type other than application/json).
 * On error, *field names the offending key when there is one.
 */
cet_err_t net_req_json(net_req_t *req, const char *const *allowed, json_t **out,
                       const char **field);
/**
 * The decoder behind net_req_json, pure and thread-safe (tests, fuzzing):
 * body[0..len) must be one JSON object (no trailing bytes) in valid UTF-8 with
 * no NUL inside strings, nesting at most CET_JSON_DEPTH_MAX (the top object
 * is depth 1), no duplicate keys, and every top-level key listed in allowed
 * (NULL-terminated; NULL allows any key). Returns CET_E_OK with *out (caller
 * json_decref), else CET_E_INVALID_UTF8 / CET_E_MALFORMED_JSON /
 * CET_E_UNKNOWN_FIELD with *out NULL. *field is set to the offending key for
 * CET_E_UNKNOWN_FIELD (a copy in thread-local storage, valid until the next
 * call on the same thread; a key of 64 bytes or more is cut to fewer than 64 at a
 * character boundary), else NULL.
 */
cet_err_t net_json_decode(const char *body, size_t len, const char *const *allowed,
                          json_t **out, const char **field);
/**
 * Field getters: CET_E_MISSING_FIELD if absent (and required), CET_E_WRONG_TYPE.
 * A JSON null counts as absent. Absent and not required: CET_E_OK with *out
 * untouched (net_json_str sets it to NULL). Strings die with obj.
 */
cet_err_t net_json_str(json_t *obj, const char *key, bool required, const char **out);
cet_err_t net_json_bool(json_t *obj, const char *key, bool required, bool *out);
cet_err_t net_json_int(json_t *obj, const char *key, bool required, int64_t *out);

/*
 * A compact JSON object written straight into a caller's buffer, for the
 * answers sent most often (a registration's 201, every error answer): the
 * bytes json_dumps(JSON_COMPACT) makes of the same object built in the same
 * order (jansson keeps insertion order; strings escaped as it escapes them,
 * UTF-8 kept as is), without building a json_t and freeing it again.
 * Nesting to NET_JW_DEPTH objects. Once a write would not fit, w->ok is false
 * and stays false (nothing is written past cap); the text is w->buf[0..w->len),
 * NUL-terminated while ok.
 */
#define NET_JW_DEPTH 4
typedef struct net_jw {
    char *buf;
    size_t len, cap;
    bool ok;
    int depth;
    bool first[NET_JW_DEPTH + 1]; /* no member written yet in the object at that depth */
} net_jw_t;
void net_jw_init(net_jw_t *w, char *buf, size_t cap);
/** Opens an object: the top one when key is NULL, else a member of the open one. */
void net_jw_open(net_jw_t *w, const char *key);
void net_jw_close(net_jw_t *w);
/** A string member: s[0..n) (UTF-8), escaped. */
void net_jw_str(net_jw_t *w, const char *key, const char *s, size_t n);
void net_jw_int(net_jw_t *w, const char *key, int64_t v);
void net_jw_null(net_jw_t *w, const char *key);

/** Replies with status and a JSON body (steals body's reference). Frees req. */
void net_reply_json(net_req_t *req, int status, json_t *body);
/** Replies with pre-serialised JSON text. Frees req. */
void net_reply_raw(net_req_t *req, int status, const char *content_type, const char *body,
                   size_t len);
/** Called once when the bytes of a net_reply_ref body are no longer needed; on the core's thread. */
typedef void (*net_body_done_cb)(const void *body, size_t len, void *arg);
/**
 * As net_reply_raw, without copying body: the connection's output buffer
 * refers to body[0..len), which must stay valid and unchanged until done_cb
 * (required) is called, once: when the bytes have gone to the socket, when the
 * connection is freed first, or before return (the client is gone, len is 0,
 * or the reference could not be added: then body was copied). Frees req.
 */
void net_reply_ref(net_req_t *req, int status, const char *content_type, const void *body,
                   size_t len, net_body_done_cb done_cb, void *done_arg);
/**
 * Replies {"error":{"code","message"[,"field"],"request_id"}} with the code's
 * status; field (UTF-8) may be NULL. 503 answers carry Retry-After: 1, 401 answers
 * WWW-Authenticate: Bearer. Frees req.
 */
void net_reply_error(net_req_t *req, cet_err_t e, const char *field);
/** The body net_reply_error sends, into w: its length, or 0 when w's buffer was too small. */
size_t net_error_text(net_jw_t *w, cet_err_t e, const char *field, const char *request_id);
/** Adds a response header before the reply. */
void net_req_add_header(net_req_t *req, const char *name, const char *value);

/* ---- per-core ---- */
/** The core's completion mailbox for store_writer requests. */
store_mailbox_t *net_core_mailbox(net_core_t *core);
/**
 * The core's read txn, renewed on first use within the current request and
 * reset when the request is answered or the handler returns (whichever is
 * first). Never NULL when the store is healthy; NULL with *rc otherwise.
 */
store_txn_t *net_core_read_txn(net_core_t *core, int *rc);
/** Ends the core's current read txn early (before a long wait). */
void net_core_read_done(net_core_t *core);
unsigned net_core_index(const net_core_t *core);
struct event_base *net_core_base(net_core_t *core);

/* ---- slow work pool (argon2id, mail) ---- */
typedef struct net_work net_work_t;
typedef void (*net_work_cb)(net_work_t *w);      /* runs on a pool thread */
typedef void (*net_work_done_cb)(net_work_t *w); /* runs on the submitting core */
struct net_work {
    net_work_cb work_cb;
    net_work_done_cb done_cb;
    void *arg;
    net_core_t *core; /* set by net_pool_submit */
    net_work_t *next_;
};
/**
 * Queues w to the pool from a core thread. Returns CET_E_OK, or
 * CET_E_OVERLOADED when CET_WORK_QUEUE_MAX jobs wait (the caller answers 503),
 * or CET_E_DRAINING once the server stopped.
 */
cet_err_t net_pool_submit(net_core_t *core, net_work_t *w);

/* ---- routing and server ---- */
/**
 * The application's entry point, called on a core thread for every request
 * except /healthz and /metrics. It must reply (now or later).
 */
typedef void (*net_handler_cb)(net_req_t *req, void *app);
/** Adds the application's own Prometheus lines to /metrics (core thread). */
typedef void (*net_metrics_cb)(struct evbuffer *out, void *app);

/** An address block, for --trusted-proxy ("10.0.0.0/8", "::1/128", "192.0.2.7"). */
typedef struct net_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix_bits;
} net_cidr_t;
/** Parses s into *out. 0, or EINVAL (bad address or prefix). */
int net_cidr_parse(const char *s, net_cidr_t *out);
/** True when the text address ip lies in c. */
bool net_cidr_contains(const net_cidr_t *c, const char *ip);

/** Readiness of the app: writes a JSON object (the checks) into out[cap] and
 *  returns true when ready. Called on any core thread for /readyz. */
typedef bool (*net_ready_cb)(char *out, size_t cap, void *arg);
/** A periodic tick on core 0's loop (the systemd watchdog). */
typedef void (*net_tick_cb)(void *arg);
/** Once, on core 0's loop, when it first runs (the pool is up): work to resume at start. */
typedef void (*net_started_cb)(net_core_t *core, void *arg);

typedef struct net_options {
    const char *listen[CET_LISTENERS_MAX]; /* "127.0.0.1:8080", "[::1]:8080", "unix:/path" */
    unsigned n_listen;
    unsigned threads;          /* core threads; 0 = number of CPUs */
    unsigned workers;          /* pool threads; 0 = 2 */
    net_handler_cb handler;
    net_metrics_cb metrics;
    void *app;
    void *metrics_arg;           /* passed to metrics; NULL = app */
    store_t *store;
    unsigned conns_per_core_max; /* per TCP listener and core; 0 = CET_CONNS_PER_CORE_MAX */
    unsigned unix_conns_per_core_max; /* per unix listener and core; 0 = CET_UNIX_CONNS_PER_CORE_MAX */
    unsigned socket_mode;        /* unix socket file mode; 0 = CET_SOCKET_MODE_DEFAULT (0660) */
    int socket_gid;              /* unix socket group; -1 = leave it (set 0 for root explicitly) */
    net_cidr_t trusted[CET_TRUSTED_PROXIES_MAX]; /* TCP peers whose X-Forwarded-For is believed */
    unsigned n_trusted;
    net_ready_cb ready;          /* /readyz; NULL: ready unless draining */
    void *ready_arg;
    net_tick_cb tick;            /* run every tick_ms on core 0 (NULL: none) */
    unsigned tick_ms;
    void *tick_arg;
    net_started_cb started;      /* run once on core 0 at start (NULL: none) */
    void *started_arg;
    /* One route may take a larger body than CET_BODY_BYTES_MAX (the admin roster
     * upload): a POST to exactly this path, up to upload_bytes_max. NULL: none. */
    const char *upload_path;
    size_t upload_bytes_max;
    /* Other routes with a larger body, at most CET_BODY_HARD_BYTES_MAX: the limit
     * of a request by its method and path (the URI before any '?', undecoded), or
     * 0 for the default CET_BODY_BYTES_MAX. Asked when the head arrives, before
     * the body is read. Core thread; must not block. NULL: none. */
    size_t (*body_max)(net_method_t method, const char *path);
} net_options_t;

/** 0 when spec is a --listen address net_server_start can parse, else EINVAL. */
int net_listen_check(const char *spec);

/**
 * Starts the cores and the pool and binds every listener; prints
 * "cetd: listening on ADDR" to stdout (flushed) once each is ready.
 * Returns 0 or an errno-style code (logged).
 */
int net_server_start(const net_options_t *opt, net_server_t **out);
/**
 * Drains: /healthz turns 503, listeners close, in-flight requests finish
 * (their writer completions included), then the cores stop. Blocks until
 * done or timeout_ms passed.
 */
void net_server_drain(net_server_t *srv, unsigned timeout_ms);
/**
 * The i-th listener's address as bound ("127.0.0.1:41234" when the option
 * said port 0, "unix:/path"), or NULL when i >= n_listen. Owned by srv.
 */
const char *net_server_address(const net_server_t *srv, unsigned i);
void net_server_free(net_server_t *srv);
/** Blocks the calling (main) thread until SIGTERM or SIGINT; SIGHUP reopens logs. */
void net_server_wait_signal(net_server_t *srv);

/* ---- metrics helpers for handlers ---- */
/** Counts an event of the app (e.g. "expiries"); exported as cetd_<name>_total. */
void net_metrics_count(const char *name, uint64_t n);
/**
 * Declares counter name with its HELP text (a string literal) so that it is
 * exported from the start, at 0, before its first net_metrics_count.
 */
void net_metrics_declare(const char *name, const char *help);

#endif
