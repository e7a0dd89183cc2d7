"""Image preprocessing: Rescaling, Resizing, CenterCrop and the Random* augmentations.

Keras' images are channels-last; danlu's are channels-first: inputs are transposed for ours
(and each layer is also checked with ``data_format="channels_last"``). The random layers'
deterministic part (a given angle, zoom, shift, flip, factor) must give Keras' pixels; the
random draws themselves only need the right shapes and ranges."""

import numpy as np
import pytest
import torch

import danlu
from danlu.layers.preprocessing import (
    CenterCrop,
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
    Resizing,
)
from tests.oracle import keras, to_numpy


def images(shape=(3, 17, 23, 2), seed=0, dtype="float32"):
    """Channels-last images (Keras' layout) and their channels-first torch version."""
    x = np.random.default_rng(seed).uniform(0, 255, size=shape).astype(dtype)
    return x, torch.as_tensor(x).permute(0, 3, 1, 2)


def channels_last(tensor):
    return to_numpy(tensor.permute(0, 2, 3, 1))


# --- Rescaling, Resizing, CenterCrop ------------------------------------------------------------


@pytest.mark.oracle
def test_rescaling_matches_keras():
    k = keras()
    x, x_first = images()
    for scale, offset in [(1 / 255, 0.0), (1 / 127.5, -1.0), (2.0, 3)]:
        expected = to_numpy(k.layers.Rescaling(scale, offset)(x))
        np.testing.assert_allclose(channels_last(Rescaling(scale, offset)(x_first)), expected, rtol=1e-6)
    table = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(Rescaling([1.0, 2.0, 3.0], 0.5)(table)),
                               to_numpy(k.layers.Rescaling([1.0, 2.0, 3.0], 0.5)(table)), rtol=1e-6)
    per_channel = Rescaling([1.0, 10.0])(x_first)  # aligned with the channels of (batch, c, h, w)
    np.testing.assert_allclose(channels_last(per_channel), x * np.array([1.0, 10.0], dtype="float32"), rtol=1e-6)
    integer = Rescaling(0.5)(torch.arange(4, dtype=torch.uint8))
    assert integer.dtype == torch.float32 and integer.tolist() == [0.0, 0.5, 1.0, 1.5]


@pytest.mark.oracle
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("aspect", [{}, {"crop_to_aspect_ratio": True}, {"pad_to_aspect_ratio": True, "fill_value": 7.0}])
def test_resizing_matches_keras(interpolation, aspect):
    k = keras()
    for shape, size in [((3, 17, 23, 2), (9, 14)), ((2, 8, 8, 3), (19, 5)), ((1, 5, 30, 1), (5, 30))]:
        x, x_first = images(shape)
        expected = to_numpy(k.layers.Resizing(*size, interpolation=interpolation, **aspect)(x))
        ours = Resizing(*size, interpolation=interpolation, **aspect)
        np.testing.assert_allclose(channels_last(ours(x_first)), expected, rtol=1e-5, atol=1e-4)
        last = Resizing(*size, interpolation=interpolation, data_format="channels_last", **aspect)
        np.testing.assert_allclose(to_numpy(last(x)), expected, rtol=1e-5, atol=1e-4)
        assert ours.compute_output_shape((None, shape[3], *shape[1:3])) == (None, shape[3], *size)
    x, x_first = images((2, 9, 12, 3), dtype="uint8")
    expected = to_numpy(k.layers.Resizing(5, 7, interpolation=interpolation, **aspect)(x))
    got = Resizing(5, 7, interpolation=interpolation, **aspect)(x_first)
    assert got.dtype == torch.uint8
    np.testing.assert_array_equal(channels_last(got), expected)
    single = Resizing(4, 6, interpolation=interpolation, **aspect)(x_first[0].float())
    assert single.shape == (3, 4, 6)


@pytest.mark.oracle
@pytest.mark.parametrize("size", [(10, 12), (17, 23), (20, 5), (30, 30), (4, 40)])
def test_center_crop_matches_keras(size):
    k = keras()
    x, x_first = images()
    expected = to_numpy(k.layers.CenterCrop(*size)(x))
    np.testing.assert_allclose(channels_last(CenterCrop(*size)(x_first)), expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(to_numpy(CenterCrop(*size, data_format="channels_last")(x)), expected, rtol=1e-5, atol=1e-4)


def test_image_layers_bad_arguments():
    with pytest.raises(ValueError, match='Did you mean "bilinear"'):
        Resizing(4, 4, interpolation="bilinar")
    with pytest.raises(ValueError, match="not available with PyTorch"):
        Resizing(4, 4, interpolation="lanczos3")
    with pytest.raises(ValueError, match="at most one of crop_to_aspect_ratio and pad_to_aspect_ratio"):
        Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(ValueError, match='Did you mean "channels_last"'):
        CenterCrop(2, 2, data_format="channel_last")
    with pytest.raises(ValueError, match="height must be a positive int"):
        CenterCrop(0, 2)
    with pytest.raises(ValueError, match="rank 3"):
        Resizing(2, 2)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="scale must be a number"):
        Rescaling("big")


# --- Random augmentation: deterministic transforms equal Keras' ----------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_given_rotation_zoom_and_translation_give_keras_pixels(fill_mode, interpolation):
    k = keras()
    x, x_first = images()
    options = dict(fill_mode=fill_mode, interpolation=interpolation, fill_value=3.0)
    angles = torch.tensor([10.0, -73.5, 180.0])
    theirs = k.layers.RandomRotation(0.5, **options)
    zeros, ones = torch.zeros(3), torch.ones(3)
    matrix = theirs._compute_affine_matrix(0.5, 0.5, angles, zeros, zeros, ones, zeros, zeros, 17, 23)
    expected = to_numpy(theirs.transform_images(torch.as_tensor(x), {"rotation_matrix": matrix}, training=True))
    np.testing.assert_allclose(channels_last(RandomRotation(0.5, **options).transform_images(x_first, angles)), expected,
                               rtol=1e-5, atol=1e-4)

    zooms = torch.tensor([[0.7, 1.3], [1.2, 1.2], [0.55, 0.9]])
    theirs = k.layers.RandomZoom((-0.5, 0.5), (-0.3, 0.4), **options)
    expected = to_numpy(theirs.transform_images(torch.as_tensor(x), {"width_zoom": zooms[:, :1], "height_zoom": zooms[:, 1:]},
                                                training=True))
    ours = RandomZoom((-0.5, 0.5), (-0.3, 0.4), **options).transform_images(x_first, zooms)
    np.testing.assert_allclose(channels_last(ours), expected, rtol=1e-5, atol=1e-4)

    shifts = torch.tensor([[3.3, -2.1], [-7.5, 4.0], [0.0, 11.9]])
    theirs = k.layers.RandomTranslation(0.5, 0.5, **options)
    expected = to_numpy(theirs.transform_images(torch.as_tensor(x), {"translations": shifts}, training=True))
    ours = RandomTranslation(0.5, 0.5, **options, data_format="channels_last").transform_images(x, shifts)
    np.testing.assert_allclose(to_numpy(ours), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.oracle
@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_given_flips_give_keras_pixels(mode):
    k = keras()
    x, x_first = images()
    flips = torch.tensor([True, False, True])
    theirs = k.layers.RandomFlip(mode)
    expected = to_numpy(theirs.transform_images(torch.as_tensor(x), {"flips": flips.reshape(3, 1, 1, 1)}, training=True))
    np.testing.assert_array_equal(channels_last(RandomFlip(mode).transform_images(x_first, flips)), expected)


@pytest.mark.oracle
def test_given_contrast_and_brightness_give_keras_pixels():
    k = keras()
    x, x_first = images()
    factors = torch.tensor([0.5, 1.0, 1.7])
    theirs = k.layers.RandomContrast(0.9, value_range=(10, 240))
    expected = to_numpy(theirs.transform_images(torch.as_tensor(x), {"contrast_factor": factors.reshape(3, 1, 1, 1)}))
    got = RandomContrast(0.9, value_range=(10, 240)).transform_images(x_first, factors)
    np.testing.assert_allclose(channels_last(got), expected, rtol=1e-5, atol=1e-4)
    deltas = torch.tensor([-40.0, 0.0, 99.5])
    theirs = k.layers.RandomBrightness(0.5)
    expected = to_numpy(theirs.transform_images(torch.as_tensor(x.copy()), {"rgb_delta": deltas.reshape(3, 1, 1, 1)}))
    np.testing.assert_allclose(channels_last(RandomBrightness(0.5).transform_images(x_first, deltas)), expected, rtol=1e-6)


# --- Random augmentation: training only, torch's generator, ranges ------------------------------

RANDOM_LAYERS = [
    lambda: RandomFlip(), lambda: RandomRotation(0.2), lambda: RandomZoom(0.3, 0.2), lambda: RandomTranslation(0.1, 0.2),
    lambda: RandomContrast(0.5), lambda: RandomBrightness(0.3),
]


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_random_layers_are_identity_in_inference_and_random_in_training(make):
    layer = make()
    x = torch.rand(4, 3, 12, 10) * 255
    assert torch.equal(layer(x), x)
    assert torch.equal(layer(x.to(torch.uint8)), x.to(torch.uint8).float())
    torch.manual_seed(7)
    first = layer(x, training=True)
    assert first.shape == x.shape and first.dtype == torch.float32 and not torch.equal(first, x)
    torch.manual_seed(7)
    assert torch.equal(layer(x, training=True), first)  # torch's global generator drives the draws
    layer.train()
    torch.manual_seed(7)
    assert torch.equal(layer(x), first)
    assert layer(x[0]).shape == x[0].shape
    clone = type(layer).from_config(layer.get_config())
    torch.manual_seed(7)
    assert torch.equal(clone(x, training=True), first)


def test_random_draws_fall_in_the_factor_ranges():
    torch.manual_seed(0)
    x = torch.zeros(2000, 1, 4, 4)
    angles = RandomRotation((-0.1, 0.25)).get_random_transformation(x)
    assert angles.min() >= -36.0 and angles.max() <= 90.0 and angles.min() < -30 and angles.max() > 80
    zooms = RandomZoom((-0.2, 0.5), None).get_random_transformation(x)
    assert torch.equal(zooms[:, 0], zooms[:, 1]) and zooms.min() >= 0.8 and zooms.max() <= 1.5
    shifts = RandomTranslation(0.25, (0.0, 0.5)).get_random_transformation(torch.zeros(500, 1, 8, 10))
    assert shifts[:, 1].abs().max() <= 2.0 and shifts[:, 0].min() >= 0 and shifts[:, 0].max() <= 5.0
    contrast = RandomContrast(0.3).get_random_transformation(x)
    assert contrast.min() >= 0.7 and contrast.max() <= 1.3 and contrast.min() < 0.75
    brightness = RandomBrightness((-0.1, 0.2), value_range=(0, 1)).get_random_transformation(x)
    assert brightness.min() >= -0.1 and brightness.max() <= 0.2
    flips = RandomFlip().get_random_transformation(x)
    assert flips.shape == (2000, 2) and 0.45 < flips.float().mean() < 0.55
    assert 0.2 < (flips[:, 0] & ~flips[:, 1]).float().mean() < 0.3  # the two flips are independent
    one_axis = torch.zeros(1, 1, 2, 2)
    one_axis[0, 0, 0, 0] = 1
    assert RandomFlip().transform_images(one_axis, torch.tensor([[True, False]]))[0, 0].tolist() == [[0, 1], [0, 0]]
    assert RandomFlip().transform_images(one_axis, torch.tensor([[False, True]]))[0, 0].tolist() == [[0, 0], [1, 0]]
    bright = RandomBrightness(1.0, value_range=(0, 1))(torch.rand(64, 3, 2, 2), training=True)
    assert bright.min() >= 0 and bright.max() <= 1


def test_random_layers_train_inside_a_model():
    model = danlu.Sequential([danlu.Input((3, 8, 8)), RandomFlip("horizontal"), RandomRotation(0.1), RandomZoom(0.1),
                              Rescaling(1 / 255), danlu.layers.Flatten(), danlu.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = torch.rand(16, 3, 8, 8) * 255, torch.rand(16, 2)
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    model.eval()
    np.testing.assert_allclose(model.predict(x, verbose=0), to_numpy(model.layers[-1](model.layers[-2](x / 255))), rtol=1e-5)


def test_augmentation_bad_arguments():
    with pytest.raises(ValueError, match='Did you mean "reflect"'):
        RandomRotation(0.1, fill_mode="reflection")
    with pytest.raises(ValueError, match='Did you mean "nearest"'):
        RandomZoom(0.1, interpolation="nearset")
    with pytest.raises(ValueError, match='Did you mean "horizontal"'):
        RandomFlip("horizontl")
    with pytest.raises(ValueError, match=r"factor must be in \[-1, 1\]"):
        RandomRotation(1.5)
    with pytest.raises(ValueError, match=r"height_factor must be in \(-1, 1\]"):
        RandomZoom(-1.0)
    with pytest.raises(ValueError, match=r"factor must be in \[0, 1\]"):
        RandomContrast(-0.2)
    with pytest.raises(ValueError, match="value_range must be a pair"):
        RandomBrightness(0.2, value_range=255)
    with pytest.raises(ValueError, match="factor must be a number or a pair"):
        RandomBrightness((0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match="rank 3"):
        RandomFlip()(torch.zeros(2, 3), training=True)
