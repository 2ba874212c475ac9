"""The LSTM network of the PyTorch member (imported only when torch is installed and used)."""

from __future__ import annotations

import torch
from torch import nn


class LSTMHead(nn.Module):
    """One LSTM layer over the window, a linear layer on its last output."""

    def __init__(self, n_features: int, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits for a batch of windows, shape (batch, n_classes)."""
        seq, _ = self.lstm(x)
        return self.out(seq[:, -1, :])
