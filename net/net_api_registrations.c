/*
 * net_api_registrations.c: offers and registrations: the subjects a candidate may take
 * now (the engine's eng_offer_eligible decides), registering one, cancelling one.
 */
#include "net/net_api_internal.h"

#include <string.h>

/* ---- offers ---- */
typedef struct offers_walk {
    net_api_t *api;
    store_txn_t *txn;
    const store_candidate_t *c;
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
    json_t *row = json_pack("{s:s#,s:s,s:s,s:I,s:I,s:o,s:o}", "subject", &s->code, (size_t)1,
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

/* Lists o when it is of the kind asked for and the engine would let the candidate register it. */
static void offer_maybe(offers_walk_t *w, const store_offer_t *o)
{
    store_subject_t s;
    if (store_subject_get(w->txn, w->api->st, o->subject, &s) != 0) return;
    if ((s.kind == STORE_ORAL) != w->oral) return;
    if (eng_offer_eligible(w->api->eng, w->txn, w->c, &s, o, w->now) != 0) return;
    offer_row(w, o, &s);
}

static int oral_offer_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    offers_walk_t *w = arg;
    (void)key, (void)klen;
    if (vlen != sizeof(store_offer_t)) return 0;
    store_offer_t o;
    memcpy(&o, val, sizeof o);
    offer_maybe(w, &o);
    return 0;
}

void net_api_offers(net_call_t *call)
{
    net_api_t *api = call->api;
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    if (!net_api_auth(call, txn, STORE_SESSION_CANDIDATE)) return;
    const char *kind = net_req_query(call->req, "kind");
    if (!kind) kind = "written";
    if (strcmp(kind, "written") != 0 && strcmp(kind, "oral") != 0) {
        net_call_reply_error(call, CET_E_BAD_QUERY, "kind");
        return;
    }
    store_candidate_t c;
    uint32_t no = call->auth.acct.roster_no;
    if (!no || store_candidate_get(txn, api->st, no, &c) != 0) {
        net_call_reply_error(call, CET_E_NOT_BOUND, NULL);
        return;
    }
    store_reg_t regs[CET_CANDIDATE_REGS_MAX];
    int n = store_reg_list(txn, api->st, no, regs, CET_CANDIDATE_REGS_MAX);
    offers_walk_t w = {api, txn, &c, json_array(), strcmp(kind, "oral") == 0, cet_now_s(),
                       regs, n < 0 ? 0 : n};
    if (w.oral) {
        int rc = store_scan(txn, api->st, STORE_DB_OFFER, NULL, 0, oral_offer_cb, &w);
        if (rc) {
            json_decref(w.out);
            net_call_reply_store_error(call, rc);
            return;
        }
    } else {
        for (int i = 0; i < c.snapshot.n_subjects && i < CET_SUBJECTS_MAX; i++) {
            store_offer_t o;
            if (store_offer_get(txn, api->st, c.snapshot.campus, c.snapshot.subjects[i], &o) == 0)
                offer_maybe(&w, &o);
        }
    }
    eng_phase_t phase;
    json_t *sitting = net_api_sitting_json(txn, api, &phase);
    json_decref(sitting);
    net_call_reply_json(call, 200, json_pack("{s:s,s:s,s:o}", "kind", kind, "phase",
                                             eng_phase_name(phase), "offers", w.out));
}

/* ---- registrations ---- */
void net_api_reg_create(net_call_t *call)
{
    static const char *const allowed[] = {"subject", "campus", NULL};
    eng_op_t *op = net_api_candidate_op(call, ENG_OP_REG_CREATE);
    if (!op) return;
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    const char *subject;
    const char *field = "subject";
    cet_err_t e = net_json_str(j, "subject", true, &subject);
    if (!e && !net_api_subject_code_ok(subject)) e = CET_E_INVALID_FIELD;
    if (!e) {
        op->in.subject = subject[0];
        field = "campus";
        e = net_api_json_campus(j, "campus", &op->in.campus);
    }
    if (e) {
        net_call_reply_error(call, e, field);
        return;
    }
    /* the engine runs every rule on the read txn and takes the seat before it queues */
    net_call_submit(call);
}

void net_api_write_reg(net_call_t *call, const eng_op_t *op, net_jw_t *w)
{
    (void)call;
    char campus[21], expires[26];
    net_jw_open(w, NULL);
    net_jw_str(w, "subject", &op->res.u.reg.subject, 1);
    net_jw_str(w, "campus", campus, cet_dec_format(campus, op->res.u.reg.campus, 6));
    net_jw_int(w, "fee", op->res.u.reg.fee);
    net_jw_str(w, "state", "unpaid", 6);
    if (op->res.u.reg.expires)
        net_jw_str(w, "expires_at", cet_time_format(op->res.u.reg.expires, expires), 25);
    else
        net_jw_null(w, "expires_at");
    net_jw_close(w);
}

void net_api_reg_cancel(net_call_t *call, const char *subject)
{
    if (!net_api_subject_code_ok(subject)) {
        net_call_reply_error(call, CET_E_REGISTRATION_NOT_FOUND, "subject");
        return;
    }
    eng_op_t *op = net_api_candidate_op(call, ENG_OP_REG_CANCEL);
    if (!op) return;
    op->in.subject = subject[0];
    net_call_submit(call);
}

json_t *net_api_render_cancel(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:o}", "cancelled", net_api_subjects_json(op->res.u.cancel.subjects));
}
