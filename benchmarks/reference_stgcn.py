"""The reference formulation of ST-GCN, written from the paper for side-by-side timing only.

Same parameters and key names as yysijie/st-gcn's ``Model``; the arithmetic is the reference's:
1x1 conv to K*C_out channels, then ``einsum('nkctv,kvw->nctw')``, BatchNorms as separate ops,
data BatchNorm with two permutes. Not used by the package.
"""
from __future__ import annotations

import torch
from torch import nn


class ReferenceGraphConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, num_subsets: int) -> None:
        super().__init__()
        self.num_subsets = num_subsets
        self.conv = nn.Conv2d(in_channels, out_channels * num_subsets, kernel_size=1)

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:  # noqa: N803
        x = self.conv(x)
        n, kc, t, v = x.shape
        x = x.view(n, self.num_subsets, kc // self.num_subsets, t, v)
        return torch.einsum("nkctv,kvw->nctw", x, A).contiguous()


class ReferenceBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int, residual: bool) -> None:
        super().__init__()
        self.gcn = ReferenceGraphConv(c_in, c_out, k)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (9, 1), (stride, 1), (4, 0)), nn.BatchNorm2d(c_out), nn.Dropout(0.0, inplace=True),
        )
        self.has_residual = residual
        self.residual = nn.Identity()
        if residual and (c_in != c_out or stride != 1):
            self.residual = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:  # noqa: N803
        res = self.residual(x) if self.has_residual else 0
        return self.relu(self.tcn(self.gcn(x, A)) + res)


class ReferenceSTGCN(nn.Module):
    def __init__(self, A: torch.Tensor, num_classes: int, in_channels: int = 3) -> None:  # noqa: N803
        super().__init__()
        self.register_buffer("A", A)
        k, v = A.shape[0], A.shape[1]
        self.data_bn = nn.BatchNorm1d(in_channels * v)
        spec = [(in_channels, 64, 1, False), (64, 64, 1, True), (64, 64, 1, True), (64, 64, 1, True),
                (64, 128, 2, True), (128, 128, 1, True), (128, 128, 1, True), (128, 256, 2, True),
                (256, 256, 1, True), (256, 256, 1, True)]
        self.st_gcn_networks = nn.ModuleList(ReferenceBlock(a, b, k, s, r) for a, b, s, r in spec)
        self.edge_importance = nn.ParameterList(nn.Parameter(torch.ones_like(A)) for _ in spec)
        self.fcn = nn.Conv2d(256, num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, C, T, V, M = x.size()  # noqa: N806
        x = x.permute(0, 4, 3, 1, 2).contiguous().view(N * M, V * C, T)
        x = self.data_bn(x)
        x = x.view(N, M, V, C, T).permute(0, 1, 3, 4, 2).contiguous().view(N * M, C, T, V)
        for gcn, importance in zip(self.st_gcn_networks, self.edge_importance, strict=True):
            x = gcn(x, self.A * importance)
        x = nn.functional.avg_pool2d(x, x.size()[2:])
        x = x.view(N, M, -1, 1, 1).mean(dim=1)
        return self.fcn(x).view(N, -1)
