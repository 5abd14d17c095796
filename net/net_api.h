/*
 * net_api.h: the routes of API version 1 on top of net.h and the engine.
 * net_api_handler_cb and net_api_metrics_cb are the net_options_t callbacks;
 * app is the net_api_t.
 */
#ifndef NET_API_H
#define NET_API_H

#include "engine/eng.h"
#include "net/net.h"

typedef struct net_api net_api_t;

/** The API over eng (which owns the writer) and st. Makes the dummy hash (slow, once). */
net_api_t *net_api_new(eng_t *eng, store_t *st);
void net_api_free(net_api_t *api);
/** net_handler_cb: dispatches one request (core thread). */
void net_api_handler_cb(net_req_t *req, void *app);
/** net_started_cb: what resumes at start (rendering admission tickets ahead). */
void net_api_started_cb(net_core_t *core, void *app);
/** net_options_t.body_max: the body a route takes beyond CET_BODY_BYTES_MAX (0: the default). */
size_t net_api_body_max(net_method_t method, const char *path);
/** net_metrics_cb: the engine's lines of /metrics. */
void net_api_metrics_cb(struct evbuffer *out, void *app);

#endif
