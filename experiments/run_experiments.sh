#!/usr/bin/env bash
# Reproduce the shipped-model experiments (issue 5). Resumable: rerun after an
# interruption and every step continues where it stopped.
#   bash experiments/run_experiments.sh [run_name ...]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared/data}
for s in egohands_frames webcam_hands closeup_hands; do
  # Whole groups (videos / capture sessions / signers) are held out for evaluation.
  python3 -m data_prep.import_annotations --csv "$SHARED/$s/labels.csv" --images "$SHARED/$s/images" \
    --out "data/$s" --split group --fractions 0.7,0.0,0.3 --shards 2 --no-progress
done
python3 experiments/make_configs.py
# c continues from b, so b must come first.
runs=("$@"); [ ${#runs[@]} -gt 0 ] || runs=(b_ssd_v1_075_coco c_ssd_v1_075_coco_continued a_ssd_v1_100_imagenet)
for run in "${runs[@]}"; do
  cfg=experiments/$run/pipeline.config
  python3 train.py --pipeline "$cfg" --model-dir "train_dir/$run" --checkpoint-every 250 --seed 7
  if [ -f "train_dir/$run/train_summary.json" ]; then cp "train_dir/$run/train_summary.json" "experiments/$run/"; fi
  for view in all egohands_frames webcam_hands closeup_hands; do
    if [ "$view" = all ]; then records=(); else records=(--records "data/$view/records/eval.record-*"); fi
    python3 evaluate.py --pipeline "$cfg" --checkpoint "train_dir/$run" "${records[@]}" \
      --out "experiments/$run/eval_$view"
  done
done
