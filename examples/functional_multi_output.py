"""Keras' functional API guide, "Models with multiple inputs and outputs", with only the
imports changed: a ticket classifier taking a title, a body and tags, predicting a
priority and a department, with a loss and a loss weight per output.

    import keras; from keras import layers  ->  import danlu as keras; from danlu import layers
"""

import numpy as np

import danlu as keras
from danlu import layers


def build(num_tags=12, num_words=10000, num_departments=4):
    title_input = keras.Input(shape=(None,), name="title")  # Variable-length sequence of ints
    body_input = keras.Input(shape=(None,), name="body")  # Variable-length sequence of ints
    tags_input = keras.Input(shape=(num_tags,), name="tags")  # Binary vectors of size `num_tags`

    # Embed each word in the title into a 64-dimensional vector
    title_features = layers.Embedding(num_words, 64)(title_input)
    # Embed each word in the text into a 64-dimensional vector
    body_features = layers.Embedding(num_words, 64)(body_input)
    # Reduce sequence of embedded words in the title into a single 128-dimensional vector
    title_features = layers.LSTM(128)(title_features)
    # Reduce sequence of embedded words in the body into a single 32-dimensional vector
    body_features = layers.LSTM(32)(body_features)
    # Merge all available features into a single large vector via concatenation
    x = layers.concatenate([title_features, body_features, tags_input])
    # Stick a logistic regression for priority prediction on top of the features
    priority_pred = layers.Dense(1, name="priority")(x)
    # Stick a department classifier on top of the features
    department_pred = layers.Dense(num_departments, name="department")(x)

    # Instantiate an end-to-end model predicting both priority and department
    return keras.Model(
        inputs=[title_input, body_input, tags_input],
        outputs={"priority": priority_pred, "department": department_pred},
    )


def main(epochs=2, samples=1280, seed=0):
    keras.utils.set_random_seed(seed)
    num_tags, num_words, num_departments = 12, 10000, 4
    model = build(num_tags, num_words, num_departments)
    model.summary()
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={
            "priority": keras.losses.BinaryCrossentropy(from_logits=True),
            "department": keras.losses.CategoricalCrossentropy(from_logits=True),
        },
        loss_weights={"priority": 1.0, "department": 0.2},
    )
    # Dummy input data
    title_data = np.random.randint(num_words, size=(samples, 10))
    body_data = np.random.randint(num_words, size=(samples, 100))
    tags_data = np.random.randint(2, size=(samples, num_tags)).astype("float32")
    # Dummy target data
    priority_targets = np.random.random(size=(samples, 1))
    dept_targets = np.random.randint(2, size=(samples, num_departments))
    history = model.fit(
        {"title": title_data, "body": body_data, "tags": tags_data},
        {"priority": priority_targets, "department": dept_targets},
        epochs=epochs,
        batch_size=32,
    )
    return history.history


if __name__ == "__main__":
    main()
