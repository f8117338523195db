#!/usr/bin/env bash
# The agents' console in headless Chromium (tests/browser/console_test.py):
# a call taken from the form appears in the queue, one closed at first
# contact, one closed with a knowledge-base answer adopted (the entry cited),
# the knowledge-base page (search, entry, history; the office's reports, a
# draft published), errors shown for bad input, the office's review,
# callback and close, an unmasked read with its reason. Screenshots are kept in
# <build>/test-artifacts/.
source "$(dirname "$0")/gateway_lib.sh"

if ! command -v chromium >/dev/null; then
    echo "SKIP: chromium is not installed (./deploy/test.sh installs it)"
    exit 0
fi
gw_start
AGENT=$(gw_token agent --name 话务员07)
OFFICE=$(gw_token office --name 审核员02)
ART=$HL_BUILD/test-artifacts
# An open ticket the call will resemble, and a token for its unit.
post_json /api/v1/tickets "$AGENT" '{"title":"供水管道破裂","body":"小区楼下的供水管道破裂，大量自来水外流，已经持续两个小时，请尽快派人维修。"}'
FIRST=$(js 'd["ticket"]')
UTOK=$(gw_token unit --unit "$(js 'd["unit"]')")

python3 "$HL_ROOT/tests/browser/console_test.py" --url "$U" --agent "$AGENT" --office "$OFFICE" \
    --unit "$UTOK" --first "$FIRST" --artifacts "$ART" | tee "$T/browser.out"
check "the browser test passed" "$(grep -c '^FAIL' "$T/browser.out")" 0
TICKET=$(sed -n 's/^ticket=//p' "$T/browser.out")
DIRECT=$(sed -n 's/^direct=//p' "$T/browser.out")
check "the call is stored, with its requester in the vault" \
    "$(hl_sql "SELECT t.state || '/' || v.phone FROM tickets t JOIN pii_vault v ON v.ticket_id = t.id WHERE t.ticket_no = '$TICKET'")" \
    "CLOSED/13912345678"
check "its lifecycle, from the console" \
    "$(hl_sql "SELECT string_agg(kind, ',' ORDER BY seq) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '$TICKET'")" \
    "intake,sign,reply,review_accept,callback,close"
check "closed at first contact, with the answer" \
    "$(hl_sql "SELECT t.state || '/' || e.actor_role || '/' || left(e.reason, 3) FROM tickets t JOIN ticket_events e ON e.ticket_id = t.id AND e.kind = 'close_direct' WHERE t.ticket_no = '$DIRECT'")" \
    "CLOSED_DIRECT/agent/已告知"
check "the unmasked read is in the access log with its reason" \
    "$(hl_sql "SELECT count(*) FROM pii_access_log WHERE ticket_id = (SELECT id FROM tickets WHERE ticket_no = '$TICKET') AND why = '回访核实来电人身份'")" 1
KBDIRECT=$(sed -n 's/^kbdirect=//p' "$T/browser.out")
check "the adopted answer is cited with its version" \
    "$(hl_sql "SELECT u.kind || '/' || k.title || '/' || u.version FROM kb_uses u JOIN kb_entries k ON k.id = u.entry_id JOIN tickets t ON t.id = u.ticket_id WHERE t.ticket_no = '$KBDIRECT'")" \
    "direct/停水了什么时候恢复供水/1"
check "the console's draft, published" "$(hl_sql "SELECT status || '/' || version FROM kb_entries WHERE title = '居住证办理需要哪些材料'")" published/2
check "nothing stored from the bad input" "$(hl_sql "SELECT count(*) FROM tickets")" 4
check "a screenshot kept" "$([ -s "$ART/console.png" ] && echo yes)" yes

gw_stop
hl_test_router_stop
