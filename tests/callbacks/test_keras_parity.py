"""Callbacks as Keras 3.15 behaves: unknown modes, missing monitors, schedule outputs,
RemoteMonitor."""

import http.server
import json
import threading
import urllib.parse

import numpy as np
import pytest

import danlu
from danlu import callbacks, layers


def fitted(callback, epochs=2, **fit_kwargs):
    model = danlu.Sequential([layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    return model, model.fit(x, x[:, :1], epochs=epochs, verbose=0, callbacks=[callback], **fit_kwargs)


def test_an_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(UserWarning, match="mode 'maximum' is unknown"):
        stopper = callbacks.EarlyStopping(monitor="loss", mode="maximum")
    assert stopper.mode == "auto"
    fitted(stopper)
    assert stopper.lower_is_better is True


def test_model_checkpoint_auto_mode_on_an_unknown_monitor_raises(tmp_path):
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), monitor="custom", save_best_only=True)
    with pytest.raises(ValueError, match="cannot tell whether monitor='custom' should go down or up"):
        fitted(checkpoint)


def test_model_checkpoint_saves_when_the_monitor_is_missing(tmp_path):
    path = tmp_path / "best.keras"
    checkpoint = callbacks.ModelCheckpoint(str(path), monitor="val_loss", mode="min", save_best_only=True)
    with pytest.warns(UserWarning, match="only with 'val_loss' available"):
        fitted(checkpoint)
    assert path.exists()


def test_initial_value_threshold_must_be_beaten_before_the_first_save(tmp_path):
    path = tmp_path / "best.keras"
    checkpoint = callbacks.ModelCheckpoint(str(path), monitor="loss", save_best_only=True, initial_value_threshold=-1.0)
    fitted(checkpoint)
    assert not path.exists()


def test_learning_rate_scheduler_needs_a_float():
    with pytest.raises(ValueError, match="should be a float; it returned 1 \\(int\\) for epoch 0"):
        fitted(callbacks.LearningRateScheduler(lambda epoch, lr: 1))
    model, history = fitted(callbacks.LearningRateScheduler(lambda epoch, lr: np.float32(0.05)))
    assert history.history["learning_rate"] == [pytest.approx(0.05)] * 2


class Collector(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        Collector.received.append((self.path, self.headers.get("Content-Type"), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Collector.received = []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_remote_monitor_posts_each_epoch_as_a_form_or_json(server):
    fitted(callbacks.RemoteMonitor(root=server), epochs=2)
    assert len(Collector.received) == 2
    path, kind, body = Collector.received[1]
    assert path == "/publish/epoch/end/" and kind == "application/x-www-form-urlencoded"
    logs = json.loads(urllib.parse.parse_qs(body)["data"][0])
    assert logs["epoch"] == 1 and set(logs) == {"epoch", "loss", "mae"}
    Collector.received = []
    fitted(callbacks.RemoteMonitor(root=server, path="/json", send_as_json=True), epochs=1)
    path, kind, body = Collector.received[0]
    assert path == "/json" and kind == "application/json" and json.loads(body)["epoch"] == 0


def test_remote_monitor_warns_when_the_server_is_unreachable():
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor root server"):
        fitted(callbacks.RemoteMonitor(root="http://127.0.0.1:9"), epochs=1)
