/* main.c - hotline-router: arguments, configuration, signals, the loop. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "hotline/alloc.h"
#include "hotline/conf.h"
#include "hotline/log.h"
#include "hotline/loop.h"
#include "hotline/router.h"

extern char **environ;

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        got_hup = 1;
    else
        got_stop++;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hotline-router [options]\n"
            "Take citizen requests (Intake envelopes) from the ZeroMQ bus, classify them,\n"
            "route them to the responsible unit, set their deadlines, store them in\n"
            "PostgreSQL and queue them in the unit's Redis stream, then answer with an Ack.\n"
            "\n"
            "  -c, --config FILE   read settings from FILE (INI; see hotline.conf.example)\n"
            "  -s, --set S.K=V     override one setting, e.g. --set router.batch_max=500\n"
            "      --dump-config   print the effective settings and exit\n"
            "  -h, --help          this text\n"
            "\n"
            "Signals: TERM or INT finish the work in flight and exit (a second one exits at\n"
            "once); HUP reloads the reference data (catalogue, policy, calendar, keywords).\n"
            "\n"
            "Settings (environment: HOTLINE_<SECTION>_<KEY>):\n");
    hl_conf_help(out);
}

typedef struct {
    hl_router_t *router;
    hl_loop_t *loop;
    int deadline_timer;
} app_t;

static void force_stop(hl_loop_t *loop, void *arg)
{
    (void)arg;
    hl_warn("work still in flight after 10 s; stopping anyway");
    hl_loop_stop(loop);
}

static void check_signals(hl_loop_t *loop, void *arg)
{
    app_t *app = arg;
    if (got_hup) {
        got_hup = 0;
        hl_info("SIGHUP: reloading reference data");
        hl_router_reload(app->router);
    }
    if (got_stop == 1 && !app->deadline_timer) {
        hl_router_shutdown(app->router);
        app->deadline_timer = hl_loop_timer(loop, 10000, 0, force_stop, NULL);
    } else if (got_stop > 1) {
        hl_loop_stop(loop);
    }
}

/* The router is the one serial stage between the gateways and PostgreSQL:
 * on a host it shares with them, its loop should not wait for the CPU behind
 * theirs (http.sh on the 2-core dev VM: idle 15-17 % -> 12-14 %, ~3 % more
 * tickets per second). Set before any thread starts: Linux gives a thread's nice
 * value to the threads it creates (ZeroMQ's I/O thread). */
static void set_priority(int nice_value)
{
    errno = 0;
    int now = getpriority(PRIO_PROCESS, 0);
    if (errno == 0 && now == nice_value) return;
    if (setpriority(PRIO_PROCESS, 0, nice_value) != 0)
        hl_warn("router.priority %d: %s; running at nice %d", nice_value, strerror(errno), now);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"dump-config", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    char **sets = hl_calloc((size_t)argc, sizeof(char *));
    int nsets = 0, opt;
    bool dump = false;
    hl_log_init("router");
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
        fprintf(stderr, "hotline-router: unexpected argument '%s'\n", argv[optind]);
        hl_free(sets);
        return 2;
    }
    hl_conf_t conf;
    char err[HL_ERR_LEN];
    int rc = hl_conf_load_all(&conf, config, environ, sets, nsets, err);
    hl_free(sets);
    if (rc == 0 && hl_log_parse_level(conf.log_level, &hl_log_threshold) != 0) rc = HL_EINVAL;
    if (rc) {
        fprintf(stderr, "hotline-router: %s\n", err);
        hl_conf_free(&conf);
        return 2;
    }
    if (dump) {
        hl_conf_dump(&conf, stdout);
        hl_conf_free(&conf);
        return 0;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    set_priority((int)conf.router_priority);
    app_t app = {0};
    app.loop = hl_loop_new();
    app.router = hl_router_new(app.loop, &conf, err);
    if (!app.router) {
        hl_error("%s", err);
        hl_loop_destroy(&app.loop);
        hl_conf_free(&conf);
        return 1;
    }
    int sig_timer = hl_loop_timer(app.loop, 50, 50, check_signals, &app);
    hl_router_start(app.router);
    hl_info("listening: intake %s, events %s; postgres writers %lld; redis %s:%lld",
            conf.zmq_intake, conf.zmq_events, (long long)conf.pg_connections, conf.redis_host,
            (long long)conf.redis_port);
    rc = hl_loop_run(app.loop);
    if (rc) hl_error("event loop failed: %s", hl_strerror(rc));
    hl_loop_cancel(app.loop, sig_timer);
    hl_loop_cancel(app.loop, app.deadline_timer);
    hl_router_destroy(&app.router);
    hl_loop_destroy(&app.loop);
    hl_conf_free(&conf);
    hl_info("stopped");
    return rc ? 1 : 0;
}
