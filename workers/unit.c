/* unit.c - hotline-unit and hotline-office: the lifecycle from a shell.
 *
 * One source, two binaries (HL_TOOL_OFFICE picks): hotline-unit acts for one
 * handling unit (--unit CODE) and reads its queue hl:q:<unit>; hotline-office
 * acts for the 12345 office (or, with --role, a supervisor or admin) and reads
 * the dispatch queue, where tickets waiting for a dispatcher, returns,
 * extension requests and replies to review arrive. Both talk to the router
 * through the client library (include/hotline/client.h); the router decides
 * what is allowed, from the lifecycle table whose rows --help lists.
 *
 * Exit status: 0 done; 1 refused by the router (the message says why);
 * 2 bad usage; 3 router or Redis unavailable; 4 the queue is empty (next).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hotline/alloc.h"
#include "hotline/client.h"
#include "hotline/clock.h"
#include "hotline/conf.h"
#include "hotline/lifecycle.h"
#include "hotline/pbjson.h"
#include "hotline/ticket.h"

extern char **environ;

#ifdef HL_TOOL_OFFICE
#define TOOL "hotline-office"
#else
#define TOOL "hotline-unit"
#endif

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3, EXIT_EMPTY = 4 };

#define MAX_PAYLOAD 16

typedef struct {
    hl_conf_t conf;
    hl_client_t *client;
    const char *role, *unit, *actor;
    bool json;
    int timeout_ms;
    /* next, consume */
    int wait_s, count;
    bool ack;
    const char *exec, *consumer;
    /* list, show */
    const char *state, *reveal;
    int limit;
    int64_t before;
    /* actions */
    const char *code, *reason, *key;
    int64_t version;
    const char *keys[MAX_PAYLOAD], *values[MAX_PAYLOAD];
    size_t npayload;
} cli_t;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int tool_roles(void)
{
#ifdef HL_TOOL_OFFICE
    return HL_ROLE_OFFICE | HL_ROLE_SUPERVISOR | HL_ROLE_ADMIN;
#else
    return HL_ROLE_UNIT;
#endif
}

static void usage(FILE *out)
{
#ifdef HL_TOOL_OFFICE
    fprintf(out, "Usage: hotline-office [options] COMMAND [TICKET]\n"
                 "The 12345 office's side of the ticket lifecycle: dispatch, review returns, extensions\n"
                 "and replies, call back, close, supervise. Reads the dispatch queue (hl:q:<dispatch_queue>).\n");
#else
    fprintf(out, "Usage: hotline-unit --unit CODE [options] COMMAND [TICKET]\n"
                 "A handling unit's side of the ticket lifecycle: read the unit's queue (hl:q:CODE), sign,\n"
                 "return, ask for more time, contact the requester, reply.\n");
#endif
    fprintf(out,
            "\nCommands:\n"
            "  next                 the next queue entry (pending ones first); --ack acks it\n"
            "  ack ENTRY            done with a queue entry\n"
            "  consume              print (or --exec) entries as they come, ack each handled one\n"
            "  list                 tickets, newest first (--state, --limit, --before)\n"
            "  show TICKET          a ticket with its history (--reveal REASON: unmasked, logged)\n"
            "  ACTION TICKET        one of the actions below\n"
            "\nOptions:\n"
#ifdef HL_TOOL_OFFICE
            "      --role ROLE      office (default), supervisor or admin\n"
            "      --unit CODE      list: that unit's tickets only\n"
#else
            "      --unit CODE      the unit acting (required)\n"
#endif
            "      --actor ID       who acts, recorded in events (default: $USER)\n"
            "      --json           answers as JSON, one object per line\n"
            "      --timeout MS     wait this long for each answer (default 5000; 3 retries)\n"
            "  -c, --config FILE    settings file (zmq.intake, redis.host, redis.port ...)\n"
            "  -s, --set S.K=V      override one setting\n"
            "  -h, --help           this text\n"
            "      --lifecycle-markdown  the lifecycle table as Markdown (docs/lifecycle.md)\n"
            "\n  next/consume:  --wait S (block up to S seconds), --ack, --count N,\n"
            "                 --exec CMD (consume: run CMD per entry, ack when it exits 0; a failure\n"
            "                 stops consume and the entry stays pending, first in line next time).\n"
            "                 CMD sees HL_ENTRY, HL_TICKET, HL_KIND, HL_EVENT, HL_STATE, HL_VERSION,\n"
            "                 HL_CATEGORY, HL_URGENCY, HL_TYPE, HL_REGION, HL_REPLY_DUE, HL_REDELIVERED\n"
            "                 and HL_KEY (unit:entry, a base for idempotency keys).\n"
            "                 --consumer NAME: this reader's name in the queue's consumer group\n"
            "                 (default: the host name; a restarted reader of the same name gets\n"
            "                 its un-acked entries first; parallel readers need their own names)\n"
            "  list:          --state S (a state, or \"open\"), --limit N (default 50), --before MS\n"
            "  actions:       --code C (reason_code), --reason TEXT, --version N (expected version:\n"
            "                 refused if the ticket moved on), --key K (idempotency key: the same key\n"
            "                 is done once), --payload K=V, and for the payload: --days N, --text T,\n"
            "                 --method M, --note T, --to UNIT, --assisting U1,U2, --binding,\n"
            "                 --outcome O, --resolution R, --satisfaction S, --service N,\n"
            "                 --parent TICKET, --kb-entry ID, --kb-version N, --notice N, --clock C,\n"
            "                 --due MS, --level N\n"
            "\nActions (from the lifecycle table; the router checks state, role and fields):\n");
    hl_lifecycle_help(out, tool_roles());
    fprintf(out, "\nExit status: 0 done, 1 refused by the router, 2 bad usage, 3 router or Redis\n"
                 "unavailable, 4 the queue is empty.\n");
}

/* ------------------------------------------------------------ output */

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) puts(s);
    free(s);
    json_decref(o);
}

static const char *when(const cli_t *c, int64_t ms, char buf[HL_ISO8601_LEN])
{
    if (!ms) return "-";
    return hl_iso8601(ms, (int)c->conf.utc_offset_min, buf);
}

static json_t *msg_json(const hl_queue_msg_t *m)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "id", m->id,
                     "kind", m->kind, "event", m->event, "role", m->role, "ticket", m->ticket, "state", m->state,
                     "category", m->category, "urgency", m->urgency, "type", m->type, "region", m->region,
                     "sign_due", (json_int_t)m->sign_due, "contact_due", (json_int_t)m->contact_due,
                     "reply_due", (json_int_t)m->reply_due, "version", (json_int_t)m->version, "redelivered",
                     m->redelivered);
}

static void print_msg(const cli_t *c, const hl_queue_msg_t *m)
{
    if (c->json) {
        print_json(msg_json(m));
        return;
    }
    char a[HL_ISO8601_LEN], b[HL_ISO8601_LEN];
    printf("%s %s %s %s %s v%" PRId64 " category=%s urgency=%s type=%s region=%s sign_due=%s reply_due=%s%s\n",
           m->id, m->kind, m->event, m->ticket, m->state, m->version, m->category, m->urgency, m->type, m->region,
           when(c, m->sign_due, a), when(c, m->reply_due, b), m->redelivered ? " redelivered" : "");
}

static void print_ack(const cli_t *c, const Hotline__Ack *ack)
{
    if (c->json) {
        print_json(hl_pb_to_json(&ack->base));
        return;
    }
    if (ack->status == HOTLINE__STATUS__STATUS_OK) {
        char r[HL_ISO8601_LEN];
        printf("%s %s v%" PRId64 " unit=%s reply_due=%s%s\n", ack->ticket, hl_state_name(ack->state),
               ack->version, *ack->unit ? ack->unit : "-",
               when(c, ack->deadlines ? ack->deadlines->reply : 0, r), ack->replayed ? " (done earlier)" : "");
        return;
    }
    char st[32];
    fprintf(stderr, "%s: %s: %s\n", TOOL, hl_pb_enum_name(&hotline__status__descriptor, ack->status, st, sizeof st),
            ack->message);
}

static int exit_of(const Hotline__Ack *ack)
{
    switch (ack->status) {
    case HOTLINE__STATUS__STATUS_OK: return 0;
    case HOTLINE__STATUS__STATUS_TRY_LATER:
    case HOTLINE__STATUS__STATUS_INTERNAL: return EXIT_UNAVAILABLE;
    default: return EXIT_REFUSED;
    }
}

static void print_view(const cli_t *c, const Hotline__TicketView *v)
{
    char a[HL_ISO8601_LEN], b[HL_ISO8601_LEN], d[HL_ISO8601_LEN], e[HL_ISO8601_LEN];
    const Hotline__Deadlines *dl = v->deadlines;
    printf("ticket    %s  v%" PRId64 "  %s%s\n", v->ticket, v->version, hl_state_name(v->state),
           v->overdue ? "  OVERDUE" : "");
    printf("category  %s (%.2f, %s)  type %s  urgency %s  channel %s\n", v->category, v->confidence,
           v->classifier, hl_type_name(v->type), hl_urgency_name(v->urgency), hl_channel_name(v->channel));
    printf("unit      %s", *v->unit ? v->unit : "-");
    for (size_t i = 0; i < v->n_assisting_units; i++) printf("%s%s", i ? "," : "  assisting ", v->assisting_units[i]);
    for (size_t i = 0; i < v->n_excluded_units; i++) printf("%s%s", i ? "," : "  excluded ", v->excluded_units[i]);
    printf("%s\n", v->binding ? "  binding" : "");
    printf("region    %s  address %s\n", v->region, v->address);
    if (v->requester)
        printf("requester %s  %s  %s%s%s\n", *v->requester->name ? v->requester->name : "-",
               *v->requester->phone ? v->requester->phone : "-", v->requester->id_number,
               v->requester->anonymous ? " anonymous" : "", v->requester->confidential ? " confidential" : "");
    printf("received  %s\n", when(c, v->received_at, a));
    if (dl)
        printf("due       sign %s  contact %s  reply %s  callback %s\n", when(c, dl->sign, a), when(c, dl->contact, b),
               when(c, dl->reply, d), when(c, dl->callback, e));
    printf("counts    returns %d  reopens %d  extensions %d  callbacks %d  supervision %d\n", v->return_count,
           v->reopen_count, v->extension_count, v->callback_attempts, v->supervision);
    if (v->rating && *v->rating->resolution)
        printf("rating    %s / %s\n", v->rating->resolution, v->rating->satisfaction);
    if (*v->parent) printf("parent    %s\n", v->parent);
    printf("title     %s\n", v->title);
    printf("body      %s\n", v->body);
}

static void print_event(const cli_t *c, const Hotline__Event *ev)
{
    char at[HL_ISO8601_LEN];
    printf("  %3d %s %-18s %s -> %s  by %s%s%s", ev->seq, when(c, ev->at, at), ev->kind,
           *hl_state_name(ev->from_state) ? hl_state_name(ev->from_state) : "-", hl_state_name(ev->to_state),
           ev->actor ? ev->actor->role : "?", ev->actor && *ev->actor->unit ? ":" : "",
           ev->actor ? ev->actor->unit : "");
    if (*ev->reason_code) printf("  [%s]", ev->reason_code);
    if (*ev->reason) printf("  %s", ev->reason);
    for (size_t i = 0; i < ev->n_payload; i++) printf("  %s=%s", ev->payload[i]->key, ev->payload[i]->value);
    printf("\n");
}

/* ------------------------------------------------------------ commands */

static int client_error(int rc, const char *err)
{
    fprintf(stderr, "%s: %s\n", TOOL, err);
    return rc == HL_EINVAL ? EXIT_USAGE : EXIT_UNAVAILABLE;
}

static int cmd_next(cli_t *c)
{
    hl_queue_msg_t m;
    char err[HL_ERR_LEN];
    int rc = hl_client_next(c->client, &m, c->wait_s * 1000, err);
    if (rc < 0) return client_error(rc, err);
    if (rc == 0) {
        if (!c->json) fprintf(stderr, "%s: the queue is empty\n", TOOL);
        return EXIT_EMPTY;
    }
    print_msg(c, &m);
    fflush(stdout);
    if (c->ack && hl_client_ack(c->client, m.id, err) != 0) return client_error(HL_EIO, err);
    return 0;
}

static int cmd_ack(cli_t *c, const char *id)
{
    char err[HL_ERR_LEN];
    if (hl_client_ack(c->client, id, err) != 0) return client_error(HL_EIO, err);
    return 0;
}

static void setenv_i64(const char *k, int64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRId64, v);
    setenv(k, b, 1);
}

static int run_handler(const cli_t *c, const hl_queue_msg_t *m)
{
    char key[160];
    snprintf(key, sizeof key, "%s:%s", *c->unit ? c->unit : c->conf.dispatch_queue, m->id);
    setenv("HL_ENTRY", m->id, 1);
    setenv("HL_TICKET", m->ticket, 1);
    setenv("HL_KIND", m->kind, 1);
    setenv("HL_EVENT", m->event, 1);
    setenv("HL_STATE", m->state, 1);
    setenv("HL_CATEGORY", m->category, 1);
    setenv("HL_URGENCY", m->urgency, 1);
    setenv("HL_TYPE", m->type, 1);
    setenv("HL_REGION", m->region, 1);
    setenv_i64("HL_VERSION", m->version);
    setenv_i64("HL_REPLY_DUE", m->reply_due);
    setenv("HL_REDELIVERED", m->redelivered ? "1" : "0", 1);
    setenv("HL_KEY", key, 1);
    fflush(stdout);
    int st = system(c->exec);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int cmd_consume(cli_t *c)
{
    int64_t end = c->wait_s > 0 ? hl_mono_us() + (int64_t)c->wait_s * 1000000 : INT64_MAX;
    int handled = 0;
    char err[HL_ERR_LEN];
    while (!stopping && (c->count <= 0 || handled < c->count)) {
        int64_t left_ms = (end - hl_mono_us()) / 1000;
        if (left_ms <= 0) break;
        hl_queue_msg_t m;
        int rc = hl_client_next(c->client, &m, left_ms > 1000 ? 1000 : (int)left_ms, err);
        if (rc < 0) return client_error(rc, err);
        if (rc == 0) continue;
        if (c->exec) {
            int st = run_handler(c, &m);
            if (st != 0) {
                fprintf(stderr, "%s: handler exited %d on entry %s (ticket %s); it stays pending\n", TOOL, st, m.id,
                        m.ticket);
                return EXIT_REFUSED;
            }
        } else {
            print_msg(c, &m);
            if (fflush(stdout) != 0) return EXIT_UNAVAILABLE; /* not delivered: stays pending */
        }
        if (hl_client_ack(c->client, m.id, err) != 0) return client_error(HL_EIO, err);
        handled++;
    }
    return 0;
}

static int answer_of(const cli_t *c, int rc, const char *err, hl_envelope_t **ans)
{
    if (rc) return client_error(rc, err);
    const Hotline__Ack *ack = (*ans)->ack;
    if (ack->status != HOTLINE__STATUS__STATUS_OK) {
        print_ack(c, ack);
        int x = exit_of(ack);
        hl_envelope_free(ans);
        return x;
    }
    return -1; /* OK: the caller prints */
}

static int cmd_list(cli_t *c)
{
    hl_envelope_t *ans = NULL;
    char err[HL_ERR_LEN];
    int rc = hl_client_list(c->client, c->unit, c->state, c->limit, c->before, &ans, err);
    int x = answer_of(c, rc, err, &ans);
    if (x >= 0) return x;
    const Hotline__QueryResult *res = ans->ack->result;
    if (c->json) {
        print_json(res ? hl_pb_to_json(&res->base) : json_object());
    } else if (res) {
        printf("%-18s %-20s %4s %-8s %-10s %-24s %s\n", "TICKET", "STATE", "V", "URGENCY", "UNIT", "CATEGORY",
               "REPLY DUE");
        for (size_t i = 0; i < res->n_tickets; i++) {
            const Hotline__TicketView *v = res->tickets[i];
            char r[HL_ISO8601_LEN];
            printf("%-18s %-20s %4" PRId64 " %-8s %-10s %-24s %s%s\n", v->ticket, hl_state_name(v->state), v->version,
                   hl_urgency_name(v->urgency), *v->unit ? v->unit : "-", v->category,
                   when(c, v->deadlines ? v->deadlines->reply : 0, r), v->overdue ? " OVERDUE" : "");
        }
    }
    hl_envelope_free(&ans);
    return 0;
}

static int cmd_show(cli_t *c, const char *ticket)
{
    hl_envelope_t *ans = NULL;
    char err[HL_ERR_LEN];
    int rc = hl_client_get(c->client, ticket, c->reveal, &ans, err);
    int x = answer_of(c, rc, err, &ans);
    if (x >= 0) return x;
    const Hotline__QueryResult *res = ans->ack->result;
    if (c->json) {
        print_json(res ? hl_pb_to_json(&res->base) : json_object());
    } else if (res && res->n_tickets) {
        print_view(c, res->tickets[0]);
        printf("history\n");
        for (size_t i = 0; i < res->n_events; i++) print_event(c, res->events[i]);
    }
    hl_envelope_free(&ans);
    return 0;
}

static int cmd_action(cli_t *c, hl_action_t kind, const char *ticket)
{
    hl_client_act_t args = {c->code, c->reason, c->npayload, c->keys, c->values, c->version, c->key};
    hl_envelope_t *ans = NULL;
    char err[HL_ERR_LEN];
    int rc = hl_client_act(c->client, ticket, kind, &args, &ans, err);
    if (rc) return client_error(rc, err);
    print_ack(c, ans->ack);
    int x = exit_of(ans->ack);
    hl_envelope_free(&ans);
    return x;
}

/* ------------------------------------------------------------ options */

enum {
    O_UNIT = 256, O_ROLE, O_ACTOR, O_JSON, O_TIMEOUT, O_WAIT, O_ACK, O_COUNT, O_EXEC, O_STATE, O_LIMIT, O_BEFORE,
    O_REVEAL, O_CODE, O_REASON, O_VERSION, O_KEY, O_PAYLOAD, O_MARKDOWN, O_CONSUMER,
    O_P_FIRST, /* payload shortcuts from here, in the order of shortcuts[] */
};

static const struct {
    const char *opt, *key;
    bool flag;
} shortcuts[] = {
    {"days", "days", false},          {"text", "text", false},         {"method", "method", false},
    {"note", "note", false},          {"to", "unit", false},           {"assisting", "assisting", false},
    {"binding", "binding", true},     {"outcome", "outcome", false},   {"resolution", "resolution", false},
    {"satisfaction", "satisfaction", false}, {"service", "service", false}, {"parent", "parent", false},
    {"kb-entry", "kb_entry", false},  {"kb-version", "kb_version", false}, {"notice", "notice", false},
    {"clock", "clock", false},        {"due", "due", false},           {"level", "level", false},
};
#define NSHORTCUTS (sizeof shortcuts / sizeof shortcuts[0])

static int add_payload(cli_t *c, const char *k, const char *v)
{
    if (c->npayload >= MAX_PAYLOAD) {
        fprintf(stderr, "%s: at most %d payload entries\n", TOOL, MAX_PAYLOAD);
        return -1;
    }
    for (size_t i = 0; i < c->npayload; i++) {
        if (strcmp(c->keys[i], k) == 0) {
            fprintf(stderr, "%s: payload '%s' given twice\n", TOOL, k);
            return -1;
        }
    }
    c->keys[c->npayload] = k;
    c->values[c->npayload] = v;
    c->npayload++;
    return 0;
}

static bool parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    struct option opts[64] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {"unit", required_argument, NULL, O_UNIT},
        {"role", required_argument, NULL, O_ROLE}, {"actor", required_argument, NULL, O_ACTOR},
        {"json", no_argument, NULL, O_JSON},      {"timeout", required_argument, NULL, O_TIMEOUT},
        {"wait", required_argument, NULL, O_WAIT}, {"ack", no_argument, NULL, O_ACK},
        {"count", required_argument, NULL, O_COUNT}, {"exec", required_argument, NULL, O_EXEC},
        {"state", required_argument, NULL, O_STATE}, {"limit", required_argument, NULL, O_LIMIT},
        {"before", required_argument, NULL, O_BEFORE}, {"reveal", required_argument, NULL, O_REVEAL},
        {"code", required_argument, NULL, O_CODE}, {"reason", required_argument, NULL, O_REASON},
        {"version", required_argument, NULL, O_VERSION}, {"key", required_argument, NULL, O_KEY},
        {"payload", required_argument, NULL, O_PAYLOAD}, {"lifecycle-markdown", no_argument, NULL, O_MARKDOWN},
        {"consumer", required_argument, NULL, O_CONSUMER},
    };
    size_t nopts = 0;
    while (opts[nopts].name) nopts++;
    for (size_t i = 0; i < NSHORTCUTS; i++)
        opts[nopts++] = (struct option){shortcuts[i].opt, shortcuts[i].flag ? no_argument : required_argument, NULL,
                                        O_P_FIRST + (int)i};
    opts[nopts] = (struct option){NULL, 0, NULL, 0};

    cli_t c = {.role = "unit", .unit = "", .actor = getenv("USER"), .timeout_ms = 5000, .limit = 50, .state = ""};
#ifdef HL_TOOL_OFFICE
    c.role = "office";
#endif
    if (!c.actor || !*c.actor) c.actor = "cli";
    const char *config = NULL;
    char **sets = hl_calloc((size_t)argc + 1, sizeof(char *));
    int nsets = 0, opt, x = EXIT_USAGE;
    int64_t v;
    while ((opt = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'h': usage(stdout); x = 0; goto done;
        case O_MARKDOWN: hl_lifecycle_markdown(stdout); x = 0; goto done;
        case O_UNIT: c.unit = optarg; break;
        case O_ROLE:
            if (!(hl_role_parse(optarg) & tool_roles())) {
                fprintf(stderr, "%s: --role must be one of this tool's roles, not '%s'\n", TOOL, optarg);
                goto done;
            }
            c.role = optarg;
            break;
        case O_ACTOR: c.actor = optarg; break;
        case O_JSON: c.json = true; break;
        case O_TIMEOUT:
        case O_WAIT:
        case O_COUNT:
        case O_LIMIT:
            if (!parse_int(optarg, opt == O_WAIT ? 0 : 1, opt == O_LIMIT ? 500 : 86400000, &v)) {
                fprintf(stderr, "%s: bad number '%s'\n", TOOL, optarg);
                goto done;
            }
            if (opt == O_TIMEOUT) c.timeout_ms = (int)v;
            else if (opt == O_WAIT) c.wait_s = (int)v;
            else if (opt == O_COUNT) c.count = (int)v;
            else c.limit = (int)v;
            break;
        case O_BEFORE:
        case O_VERSION:
            if (!parse_int(optarg, 1, INT64_MAX, &v)) {
                fprintf(stderr, "%s: bad number '%s'\n", TOOL, optarg);
                goto done;
            }
            if (opt == O_BEFORE) c.before = v;
            else c.version = v;
            break;
        case O_ACK: c.ack = true; break;
        case O_EXEC: c.exec = optarg; break;
        case O_CONSUMER: c.consumer = optarg; break;
        case O_STATE: c.state = optarg; break;
        case O_REVEAL: c.reveal = optarg; break;
        case O_CODE: c.code = optarg; break;
        case O_REASON: c.reason = optarg; break;
        case O_KEY: c.key = optarg; break;
        case O_PAYLOAD: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                fprintf(stderr, "%s: --payload wants KEY=VALUE\n", TOOL);
                goto done;
            }
            *eq = '\0';
            if (add_payload(&c, optarg, eq + 1)) goto done;
            break;
        }
        default:
            if (opt >= O_P_FIRST && opt < O_P_FIRST + (int)NSHORTCUTS) {
                size_t i = (size_t)(opt - O_P_FIRST);
                if (add_payload(&c, shortcuts[i].key, shortcuts[i].flag ? "true" : optarg)) goto done;
                break;
            }
            fprintf(stderr, "Try '%s --help'.\n", TOOL);
            goto done;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        goto done;
    }
    const char *cmd = argv[optind], *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (optind + 2 < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", TOOL, argv[optind + 2]);
        goto done;
    }
    hl_action_t kind = 0;
    bool is_action = hl_action_parse(cmd, &kind) == 0;
    bool needs_arg = is_action || !strcmp(cmd, "ack") || !strcmp(cmd, "show");
    if (!is_action && strcmp(cmd, "next") && strcmp(cmd, "consume") && strcmp(cmd, "list") && !needs_arg) {
        fprintf(stderr, "%s: unknown command '%s' (see --help)\n", TOOL, cmd);
        goto done;
    }
    if (needs_arg != (arg != NULL)) {
        fprintf(stderr, needs_arg ? "%s: '%s' needs an argument\n" : "%s: '%s' takes no argument\n", TOOL, cmd);
        goto done;
    }
#ifndef HL_TOOL_OFFICE
    if (!*c.unit) {
        fprintf(stderr, "%s: --unit CODE is required\n", TOOL);
        goto done;
    }
#endif
    char err[HL_ERR_LEN];
    if (hl_conf_load_all(&c.conf, config, environ, sets, nsets, err) != 0) {
        fprintf(stderr, "%s: %s\n", TOOL, err);
        hl_conf_free(&c.conf);
        goto done;
    }
    bool queue = !strcmp(cmd, "next") || !strcmp(cmd, "ack") || !strcmp(cmd, "consume");
#ifdef HL_TOOL_OFFICE
    const char *queue_of = c.conf.dispatch_queue;
    const char *actor_unit = "";
#else
    const char *queue_of = c.unit;
    const char *actor_unit = c.unit;
#endif
    hl_client_opts_t o = {
        .router = c.conf.zmq_intake,
        .redis_host = queue ? c.conf.redis_host : NULL,
        .redis_port = (int)c.conf.redis_port,
        .role = c.role,
        .unit = actor_unit,
        .queue = queue_of,
        .actor_id = c.actor,
        .consumer = c.consumer,
        .timeout_ms = c.timeout_ms,
    };
    c.client = hl_client_new(&o, err);
    if (!c.client) {
        fprintf(stderr, "%s: %s\n", TOOL, err);
        hl_conf_free(&c.conf);
        x = EXIT_UNAVAILABLE;
        goto done;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (is_action) x = cmd_action(&c, kind, arg);
    else if (!strcmp(cmd, "next")) x = cmd_next(&c);
    else if (!strcmp(cmd, "ack")) x = cmd_ack(&c, arg);
    else if (!strcmp(cmd, "consume")) x = cmd_consume(&c);
    else if (!strcmp(cmd, "list")) x = cmd_list(&c);
    else x = cmd_show(&c, arg);
    hl_client_destroy(&c.client);
    hl_conf_free(&c.conf);
done:
    hl_free(sets);
    return x;
}
