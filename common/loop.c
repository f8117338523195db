/* loop.c - zmq_poll reactor with timers. */
#include <errno.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/loop.h"

typedef struct {
    bool used;
    void *zsock;
    int fd;
    short events;
    hl_io_fn fn;
    void *arg;
} watch_t;

typedef struct {
    int id;
    int64_t due_us, period_us;
    hl_timer_fn fn;
    void *arg;
} timer_t_;

struct hl_loop {
    watch_t *watches;
    int nwatches, capwatches;
    timer_t_ *timers;
    int ntimers, captimers, next_timer;
    zmq_pollitem_t *items;
    int *item_handle;
    hl_timer_fn before_sleep;
    void *before_sleep_arg;
    bool stop;
};

hl_loop_t *hl_loop_new(void)
{
    return hl_calloc(1, sizeof(hl_loop_t));
}

void hl_loop_destroy(hl_loop_t **self_p)
{
    hl_loop_t *l = *self_p;
    if (!l) return;
    hl_free(l->watches);
    hl_free(l->timers);
    hl_free(l->items);
    hl_free(l->item_handle);
    hl_free(l);
    *self_p = NULL;
}

static int add(hl_loop_t *l, void *zsock, int fd, short events, hl_io_fn fn, void *arg)
{
    int h;
    for (h = 0; h < l->nwatches; h++)
        if (!l->watches[h].used) break;
    if (h == l->nwatches) {
        if (l->nwatches == l->capwatches) {
            l->capwatches = l->capwatches ? l->capwatches * 2 : 8;
            l->watches = hl_realloc(l->watches, (size_t)l->capwatches * sizeof *l->watches);
            l->items = hl_realloc(l->items, (size_t)l->capwatches * sizeof *l->items);
            l->item_handle = hl_realloc(l->item_handle, (size_t)l->capwatches * sizeof(int));
        }
        l->nwatches++;
    }
    l->watches[h] = (watch_t){true, zsock, fd, events, fn, arg};
    return h;
}

int hl_loop_add_zsock(hl_loop_t *loop, void *zsock, short events, hl_io_fn fn, void *arg)
{
    return add(loop, zsock, -1, events, fn, arg);
}

int hl_loop_add_fd(hl_loop_t *loop, int fd, short events, hl_io_fn fn, void *arg)
{
    return add(loop, NULL, fd, events, fn, arg);
}

void hl_loop_set_events(hl_loop_t *loop, int handle, short events)
{
    if (handle >= 0 && handle < loop->nwatches) loop->watches[handle].events = events;
}

short hl_loop_get_events(hl_loop_t *loop, int handle)
{
    return handle >= 0 && handle < loop->nwatches ? loop->watches[handle].events : 0;
}

void hl_loop_remove(hl_loop_t *loop, int handle)
{
    if (handle >= 0 && handle < loop->nwatches) loop->watches[handle].used = false;
}

int hl_loop_timer(hl_loop_t *loop, int64_t delay_ms, int64_t period_ms, hl_timer_fn fn, void *arg)
{
    if (loop->ntimers == loop->captimers) {
        loop->captimers = loop->captimers ? loop->captimers * 2 : 8;
        loop->timers = hl_realloc(loop->timers, (size_t)loop->captimers * sizeof *loop->timers);
    }
    int id = ++loop->next_timer;
    loop->timers[loop->ntimers++] =
        (timer_t_){id, hl_mono_us() + delay_ms * 1000, period_ms * 1000, fn, arg};
    return id;
}

void hl_loop_cancel(hl_loop_t *loop, int timer_id)
{
    for (int i = 0; i < loop->ntimers; i++) {
        if (loop->timers[i].id == timer_id) {
            loop->timers[i] = loop->timers[--loop->ntimers];
            return;
        }
    }
}

void hl_loop_before_sleep(hl_loop_t *loop, hl_timer_fn fn, void *arg)
{
    loop->before_sleep = fn;
    loop->before_sleep_arg = arg;
}

void hl_loop_stop(hl_loop_t *loop)
{
    loop->stop = true;
}

/* Run the timers that are due; each runs at most once per call. */
static void run_timers(hl_loop_t *l)
{
    int64_t now = hl_mono_us();
    int n = l->ntimers;
    for (int i = 0; i < n && i < l->ntimers; i++) {
        timer_t_ t = l->timers[i];
        if (t.due_us > now) continue;
        if (t.period_us > 0) {
            l->timers[i].due_us = now + t.period_us;
        } else {
            l->timers[i] = l->timers[--l->ntimers];
            n--;
            i--;
        }
        t.fn(l, t.arg);
    }
}

static long next_timeout_ms(hl_loop_t *l)
{
    if (l->ntimers == 0) return 1000;
    int64_t now = hl_mono_us(), first = INT64_MAX;
    for (int i = 0; i < l->ntimers; i++)
        if (l->timers[i].due_us < first) first = l->timers[i].due_us;
    if (first <= now) return 0;
    int64_t ms = (first - now + 999) / 1000;
    return ms > 1000 ? 1000 : (long)ms;
}

int hl_loop_run(hl_loop_t *l)
{
    l->stop = false;
    while (!l->stop) {
        if (l->before_sleep) l->before_sleep(l, l->before_sleep_arg);
        if (l->stop) break;
        int n = 0;
        for (int h = 0; h < l->nwatches; h++) {
            watch_t *w = &l->watches[h];
            if (!w->used || !w->events) continue;
            l->items[n] = (zmq_pollitem_t){w->zsock, w->fd, w->events, 0};
            l->item_handle[n++] = h;
        }
        int rc = zmq_poll(l->items, n, next_timeout_ms(l));
        if (rc < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        for (int i = 0; i < n && rc > 0; i++) {
            short re = l->items[i].revents;
            if (!re) continue;
            watch_t *w = &l->watches[l->item_handle[i]];
            /* Skip handles removed or replaced by an earlier callback. */
            if (!w->used || w->zsock != l->items[i].socket || w->fd != l->items[i].fd) continue;
            w->fn(l, w->arg, re);
        }
        run_timers(l);
    }
    return 0;
}
