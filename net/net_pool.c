/*
 * net_pool.c: the small pool for slow work (argon2id, mail).
 *
 * A bounded FIFO (CET_WORK_QUEUE_MAX) under one mutex and condvar: jobs are
 * milliseconds long, so the lock is never the bottleneck. A finished job goes
 * back to the core that submitted it (net_core_work_done: a lock-free list and
 * event_active), and its done_cb runs on that core's thread. Each thread
 * keeps one argon2id memory for its hashes (net_pwhash_arena.c).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/cet_base.h"
#include "net/net_internal.h"

struct net_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    net_work_t *head, *tail;
    unsigned len;
    _Atomic unsigned len_seen; /* len, for /metrics without the lock */
    bool stop;
    unsigned n;
    pthread_t threads[CET_WORKERS_MAX];
};

static void *pool_main(void *arg)
{
    net_pool_t *p = arg;
    /* argon2id's memory made once, not per hash (net_pwhash_arena.c) */
    int rc = net_pwhash_arena_attach();
    if (rc) CET_WARN("pool: no argon2id arena (%s): hashes map their memory each time",
                     strerror(rc));
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        net_work_t *w = p->head;
        if (!w) { /* stop, and nothing left */
            pthread_mutex_unlock(&p->mu);
            net_pwhash_arena_detach();
            return NULL;
        }
        p->head = w->next_;
        if (!p->head) p->tail = NULL;
        p->len--;
        atomic_store_explicit(&p->len_seen, p->len, memory_order_relaxed);
        pthread_mutex_unlock(&p->mu);

        w->next_ = NULL;
        w->work_cb(w);
        net_core_work_done(w->core, w);
    }
}

int net_pool_start(unsigned n, net_pool_t **out)
{
    if (n == 0) n = 2;
    if (n > CET_WORKERS_MAX) n = CET_WORKERS_MAX;
    net_pool_t *p = cet_calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (unsigned i = 0; i < n; i++) {
        int rc = pthread_create(&p->threads[i], NULL, pool_main, p);
        if (rc) {
            CET_ERROR("pool: cannot start thread %u: %s", i, strerror(rc));
            p->n = i;
            net_pool_stop(p);
            return rc;
        }
        p->n = i + 1;
    }
    *out = p;
    return 0;
}

void net_pool_stop(net_pool_t *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    cet_free(p);
}

unsigned net_pool_queue_len(net_pool_t *p)
{
    return atomic_load_explicit(&p->len_seen, memory_order_relaxed);
}

cet_err_t net_pool_push(net_pool_t *p, net_work_t *w)
{
    CET_ASSERT(w->work_cb && w->done_cb && w->core);
    pthread_mutex_lock(&p->mu);
    if (p->stop) {
        pthread_mutex_unlock(&p->mu);
        return CET_E_DRAINING;
    }
    if (p->len >= CET_WORK_QUEUE_MAX) {
        pthread_mutex_unlock(&p->mu);
        return CET_E_OVERLOADED;
    }
    w->next_ = NULL;
    if (p->tail)
        p->tail->next_ = w;
    else
        p->head = w;
    p->tail = w;
    p->len++;
    atomic_store_explicit(&p->len_seen, p->len, memory_order_relaxed);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return CET_E_OK;
}
