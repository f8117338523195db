/* main.c - hotline-gateway: HTTP JSON API, Open311 GeoReport v2, the console. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"

#include "gateway.h"

extern char **environ;

static size_t inflight(gw_t *gw)
{
    size_t n = 0;
    for (int i = 0; i < gw->nloops; i++) n += gw_loop_inflight(gw->loops[i]);
    return n;
}

#ifndef HL_CONSOLE_DIR
#define HL_CONSOLE_DIR "/usr/local/share/hotline/console"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hotline-gateway [options]\n"
            "The HTTP front of the hotline: the JSON API (/api/v1), Open311 GeoReport v2\n"
            "(/open311/v2), the agents' console (/console/), /healthz and /readyz. Every request\n"
            "is checked (token, role, rate, size) and handed to the router over the bus.\n"
            "Settings: [gateway] of the settings file (hotline.conf.example explains each);\n"
            "tokens are made with hotline-token.\n"
            "\n"
            "  -c, --config FILE    settings file\n"
            "  -s, --set S.K=V      override one setting\n"
            "      --dump-config    print the settings in force and exit\n"
            "  -h, --help           this text\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop taking connections, finish what is in flight (up to\n"
            "gateway.request_timeout_ms) and exit.\n"
            "Exit status: 0 stopped cleanly, 1 cannot start (address in use, console missing),\n"
            "2 bad usage.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"dump-config", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    bool dump = false;
    char **sets = hl_calloc((size_t)argc + 1, sizeof(char *));
    int nsets = 0, opt, x = 2;
    while ((opt = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'D': dump = true; break;
        case 'h': usage(stdout); hl_free(sets); return 0;
        default: usage(stderr); hl_free(sets); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hotline-gateway: unexpected argument '%s'\n", argv[optind]);
        hl_free(sets);
        return 2;
    }
    gw_t gw;
    memset(&gw, 0, sizeof gw);
    gw.listen_fd = -1;
    char err[HL_ERR_LEN];
    int rc = hl_conf_load_all(&gw.conf, config, environ, sets, nsets, err);
    hl_free(sets);
    if (rc == 0 && hl_log_parse_level(gw.conf.log_level, &hl_log_threshold) != 0) {
        snprintf(err, sizeof err, "bad log.level '%s'", gw.conf.log_level);
        rc = HL_EINVAL;
    }
    if (rc) {
        fprintf(stderr, "hotline-gateway: %s\n", err);
        hl_conf_free(&gw.conf);
        return 2;
    }
    if (dump) {
        hl_conf_dump(&gw.conf, stdout);
        hl_conf_free(&gw.conf);
        return 0;
    }
    hl_log_init("gateway");
    pthread_mutex_init(&gw.refs_lock, NULL);
    pthread_mutex_init(&gw.conn_lock, NULL);
    pthread_mutex_init(&gw.hot_lock, NULL);
    gw_jobs_init(&gw);
    gw.conns = hl_map_new();
    if (*gw.conf.gw_public_url)
        snprintf(gw.base_url, sizeof gw.base_url, "%s", gw.conf.gw_public_url);
    else
        snprintf(gw.base_url, sizeof gw.base_url, "http://%s", gw.conf.gw_listen);
    size_t n = strlen(gw.base_url);
    while (n && gw.base_url[n - 1] == '/') gw.base_url[--n] = '\0';

    /* Signals are taken by sigwait in this thread only. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *dir = *gw.conf.gw_console_dir ? gw.conf.gw_console_dir : HL_CONSOLE_DIR;
    gw.auth = gw_auth_new();
    gw.kb = gw_kb_new();
    x = 1;
    if (gw_console_load(&gw, dir, err) != 0) {
        hl_error("%s", err);
        goto done;
    }
    gw.listen_fd = gw_http_listen(&gw, err);
    if (gw.listen_fd < 0) {
        hl_error("%s", err);
        goto done;
    }
    gw.pgwatch = gw_pgwatch_start(&gw, err);
    if (!gw.pgwatch) {
        hl_error("%s", err);
        goto done;
    }
    gw.zctx = zmq_ctx_new();
    gw.loops = hl_calloc((size_t)gw.conf.gw_threads, sizeof *gw.loops);
    for (; gw.nloops < gw.conf.gw_threads; gw.nloops++) {
        gw.loops[gw.nloops] = gw_loop_start(&gw, gw.nloops, gw.listen_fd, err);
        if (!gw.loops[gw.nloops]) {
            hl_error("%s", err);
            goto done;
        }
    }
    hl_info("listening on %s (API %s/api/v1, Open311 %s/open311/v2, console %s/console/); router %s",
            gw.conf.gw_listen, gw.base_url, gw.base_url, gw.base_url, gw.conf.zmq_intake);
    int sig = 0;
    for (;;) {
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) continue; /* tokens and names reload by NOTIFY */
        break;
    }
    hl_info("stopping (signal %d): finishing %zu request(s) in flight", sig, inflight(&gw));
    gw.stopping = 1;
    for (int i = 0; i < gw.nloops; i++) gw_loop_quiesce(gw.loops[i]);
    int64_t until = hl_mono_us() + gw.conf.gw_request_timeout_ms * 1000;
    while (inflight(&gw) > 0 && hl_mono_us() < until) usleep(10000);
    x = 0;
done:
    /* Each loop answers what still waits, then stops its daemon. */
    for (int i = 0; i < gw.nloops; i++) gw_loop_stop(&gw.loops[i]);
    hl_free(gw.loops);
    if (gw.zctx) zmq_ctx_term(gw.zctx);
    if (gw.listen_fd >= 0) close(gw.listen_fd);
    gw_pgwatch_stop(&gw.pgwatch);
    gw_auth_destroy(&gw.auth);
    gw_kb_free(&gw.kb);
    gw_console_free(&gw);
    pthread_mutex_lock(&gw.refs_lock);
    gw_refs_free(gw.refs);
    gw.refs = NULL;
    pthread_mutex_unlock(&gw.refs_lock);
    pthread_mutex_destroy(&gw.refs_lock);
    hl_map_destroy(&gw.conns);
    pthread_mutex_destroy(&gw.conn_lock);
    gw_hot_answers_free(&gw);
    pthread_mutex_destroy(&gw.hot_lock);
    gw_jobs_free(&gw);
    hl_info("stopped: %llu requests, %llu server errors", (unsigned long long)gw.requests,
            (unsigned long long)gw.errors);
    hl_conf_free(&gw.conf);
    return x;
}
