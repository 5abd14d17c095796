/*
 * store.h: the LMDB schema of cetreg and the typed access to it.
 *
 * One LMDB environment holds one exam sitting and everything that belongs to
 * it. docs/storage.md documents every database, its key layout and its value.
 * This header is the whole face of store/: no caller includes <lmdb.h> or
 * calls mdb_* (the store's own files do); LMDB codes reach callers only as
 * ints of the one error space (base/cet_err.h).
 *
 * Conventions (the contract of every function below):
 * - Keys are composite and big-endian so that LMDB's byte order is the
 *   numeric order. No database uses MDB_DUPSORT (0.9.24 has a cursor-delete
 *   bug with duplicates).
 * - Values are the fixed-size packed records declared here, versioned by the
 *   schema version in the meta database. Strings inside records are UTF-8 and
 *   NUL-terminated within their fixed arrays.
 * - Getters copy the record out of the map into caller memory, so nothing a
 *   caller holds dies with the txn. Nothing ever writes into the map directly
 *   (the map is mapped read-only: LMDB writes pages with pwrite, see store_open).
 * - Return values: 0 on success, STORE_NOTFOUND when a key is absent,
 *   STORE_EXISTS when a unique key is taken, otherwise an LMDB code
 *   (-30999..-30000), a STORE_* code or an errno value; store_strerror() and
 *   cet_strerror() name all of them. A *_put that maintains a secondary index
 *   does so in the same txn, so both change together or not at all.
 * - A read txn may be used from the thread that began it only (the cores keep
 *   one store_read_txn_t each, renewed and reset per request). Only the writer
 *   thread, or cetctl holding the data directory, opens write txns.
 * - Ownership: the process that opens a directory for writing holds its lock
 *   file (STORE_LOCK_FILE) until store_close; a second writer gets STORE_LOCKED.
 *   Read-only opens take no lock and may run beside the owner (LMDB readers).
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/cet_limits.h"

/* 3: orders name their registrations, idem keeps results, 64-bit expiry ids, live counts;
 * the account lifecycle's outbox/reset/account_session; 4: the audit log is a hash chain;
 * 5: rooms, arrangements and the reg slot of admission tickets; 6: a hold's expiry entry
 * names its registration by sequence, not by roster_no (a writing open upgrades 5 in
 * place: store_open; docs/storage.md, "Schema versions") */
#define STORE_SCHEMA_VERSION 6
/* The one older version a writing open upgrades in place (store.c, schema_upgrade). */
#define STORE_SCHEMA_UPGRADES_FROM 5

/* Return codes of the store, in the storage range of base/cet_err.h. The
 * first two are LMDB's own values (store.c asserts it). */
#define STORE_NOTFOUND (-30798)     /* MDB_NOTFOUND: the key is absent */
#define STORE_EXISTS (-30799)       /* MDB_KEYEXIST: a unique key is taken */
#define STORE_MAP_FULL (-30792)     /* MDB_MAP_FULL: the txn outgrew the map (writer grows it) */
#define STORE_PANIC (-30795)        /* MDB_PANIC: a commit's flush failed; no more writes here */
#define STORE_CORRUPT (-30500)      /* a record has the wrong size or version */
#define STORE_BADARG (-30501)       /* a caller broke a documented precondition */
#define STORE_LOCKED (-30502)       /* another process holds the data directory */
#define STORE_NOSPACE (-30503)      /* the disk (or the largest map) is full: nothing was written */

/* Flags of store_put_raw (LMDB's MDB_NOOVERWRITE value; store.c asserts it). */
#define STORE_NOOVERWRITE 0x10u

/* The owner's lock file in a data directory (holds "pid\nprogram\n"). */
#define STORE_LOCK_FILE "cetreg.pid"

typedef struct store store_t;
/* An LMDB txn behind an opaque name (the same struct lmdb.h declares). */
typedef struct MDB_txn store_txn_t;

/* A value inside the map: valid only until its txn ends or writes. */
typedef struct store_val {
    const void *data;
    size_t len;
} store_val_t;

/* The named databases. The names are the LMDB names (docs/storage.md). */
typedef enum store_db {
    STORE_DB_META,          /* "meta": string key -> bytes */
    STORE_DB_PROVINCE,      /* u16 province code -> store_province_t */
    STORE_DB_SCHOOL,        /* u32 school code -> store_school_t */
    STORE_DB_CAMPUS,        /* u32 campus code -> store_campus_t */
    STORE_DB_SUBJECT,       /* u8 subject code (ASCII) -> store_subject_t */
    STORE_DB_OFFER,         /* u32 campus ‖ u8 subject -> store_offer_t */
    STORE_DB_ANNOUNCE,      /* u8 scope ‖ u32 code -> UTF-8 text */
    STORE_DB_ROSTER,        /* u8 id_type ‖ id_number bytes -> store_roster_t */
    STORE_DB_ROSTER_NO,     /* u32 roster_no -> roster key (index) */
    STORE_DB_ROSTER_SCHOOL, /* u32 school ‖ u32 roster_no -> empty (index) */
    STORE_DB_SCORE,         /* 15-digit ticket -> store_score_t */
    STORE_DB_ACCOUNT,       /* 16-byte account id -> store_account_t */
    STORE_DB_ACCOUNT_EMAIL, /* lower-case email -> 16-byte account id (index) */
    STORE_DB_CANDIDATE,     /* u32 roster_no -> store_candidate_t */
    STORE_DB_REVIEW,        /* 16-byte account id -> store_review_t */
    STORE_DB_REG,           /* u64 registration seq -> store_reg_t (by candidate: in-memory index) */
    STORE_DB_EXPIRY,        /* u64 due ‖ u8 kind ‖ u64 id ‖ u8 subject -> empty */
    STORE_DB_ORDER,         /* u64 order id -> store_order_t */
    STORE_DB_SESSION,       /* 32-byte SHA-256 of the token -> store_session_t */
    STORE_DB_STAFF,         /* user name -> store_staff_t */
    STORE_DB_IDEM,          /* 16-byte scope ‖ 32-byte SHA-256 of key -> store_idem_t + result */
    STORE_DB_AUDIT,         /* u64 sequence -> store_audit_t + UTF-8 text */
    STORE_DB_NOTICE,        /* gateway_txn (bytes) -> store_notice_t */
    STORE_DB_ROOM,          /* u32 campus ‖ u16 room -> store_room_t (store_tickets.c) */
    STORE_DB_ARRANGEMENT,   /* u32 campus ‖ u8 subject -> store_arrangement_t (store_tickets.c) */
    /* the account lifecycle (store_account.c, the section at the end of this header) */
    STORE_DB_OUTBOX,        /* u8 state ‖ u64 mail id -> store_mail_t + subject + body */
    STORE_DB_RESET,         /* 32-byte SHA-256 of a reset token -> store_reset_t */
    STORE_DB_ACCOUNT_SESSION, /* 16-byte account id ‖ 32-byte session key -> empty (index) */
    STORE_DB__COUNT
} store_db_t;

/* ---- identity documents ---- */
typedef enum store_id_type {
    STORE_ID_MAINLAND = 1, /* 中华人民共和国居民身份证, 18 chars with ISO 7064 check */
    STORE_ID_TAIWAN = 2,   /* 台湾居民往来大陆通行证 */
    STORE_ID_HKMO_PERMIT = 3, /* 港澳居民来往内地通行证 */
    STORE_ID_PASSPORT = 4, /* 护照 */
    STORE_ID_HONGKONG = 5, /* 香港身份证 */
    STORE_ID_MACAO = 6,    /* 澳门身份证 */
    STORE_ID__MAX = 6
} store_id_type_t;

/* ---- the sitting (one per environment, meta key "sitting") ---- */
typedef struct store_sitting {
    uint32_t id;              /* e.g. 20262 = 2026, second half */
    char name[CET_PLACE_NAME_BYTES]; /* 2026年下半年CET考试 */
    int64_t lookup_opens;     /* unix seconds: qualification lookup possible */
    int64_t reg_opens;        /* registration window (binding, subjects) */
    int64_t reg_closes;
    int64_t print_opens;      /* admission tickets printable from */
    int64_t written_date;     /* written exam day (00:00 +08:00) */
    int64_t oral_date_4;      /* oral exam days */
    int64_t oral_date_6;
} store_sitting_t;

typedef struct store_province {
    uint16_t code;            /* 2 digits; 99 = 测试省 */
    char name[CET_PLACE_NAME_BYTES];
} store_province_t;

#define STORE_SCHOOL_ORAL_ELSEWHERE 0x01u /* candidates may take the oral at other schools */
typedef struct store_school {
    uint32_t code;            /* 5 digits */
    uint16_t province;
    uint8_t flags;            /* STORE_SCHOOL_* */
    uint8_t pad_;
    char name[CET_PLACE_NAME_BYTES];
} store_school_t;

typedef struct store_campus {
    uint32_t code;            /* 6 digits = school * 10 + n */
    uint32_t school;
    char name[CET_PLACE_NAME_BYTES];
} store_campus_t;

typedef enum store_subject_kind { STORE_WRITTEN = 1, STORE_ORAL = 2 } store_subject_kind_t;
typedef struct store_subject {
    char code;                /* '1'..'9', 'F', 'S', ... */
    uint8_t kind;             /* store_subject_kind_t */
    uint8_t level;            /* 4 or 6 */
    char written;             /* for an oral subject: its written subject's code, else 0 */
    char language[16];        /* "english", "japanese", ... */
    char name[CET_TEXT_BYTES]; /* 英语四级笔试 */
} store_subject_t;

typedef struct store_offer {
    uint32_t campus;
    char subject;
    uint8_t pad_[3];
    uint32_t capacity;        /* seats */
    uint32_t fee;             /* fen */
    int64_t window_opens;     /* unix seconds */
    int64_t window_closes;
    int64_t exam_date;        /* 0 = not set (oral offers need one) */
} store_offer_t;

/* Announcement scopes (STORE_DB_ANNOUNCE key byte 0). */
#define STORE_ANNOUNCE_PROVINCE 1
#define STORE_ANNOUNCE_SCHOOL 2

typedef enum store_education {
    STORE_EDU_BACHELOR = 1, /* 本科 */
    STORE_EDU_ASSOCIATE = 2, /* 专科 */
    STORE_EDU_GRADUATE = 3  /* 研究生 */
} store_education_t;

#define STORE_ROSTER_CET6_BARRED 0x01u
#define STORE_ROSTER_MALE 0x02u
typedef struct store_roster {
    uint32_t roster_no;       /* stable number, assigned at first import */
    uint32_t school;
    uint32_t campus;
    uint8_t id_type;          /* store_id_type_t */
    uint8_t flags;            /* STORE_ROSTER_* */
    uint8_t education;        /* store_education_t */
    uint8_t program_years;    /* 学制 */
    uint16_t entry_year;      /* 入学年份, e.g. 2024 */
    uint8_t grade;            /* 年级 */
    uint8_t n_subjects;
    char subjects[CET_SUBJECTS_MAX]; /* qualified subject codes (资格科目) */
    char id_number[CET_ID_NUMBER_BYTES];
    char name[CET_NAME_BYTES];
    char department[CET_TEXT_BYTES];
    char major[CET_TEXT_BYTES];
    char class_name[CET_SHORT_BYTES];
    char student_no[CET_SHORT_BYTES];
    char remarks[CET_REMARK_BYTES];
} store_roster_t;

typedef struct store_score {
    char ticket[CET_TICKET_DIGITS + 1];
    char id_number[CET_ID_NUMBER_BYTES];
    char name[CET_NAME_BYTES];
    uint16_t score;           /* 0..710 */
    uint16_t year;            /* e.g. 2024 */
    uint8_t level;            /* 4 */
    uint8_t pad_[3];
} store_score_t;

#define STORE_ACCOUNT_ID_BYTES 16
typedef struct store_account {
    uint8_t id[STORE_ACCOUNT_ID_BYTES];
    char email[CET_EMAIL_BYTES];         /* as given; the index holds it lower-cased */
    char pwhash[CET_PWHASH_BYTES];       /* argon2id string (crypto_pwhash_str) */
    char phone[CET_SHORT_BYTES];
    int64_t created;
    int64_t agreed_at;                   /* 0 = agreement not accepted */
    uint32_t roster_no;                  /* bound candidate, 0 = none */
    uint32_t pad_;
} store_account_t;

typedef struct store_candidate {
    uint8_t account[STORE_ACCOUNT_ID_BYTES];
    int64_t bound_at;
    int64_t empty_due;        /* deletion time while it has no registrations, else 0 */
    store_roster_t snapshot;  /* frozen at binding; may gain '2' by CET6 review */
} store_candidate_t;

typedef enum store_review_state {
    STORE_REVIEW_AUTO_APPROVED = 1,
    STORE_REVIEW_PENDING = 2,
    STORE_REVIEW_APPROVED = 3,
    STORE_REVIEW_REJECTED = 4
} store_review_state_t;
typedef struct store_review {
    uint8_t account[STORE_ACCOUNT_ID_BYTES];
    uint32_t roster_no;
    uint8_t state;            /* store_review_state_t */
    uint8_t id_type;
    uint8_t pad_[2];
    char ticket[CET_TICKET_DIGITS + 1];
    char id_number[CET_ID_NUMBER_BYTES];
    char name[CET_NAME_BYTES];
    int64_t created;
    int64_t decided;
} store_review_t;

typedef enum store_reg_method { STORE_BY_CANDIDATE = 1, STORE_BY_SCHOOL = 2 } store_reg_method_t;
#define STORE_REG_PAID 0x01u
#define STORE_REG_ARRANGED 0x02u
#define STORE_REG_LOCKED 0x04u     /* locked by the school for group payment */
#define STORE_REG_REFUND 0x08u     /* paid by a late notice after the hold was gone */
typedef struct store_reg {
    uint32_t roster_no;
    uint32_t campus;
    char subject;
    uint8_t flags;            /* STORE_REG_* */
    uint8_t method;           /* store_reg_method_t */
    uint8_t pad_;
    uint32_t fee;             /* fen, fixed at registration */
    int64_t created;
    int64_t expires;          /* when the hold ends (the expiry index entry); 0 while paid,
                                 locked or in a pending order */
    uint64_t order_id;        /* pending or paying order, 0 = none */
    int64_t hold_due;         /* the hold's deadline while unpaid (kept while paused) */
    uint16_t room;            /* arrangement, when STORE_REG_ARRANGED */
    uint8_t seat;
    uint8_t slot;             /* oral time slot 1..ENG_ARRANGE_SLOTS_MAX when arranged; written 0 */
    uint8_t pad2_[4];
    uint64_t seq;             /* its key in STORE_DB_REG; 0 in a record not yet stored */
} store_reg_t;

/* Expiry index kinds (STORE_DB_EXPIRY key byte 8). */
#define STORE_EXPIRE_HOLD 1       /* an unpaid registration's seat hold */
#define STORE_EXPIRE_CANDIDATE 2  /* a bound candidate with no registrations */
#define STORE_EXPIRE_ORDER 3      /* a pending payment order's timeout (subject = 0) */

typedef enum store_order_state {
    STORE_ORDER_PENDING = 1,
    STORE_ORDER_PAID = 2,
    STORE_ORDER_EXPIRED = 3,
    STORE_ORDER_REFUND = 4    /* paid after it expired; marked for refund */
} store_order_state_t;
/*
 * The registrations an order was made for: subjects[i] of the candidate as it
 * was then, the one stored under reg_seq[i] at reg_campus[i] for reg_fee[i]
 * fen (amount is their sum). A notice pays exactly those; a registration of
 * the same subject made again (another sequence) is not one of them.
 */
typedef struct store_order {
    uint64_t id;
    uint32_t roster_no;
    uint32_t amount;          /* fen */
    uint8_t account[STORE_ACCOUNT_ID_BYTES];
    uint8_t state;            /* store_order_state_t */
    uint8_t n_subjects;
    char channel[14];
    char subjects[CET_ORDER_SUBJECTS_MAX];
    int64_t created;
    int64_t expires;
    int64_t paid_at;
    char gateway_txn[64];
    uint64_t reg_seq[CET_ORDER_SUBJECTS_MAX];
    uint32_t reg_campus[CET_ORDER_SUBJECTS_MAX];
    uint32_t reg_fee[CET_ORDER_SUBJECTS_MAX];
} store_order_t;

typedef struct store_notice {
    uint64_t order_id;
    uint32_t amount;
    uint8_t outcome;          /* store_order_state_t the order reached */
    uint8_t pad_[3];
    int64_t received;
} store_notice_t;

#define STORE_SESSION_CANDIDATE 1
#define STORE_SESSION_STAFF 2
typedef struct store_session {
    uint8_t account[STORE_ACCOUNT_ID_BYTES]; /* account id, or staff: first bytes of name */
    uint8_t kind;             /* STORE_SESSION_* */
    uint8_t pad_[7];
    int64_t created;
    int64_t expires;
    char staff[CET_SHORT_BYTES]; /* staff user name for staff sessions */
} store_session_t;

typedef enum store_staff_role {
    STORE_STAFF_SCHOOL = 1,
    STORE_STAFF_PROVINCE = 2,
    STORE_STAFF_SUPPORT = 3   /* national support desk: rebinding */
} store_staff_role_t;
typedef struct store_staff {
    char user[CET_SHORT_BYTES];
    char pwhash[CET_PWHASH_BYTES];
    uint8_t role;             /* store_staff_role_t */
    uint8_t pad_[3];
    uint32_t scope;           /* school code or province code */
} store_staff_t;

/* The first result of an Idempotency-Key: this header, then result_len bytes of the engine's result. */
typedef struct store_idem {
    uint8_t request_hash[16]; /* XXH3-128 of what makes the request this request */
    int64_t created;
    uint32_t kind;            /* the engine's op kind */
    uint32_t result_len;      /* sizeof the engine's eng_result_t */
} store_idem_t;

typedef struct store_audit {
    int64_t at;
    char actor[CET_SHORT_BYTES]; /* staff user, "cetctl", "engine" */
    char action[CET_SHORT_BYTES];
    uint32_t text_len;        /* UTF-8 detail follows */
    uint32_t pad_;
} store_audit_t;

/* ---- environment ---- */
typedef struct store_options {
    const char *dir;          /* created if missing (not when read_only) */
    bool sync;                /* fsync at commit (--sync full); false only on request */
    bool read_only;           /* no lock, no writes: beside a live owner (cetctl export...) */
    unsigned readers;         /* reader slots; 0 = CET_READERS_MAX */
    size_t map_bytes;         /* map of a NEW environment; 0 = CET_MAP_INITIAL_BYTES (tests use
                                 small). An existing one keeps the map its meta page records. */
    const char *owner;        /* program named in the lock file ("cetd"); NULL = "cetreg" */
    size_t replay_txn_bytes;  /* recovery applies about this much log per txn; 0 =
                                 CET_LOG_REPLAY_TXN_BYTES (tests set it small) */
    bool no_upgrade;          /* a writing open that leaves a schema STORE_SCHEMA_UPGRADES_FROM
                                 as it is (the recovery a read-only open runs first) */
} store_options_t;

/**
 * Opens (creating if needed) the environment in opt->dir.
 * - Writing opens first take the directory's lock: an exclusive flock on
 *   opt->dir/STORE_LOCK_FILE, which then holds this process's pid and
 *   opt->owner, kept until store_close (PostgreSQL's postmaster.pid). Held by
 *   another process: STORE_LOCKED, nothing else touched (store_dir_holder
 *   names the holder). The lock dies with the process, so a crash leaves no
 *   stale lock, only a stale pid in the file.
 * - The map: a new environment gets opt->map_bytes; an existing one the size
 *   its meta page records (what the last owner grew it to, never more: a
 *   restart never grows the map), at least what is in use.
 * - No MDB_WRITEMAP: LMDB writes dirty pages with pwrite at commit, so a full
 *   disk is an error code of that commit (the writer answers storage_full),
 *   never a SIGBUS on a store into a sparse map. lock.mdb is preallocated.
 * - mdb_reader_check clears stale reader slots; every database is opened and
 *   the schema version written on first use; the registration index is built.
 * Returns 0 and *out (the caller owns it: store_close), STORE_LOCKED,
 * STORE_CORRUPT (a schema version on disk other than STORE_SCHEMA_VERSION),
 * STORE_BADARG, an LMDB code or errno. Failures other than STORE_LOCKED are
 * logged.
 */
int store_open(const store_options_t *opt, store_t **out);
/** Closes the environment and releases the directory lock. All txns must be finished. */
void store_close(store_t *st);
/**
 * Who holds dir (reads dir/STORE_LOCK_FILE): 0 with *pid and the program
 * name (NUL-terminated in what[0..cap)), or an errno when the file is missing
 * or unreadable. The file is informative only; the flock is the lock.
 */
int store_dir_holder(const char *dir, pid_t *pid, char *what, size_t cap);
/** A readable name for rc (LMDB, errno or STORE_* code). Static string. */
const char *store_strerror(int rc);
/** The current map size in bytes (any thread; tests and /metrics). */
size_t store_map_bytes(store_t *st);
/**
 * Makes everything committed so far durable (fsync), for jobs that opened
 * with sync false and flush once at the end. 0 or errno.
 */
int store_sync(store_t *st);
/** The commit log's counters (all zero without one). */
typedef struct store_log_stats {
    uint64_t checkpoints;        /* checkpoints made durable since open */
    uint64_t records;            /* commit records written since open */
    uint64_t replayed;           /* records applied again at open (recovery) */
    uint64_t checkpoint_ns_last; /* how long the last checkpoint took */
    uint64_t checkpoint_failures; /* checkpoints that failed since open */
    bool checkpoint_failing;     /* the last one failed (data.mdb grows until one succeeds) */
    uint64_t checkpoint_age_ms;  /* since the last durable checkpoint (or the open) */
} store_log_stats_t;
void store_log_stats(store_t *st, store_log_stats_t *out);

/* ---- backups (store_backup.c; cetctl backup and restore) ---- */
typedef struct store_copy_info {
    uint64_t bytes;         /* size of the data.mdb written */
    uint64_t source_bytes;  /* size of the data.mdb it was made from */
} store_copy_info_t;
/**
 * Writes a consistent copy of the environment in dir to out_dir/data.mdb
 * while its owner (cetd) runs and writes: LMDB's mdb_env_copyfd2 with
 * MDB_CP_COMPACT (free pages left out) from one read txn, on a read-only
 * open that takes no directory lock; the copy is the snapshot of the moment
 * that txn began, and the owner's later writes are not in it. out_dir must be
 * absent (it is created with the owner and mode of dir) or an empty
 * directory. The copy is written under a temporary name in out_dir that has
 * the owner and mode of dir/data.mdb (0640) before its first byte, fsynced,
 * checked to open as an environment of STORE_SCHEMA_VERSION, renamed to
 * data.mdb, and out_dir (and its parent, when created) fsynced. No lock.mdb
 * is made. info (may be NULL) gets the sizes.
 * Returns 0; ENOTEMPTY or ENOTDIR (out_dir is not an absent or empty
 * directory); ENOENT (no dir/data.mdb); EPERM (the owner of the data cannot
 * be given to the copy: run as root or as that owner); STORE_CORRUPT or
 * MDB_INVALID (the copy does not read back as this schema); STORE_BADARG
 * (a path too long); another LMDB code or errno. On failure out_dir holds no
 * data.mdb and no temporary file, and is removed if this call created it.
 * Any thread, any process (cetctl); blocks for the copy (I/O-bound; the
 * owner's writes meanwhile cannot reuse the snapshot's pages, so data.mdb may
 * grow by what they write).
 */
int store_backup(const char *dir, const char *out_dir, store_copy_info_t *info);
/**
 * Puts a backup into dir as its data.mdb. backup is a store_backup directory
 * (or the path of its data.mdb); it is checked first (it opens as an
 * environment of STORE_SCHEMA_VERSION), so a bad one changes nothing. dir
 * must be absent (created with the owner and mode of the backup's directory)
 * or empty; with force it may hold data, which is replaced. dir's lock
 * (STORE_LOCK_FILE) is taken before anything in it changes and held to the
 * end, so a directory that a process (cetd, a writing cetctl) holds gives
 * STORE_LOCKED and is left alone, and no cetd can start on it meanwhile; the
 * lock file gets the backup's owner, for the next owner to open. The backup
 * is copied under a temporary name with its owner and mode, fsynced, checked
 * again, renamed over data.mdb; the old lock.mdb (the replaced data's reader
 * table) is removed and dir fsynced. info (may be NULL) gets the sizes.
 * Returns 0; STORE_LOCKED; ENOTEMPTY (dir holds something, without force);
 * ENOTDIR; ENOENT (no backup); EPERM (the backup's owner cannot be given);
 * STORE_CORRUPT or MDB_INVALID (not a backup of this schema); STORE_BADARG;
 * another LMDB code or errno. On failure before the rename dir's data is as
 * it was; after it (only the final fsync can fail) the backup is in place.
 * The invariant check is the caller's (cetctl restore runs cetctl check).
 */
int store_restore(const char *backup, const char *dir, bool force, store_copy_info_t *info);

/**
 * Begins a read txn (MDB_RDONLY) for a short job; end it with store_abort
 * (or store_commit) on the same thread. Map growth waits for it to end, so
 * never hold one across a wait for the writer. With MDB_NOTLS a thread may
 * hold several. Returns 0, or an LMDB code or errno.
 */
int store_read_begin(store_t *st, store_txn_t **txn);

/*
 * A reusable read txn, one per core thread (MDB_NOTLS: parked between uses
 * with mdb_txn_reset, so it keeps its reader slot and costs no allocation).
 * Between store_read_txn_renew and store_read_txn_reset the map cannot be
 * grown (store_grow waits); outside, it can. Map growth therefore never
 * pulls the map from under a reader: mdb_env_set_mapsize requires that no txn
 * of the process be active, and this is how the store guarantees it. The
 * cost on the read path is one atomic add and one load on the reader's own
 * cache line per renew, one atomic sub per reset (docs/storage.md). Its txn
 * is ended only by store_read_txn_reset/free, never by store_abort/commit.
 */
typedef struct store_read_txn store_read_txn_t;
/** A parked read txn for the calling thread. 0 or an LMDB code/errno. */
int store_read_txn_new(store_t *st, store_read_txn_t **out);
/**
 * Renews rt (a fresh snapshot) and gives its txn in *txn, valid until
 * store_read_txn_reset. Waits while the writer grows the map. Renewing a
 * live one gives the same txn. 0 or an LMDB code/errno (*txn NULL).
 */
int store_read_txn_renew(store_read_txn_t *rt, store_txn_t **txn);
/** Parks rt: the snapshot and every store_val_t from it die. Idempotent. */
void store_read_txn_reset(store_read_txn_t *rt);
/** Frees rt (parked or live), on the thread that used it. NULL is fine. */
void store_read_txn_free(store_read_txn_t *rt);

/**
 * Begins a write txn. Only one may exist at a time in the process (LMDB);
 * outside cetctl it is the writer thread's alone. STORE_PANIC once the
 * commit log or a checkpoint has failed in this process (see store_commit): restart it.
 */
int store_write_begin(store_t *st, store_txn_t **txn);
/**
 * Commits txn (a write txn, or ends a store_read_begin txn). On STORE_MAP_FULL the txn is
 * gone: call store_grow and redo the work (store_write_run and the writer do).
 * A full disk gives ENOSPC, EDQUOT, EFBIG or EIO (store_rc_is_nospace).
 * With sync (store_options_t), a write txn is durable when this returns 0:
 * its puts and deletes are one record of the commit log, written and
 * fdatasynced before LMDB commits it (without a flush of its own; the
 * checkpoints make LMDB durable, store_log.c). A txn too big for one record
 * (CET_LOG_TXN_BYTES_MAX) is committed and then checkpointed at once. A
 * failed log write undoes the record and fails the commit (nothing visible);
 * when even that undo or a checkpoint fails, every later store_write_begin
 * gives STORE_PANIC.
 */
int store_commit(store_txn_t *txn);
/* What a store_commit_timed did (the writer's commit and fsync histograms). */
typedef struct store_commit_info {
    bool wrote;        /* a write txn that changed something committed */
    uint64_t sync_ns;  /* the commit log's fdatasync of it; 0 without sync or when !wrote */
} store_commit_info_t;
/**
 * store_commit, saying in *info (caller's memory, never NULL) whether the
 * txn wrote anything and, when it was timed, how long its last flush took. A write txn that
 * changed nothing (an idle expiry tick) commits without any I/O and is not
 * flushed.
 */
int store_commit_timed(store_txn_t *txn, store_commit_info_t *info);
void store_abort(store_txn_t *txn);
/** The id of the snapshot a txn reads (LMDB's txn id; a write txn: the one it makes). */
uint64_t store_txn_snapshot(store_txn_t *txn);
/**
 * Whether every account and candidate record read on a read txn of snapshot
 * `snapshot` (store_txn_snapshot) is still what write txn wtxn would read: no
 * txn that wrote one (store_put_raw/store_del_raw and the walks, on
 * STORE_DB_ACCOUNT or STORE_DB_CANDIDATE) has committed after that snapshot,
 * and wtxn has written none so far. The writer thread only (wtxn its txn). The
 * engine's writer then takes the copies a core read for a registration's
 * rules instead of two random B-tree reads (engine/eng_ops.c, apply_reg_create).
 */
bool store_people_unchanged(store_txn_t *wtxn, const store_t *st, uint64_t snapshot);
/**
 * Grows the map by CET_MAP_GROW_FACTOR (up to CET_MAP_BYTES_MAX, then
 * STORE_NOSPACE). No write txn may be open; read txns of other threads are
 * waited for (at most CET_MAP_GROW_WAIT_MS, then CET_AGAIN), and one held by
 * the calling thread gives CET_AGAIN at once instead of a deadlock.
 */
int store_grow(store_t *st);
/**
 * Is the file system under st nearly full: less than CET_DISK_FULL_MARGIN_BYTES
 * free (or 1/16 of its size, if that is less)? Any thread; one statvfs.
 */
bool store_space_low(store_t *st);
/**
 * Did a write fail for lack of space? True for STORE_NOSPACE, ENOSPC, EDQUOT
 * and EFBIG, and for EIO when store_space_low (LMDB turns a short pwrite into EIO).
 */
bool store_rc_is_nospace(store_t *st, int rc);
/**
 * Runs fn(txn, arg) in a write txn and commits, growing the map and retrying
 * once per doubling on STORE_MAP_FULL. fn returns 0 to commit or any other
 * value to abort (that value is returned). A full disk gives STORE_NOSPACE;
 * a growth that had to wait too long for readers gives CET_AGAIN.
 */
int store_write_run(store_t *st, int (*fn)(store_txn_t *txn, void *arg), void *arg);

/* ---- raw access: any database, caller-built keys ---- */
/** Copies the value of key into buf (up to cap bytes); *len gets its full size. */
int store_get_raw(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen, void *buf, size_t cap, size_t *len);
/** Points *val at the value inside the map; valid only until txn ends or writes. */
int store_get_ref(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen, store_val_t *val);
/** Puts (flags: 0 or STORE_NOOVERWRITE, which gives STORE_EXISTS for a taken key). */
int store_put_raw(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen, const void *val, size_t vlen, unsigned flags);
int store_del_raw(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen);
/** Number of entries in db. */
int store_count(store_txn_t *txn, const store_t *st, store_db_t db, size_t *n);

/* ---- big-endian key packing ---- */
static inline void store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void store_be64(uint8_t *p, uint64_t v)
{
    store_be32(p, (uint32_t)(v >> 32));
    store_be32(p + 4, (uint32_t)v);
}
static inline uint32_t store_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t store_rd64(const uint8_t *p)
{
    return (uint64_t)store_rd32(p) << 32 | store_rd32(p + 4);
}

/** Roster key: id_type ‖ id_number (upper-cased). Returns its length (0 if too long). */
size_t store_roster_key(uint8_t out[1 + CET_ID_NUMBER_BYTES], uint8_t id_type,
                        const char *id_number);
/** Offer key: campus ‖ subject (5 bytes). */
void store_offer_key(uint8_t out[5], uint32_t campus, char subject);
/**
 * Expiry key: due (seconds, as u64) ‖ kind ‖ id ‖ subject (18 bytes). id (u64,
 * never narrowed): a hold's registration sequence (its STORE_DB_REG key), a
 * candidate's roster_no, an order's id. Within one second's due the keys of one
 * kind sort by id: holds by sequence are appended in the order they are made,
 * where by roster_no each landed on a page of its own (schema 6; docs/storage.md).
 */
#define STORE_EXPIRY_KEY_BYTES 18
void store_expiry_key(uint8_t out[STORE_EXPIRY_KEY_BYTES], int64_t due, uint8_t kind,
                      uint64_t id, char subject);
static inline uint64_t store_expiry_key_id(const uint8_t k[STORE_EXPIRY_KEY_BYTES])
{
    return store_rd64(k + 9);
}
static inline char store_expiry_key_subject(const uint8_t k[STORE_EXPIRY_KEY_BYTES])
{
    return (char)k[17];
}

/* ---- typed records ---- */
int store_sitting_get(store_txn_t *txn, const store_t *st, store_sitting_t *out);
int store_sitting_put(store_txn_t *txn, const store_t *st, const store_sitting_t *s);

int store_province_get(store_txn_t *txn, const store_t *st, uint16_t code, store_province_t *out);
int store_province_put(store_txn_t *txn, const store_t *st, const store_province_t *p);
int store_school_get(store_txn_t *txn, const store_t *st, uint32_t code, store_school_t *out);
int store_school_put(store_txn_t *txn, const store_t *st, const store_school_t *s);
int store_campus_get(store_txn_t *txn, const store_t *st, uint32_t code, store_campus_t *out);
int store_campus_put(store_txn_t *txn, const store_t *st, const store_campus_t *c);
int store_subject_get(store_txn_t *txn, const store_t *st, char code, store_subject_t *out);
int store_subject_put(store_txn_t *txn, const store_t *st, const store_subject_t *s);
int store_offer_get(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                    store_offer_t *out);
int store_offer_put(store_txn_t *txn, const store_t *st, const store_offer_t *o);
/** Announcement text (scope STORE_ANNOUNCE_*); out gets a NUL-terminated copy. */
int store_announce_get(store_txn_t *txn, const store_t *st, uint8_t scope, uint32_t code,
                       char *out, size_t cap);
int store_announce_put(store_txn_t *txn, const store_t *st, uint8_t scope, uint32_t code,
                       const char *text);

int store_roster_get(store_txn_t *txn, const store_t *st, uint8_t id_type, const char *id_number,
                     store_roster_t *out);
int store_roster_get_by_no(store_txn_t *txn, const store_t *st, uint32_t roster_no,
                           store_roster_t *out);
/**
 * Inserts or replaces a roster record. A new record gets the next roster_no
 * (r->roster_no is set); a replaced one keeps its number. The roster_no and
 * school indexes follow in the same txn (a school change moves the index).
 */
int store_roster_put(store_txn_t *txn, const store_t *st, store_roster_t *r);

int store_score_get(store_txn_t *txn, const store_t *st, const char *ticket, store_score_t *out);
int store_score_put(store_txn_t *txn, const store_t *st, const store_score_t *s);

int store_account_get(store_txn_t *txn, const store_t *st, const uint8_t id[16],
                      store_account_t *out);
/** Looks an account up by email (case-insensitive). */
int store_account_by_email(store_txn_t *txn, const store_t *st, const char *email,
                           store_account_t *out);
/**
 * Inserts a new account (STORE_EXISTS if the id or the email is taken) or,
 * with replace, rewrites one, moving the email index if the email changed.
 */
int store_account_put(store_txn_t *txn, const store_t *st, const store_account_t *a, bool replace);

int store_candidate_get(store_txn_t *txn, const store_t *st, uint32_t roster_no,
                        store_candidate_t *out);
/** Puts a candidate and keeps its STORE_EXPIRE_CANDIDATE index entry equal to empty_due. */
int store_candidate_put(store_txn_t *txn, const store_t *st, uint32_t roster_no,
                        const store_candidate_t *c);
/** Deletes a candidate and its expiry entry (the account's roster_no is the caller's). */
int store_candidate_del(store_txn_t *txn, const store_t *st, uint32_t roster_no);

int store_review_get(store_txn_t *txn, const store_t *st, const uint8_t account[16],
                     store_review_t *out);
int store_review_put(store_txn_t *txn, const store_t *st, const store_review_t *r);
int store_review_del(store_txn_t *txn, const store_t *st, const uint8_t account[16]);

/*
 * Registrations are keyed by a sequence number given at their first put, so
 * every new one is appended at the tail of the B-tree (one random page per
 * registration was what bounded durable writes per second). They are found
 * by candidate through an in-memory index that store_open rebuilds and that
 * follows each write txn: its changes are published when store_commit
 * succeeds and dropped by store_abort. Inside a write txn the functions below
 * see that txn's own changes; in a read txn they see what was committed, and
 * a registration committed after the read txn began reads as absent.
 * Only one process may write registrations at a time (cetd, or cetctl on an
 * environment no cetd has open).
 */
int store_reg_get(store_txn_t *txn, const store_t *st, uint32_t roster_no, char subject,
                  store_reg_t *out);
/**
 * Puts a registration and keeps its STORE_EXPIRE_HOLD index entry equal to
 * r->expires (none when 0). old_expires is the value on disk before (0 if new
 * or none), so the stale entry can be removed without a read. A new record
 * (r->seq == 0) gets the next sequence number in r->seq. STORE_BADARG when the
 * candidate already has CET_CANDIDATE_REGS_MAX (7) registrations.
 */
int store_reg_put(store_txn_t *txn, const store_t *st, store_reg_t *r, int64_t old_expires);
/** Deletes a registration and its hold entry. */
int store_reg_del(store_txn_t *txn, const store_t *st, const store_reg_t *r);
/** The registration stored under sequence seq (STORE_DB_REG's key; a hold entry's id). */
int store_reg_get_seq(store_txn_t *txn, const store_t *st, uint64_t seq, store_reg_t *out);
/** All registrations of one candidate, in subject order; returns how many (<= cap) or < 0. */
int store_reg_list(store_txn_t *txn, const store_t *st, uint32_t roster_no, store_reg_t *out,
                   int cap);

int store_order_get(store_txn_t *txn, const store_t *st, uint64_t id, store_order_t *out);
/** Puts an order; keeps its STORE_EXPIRE_ORDER entry while pending. */
int store_order_put(store_txn_t *txn, const store_t *st, const store_order_t *o,
                    int64_t old_expires);
/** Next order id (meta counter), allocated in txn. */
int store_order_next_id(store_txn_t *txn, const store_t *st, uint64_t *id);

int store_session_get(store_txn_t *txn, const store_t *st, const uint8_t token_hash[32],
                      store_session_t *out);
int store_session_put(store_txn_t *txn, const store_t *st, const uint8_t token_hash[32],
                      const store_session_t *s);
int store_session_del(store_txn_t *txn, const store_t *st, const uint8_t token_hash[32]);

int store_staff_get(store_txn_t *txn, const store_t *st, const char *user, store_staff_t *out);
int store_staff_put(store_txn_t *txn, const store_t *st, const store_staff_t *s);

/** Appends an audit record with no target (store_audit_log: the chained entry). */
int store_audit_append(store_txn_t *txn, const store_t *st, int64_t at, const char *actor,
                       const char *action, const char *text);

/* ---- the school's side: audit chain, announcements (store_admin.c) ---- */
/*
 * The audit log is a hash chain. Each entry's value is a store_audit_t, its
 * detail (text_len bytes), then a store_audit_chain_t: the target the action
 * was about, the previous entry's hash and its own. An entry's hash is
 * SHA-256 over seven netstrings ("LEN:BYTES,", LEN in decimal) of, in order:
 * seq (decimal), at (RFC 3339 as cet_time_format writes it, +08:00), actor,
 * action, target, detail, prev_hash (64 lower-case hex digits; 64 zeros for
 * the first entry). The API returns exactly these fields, so anyone can
 * recompute the chain (docs/storage.md, "audit").
 */
#define STORE_AUDIT_TARGET_BYTES 64
typedef struct store_audit_chain {
    char target[STORE_AUDIT_TARGET_BYTES]; /* "school:10013", "offer:100130/1", "" */
    uint8_t prev_hash[32];
    uint8_t hash[32];
} store_audit_chain_t;

/** One audit entry decoded (store_audit_decode). */
typedef struct store_audit_entry {
    uint64_t seq;
    int64_t at;
    char actor[CET_SHORT_BYTES];
    char action[CET_SHORT_BYTES];
    char target[STORE_AUDIT_TARGET_BYTES];
    char detail[CET_AUDIT_TEXT_BYTES_MAX + 1];
    uint8_t prev_hash[32];
    uint8_t hash[32];
} store_audit_entry_t;

/**
 * Appends an audit entry chained to the last one (write txn): sequence from
 * the meta counter "audit_seq", the chain head kept in meta "audit_head".
 * target and detail may be "" (detail is cut at CET_AUDIT_TEXT_BYTES_MAX).
 */
int store_audit_log(store_txn_t *txn, const store_t *st, int64_t at, const char *actor,
                    const char *action, const char *target, const char *detail);
/** The hash of e as the chain defines it (pure; e->hash is not read). */
void store_audit_hash(const store_audit_entry_t *e, uint8_t out[32]);
/** Decodes an audit record (key: u64 seq); STORE_CORRUPT when it is not one. */
int store_audit_decode(const void *key, size_t klen, const void *val, size_t vlen,
                       store_audit_entry_t *out);
/**
 * Calls fn for every entry with seq > after, in order, at most max of them
 * (0: all); fn returns CET_OK to go on, CET_DONE to stop, anything else to fail
 * with that code (store_scan's convention).
 */
int store_audit_scan(store_txn_t *txn, const store_t *st, uint64_t after, uint64_t max,
                     int (*fn)(const store_audit_entry_t *e, void *arg), void *arg);
/**
 * Verifies the whole chain: sequences 1..audit_seq without a gap, each
 * prev_hash the previous hash, each hash recomputed, the last one the head.
 * Returns 0 with *entries, CET_REFUSED with *bad_seq (the first entry that is
 * wrong; audit_seq + 1 when entries are missing at the end) and why[cap]
 * filled, or a storage code.
 */
int store_audit_verify(store_txn_t *txn, const store_t *st, uint64_t *entries,
                       uint64_t *bad_seq, char *why, size_t cap);

/* Announcements posted by staff: key scope ‖ u32 code ‖ u32 id in STORE_DB_ANNOUNCE
 * (beside the 5-byte key of the text candidates see); value this header, title, body. */
typedef struct store_announcement {
    uint32_t id;
    uint8_t scope;            /* STORE_ANNOUNCE_PROVINCE or _SCHOOL */
    uint8_t pad_[3];
    uint32_t code;            /* province or school code */
    uint16_t title_len, body_len;
    int64_t at;
    char actor[CET_SHORT_BYTES];
} store_announcement_t;
#define STORE_ANNOUNCE_TITLE_BYTES_MAX 200

/** Adds an announcement (a->id is given from meta "announce_id"); title and body UTF-8. */
int store_announcement_add(store_txn_t *txn, const store_t *st, store_announcement_t *a,
                           const char *title, const char *body);
/** Finds announcement id: its header (title and body copied when the buffers are given). */
int store_announcement_get(store_txn_t *txn, const store_t *st, uint32_t id,
                           store_announcement_t *out, char *title, size_t tcap, char *body,
                           size_t bcap);
int store_announcement_del(store_txn_t *txn, const store_t *st, const store_announcement_t *a);
/** Calls fn for each announcement of (scope, code), oldest first; scope 0: all of them. */
int store_announcement_scan(store_txn_t *txn, const store_t *st, uint8_t scope, uint32_t code,
                            int (*fn)(const store_announcement_t *a, const char *title,
                                      const char *body, void *arg),
                            void *arg);

/* ---- iteration ---- */
/**
 * Calls fn(key, klen, val, vlen, arg) for every entry of db whose key starts
 * with prefix (all entries when plen is 0), in key order. The pointers die
 * when fn returns. The walk callback convention (base/cet_err.h space):
 *   fn returns CET_OK        to go on;
 *              CET_DONE      to stop early on purpose: store_scan returns CET_OK;
 *              anything else to stop: store_scan returns that value as is
 *                            (STORE_CORRUPT, an errno, a cet_err_t refusal...).
 * store_scan returns CET_OK after the last entry, or an LMDB code when the
 * walk itself fails. fn must not write to the txn.
 */
typedef int (*store_scan_cb)(const void *key, size_t klen, const void *val, size_t vlen,
                             void *arg);
int store_scan(store_txn_t *txn, const store_t *st, store_db_t db, const void *prefix,
               size_t plen, store_scan_cb fn, void *arg);

/**
 * Sees one entry of store_update: val is a writable copy of its value (vlen
 * bytes). Set *changed to have the copy written back in place (same length).
 * Returns like store_scan_cb: CET_OK, CET_DONE, or a code to stop with.
 */
typedef int (*store_update_cb)(const void *key, size_t klen, void *val, size_t vlen,
                               bool *changed, void *arg);
/**
 * Walks db (write txn) from the first key >= from[0..flen) (the start when
 * flen is 0) in key order and writes back each value fn changed, through the
 * walk's own cursor (no second lookup per entry). Values longer than
 * STORE_UPDATE_VALUE_BYTES_MAX give STORE_BADARG. Returns CET_OK (the end,
 * or fn said CET_DONE), fn's other code, or an LMDB code.
 */
#define STORE_UPDATE_VALUE_BYTES_MAX 4096
int store_update(store_txn_t *txn, const store_t *st, store_db_t db, const void *from,
                 size_t flen, store_update_cb fn, void *arg);

/**
 * Says whether an entry met by store_sweep is dead (to delete). Same pointer
 * lifetime as store_scan_cb. It must not touch the txn.
 */
typedef bool (*store_dead_cb)(const void *key, size_t klen, const void *val, size_t vlen,
                              void *arg);
/**
 * A bounded, resumable sweep (write txn): looks at up to max entries of db
 * from the first key >= from[0..flen) (from the start when flen is 0) and
 * deletes each one dead_cb calls dead. Where the next sweep resumes goes to
 * next[0..next_cap): *next_len is its length. Returns CET_OK (stopped after
 * max entries; resume at next), CET_DONE (reached the end of db: *next_len 0,
 * start over), or an LMDB code. A resume key longer than next_cap ends the
 * sweep as the end of db would (CET_DONE).
 */
int store_sweep(store_txn_t *txn, const store_t *st, store_db_t db, const void *from,
                size_t flen, unsigned max, store_dead_cb dead_cb, void *arg, void *next,
                size_t next_cap, size_t *next_len);

/* ---- meta ---- */
int store_meta_get_u64(store_txn_t *txn, const store_t *st, const char *key, uint64_t *out);
int store_meta_put_u64(store_txn_t *txn, const store_t *st, const char *key, uint64_t v);

/* ==== admission tickets: rooms and arrangements (store_tickets.c) ==== */
/*
 * The two databases below and store_reg_t.slot (a byte that was padding)
 * came with the admission tickets; they are part of schema 4.
 */
typedef struct store_room {
    uint32_t campus;
    uint16_t number;          /* 1..CET_ROOMS_PER_CAMPUS_MAX */
    uint8_t seats;            /* 1..CET_ROOM_SEATS_MAX */
    uint8_t pad_;
} store_room_t;

/** What the last arrangement of one campus-subject gave (the op's answer, the rooms it used). */
typedef struct store_arrangement {
    uint32_t campus;
    char subject;
    uint8_t level_digit;      /* the ticket number's level digit (eng_arrange_level_digit) */
    uint8_t slots;            /* oral time slots used (0 for a written subject) */
    uint8_t pad_;
    uint32_t rooms;           /* rooms holding at least one candidate */
    uint32_t seats;           /* registrations seated */
    int64_t at;               /* unix seconds of the run that last changed a seat */
    uint64_t digest;          /* FNV-1a of the seats given (registration seq, room, seat, slot) */
    uint8_t rooms_used[(CET_ROOMS_PER_CAMPUS_MAX + 1 + 7) / 8]; /* bitmap, bit r = room r */
    uint8_t pad2_[3];
} store_arrangement_t;

/** Puts one room of a campus (seats 0 = CET_ROOM_SEATS_DEFAULT). STORE_BADARG when out of range. */
int store_room_put(store_txn_t *txn, const store_t *st, uint32_t campus, uint16_t number,
                   uint8_t seats);
/** Deletes every room of campus; *n (may be NULL) gets how many went. */
int store_rooms_clear(store_txn_t *txn, const store_t *st, uint32_t campus, size_t *n);
/** The rooms of campus in number order into out[cap]; returns how many (<= cap) or < 0. */
int store_rooms_list(store_txn_t *txn, const store_t *st, uint32_t campus, store_room_t *out,
                     int cap);
int store_arrangement_get(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                          store_arrangement_t *out);
int store_arrangement_put(store_txn_t *txn, const store_t *st, const store_arrangement_t *a);
/** Every arrangement of campus in subject order, into out[cap]; returns how many or < 0. */
int store_arrangements_of(store_txn_t *txn, const store_t *st, uint32_t campus,
                          store_arrangement_t *out, int cap);
/**
 * Sees one registration of a walk below: reg is a copy that dies when fn
 * returns. Returns like store_scan_cb: CET_OK to go on, CET_DONE to stop (the
 * walk returns CET_OK), anything else to stop with that value. fn must not
 * write to the txn.
 */
typedef int (*store_reg_visit_cb)(const store_reg_t *reg, void *arg);
/**
 * Calls fn for every registration at campus for subject, in sequence order
 * (a scan of the whole `reg` database: O(all registrations); docs/storage.md).
 * Any txn.
 */
int store_regs_of_offer(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                        store_reg_visit_cb fn, void *arg);
/**
 * Calls fn for every registration whose sequence is >= from_seq, in sequence
 * order (the tail of `reg`: registrations are appended). Any txn.
 */
int store_regs_from(store_txn_t *txn, const store_t *st, uint64_t from_seq,
                    store_reg_visit_cb fn, void *arg);
/** The registration stored under sequence seq (STORE_NOTFOUND when none). Any txn. */
int store_reg_get_by_seq(store_txn_t *txn, const store_t *st, uint64_t seq, store_reg_t *out);
/**
 * Writes back the room, seat and slot of a stored registration and sets
 * STORE_REG_ARRANGED (write txn; r is the record as read in this txn, with
 * r->seq). Only the arrangement fields change: no index moves, no hold
 * entry (a paid registration has none). STORE_BADARG when r is not paid.
 */
int store_reg_arranged_put(store_txn_t *txn, const store_t *st, const store_reg_t *r);
/** The data directory st was opened on (rendered tickets are kept in DIR/tickets). */
const char *store_dir(const store_t *st);
/* ==== end of admission tickets ==== */
/* ======================================================================
 * The account lifecycle (store/store_account.c): the mail outbox, the
 * password-reset tokens, and the index of an account's sessions.
 * Same conventions as above; every function runs in the caller's txn, and
 * the writing ones only in the writer's (or cetctl's) write txn.
 * ====================================================================== */

/*
 * The outbox. A mail is queued in the same write txn as the change that
 * causes it, so it exists exactly when the change is durable. The sender
 * (net/net_mail.c) reads pending mails on its own read txn, delivers them,
 * and only after the SMTP server's 250 deletes them through the writer; a
 * crash in between sends the mail again after the restart (at least once,
 * with the same Message-ID). A mail the server refuses for good (5xx) is
 * moved to the failed state and kept for the operator.
 * The text of a pending mail may hold a one-time link: it lives in the
 * environment only until the mail is delivered.
 */
#define STORE_MAIL_PENDING 1
#define STORE_MAIL_FAILED 2
typedef enum store_mail_kind {
    STORE_MAIL_RESET = 1,         /* the password-reset link */
    STORE_MAIL_PASSWORD_CHANGED,  /* notice: the password was changed or reset */
    STORE_MAIL_EMAIL_CHANGED,     /* notice to the old address: the email was changed */
    STORE_MAIL_REBOUND            /* notice to the new account: support moved a binding to it */
} store_mail_kind_t;
typedef struct store_mail {
    uint64_t id;              /* from the meta counter "mail_seq"; the key's tail */
    int64_t created;          /* unix seconds: the mail's Date */
    uint8_t nonce[8];         /* random: with id, the stable Message-ID */
    uint8_t kind;             /* store_mail_kind_t */
    uint8_t state;            /* STORE_MAIL_* (the key's first byte) */
    uint16_t subject_len;     /* UTF-8 bytes following the record */
    uint16_t body_len;        /* UTF-8 bytes following the subject */
    uint16_t attempts;        /* failed deliveries the sender recorded */
    int32_t last_code;        /* the SMTP reply code of the last failure, 0 none */
    uint32_t pad_;
    char to[CET_EMAIL_BYTES];
} store_mail_t;

/**
 * Queues a pending mail to `to` (NUL-terminated subject and body of at most
 * CET_MAIL_SUBJECT_BYTES_MAX / CET_MAIL_BODY_BYTES_MAX bytes: STORE_BADARG
 * otherwise). Takes the next mail id and a random nonce; *id_out (may be
 * NULL) gets the id. Write txn only.
 */
int store_mail_queue(store_txn_t *txn, const store_t *st, int64_t now, uint8_t kind,
                     const char *to, const char *subject, const char *body, uint64_t *id_out);
/**
 * Calls fn for every mail in state (STORE_MAIL_*) with an id above after_id,
 * in id order, until fn returns non-zero (CET_DONE stops, anything else fails
 * with it).
 * subject and body are NUL-terminated copies that live until fn returns.
 */
typedef int (*store_mail_cb)(const store_mail_t *m, const char *subject, const char *body,
                             void *arg);
int store_mail_scan(store_txn_t *txn, const store_t *st, uint8_t state, uint64_t after_id,
                    store_mail_cb fn, void *arg);
/** Deletes a delivered pending mail (0 also when it is already gone). Write txn only. */
int store_mail_sent(store_txn_t *txn, const store_t *st, uint64_t id);
/**
 * Moves a pending mail to STORE_MAIL_FAILED with the SMTP reply code that
 * refused it (0 also when it is already gone). Write txn only.
 */
int store_mail_failed(store_txn_t *txn, const store_t *st, uint64_t id, int32_t smtp_code);
/** Number of mails in state (the meta counters "mail_pending" / "mail_failed": one read). */
int store_mail_count(store_txn_t *txn, const store_t *st, uint8_t state, size_t *n);

/*
 * Password-reset tokens, keyed by the SHA-256 of the token's random bytes
 * (cet_token_key): the clear token exists only in the mail. A request for an
 * email without an account writes a decoy record (account all zero) of the
 * same size, so both answers cost the same commit; a decoy never resets
 * anything. A used token keeps its record (used_at) until it expires, so a
 * second use is told apart from a wrong link.
 */
typedef struct store_reset {
    uint8_t account[STORE_ACCOUNT_ID_BYTES]; /* all zero: a decoy */
    int64_t created;
    int64_t expires;          /* created + CET_RESET_TTL_S */
    int64_t used_at;          /* 0 = not used */
} store_reset_t;
int store_reset_get(store_txn_t *txn, const store_t *st, const uint8_t token_hash[32],
                    store_reset_t *out);
int store_reset_put(store_txn_t *txn, const store_t *st, const uint8_t token_hash[32],
                    const store_reset_t *r);
/**
 * Ends every reset link of account made before now (or in its second): a marker (key:
 * the 16-byte account id; created = now, expires = now + CET_RESET_TTL_S,
 * after which no older link can be alive anyway) that store_reset_superseded
 * reads. Written when a password is reset or changed. Write txn only.
 */
int store_reset_supersede(store_txn_t *txn, const store_t *st, const uint8_t account[16],
                          int64_t now);
/** Whether r (a reset record of an account) was made before its account's marker: 0 / storage code. */
int store_reset_superseded(store_txn_t *txn, const store_t *st, const store_reset_t *r,
                           bool *out);
/**
 * Looks at up to CET_RESET_SWEEP_MAX records from near (keys are random
 * hashes: a uniform sample) and deletes those expired before now. Called
 * once per reset request, it keeps the database at about the live records.
 * Write txn only.
 */
int store_reset_sweep(store_txn_t *txn, const store_t *st, const uint8_t near[32], int64_t now);

/*
 * The sessions of an account: an index account id ‖ session key that
 * store_session_put and store_session_del keep for candidate sessions, so
 * that a password change or reset ends them all. Entries whose session
 * the expiry sweep removed are pruned when the account logs in again or its
 * sessions are ended.
 */
/** Adds the index entry of a candidate session and prunes the account's dead ones. */
int store_account_session_link(store_txn_t *txn, const store_t *st, const uint8_t account[16],
                               const uint8_t token_hash[32]);
/** Removes the index entry of one session (0 also when absent). */
int store_account_session_unlink(store_txn_t *txn, const store_t *st, const uint8_t account[16],
                                 const uint8_t token_hash[32]);
/**
 * Ends every session of account except keep (NULL: all): deletes the
 * sessions and their index entries, up to CET_ACCOUNT_SESSIONS_BATCH_MAX *
 * CET_ACCOUNT_SESSIONS_PASSES_MAX of them. *ended (may be NULL) gets how many
 * live sessions went. Write txn only.
 */
int store_account_sessions_end(store_txn_t *txn, const store_t *st, const uint8_t account[16],
                               const uint8_t *keep, int *ended);

#endif
