"""Keras-named layers over ``torch.nn`` (channels-first layout, Keras numerics and defaults)."""

from danlu.layers.activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from danlu.layers.attention import AdditiveAttention, Attention
from danlu.layers.base import KernelLayer, Layer
from danlu.layers.convolution import (
    Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose, Convolution1D,
    Convolution1DTranspose, Convolution2D, Convolution2DTranspose, Convolution3D, Convolution3DTranspose,
    DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D, SeparableConvolution1D,
    SeparableConvolution2D,
)
from danlu.layers.core import Activation, Dense, Dropout, Embedding, Flatten, Lambda, Reshape
from danlu.layers.input_layer import Input, InputLayer
from danlu.layers.merging import (
    Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average, concatenate, dot, maximum,
    minimum, multiply, subtract,
)
from danlu.layers.multi_head_attention import MultiHeadAttention
from danlu.layers.noise import AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D
from danlu.layers.normalization import (
    BatchNormalization, GroupNormalization, LayerNormalization, RMSNormalization, UnitNormalization,
)
from danlu.layers.preprocessing import (
    CategoryEncoding, CenterCrop, Discretization, Hashing, IntegerLookup, Normalization, RandomBrightness,
    RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom, Rescaling, Resizing, StringLookup,
    TextVectorization,
)
from danlu.layers.pooling import (
    AveragePooling1D, AveragePooling2D, AveragePooling3D, AvgPool1D, AvgPool2D, AvgPool3D, GlobalAveragePooling1D,
    GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D,
    GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
    MaxPool1D, MaxPool2D, MaxPool3D, MaxPooling1D, MaxPooling2D, MaxPooling3D,
)
from danlu.layers.recurrent import (
    GRU, LSTM, RNN, Bidirectional, ConvLSTM1D, ConvLSTM2D, ConvLSTM3D, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell,
    StackedRNNCells,
)
from danlu.layers.resizing import (
    Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D,
    ZeroPadding3D,
)
from danlu.layers.shape import Identity, Masking, Permute, RepeatVector, TimeDistributed
from danlu.layers.symbolic import KerasTensor
from danlu.layers.torch_module import TorchModuleWrapper

__all__ = sorted(
    name for name in dir()
    if name[0].isupper() or name in ("add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract")
)
