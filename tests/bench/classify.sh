#!/usr/bin/env bash
# tests/bench/classify.sh - our classifier against a linear SVM baseline.
#
# On the fixed validation split of ../shared/data/citizen_messages_train.csv
# (one row in five by id; the other rows train), in one run:
#  - ours: hotline-classify train --holdout, then eval on the split: macro-F1,
#    accuracy, and messages per second on one core (single thread, model
#    loaded, text in memory);
#  - baseline: exact character 1-3-gram TF-IDF (tests/bench/tfidf_export.c)
#    and liblinear's L2-loss linear SVM (liblinear-train -s 1 -B 1) at its
#    default C = 1, and the best C of 0.1, 0.3, 1, 3, 10 chosen on the split
#    itself (an optimistic baseline);
#  - both again on four more random splits, to show the noise of one split.
# Prints key=value lines. Needs liblinear-tools (installed when missing);
# product code does not use liblinear.
#
# Usage: tests/bench/classify.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib.sh

DATA=$PWD/../shared/data/citizen_messages_train.csv
[ -r "$DATA" ] || hl_die "$DATA is needed (the shared data beside the repository)"
hl_install_deps liblinear-tools
hl_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
K=$PWD/build/workers/hotline-classify
X=$PWD/build/tests/bench/bench_tfidf_export
T=$(mktemp -d "${TMPDIR:-/tmp}/hl-bench-classify.XXXXXX")
trap 'rm -rf "$T"' EXIT

hl_machine
echo "data=$(basename "$DATA") rows=$(($(wc -l <"$DATA") - 1))"

# macro-F1 and accuracy of liblinear predictions against a libsvm file's labels.
score() {
    awk 'NR == FNR { truth[FNR] = $1; next }
         { p = $1; t = truth[FNR]; n++; seen[t] = 1; seen[p] = 1
           if (p == t) { tp[t]++; right++ } else { fp[p]++; fn[t]++ } }
         END { for (l in seen) { pr = tp[l] + fp[l] ? tp[l] / (tp[l] + fp[l]) : 0
                                 rc = tp[l] + fn[l] ? tp[l] / (tp[l] + fn[l]) : 0
                                 s += pr + rc ? 2 * pr * rc / (pr + rc) : 0; k++ }
               printf "%.4f %.4f\n", s / k, right / n }' "$1" "$2"
}

svm() { # svm SPLIT C -> "macro_f1 accuracy"
    liblinear-train -q -s 1 -c "$2" -B 1 "$T/tr$1.svm" "$T/svm.model" >/dev/null
    liblinear-predict "$T/va$1.svm" "$T/svm.model" "$T/svm.pred" >/dev/null
    score "$T/va$1.svm" "$T/svm.pred"
}

ours_sum=0
svm1_sum=0
svmbest_sum=0
for split in 1 2 3 4 5; do
    "$X" "$DATA" "$T/tr$split.svm" "$T/va$split.svm" 1 3 "$split" 2>/dev/null
    "$K" train --data "$DATA" --model "$T/ours$split.model" --holdout --split-seed "$split" >"$T/train$split.out" 2>/dev/null
    ours=$(grep '^macro_f1=' "$T/train$split.out" | cut -d= -f2)
    read -r s1 a1 <<<"$(svm "$split" 1)"
    best=0
    bestc=1
    for c in 0.1 0.3 1 3 10; do
        read -r f _ <<<"$(svm "$split" "$c")"
        if awk -v f="$f" -v b="$best" 'BEGIN {exit !(f > b)}'; then best=$f; bestc=$c; fi
    done
    if [ "$split" = 1 ]; then
        "$K" eval --model "$T/ours1.model" --data "$DATA" --split validation >"$T/eval.out"
        echo "split=fixed (seed 1): validation rows $(grep '^n=' "$T/eval.out" | cut -d= -f2)"
        echo "ours_macro_f1=$ours"
        echo "ours_accuracy=$(grep '^accuracy=' "$T/train1.out" | cut -d= -f2)"
        echo "ours_ece=$(grep '^ece=' "$T/train1.out" | cut -d= -f2)"
        echo "ours_msgs_per_s_per_core=$(grep '^msgs_per_s=' "$T/eval.out" | cut -d= -f2)"
        echo "svm_macro_f1=$s1"
        echo "svm_accuracy=$a1"
        echo "svm_best_c=$bestc"
        echo "svm_best_macro_f1=$best"
    fi
    echo "split_$split: ours=$ours svm=$s1 svm_best=$best"
    ours_sum=$(awk -v a="$ours_sum" -v b="$ours" 'BEGIN {print a + b}')
    svm1_sum=$(awk -v a="$svm1_sum" -v b="$s1" 'BEGIN {print a + b}')
    svmbest_sum=$(awk -v a="$svmbest_sum" -v b="$best" 'BEGIN {print a + b}')
done
awk -v o="$ours_sum" -v s="$svm1_sum" -v b="$svmbest_sum" 'BEGIN {
    printf "mean5_ours_macro_f1=%.4f\nmean5_svm_macro_f1=%.4f\nmean5_svm_best_macro_f1=%.4f\n", o/5, s/5, b/5 }'
