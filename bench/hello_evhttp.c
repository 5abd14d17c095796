/*
 * hello_evhttp.c: the ceiling of cetd's HTTP layer on this machine.
 *
 * The plainest evhttp server in cetd's shape: --threads event loops, each
 * with its own evhttp on its own SO_REUSEPORT listener, answering every
 * request with a small JSON body. No parsing, no storage, no fsync: whatever
 * cetd does costs time on top of this.
 *
 *   hello_evhttp --listen 127.0.0.1:8090 [--threads N]
 *   hello_evhttp --listen unix:/path/hello.sock [--threads N]
 * A unix socket (what cetd's edge proxies to, bench/edge-compare) is one
 * listening socket that every thread's loop accepts from (its own evconnlistener
 * on a dup of it), as SO_REUSEPORT has no unix-socket counterpart.
 * Prints "hello_evhttp: listening on ADDR" when ready; SIGTERM/SIGINT stop it.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "base/cet_limits.h"

#define HELLO_BACKLOG CET_LISTEN_BACKLOG_MAX /* as cetd's listeners */

typedef struct hello_core {
    struct event_base *base;
    struct evhttp *http;
    struct evconnlistener *lis;
    pthread_t th;
} hello_core_t;

static const char hello_body[] = "{\"hello\":\"world\"}\n";

static void hello_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    evbuffer_add_reference(out, hello_body, sizeof hello_body - 1, NULL, NULL);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void *core_run_cb(void *arg)
{
    hello_core_t *c = arg;
    event_base_dispatch(c->base);
    return NULL;
}

static char unix_path[108]; /* the socket file, removed at exit */

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    hello_core_t *cores = arg;
    (void)cores;
    if (unix_path[0]) unlink(unix_path);
    exit(0);
}

int main(int argc, char **argv)
{
    const char *listen_addr = "127.0.0.1:8090";
    int threads = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen_addr = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: hello_evhttp [--listen 127.0.0.1:PORT|unix:PATH] [--threads N]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > CET_THREADS_MAX) threads = 1;
    struct sockaddr_storage ss;
    int sslen = sizeof ss;
    int unix_fd = -1;
    if (strncmp(listen_addr, "unix:", 5) == 0) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        const char *path = listen_addr + 5;
        if (strlen(path) >= sizeof sun.sun_path) {
            fprintf(stderr, "hello_evhttp: socket path too long: %s\n", path);
            return 2;
        }
        strcpy(sun.sun_path, path);
        strcpy(unix_path, path);
        unlink(path);
        unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (unix_fd < 0 || bind(unix_fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
            listen(unix_fd, HELLO_BACKLOG) != 0) {
            perror("hello_evhttp: unix socket");
            return 1;
        }
    } else if (evutil_parse_sockaddr_port(listen_addr, (struct sockaddr *)&ss, &sslen) != 0) {
        fprintf(stderr, "hello_evhttp: bad address %s\n", listen_addr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    hello_core_t *cores = calloc((size_t)threads, sizeof *cores);
    for (int i = 0; i < threads; i++) {
        hello_core_t *c = &cores[i];
        c->base = event_base_new();
        c->http = evhttp_new(c->base);
        evhttp_set_gencb(c->http, hello_cb, NULL);
        if (unix_fd >= 0) {
            int fd = i ? fcntl(unix_fd, F_DUPFD_CLOEXEC, 0) : unix_fd;
            c->lis = fd < 0 ? NULL
                            : evconnlistener_new(c->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE, 0,
                                                 fd); /* 0: listening already (-1 re-listens at 128) */
        } else
            c->lis = evconnlistener_new_bind(
                c->base, NULL, NULL,
                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT, HELLO_BACKLOG,
                (struct sockaddr *)&ss, sslen);
        if (!c->lis || !evhttp_bind_listener(c->http, c->lis)) {
            fprintf(stderr, "hello_evhttp: cannot listen on %s\n", listen_addr);
            return 1;
        }
    }
    struct event *sig_term = evsignal_new(cores[0].base, SIGTERM, stop_cb, cores);
    struct event *sig_int = evsignal_new(cores[0].base, SIGINT, stop_cb, cores);
    event_add(sig_term, NULL);
    event_add(sig_int, NULL);
    printf("hello_evhttp: listening on %s\n", listen_addr);
    fflush(stdout);
    for (int i = 1; i < threads; i++)
        pthread_create(&cores[i].th, NULL, core_run_cb, &cores[i]);
    core_run_cb(&cores[0]);
    return 0;
}
