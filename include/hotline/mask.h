/* mask.h - masking of personal data at every output (DOMAIN.md section (g)).
 *
 * phone 13812345678 -> 138****5678 (first 3 and last 4 kept), name 张三丰 ->
 * 张** (first character kept), id number 440305199001011234 -> 440305********1234
 * (first 6 and last 4 kept). Shorter values are masked entirely. Characters are
 * counted in UTF-8 code points. Output never holds more than the input.
 */
#ifndef HOTLINE_MASK_H
#define HOTLINE_MASK_H

#include <stddef.h>

/* Each writes a NUL-terminated masked copy of in into out (size n). */
void hl_mask_phone(const char *in, char *out, size_t n);
void hl_mask_name(const char *in, char *out, size_t n);
void hl_mask_id_number(const char *in, char *out, size_t n);

/* Free text that may hold personal data (a body a citizen typed): every run
 * of 7 or more digits (single spaces or hyphens between digits belong to the
 * run) is masked: an 11-digit mobile number as a phone, 15 or 18 characters
 * (the last may be X) as an id number, anything else keeping its first and
 * last 2 digits; e-mail addresses keep the first character of their local
 * part and the domain. Returns a new string (the caller frees it with free()). */
char *hl_mask_text(const char *in);

#endif
