"""Small pieces every stage shares: user-facing errors, atomic writes, downloads."""
import os

# The model is built with tf_keras (Keras 2, what tf-models-official uses), so tf.keras
# should be tf_keras too. TensorFlow reads this when it is first imported: without it,
# `import tensorflow` also loads Keras 3, which pulls in scikit-learn, matplotlib and
# IPython and adds 2-3 s to every train/export/evaluate start on the 2-core VM (measured
# with `python -X importtime`). Every entry script imports `common` before TensorFlow; a
# program that imported TensorFlow first keeps its Keras, and this code still works.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
