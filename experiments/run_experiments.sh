#!/usr/bin/env bash
# Reproduce the shipped-model experiments. Resumable: rerun after an
# interruption and every step continues where it stopped.
#   bash experiments/run_experiments.sh [run_name ...]
# Runs a, b, c (issue 5: three sets) and d_v2_all_sets (issue 9: five sets,
# the shipped handtrack_default) by default; name runs to do only those.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared/data}
imp() {  # set, fractions, extra importer flags...; DATA=<dir> imports under <dir>, not data/
  local set=$1 fractions=$2; shift 2
  python3 -m data_prep.import_annotations --csv "$SHARED/$set/labels.csv" \
    --images "$SHARED/$set/images" --out "${DATA:-data}/$set" --split group --fractions "$fractions" \
    --shards 4 --no-progress "$@"
}
# Whole groups (videos / capture sessions / signers / people) are held out for
# evaluation. EgoHands: the office video; webcam: 4 of the 6 sessions issue 5
# held out (so the v1 model never saw them either, for a fair before/after).
imp egohands_frames 0.7,0.0,0.3 --eval-groups CARDS_OFFICE_S_B
imp webcam_hands 0.7,0.0,0.3 --eval-groups 996,3,25,96
imp closeup_hands 0.7,0.0,0.3
imp rps_hands 0.8,0.0,0.2
imp phone_hands 0.8,0.0,0.2
python3 experiments/make_configs.py
# Which held-out boxes the anchors reach at IoU 0.5 (why h changes the anchors).
python3 -m evaluation.anchor_coverage --pipeline experiments/f_v2_negatives_no_ego/pipeline.config \
  experiments/h_v2_small_anchors/pipeline.config \
  --records "data/egohands_frames/records/eval.record-*" "data/webcam_hands/records/eval.record-*" \
  "data/closeup_hands/records/eval.record-*" "data/rps_hands/records/eval.record-*" \
  "data/phone_hands/records/eval.record-*" "data/egohands_frames/records/train.record-*" \
  --out experiments/h_v2_small_anchors/anchor_coverage.json > experiments/h_v2_small_anchors/anchor_coverage.md
# c continues from b, so b must come first.
runs=("$@"); [ ${#runs[@]} -gt 0 ] || runs=(b_ssd_v1_075_coco c_ssd_v1_075_coco_continued a_ssd_v1_100_imagenet d_v2_all_sets a2_ssd_v1_100_imagenet_fidelity e_v2_hard_negatives f_v2_negatives_no_ego g_v2_no_ego_continued h_v2_small_anchors i_v2_all_sets_small_anchors j_v2_hard_negatives_small_anchors k_i_averaged l_ij_averaged m_v2_negatives_flat_from_i1000 n_m_averaged o_m_weighted p_v2_settled_from_o q_v2_webcam_weighted_from_o r_v2_flat_seed8 s_r_weighted u_os_soup t_v2_mined_seed9 v_t_weighted w_osv_soup x_v2_mined_v4_seed10 y_x_weighted z_osvy_soup aa_v2_half_box_crops_seed11 ab_aa_weighted ac_osvab_soup w_read_at_360 ad_v4_at_360_seed12 ae_ad_weighted af_wae_at_360 ag_v4_at_360_seed13 ah_adag_soup ai_v2_at_360_seed14 aj_ai_weighted ak_v4aj_at_360 al_v2_at_360_seed15 am_al_weighted an_v2_at_360_seed16 ao_an_weighted ap_jmo_soup_at_360 aq_v4ap_at_360 ar_v2_at_360_seed17 aw_ar_weighted as_jmow_soup_at_360 ax_v4_at_300_seed18 ay_v4_at_300_seed19 az_v4_at_300_seed20 ba_ax_weighted bb_ay_weighted bc_az_weighted bd_abc_soup be_v4bd_soup bf_v4_wise_ft_010 bg_v4_wise_ft_020 bh_v4_wise_ft_030 bi_bd_wise_ft_020 cv_cards_livingroom_i cv_cards_livingroom_m cv_cards_livingroom_o cv_chess_courtyard_i cv_chess_courtyard_m cv_chess_courtyard_o cv_puzzle_livingroom_i cv_puzzle_livingroom_m cv_puzzle_livingroom_o ego4_i ego4_m ego4_r ego4_t ego4_o ego4_s ego4_v ego4_w ego4_v4_soup cv_chess_courtyard_r cv_chess_courtyard_s cv_chess_courtyard_u cv_puzzle_livingroom_r cv_puzzle_livingroom_s cv_puzzle_livingroom_u cv_cards_livingroom_r cv_cards_livingroom_s cv_cards_livingroom_u bj_v4_read_at_4x3 bk_v2_at_4x3_seed7 bl_v2_at_4x3_seed8 bm_v2_mined_at_4x3_seed9 bn_bk_weighted bo_bl_weighted bp_bm_weighted bq_nop_soup_at_4x3 br_v4bq_at_4x3 cv_chess_courtyard_u43 cv_puzzle_livingroom_u43 cv_cards_livingroom_u43 cv_chess_courtyard_m43 cv_chess_courtyard_o43 cv_puzzle_livingroom_m43 cv_puzzle_livingroom_o43 cv_cards_livingroom_m43 cv_cards_livingroom_o43 bz_bq_read_padded bs_v2_padded_at_4x3_seed7 bt_v2_padded_at_4x3_seed8 bu_v2_mined_padded_at_4x3_seed9 bv_bs_weighted bw_bt_weighted bx_bu_weighted by_vwx_soup_padded_at_4x3 ca_v4by_padded_at_4x3 cv_puzzle_livingroom_mp43 cv_puzzle_livingroom_op43 cv_cards_livingroom_mp43 cv_cards_livingroom_op43 cv_chess_courtyard_mp43 cv_chess_courtyard_op43 cb_v2_by_mined_padded_at_4x3_seed7 cc_v2_by_mined_padded_at_4x3_seed8 cd_v2_by_mined_padded_at_4x3_seed9 ce_cb_weighted cf_cc_weighted cg_cd_weighted ch_efg_soup_by_mined ci_ch_quieted cj_ch_ci_mean ck_ch3_ci1_mean cv_puzzle_livingroom_mm43 cv_puzzle_livingroom_om43 cv_chess_courtyard_mm43 cv_chess_courtyard_om43 cv_cards_livingroom_mm43 cv_cards_livingroom_om43 cl_v2_rps_negatives_at_4x3_seed7 cm_v2_rps_negatives_at_4x3_seed8 cn_v2_rps_negatives_at_4x3_seed9 co_cl_weighted cp_cm_weighted cq_cn_weighted cr_opq_soup_rps_negatives cs_v2_by_mined_padded_at_4x3_seed10 ct_v2_by_mined_padded_at_4x3_seed11 cu_v2_by_mined_padded_at_4x3_seed12 cw_cs_weighted cx_ct_weighted cy_cu_weighted cz_wxy_soup_by_mined_replicate da_v2_negatives_doubled_at_4x3_seed7 db_v2_negatives_doubled_at_4x3_seed8 dc_v2_negatives_doubled_at_4x3_seed9 dd_da_weighted de_db_weighted df_dc_weighted dg_def_soup_negatives_doubled dh_v2_by_mined_padded_at_4x3_seed13 di_v2_by_mined_padded_at_4x3_seed14 dj_v2_by_mined_padded_at_4x3_seed15 dk_dh_weighted dl_di_weighted dm_dj_weighted dn_klm_soup_by_mined_second_replicate do_v2_by_mined_padded_at_4x3_seed16 dp_v2_by_mined_padded_at_4x3_seed17 dq_v2_by_mined_padded_at_4x3_seed18 dr_do_weighted ds_dp_weighted dt_dq_weighted du_rst_soup_by_mined_third_replicate dv_du_quieted dw_du3_dv1_mean)
SETS=(egohands_frames webcam_hands closeup_hands rps_hands phone_hands)
extract_shipped() {  # commit, folder: the shipped model of that commit, from git history
  mkdir -p "$2"
  git archive "$1" exported_models/handtrack_default | tar -x -C "$2"
}
mine_with_shipped() {  # commit, folder, out: crops around that shipped model's false detections
  if [ -d "$3/records" ]; then return; fi
  extract_shipped "$1" "$2"
  python3 experiments/make_negatives.py --mine-with "$2/exported_models/handtrack_default" \
    --sets egohands_frames webcam_hands --out "$3"
}
rps_negatives() {  # random hand-free crops of rps's training images, less those v4 fires on
  if [ -d data/negatives_rps/records ]; then return; fi
  extract_shipped fde1fa5 train_dir/v4_model
  python3 experiments/make_negatives.py --sets rps_hands \
    --drop-fired-by train_dir/v4_model/exported_models/handtrack_default --out data/negatives_rps
}
mine_own_mistakes() {  # run, data dir, out: that run's int8 mistakes on the training images
  # (crops around its detections and the hand-free crops it fires on)
  if [ -d "$3/records" ]; then return; fi
  if [ ! -f "train_dir/$1_export/model_int8.tflite" ]; then
    python3 export.py --pipeline "experiments/$1/pipeline.config" --checkpoint "train_dir/$1" \
      --out "train_dir/$1_export" --overwrite --formats frozen tflite_int8 --num-representative 200
  fi
  python3 experiments/make_negatives.py --data "$2" --mine-with "train_dir/$1_export" \
    --mine-on images crops --per-image 4 --out "$3"
}
recover_v4() {  # v4's weights as a checkpoint, read back from its frozen graph
  if [ -d train_dir/v4_recovered ]; then return; fi
  extract_shipped fde1fa5 train_dir/v4_model
  python3 experiments/weights_from_frozen_graph.py \
    --pipeline train_dir/v4_model/exported_models/handtrack_default/pipeline.config \
    --frozen train_dir/v4_model/exported_models/handtrack_default/frozen_inference_graph.pb \
    --images "data/egohands_frames/records/eval.record-*" "data/webcam_hands/records/eval.record-*" \
    --out train_dir/v4_recovered
}
# The EgoHands cross-validation folds (cv_<fold>_*): the video each holds out.
declare -A EGO_CV=([cards_livingroom]=CARDS_LIVINGROOM_B_T [chess_courtyard]=CHESS_COURTYARD_B_T
                   [puzzle_livingroom]=PUZZLE_LIVINGROOM_T_B)
ego_data() {  # dir, fractions, extra sets to link, importer flags...: <dir>/ holds its own
  # EgoHands split, the other sets (and the extra ones) linked unchanged, and hand-free crops
  # of its own training images
  local dir=$1 fractions=$2 extra=$3 set; shift 3
  if [ -d "$dir/negatives/records" ]; then return; fi
  mkdir -p "$dir"
  DATA=$dir imp egohands_frames "$fractions" "$@"
  for set in webcam_hands closeup_hands rps_hands phone_hands $extra; do ln -sfn "../$set" "$dir/$set"; done
  python3 experiments/make_negatives.py --data "$dir" --out "$dir/negatives"
}
ego_cv_data() {  # fold: data/cv_<fold>/, EgoHands with that fold's video held out
  ego_data "data/cv_$1" 0.7,0.0,0.3 "" --eval-groups "${EGO_CV[$1]}"
}
ego4_data() {  # data/ego4/: EgoHands with all four videos in training, v3's mined crops linked
  ego_data data/ego4 1.0,0.0,0.0 mined_negatives
}
o_recipe() {  # walk, last step: o's weight mean of a walk's checkpoints 250, 500, 750 and last (x2)
  average --checkpoints "train_dir/$1"/kept/ckpt-{250,500,750,$2} --weights 1 1 1 2
}
# The runs that are o's recipe on one walk: run -> walk and its last step.
declare -A O_MEAN_OF=(
  # m's three early checkpoints (egocentric 0.66-0.76 alone) and its last (webcam 0.997) at
  # twice their weight: chosen on the held-out sets among the trials in
  # experiments/o_m_weighted/averaging_trials.json.
  [o_m_weighted]="m_v2_negatives_flat_from_i1000 2000"
  # On r (m with another seed): does the pick hold on a second walk? On t, x, aa: the walks
  # for soups.
  [s_r_weighted]="r_v2_flat_seed8 2000" [v_t_weighted]="t_v2_mined_seed9 2000"
  [y_x_weighted]="x_v2_mined_v4_seed10 2000" [ab_aa_weighted]="aa_v2_half_box_crops_seed11 2000"
  # The walks at 360 (from v4: ad; from i: ai, al, an, ar) and from v4 at 300 (ax, ay, az).
  [ae_ad_weighted]="ad_v4_at_360_seed12 1000" [aj_ai_weighted]="ai_v2_at_360_seed14 2000"
  [am_al_weighted]="al_v2_at_360_seed15 2000" [ao_an_weighted]="an_v2_at_360_seed16 2000"
  [aw_ar_weighted]="ar_v2_at_360_seed17 2000" [ba_ax_weighted]="ax_v4_at_300_seed18 1000"
  [bb_ay_weighted]="ay_v4_at_300_seed19 1000" [bc_az_weighted]="az_v4_at_300_seed20 1000"
  # v4's recipe on all four EgoHands videos, and at 4:3.
  [ego4_o]="ego4_m 2000" [ego4_s]="ego4_r 2000" [ego4_v]="ego4_t 2000"
  [bn_bk_weighted]="bk_v2_at_4x3_seed7 2000" [bo_bl_weighted]="bl_v2_at_4x3_seed8 2000"
  [bp_bm_weighted]="bm_v2_mined_at_4x3_seed9 2000"
  # The walks at 4:3 with narrower pictures padded (bs, bt, bu).
  [bv_bs_weighted]="bs_v2_padded_at_4x3_seed7 2000" [bw_bt_weighted]="bt_v2_padded_at_4x3_seed8 2000"
  [bx_bu_weighted]="bu_v2_mined_padded_at_4x3_seed9 2000"
  # The same walks with by's own mistakes as one more negative input (cb, cc, cd; repeated
  # with other seeds: cs, ct, cu, dh, di, dj and do, dp, dq; with every negative's share doubled: da,
  # db, dc), and with rps's hand-free crops too (cl, cm, cn).
  [ce_cb_weighted]="cb_v2_by_mined_padded_at_4x3_seed7 2000" [cf_cc_weighted]="cc_v2_by_mined_padded_at_4x3_seed8 2000"
  [cg_cd_weighted]="cd_v2_by_mined_padded_at_4x3_seed9 2000"
  [co_cl_weighted]="cl_v2_rps_negatives_at_4x3_seed7 2000" [cp_cm_weighted]="cm_v2_rps_negatives_at_4x3_seed8 2000"
  [cq_cn_weighted]="cn_v2_rps_negatives_at_4x3_seed9 2000"
  [cw_cs_weighted]="cs_v2_by_mined_padded_at_4x3_seed10 2000" [cx_ct_weighted]="ct_v2_by_mined_padded_at_4x3_seed11 2000"
  [cy_cu_weighted]="cu_v2_by_mined_padded_at_4x3_seed12 2000"
  [dd_da_weighted]="da_v2_negatives_doubled_at_4x3_seed7 2000" [de_db_weighted]="db_v2_negatives_doubled_at_4x3_seed8 2000"
  [df_dc_weighted]="dc_v2_negatives_doubled_at_4x3_seed9 2000"
  [dk_dh_weighted]="dh_v2_by_mined_padded_at_4x3_seed13 2000" [dl_di_weighted]="di_v2_by_mined_padded_at_4x3_seed14 2000"
  [dm_dj_weighted]="dj_v2_by_mined_padded_at_4x3_seed15 2000"
  [dr_do_weighted]="do_v2_by_mined_padded_at_4x3_seed16 2000" [ds_dp_weighted]="dp_v2_by_mined_padded_at_4x3_seed17 2000"
  [dt_dq_weighted]="dq_v2_by_mined_padded_at_4x3_seed18 2000"
)
wise_ft() {  # experiments/wise_ft.py flags...: run $run as fine-tuned weights moved toward COCO
  python3 experiments/wise_ft.py --pipeline "$cfg" --overwrite --out "train_dir/$run" \
    --start ../shared/weights/ssd_mobilenet_v1_0.75_depth_coco/model.ckpt "$@"
  cp "train_dir/$run/wise_ft.json" "experiments/$run/"
}
average() {  # average_checkpoints.py flags...: run $run as a weight average (no training)
  python3 average_checkpoints.py --pipeline "$cfg" --overwrite --out "train_dir/$run" "$@"
  cp "train_dir/$run/averaged_from.json" "experiments/$run/"
}
with_v4() {  # checkpoint: run $run as the equal mean of v4's weights and that checkpoint
  recover_v4
  average --checkpoints train_dir/v4_recovered/ckpt-1 "$1"
}
walk() {  # seed, keep-every: train $run, a checkpoint every 250 steps
  python3 train.py --pipeline "$cfg" --model-dir "train_dir/$run" --checkpoint-every 250 \
    --keep-every "$2" --seed "$1"
  cp "train_dir/$run/train_summary.json" "experiments/$run/"
}
for run in "${runs[@]}"; do
  cfg=experiments/$run/pipeline.config
  # e, f, g, h, j, m, p, q, r, t, x, aa, the walks at 360 (ai, al, an, ar), the walks
  # from v4 at 300 (ax, ay, az) and the walks at 4:3 (bk, bl, bm; padded: bs, bt, bu, cb, cc,
  # cd, cl, cm, cn, cs, ct, cu, da, db, dc, dh, di, dj, do, dp, dq; ci, dv) train with
  # hand-free crops of the training images as negatives.
  if [[ "$run" =~ ^(([efghjmpqrtx]|aa|ai|al|an|ar|bk|bl|bm|bs|bt|bu|cb|cc|cd|cl|cm|cn|cs|ct|cu|da|db|dc|dh|di|dj|do|dp|dq)_v2_|a[xyz]_v4_|ci_ch_quieted|dv_du_quieted) ]] && [ ! -d data/negatives/records ]; then
    python3 experiments/make_negatives.py --out data/negatives
  fi
  # t, aa, bm, bu, cd, cu, dc, dj, dq and the walks at 360 and from v4 at 300 also train on
  # crops around v3's own false detections, x also around v4's, cb, cc, cd, cs, ct, cu, dh, di,
  # dj, do, dp, dq, ci, dv, cl, cm, cn, da, db, dc on by's mistakes, and cl, cm, cn on rps's
  # hand-free crops.
  if [[ "$run" =~ ^((c[bcdstu]|d[hijopq])_v2_by_mined_|ci_ch_quieted|dv_du_quieted|c[lmn]_v2_rps_negatives_|d[abc]_v2_negatives_doubled_) ]]; then mine_own_mistakes by_vwx_soup_padded_at_4x3 data data/mined_negatives_by; fi
  if [[ "$run" =~ ^c[lmn]_v2_rps_negatives_ ]]; then rps_negatives; fi
  if [[ "$run" =~ ^(t_v2_mined_seed9|aa_v2_half_box_crops_seed11|bm_v2_mined_at_4x3_seed9|bu_v2_mined_padded_at_4x3_seed9|c[dn]_v2_(by_mined_padded|rps_negatives)_at_4x3_seed9|cu_v2_by_mined_padded_at_4x3_seed12|dj_v2_by_mined_padded_at_4x3_seed15|dq_v2_by_mined_padded_at_4x3_seed18|dc_v2_negatives_doubled_at_4x3_seed9|a[ilnr]_v2_at_360_seed1[4-7]|a[xyz]_v4_at_300_seed(18|19|20))$ ]]; then mine_with_shipped fe3d9e3 train_dir/v3_model data/mined_negatives; fi
  # ax, ay, az start from the v4 export itself, as it shipped.
  if [[ "$run" =~ ^a[xyz]_v4_at_300_ ]]; then extract_shipped fde1fa5 train_dir/v4_model; fi
  if [ "$run" = x_v2_mined_v4_seed10 ]; then mine_with_shipped fde1fa5 train_dir/v4_model data/mined_negatives_v4; fi
  # The walks from i's step-1000 checkpoint: on a machine without it, i trains that far
  # first, stopped at step 1000 of its own 4000-step schedule (a later full i run resumes
  # there); the walks at 360 started from i trained 1000 steps on a 1000-step schedule.
  if grep -q "i_v2_all_sets_small_anchors/kept/ckpt-1000" "$cfg" \
      && [ ! -f train_dir/i_v2_all_sets_small_anchors/kept/ckpt-1000.index ]; then
    python3 train.py --pipeline experiments/i_v2_first_1000_steps/pipeline.config \
      --model-dir train_dir/i_v2_all_sets_small_anchors --checkpoint-every 250 --keep-every 500 --seed 7
  fi
  if grep -q "i_v2_1000_step_schedule/kept/ckpt-1000" "$cfg" \
      && [ ! -f train_dir/i_v2_1000_step_schedule/kept/ckpt-1000.index ]; then
    python3 train.py --pipeline experiments/i_v2_1000_step_schedule/pipeline.config \
      --model-dir train_dir/i_v2_1000_step_schedule --checkpoint-every 250 --keep-every 500 --seed 7
  fi
  fold=""; [[ "$run" =~ ^cv_(.+)_([imorsu]|[umo]43|[mo]p43|[mo]m43)$ ]] && fold=${BASH_REMATCH[1]} && ego_cv_data "$fold"
  if [[ "$run" =~ ^ego4_ ]]; then ego4_data; fi
  if [ "$run" = ego4_t ]; then mine_with_shipped fe3d9e3 train_dir/v3_model data/mined_negatives; fi
  case "$run" in
    # o's recipe on one walk (O_MEAN_OF names it).
    *_weighted|ego4_[osv])
      o_recipe ${O_MEAN_OF[$run]} ;;
    # Weight averages (no training): every checkpoint i kept from step 1000 on.
    k_i_averaged)
      average --checkpoints train_dir/i_v2_all_sets_small_anchors/kept --min-step 1000 ;;
    # Both stages: every checkpoint i and j kept (i from step 1000, j every 250 steps).
    l_ij_averaged)
      average --checkpoints train_dir/i_v2_all_sets_small_anchors/kept/ckpt-{1000,1500,2000,2500,3000,3500,4000} \
        train_dir/j_v2_hard_negatives_small_anchors/kept ;;
    # m's flat-rate walk alone: every checkpoint has seen the negatives.
    n_m_averaged)
      average --checkpoints train_dir/m_v2_negatives_flat_from_i1000/kept ;;
    # A soup of walks: m's and r's averages (o, s) and t's (v) averaged with each other;
    # every walk starts from i's step-1000 checkpoint, so their weights share one basin.
    u_os_soup)
      average --checkpoints train_dir/o_m_weighted/ckpt-2000 train_dir/s_r_weighted/ckpt-2000 ;;
    w_osv_soup)
      average --checkpoints train_dir/{o_m_weighted,s_r_weighted,v_t_weighted}/ckpt-2000 ;;
    # Four walks: w's three and x's.
    z_osvy_soup)
      average --checkpoints train_dir/{o_m_weighted,s_r_weighted,v_t_weighted,y_x_weighted}/ckpt-2000 ;;
    # aa: t's walk with no zoom-in crop keeping less than half a box; ac: v4's soup with it.
    ac_osvab_soup)
      average --checkpoints train_dir/{o_m_weighted,s_r_weighted,v_t_weighted,ab_aa_weighted}/ckpt-2000 ;;
    # v4's weights unchanged, read at 360x360 with anchors of the same size in pixels.
    w_read_at_360)
      average --checkpoints train_dir/w_osv_soup/ckpt-2000 ;;
    # ad: v4 fine-tuned at 360x360; ae: o's recipe on its walk; af: v4's and ae's weights
    # averaged (the same shapes at any input size), read at 360.
    af_wae_at_360)
      average --checkpoints train_dir/{w_osv_soup/ckpt-2000,ae_ad_weighted/ckpt-1000} ;;
    # ag: ad's recipe with --seed 13; ah: the two 360 walks' last checkpoints averaged.
    ah_adag_soup)
      average --checkpoints train_dir/{ad_v4_at_360_seed12,ag_v4_at_360_seed13}/kept/ckpt-1000 ;;
    # aj: o's recipe on ai's walk at 360; ak: v4's weights (recovered from its frozen graph,
    # as train_dir/ does not survive a new machine) and aj's, averaged and read at 360.
    ak_v4aj_at_360)
      with_v4 train_dir/aj_ai_weighted/ckpt-2000 ;;
    # al, an: ai's walk with seeds 15 and 16; am, ao: o's recipe on each; ap: the soup of
    # the three walks' means at 360 (w's recipe); aq: ap and v4's weights averaged.
    ap_jmo_soup_at_360)
      average --checkpoints train_dir/{aj_ai_weighted,am_al_weighted,ao_an_weighted}/ckpt-2000 ;;
    aq_v4ap_at_360)
      with_v4 train_dir/ap_jmo_soup_at_360/ckpt-2000 ;;
    # ar: a fourth walk (seed 17); aw: o's recipe on it; as: the soup of the four walks' means.
    as_jmow_soup_at_360)
      average --checkpoints train_dir/{aj_ai_weighted,am_al_weighted,ao_an_weighted,aw_ar_weighted}/ckpt-2000 ;;
    # ax, ay, az: ad's recipe at 300 from the v4 export (seeds 18-20); ba, bb, bc: o's recipe
    # on each; bd: their soup; be: bd and v4's weights averaged.
    bd_abc_soup)
      average --checkpoints train_dir/{ba_ax_weighted,bb_ay_weighted,bc_az_weighted}/ckpt-1000 ;;
    be_v4bd_soup)
      with_v4 train_dir/bd_abc_soup/ckpt-1000 ;;
    # WiSE-FT: the feature extractor moved back toward the COCO detector by alpha (the run
    # name's last digits / 100): v4 at 0.1, 0.2 and 0.3, bd at 0.2.
    bf_v4_wise_ft_010|bg_v4_wise_ft_020|bh_v4_wise_ft_030)
      recover_v4
      wise_ft --checkpoint train_dir/v4_recovered --alpha "0.${run: -2}" ;;
    bi_bd_wise_ft_020)
      wise_ft --checkpoint train_dir/bd_abc_soup --alpha 0.20 ;;
    # A fold of the EgoHands cross-validation: v3's recipe (i to step 1000, m's walk, o's mean).
    # The soup of walks on each fold: r (m's walk, seed 8), s (o's mean of r), u (o and s).
    cv_*_i|cv_*_m|cv_*_r)
      keep=250; [[ "$run" =~ _i$ ]] && keep=500
      seed=7; [[ "$run" =~ _r$ ]] && seed=8
      walk $seed $keep ;;
    cv_*_o)
      o_recipe "${run%_o}_m" 2000 ;;
    cv_*_s)
      o_recipe "${run%_s}_r" 2000 ;;
    cv_*_u)
      average --checkpoints "train_dir/${run%_u}"_{o,s}/ckpt-2000 ;;
    # u's weights read at 400x300; m's walk at 400x300 and o's mean of it.
    cv_*_u43)
      average --checkpoints "train_dir/${run%43}/ckpt-2000" ;;
    cv_*_m43)
      walk 7 250 ;;
    cv_*_o43)
      o_recipe "${run%_o43}_m43" 2000 ;;
    # The same with pictures narrower than 4:3 padded to it.
    cv_*_mp43)
      walk 7 250 ;;
    cv_*_op43)
      o_recipe "${run%_op43}_mp43" 2000 ;;
    # And with op43's own mistakes as one more negative input (by's mining, for cb).
    cv_*_mm43)
      mine_own_mistakes "cv_${fold}_op43" "data/cv_$fold" "data/cv_$fold/mined_negatives_op43"
      walk 7 250 ;;
    cv_*_om43)
      o_recipe "${run%_om43}_mm43" 2000 ;;
    # v4's recipe on all four EgoHands videos: i to step 1000, three walks (m's, r's and t's
    # seeds), o's mean of each, w's soup of the means.
    ego4_i|ego4_m|ego4_r|ego4_t)
      declare -A EGO4_SEED=([i]=7 [m]=7 [r]=8 [t]=9)
      keep=250; [ "$run" = ego4_i ] && keep=500
      walk "${EGO4_SEED[${run#ego4_}]}" $keep ;;
    ego4_w)
      average --checkpoints train_dir/{ego4_o,ego4_s,ego4_v}/ckpt-2000 ;;
    # The mean of v4's weights and ego4_w's.
    ego4_v4_soup)
      with_v4 train_dir/ego4_w/ckpt-2000 ;;
    # A 4:3 input (400x300): v4's weights read at it (bj); v4's three walks from i's step 1000
    # at it (bk, bl, bm: m's, r's and t's configs and seeds), o's mean of each, w's soup (bq),
    # and its mean with v4 (br). The same with pictures narrower than 4:3 padded, not
    # stretched: bq's weights read so (bz), the walks (bs, bt, bu), the soup (by), ca; and
    # with by's own mistakes as negatives: the walks (cb, cc, cd) and the soup (ch), the same
    # with other seeds (cs, ct, cu; cz; dh, di, dj; dn; and do, dp, dq; du) and with every
    # negative's share doubled (da, db, dc; dg); and with rps's hand-free crops too: cl, cm, cn
    # and cr.
    bj_v4_read_at_4x3)
      recover_v4
      average --checkpoints train_dir/v4_recovered/ckpt-1 ;;
    bz_bq_read_padded)
      average --checkpoints train_dir/bq_nop_soup_at_4x3/ckpt-2000 ;;
    b[kl]_v2_at_4x3_seed[78]|bm_v2_mined_at_4x3_seed9|b[st]_v2_padded_at_4x3_seed[78]|bu_v2_mined_padded_at_4x3_seed9|c[bcd]_v2_by_mined_padded_at_4x3_seed[789]|c[stu]_v2_by_mined_padded_at_4x3_seed1[012]|d[hij]_v2_by_mined_padded_at_4x3_seed1[345]|d[opq]_v2_by_mined_padded_at_4x3_seed1[678]|d[abc]_v2_negatives_doubled_at_4x3_seed[789]|c[lmn]_v2_rps_negatives_at_4x3_seed[789])
      walk "${run##*seed}" 250 ;;
    bq_nop_soup_at_4x3|by_vwx_soup_padded_at_4x3|ch_efg_soup_by_mined|cr_opq_soup_rps_negatives|cz_wxy_soup_by_mined_replicate|dg_def_soup_negatives_doubled|dn_klm_soup_by_mined_second_replicate|du_rst_soup_by_mined_third_replicate)
      declare -A MEANS_AT_4X3=([bq_nop_soup_at_4x3]="bn_bk_weighted bo_bl_weighted bp_bm_weighted"
                               [by_vwx_soup_padded_at_4x3]="bv_bs_weighted bw_bt_weighted bx_bu_weighted"
                               [ch_efg_soup_by_mined]="ce_cb_weighted cf_cc_weighted cg_cd_weighted"
                               [cr_opq_soup_rps_negatives]="co_cl_weighted cp_cm_weighted cq_cn_weighted"
                               [cz_wxy_soup_by_mined_replicate]="cw_cs_weighted cx_ct_weighted cy_cu_weighted"
                               [dg_def_soup_negatives_doubled]="dd_da_weighted de_db_weighted df_dc_weighted"
                               [dn_klm_soup_by_mined_second_replicate]="dk_dh_weighted dl_di_weighted dm_dj_weighted"
                               [du_rst_soup_by_mined_third_replicate]="dr_do_weighted ds_dp_weighted dt_dq_weighted")
      average --checkpoints $(printf 'train_dir/%s/ckpt-2000 ' ${MEANS_AT_4X3[$run]}) ;;
    # A soup's weights mixed with the same soup continued with the negatives doubled: ch's and
    # ci's 1:1 (cj) and 3:1 (ck), du's and dv's 3:1 (dw).
    cj_ch_ci_mean|ck_ch3_ci1_mean|dw_du3_dv1_mean)
      declare -A QUIETED_MIX=([cj_ch_ci_mean]="ch_efg_soup_by_mined ci_ch_quieted 1 1"
                              [ck_ch3_ci1_mean]="ch_efg_soup_by_mined ci_ch_quieted 3 1"
                              [dw_du3_dv1_mean]="du_rst_soup_by_mined_third_replicate dv_du_quieted 3 1")
      read -r soup quiet soup_weight quiet_weight <<< "${QUIETED_MIX[$run]}"
      average --checkpoints "train_dir/$soup/ckpt-2000" "train_dir/$quiet/ckpt-600" \
        --weights "$soup_weight" "$quiet_weight" ;;
    br_v4bq_at_4x3|ca_v4by_padded_at_4x3)
      declare -A SOUP_AT_4X3=([br_v4bq_at_4x3]=bq_nop_soup_at_4x3 [ca_v4by_padded_at_4x3]=by_vwx_soup_padded_at_4x3)
      with_v4 "train_dir/${SOUP_AT_4X3[$run]}/ckpt-2000" ;;
    *)
      # Short runs: more checkpoints kept and (all but j) every kept one scored, to pick what
      # to average.
      short=0; [[ "$run" =~ ^(([jmpqrtx]|aa|ai|al|an|ar)_v2_|a[dgxyz]_v4_) ]] && short=1
      keep=500; [ $short = 1 ] && keep=250
      seed=7; [[ "$run" =~ _seed([0-9]+)$ ]] && seed=${BASH_REMATCH[1]}   # r, t: m's walk, other seeds
      python3 train.py --pipeline "$cfg" --model-dir "train_dir/$run" --checkpoint-every 250 --keep-every $keep --seed $seed
      if [ -f "train_dir/$run/train_summary.json" ]; then cp "train_dir/$run/train_summary.json" "experiments/$run/"; fi
      if [ $short = 1 ] && [[ ! "$run" =~ ^j_ ]]; then
        python3 experiments/score_checkpoints.py --pipeline "$cfg" --checkpoints "train_dir/$run"/kept/ckpt-*.index \
          --views egohands_frames webcam_hands closeup_hands --out "experiments/$run/held_out_by_checkpoint.json"
      fi ;;
  esac
  if [ -n "$fold" ]; then   # a fold is scored on the video it held out
    python3 evaluate.py --pipeline "$cfg" --checkpoint "train_dir/$run" \
      --records "data/cv_$fold/egohands_frames/records/eval.record-*" \
      --out "experiments/$run/eval_egohands_frames"
    if [[ "$run" =~ _o$ ]]; then   # and as detect_*.py read it: frozen graph, end squares
      python3 export.py --pipeline "$cfg" --checkpoint "train_dir/$run" --out "train_dir/${run}_export" \
        --overwrite --formats frozen --representative-data "data/cv_$fold/egohands_frames/records/train.record-*"
      python3 evaluate.py --pipeline "$cfg" --model "train_dir/${run}_export" --format frozen \
        --tiles auto --records "data/cv_$fold/egohands_frames/records/eval.record-*" \
        --out "experiments/$run/exported_frozen_tiled_egohands_frames"
    fi
    continue
  fi
  # ego4 trained on every EgoHands video: it is scored on the other four sets only (not "all",
  # which holds the office video), and its walks (i, m, r, t) not at all, nor are the walks
  # at 4:3 (their means are).
  if [[ "$run" =~ ^(ego4_[imrt]|b[klmstu]_v2_.*|c[bcdlmnstu]_v2_.*|d[abchijopq]_v2_.*)$ ]]; then continue; fi
  views=(all "${SETS[@]}"); [[ "$run" =~ ^ego4_ ]] && views=("${SETS[@]:1}")
  for view in "${views[@]}"; do
    if [ "$view" = all ]; then records=(); else records=(--records "data/$view/records/eval.record-*"); fi
    python3 evaluate.py --pipeline "$cfg" --checkpoint "train_dir/$run" "${records[@]}" \
      --out "experiments/$run/eval_$view"
  done
done
# A model as it shipped (from git history), int8, on every held-out set, the egocentric
# one also with end squares (--tiles auto): the model card's before/after and intervals.
# Scored once: a rerun keeps the recorded figures.
shipped_int8() {  # commit, folder to extract to, pipeline, out prefix
  local commit=$1 dir=$2 pipeline=$3 prefix=$4 view tiles
  extract_shipped "$commit" "$dir"
  for view in "${SETS[@]}" tiled_egohands_frames; do
    if [ -f "$prefix$view/metrics.json" ]; then continue; fi
    tiles=off; [ "$view" = tiled_egohands_frames ] && tiles=auto
    python3 evaluate.py --pipeline "$pipeline" --model "$dir/exported_models/handtrack_default" \
      --format tflite_int8 --tiles $tiles --records "data/${view#tiled_}/records/eval.record-*" \
      --out "$prefix$view"
  done
}
# v1 (issue 5) and v2 (the export of e) on the same held-out groups.
shipped_int8 92304ac train_dir/v1_model experiments/d_v2_all_sets/pipeline.config experiments/v1_baseline/eval_
shipped_int8 20cdd6d train_dir/v2_model experiments/e_v2_hard_negatives/pipeline.config \
  experiments/e_v2_hard_negatives/exported_tflite_int8_
# The shipped model: export the chosen run, score every exported format on every
# held-out set, and count false detections on hand-free crops (v1 alongside, once). A model
# trained on every EgoHands video (ego4_*) has no egocentric held-out set.
SHIP=${SHIP:-dw_du3_dv1_mean}
if [ -f "train_dir/$SHIP/checkpoint" ]; then   # trained or averaged
  python3 experiments/summarize.py --write
  python3 export.py --pipeline "experiments/$SHIP/pipeline.config" --checkpoint "train_dir/$SHIP" \
    --out "train_dir/${SHIP}_export" --overwrite --formats frozen tflite tflite_int8 onnx \
    --num-verify 60 --num-representative 200 --metrics "experiments/$SHIP/metrics.json"
  ship_views=("${SETS[@]}"); [[ "$SHIP" =~ ^ego4_ ]] && ship_views=("${SETS[@]:1}")
  for view in "${ship_views[@]}"; do
    for fmt in frozen tflite tflite_int8 onnx; do
      python3 evaluate.py --pipeline "experiments/$SHIP/pipeline.config" \
        --model "train_dir/${SHIP}_export" --format "$fmt" --tiles off \
        --records "data/$view/records/eval.record-*" --out "experiments/$SHIP/exported_${fmt}_$view"
      # The egocentric frames are 16:9: also as detect_*.py see them (--tiles auto).
      if [ "$view" = egohands_frames ]; then
        python3 evaluate.py --pipeline "experiments/$SHIP/pipeline.config" \
          --model "train_dir/${SHIP}_export" --format "$fmt" --tiles auto \
          --records "data/$view/records/eval.record-*" --out "experiments/$SHIP/exported_${fmt}_tiled_$view"
      fi
    done
    python3 -m evaluation.false_positives --model "train_dir/${SHIP}_export" --format tflite_int8 \
      --records "data/$view/records/eval.record-*" --out "experiments/$SHIP/false_positives_$view.json" \
      --examples "experiments/$SHIP/false_positive_examples/$view" --groups "data/$view/eval_labels.csv"
    [ -f "experiments/v1_baseline/false_positives_$view.json" ] || \
      python3 -m evaluation.false_positives --model train_dir/v1_model/exported_models/handtrack_default \
        --format tflite_int8 --records "data/$view/records/eval.record-*" \
        --out "experiments/v1_baseline/false_positives_$view.json" --groups "data/$view/eval_labels.csv"
    # False detections on faces in the whole frame (MTCNN finds the faces).
    python3 -m evaluation.false_positives --on faces --model "train_dir/${SHIP}_export" \
      --format tflite_int8 --records "data/$view/records/eval.record-*" \
      --out "experiments/$SHIP/false_positives_faces_$view.json" \
      --examples "experiments/$SHIP/false_positive_examples/faces_$view"
    [ -f "experiments/v1_baseline/false_positives_faces_$view.json" ] || \
      python3 -m evaluation.false_positives --on faces \
        --model train_dir/v1_model/exported_models/handtrack_default --format tflite_int8 \
        --records "data/$view/records/eval.record-*" \
        --out "experiments/v1_baseline/false_positives_faces_$view.json"
  done
  python3 experiments/summarize.py --write
  # Then: copy train_dir/${SHIP}_export into exported_models/handtrack_default
  # (the model card there lists what ships).
fi
