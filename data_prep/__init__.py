"""Dataset preparation: EgoHands and users' own annotations -> TFRecords for training.

Modules (one job each): `egohands` (zip safety, extraction, polygons.mat ->
boxes), `voc` (Pascal VOC XML), `annotations` (the validated table and its
CSV), `splits`, `tfrecords`, `label_map`, `visualize`, and `dataset_writer`,
the single core both entry points (`prep_egohands.py`,
`python -m data_prep.import_annotations`) end in.

Ignore regions ("difficult" boxes)
----------------------------------
Some objects should teach the model nothing either way (a hand too blurred or
cut off to label reliably). Such a box is written with
`image/object/difficult = 1`; training treats anchors matched to it as neither
positive nor negative, and evaluation does not count it. A box is difficult if

* its CSV row has `difficult` = 1 (optional column), or its VOC object has
  `<difficult>1</difficult>`: it keeps its class text and label id; or
* its class is `ignore` (reserved name): it is written with class text
  `ignore`, difficult = 1 and class label 1. Label 0 is background and not
  allowed, and `ignore` is not a class the model predicts, so it never gets
  its own id in `label_map.pbtxt`; id 1 is only a placeholder that consumers
  must disregard because difficult = 1.

`read_label_map` skips an item named `ignore` if a hand-written label map
lists one, so the class list is always the real classes with ids 1..N.
"""
