/* events.c - hotline-events: print the router's events as they happen.
 *
 * Subscribes to the router's PUB socket and prints one line per Event:
 *   <topic> <ticket> <kind> <from>-><to> unit=<u> category=<c> at=<ISO 8601> v<version>
 * No personal data travels on the bus, so none is printed.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/conf.h"
#include "hotline/envelope.h"
#include "hotline/ticket.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hotline-events [options] [TOPIC-PREFIX]\n"
            "Print the router's events (zmq.events) as they happen, one line each.\n"
            "TOPIC-PREFIX filters by topic: \"ticket.GAS\" shows the gas company's tickets.\n"
            "\n"
            "  -n, --count N        exit after N events\n"
            "  -t, --timeout S      exit after S seconds\n"
            "  -e, --endpoint URL   PUB endpoint (default: zmq.events of the settings)\n"
            "  -c, --config FILE    settings file\n"
            "  -s, --set S.K=V      override one setting\n"
            "  -h, --help           this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'n'}, {"timeout", required_argument, NULL, 't'},
        {"endpoint", required_argument, NULL, 'e'}, {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long count = -1, timeout_s = -1;
    const char *endpoint = NULL, *config = NULL;
    char **sets = hl_calloc((size_t)argc, sizeof(char *));
    int nsets = 0, opt;
    while ((opt = getopt_long(argc, argv, "n:t:e:c:s:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': count = atol(optarg); break;
        case 't': timeout_s = atol(optarg); break;
        case 'e': endpoint = optarg; break;
        case 'c': config = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'h': usage(stdout); hl_free(sets); return 0;
        default: usage(stderr); hl_free(sets); return 2;
        }
    }
    const char *prefix = optind < argc ? argv[optind] : "";
    hl_conf_t conf;
    char err[HL_ERR_LEN];
    int rc = hl_conf_load_all(&conf, config, environ, sets, nsets, err);
    hl_free(sets);
    if (rc) {
        fprintf(stderr, "hotline-events: %s\n", err);
        hl_conf_free(&conf);
        return 2;
    }
    void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    if (zmq_connect(sub, endpoint ? endpoint : conf.zmq_events) != 0) {
        fprintf(stderr, "hotline-events: cannot connect %s\n", endpoint ? endpoint : conf.zmq_events);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int64_t end = timeout_s >= 0 ? hl_mono_us() + timeout_s * 1000000 : INT64_MAX;
    long seen = 0;
    while (count < 0 || seen < count) {
        int64_t left = end - hl_mono_us();
        if (left <= 0) break;
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, left > 1000000 ? 1000 : (long)(left / 1000) + 1) <= 0) continue;
        char topic[128];
        int tl = zmq_recv(sub, topic, sizeof topic - 1, 0);
        if (tl < 0) continue;
        topic[tl < (int)sizeof topic - 1 ? tl : (int)sizeof topic - 1] = '\0';
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sub, 0) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        hl_envelope_t *env = NULL;
        if (hl_envelope_unpack(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 24, &env, NULL, err) == 0 &&
            env->body_case == HOTLINE__ENVELOPE__BODY_EVENT) {
            const Hotline__Event *e = env->event;
            char at[HL_ISO8601_LEN];
            printf("%s %s %s %s->%s unit=%s category=%s at=%s v%lld\n", topic, e->ticket, e->kind,
                   *hl_state_name(e->from_state) ? hl_state_name(e->from_state) : "-",
                   hl_state_name(e->to_state), e->unit, e->category,
                   hl_iso8601(e->at, (int)conf.utc_offset_min, at), (long long)e->version);
            seen++;
        } else {
            fprintf(stderr, "hotline-events: undecodable message on %s: %s\n", topic, err);
        }
        hl_envelope_free(&env);
        zmq_msg_close(&m);
    }
    zmq_close(sub);
    zmq_ctx_term(ctx);
    hl_conf_free(&conf);
    return 0;
}
