#!/usr/bin/env bash
# Retrain the model zoo: same vocabulary, architecture, seed and epochs; only the truncation differs.
# Usage: bash scripts/train_zoo.sh DATA_DIR [EPOCHS] [MODEL ...]   (OUT=folder to write elsewhere than pretrained/)
set -euo pipefail
data=${1:?usage: train_zoo.sh DATA_DIR [EPOCHS] [MODEL ...]}
epochs=${2:-6}
shift $(( $# >= 2 ? 2 : 1 ))
vocab=pretrained/vocab.json
[ -f "$vocab" ] || python -c "
from tbptt_viz.core.data import load_imdb; from tbptt_viz.core.text import Vocab
Vocab.build(r.text for r in load_imdb('train', '$data')).save('$vocab')"
declare -A scheme=(
  [imdb-full]="--scheme full"
  [imdb-last-k10]="--scheme last-k --k 10"
  [imdb-last-k30]="--scheme last-k --k 30"
  [imdb-last-k100]="--scheme last-k --k 100"
  [imdb-chunked-k30]="--scheme chunked --k 30"
  [imdb-k1k2-30-60]="--scheme k1k2 --k1 30 --k2 60"
)
for seed in 1 2; do  # the study's extra seeds: their cards live in results/seeds/, their weights are not shipped
  scheme[imdb-full-seed$seed]="--scheme full --seed $seed"
  scheme[imdb-last-k10-seed$seed]="--scheme last-k --k 10 --seed $seed"
  scheme[imdb-last-k30-seed$seed]="--scheme last-k --k 30 --seed $seed"
  scheme[imdb-last-k100-seed$seed]="--scheme last-k --k 100 --seed $seed"
  scheme[imdb-chunked-k30-seed$seed]="--scheme chunked --k 30 --seed $seed"
  scheme[imdb-k1k2-30-60-seed$seed]="--scheme k1k2 --k1 30 --k2 60 --seed $seed"
done
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(imdb-full imdb-last-k30 imdb-chunked-k30 imdb-last-k10 imdb-last-k100 imdb-k1k2-30-60)
for name in "${models[@]}"; do
  echo "== $name (${scheme[$name]})"
  python -m tbptt_viz train ${scheme[$name]} --data-dir "$data" --vocab "$vocab" --epochs "$epochs" \
    --out "${OUT:-pretrained}/$name"
done
