"""Keras' "Writing your own callbacks" guide, with only the imports changed: callbacks that
log every hook, print losses, stop at the minimum loss restoring the best weights, and
schedule the learning rate.

    import keras            ->  import danlu as keras
"""

import numpy as np

import danlu as keras


def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1), loss="mean_squared_error", metrics=["mean_absolute_error"])
    return model


class CustomCallback(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_begin(self, logs=None):
        self.seen.append(("train_begin", sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(("epoch_end", sorted(logs)))

    def on_test_batch_end(self, batch, logs=None):
        self.seen.append(("test_batch_end", sorted(logs)))

    def on_predict_batch_end(self, batch, logs=None):
        self.seen.append(("predict_batch_end", sorted(logs)))


class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print(f"Up to batch {batch}, the average loss is {logs['loss']:7.2f}.")

    def on_test_batch_end(self, batch, logs=None):
        print(f"Up to batch {batch}, the average loss is {logs['loss']:7.2f}.")

    def on_epoch_end(self, epoch, logs=None):
        print(f"The average loss for epoch {epoch} is {logs['loss']:7.2f} and mean absolute error is {logs['mean_absolute_error']:7.2f}.")


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    """Stop training when the loss is at its min, i.e. the loss stops decreasing."""

    def __init__(self, patience=0):
        super().__init__()
        self.patience = patience
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            self.best_weights = self.model.get_weights()  # Keras' arrays
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                print("Restoring model weights from the end of the best epoch.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class CustomLearningRateScheduler(keras.callbacks.Callback):
    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self.model.optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        lr = float(np.array(self.model.optimizer.learning_rate))
        scheduled_lr = self.schedule(epoch, lr)
        self.model.optimizer.learning_rate = scheduled_lr
        print(f"\nEpoch {epoch}: Learning rate is {float(np.array(scheduled_lr)):6.4f}.")


LR_SCHEDULE = [(3, 0.05), (6, 0.01), (9, 0.005), (12, 0.001)]


def lr_schedule(epoch, lr):
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for i in range(len(LR_SCHEDULE)):
        if epoch == LR_SCHEDULE[i][0]:
            return LR_SCHEDULE[i][1]
    return lr


def main(epochs=15, seed=0):
    keras.utils.set_random_seed(seed)
    # Load example MNIST-like data: the 8x8 digits shipped with danlu, regressing the label.
    images, labels = keras.datasets.load_digits()
    x_train = images.reshape(-1, 64).astype("float32") / 16.0
    y_train = labels.astype("float32")
    x_train, y_train, x_test, y_test = x_train[:1000], y_train[:1000], x_train[1000:], y_train[1000:]

    model = get_model()
    custom = CustomCallback()
    model.fit(x_train, y_train, batch_size=128, epochs=1, verbose=0, validation_split=0.5, callbacks=[custom])
    model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[custom])
    model.predict(x_test, batch_size=128, callbacks=[custom])

    model = get_model()
    model.fit(x_train, y_train, batch_size=128, epochs=2, verbose=0, callbacks=[LossAndErrorPrintingCallback()])
    model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[LossAndErrorPrintingCallback()])

    model = get_model()
    stopper = EarlyStoppingAtMinLoss(patience=2)
    history = model.fit(x_train, y_train, batch_size=64, epochs=30, verbose=0,
                        callbacks=[LossAndErrorPrintingCallback(), stopper])

    model = get_model()
    scheduled = model.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=0,
                          callbacks=[LossAndErrorPrintingCallback(), CustomLearningRateScheduler(lr_schedule)])
    return custom.seen, history, stopper, scheduled, model


if __name__ == "__main__":
    main()
