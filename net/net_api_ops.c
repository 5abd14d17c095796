/*
 * net_api_ops.c: operations: the engine's and the writer's lines of /metrics, each
 * family with its HELP and TYPE (promtool check metrics).
 */
#include "net/net_api_internal.h"

#include <event2/buffer.h>
#include <string.h>

/* A latency histogram of the writer in seconds (Prometheus: cumulative buckets, _sum, _count). */
static void render_latency(struct evbuffer *out, const char *name, const char *help,
                           const store_latency_hist_t *h)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int b = 0; b < CET_COMMIT_LATENCY_BUCKETS_MAX; b++) {
        cum += h->bucket[b];
        evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name,
                            (double)store_latency_bucket_ns[b] / 1e9, (unsigned long long)cum);
    }
    cum += h->bucket[CET_COMMIT_LATENCY_BUCKETS_MAX];
    evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %llu.%09llu\n%s_count %llu\n",
                        name, (unsigned long long)cum, name,
                        (unsigned long long)(h->sum_ns / 1000000000u),
                        (unsigned long long)(h->sum_ns % 1000000000u), name,
                        (unsigned long long)cum);
}

/* The group-commit writer: batch sizes, commit and fsync latency, counters. */
static void render_writer(struct evbuffer *out, eng_t *eng)
{
    store_writer_stats_t ws;
    store_writer_stats(eng_writer(eng), &ws);
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
                             "cetd_commit_batch_size_sum %llu\n"
                             "cetd_commit_batch_size_count %llu\n",
                        (unsigned long long)cum, (unsigned long long)ws.batch_sum,
                        (unsigned long long)cum);
    render_latency(out, "cetd_commit_seconds",
                   "Commit time of the writer's txns that wrote, to durable (with --sync "
                   "full: the commit log record written with O_DSYNC, then LMDB's commit).",
                   &ws.commit);
    render_latency(out, "cetd_fsync_seconds",
                   "The commit log's synchronous write of each write commit (what makes it "
                   "durable); none with --sync none.",
                   &ws.fsync);
    evbuffer_add_printf(out,
                        "# HELP cetd_commit_batches_total Group-commit txns committed.\n"
                        "# TYPE cetd_commit_batches_total counter\ncetd_commit_batches_total %llu\n"
                        "# HELP cetd_commit_failed_total Group-commit txns aborted (their "
                        "requests answered storage or storage_full).\n"
                        "# TYPE cetd_commit_failed_total counter\ncetd_commit_failed_total %llu\n"
                        "# HELP cetd_commit_queue_depth Requests waiting in the writer's ring.\n"
                        "# TYPE cetd_commit_queue_depth gauge\ncetd_commit_queue_depth %llu\n"
                        "# HELP cetd_map_grows_total LMDB map growths (the map doubled).\n"
                        "# TYPE cetd_map_grows_total counter\ncetd_map_grows_total %llu\n",
                        (unsigned long long)ws.batches, (unsigned long long)ws.failed_batches,
                        (unsigned long long)ws.queue_depth, (unsigned long long)ws.map_grows);
}

void net_api_metrics_cb(struct evbuffer *out, void *app)
{
    net_api_t *api = app;
    eng_stats_t s;
    eng_stats_get(api->eng, &s);
    evbuffer_add_printf(out,
                        "# HELP cetd_expiries_total Unpaid holds expired and their seats returned.\n"
                        "# TYPE cetd_expiries_total counter\ncetd_expiries_total %llu\n"
                        "# HELP cetd_candidates_deleted_total Bound candidates deleted after "
                        "living without registrations for the hold TTL.\n"
                        "# TYPE cetd_candidates_deleted_total counter\n"
                        "cetd_candidates_deleted_total %llu\n"
                        "# HELP cetd_orders_expired_total Pending payment orders timed out.\n"
                        "# TYPE cetd_orders_expired_total counter\ncetd_orders_expired_total %llu\n",
                        (unsigned long long)s.holds_expired, (unsigned long long)s.candidates_deleted,
                        (unsigned long long)s.orders_expired);
    render_writer(out, api->eng);
    store_log_stats_t ls;
    store_log_stats(api->st, &ls);
    evbuffer_add_printf(out,
                        "# HELP cetd_log_records_total Commit log records written (one per "
                        "write commit).\n"
                        "# TYPE cetd_log_records_total counter\ncetd_log_records_total %llu\n"
                        "# HELP cetd_checkpoints_total Checkpoints of LMDB made durable.\n"
                        "# TYPE cetd_checkpoints_total counter\ncetd_checkpoints_total %llu\n"
                        "# HELP cetd_checkpoint_last_seconds How long the last checkpoint took "
                        "(data.mdb flushed, checkpoint file written).\n"
                        "# TYPE cetd_checkpoint_last_seconds gauge\n"
                        "cetd_checkpoint_last_seconds %.6f\n"
                        "# HELP cetd_log_replayed_records Log records applied again at start "
                        "(recovery after a crash).\n"
                        "# TYPE cetd_log_replayed_records gauge\ncetd_log_replayed_records %llu\n"
                        "# HELP cetd_checkpoint_failures_total Checkpoints that failed (the log "
                        "keeps every commit since the last durable one).\n"
                        "# TYPE cetd_checkpoint_failures_total counter\n"
                        "cetd_checkpoint_failures_total %llu\n"
                        "# HELP cetd_checkpoint_failing 1 while the last checkpoint failed: "
                        "data.mdb grows and a restart replays the log until one succeeds.\n"
                        "# TYPE cetd_checkpoint_failing gauge\ncetd_checkpoint_failing %d\n"
                        "# HELP cetd_checkpoint_age_seconds Since the last durable checkpoint "
                        "(one a second when healthy).\n"
                        "# TYPE cetd_checkpoint_age_seconds gauge\n"
                        "cetd_checkpoint_age_seconds %.3f\n",
                        (unsigned long long)ls.records, (unsigned long long)ls.checkpoints,
                        (double)ls.checkpoint_ns_last / 1e9, (unsigned long long)ls.replayed,
                        (unsigned long long)ls.checkpoint_failures, ls.checkpoint_failing ? 1 : 0,
                        (double)ls.checkpoint_age_ms / 1e3);
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
    evbuffer_add_printf(out, "# HELP cetd_seats_taken Seats held or sold, over all offers.\n"
                             "# TYPE cetd_seats_taken gauge\ncetd_seats_taken %llu\n",
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
