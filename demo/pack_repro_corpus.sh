#!/usr/bin/env bash
# Makes .device/repro: the small selection of the pretraining text that `make_demo_models.py repro`
# runs on (3.4 MB of xz; the device takes at most 64 MiB of tree and the shipped models fill most of
# it). Needs .device/demo from demo/pack_corpus.sh. Same file names, so the script reads it unchanged:
# the first 4,000,000 bytes of the books and of the Wikipedia head, the whole speeches, the first
# 300,000 bytes of each valid file and the first 2,000 rows of each train split.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=.device/demo
DST=.device/repro
[ -d "$SRC" ] || { echo "no $SRC: run demo/pack_corpus.sh first" >&2; exit 1; }
mkdir -p "$DST"
head_xz() { xz -dc "$SRC/$1" | head -c "$2" | xz -6 > "$DST/$1"; }
head_xz gutenberg-books.train.txt.xz 4000000
head_xz enwiki-2015.train-head.txt.xz 4000000
cp "$SRC/us-presidential-speeches.train.txt.xz" "$DST/"
head_xz enwiki-2015.valid.txt.xz 300000
head_xz gutenberg-books.valid.txt.xz 300000
for t in sst2 ag_news trec; do xz -dc "$SRC/$t.train.jsonl.xz" | head -n 2000 | xz -6 > "$DST/$t.train.jsonl.xz"; done
du -sh "$DST"
