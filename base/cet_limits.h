/*
 * cet_limits.h: every bound in cetreg, in one place.
 *
 * TigerBeetle style: a limit on everything (queues, batches, bodies, loops),
 * named with its unit last. Change a number here, not at its use.
 */
#ifndef CET_LIMITS_H
#define CET_LIMITS_H

/* ---- HTTP edge of cetd ---- */
#define CET_THREADS_MAX 64               /* core threads */
#define CET_LISTENERS_MAX 8              /* --listen options */
#define CET_CONNS_PER_CORE_MAX 4096      /* open connections per TCP listener and core thread */
#define CET_UNIX_CONNS_PER_CORE_MAX 4096 /* ... per unix listener (h2o) and core: its own budget */
#define CET_REQUEST_READ_MS 10000        /* first byte (or accept) to a whole request; then closed */
#define CET_BODY_BYTES_MAX 16384         /* request body; larger: 413 */
#define CET_HEADERS_BYTES_MAX 8192       /* request line + headers */
#define CET_HTTP_TIMEOUT_S 30            /* idle keep-alive / slow client */
#define CET_RESPONSE_BYTES_MAX 65536     /* largest JSON answer we build */
#define CET_JSON_DEPTH_MAX 8             /* nesting accepted in a request body */
#define CET_IDEM_KEY_BYTES_MAX 64        /* Idempotency-Key header */
#define CET_IDEM_BODY_BYTES_MAX 2048     /* stored first answer of an idempotent call */
#define CET_IDEM_TTL_S 86400             /* how long an Idempotency-Key is remembered */

/* ---- net layer internals (net/) ---- */
#define CET_BODY_HARD_BYTES_MAX (4 * CET_BODY_BYTES_MAX) /* the most a route other than the upload takes */
#define CET_PATH_BYTES_MAX 1024          /* decoded request path */
#define CET_ROUTES_MAX 96                /* distinct route labels in /metrics */
#define CET_METRIC_COUNTERS_MAX 64       /* names given to net_metrics_count */
#define CET_REQ_CACHE_MAX 256            /* request objects kept for reuse per core */
#define CET_XFF_BYTES_MAX 1024           /* X-Forwarded-For header we look at */
#define CET_LISTEN_BACKLOG_MAX 4096      /* listen(2) backlog of each listener */
#define CET_STATUS_LABELS_MAX 24         /* fixed status labels in /metrics, the last is "other" */
#define CET_LATENCY_BUCKETS_MAX 14       /* finite latency histogram buckets; +Inf is implied */
#define CET_CONN_CACHE_MAX 1024          /* connection objects kept for reuse per core */
#define CET_CONN_INPUT_BYTES 16384       /* a connection's input buffer (a whole head fits) */
#define CET_HEADERS_COUNT_MAX 100        /* request header fields; more: 400 */
#define CET_CONN_OUTPUT_PAUSE_BYTES (256 * 1024) /* unsent answers: no further pipelined request */
#define CET_CHUNK_LINE_BYTES_MAX 1024    /* a chunk-size line (with extensions) or trailer line */
#define CET_CHUNK_FRAMING_BYTES_MAX 65536 /* a chunked body's size lines, CRLFs, trailers (+ data/16) */
#define CET_RESPONSE_HEAD_BYTES_MAX 4096 /* status line + fields of an answer */
#define CET_RESPONSE_FIELDS_INLINE_BYTES 512 /* a handler's fields without a heap buffer */
#define CET_ACCEPT_RETRY_MS 100         /* a listener's pause after a failed accept (EMFILE) */
#define CET_LINGER_MS 2000               /* after a closing answer: reading what the client still sends */
#define CET_LINGER_BYTES_MAX (1024 * 1024) /* ... at most this much */
#define CET_SOCKET_MODE_DEFAULT 0660     /* unix socket file mode (--socket-mode) */
#define CET_TRUSTED_PROXIES_MAX 16       /* --trusted-proxy blocks */
#define CET_REQUEST_ID_BYTES_MAX 64      /* X-Request-Id taken from the edge */
#define CET_READY_COMMIT_AGE_MS 5000     /* /readyz: the writer committed within this */
#define CET_DISK_FREE_MIN_BYTES (256ULL << 20) /* /readyz: free space under --data (default) */
#define CET_WATCHDOG_TICK_MS 1000        /* how often core 0 checks and pets the systemd watchdog */
#define CET_CONFIG_BYTES_MAX 65536       /* all values of a --config file together */

/* ---- writer and group commit ---- */
#define CET_COMMIT_QUEUE_MAX 65536       /* requests waiting for the writer (power of 2) */
#define CET_COMMIT_BATCH_MAX 1024        /* requests applied in one write txn */
#define CET_EXPIRE_BATCH_MAX 512         /* due holds deleted per write txn */
#define CET_EXPIRE_TICK_MS 200           /* writer wakes at least this often */
#define CET_COMMIT_LATENCY_BUCKETS_MAX 14 /* finite buckets of the commit and fsync histograms */
#define CET_CHECKPOINT_MS 1000          /* a checkpoint of LMDB at least this often (store_log.c) */
#define CET_CHECKPOINT_RETRY_MS 100      /* after a failed one (while it fails, no freed page is reused) */
#define CET_WRITEBACK_MS 50             /* between checkpoints, data.mdb's dirty pages start out this often */
#define CET_CHECKPOINT_WARN_MS 60000     /* while they fail, a warning this often (one error first) */
#define CET_LOG_CHECKPOINT_BYTES (64u << 20) /* or after this much commit log */
#define CET_LOG_TXN_BYTES_MAX (16u << 20)   /* a txn logging more is made durable by a checkpoint */
#define CET_LOG_PREALLOC_BYTES (4u << 20)  /* each commit log file is zero-filled to this */
#define CET_LOG_BUF_BYTES (64u << 10)       /* the log's txn buffer kept between txns */
#define CET_LOG_REPLAY_TXN_BYTES (32u << 20) /* recovery applies about this much log per txn */
#define CET_SWEEP_BATCH_MAX 256          /* expired sessions/idempotency records looked at per tick */
#define CET_MAP_INITIAL_BYTES (8ULL << 30)  /* LMDB map size of a new environment */
#define CET_MAP_GROW_FACTOR 2            /* on MDB_MAP_FULL */
#define CET_MAP_BYTES_MAX (512ULL << 30)
#define CET_MAP_GROW_WAIT_MS 5000        /* growth waits this long for live read txns */
#define CET_DISK_FULL_MARGIN_BYTES (1u << 20) /* EIO with less free than this: the disk is full */
#define CET_READERS_MAX 256              /* LMDB reader slots */
#define CET_DBS_MAX 40                   /* LMDB named databases */
#define CET_AUDIT_TEXT_BYTES_MAX 512
#define CET_COPY_CHUNK_BYTES (1u << 20) /* read/write unit of a restore's file copy */

/* ---- password hashes: argon2id (libsodium crypto_pwhash_str, p = 1), base/cet_token.h ----
 * OWASP's minimum recommended settings (Password Storage Cheat Sheet): m = 19 MiB,
 * t = 2, p = 1. Hashes made with other costs are made again at the next login. */
#define CET_PWHASH_OPS 2                 /* argon2id t: passes over the memory */
#define CET_PWHASH_MEM_BYTES (19u << 20) /* argon2id m: 19 MiB (19456 KiB) */
_Static_assert(CET_PWHASH_OPS >= 2 && CET_PWHASH_MEM_BYTES >= (19u << 20),
               "argon2id below OWASP's minimum (m = 19 MiB, t = 2)");
_Static_assert(CET_PWHASH_MEM_BYTES % 1024 == 0, "argon2id memory is whole KiB");

/* ---- worker pool (argon2id, mail) ---- */
#define CET_WORKERS_MAX 8
#define CET_WORK_QUEUE_MAX 1024          /* queued slow jobs before 503 */

/* ---- domain sizes ---- */
#define CET_NAME_BYTES 64                /* UTF-8, NUL-terminated */
#define CET_ID_NUMBER_BYTES 24
#define CET_EMAIL_BYTES 128
#define CET_PWHASH_BYTES 128             /* crypto_pwhash_STRBYTES */
#define CET_TEXT_BYTES 64                /* department, major */
#define CET_SHORT_BYTES 24               /* class, student number */
#define CET_REMARK_BYTES 64
#define CET_PLACE_NAME_BYTES 96          /* school and campus names */
#define CET_TICKET_DIGITS 15             /* CET admission ticket number */
#define CET_SUBJECTS_MAX 16              /* subjects a roster record may list */
#define CET_ORDER_SUBJECTS_MAX 16        /* registrations paid by one order */
#define CET_ANNOUNCE_BYTES_MAX 8192
#define CET_OFFERS_MAX 262144            /* campus-subject seat counters */
#define CET_SEAT_INDEX_SLOTS (2 * CET_OFFERS_MAX) /* offer → counter index, at most half full */
#define CET_OFFER_CAPACITY_MAX 1000000u  /* seats of one campus-subject (API and import) */
#define CET_OFFER_FEE_MAX_FEN 10000000u  /* fee of one subject */
#define CET_CANDIDATE_REGS_MAX 7         /* registrations one candidate holds (index slot ways) */
#define CET_CET4_PASS_SCORE 425          /* a CET4 score that passes (CET6 review) */
#define CET_SCORE_MAX 710                /* highest CET score */
#define CET_SCORE_YEAR_MIN 1987          /* the first CET */
#define CET_TICKET_YEAR_MIN 2005         /* first year of 15-digit admission ticket numbers */
#define CET_ROOM_SEATS_DEFAULT 30        /* seats of an exam room when none are given */
#define CET_ROOMS_PER_CAMPUS_MAX 999     /* room numbers are 3 digits */
#define CET_ROOM_SEATS_MAX 99            /* seat numbers are 2 digits */
#define CET_PASSWORD_BYTES_MIN 8
#define CET_PASSWORD_BYTES_MAX 128

/* ---- admission tickets: rooms, arrangement, PDF (engine/eng_arrange, net/net_ticket_pdf) ---- */
#define ENG_ARRANGE_ROOMS_MAX CET_ROOMS_PER_CAMPUS_MAX /* room numbers 001..999 (3 digits) */
#define ENG_ARRANGE_SEATS_MAX CET_ROOM_SEATS_MAX    /* seats per room, 01..99 (2 digits) */
#define ENG_ARRANGE_SEATS_DEFAULT CET_ROOM_SEATS_DEFAULT /* seats of a room given without a size */
#define ENG_ARRANGE_REGS_MAX (ENG_ARRANGE_ROOMS_MAX * ENG_ARRANGE_SEATS_MAX) /* per run */
#define ENG_ARRANGE_SLOTS_MAX 32     /* oral time slots per campus-subject */
#define ENG_ARRANGE_KEY_BYTES_MAX 64 /* candidate key, department, class: bytes read */
#define ENG_ARRANGE_ROOMS_TAKEN_BYTES ((ENG_ARRANGE_ROOMS_MAX + 1 + 7) / 8) /* bitmap */
#define CET_ORAL_SLOT_CANDIDATES_MIN 30  /* an oral slot holds at least this many candidates */
#define CET_ORAL_SLOT_MINUTES 15         /* oral slot k starts (k-1) * this after the first */
#define CET_ORAL_FIRST_SLOT_MINUTE (8 * 60 + 30) /* 08:30, minutes after midnight (+08:00) */
#define NET_TICKET_PDF_TICKETS_MAX 100000      /* pages in one PDF (a campus-subject: <= 98901) */
#define NET_TICKET_PDF_BYTES_MAX (1024u << 20) /* one in-memory PDF (net_ticket_pdf_render) */
#define NET_TICKET_TEXT_BYTES 96               /* each text field, UTF-8 with its NUL */
#define NET_TICKET_ROOM_MAX ENG_ARRANGE_ROOMS_MAX /* room numbers 001..999 */
#define NET_TICKET_SEAT_MAX ENG_ARRANGE_SEATS_MAX /* seats 01..99 */
#define CET_TICKET_CACHE_BYTES_MAX (256u << 20) /* rendered ticket PDFs kept in memory by cetd */
#define CET_TICKET_CACHE_SHARDS 16       /* locks over the ticket cache */
#define CET_TICKET_BULK_PAGES_MAX 20000  /* pages of one staff print-all PDF (filter by room beyond) */
#define CET_TICKET_CACHE_BUCKETS 4096    /* hash buckets per ticket-cache shard */
#define CET_TICKET_PRERENDER_QUEUE_MAX 4096 /* arranged campus-subjects waiting to be rendered ahead */
#define CET_TICKET_PRERENDER_BATCH 4     /* tickets rendered ahead per pool job (~5 ms each) */
#define CET_TICKET_CORE_READ_BYTES_MAX (1u << 20) /* a kept ticket file read on the core (else the pool) */
#define CET_ROOMS_BODY_MAX ENG_ARRANGE_ROOMS_MAX /* rooms in one PUT .../rooms body */
#define CET_ROOMS_BODY_BYTES_MAX CET_BODY_HARD_BYTES_MAX /* its bytes: 999 rooms even spelled out */

/* ---- sessions, captcha, rate limits ---- */
#define CET_TOKEN_BYTES 32               /* random bytes in a bearer token */
#define CET_SESSION_TTL_S (12 * 3600)
#define CET_CAPTCHA_TTL_S 300
#define CET_CAPTCHA_SLOTS 262144         /* live challenges kept in memory (power of 2) */
#define CET_CAPTCHA_CHARS 5
#define CET_CAPTCHA_GROUP_SLOTS 8        /* slots probed together */
#define CET_CAPTCHA_PROBES_MAX 4         /* groups tried (a fresh id each) before 503 */
#define CET_CAPTCHA_STRIPES_MAX 256      /* locks over the captcha slots */
#define CET_CAPTCHA_ID_HEX_CHARS 32      /* captcha_id: 16 random bytes in hex */
#define CET_CAPTCHA_PNG_BYTES_MAX 16384  /* one rendered challenge image (PNG) */
#define CET_CAPTCHA_READY_MAX 512        /* rendered challenges waiting to be issued */
#define CET_CAPTCHA_PREFILL_MAX 32       /* rendered at start, before the first request */
#define CET_CAPTCHA_WIDTH_PX 160
#define CET_CAPTCHA_HEIGHT_PX 60
#define CET_CAPTCHA_PER_MIN_MAX 60       /* challenges one client may ask for per minute */
#define CET_CAPTCHA_LIVE_PER_CLIENT_MAX 150 /* ... and per CET_CAPTCHA_TTL_S (its live ones) */
#define CET_RATE_SLOTS 262144            /* rate-limit buckets, all kinds (power of 2) */
#define CET_LOGIN_PER_MIN_MAX 10         /* login attempts per client and account */
#define CET_LOGIN_FAILS_PER_MIN_MAX 10   /* failures per account before clients that failed wait */
#define CET_LOGIN_CLIENT_PER_MIN_MAX 100 /* login attempts per client address */
#define CET_ACCOUNT_CLIENT_PER_MIN_MAX 60 /* accounts created per client address */
#define CET_LOOKUP_PER_MIN_MAX 30        /* roster lookups per account */
#define CET_LOOKUP_CLIENT_PER_MIN_MAX 60 /* roster lookups per client address */
#define CET_RECOVERY_PER_MIN_MAX 5      /* account recovery per client address */
#define CET_RESET_PER_EMAIL_PER_MIN_MAX 3 /* password-reset mails asked for one (normalized) email */
#define CET_RESET_PER_CLIENT_PER_MIN_MAX 10 /* password-reset requests and confirms per client */
#define CET_RATE_GROUP_SLOTS 8           /* rate-limit slots probed together (two groups a key) */
#define CET_RATE_STRIPES_MAX 256         /* locks over the rate-limit slots */
#define CET_RATE_WINDOW_MS 60000         /* a rate limit's window */
#define CET_RATE_KEY_BYTES_MAX 256       /* "scope:key" looked up in the table */
#define CET_RATE_EVICT_COUNT_MAX 1       /* a live bucket this light may be reused when none is idle */

/* ---- the account lifecycle: reset tokens, sessions of an account, mail ---- */
#define CET_RESET_TTL_S 1800             /* a password-reset link is valid 30 minutes */
#define CET_RESET_SWEEP_MAX 8            /* reset records looked at (expired ones deleted) per request */
#define CET_ACCOUNT_SESSIONS_BATCH_MAX 64 /* sessions of one account ended per pass (passes repeat) */
#define CET_ACCOUNT_SESSIONS_PASSES_MAX 64 /* passes: at most 4096 sessions of one account ended at once */
#define CET_URL_BYTES_MAX 512            /* --public-url, --smtp-url */
#define CET_MAIL_SUBJECT_BYTES_MAX 256   /* UTF-8 subject of an outbox mail */
#define CET_MAIL_BODY_BYTES_MAX 4096     /* UTF-8 text of an outbox mail */
#define CET_MAIL_MESSAGE_BYTES_MAX 16384 /* one composed MIME message (headers + base64) */
#define CET_MAIL_BATCH_MAX 32            /* outbox mails the sender takes per pass */
#define CET_MAIL_POLL_MS 1000            /* the sender looks at the outbox at least this often */
#define CET_MAIL_RETRY_MIN_MS 1000       /* first wait after the SMTP server failed */
#define CET_MAIL_RETRY_MAX_MS 60000      /* the wait doubles up to this */
#define CET_MAIL_TIMEOUT_S 30            /* one SMTP transaction */

/* ---- holds ---- */
#define CET_HOLD_TTL_DEFAULT_S 86400
/* seat changes one write txn decides (a refused or cancelled registration, an expired
 * hold and its orals, a capacity): applied to the counters after its commit */
#define CET_SEAT_CHANGES_MAX ((CET_COMMIT_BATCH_MAX + CET_EXPIRE_BATCH_MAX) * CET_CANDIDATE_REGS_MAX)
#define CET_ORDER_TTL_S 1800             /* a pending payment order times out */

/* ---- API calls (net/net_api.c) ---- */
#define CET_CALL_POOL_CHUNK 64           /* per-call contexts a core's pool allocates at once */

/* ---- the registration index (store/store_regidx.c) ---- */
#define CET_REGIDX_CHUNK_SLOTS 16384     /* candidate slots allocated together */
#define CET_REGIDX_CHUNKS_MAX 65536      /* chunks: up to 2^30 roster numbers */

/* ---- school files (base/cet_sheet.c): CSV, GB18030, .xlsx ---- */
#define CET_SHEET_FIELDS_MAX 32          /* columns of a school file (bits of a uint64_t mask) */
#define CET_SHEET_ROW_BYTES_MAX 65536    /* one row, unquoted */
#define CET_SHEET_FILE_BYTES_MAX (8ULL << 30) /* largest file read (cetctl) */
#define CET_SHEET_UPLOAD_BYTES_MAX (64u << 20) /* a roster uploaded to the admin API (one school) */
#define CET_ADMIN_ROSTER_ERRORS_MAX 1000 /* errors listed for one uploaded roster (all are counted) */
#define CET_ADMIN_LIST_MAX 20000         /* reviews listed by one admin call */
#define CET_ADMIN_AUDIT_PAGE_MAX 1000    /* audit entries of one page (?after=SEQ pages on) */
#define CET_ADMIN_SCHOOLS_MAX 512        /* schools in one staff scope (a province) */
#define CET_ADMIN_OFFERS_MAX 4096        /* campus-subject offers on one dashboard */
#define CET_ADMIN_EXPORT_BYTES_MAX (512u << 20) /* one export file */
#define CET_SHEET_NAME_BYTES_MAX 64      /* a column name quoted in a problem */
#define CET_SHEET_MESSAGE_BYTES_MAX 384  /* a problem's message */
#define CET_SHEET_DETECT_BAD_RATIO 8     /* UTF-8 if valid multi-byte sequences >= this x invalid ones */
#define CET_SHEET_EXCEL_DIGITS_MAX 15    /* significant digits Excel keeps in a number */
#define CET_SHEET_XLSX_ENTRIES_MAX 10000 /* files in an .xlsx archive */
#define CET_SHEET_XLSX_PART_BYTES_MAX (1ULL << 30) /* one uncompressed XML part (zip bombs) */
#define CET_SHEET_XLSX_META_BYTES_MAX (1u << 20)   /* workbook.xml and its relationships */
#define CET_SHEET_XLSX_STRINGS_MAX 16777216 /* shared strings of one workbook */
#define CET_SHEET_XLSX_ROWS_MAX 1048576  /* rows of a worksheet (Excel's own limit) */
#define CET_SHEET_XLSX_COL_MAX 16384     /* column letters up to XFD (Excel's own limit) */
#define CET_SHEET_XLSX_CELL_BYTES_MAX 32767 /* one cell's text (Excel's own limit) */
#define CET_SHEET_XML_DEPTH_MAX 64       /* element nesting in a worksheet */
#define CET_SHEET_READ_CHUNK_BYTES 65536 /* decompressed bytes handed to expat at a time */
#define CET_SHEET_WRITE_BUF_BYTES (1u << 20) /* CSV output buffered before the sink */
#define CET_SHEET_TITLE_ROWS_MAX 3       /* one-cell title rows skipped above a header */

/* ---- cetctl (tools/) ---- */
/* (the files cetctl reads and writes: CET_SHEET_* above) */
#define CTL_ERRORS_SHOWN_MAX 200         /* bad rows printed before "... and N more" */
#define CTL_HEADER_PROBLEMS_MAX 40       /* header problems printed (unknown, missing columns) */
#define CTL_PROGRESS_MS 250              /* progress line refresh on a terminal */
#define CTL_TXN_ROWS_MAX 100000          /* rows per write txn where atomicity is not needed */
#define CTL_OPTS_MAX 16                  /* options one subcommand takes */
#define CTL_POSITIONAL_MAX 4             /* positional arguments of a subcommand */
#define CTL_CHECK_SHOWN_MAX 20           /* violations printed per kind by cetctl check */
#define CTL_CHECK_ROSTER_NO_MAX (1u << 28) /* larger roster numbers are themselves a violation */
#define CTL_DEMO_CANDIDATES_MAX 5000000  /* cetctl demo --candidates */
#define CTL_BENCH_PAID_CAMPUSES_MAX 900u /* cetctl bench-paid --campuses */
#define CTL_BENCH_PAID_PER_CAMPUS_MAX (ENG_ARRANGE_ROOMS_MAX * ENG_ARRANGE_SEATS_MAX) /* one arrangement */
#define CTL_STAFF_PASSWORD_FILE_BYTES_MAX 256
#define CTL_STATS_PWHASH_COSTS_MAX 8     /* argon2id costs cetctl stats tells apart per kind */

/* ---- cetbench (bench/): the load generator ---- */
#define BENCH_THREADS_MAX 64             /* --threads */
#define BENCH_CONNS_MAX 65536            /* --connections, all threads */
#define BENCH_STREAMS_MAX 1024           /* --streams per HTTP/2 connection */
#define BENCH_CANDIDATES_MAX 20000000    /* lines read from a bench-prep file */
#define BENCH_RESP_KEEP_BYTES 4096       /* response body kept per request (JSON parsing) */
#define BENCH_HEAD_BYTES_MAX 16384       /* status line + headers of one response */
#define BENCH_SERIES_S_MAX 3600          /* seconds in the per-second series */
#define BENCH_CODES_MAX 64               /* distinct error codes counted */
#define BENCH_LATENCY_US_MAX 60000000    /* histogram top (60 s); larger values clamp */
#define BENCH_DRAIN_S 10                 /* wait for in-flight requests after the end */
#define BENCH_TIMEOUT_S_DEFAULT 30       /* one request's answer */
#define BENCH_RECONNECT_MS 50            /* pause before reconnecting a failed connection */
#define BENCH_DURATION_S_MAX 86400       /* --duration */

/* ---- relations between limits ---- */
#define CET_STR_(x) #x
#define CET_STR(x) CET_STR_(x) /* a limit quoted in a message: "at most " CET_STR(LIMIT) */
_Static_assert((CET_COMMIT_QUEUE_MAX & (CET_COMMIT_QUEUE_MAX - 1)) == 0, "commit queue: power of 2");
_Static_assert(CET_COMMIT_BATCH_MAX <= CET_COMMIT_QUEUE_MAX, "a batch fits in the queue");
_Static_assert(CET_BODY_HARD_BYTES_MAX > CET_BODY_BYTES_MAX, "a larger route takes more than the default");
_Static_assert(CET_CONN_INPUT_BYTES > CET_HEADERS_BYTES_MAX + 3, "a whole head, and more, fits the buffer");
_Static_assert(CET_IDEM_BODY_BYTES_MAX <= CET_RESPONSE_BYTES_MAX, "a stored answer is an answer");
_Static_assert(CET_MAP_INITIAL_BYTES <= CET_MAP_BYTES_MAX, "the map starts below its cap");
_Static_assert(CET_READERS_MAX >= CET_THREADS_MAX + 8, "a reader slot per core thread and spare");
_Static_assert((CET_SEAT_INDEX_SLOTS & (CET_SEAT_INDEX_SLOTS - 1)) == 0, "seat index: power of 2");
_Static_assert((CET_CAPTCHA_SLOTS & (CET_CAPTCHA_SLOTS - 1)) == 0, "captcha slots: power of 2");
_Static_assert(CET_CAPTCHA_SLOTS % CET_CAPTCHA_GROUP_SLOTS == 0, "captcha slots: whole groups");
_Static_assert((CET_RATE_SLOTS & (CET_RATE_SLOTS - 1)) == 0, "rate slots: power of 2");
_Static_assert(CET_RATE_SLOTS % CET_RATE_GROUP_SLOTS == 0, "rate slots: whole groups");
_Static_assert(CET_CAPTCHA_PREFILL_MAX <= CET_CAPTCHA_READY_MAX, "the prefill fits the ready ring");
_Static_assert(4 * ((CET_CAPTCHA_PNG_BYTES_MAX + 2) / 3) + 64 <= CET_RESPONSE_BYTES_MAX / 2,
               "a challenge answer is well within a response");
_Static_assert(CET_PASSWORD_BYTES_MIN < CET_PASSWORD_BYTES_MAX, "password bounds");
_Static_assert(CET_ORDER_SUBJECTS_MAX >= CET_CANDIDATE_REGS_MAX, "one order can pay them all");
_Static_assert(CET_CANDIDATE_REGS_MAX >= 4, "two written levels, each with its oral");
_Static_assert(CET_ROOM_SEATS_DEFAULT <= CET_ROOM_SEATS_MAX, "a default room fits two digits");
_Static_assert(CET_ORDER_TTL_S < CET_HOLD_TTL_DEFAULT_S, "an order times out before its holds");
_Static_assert(CET_MAIL_RETRY_MIN_MS <= CET_MAIL_RETRY_MAX_MS, "mail retry bounds");
_Static_assert(CET_MAIL_SUBJECT_BYTES_MAX + CET_MAIL_BODY_BYTES_MAX < CET_MAIL_MESSAGE_BYTES_MAX / 2,
               "a mail's text fits its message in base64 with headers");
_Static_assert(CET_SHEET_FIELDS_MAX <= 64, "a row's number-cell mask is a uint64_t");
_Static_assert(CET_SHEET_XLSX_CELL_BYTES_MAX < CET_SHEET_ROW_BYTES_MAX, "a cell fits in a row");
_Static_assert(CET_SHEET_XLSX_PART_BYTES_MAX < (1ULL << 31) - CET_SHEET_XLSX_STRINGS_MAX - 4096,
               "xlsx text offsets are 31 bits, the top one names the shared strings");

_Static_assert(ENG_ARRANGE_SLOTS_MAX * CET_ORAL_SLOT_MINUTES + CET_ORAL_FIRST_SLOT_MINUTE < 24 * 60,
               "every oral slot starts on its exam day");
_Static_assert(CET_TICKET_CACHE_BYTES_MAX % CET_TICKET_CACHE_SHARDS == 0, "ticket cache: whole shards");
_Static_assert(CET_TICKET_BULK_PAGES_MAX <= NET_TICKET_PDF_TICKETS_MAX, "a print-all PDF is one PDF");

#endif
