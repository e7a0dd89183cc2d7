import os

# Keras (the numerical oracle in tests marked `oracle`) must run on its torch backend.
os.environ.setdefault("KERAS_BACKEND", "torch")
# Tests train on the CPU unless they ask for a device (the CUDA tests do), so that the same
# assertions hold on machines with a GPU.
os.environ.setdefault("DANLU_DEVICE", "cpu")
