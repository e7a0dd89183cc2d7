"""Recurrent layers over ``(batch, timesteps, features)`` inputs (Keras' layout): SimpleRNN,
LSTM and GRU on torch's fused kernels where Keras' semantics allow, `RNN` over any cell
(SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells or your own), `Bidirectional`, and the
convolutional LSTMs (ConvLSTM1D / 2D / 3D, channels first by default)."""

from danlu.layers.recurrent.bidirectional import Bidirectional
from danlu.layers.recurrent.cells import RecurrentCell
from danlu.layers.recurrent.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D, ConvLSTMCell
from danlu.layers.recurrent.gru import GRU, GRUCell
from danlu.layers.recurrent.lstm import LSTM, LSTMCell
from danlu.layers.recurrent.rnn import RNN
from danlu.layers.recurrent.simple_rnn import SimpleRNN, SimpleRNNCell
from danlu.layers.recurrent.stacked import StackedRNNCells

__all__ = [
    "GRU", "LSTM", "RNN", "Bidirectional", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "ConvLSTMCell", "GRUCell",
    "LSTMCell", "RecurrentCell", "SimpleRNN", "SimpleRNNCell", "StackedRNNCells",
]
