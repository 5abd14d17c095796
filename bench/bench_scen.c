/*
 * bench_scen.c: what the load consists of.
 *
 *   raw      GET --path, nothing else (ceilings: hello-world, static file).
 *   opening  each candidate once: GET offers, register its written subject
 *            (English-4 '1' if qualified) at its campus; then some cancel
 *            (--cancel-share), some add the oral subject (--oral-share), most
 *            pay (--pay-share: POST /payments, then the platform's signed
 *            notice).
 *   hot      each candidate once: register --hot-subject at --hot-campus (by
 *            default the campus with most candidates; only its candidates).
 *   spread   each candidate once: register its written subject at its campus.
 *   browse   GET /api/v1/candidate and GET /api/v1/offers, random candidates.
 *   login    POST /api/v1/sessions, candidates in turn (argon2id cost), each
 *            from its own address (X-Forwarded-For 10.x.y.z: run cetd with
 *            --trusted-proxy 127.0.0.1, or its per-address limit answers 429).
 *   expiry   a first wave registers (--wave-share), then browse traffic with
 *            one registration in five from the rest, while holds expire.
 *   tickets  print day: GET /api/v1/admission-tickets/{subject} (the written
 *            subject, English-4 when qualified), candidates in turn, again and
 *            again: the first round renders every PDF, later rounds are served
 *            from what cetd kept (--requests = candidates: one download each).
 *
 * Candidate decisions come from a hash of (seed, candidate): the same
 * candidates do the same things whatever --threads is.
 */
#include "bench/bench.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/cet_base.h"

static const char *const scen_names[] = {
    [BENCH_SCEN_RAW] = "raw",       [BENCH_SCEN_OPENING] = "opening", [BENCH_SCEN_HOT] = "hot",
    [BENCH_SCEN_SPREAD] = "spread", [BENCH_SCEN_BROWSE] = "browse",   [BENCH_SCEN_LOGIN] = "login",
    [BENCH_SCEN_EXPIRY] = "expiry", [BENCH_SCEN_TICKETS] = "tickets",
};

int bench_scenario_parse(const char *name)
{
    for (unsigned i = 0; i < sizeof scen_names / sizeof scen_names[0]; i++)
        if (strcmp(name, scen_names[i]) == 0) return (int)i;
    return -1;
}

const char *bench_scenario_name(bench_scenario_t s)
{
    return (unsigned)s < sizeof scen_names / sizeof scen_names[0] ? scen_names[s] : "?";
}

/* ---- small helpers ---- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A fraction in [0,1) fixed by (seed, candidate, salt). */
static double cand_chance(const bench_cfg_t *cfg, uint32_t cand, uint64_t salt)
{
    uint64_t h = splitmix64(cfg->seed ^ splitmix64((uint64_t)cand * 0x100000001b3ull + salt));
    return (double)(h >> 11) / 9007199254740992.0;
}

static uint64_t thread_rand(bench_thread_t *t)
{
    t->rng = splitmix64(t->rng);
    return t->rng;
}

/* The written subject the candidate takes: '1' when qualified, else the first written code. */
static char pick_written(const bench_cand_t *c)
{
    if (strchr(c->subjects, '1')) return '1';
    for (const char *p = c->subjects; *p; p++)
        if (*p >= '1' && *p <= '9') return *p;
    return 0;
}

/* The oral subject that goes with a written one, if the candidate is qualified for it. */
static char pick_oral(const bench_cand_t *c, char written)
{
    char oral = written == '1' ? 'F' : written == '2' ? 'S' : 0;
    return oral && strchr(c->subjects, oral) ? oral : 0;
}

int bench_json_field(const char *body, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    const char *p = body;
    while ((p = strchr(p, '"')) != NULL) {
        if (strncmp(p + 1, key, kl) == 0 && p[kl + 1] == '"') {
            const char *q = p + kl + 2;
            while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
                q++;
            if (*q != ':') {
                p++;
                continue;
            }
            q++;
            while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
                q++;
            size_t n = 0;
            if (*q == '"') {
                q++;
                while (*q && *q != '"' && n + 1 < cap) {
                    if (*q == '\\' && q[1]) q++;
                    out[n++] = *q++;
                }
            } else {
                while (*q && *q != ',' && *q != '}' && *q != ']' && *q != ' ' && n + 1 < cap)
                    out[n++] = *q++;
            }
            out[n] = '\0';
            return 0;
        }
        p++;
    }
    return -1;
}

/* ---- preparation ---- */

static int campus_cmp_cb(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The campus with most candidates qualified for subject (static result in cfg). */
static char *most_common_campus(const bench_cfg_t *cfg, char subject)
{
    long n = 0;
    const char **v = cet_calloc((size_t)cfg->n_cands + 1, sizeof *v);
    for (long i = 0; i < cfg->n_cands; i++)
        if (strchr(cfg->cands[i].subjects, subject)) v[n++] = cfg->cands[i].campus;
    qsort(v, (size_t)n, sizeof *v, campus_cmp_cb);
    const char *best = NULL;
    long best_n = 0;
    for (long i = 0; i < n;) {
        long j = i;
        while (j < n && strcmp(v[j], v[i]) == 0)
            j++;
        if (j - i > best_n) {
            best_n = j - i;
            best = v[i];
        }
        i = j;
    }
    char *r = best ? cet_strdup(best) : NULL;
    cet_free(v);
    return r;
}

int bench_scen_prepare(bench_cfg_t *cfg)
{
    bool needs_cands = cfg->scenario != BENCH_SCEN_RAW;
    if (needs_cands && cfg->n_cands <= 0) {
        fprintf(stderr, "cetbench: scenario %s needs --candidates FILE (from cetctl bench-prep)\n",
                bench_scenario_name(cfg->scenario));
        return -1;
    }
    bool endless = cfg->scenario == BENCH_SCEN_RAW || cfg->scenario == BENCH_SCEN_BROWSE ||
                   cfg->scenario == BENCH_SCEN_LOGIN || cfg->scenario == BENCH_SCEN_EXPIRY ||
                   cfg->scenario == BENCH_SCEN_TICKETS;
    if (endless && cfg->duration_s <= 0 && cfg->requests == 0) cfg->duration_s = 10;
    if (cfg->scenario == BENCH_SCEN_OPENING && cfg->pay_share > 0 && cfg->secret_len == 0)
        fprintf(stderr, "cetbench: no --payment-secret-file: payments stop before the notice\n");
    if (!needs_cands) return 0;

    cfg->order = cet_calloc((size_t)cfg->n_cands, sizeof cfg->order[0]);
    cfg->n_order = 0;
    if (cfg->scenario == BENCH_SCEN_HOT) {
        if (!cfg->hot_campus) cfg->hot_campus = most_common_campus(cfg, cfg->hot_subject);
        if (!cfg->hot_campus) {
            fprintf(stderr, "cetbench: no candidate is qualified for subject %c\n",
                    cfg->hot_subject);
            return -1;
        }
        for (long i = 0; i < cfg->n_cands; i++) {
            const bench_cand_t *c = &cfg->cands[i];
            if (cfg->hot_any ||
                (strcmp(c->campus, cfg->hot_campus) == 0 && strchr(c->subjects, cfg->hot_subject)))
                cfg->order[cfg->n_order++] = (uint32_t)i;
        }
    } else {
        for (long i = 0; i < cfg->n_cands; i++)
            cfg->order[cfg->n_order++] = (uint32_t)i;
    }
    /* arrivals in a seeded random order: campuses mix as they would at an opening */
    for (long i = cfg->n_order - 1; i > 0; i--) {
        long j = (long)(splitmix64(cfg->seed ^ (uint64_t)i) % (uint64_t)(i + 1));
        uint32_t tmp = cfg->order[i];
        cfg->order[i] = cfg->order[j];
        cfg->order[j] = tmp;
    }
    if (cfg->n_order == 0) {
        fprintf(stderr, "cetbench: no candidate fits scenario %s\n",
                bench_scenario_name(cfg->scenario));
        return -1;
    }
    return 0;
}

void bench_scen_thread_init(bench_thread_t *t)
{
    const bench_cfg_t *cfg = t->cfg;
    t->rng = splitmix64(cfg->seed + t->idx + 1);
    long n = 0;
    for (long i = (long)t->idx; i < cfg->n_order; i += (long)cfg->threads)
        n++;
    t->n_users = (uint32_t)n;
    t->users = cet_calloc((size_t)n + 1, sizeof t->users[0]);
    n = 0;
    for (long i = (long)t->idx; i < cfg->n_order; i += (long)cfg->threads) {
        bench_user_t *u = &t->users[n++];
        u->cand = cfg->order[i];
        u->ack_written = u->ack_oral = UINT32_MAX;
    }
}

/* ---- building requests ---- */

static bench_req_t *req_new(bench_thread_t *t, uint32_t user, bench_op_t op, uint64_t intended_ns)
{
    bench_req_t *r = bench_req_get(t);
    r->user = user;
    r->op = (uint8_t)op;
    r->intended_ns = intended_ns;
    r->is_post = false;
    r->is_delete = false;
    r->auth[0] = r->sig[0] = r->xff[0] = '\0';
    r->body_len = 0;
    r->body[0] = '\0';
    return r;
}

static void req_auth(bench_thread_t *t, bench_req_t *r, uint32_t user)
{
    const bench_cand_t *c = &t->cfg->cands[t->users[user].cand];
    snprintf(r->auth, sizeof r->auth, "Bearer %s", c->token);
}

static void req_body(bench_req_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void req_body(bench_req_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->body, sizeof r->body, fmt, ap);
    va_end(ap);
    CET_ASSERT(n > 0 && (size_t)n < sizeof r->body);
    r->body_len = (uint32_t)n;
    r->is_post = true;
}

static void make_offers(bench_thread_t *t, bench_req_t *r, const char *kind)
{
    snprintf(r->path, sizeof r->path, "/api/v1/offers?kind=%s", kind);
    req_auth(t, r, r->user);
}

static void make_register(bench_thread_t *t, bench_req_t *r, char subject, const char *campus)
{
    strcpy(r->path, "/api/v1/registrations");
    req_auth(t, r, r->user);
    req_body(r, "{\"subject\":\"%c\",\"campus\":\"%s\"}", subject, campus);
}

static void make_candidate(bench_thread_t *t, bench_req_t *r)
{
    strcpy(r->path, "/api/v1/candidate");
    req_auth(t, r, r->user);
}

static void make_pay(bench_thread_t *t, bench_req_t *r, const bench_user_t *u)
{
    strcpy(r->path, "/api/v1/payments");
    req_auth(t, r, r->user);
    if (u->oral)
        req_body(r, "{\"subjects\":[\"%c\",\"%c\"],\"channel\":\"alipay\"}", u->written, u->oral);
    else
        req_body(r, "{\"subjects\":[\"%c\"],\"channel\":\"alipay\"}", u->written);
}

static void make_notify(bench_thread_t *t, bench_req_t *r, const bench_user_t *u)
{
    const bench_cfg_t *cfg = t->cfg;
    char paid_at[26];
    cet_time_format(cet_now_s(), paid_at);
    strcpy(r->path, "/api/v1/payments/notify");
    req_body(r,
             "{\"order_id\":\"%s\",\"amount\":%lld,\"paid_at\":\"%s\",\"gateway_txn\":\"bench-%u-%"
             "llu\"}",
             u->order_id, (long long)u->amount, paid_at, t->idx,
             (unsigned long long)++t->gateway_n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    HMAC(EVP_sha256(), cfg->secret, (int)cfg->secret_len, (const unsigned char *)r->body,
         r->body_len, md, &md_len);
    cet_hex(r->sig, md, md_len);
}

static void make_cancel(bench_thread_t *t, bench_req_t *r, char subject)
{
    snprintf(r->path, sizeof r->path, "/api/v1/registrations/%c", subject);
    req_auth(t, r, r->user);
    r->is_delete = true;
}

static void make_login(bench_thread_t *t, bench_req_t *r)
{
    uint32_t i = t->users[r->user].cand;
    const bench_cand_t *c = &t->cfg->cands[i];
    strcpy(r->path, "/api/v1/sessions");
    /* candidates log in from their own homes: one address each, so the per-address
     * login limit (CET_LOGIN_CLIENT_PER_MIN_MAX) is not what is measured */
    snprintf(r->xff, sizeof r->xff, "10.%u.%u.%u", (i >> 16) & 255u, (i >> 8) & 255u, i & 255u);
    req_body(r,
             "{\"email\":\"%s\",\"password\":\"%s\",\"captcha_id\":\"bench\",\"captcha_answer\":"
             "\"bench\"}",
             c->email, t->cfg->password);
}

static void make_browse(bench_thread_t *t, bench_req_t *r)
{
    if (t->browse_i++ % 2 == 0) {
        r->op = BENCH_OP_CANDIDATE;
        make_candidate(t, r);
    } else {
        r->op = BENCH_OP_OFFERS;
        make_offers(t, r, (t->browse_i / 2) % 4 == 3 ? "oral" : "written");
    }
}

/* ---- the scenarios ---- */

/* The next unused candidate's written registration at its own campus, or NULL
 * when every candidate of this thread has had its turn. */
static bench_req_t *next_registration(bench_thread_t *t, uint64_t intended_ns)
{
    const bench_cfg_t *cfg = t->cfg;
    while (t->next_user < t->n_users) {
        uint32_t ui = t->next_user++;
        const bench_cand_t *c = &cfg->cands[t->users[ui].cand];
        char w = pick_written(c);
        if (!w) continue;
        bench_req_t *r = req_new(t, ui, BENCH_OP_REGISTER, intended_ns);
        make_register(t, r, w, c->campus);
        return r;
    }
    return NULL;
}

bench_req_t *bench_scen_start(bench_thread_t *t, uint64_t intended_ns)
{
    const bench_cfg_t *cfg = t->cfg;
    bench_req_t *r;
    switch (cfg->scenario) {
    case BENCH_SCEN_RAW:
        r = req_new(t, UINT32_MAX, BENCH_OP_RAW, intended_ns);
        cet_strlcpy(r->path, cfg->path, sizeof r->path);
        return r;
    case BENCH_SCEN_OPENING:
        if (t->next_user >= t->n_users) return NULL;
        r = req_new(t, t->next_user++, BENCH_OP_OFFERS, intended_ns);
        make_offers(t, r, "written");
        return r;
    case BENCH_SCEN_HOT:
        if (t->next_user >= t->n_users) return NULL;
        r = req_new(t, t->next_user++, BENCH_OP_REGISTER, intended_ns);
        make_register(t, r, cfg->hot_subject, cfg->hot_campus);
        return r;
    case BENCH_SCEN_SPREAD:
        return next_registration(t, intended_ns);
    case BENCH_SCEN_BROWSE:
        if (t->n_users == 0) return NULL;
        r = req_new(t, (uint32_t)(thread_rand(t) % t->n_users), BENCH_OP_CANDIDATE, intended_ns);
        make_browse(t, r);
        return r;
    case BENCH_SCEN_LOGIN:
        if (t->n_users == 0) return NULL;
        r = req_new(t, (uint32_t)(t->browse_i++ % t->n_users), BENCH_OP_LOGIN, intended_ns);
        make_login(t, r);
        return r;
    case BENCH_SCEN_TICKETS: {
        if (t->n_users == 0) return NULL;
        r = req_new(t, (uint32_t)(t->browse_i++ % t->n_users), BENCH_OP_TICKET, intended_ns);
        char w = pick_written(&cfg->cands[t->users[r->user].cand]);
        snprintf(r->path, sizeof r->path, "/api/v1/admission-tickets/%c", w ? w : '1');
        req_auth(t, r, r->user);
        return r;
    }
    case BENCH_SCEN_EXPIRY: {
        if (t->n_users == 0) return NULL;
        uint32_t wave = (uint32_t)(cfg->wave_share * t->n_users);
        bool reg = t->next_user < wave || (t->next_user < t->n_users && t->issued % 5 == 4);
        if (reg && (r = next_registration(t, intended_ns))) return r;
        r = req_new(t, (uint32_t)(thread_rand(t) % t->n_users), BENCH_OP_CANDIDATE, intended_ns);
        make_browse(t, r);
        return r;
    }
    }
    return NULL;
}

static uint32_t ack_add(bench_thread_t *t, uint32_t cand, char subject, const char *campus)
{
    if (t->n_acks == t->cap_acks) {
        t->cap_acks = t->cap_acks ? t->cap_acks * 2 : 1024;
        t->acks = cet_realloc(t->acks, t->cap_acks * sizeof t->acks[0]);
    }
    bench_ack_t *a = &t->acks[t->n_acks];
    memset(a, 0, sizeof *a);
    a->cand = cand;
    a->subject = subject;
    a->campus = campus;
    a->acked_s = cet_now_s();
    return t->n_acks++;
}

/* opening: what the user does after a step; turns r into the next step or frees it */
static void opening_next(bench_thread_t *t, bench_req_t *r, uint64_t done_ns)
{
    const bench_cfg_t *cfg = t->cfg;
    bench_user_t *u = &t->users[r->user];
    const bench_cand_t *c = &cfg->cands[u->cand];
    int st = r->status;
    bench_op_t next = BENCH_OP__COUNT;
    switch ((bench_op_t)r->op) {
    case BENCH_OP_OFFERS:
        if (st == 200 && pick_written(c)) next = BENCH_OP_REGISTER;
        break;
    case BENCH_OP_REGISTER:
        if (st != 201) break;
        u->written = pick_written(c);
        u->ack_written = ack_add(t, u->cand, u->written, c->campus);
        if (cand_chance(cfg, u->cand, 1) < cfg->cancel_share)
            next = BENCH_OP_CANCEL;
        else if (pick_oral(c, u->written) && cand_chance(cfg, u->cand, 2) < cfg->oral_share)
            next = BENCH_OP_ORAL;
        else if (cand_chance(cfg, u->cand, 3) < cfg->pay_share)
            next = BENCH_OP_PAY;
        break;
    case BENCH_OP_ORAL:
        if (st == 201) {
            u->oral = pick_oral(c, u->written);
            u->ack_oral = ack_add(t, u->cand, u->oral, c->campus);
        }
        if (cand_chance(cfg, u->cand, 3) < cfg->pay_share) next = BENCH_OP_PAY;
        break;
    case BENCH_OP_CANCEL:
        if (st == 200 || st == 204) {
            if (u->ack_written != UINT32_MAX) t->acks[u->ack_written].cancelled = true;
            if (u->ack_oral != UINT32_MAX) t->acks[u->ack_oral].cancelled = true;
        }
        break;
    case BENCH_OP_PAY: {
        char amount[32];
        if (st == 201 && cfg->secret_len &&
            bench_json_field(r->resp, "order_id", u->order_id, sizeof u->order_id) == 0 &&
            bench_json_field(r->resp, "amount", amount, sizeof amount) == 0) {
            u->amount = strtoll(amount, NULL, 10);
            next = BENCH_OP_NOTIFY;
        }
        break;
    }
    case BENCH_OP_NOTIFY:
        if (st == 200) {
            if (u->ack_written != UINT32_MAX) t->acks[u->ack_written].paid = true;
            if (u->ack_oral != UINT32_MAX) t->acks[u->ack_oral].paid = true;
        }
        break;
    default:
        break;
    }
    if (next == BENCH_OP__COUNT || t->stopping) {
        bench_req_put(t, r);
        return;
    }
    uint32_t user = r->user;
    bench_req_put(t, r);
    r = req_new(t, user, next, done_ns); /* the pool is LIFO: usually the same object */
    switch (next) {
    case BENCH_OP_REGISTER:
        make_register(t, r, pick_written(c), c->campus);
        break;
    case BENCH_OP_ORAL:
        make_register(t, r, pick_oral(c, u->written), c->campus);
        break;
    case BENCH_OP_CANCEL:
        make_cancel(t, r, u->written);
        break;
    case BENCH_OP_PAY:
        make_pay(t, r, u);
        break;
    case BENCH_OP_NOTIFY:
        make_notify(t, r, u);
        break;
    default:
        CET_ASSERT(0);
    }
    bench_fifo_push(t, r);
}

void bench_scen_done(bench_thread_t *t, bench_req_t *r, uint64_t done_ns)
{
    const bench_cfg_t *cfg = t->cfg;
    switch (cfg->scenario) {
    case BENCH_SCEN_OPENING:
        opening_next(t, r, done_ns);
        return;
    case BENCH_SCEN_HOT:
    case BENCH_SCEN_SPREAD:
    case BENCH_SCEN_EXPIRY:
        if (r->op == BENCH_OP_REGISTER && r->status == 201) {
            const bench_cand_t *c = &cfg->cands[t->users[r->user].cand];
            const char *campus = cfg->scenario == BENCH_SCEN_HOT ? cfg->hot_campus : c->campus;
            char subject = cfg->scenario == BENCH_SCEN_HOT ? cfg->hot_subject : pick_written(c);
            ack_add(t, t->users[r->user].cand, subject, campus);
        }
        break;
    default:
        break;
    }
    bench_req_put(t, r);
}
