#!/usr/bin/env bash
# The classifier in the router: the model's version and confidence are stored
# with each ticket; SIGHUP (or a catalogue change) swaps in a new model file
# under load without dropping work; a corrupt file keeps the model in use; the
# confidence threshold sends the unsure tickets to the dispatchers.
source "$(dirname "$0")/harness.sh"

K=$HL_BUILD/workers/hotline-classify
N=${HL_MODEL_LOAD:-20000}
hl_test_stores_up
cp "$HL_ROOT/deploy/models/hotline.model" "$T/model.bin"
hl_test_router_start --set "classify.model=$T/model.bin"
V1=$(grep -o 'classifier model m[0-9a-f]*' "$T/router.log" | head -1 | awk '{print $3}')
check "model loaded at start" "$(echo "$V1" | grep -c '^m[0-9a-f]\{12\}$')" 1

# A second model, trained here on a few rows written for this test.
{
    echo "id,label,title,body"
    i=0
    while IFS='|' read -r label title body; do
        for rep in 1 2 3; do i=$((i + 1)); echo "$i,$label,$title,$body$rep"; done
    done <<'ROWS'
城乡建设|小区房屋漏水|楼顶漏水物业不修
城乡建设|道路破损|路面塌陷很危险
劳动和社会保障|拖欠工资|老板不发工资
劳动和社会保障|社保断缴|公司不交社保
教育文体|学校收费|学校乱收补课费
教育文体|幼儿园入学|孩子上不了幼儿园
商贸旅游|商家欺诈|超市卖过期食品
商贸旅游|景区收费|景区门票太贵
环境保护|噪音扰民|工厂夜间噪音
环境保护|河道污染|河水发黑发臭
卫生计生|看病难|医院挂号难
卫生计生|疫苗接种|疫苗接种点太少
交通运输|出租车拒载|出租车司机拒载
交通运输|高速拥堵|收费站排队太长
ROWS
} >"$T/tiny.csv"
"$K" train --data "$T/tiny.csv" --model "$T/new.model" --bits 14 >"$T/tiny.out" 2>&1
V2=$(kv "$T/tiny.out" version)
check "a second model" "$([ -n "$V2" ] && [ "$V2" != "$V1" ] && echo yes)" yes

echo "# tickets carry the model's version and confidence"
hl_loadgen -n 200 --prefix before -q --verify >/dev/null
check "classifier stored" "$(hl_sql "SELECT count(*) FROM tickets WHERE classifier LIKE '$V1+rules-%'")" 200
check "confidence stored" "$(hl_sql "SELECT count(*) FROM tickets WHERE confidence > 0 AND confidence <= 1")" 200

echo "# SIGHUP swaps the model in the middle of $N intakes"
hl_loadgen -n "$N" -w 500 --retries 100 --prefix swap --verify -q >"$T/swap.out" &
LG=$!
for i in $(seq 1 100); do
    [ "$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'swap-%'")" -ge $((N / 4)) ] && break
    sleep 0.05
done
cp "$T/new.model" "$T/model.tmp" && mv "$T/model.tmp" "$T/model.bin"
kill -HUP "$ROUTER_PID"
wait $LG || true
check "all acked" "$(kv "$T/swap.out" acked)" "$N"
check "none failed" "$(kv "$T/swap.out" failed)" 0
check "lost / undelivered / duplicated" \
    "$(kv "$T/swap.out" lost)/$(kv "$T/swap.out" undelivered)/$(kv "$T/swap.out" duplicated)" 0/0/0
check "swapped" "$(grep -c "classifier $V2+rules" "$T/router.log")" 1
check "both models served the load" \
    "$(hl_sql "SELECT count(DISTINCT split_part(classifier, '+', 1)) FROM tickets WHERE idempotency_key LIKE 'swap-%'")" 2
hl_loadgen -n 100 --prefix after -q >/dev/null
check "new tickets use the new model" \
    "$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'after-%' AND classifier LIKE '$V2+%'")" 100

echo "# a corrupt model file on reload: the model in use stays"
head -c 5000 "$T/new.model" >"$T/model.bin"
kill -HUP "$ROUTER_PID"
hl_wait 5 'grep -q "classifier model not reloaded" "$T/router.log"' || true
check "reload refused, said why" "$(grep -c "classifier model not reloaded, keeping $V2" "$T/router.log")" 1
hl_loadgen -n 100 --prefix corrupt -q --verify >"$T/corrupt.out"
check "still serving with the old model" \
    "$(kv "$T/corrupt.out" acked)/$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'corrupt-%' AND classifier LIKE '$V2+%'")" 100/100

echo "# a catalogue change reloads the model file too"
cp "$HL_ROOT/deploy/models/hotline.model" "$T/model.bin"
hl_sql "UPDATE catalogue SET assisting_units = '{HOUSING}' WHERE category = 'labour' AND region = '990100'" >/dev/null
hl_wait 5 '[ "$(grep -c "classifier $V1+rules" "$T/router.log")" -ge 2 ]' || true
check "back to the first model" "$(grep -c "classifier $V1+rules" "$T/router.log")" 2

echo "# the confidence threshold"
hl_test_router_stop
mv "$T/router.log" "$T/router-1.log"
hl_test_router_start --set "classify.model=$T/model.bin" --set router.min_confidence=0.9
DATA=$HL_ROOT/../shared/data/citizen_messages_train.csv
CSV=()
[ -r "$DATA" ] && CSV=(--csv "$DATA")
hl_loadgen -n 2000 --prefix thr -q "${CSV[@]}" >/dev/null
check "dispatched only when sure" \
    "$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'thr-%' AND state = 'DISPATCHED' AND confidence < 0.9")" 0
check "unsure ones wait for a dispatcher" \
    "$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'thr-%' AND state = 'PENDING_DISPATCH' AND unit IS NULL AND (confidence < 0.9 OR category = '')") = $(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'thr-%' AND state = 'PENDING_DISPATCH'")" \
    "$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'thr-%' AND state = 'PENDING_DISPATCH'") = $(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'thr-%' AND state = 'PENDING_DISPATCH'")"
check_ge "some waited" "$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'thr-%' AND state = 'PENDING_DISPATCH'")" 1
check_ge "most were dispatched" "$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'thr-%' AND state = 'DISPATCHED'")" 1000
check "pending ones are in the dispatch queue" \
    "$(hl_redis XLEN hl:q:dispatch | awk '{print ($1 > 0)}')" 1

echo "# a router whose model file is unreadable does not start"
hl_test_router_stop
rc=0
"$ROUTER" --config "$T/hotline.conf" --set classify.model=/nonexistent.model >"$T/bad-start.log" 2>&1 || rc=$?
check "exit 1, with the reason" "$rc/$(grep -c '/nonexistent.model: No such file' "$T/bad-start.log")" 1/1
