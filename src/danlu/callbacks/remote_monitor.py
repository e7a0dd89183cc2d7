"""`RemoteMonitor`: post each epoch's logs to a server (Keras 3; needs ``requests``:
``pip install 'danlu[remote]'``)."""

from __future__ import annotations

import json
import warnings

from danlu.callbacks.base import Callback


class RemoteMonitor(Callback):
    """At the end of every epoch, POST ``{"epoch": epoch, **logs}`` to ``root + path``.

    Keras 3's arguments and defaults: ``root="http://localhost:9000"``,
    ``path="/publish/epoch/end/"``, ``field="data"`` (the form field holding the JSON when
    ``send_as_json`` is False), ``headers=None``, ``send_as_json=False`` (post the logs as a
    JSON body instead of a form). An unreachable server gives a warning, not an error; only
    the first training process posts.
    """

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data", headers=None,
                 send_as_json=False):
        super().__init__()
        for name, value in (("root", root), ("path", path), ("field", field)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string; received {name}={value!r}.")
        if headers is not None and not isinstance(headers, dict):
            raise TypeError(f"headers must be a dict or None; received headers={headers!r}.")
        self.root, self.path, self.field = root, path, field
        self.headers, self.send_as_json = headers, bool(send_as_json)

    def on_train_begin(self, logs=None):
        try:
            import requests  # noqa: F401
        except ImportError as error:
            raise ImportError("RemoteMonitor needs requests: pip install 'danlu[remote]'.") from error

    def on_epoch_end(self, epoch, logs=None):
        import os

        import requests

        if int(os.environ.get("RANK", "0")) != 0:
            return
        payload = {"epoch": epoch, **{k: (float(v) if isinstance(v, (int, float)) else v) for k, v in (logs or {}).items()}}
        url = self.root + self.path
        try:
            if self.send_as_json:
                requests.post(url, json=payload, headers=self.headers, timeout=10)
            else:
                requests.post(url, {self.field: json.dumps(payload)}, headers=self.headers, timeout=10)
        except requests.exceptions.RequestException:
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}.", stacklevel=2)
