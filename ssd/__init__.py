"""SSD with a MobileNet v1 backbone, built from tf-models-official (tf_keras) blocks.

Names, anchors, box coding and post-processing follow the Object Detection API so
that model-zoo checkpoints and pipeline.config files carry over unchanged.
"""
