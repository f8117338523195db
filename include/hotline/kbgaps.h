/* kbgaps.h - what the knowledge base does not answer: gaps.
 *
 * Recent consultations that were not answered from the knowledge base are
 * scored against the index (by the first 90 bytes of their title and body);
 * those whose
 * best entry scores below
 * opts.max_score are grouped, newest first, by the bigram similarity of their
 * text (hl_simsig_dice) to each group's first member (at least
 * opts.similarity, else it starts a group). Groups of at least opts.min_size
 * are the gaps, largest first, each with the category and the unit most of
 * its tickets have (the owner who should write the entry) and the index's
 * best attempt at its first member.
 */
#ifndef HOTLINE_KBGAPS_H
#define HOTLINE_KBGAPS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/conf.h"
#include "hotline/err.h"
#include "hotline/kbindex.h"

/* The consultations looked at (the caller owns the strings). */
typedef struct {
    const char *ticket_no;
    const char *title;
    const char *text;           /* title and the head of the body */
    const char *category;
    const char *unit;           /* "" when none */
    int64_t created_ms;
} hl_kbgap_msg_t;

typedef struct {
    double max_score;           /* answered: best entry scores at least this */
    double similarity;          /* least Dice to a group's first member */
    size_t min_size;
} hl_kbgap_opts_t;

typedef struct {
    size_t *members;            /* indexes into the messages, the first one first */
    size_t n;
    const char *category;       /* most frequent among members (a member's string) */
    const char *unit;
    int64_t best_entry;         /* the index's best entry for the first member; 0: none */
    float best_score;
    float mean_score;           /* of every member's best entry */
} hl_kbgap_t;

/* The [kb] gap settings. */
void hl_kbgaps_opts(const hl_conf_t *conf, hl_kbgap_opts_t *out);

/* Consultations of the last `days` days (newest first, at most `max`) that no
 * close_direct or reply answered from the knowledge base. Columns: ticket_no,
 * title, text, category, unit, created (ms). */
PGresult *hl_kbgaps_query(PGconn *pg, int64_t days, size_t max, char err[HL_ERR_LEN]);

/* The messages of a hl_kbgaps_query result (pointing into it); the caller
 * frees the array. */
hl_kbgap_msg_t *hl_kbgaps_messages(const PGresult *res, size_t *n);

/* The gaps among msgs[0..n) (newest first) for an index valid at now_ms.
 * Returns how many were written to *out (allocated; hl_kbgaps_free). */
size_t hl_kbgaps_find(const hl_kbindex_t *ix, hl_kbscratch_t *s, const hl_kbgap_msg_t *msgs, size_t n,
                      int64_t now_ms, const hl_kbgap_opts_t *opts, hl_kbgap_t **out);
void hl_kbgaps_free(hl_kbgap_t *gaps, size_t n);

#endif
