#!/usr/bin/env bash
# The model-family comparison of docs/detectors.md: fastText supervised (word bigrams and
# character 3-5-gram subwords, the `fasttext` CLI of the Debian package) against the shipped
# in-house hashed-n-gram logistic regression, both trained on train.jsonl and measured on
# dev.jsonl as the model alone (no rules, no decoding): ROC AUC and TPR at FPR 0.1/1/3%.
#
#   bench/compare_fasttext.sh [DATA_DIR]     # default: ../shared/data/injection
#
# Work files go to a temporary directory; nothing is written to the repository.
set -euo pipefail
data=${1:-../shared/data/injection}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fastText input: "__label__N text" on one line, lower-cased (fastText does not fold case).
to_fasttext() {
  python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    t = " ".join(r["text"].lower().split())
    print("__label__%d %s" % (r["label"], t))' "$1"
}
to_fasttext "$data/train.jsonl" > "$work/train.txt"
to_fasttext "$data/dev.jsonl" > "$work/dev.txt"
cut -d' ' -f2- "$work/dev.txt" > "$work/dev_text.txt"

start=$(date +%s.%N)
fasttext supervised -input "$work/train.txt" -output "$work/ft" -wordNgrams 2 -minn 3 -maxn 5 \
  -dim 50 -epoch 25 -lr 0.5 -bucket 2000000 -thread 1 -seed 1 -verbose 0
end=$(date +%s.%N)
fasttext predict-prob "$work/ft.bin" "$work/dev_text.txt" 2 > "$work/pred.txt"
ls -l "$work/ft.bin" | awk '{print "fastText model bytes:", $5}'
echo "fastText training seconds: $(echo "$end - $start" | bc)"

# The in-house model's own figures on the same texts come from
#   build/rampart eval injection --data DATA/dev.jsonl --model-only
python3 - "$data/dev.jsonl" "$work/pred.txt" <<'PY'
import json, sys
labels = [json.loads(l)["label"] for l in open(sys.argv[1], encoding="utf-8")]
scores = []
for line in open(sys.argv[2]):
    parts = line.split()
    p1 = 0.0
    for i in range(0, len(parts) - 1, 2):
        if parts[i] == "__label__1":
            p1 = float(parts[i + 1])
        elif parts[i] == "__label__0":
            p1 = 1.0 - float(parts[i + 1]) if len(parts) == 2 else p1
    scores.append(p1)
pairs = list(zip(scores, labels))
pos = sum(labels); neg = len(labels) - pos
# ROC AUC with ties as one half.
pairs.sort()
rank_sum = 0.0; i = 0
while i < len(pairs):
    j = i
    while j < len(pairs) and pairs[j][0] == pairs[i][0]:
        j += 1
    avg = (i + 1 + j) / 2.0
    rank_sum += avg * sum(1 for k in range(i, j) if pairs[k][1])
    i = j
auc = (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)
def tpr_at(max_fpr):
    s = sorted(pairs, key=lambda x: -x[0]); tp = fp = 0; best = 0.0; i = 0
    while i < len(s):
        j = i
        while j < len(s) and s[j][0] == s[i][0]:
            tp += s[j][1]; fp += 1 - s[j][1]; j += 1
        if fp / neg <= max_fpr:
            best = max(best, tp / pos)
        i = j
    return best
print(f"fastText dev: ROC AUC {auc:.4f}  TPR@FPR0.1% {100*tpr_at(0.001):.2f}%  "
      f"TPR@FPR1% {100*tpr_at(0.01):.2f}%  TPR@FPR3% {100*tpr_at(0.03):.2f}%")
PY
