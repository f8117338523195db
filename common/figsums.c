/* figsums.c - the sums of a day's live figures, kept beside its cells. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/figsums.h"
#include "hotline/log.h"
#include "hotline/map.h"

/* A map's fields and counts as HSET's arguments. */
typedef struct {
    const char **argv;
    size_t *argl;
    char (*nums)[24];
    size_t argc;
} args_t;

static void put_arg(void *arg, const char *field, void *value)
{
    args_t *a = arg;
    char *num = a->nums[(a->argc - 2) / 2];
    snprintf(num, sizeof a->nums[0], "%" PRIdPTR, (intptr_t)value);
    a->argv[a->argc] = field, a->argl[a->argc++] = strlen(field);
    a->argv[a->argc] = num, a->argl[a->argc++] = strlen(num);
}

bool hl_figsums_settled(int64_t day, int offset_min, int64_t now_ms)
{
    return hl_day_start(day + 1, offset_min) + HL_FIGURES_SETTLED_MS <= now_ms;
}

redisReply *hl_figsums_keep(redisContext *rc, const char *day, bool *kept)
{
    if (kept) *kept = false;
    redisReply *rep = redisCommand(rc, "WATCH " HL_FIGURES_KEY "%s", day);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        if (rep) freeReplyObject(rep);
        return NULL;
    }
    freeReplyObject(rep);
    rep = redisCommand(rc, "HGETALL " HL_FIGURES_KEY "%s", day);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
        redisReply *u = redisCommand(rc, "UNWATCH");
        if (u) freeReplyObject(u);
        return rep;
    }
    hl_map_t *sums[3] = {hl_map_new(), hl_map_new(), hl_map_new()};
    char dims[3][HL_FIGURES_DIM_MAX], key[3][48];
    for (size_t e = 0; e + 1 < rep->elements; e += 2) {
        if (!hl_figures_dims(rep->element[e]->str, rep->element[e]->len, dims)) continue;
        intptr_t n = (intptr_t)atoll(rep->element[e + 1]->str);
        for (int k = 0; k < 3; k++) {
            size_t len = strlen(dims[k]);
            intptr_t v = (intptr_t)hl_map_get(sums[k], dims[k], len);
            (void)hl_map_put(sums[k], dims[k], len, (void *)(v + n));
        }
    }
    redisAppendCommand(rc, "MULTI");
    for (int k = 0; k < 3; k++) {
        size_t m = hl_map_size(sums[k]);
        args_t a = {hl_malloc((2 + 2 * m) * sizeof(char *)), hl_malloc((2 + 2 * m) * sizeof(size_t)),
                    hl_malloc((m + 1) * sizeof *a.nums), 2};
        snprintf(key[k], sizeof key[k], HL_FIGURES_DIMS_KEY "%c:%s", HL_FIGURES_DIMS[k], day);
        a.argv[0] = "HSET", a.argl[0] = 4;
        a.argv[1] = key[k], a.argl[1] = strlen(key[k]);
        hl_map_each(sums[k], put_arg, &a);
        redisAppendCommandArgv(rc, (int)a.argc, a.argv, a.argl);
        hl_free(a.nums);
        hl_free(a.argl);
        hl_free(a.argv);
        hl_map_destroy(&sums[k]);
    }
    redisAppendCommand(rc, "EXEC");
    for (int i = 0; i < 5; i++) { /* MULTI, 3 x QUEUED, EXEC: nil when the cells changed */
        redisReply *x = NULL;
        if (redisGetReply(rc, (void **)&x) != REDIS_OK) break;
        if (i == 4 && x && x->type == REDIS_REPLY_ARRAY && kept) *kept = true;
        if (i == 4 && x && x->type != REDIS_REPLY_ARRAY) hl_debug("figsums: the cells of %s changed while read", day);
        if (x) freeReplyObject(x);
    }
    return rep;
}
