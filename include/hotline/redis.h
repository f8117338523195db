/* redis.h - a hiredis async connection on the hotline loop.
 *
 * Wraps redisAsyncContext (hiredis 0.14): our loop implements its event
 * hooks, so commands are pipelined (everything queued before the loop sleeps
 * goes out in one write) and nothing blocks. The connection reconnects by
 * itself after reconnect_ms. Reply callbacks are hiredis's: the reply is
 * borrowed (hiredis frees it after the callback) and is NULL when the
 * connection was lost before the reply came.
 */
#ifndef HOTLINE_REDIS_H
#define HOTLINE_REDIS_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/err.h"
#include "hotline/loop.h"

typedef struct hl_redis hl_redis_t;
typedef void (*hl_redis_state_fn)(hl_redis_t *r, void *arg, bool up);

/* A connection to host:port; call hl_redis_start. Never NULL. */
hl_redis_t *hl_redis_new(hl_loop_t *loop, const char *host, int port, int64_t reconnect_ms);
/* Close (pending callbacks get NULL replies) and free. */
void hl_redis_destroy(hl_redis_t **self_p);
void hl_redis_on_state(hl_redis_t *r, hl_redis_state_fn fn, void *arg);
void hl_redis_start(hl_redis_t *r);
bool hl_redis_up(const hl_redis_t *r);
/* Drop the connection now (pending callbacks get NULL replies) and reconnect
 * later: for a server that stopped answering. */
void hl_redis_reset(hl_redis_t *r, const char *why);

/* Queue a command. Returns 0, or HL_EAGAIN when not connected (fn is then
 * never called). */
HL_MUSTCHECK int hl_redis_command(hl_redis_t *r, redisCallbackFn *fn, void *privdata, int argc,
                                  const char **argv, const size_t *argvlen);

#endif
