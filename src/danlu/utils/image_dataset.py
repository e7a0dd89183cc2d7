"""``image_dataset_from_directory``: a folder of images (one sub-folder per class) as a
``DataLoader`` of ``(images, labels)`` batches, decoded with Pillow and resized as Keras 3.15
does on its torch backend."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from danlu._identifiers import unknown_identifier_error
from danlu.utils import _directory

ALLOWED_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}
#: Keras' interpolations on its torch backend, and the ``F.interpolate`` mode of each.
INTERPOLATIONS = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic"}
#: Names Keras takes only on its TensorFlow backend.
TENSORFLOW_ONLY_INTERPOLATIONS = ("area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")
DATA_FORMATS = ("channels_first", "channels_last")


def image_dataset_from_directory(
    directory, labels="inferred", label_mode="int", class_names=None, color_mode="rgb", batch_size=32,
    image_size=(256, 256), shuffle=True, seed=None, validation_split=None, subset=None, interpolation="bilinear",
    follow_links=False, crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None, verbose=True,
):
    """A ``DataLoader`` over the images under ``directory``, yielding ``(images, labels)``.

    Keras' ``keras.utils.image_dataset_from_directory`` with its defaults, returning a torch
    ``DataLoader`` that ``model.fit`` takes (instead of a ``tf.data.Dataset``). Images are
    files ending in ``.bmp .gif .jpeg .jpg .png`` (any case; an animated gif gives its first
    frame), decoded with Pillow (``pip install 'danlu[images]'``).

    - ``labels``: ``"inferred"`` (each sub-folder of ``directory`` is a class, its index
      the position of its name in ``class_names``), ``None`` (images only), or a list of int
      labels, one per image in sorted path order (``class_names`` are then the sorted
      distinct labels as strings).
    - ``label_mode``: ``"int"`` (int32 ``(batch,)``), ``"categorical"`` (float32 one-hot
      ``(batch, num_classes)``), ``"binary"`` (float32 ``(batch, 1)``, exactly 2 classes) or
      ``None`` (the loader yields the images alone).
    - ``class_names``: the sub-folders to read and their order; default all non-hidden
      sub-folders sorted by name.
    - ``color_mode``: ``"rgb"`` (3 channels), ``"rgba"`` (4) or ``"grayscale"`` (1; 16- and
      32-bit grayscale images keep their values).
    - ``batch_size=32``; ``None`` yields single images ``(channels, h, w)``.
    - ``image_size=(256, 256)``: ``(height, width)`` every image is resized to (an int for
      square). ``interpolation="bilinear"``; ``"nearest"`` and ``"bicubic"`` too (Keras'
      torch backend: ``F.interpolate`` with ``align_corners=False``, no antialiasing). The
      TensorFlow-only ``"area"``, ``"lanczos3"``, ... raise ``ValueError``.
    - ``crop_to_aspect_ratio`` / ``pad_to_aspect_ratio`` (at most one): resize the largest
      centred window of the target aspect ratio, or pad with zeros to it, instead of
      stretching.
    - ``shuffle=True``, ``seed=None``: the files are shuffled once as Keras shuffles them
      (``np.random.RandomState(seed)``, so ``file_paths`` are Keras' own), and the loader
      draws a new order every epoch from a generator seeded with ``seed`` (a seed is drawn
      from numpy's global generator when ``None``, as Keras does; ``set_random_seed`` fixes
      it). ``shuffle=False`` keeps the sorted path order.
    - ``validation_split`` with ``subset="training"`` / ``"validation"`` / ``"both"``: the
      last ``int(validation_split * n)`` files (after the shuffle) are the validation subset;
      ``"both"`` returns ``(training_loader, validation_loader)``, the latter unshuffled.
      With shuffling a ``seed`` is required, so that the subsets do not overlap.
    - ``data_format``: danlu's layout by default, **channels first**: images are float32
      ``(batch, channels, height, width)`` with pixel values 0..255 (not rescaled).
      ``"channels_last"`` gives Keras' ``(batch, height, width, channels)``.
    - ``follow_links=False``: whether to enter symlinked sub-folders; ``verbose=True``
      prints the numbers of files and classes found.

    The loader (and its ``dataset``) carries ``class_names`` and ``file_paths``, as Keras'
    dataset does. Where Keras errs, danlu refuses: a ``validation_split`` of 0 files raises
    ``ValueError`` (Keras gives every file to validation).
    """
    _directory.check_common_arguments(labels, label_mode, class_names, batch_size, shuffle, seed, validation_split, subset)
    if color_mode not in COLOR_MODES:
        raise unknown_identifier_error("color_mode", str(color_mode), COLOR_MODES)
    image_size = _check_image_size(image_size)
    interpolation = _check_interpolation(interpolation)
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True.")
    data_format = "channels_first" if data_format is None else data_format
    if data_format not in DATA_FORMATS:
        raise unknown_identifier_error("data_format", str(data_format), DATA_FORMATS)
    pillow()  # fail now, not in the first batch, when Pillow is missing
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if seed is None:
        seed = int(np.random.randint(1e6))
    paths, labels, class_names = _directory.index_directory(
        directory, labels, ALLOWED_FORMATS, class_names, shuffle, seed, follow_links, verbose
    )
    options = dict(
        num_channels=COLOR_MODES[color_mode], image_size=image_size, interpolation=interpolation,
        crop_to_aspect_ratio=crop_to_aspect_ratio, pad_to_aspect_ratio=pad_to_aspect_ratio, data_format=data_format,
    )
    return _directory.subset_loaders(
        directory, paths, labels, label_mode, class_names, validation_split, subset, shuffle, seed, batch_size, verbose,
        f"images found in directory {{directory!r}}. Allowed formats: {ALLOWED_FORMATS}.",
        lambda part_paths, encoded: ImageFiles(part_paths, encoded, **options),
    )


class ImageFiles(Dataset):
    """Image files decoded and resized on access: item ``i`` is ``(image, label)``, or the
    image alone without labels."""

    def __init__(self, paths, labels, num_channels, image_size, interpolation, crop_to_aspect_ratio,
                 pad_to_aspect_ratio, data_format):
        self.paths, self.labels = list(paths), labels
        self.num_channels, self.image_size, self.interpolation = num_channels, image_size, interpolation
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = crop_to_aspect_ratio, pad_to_aspect_ratio
        self.data_format = data_format

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        image = load_image(self.paths[index], self.num_channels)
        image = resize_image(image, self.image_size, self.interpolation, self.crop_to_aspect_ratio, self.pad_to_aspect_ratio)
        if self.data_format == "channels_last":
            image = image.permute(1, 2, 0)
        image = image.contiguous()
        return image if self.labels is None else (image, self.labels[index])


def pillow():
    """``PIL.Image``, or an ImportError that says how to install it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "Reading images needs Pillow, which danlu installs as an extra: pip install 'danlu[images]' "
            "(or pip install Pillow)."
        ) from None
    return Image


def load_image(path, num_channels) -> torch.Tensor:
    """The image at ``path`` as float32 ``(channels, height, width)``, converted as Keras
    converts it: to ``"L"`` for 1 channel (16- and 32-bit grayscale ``"I;16"`` / ``"I"``
    kept), ``"RGB"`` for 3, ``"RGBA"`` for 4."""
    image_module = pillow()
    target = {1: ("L", ("L", "I;16", "I")), 3: ("RGB", ("RGB",)), 4: ("RGBA", ("RGBA",))}[num_channels]
    with image_module.open(path) as image:
        if image.mode not in target[1]:
            image = image.convert(target[0])
        pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return torch.from_numpy(pixels).permute(2, 0, 1)


def resize_image(image, size, interpolation="bilinear", crop_to_aspect_ratio=False, pad_to_aspect_ratio=False):
    """Keras' ``ops.image.resize`` on its torch backend for one ``(channels, h, w)`` image:
    an optional centred crop (or zero padding) to the target aspect ratio, then
    ``F.interpolate`` (``"nearest"`` is torch's ``"nearest-exact"``)."""
    images = image.unsqueeze(0)
    height, width = images.shape[-2:]
    target_height, target_width = size
    if crop_to_aspect_ratio:
        crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
        crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
        top, left = int(float(height - crop_height) / 2), int(float(width - crop_width) / 2)
        images = images[:, :, top : top + crop_height, left : left + crop_width]
    elif pad_to_aspect_ratio:
        pad_height = max(height, int(float(width * target_height) / target_width))
        pad_width = max(width, int(float(height * target_width) / target_height))
        top, left = int(float(pad_height - height) / 2), int(float(pad_width - width) / 2)
        batch, channels = images.shape[:2]
        if top > 0:
            band = torch.zeros((batch, channels, top, width), dtype=images.dtype)
            images = torch.cat([band, images, band], dim=2)
        if left > 0:
            band = torch.zeros((batch, channels, images.shape[2], left), dtype=images.dtype)
            images = torch.cat([band, images, band], dim=3)
    align_corners = False if interpolation in ("bilinear", "bicubic") else None
    resized = F.interpolate(images, size=tuple(size), mode=INTERPOLATIONS[interpolation], align_corners=align_corners)
    return resized.squeeze(0)


def _check_image_size(image_size):
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (
        not isinstance(image_size, (list, tuple)) or len(image_size) != 2
        or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in image_size)
    ):
        raise ValueError(f"image_size must be (height, width), two positive ints, or one int; received image_size={image_size!r}.")
    return int(image_size[0]), int(image_size[1])


def _check_interpolation(interpolation):
    name = interpolation.lower() if isinstance(interpolation, str) else interpolation
    if name in TENSORFLOW_ONLY_INTERPOLATIONS:
        raise ValueError(
            f"interpolation={interpolation!r} exists only on Keras' TensorFlow backend; on torch use one of "
            f"{', '.join(INTERPOLATIONS)}."
        )
    if name not in INTERPOLATIONS:
        raise unknown_identifier_error("interpolation", str(interpolation), INTERPOLATIONS)
    return name
