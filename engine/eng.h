/*
 * eng.h: the registration engine: every rule of the CET registration, as
 * write operations that the group-commit writer applies, plus the expiry of
 * holds, candidates and payment orders that runs inside the writer's txns.
 *
 * The request path (see README "Reading the code"):
 *   net_api_*.c   parses and validates, answers reads from a read txn, fills
 *                 an eng_op_t
 *   eng_submit()  replays a known Idempotency-Key, runs the rules on the read
 *                 txn, takes a seat for a new registration, queues the op to
 *                 the writer (store_writer.c)
 *   eng_ops.c     apply: re-checks every rule inside the write txn (the txn is
 *                 the truth, seats included), writes, fills op->res (kept
 *                 with the Idempotency-Key)
 *   store_writer.c commits the batch (fsync); the seat changes it decided
 *                 reach the counters (eng_seats_commit); each op goes back
 *                 to its core
 *   net_api.c     done: maps op->res to a status and JSON, replies
 *
 * Threads: eng_* functions other than the apply side are called from core
 * threads; apply, the tick and the seat ledger's after-commit changes run on
 * the writer thread only.
 *
 * Errors (base/cet_err.h): a refusal is a cet_err_t in op->res.err; storage
 * codes never reach the submitter (they become CET_E_STORAGE, logged).
 */
#ifndef ENG_H
#define ENG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/cet_err.h"
#include "engine/eng_seats.h"
#include "store/store.h"
#include "store/store_writer.h"

typedef struct eng eng_t;

typedef struct eng_options {
    int64_t hold_ttl_s;       /* unpaid hold life and empty-candidate life (--hold-ttl) */
    int64_t order_ttl_s;      /* a pending payment order's timeout */
    const uint8_t *payment_secret; /* HMAC-SHA256 key of payment notices */
    size_t payment_secret_len;
    const char *pay_url_base; /* where the payment platform is ("http://127.0.0.1:8090/pay") */
    const char *public_url;   /* base of the links in mail ("https://cet.example"; --public-url) */
} eng_options_t;

/**
 * Loads the seat counters from st (capacity minus live registrations),
 * rewrites every offer's live count from the registrations (one write txn:
 * st must be this process's alone; aborts with context if an offer holds more
 * live registrations than its capacity), and starts the writer thread whose
 * ticks expire due holds (the first tick runs at once, so holds overdue after
 * a crash go first). Returns 0 or a storage code (logged).
 */
int eng_open(store_t *st, const eng_options_t *opt, eng_t **out);
/** Stops the writer (after committing what is queued). */
void eng_close(eng_t *e);
store_t *eng_store(eng_t *e);
store_writer_t *eng_writer(eng_t *e);
eng_seats_t *eng_seats(eng_t *e);
const eng_options_t *eng_options(const eng_t *e);

/* Counters for /metrics (monotonic, any thread). */
typedef struct eng_stats {
    uint64_t holds_expired, candidates_deleted, orders_expired, notices, notices_refund;
    uint64_t registrations, cancellations, payments;
} eng_stats_t;
void eng_stats_get(eng_t *e, eng_stats_t *out);

/* ---- write operations ---- */
typedef enum eng_op_kind {
    ENG_OP_ACCOUNT_CREATE = 1,
    ENG_OP_SESSION_CREATE,    /* account or staff, in.token_key; with in.pwhash: the login's
                                 upgraded hash, stored if the record still holds in.pwhash_seen */
    ENG_OP_SESSION_DELETE,
    ENG_OP_AGREE,
    ENG_OP_BIND,
    ENG_OP_REVIEW_SUBMIT,     /* POST: new review */
    ENG_OP_REVIEW_EDIT,       /* PUT: re-submit a rejected one */
    ENG_OP_REVIEW_DELETE,
    ENG_OP_REG_CREATE,
    ENG_OP_REG_CANCEL,
    ENG_OP_PAY_CREATE,
    ENG_OP_PAY_NOTICE,
    ENG_OP_EMAIL_CHANGE,
    ENG_OP_STAFF_REVIEW_DECIDE,
    ENG_OP_STAFF_LOCK,        /* lock (in.flag true) or unlock a registration */
    ENG_OP_STAFF_GROUP_PAY,   /* record a group payment of locked registrations */
    ENG_OP_STAFF_CAPACITY,    /* set an offer's capacity */
    ENG_OP_TICKETS,           /* arrange a campus-subject or set a campus's rooms (eng_tickets.c) */
    /* the account lifecycle (eng_account.c) */
    ENG_OP_RESET_REQUEST,     /* in.email, in.token_key/token_out: queue the reset link */
    ENG_OP_RESET_CONFIRM,     /* in.token_key, in.pwhash: new password, every session ends */
    ENG_OP_PASSWORD_CHANGE,   /* in.pwhash, in.token_key (the caller's session stays) */
    ENG_OP_STAFF_REBIND,      /* support: in.id_type/id_number/name -> in.target */
    /* the school's side (engine/eng_admin.h) */
    ENG_OP_ADMIN_OFFER,       /* set an offer's capacity, fee, window */
    ENG_OP_ADMIN_SETTINGS,    /* a school's settings (oral elsewhere) */
    ENG_OP_ADMIN_ANNOUNCE_POST,
    ENG_OP_ADMIN_ANNOUNCE_DELETE,
    ENG_OP_ADMIN_ROSTER,      /* a school's roster file, all rows in one txn */
    ENG_OP_STAFF_LOOKUP,      /* support: audits an account lookup (in.email: what was asked) */
    ENG_OP__COUNT
} eng_op_kind_t;

/*
 * What a write op came to: err is CET_E_OK or the rule that refused it (a
 * cet_err_t; CET_E_STORAGE / CET_E_OVERLOADED / CET_E_DRAINING when it never
 * committed), and on success the member of u named after its kind holds the
 * data of the answer. Domain values only: the HTTP layer picks the status
 * and renders the JSON, the first time and on every replay alike. The
 * Idempotency-Key record keeps this struct as bytes, so its layout is part of
 * the storage schema (docs/storage.md, `idem`): change it with the version.
 */
typedef struct eng_result {
    cet_err_t err;
    uint32_t pad_;
    union {
        struct {                          /* ACCOUNT_CREATE, EMAIL_CHANGE */
            uint8_t id[16];
            char email[CET_EMAIL_BYTES];
        } account;
        struct {                          /* SESSION_CREATE (the token is in.token_out) */
            int64_t expires;
        } session;
        struct {                          /* AGREE */
            int64_t agreed_at;
        } agree;
        struct {                          /* BIND */
            uint32_t school, campus;
            int64_t bound_at;
            char subjects[CET_SUBJECTS_MAX + 1]; /* qualified subject codes */
        } bind;
        struct {                          /* REVIEW_SUBMIT, REVIEW_EDIT, STAFF_REVIEW_DECIDE */
            uint8_t state;                /* store_review_state_t; 0 = deleted (REVIEW_DELETE) */
            char subjects[CET_SUBJECTS_MAX + 1]; /* qualified subject codes (candidate calls) */
        } review;
        struct {                          /* REG_CREATE */
            uint64_t seq;
            uint32_t campus, fee;
            int64_t expires;
            char subject;
        } reg;
        struct {                          /* REG_CANCEL: subject codes, the named one first */
            char subjects[CET_CANDIDATE_REGS_MAX + 1];
        } cancel;
        struct {                          /* PAY_CREATE */
            uint64_t id;
            uint32_t amount;
            int64_t expires;
            char channel[14];
            char subjects[CET_ORDER_SUBJECTS_MAX + 1];
        } order;
        struct {                          /* PAY_NOTICE */
            uint8_t outcome;              /* STORE_ORDER_PAID or STORE_ORDER_REFUND */
            bool duplicate;               /* the same notice was received before */
        } notice;
        struct {                          /* STAFF_LOCK */
            char subject;
            bool locked;
            int64_t expires;
        } lock;
        struct {                          /* STAFF_GROUP_PAY */
            char subjects[CET_ORDER_SUBJECTS_MAX + 1];
        } group_pay;
        struct {                          /* STAFF_CAPACITY */
            uint32_t capacity;
        } capacity;
        struct {                          /* TICKETS (what: eng_tickets_what_t) */
            uint8_t what;                 /* ENG_TICKETS_ARRANGE or ENG_TICKETS_ROOMS */
            char subject;                 /* ARRANGE: the campus-subject arranged */
            uint8_t slots;                /* ARRANGE: oral time slots used (0 written) */
            uint8_t pad_;
            uint32_t campus;
            uint32_t rooms;               /* ARRANGE: rooms used; ROOMS: rooms set */
            uint32_t seats;               /* ARRANGE: seats given; ROOMS: seats of the rooms */
            int64_t arranged_at;          /* ARRANGE: the run that last changed a seat */
        } tickets;
        struct {                          /* RESET_CONFIRM, PASSWORD_CHANGE */
            int32_t sessions_ended;       /* live sessions of the account that ended */
        } password;
        struct {                          /* STAFF_REBIND */
            uint8_t from[16], to[16];     /* the accounts the binding moved between */
            uint32_t roster_no;
            char subjects[CET_CANDIDATE_REGS_MAX + 1]; /* the registrations that moved */
        } rebind;                         /* (RESET_REQUEST has no data: one answer for all) */
        struct {                          /* ADMIN_OFFER */
            uint32_t campus, capacity, fee, live;
            int64_t window_opens, window_closes;
            char subject;
        } offer;
        struct {                          /* ADMIN_SETTINGS */
            uint32_t school;
            bool oral_elsewhere;
        } settings;
        struct {                          /* ADMIN_ANNOUNCE_POST, _DELETE */
            uint32_t id, code;
            uint8_t scope;
            int64_t at;
        } announce;
        struct {                          /* ADMIN_ROSTER */
            uint64_t rows, inserted, updated;
        } roster;
    } u;
} eng_result_t;
_Static_assert(sizeof(eng_result_t) <= CET_IDEM_BODY_BYTES_MAX, "a result fits its idem record");

/*
 * One write operation. The submitter fills kind, account or staff, in and
 * (with an Idempotency-Key) idem; the engine fills res. The op is owned by its
 * submitter from eng_op_init until done_cb returned (or eng_submit answered
 * it at once).
 */
typedef struct eng_op {
    store_req_t req;          /* first: the writer sees a store_req_t */
    eng_t *eng;
    eng_op_kind_t kind;
    int64_t now;              /* unix seconds when the core received it */
    uint8_t account[16];      /* the caller's account (candidate calls) */
    /* that account's record as the submitter read it on the read txn it passes to
     * eng_submit (the fast path then skips reading it again); NULL: read it */
    const store_account_t *account_read;
    char staff[CET_SHORT_BYTES]; /* the caller (staff calls) */
    /* idempotency: set by the submitter; the engine looks the record up and keeps res in it */
    bool idem;
    uint8_t idem_key[48];     /* scope (16) ‖ SHA-256 of the header value (32) */
    uint8_t idem_hash[16];    /* XXH3-128 of what makes the request this request */
    /* inputs (which are used depends on kind) */
    struct {
        char email[CET_EMAIL_BYTES];
        char pwhash[CET_PWHASH_BYTES];
        char pwhash_seen[CET_PWHASH_BYTES]; /* the stored hash a password was verified against */
        uint8_t token_key[32];
        uint8_t id_type;
        char id_number[CET_ID_NUMBER_BYTES];
        char name[CET_NAME_BYTES];
        char ticket[CET_TICKET_DIGITS + 1];
        char subject;
        uint32_t campus;
        char subjects[CET_ORDER_SUBJECTS_MAX + 1];
        char channel[14];
        uint64_t order_id;
        uint32_t amount;
        char gateway_txn[64];
        int64_t paid_at;
        bool flag;            /* approve / lock */
        uint32_t capacity;
        uint8_t target[16];   /* the account a staff decision is about */
        uint32_t fee;         /* ADMIN_OFFER: fen */
        int64_t window_opens, window_closes;
        uint8_t set;          /* ADMIN_OFFER: ENG_ADMIN_SET_* of the fields given */
        uint32_t school;      /* ADMIN_SETTINGS, ADMIN_ANNOUNCE_POST: the school (or province) */
        uint32_t item_id;     /* ADMIN_ANNOUNCE_DELETE */
        void *ext;            /* inputs too large for this struct (eng_admin.h), the submitter's */
        uint32_t scope_school; /* staff scope: school code (0 = any in scope_province) */
        uint16_t scope_province;
        char token_out[65];   /* session token made on the core (never stored) */
        const struct eng_tickets_in *tickets; /* ENG_OP_TICKETS: the submitter's (the call's) */
    } in;
    /* ENG_OP_REG_CREATE: what the core's fast path read on its read txn, for the
     * writer to take instead of reading again while store_people_unchanged says
     * nothing wrote an account or a candidate since (set by eng_submit) */
    struct {
        bool valid;
        uint64_t snapshot;    /* store_txn_snapshot of that read txn */
        store_account_t account;
        store_candidate_t candidate;
    } pre;
    /* the seat ledger */
    int seat_slot;            /* slot taken by eng_submit (-1 none) */
    bool seat_keep;           /* out: the registration used the seat */
    /* outputs */
    bool replayed;            /* res came from the idempotency record */
    eng_result_t res;
    void (*done_cb)(store_req_t *req); /* the submitter's completion */
    void *user;               /* the submitter's (the HTTP call) */
} eng_op_t;

/**
 * Prepares op for kind (zeroes it, sets the writer callbacks). Then fill in
 * and submit with eng_submit from a core thread; done_cb runs on that core
 * after the commit with op->res set.
 */
void eng_op_init(eng_op_t *op, eng_t *e, eng_op_kind_t kind, store_mailbox_t *mb,
                 void (*done_cb)(store_req_t *req));
/**
 * The fast paths that need only a read txn (core thread, rtxn that core's):
 * an Idempotency-Key already answered (op->res from the record, replayed
 * set) or used for another request (CET_E_IDEMPOTENCY_CONFLICT); for a new
 * account, an email already taken. Returns true when op is answered already
 * (op->res set; do not submit it), false to go on. Callers with slow work
 * before the submit (a password hash) run it first; eng_submit runs it too.
 */
bool eng_op_early(eng_op_t *op, store_txn_t *rtxn);
/**
 * Submits op from a core thread. With rtxn (the core's read txn) it first
 * runs eng_op_early and, for a new registration, every rule on rtxn and takes
 * a seat from the ledger (a full offer is CET_E_SEATS_FULL here, in
 * microseconds); rtxn NULL skips the fast paths. Returns true when op was
 * queued: done_cb runs on this core after the commit, with op->res set
 * (CET_E_STORAGE when the batch failed). Returns false when op is answered
 * already (op->res set: a replay, a refusal, CET_E_OVERLOADED or
 * CET_E_DRAINING when the writer cannot take it, CET_E_STORAGE when rtxn
 * failed); done_cb will not run.
 */
bool eng_submit(eng_op_t *op, store_txn_t *rtxn);

/* ---- read-side helpers used by the HTTP layer (core threads) ---- */
typedef enum eng_phase {
    ENG_PHASE_NONE = 0,       /* no sitting configured */
    ENG_PHASE_BEFORE,         /* before lookup opens */
    ENG_PHASE_LOOKUP,         /* lookup only, window not open yet */
    ENG_PHASE_OPEN,           /* registration window */
    ENG_PHASE_CLOSED,         /* window closed, before printing */
    ENG_PHASE_PRINT           /* admission tickets printable */
} eng_phase_t;
eng_phase_t eng_phase(const store_sitting_t *s, int64_t now);
const char *eng_phase_name(eng_phase_t p);
/** API names of review states ("pending"...; NULL for an unknown value) and order states. */
const char *eng_review_state_name(uint8_t state);
const char *eng_order_state_name(uint8_t state);
/** "green" (at least half left), "yellow", or "none". */
const char *eng_seat_colour(uint32_t left, uint32_t capacity);
/** Is subject among the roster record's qualified subjects? */
bool eng_qualified(const store_roster_t *r, char subject);
/** Whether the CET6 review is offered to this (snapshot) record. */
bool eng_review_offered(store_txn_t *txn, const store_t *st, const store_roster_t *r);
/** Masks a name ("张*明"), an ID number ("1101**********002X"), an email ("ab***@163.com"). */
void eng_mask_name(const char *in, char *out, size_t cap);
void eng_mask_id(const char *in, char *out, size_t cap);
void eng_mask_email(const char *in, char *out, size_t cap);
/**
 * What the offer itself decides about a candidate registering it at now:
 * qualified for the subject, inside the
 * offer's window, an oral offer with a fee and an exam date, a campus the
 * school allows (a written subject at the candidate's own; an oral there or,
 * when the school says so, at another campus of its province). CET_E_OK, a
 * refusal, or a storage code. The offers listing shows exactly the offers
 * this accepts; eng_check_registration adds the candidate's registrations.
 */
int eng_offer_eligible(eng_t *e, store_txn_t *txn, const store_candidate_t *c,
                       const store_subject_t *subj, const store_offer_t *o, int64_t now);
/**
 * Every rule of a new registration (subject at campus for the account's
 * candidate), without writing: CET_E_OK, a refusal (cet_err_t), or a storage code
 * (LMDB or errno; base/cet_err.h).
 * The core runs it on its read txn before taking a seat; the writer runs it
 * again in its txn. c_out and o_out get the candidate and the offer.
 */
int eng_check_registration(eng_t *e, store_txn_t *txn, const uint8_t account[16], char subject,
                           uint32_t campus, int64_t now, store_candidate_t *c_out,
                           store_offer_t *o_out);
/** eng_check_registration for an account record already read on txn. */
int eng_check_registration_of(eng_t *e, store_txn_t *txn, const store_account_t *a, char subject,
                              uint32_t campus, int64_t now, store_candidate_t *c_out,
                              store_offer_t *o_out);
/**
 * The rules after the account and its candidate: for records that are what
 * txn would read (the writer with a core's copies, store_people_unchanged).
 */
int eng_check_registration_with(eng_t *e, store_txn_t *txn, const store_account_t *a,
                                const store_candidate_t *c, char subject, uint32_t campus,
                                int64_t now, store_offer_t *o_out);
/* ---- the records a binding and a login make (apply_bind, apply_session_create; cetctl
 * bench-prep prepares candidates offline with the same) ---- */
/**
 * The candidate record of a binding of roster record ro to account at now: the
 * frozen snapshot, and due for deletion hold_ttl_s later while it has no
 * registrations. (A CET6 review approved for the record is the binding's to add.)
 */
void eng_candidate_init(store_candidate_t *c, const store_roster_t *ro, const uint8_t account[16],
                        int64_t now, int64_t hold_ttl_s);
/** A session of kind (STORE_SESSION_*) for account or staff user, from now for CET_SESSION_TTL_S. */
void eng_session_init(store_session_t *s, uint8_t kind, const uint8_t account[16],
                      const char *staff, int64_t now);
/* ---- admission tickets (eng_tickets.c) ---- */
/*
 * ENG_OP_TICKETS does one of two staff writes, named by in.tickets->what:
 * ENG_TICKETS_ARRANGE arranges in.campus/in.subject (every paid registration
 * seated in one txn, api.md "POST /api/v1/admin/arrangements"), and
 * ENG_TICKETS_ROOMS replaces the rooms of in.campus with in.tickets->rooms.
 * Both check the staff scope (in.scope_school / in.scope_province) and are
 * audited. Refusals: CET_E_OFFER_NOT_FOUND, CET_E_FORBIDDEN, CET_E_WINDOW_OPEN,
 * CET_E_NOT_ENOUGH_SEATS, CET_E_INVALID_FIELD (a room out of range).
 */
typedef enum eng_tickets_what { ENG_TICKETS_ARRANGE = 1, ENG_TICKETS_ROOMS = 2 } eng_tickets_what_t;
typedef struct eng_tickets_room {
    uint16_t number;          /* 1..CET_ROOMS_PER_CAMPUS_MAX */
    uint8_t seats;            /* 1..CET_ROOM_SEATS_MAX; 0 = CET_ROOM_SEATS_DEFAULT */
} eng_tickets_room_t;
typedef struct eng_tickets_in {
    eng_tickets_what_t what;
    uint16_t n_rooms;
    eng_tickets_room_t rooms[CET_ROOMS_BODY_MAX];
} eng_tickets_in_t;
/** The apply of ENG_OP_TICKETS (writer thread, inside its txn; dispatched by eng_ops.c). */
int eng_tickets_apply(eng_op_t *op, store_txn_t *txn);
/**
 * Arranges one campus-subject in txn (a write txn) as ENG_OP_TICKETS does,
 * without the scope check or the audit, for cetctl and benchmarks: 0 with
 * *out filled, a cet_err_t refusal, or a storage code.
 */
int eng_tickets_arrange(store_txn_t *txn, store_t *st, uint32_t campus, char subject,
                        int64_t now, store_arrangement_t *out);
/** The ticket's exam time text for a stored registration ("09:00-11:20", an oral slot's). */
void eng_tickets_exam_time(const store_subject_t *subj, uint8_t slot, char *out, size_t cap);

/** Verifies a payment notice signature: hex HMAC-SHA256(secret, body), constant time. */
bool eng_notice_signature_ok(const eng_t *e, const char *body, size_t len, const char *sig_hex);

#endif
