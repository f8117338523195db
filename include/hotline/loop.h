/* loop.h - the single-threaded reactor every hotline daemon runs on.
 *
 * One zmq_poll() over ZeroMQ sockets and plain file descriptors (the libpq
 * and hiredis sockets), plus timers. Callbacks run on the loop's thread and
 * must not block. Handles are small integers; a handle removed inside a
 * callback is never called again, not even later in the same iteration.
 */
#ifndef HOTLINE_LOOP_H
#define HOTLINE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "hotline/err.h"

typedef struct hl_loop hl_loop_t;

/* Called with the events that are ready (ZMQ_POLLIN / ZMQ_POLLOUT / ZMQ_POLLERR). */
typedef void (*hl_io_fn)(hl_loop_t *loop, void *arg, short revents);
typedef void (*hl_timer_fn)(hl_loop_t *loop, void *arg);

/* A new loop; never NULL. */
hl_loop_t *hl_loop_new(void);
/* Destroy the loop; registered handles and timers are dropped (their
 * owners release their own resources). */
void hl_loop_destroy(hl_loop_t **self_p);

/* Watch a ZeroMQ socket (borrowed). Returns a handle >= 0. */
int hl_loop_add_zsock(hl_loop_t *loop, void *zsock, short events, hl_io_fn fn, void *arg);
/* Watch a file descriptor (borrowed). Returns a handle >= 0. */
int hl_loop_add_fd(hl_loop_t *loop, int fd, short events, hl_io_fn fn, void *arg);
/* Change the events watched by a handle (0 pauses it). */
void hl_loop_set_events(hl_loop_t *loop, int handle, short events);
short hl_loop_get_events(hl_loop_t *loop, int handle);
/* Stop watching; the handle number may be reused afterwards. */
void hl_loop_remove(hl_loop_t *loop, int handle);

/* Call fn after delay_ms, then every period_ms if period_ms > 0. Returns a
 * timer id > 0. */
int hl_loop_timer(hl_loop_t *loop, int64_t delay_ms, int64_t period_ms, hl_timer_fn fn, void *arg);
/* Cancel a timer (0 and unknown ids are ignored). */
void hl_loop_cancel(hl_loop_t *loop, int timer_id);

/* Called once per iteration before the loop sleeps (Redis's beforeSleep). */
void hl_loop_before_sleep(hl_loop_t *loop, hl_timer_fn fn, void *arg);

/* Run until hl_loop_stop(). Returns 0, or -errno if zmq_poll fails. */
HL_MUSTCHECK int hl_loop_run(hl_loop_t *loop);
/* Make hl_loop_run return after the current iteration. */
void hl_loop_stop(hl_loop_t *loop);

#endif
