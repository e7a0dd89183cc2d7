import os

# Keras (the numerical oracle in tests marked `oracle`) must run on its torch backend.
os.environ.setdefault("KERAS_BACKEND", "torch")
