/*
 * net_api_ops.c: operations: the engine's lines of /metrics.
 */
#include "net/net_api_internal.h"

#include <event2/buffer.h>
#include <string.h>

void net_api_metrics_cb(struct evbuffer *out, void *app)
{
    net_api_t *api = app;
    eng_stats_t s;
    eng_stats_get(api->eng, &s);
    evbuffer_add_printf(out,
                        "# HELP cetd_expiries_total Unpaid holds expired and their seats returned.\n"
                        "# TYPE cetd_expiries_total counter\ncetd_expiries_total %llu\n"
                        "# TYPE cetd_candidates_deleted_total counter\n"
                        "cetd_candidates_deleted_total %llu\n"
                        "# TYPE cetd_orders_expired_total counter\ncetd_orders_expired_total %llu\n",
                        (unsigned long long)s.holds_expired, (unsigned long long)s.candidates_deleted,
                        (unsigned long long)s.orders_expired);
    store_writer_stats_t ws;
    store_writer_stats(eng_writer(api->eng), &ws);
    evbuffer_add_printf(out,
                        "# HELP cetd_commit_batch_size Requests per group-commit txn.\n"
                        "# TYPE cetd_commit_batch_size histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < 12; i++) {
        cum += ws.batch_hist[i];
        if (i < 11)
            evbuffer_add_printf(out, "cetd_commit_batch_size_bucket{le=\"%d\"} %llu\n",
                                (1 << i) - 1 > 0 ? (1 << i) - 1 : 0, (unsigned long long)cum);
    }
    evbuffer_add_printf(out, "cetd_commit_batch_size_bucket{le=\"+Inf\"} %llu\n"
                             "cetd_commit_batch_size_count %llu\n",
                        (unsigned long long)cum, (unsigned long long)cum);
    evbuffer_add_printf(out,
                        "# TYPE cetd_commit_batches_total counter\ncetd_commit_batches_total %llu\n"
                        "# TYPE cetd_commit_failed_total counter\ncetd_commit_failed_total %llu\n"
                        "# TYPE cetd_commit_queue_depth gauge\ncetd_commit_queue_depth %llu\n"
                        "# TYPE cetd_map_grows_total counter\ncetd_map_grows_total %llu\n",
                        (unsigned long long)ws.batches, (unsigned long long)ws.failed_batches,
                        (unsigned long long)ws.queue_depth, (unsigned long long)ws.map_grows);
    /* seats left and live holds */
    eng_seats_t *seats = eng_seats(api->eng);
    int n = eng_seats_count(seats);
    evbuffer_add_printf(out, "# HELP cetd_seats_left Seats left per campus-subject offer.\n"
                             "# TYPE cetd_seats_left gauge\n");
    uint64_t taken = 0;
    for (int i = 0; i < n; i++) {
        uint32_t campus;
        char subject;
        eng_seats_offer(seats, i, &campus, &subject);
        uint32_t left = eng_seats_left(seats, i), cap = eng_seats_capacity(seats, i);
        taken += cap > left ? cap - left : 0;
        evbuffer_add_printf(out, "cetd_seats_left{campus=\"%06u\",subject=\"%c\"} %u\n", campus,
                            subject, left);
    }
    evbuffer_add_printf(out, "# TYPE cetd_seats_taken gauge\ncetd_seats_taken %llu\n",
                        (unsigned long long)taken);
    store_txn_t *txn;
    size_t holds = 0, resets = 0, mail_pending = 0, mail_failed = 0;
    if (store_read_begin(api->st, &txn) == 0) {
        store_count(txn, api->st, STORE_DB_EXPIRY, &holds);
        store_count(txn, api->st, STORE_DB_RESET, &resets);
        store_mail_count(txn, api->st, STORE_MAIL_PENDING, &mail_pending);
        store_mail_count(txn, api->st, STORE_MAIL_FAILED, &mail_failed);
        store_abort(txn);
    }
    evbuffer_add_printf(out,
                        "# HELP cetd_mail_outbox Mails in the outbox: pending (not yet accepted "
                        "by the SMTP server) and failed (refused for good).\n"
                        "# TYPE cetd_mail_outbox gauge\ncetd_mail_outbox{state=\"pending\"} %zu\n"
                        "cetd_mail_outbox{state=\"failed\"} %zu\n"
                        "# HELP cetd_password_resets Password-reset records kept (live, used "
                        "and decoys until swept).\n"
                        "# TYPE cetd_password_resets gauge\ncetd_password_resets %zu\n",
                        mail_pending, mail_failed, resets);
    evbuffer_add_printf(out,
                        "# HELP cetd_holds Live entries of the expiry index (holds, empty "
                        "candidates, pending orders).\n# TYPE cetd_holds gauge\ncetd_holds %zu\n",
                        holds);
}
