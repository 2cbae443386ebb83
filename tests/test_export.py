"""Export round trip of the tiny detector: every format, same detections, atomic writes."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.cli import run_main  # noqa: E402
from common.errors import UserError  # noqa: E402
from tests.tiny_detector import (INPUT_SIZE, TinyDetector, moving_rectangle_frames,  # noqa: E402
                                 tiny_export_dir)

FORMATS = ("frozen", "saved_model", "tflite", "tflite_int8")


@pytest.fixture(scope="module")
def export_dir():
    return tiny_export_dir()


def test_export_dir_contents(export_dir):
    names = {p.name for p in export_dir.iterdir()}
    assert {"frozen_inference_graph.pb", "saved_model", "model.tflite", "model_int8.tflite",
            "model.onnx", "label_map.pbtxt", "pipeline.config", "metrics.json",
            "export_info.json"} <= names
    assert not [p for p in export_dir.parent.iterdir() if ".tmp-" in p.name]
    info = json.loads((export_dir / "export_info.json").read_text())
    assert info["input_size"] == list(INPUT_SIZE) and info["labels"] == ["hand"]
    assert set(info["agreement_vs_frozen"]) == {"saved_model", "tflite", "tflite_int8", "onnx"}
    assert all(a["within_tolerance"] for a in info["agreement_vs_frozen"].values())
    # int8 documents which ops stayed float (NMS has no int8 kernel)
    assert "NON_MAX_SUPPRESSION_V5" in info["formats"]["tflite_int8"]["float_ops"]
    assert json.loads((export_dir / "metrics.json").read_text()) == {"mAP": 0.5}


def test_frozen_graph_contract_classic_session(export_dir):
    """image_tensor:0 uint8 [1, H, W, 3] (any H, W) -> the four named outputs."""
    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString((export_dir / "frozen_inference_graph.pb").read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    assert graph.get_tensor_by_name("image_tensor:0").dtype == tf.uint8
    fetch = ["detection_boxes:0", "detection_scores:0", "detection_classes:0",
             "num_detections:0"]
    with tf.compat.v1.Session(graph=graph) as sess:
        for h, w in ((120, 160), (57, 91)):
            img = np.zeros((1, h, w, 3), np.uint8)
            img[0, : h // 2, : w // 2] = 255
            boxes, scores, classes, num = sess.run(fetch, {"image_tensor:0": img})
            n = int(num[0])
            assert boxes.shape == (1, 10, 4) and scores.shape == (1, 10) and num.shape == (1,)
            assert n >= 1 and np.all(classes[0, :n] == 1.0)  # 1-based label ids
            assert np.all((boxes[0, :n] >= 0) & (boxes[0, :n] <= 1))


def test_saved_model_and_tflite_signatures(export_dir):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    sig = tf.saved_model.load(str(export_dir / "saved_model")).signatures["serving_default"]
    spec = sig.structured_input_signature[1]["input_tensor"]
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [1, None, None, 3]
    assert set(sig.structured_outputs) == {"detection_boxes", "detection_scores",
                                           "detection_classes", "num_detections"}
    for name in ("model.tflite", "model_int8.tflite"):
        it = Interpreter(model_path=str(export_dir / name))
        runner = it.get_signature_runner("serving_default")
        inp = runner.get_input_details()["input_tensor"]
        assert list(inp["shape"]) == [1, *INPUT_SIZE, 3] and inp["dtype"] == np.uint8
        assert set(runner.get_output_details()) == set(sig.structured_outputs)
    it = Interpreter(model_path=str(export_dir / "model_int8.tflite"))
    conv_dtypes = {np.dtype(it.get_tensor_details()[op["inputs"][0]]["dtype"]).name
                   for op in it._get_ops_details() if op["op_name"] == "CONV_2D"}
    assert conv_dtypes == {"int8"}


def test_all_formats_give_same_detections(export_dir):
    """Same BGR frames through Detector: float formats match the frozen graph to
    rounding; int8 within the stated tolerance (measured numbers printed)."""
    from detect.detector import Detector
    from export_lib.compare import Agreement
    from export_lib.exporter import COMPARE_MIN_SCORE, FLOAT_TOLERANCE, INT8_TOLERANCE

    frames = moving_rectangle_frames(30) + moving_rectangle_frames(8, 200, 150, (40, 60, 230))
    dets = {}
    for f in FORMATS:
        d = Detector(export_dir, format=f, num_threads=1)
        dets[f] = [d(frame) for frame in frames]
    assert sum(len(x.filter(0.5)) for x in dets["frozen"]) > 20
    for f in FORMATS[1:]:
        agg = Agreement()
        for ref, other in zip(dets["frozen"], dets[f]):
            agg.add(ref, other, min_score=COMPARE_MIN_SCORE)
        print(f, agg.to_json())
        tol = INT8_TOLERANCE if f == "tflite_int8" else FLOAT_TOLERANCE
        assert agg.matched > 20
        assert agg.within(**tol), (f, agg.to_json())
        if f == "saved_model":  # the same TF graph, same resize: identical up to float rounding
            assert agg.min_iou > 0.999 and agg.max_score_delta < 1e-4, agg.to_json()


def test_export_is_atomic_and_refuses_overwrite(tmp_path):
    from export_lib import export_all, export_model, inference_fn_from_model

    frames = [f[..., ::-1].copy() for f in moving_rectangle_frames(4)]
    out = tmp_path / "m"
    out.mkdir()
    (out / "old.txt").write_text("old")
    (out / "export_info.json").write_text("{}")   # an earlier export: --overwrite may replace it
    kwargs = dict(input_size=INPUT_SIZE, representative_images=frames, label_names=["hand"],
                  formats=("frozen",), num_verify=0)
    with pytest.raises(UserError, match="already exists"):
        export_model(TinyDetector(), out, **kwargs)

    inner = inference_fn_from_model(TinyDetector())

    def broken(images):
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        export_all(broken, out, overwrite=True, **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no tmp dir left behind
    assert (out / "old.txt").exists()                           # old export untouched

    export_all(inner, out, overwrite=True, **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert (out / "frozen_inference_graph.pb").exists() and not (out / "old.txt").exists()


def test_representative_images_from_tfrecords(tmp_path):
    import tensorflow as tf

    from export_lib.representative import images_from_tfrecords

    files = []
    for name, height in (("a", 24), ("b", 40)):
        path = tmp_path / f"{name}.record-00000-of-00001"
        files.append(str(path))
        with tf.io.TFRecordWriter(str(path)) as w:
            for i in range(3):
                img = np.full((height + i, 32, 3), 40 * i, np.uint8)
                enc = tf.io.encode_jpeg(img).numpy()
                feat = {"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[enc]))}
                w.write(tf.train.Example(features=tf.train.Features(feature=feat))
                        .SerializeToString())
    # Every record of every file is read (the sampling itself: tests/test_representative.py).
    imgs = list(images_from_tfrecords(files, limit=6))
    assert sorted(i.shape for i in imgs) == [(24, 32, 3), (25, 32, 3), (26, 32, 3),
                                             (40, 32, 3), (41, 32, 3), (42, 32, 3)]
    assert all(i.dtype == np.uint8 for i in imgs)
    empty = tmp_path / "empty.record"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="hold no records"):
        list(images_from_tfrecords([str(empty)]))


def test_export_cli_user_errors(tmp_path, capsys):
    import export

    code = run_main(export.main, ["--pipeline", "pipeline_configs/ssd.config", "--checkpoint",
                                  str(tmp_path / "no_ckpt"), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--checkpoint" in err[0]
    (tmp_path / "x").mkdir()
    code = run_main(export.main, ["--pipeline", "p", "--checkpoint", "c", "--out",
                                  str(tmp_path / "x")])
    assert code == 2 and "--overwrite" in capsys.readouterr().err
