#!/usr/bin/env bash
# Packs the training/evaluation text for demo/make_demo_models.py into .device/demo/ (git-ignored),
# small enough to travel to the GPU machine (its working-tree limit is 64 MiB).
#   bash demo/pack_corpus.sh [SHARED_DIR]      (default: ../shared, relative to the repository root)
# Output (all xz): books train (whole file), speeches train (whole file), the first whole articles of the
# Wikipedia train file up to ENWIKI_BYTES raw bytes, the train splits of the three classification data sets,
# and the valid files used for evaluation. Deterministic: same input files => the same text inside.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${1:-../shared}"
OUT=.device/demo
ENWIKI_BYTES="${ENWIKI_BYTES:-135000000}"
mkdir -p "$OUT"
cp -f "$SHARED"/corpora/gutenberg-books.train.txt.xz "$OUT"/
cp -f "$SHARED"/corpora/us-presidential-speeches.train.txt.xz "$OUT"/
cp -f "$SHARED"/corpora/enwiki-2015.valid.txt.xz "$OUT"/
cp -f "$SHARED"/corpora/gutenberg-books.valid.txt.xz "$OUT"/
for d in sst2 ag_news trec; do
  xz -9 -c "$SHARED/data/$d/train.jsonl" > "$OUT/$d.train.jsonl.xz"
done
# Whole articles only: cut at the last document separator (two empty lines) before ENWIKI_BYTES.
/usr/bin/python3 - "$SHARED/corpora/enwiki-2015.train.txt.xz" "$ENWIKI_BYTES" "$OUT/enwiki-2015.train-head.txt" <<'PY'
import lzma, sys
src, limit, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with lzma.open(src, 'rb') as f:
    head = f.read(limit)
cut = head.rfind(b'\n\n\n')
with open(dst, 'wb') as f:
    f.write(head[:cut] + b'\n')
articles = head[:cut].count(b'\n\n\n') + 1
print('enwiki head: %d bytes, %d articles' % (cut + 1, articles))
PY
xz -9 -T2 -f "$OUT/enwiki-2015.train-head.txt"
ls -l "$OUT"
du -sh "$OUT"
