/*
 * eng_account.c: the account lifecycle inside the writer's txn: password
 * reset (request and confirm), password change, support rebinding, and the
 * mail each of them queues in the outbox in the same commit
 * (docs/rules.md R30..R34, store.h "The account lifecycle").
 *
 * Every apply here checks all its rules before it writes, like those of
 * eng_ops.c: it returns 0 with op->res.u filled, a cet_err_t (nothing
 * written), or a storage code.
 */
#include <string.h>
#include <strings.h>

#include "base/cet_base.h"
#include "base/cet_id.h"
#include "engine/eng_internal.h"

/* 0 stays 0, STORE_NOTFOUND becomes notfound, anything else is a storage failure. */
static int found(int rc, cet_err_t notfound)
{
    return rc == STORE_NOTFOUND ? (int)notfound : rc;
}

static const char *public_url(const eng_t *e)
{
    return e->opt.public_url && e->opt.public_url[0] ? e->opt.public_url : "http://localhost";
}

/* ---- the mail texts (UTF-8; net/net_mail.c makes them MIME) ---- */
#define MAIL_SIGNATURE                                                                             \
    "\n全国大学英语四、六级考试报名网\n"                                            \
    "（本邮件由系统自动发送，请勿回复。）\n"

static int mail_reset(eng_t *e, store_txn_t *txn, const store_account_t *a, const char *token,
                      int64_t now)
{
    char body[CET_MAIL_BODY_BYTES_MAX];
    snprintf(body, sizeof body,
             "您好：\n\n"
             "我们收到了为通行证 %s 重置密码的申请。请在 %d 分钟内打开下面的链接设置新密码，"
             "链接只能使用一次：\n\n"
             "%s/reset?token=%s\n\n"
             "设置新密码后，此账号在所有设备上的登录都会退出，请用新密码重新登录。\n"
             "如果这不是您本人的操作，请忽略本邮件，您的密码不会改变。\n" MAIL_SIGNATURE,
             a->email, CET_RESET_TTL_S / 60, public_url(e), token);
    return store_mail_queue(txn, e->st, now, STORE_MAIL_RESET, a->email,
                            "【CET报名】重置通行证密码", body, NULL);
}

static int mail_password_changed(eng_t *e, store_txn_t *txn, const store_account_t *a,
                                 bool by_reset, int64_t now)
{
    char body[CET_MAIL_BODY_BYTES_MAX], when[26];
    snprintf(body, sizeof body,
             "您好：\n\n"
             "通行证 %s 的密码已于 %s %s。%s\n\n"
             "如果这不是您本人的操作，请立即通过“找回密码”重新设置密码，并联系客服：\n"
             "%s/\n" MAIL_SIGNATURE,
             a->email, cet_time_format(now, when), by_reset ? "通过邮件链接重置" : "修改",
             by_reset ? "此账号的所有登录都已退出。" : "此账号在其他设备上的登录都已退出。",
             public_url(e));
    return store_mail_queue(txn, e->st, now, STORE_MAIL_PASSWORD_CHANGED, a->email,
                            "【CET报名】通行证密码已修改", body, NULL);
}

int eng_account_mail_email_changed(eng_t *e, store_txn_t *txn, const char *old_email,
                                   const char *new_email, int64_t now)
{
    if (strcasecmp(old_email, new_email) == 0) return 0; /* nothing changed that matters */
    char body[CET_MAIL_BODY_BYTES_MAX], when[26], masked[CET_EMAIL_BYTES + 8];
    eng_mask_email(new_email, masked, sizeof masked);
    snprintf(body, sizeof body,
             "您好：\n\n"
             "您的通行证的电子邮箱已于 %s 由 %s 改为 %s。"
             "此后请用新邮箱登录，本邮箱不再接收此账号的邮件。\n\n"
             "如果这不是您本人的操作，请尽快联系客服，并提供您的通行证ID。\n"
             "%s/\n" MAIL_SIGNATURE,
             cet_time_format(now, when), old_email, masked, public_url(e));
    return store_mail_queue(txn, e->st, now, STORE_MAIL_EMAIL_CHANGED, old_email,
                            "【CET报名】通行证邮箱已更改", body, NULL);
}

static int mail_rebound(eng_t *e, store_txn_t *txn, const store_account_t *a,
                        const store_roster_t *ro, int64_t now)
{
    char body[CET_MAIL_BODY_BYTES_MAX], name[CET_NAME_BYTES], hex[33];
    eng_mask_name(ro->name, name, sizeof name);
    cet_hex(hex, a->id, 16);
    snprintf(body, sizeof body,
             "您好：\n\n"
             "应您的申请，客服已将考生 %s 的报名信息（学籍绑定及已报考科目）"
             "重新绑定到通行证 %s（通行证ID：%s）。\n"
             "请用此邮箱登录报名网站查看报名信息：\n%s/\n\n"
             "如果这不是您本人的申请，请尽快联系客服。\n" MAIL_SIGNATURE,
             name, a->email, hex, public_url(e));
    return store_mail_queue(txn, e->st, now, STORE_MAIL_REBOUND, a->email,
                            "【CET报名】报名信息已重新绑定到您的通行证", body, NULL);
}

/* ---- password reset ---- */
/*
 * The same work whether or not the email has an account: one reset record
 * of one size under the token's hash (a decoy with a zero account when
 * there is none) and the same answer; only a real one also queues its mail.
 */
static int apply_reset_request(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    int rc = store_reset_sweep(txn, e->st, op->in.token_key, op->now);
    if (rc) return rc;
    store_account_t a;
    rc = store_account_by_email(txn, e->st, op->in.email, &a);
    if (rc && rc != STORE_NOTFOUND) return rc;
    bool known = rc == 0;
    store_reset_t r;
    memset(&r, 0, sizeof r);
    if (known) memcpy(r.account, a.id, 16);
    r.created = op->now;
    r.expires = op->now + CET_RESET_TTL_S;
    if ((rc = store_reset_put(txn, e->st, op->in.token_key, &r))) return rc;
    if (known && (rc = mail_reset(e, txn, &a, op->in.token_out, op->now))) return rc;
    return 0; /* the same result either way */
}

static bool zero16(const uint8_t *p)
{
    static const uint8_t zero[16];
    return memcmp(p, zero, 16) == 0;
}

/* The reset record of in.token_key, usable now: 0 or a refusal (or storage code). */
static int reset_usable(eng_op_t *op, store_txn_t *txn, store_reset_t *r)
{
    int rc =
        found(store_reset_get(txn, op->eng->st, op->in.token_key, r), CET_E_RESET_TOKEN_INVALID);
    if (rc) return rc;
    if (zero16(r->account)) return CET_E_RESET_TOKEN_INVALID;
    if (r->used_at) return CET_E_RESET_TOKEN_USED;
    if (op->now >= r->expires) return CET_E_RESET_TOKEN_EXPIRED;
    bool superseded = false; /* a later reset or password change ended every older link */
    if ((rc = store_reset_superseded(txn, op->eng->st, r, &superseded))) return rc;
    return superseded ? CET_E_RESET_TOKEN_EXPIRED : 0;
}

static int apply_reset_confirm(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_reset_t r;
    int rc = reset_usable(op, txn, &r);
    if (rc) return rc;
    store_account_t a;
    rc = found(store_account_get(txn, e->st, r.account, &a), CET_E_RESET_TOKEN_INVALID);
    if (rc) return rc;
    cet_strlcpy(a.pwhash, op->in.pwhash, sizeof a.pwhash);
    if ((rc = store_account_put(txn, e->st, &a, true))) return rc;
    r.used_at = op->now;
    if ((rc = store_reset_put(txn, e->st, op->in.token_key, &r))) return rc;
    if ((rc = store_reset_supersede(txn, e->st, a.id, op->now))) return rc;
    int ended = 0;
    if ((rc = store_account_sessions_end(txn, e->st, a.id, NULL, &ended))) return rc;
    if ((rc = mail_password_changed(e, txn, &a, true, op->now))) return rc;
    op->res.u.password.sessions_ended = ended;
    return 0;
}

/* ---- password change ---- */
static int apply_password_change(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_account_t a;
    int rc = found(store_account_get(txn, e->st, op->account, &a), CET_E_UNAUTHORIZED);
    if (rc) return rc;
    /* the old password was verified against this very hash on the pool: a change
     * that committed in between (another device, a reset) wins */
    if (strcmp(a.pwhash, op->in.pwhash_seen) != 0) return CET_E_INVALID_CREDENTIALS;
    cet_strlcpy(a.pwhash, op->in.pwhash, sizeof a.pwhash);
    if ((rc = store_account_put(txn, e->st, &a, true))) return rc;
    int ended = 0;
    if ((rc = store_account_sessions_end(txn, e->st, a.id, op->in.token_key, &ended))) return rc;
    if ((rc = store_reset_supersede(txn, e->st, a.id, op->now))) return rc; /* old links end */
    if ((rc = mail_password_changed(e, txn, &a, false, op->now))) return rc;
    op->res.u.password.sessions_ended = ended;
    return 0;
}

/* ---- support rebinding ---- */
typedef struct rebind {
    store_staff_t staff;
    store_roster_t ro;
    store_candidate_t c;
    store_account_t from, to;
    store_reg_t regs[CET_CANDIDATE_REGS_MAX];
    int n_regs;
} rebind_t;

/* Every rule of a rebinding, without writing. */
static int rebind_check(eng_op_t *op, store_txn_t *txn, rebind_t *b)
{
    const store_t *st = op->eng->st;
    int rc = found(store_staff_get(txn, st, op->staff, &b->staff), CET_E_FORBIDDEN);
    if (rc) return rc;
    if (b->staff.role != STORE_STAFF_SUPPORT) return CET_E_FORBIDDEN;
    rc = found(store_roster_get(txn, st, op->in.id_type, op->in.id_number, &b->ro),
               CET_E_ROSTER_NOT_FOUND);
    if (rc) return rc;
    if (strcmp(b->ro.name, op->in.name) != 0) return CET_E_ROSTER_NOT_FOUND;
    rc = found(store_candidate_get(txn, st, b->ro.roster_no, &b->c), CET_E_RECORD_NOT_BOUND);
    if (rc) return rc;
    rc = found(store_account_get(txn, st, op->in.target, &b->to), CET_E_ACCOUNT_NOT_FOUND);
    if (rc) return rc;
    if (b->to.roster_no) return CET_E_ALREADY_BOUND; /* the target binds nobody else (R8) */
    rc = store_account_get(txn, st, b->c.account, &b->from);
    if (rc == STORE_NOTFOUND)
        memset(&b->from, 0, sizeof b->from); /* gone: nothing to unbind */
    else if (rc)
        return rc;
    b->n_regs = store_reg_list(txn, st, b->ro.roster_no, b->regs, CET_CANDIDATE_REGS_MAX);
    return b->n_regs < 0 ? b->n_regs : 0;
}

/* Payment orders name their account: those the candidate's registrations point at follow. */
static int rebind_orders(eng_t *e, store_txn_t *txn, const rebind_t *b)
{
    uint64_t done[CET_CANDIDATE_REGS_MAX];
    int n_done = 0;
    for (int i = 0; i < b->n_regs; i++) {
        uint64_t id = b->regs[i].order_id;
        bool seen = id == 0;
        for (int k = 0; k < n_done && !seen; k++)
            seen = done[k] == id;
        if (seen) continue;
        done[n_done++] = id;
        store_order_t o;
        int rc = store_order_get(txn, e->st, id, &o);
        if (rc == STORE_NOTFOUND) continue;
        if (rc) return rc;
        if (o.roster_no != b->ro.roster_no) continue;
        memcpy(o.account, b->to.id, 16);
        /* the expiry entry is unchanged: old_expires equal to expires keeps it */
        if ((rc = store_order_put(txn, e->st, &o, o.state == STORE_ORDER_PENDING ? o.expires : 0)))
            return rc;
    }
    return 0;
}

/* A CET6 review belongs to an account: the one made for this record moves too. */
static int rebind_review(eng_t *e, store_txn_t *txn, const rebind_t *b)
{
    if (zero16(b->from.id)) return 0;
    store_review_t rv;
    int rc = store_review_get(txn, e->st, b->from.id, &rv);
    if (rc == STORE_NOTFOUND) return 0;
    if (rc) return rc;
    if (rv.roster_no != b->ro.roster_no) return 0;
    if ((rc = store_review_del(txn, e->st, b->from.id))) return rc;
    memcpy(rv.account, b->to.id, 16);
    return store_review_put(txn, e->st, &rv);
}

static int apply_staff_rebind(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    rebind_t rb, *b = &rb;
    int rc = rebind_check(op, txn, b);
    if (rc) return rc;
    /* the candidate (its snapshot, registrations keyed by roster number) now names `to` */
    memcpy(b->c.account, b->to.id, 16);
    if ((rc = store_candidate_put(txn, e->st, b->ro.roster_no, &b->c))) return rc;
    b->to.roster_no = b->ro.roster_no;
    if (!b->to.agreed_at) b->to.agreed_at = b->from.agreed_at; /* the same person agreed */
    if ((rc = store_account_put(txn, e->st, &b->to, true))) return rc;
    if (!zero16(b->from.id) && b->from.roster_no == b->ro.roster_no) {
        b->from.roster_no = 0;
        if ((rc = store_account_put(txn, e->st, &b->from, true))) return rc;
    }
    if ((rc = rebind_orders(e, txn, b)) || (rc = rebind_review(e, txn, b))) return rc;
    char from_hex[33], to_hex[33], detail[CET_AUDIT_TEXT_BYTES_MAX];
    cet_hex(from_hex, b->from.id, 16);
    cet_hex(to_hex, b->to.id, 16);
    snprintf(
        detail, sizeof detail,
        "roster %u (%.16s %.23s) with %d registrations moved from account %.32s to account %.32s",
        b->ro.roster_no, cet_id_type_name(b->ro.id_type), b->ro.id_number, b->n_regs, from_hex,
        to_hex);
    if ((rc = store_audit_append(txn, e->st, op->now, op->staff, "rebind", detail))) return rc;
    if ((rc = mail_rebound(e, txn, &b->to, &b->ro, op->now))) return rc;
    memcpy(op->res.u.rebind.from, b->from.id, 16);
    memcpy(op->res.u.rebind.to, b->to.id, 16);
    op->res.u.rebind.roster_no = b->ro.roster_no;
    for (int i = 0; i < b->n_regs; i++) op->res.u.rebind.subjects[i] = b->regs[i].subject;
    return 0;
}

/* ---- support lookup: the read is the caller's; the writer keeps who asked what ---- */
static int apply_staff_lookup(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_staff_t staff;
    int rc = found(store_staff_get(txn, e->st, op->staff, &staff), CET_E_FORBIDDEN);
    if (rc) return rc;
    if (staff.role != STORE_STAFF_SUPPORT) return CET_E_FORBIDDEN;
    char detail[CET_AUDIT_TEXT_BYTES_MAX];
    snprintf(detail, sizeof detail, "account lookup by %.*s", (int)(sizeof detail - 32),
             op->in.email);
    return store_audit_append(txn, e->st, op->now, op->staff, "account_lookup", detail);
}

int eng_account_apply(eng_op_t *op, store_txn_t *txn)
{
    switch (op->kind) {
    case ENG_OP_RESET_REQUEST:
        return apply_reset_request(op, txn);
    case ENG_OP_RESET_CONFIRM:
        return apply_reset_confirm(op, txn);
    case ENG_OP_PASSWORD_CHANGE:
        return apply_password_change(op, txn);
    case ENG_OP_STAFF_REBIND:
        return apply_staff_rebind(op, txn);
    case ENG_OP_STAFF_LOOKUP:
        return apply_staff_lookup(op, txn);
    default:
        return CET_E_INTERNAL;
    }
}
