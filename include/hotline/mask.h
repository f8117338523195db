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

#endif
