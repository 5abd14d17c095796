/*
 * net_api_registrations.c: offers and registrations: the subjects a candidate may take
 * now, registering one (a seat taken before the op is queued), cancelling one.
 */
#include "net/net_api_internal.h"

#include <string.h>

/* ---- offers ---- */
typedef struct offers_walk {
    net_api_t *api;
    store_txn_t *txn;
    const store_candidate_t *c;
    const store_school_t *own;
    json_t *out;
    bool oral;
    int64_t now;
    const store_reg_t *regs;
    int n_regs;
} offers_walk_t;

static void offer_row(offers_walk_t *w, const store_offer_t *o, const store_subject_t *s)
{
    store_campus_t cp;
    store_school_t sc;
    memset(&cp, 0, sizeof cp);
    memset(&sc, 0, sizeof sc);
    store_campus_get(w->txn, w->api->st, o->campus, &cp);
    store_school_get(w->txn, w->api->st, cp.school, &sc);
    eng_seats_t *seats = eng_seats(w->api->eng);
    int slot = eng_seats_slot(seats, o->campus, o->subject);
    uint32_t left = slot >= 0 ? eng_seats_left(seats, slot) : 0;
    bool registered = false;
    for (int i = 0; i < w->n_regs; i++)
        if (w->regs[i].subject == o->subject) registered = true;
    json_t *row = json_pack("{s:s#,s:s,s:s,s:i,s:i,s:o,s:o}", "subject", &s->code, (size_t)1,
                            "name", s->name, "kind", s->kind == STORE_ORAL ? "oral" : "written",
                            "level", (json_int_t)s->level, "fee", (json_int_t)o->fee, "school",
                            json_pack("{s:o,s:s}", "code", net_api_code5(cp.school), "name", sc.name),
                            "campus", json_pack("{s:o,s:s}", "code", net_api_code6(o->campus), "name", cp.name));
    json_object_set_new(row, "window_opens", net_api_time_json(o->window_opens));
    json_object_set_new(row, "window_closes", net_api_time_json(o->window_closes));
    json_object_set_new(row, "exam_date", net_api_time_json(o->exam_date));
    json_object_set_new(row, "seats", json_string(eng_seat_colour(left, o->capacity)));
    json_object_set_new(row, "registered", json_boolean(registered));
    /* the pages show the offering school's announcement next to its campus */
    static _Thread_local char announce[CET_ANNOUNCE_BYTES_MAX + 1];
    if (store_announce_get(w->txn, w->api->st, STORE_ANNOUNCE_SCHOOL, cp.school, announce,
                           sizeof announce))
        announce[0] = 0;
    json_object_set_new(row, "school_announcement", json_string(announce));
    json_object_set_new(row, "written",
                        s->kind == STORE_ORAL && s->written ? json_stringn(&s->written, 1)
                                                            : json_null());
    json_array_append_new(w->out, row);
}

static bool offer_visible(offers_walk_t *w, const store_offer_t *o, store_subject_t *s)
{
    if (store_subject_get(w->txn, w->api->st, o->subject, s) != 0) return false;
    if ((s->kind == STORE_ORAL) != w->oral) return false;
    if (!eng_qualified(&w->c->snapshot, o->subject)) return false;
    if (w->now < o->window_opens || w->now >= o->window_closes) return false;
    if (w->oral && (!o->exam_date || o->fee == 0)) return false;
    return true;
}

static int oral_offer_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    offers_walk_t *w = arg;
    (void)key, (void)klen;
    if (vlen != sizeof(store_offer_t)) return 0;
    store_offer_t o;
    memcpy(&o, val, sizeof o);
    if (o.campus != w->c->snapshot.campus) {
        if (!(w->own->flags & STORE_SCHOOL_ORAL_ELSEWHERE)) return 0;
        store_campus_t cp;
        store_school_t sc;
        if (store_campus_get(w->txn, w->api->st, o.campus, &cp) ||
            store_school_get(w->txn, w->api->st, cp.school, &sc) || sc.province != w->own->province)
            return 0;
    }
    store_subject_t s;
    if (offer_visible(w, &o, &s)) offer_row(w, &o, &s);
    return 0;
}

void net_api_offers(net_req_t *req, net_api_t *api)
{
    store_txn_t *txn = net_api_read_txn(req);
    if (!txn) return;
    api_auth_t a;
    if (!net_api_auth(req, txn, api, STORE_SESSION_CANDIDATE, &a)) return;
    const char *kind = net_req_query(req, "kind");
    if (!kind) kind = "written";
    if (strcmp(kind, "written") != 0 && strcmp(kind, "oral") != 0) {
        net_reply_error(req, CET_E_BAD_QUERY, "kind");
        return;
    }
    store_candidate_t c;
    if (!a.acct.roster_no || store_candidate_get(txn, api->st, a.acct.roster_no, &c) != 0) {
        net_reply_error(req, CET_E_NOT_BOUND, NULL);
        return;
    }
    store_school_t own;
    memset(&own, 0, sizeof own);
    store_school_get(txn, api->st, c.snapshot.school, &own);
    store_reg_t regs[CET_CANDIDATE_REGS_MAX];
    int n = store_reg_list(txn, api->st, a.acct.roster_no, regs, 16);
    offers_walk_t w = {api, txn, &c, &own, json_array(), strcmp(kind, "oral") == 0, cet_now_s(),
                       regs, n < 0 ? 0 : n};
    if (w.oral) {
        int rc = store_scan(txn, api->st, STORE_DB_OFFER, NULL, 0, oral_offer_cb, &w);
        if (rc) {
            json_decref(w.out);
            net_api_reply_store_error(req, rc);
            return;
        }
    } else {
        for (int i = 0; i < c.snapshot.n_subjects && i < CET_SUBJECTS_MAX; i++) {
            store_offer_t o;
            store_subject_t s;
            if (store_offer_get(txn, api->st, c.snapshot.campus, c.snapshot.subjects[i], &o) == 0 &&
                offer_visible(&w, &o, &s))
                offer_row(&w, &o, &s);
        }
    }
    eng_phase_t phase;
    json_t *sitting = net_api_sitting_json(txn, api, &phase);
    json_decref(sitting);
    net_reply_json(req, 200, json_pack("{s:s,s:s,s:o}", "kind", kind, "phase",
                                       eng_phase_name(phase), "offers", w.out));
}

/* ---- registrations ---- */
void net_api_reg_create(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"subject", "campus", NULL};
    store_txn_t *txn = net_api_read_txn(req);
    if (!txn) return;
    api_auth_t a;
    if (!net_api_auth(req, txn, api, STORE_SESSION_CANDIDATE, &a)) return;
    eng_op_t *op = net_api_op_new(req, api, ENG_OP_REG_CREATE);
    memcpy(op->account, a.account, 16);
    if (net_api_idem_prepare(req, txn, api, op, a.account)) return;
    json_t *j = net_api_body_json(req, allowed);
    if (!j) {
        cet_free(op);
        return;
    }
    const char *subject;
    const char *field = "subject";
    cet_err_t e = net_json_str(j, "subject", true, &subject);
    if (!e && !net_api_subject_code_ok(subject)) e = CET_E_INVALID_FIELD;
    if (!e) {
        op->in.subject = subject[0];
        field = "campus";
        e = net_api_json_campus(j, "campus", &op->in.campus);
    }
    json_decref(j);
    if (e) {
        net_api_op_refuse(req, op, NULL, e, field);
        return;
    }
    /* every rule on the read txn first: refusals never touch the writer */
    store_candidate_t c;
    store_offer_t o;
    int r = eng_check_registration(api->eng, txn, a.account, op->in.subject, op->in.campus,
                                   op->now, &c, &o);
    if (r) {
        cet_free(op);
        if (cet_err_is_code(r))
            net_reply_error(req, (cet_err_t)r, NULL);
        else
            net_api_reply_store_error(req, r);
        return;
    }
    eng_seats_t *seats = eng_seats(api->eng);
    int slot = eng_seats_slot(seats, op->in.campus, op->in.subject);
    if (slot < 0 || !eng_seats_take(seats, slot)) {
        cet_free(op);
        net_metrics_count("seats_full", 1);
        net_reply_error(req, CET_E_SEATS_FULL, NULL);
        return;
    }
    op->seat_slot = slot;
    net_api_op_submit(req, op);
}

void net_api_reg_cancel(net_req_t *req, net_api_t *api, const char *subject)
{
    if (!net_api_subject_code_ok(subject)) {
        net_reply_error(req, CET_E_REGISTRATION_NOT_FOUND, "subject");
        return;
    }
    api_auth_t a;
    eng_op_t *op = net_api_candidate_op(req, api, ENG_OP_REG_CANCEL, &a);
    if (!op) return;
    op->in.subject = subject[0];
    net_api_op_submit(req, op);
}
