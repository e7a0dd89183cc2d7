"""torchvision datasets, transforms and models in fit.

torchvision cannot be imported beside this project's torch: torch 2.13.0 here is a CPU build,
and PyPI's torchvision 0.28.0 (the release for torch 2.13) is a CUDA build whose compiled
operators need torch's CUDA libraries ("operator torchvision::nms does not exist"). So the
tests below come in two parts:

- what fit relies on, without torchvision: a dataset with FakeData's contract (PIL images
  through a transform pipeline, 0-d int64 labels) and a ResNet-style module (convolutions,
  batch norm, residual additions, adaptive pooling) wrapped in danlu.Model;
- the real thing, where torchvision imports (it is skipped here; it passed with torch 2.14.1
  and torchvision 0.29.1 in a separate environment, and the docs' torchvision blocks run where
  it imports).
"""

import numpy as np
import pytest
import torch
from torch import nn

import danlu
from danlu import losses

Image = pytest.importorskip("PIL.Image", reason="Pillow is installed with danlu's test extra")


class FakeImages(torch.utils.data.Dataset):
    """torchvision.datasets.FakeData's contract: sample i is (transform(PIL image), 0-d int64
    label), random but the same for the same index."""

    def __init__(self, size, image_size=(3, 16, 16), num_classes=4, transform=None, random_offset=0):
        self.size, self.image_size, self.num_classes = size, image_size, num_classes
        self.transform, self.random_offset = transform, random_offset

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        generator = torch.Generator().manual_seed(index + self.random_offset)
        pixels = (torch.rand(self.image_size, generator=generator) * 255).to(torch.uint8)
        label = torch.randint(0, self.num_classes, (), generator=generator)
        image = Image.fromarray(pixels.permute(1, 2, 0).numpy(), mode="RGB")
        return (self.transform(image) if self.transform else image), label


def to_normalized_tensor(image):
    """transforms.Compose([ToTensor(), Normalize(0.5, 0.5)]): HWC uint8 -> CHW float in [-1, 1]."""
    array = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (array - 0.5) / 0.5


class BasicBlock(nn.Module):
    def __init__(self, channels_in, channels_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, stride, bias=False), nn.BatchNorm2d(channels_out))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class TinyResNet(nn.Module):
    """torchvision's ResNet shape, scaled down: stem, residual stages, pooling, fc."""

    def __init__(self, num_classes=4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layer1, self.layer2 = BasicBlock(8, 8, 1), BasicBlock(8, 16, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.layer2(self.layer1(self.stem(x)))), 1))


def test_a_resnet_style_module_fits_on_fakedata_style_samples():
    danlu.utils.set_random_seed(0)
    train = FakeImages(64, transform=to_normalized_tensor)
    validation = FakeImages(16, transform=to_normalized_tensor, random_offset=64)
    x, y = train[0]
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and y.dtype == torch.int64 and y.ndim == 0
    net = TinyResNet()
    model = danlu.Model(net)
    model.compile(optimizer=danlu.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["acc"])
    before = net.stem[1].running_mean.clone()
    history = model.fit(train, batch_size=16, epochs=4, validation_data=validation, verbose=0).history
    assert sorted(history) == ["acc", "loss", "val_acc", "val_loss"]
    assert history["loss"][-1] < history["loss"][0]
    assert not torch.equal(net.stem[1].running_mean, before)  # batch norm statistics moved in training mode
    assert model.predict(validation, verbose=0).shape == (16, 4)
    assert not net.training  # predict left the module in eval mode


def import_torchvision():
    try:
        import torchvision
    except ImportError:
        pytest.skip("torchvision is not installed (none can be installed beside this torch build: see the module docstring)")
    except RuntimeError as error:  # a torchvision built for another torch
        pytest.skip(f"torchvision does not work with torch {torch.__version__} here: {error}")
    return torchvision


def test_torchvision_resnet_and_fakedata():
    torchvision = import_torchvision()
    from torchvision import transforms
    from torchvision.datasets import FakeData
    from torchvision.models import resnet18

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
    train = FakeData(size=64, image_size=(3, 32, 32), num_classes=10, transform=transform)
    model = danlu.Model(resnet18(weights=None, num_classes=10))
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["acc"])
    history = model.fit(train, batch_size=16, epochs=1, verbose=0)
    assert sorted(history.history) == ["acc", "loss"] and torchvision.__version__
    assert model.predict(FakeData(size=8, image_size=(3, 32, 32), transform=transform), verbose=0).shape == (8, 10)
