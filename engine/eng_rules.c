/*
 * eng_rules.c: the engine's read-side rules and views: the sitting's phase,
 * qualification, whether the CET6 review is offered, the API names of states,
 * masking, the notice signature. Pure functions of their arguments (and a
 * read txn), used by the apply side (eng_ops.c) and by net/ alike; they call
 * nothing else of the engine, so eng.c and eng_ops.c both stand on them.
 */
#include "engine/eng.h"

#include <sodium.h>
#include <string.h>

#include "base/cet_base.h"
#include "engine/eng_internal.h"

const char *eng_phase_name(eng_phase_t p)
{
    static const char *names[] = {"none", "before_lookup", "lookup", "open", "closed", "print"};
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "none";
}

eng_phase_t eng_phase(const store_sitting_t *s, int64_t now)
{
    if (!s->id) return ENG_PHASE_NONE;
    if (now < s->lookup_opens) return ENG_PHASE_BEFORE;
    if (now < s->reg_opens) return ENG_PHASE_LOOKUP;
    if (now < s->reg_closes) return ENG_PHASE_OPEN;
    if (s->print_opens && now >= s->print_opens) return ENG_PHASE_PRINT;
    return ENG_PHASE_CLOSED;
}

const char *eng_review_state_name(uint8_t state)
{
    switch (state) {
    case STORE_REVIEW_AUTO_APPROVED:
        return "auto_approved";
    case STORE_REVIEW_PENDING:
        return "pending";
    case STORE_REVIEW_APPROVED:
        return "approved";
    case STORE_REVIEW_REJECTED:
        return "rejected";
    }
    return NULL;
}

const char *eng_order_state_name(uint8_t state)
{
    switch (state) {
    case STORE_ORDER_PENDING:
        return "pending";
    case STORE_ORDER_PAID:
        return "paid";
    case STORE_ORDER_EXPIRED:
        return "expired";
    case STORE_ORDER_REFUND:
        return "refund";
    }
    return "unknown";
}

const char *eng_seat_colour(uint32_t left, uint32_t capacity)
{
    if (left == 0) return "none";
    return (uint64_t)left * 2 >= capacity ? "green" : "yellow";
}

bool eng_qualified(const store_roster_t *r, char subject)
{
    for (int i = 0; i < r->n_subjects && i < CET_SUBJECTS_MAX; i++)
        if (r->subjects[i] == subject) return true;
    return false;
}

bool eng_review_offered(store_txn_t *txn, const store_t *st, const store_roster_t *r)
{
    if (r->flags & STORE_ROSTER_CET6_BARRED) return false;
    if (eng_qualified(r, ENG_SUBJECT_ENGLISH6)) return false;
    store_offer_t o;
    return store_offer_get(txn, st, r->campus, ENG_SUBJECT_ENGLISH6, &o) == 0;
}

/* Length of the UTF-8 character starting at s. */
static size_t utf8_len(const char *s)
{
    unsigned char c = (unsigned char)*s;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    return 4;
}

void eng_mask_name(const char *in, char *out, size_t cap)
{
    /* keep the first character (the surname) and the last; stars between */
    size_t n = strlen(in), chars = 0;
    for (size_t i = 0; i < n; i += utf8_len(in + i))
        chars++;
    size_t o = 0, idx = 0;
    for (size_t i = 0; i < n && o + 5 < cap; idx++) {
        size_t l = utf8_len(in + i);
        if (idx == 0 || (idx == chars - 1 && chars > 2)) {
            memcpy(out + o, in + i, l);
            o += l;
        } else {
            out[o++] = '*';
        }
        i += l;
    }
    out[o] = 0;
}

void eng_mask_id(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (i < 4 || i + 4 >= n) ? in[i] : '*';
    out[n] = 0;
}

void eng_mask_email(const char *in, char *out, size_t cap)
{
    const char *at = strchr(in, '@');
    size_t local = at ? (size_t)(at - in) : strlen(in);
    size_t keep = local < 2 ? local : 2;
    snprintf(out, cap, "%.*s***%s", (int)keep, in, at ? at : "");
}

bool eng_notice_signature_ok(const eng_t *e, const char *body, size_t len, const char *sig_hex)
{
    if (!sig_hex || !e->opt.payment_secret_len) return false;
    uint8_t want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
    if (strlen(sig_hex) != 2 * sizeof got || cet_unhex(got, sig_hex, sizeof got) != 0) return false;
    crypto_auth_hmacsha256_state stt;
    crypto_auth_hmacsha256_init(&stt, e->opt.payment_secret, e->opt.payment_secret_len);
    crypto_auth_hmacsha256_update(&stt, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&stt, want);
    return sodium_memcmp(want, got, sizeof want) == 0;
}
