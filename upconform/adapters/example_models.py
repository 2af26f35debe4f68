"""Published PyTorch architectures with random weights, small widths, for ``upconform audit``.

Each factory builds the architecture as its paper and reference code describe it (channel widths
scaled down so that an audit runs in seconds); nothing is downloaded. The upsampling sites are the
point: ``upconform audit upconform.adapters.example_models:unet_bilinear --input-shape 1,3,64,64``.

- ``unet_bilinear`` / ``unet_transpose``: U-Net (Ronneberger et al. 2015), as in the widely used
  milesial/Pytorch-UNet: ``nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)`` or
  ``nn.ConvTranspose2d(c, c // 2, 2, stride=2)`` in each of 4 decoder stages.
- ``fpn``: Feature Pyramid Network top-down pathway (Lin et al. 2017): nearest 2x upsampling,
  ``F.interpolate(scale_factor=2, mode="nearest")``, 3 times.
- ``espcn``: ESPCN (Shi et al. 2016): 5x5/64, 3x3/32, 3x3/(C r^2) convolutions, ``nn.PixelShuffle(3)``.
- ``segnet``: SegNet (Badrinarayanan et al. 2017): max-pooling indices reused by ``nn.MaxUnpool2d``
  (with ``output_size``) in 3 decoder stages.
- ``dcgan_generator``: DCGAN generator (Radford et al. 2016, the PyTorch example): ConvTranspose2d
  4x4 stride 1 pad 0, then 4x4 stride 2 pad 1; the last layer 3x3 stride 2 pad 1 output_padding 1.
- ``deeplabv3_head``: DeepLabV3 (Chen et al. 2017) head as in torchvision: ASPP with an image-pooling
  branch upsampled by ``F.interpolate(size=..., mode="bilinear", align_corners=False)``, and the logits
  upsampled bilinearly to the input's (arbitrary) size.

Example:
    >>> SITES["espcn"]
    1
"""

from __future__ import annotations

from typing import Any

# the number of upsampling sites each architecture has (tests check the audit finds exactly these)
SITES = {"unet_bilinear": 4, "unet_transpose": 4, "fpn": 3, "espcn": 1, "segnet": 3, "dcgan_generator": 5,
         "deeplabv3_head": 2}


def _nn() -> Any:
    import torch.nn as nn

    return nn


def _double_conv(cin: int, cout: int) -> Any:
    nn = _nn()
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _unet(bilinear: bool, base: int = 8, n_classes: int = 2) -> Any:
    import torch
    import torch.nn.functional as F

    nn = _nn()

    class Up(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            if bilinear:
                self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
                self.conv = _double_conv(cin, cout)
            else:
                self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
                self.conv = _double_conv(cin, cout)

        def forward(self, x1: Any, x2: Any) -> Any:
            x1 = self.up(x1)
            dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
            x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
            return self.conv(torch.cat([x2, x1], dim=1))

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            f = 2 if bilinear else 1
            b = base
            self.inc = _double_conv(3, b)
            self.down1 = nn.Sequential(nn.MaxPool2d(2), _double_conv(b, 2 * b))
            self.down2 = nn.Sequential(nn.MaxPool2d(2), _double_conv(2 * b, 4 * b))
            self.down3 = nn.Sequential(nn.MaxPool2d(2), _double_conv(4 * b, 8 * b))
            self.down4 = nn.Sequential(nn.MaxPool2d(2), _double_conv(8 * b, 16 * b // f))
            if bilinear:
                self.up1, self.up2 = Up(16 * b, 8 * b // f), Up(8 * b, 4 * b // f)
                self.up3, self.up4 = Up(4 * b, 2 * b // f), Up(2 * b, b)
            else:
                self.up1, self.up2, self.up3, self.up4 = Up(16 * b, 8 * b), Up(8 * b, 4 * b), Up(4 * b, 2 * b), Up(2 * b, b)
            self.outc = nn.Conv2d(b, n_classes, 1)

        def forward(self, x: Any) -> Any:
            x1 = self.inc(x)
            x2 = self.down1(x1)
            x3 = self.down2(x2)
            x4 = self.down3(x3)
            x5 = self.down4(x4)
            x = self.up1(x5, x4)
            x = self.up2(x, x3)
            x = self.up3(x, x2)
            x = self.up4(x, x1)
            return self.outc(x)

    return UNet()


def unet_bilinear() -> Any:
    """U-Net with bilinear (align_corners=True) upsampling: 4 sites."""
    return _unet(True)


def unet_transpose() -> Any:
    """U-Net with 2x2 stride-2 transposed convolutions: 4 sites."""
    return _unet(False)


def fpn(width: int = 16) -> Any:
    """FPN: a 4-stage backbone (strides 4, 8, 16, 32), 1x1 laterals, nearest 2x top-down: 3 sites."""
    import torch.nn.functional as F

    nn = _nn()

    class FPN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            chans = [8, 16, 32, 64]
            self.stem = nn.Sequential(nn.Conv2d(3, chans[0], 7, stride=4, padding=3), nn.ReLU())
            self.stages = nn.ModuleList([nn.Sequential(nn.Conv2d(chans[i - 1], chans[i], 3, stride=2, padding=1),
                                                       nn.ReLU()) for i in range(1, 4)])
            self.lateral = nn.ModuleList([nn.Conv2d(c, width, 1) for c in chans])
            self.smooth = nn.ModuleList([nn.Conv2d(width, width, 3, padding=1) for _ in chans])

        def forward(self, x: Any) -> Any:
            c = [self.stem(x)]
            for s in self.stages:
                c.append(s(c[-1]))
            p = self.lateral[3](c[3])
            outs = [self.smooth[3](p)]
            for i in (2, 1, 0):
                p = self.lateral[i](c[i]) + F.interpolate(p, scale_factor=2, mode="nearest")
                outs.append(self.smooth[i](p))
            return outs[-1]

    return FPN()


def espcn(upscale: int = 3, channels: int = 1) -> Any:
    """ESPCN: 1 site (PixelShuffle)."""
    nn = _nn()
    return nn.Sequential(nn.Conv2d(channels, 64, 5, padding=2), nn.Tanh(), nn.Conv2d(64, 32, 3, padding=1), nn.Tanh(),
                         nn.Conv2d(32, channels * upscale ** 2, 3, padding=1), nn.PixelShuffle(upscale))


def segnet(n_classes: int = 4) -> Any:
    """SegNet with 3 pooling/unpooling stages: 3 sites (MaxUnpool2d with output_size)."""
    nn = _nn()

    class SegNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            ch = [3, 8, 16, 32]
            self.enc = nn.ModuleList([_double_conv(ch[i], ch[i + 1]) for i in range(3)])
            self.pool = nn.MaxPool2d(2, stride=2, return_indices=True)
            self.unpool = nn.MaxUnpool2d(2, stride=2)
            self.dec = nn.ModuleList([_double_conv(ch[i + 1], ch[i] if i else 8) for i in (2, 1, 0)])
            self.classifier = nn.Conv2d(8, n_classes, 3, padding=1)

        def forward(self, x: Any) -> Any:
            idx, sizes = [], []
            for e in self.enc:
                x = e(x)
                sizes.append(x.size())
                x, i = self.pool(x)
                idx.append(i)
            for d, i, s in zip(self.dec, reversed(idx), reversed(sizes)):
                x = d(self.unpool(x, i, output_size=s))
            return self.classifier(x)

    return SegNet()


def dcgan_generator(nz: int = 16, ngf: int = 8, nc: int = 3) -> Any:
    """DCGAN generator for a (N, nz, 1, 1) latent: 5 sites (ConvTranspose2d with padding, output_padding)."""
    nn = _nn()
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 3, 2, 1, output_padding=1, bias=False), nn.Tanh())


def deeplabv3_head(n_classes: int = 5) -> Any:
    """A stride-8 backbone, an ASPP head (rates 12, 24, 36 and image pooling) and logits resized to the
    input: 2 sites (the pooling branch's bilinear resize, and the output's to an arbitrary size)."""
    import torch
    import torch.nn.functional as F

    nn = _nn()

    class ASPPPooling(nn.Sequential):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.ReLU())

        def forward(self, x: Any) -> Any:
            size = x.shape[-2:]
            for mod in self:
                x = mod(x)
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    class DeepLabV3(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
                                          nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                                          nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU())
            self.aspp = nn.ModuleList([nn.Sequential(nn.Conv2d(32, 16, 1, bias=False), nn.ReLU())]
                                      + [nn.Sequential(nn.Conv2d(32, 16, 3, padding=r, dilation=r, bias=False), nn.ReLU())
                                         for r in (12, 24, 36)] + [ASPPPooling(32, 16)])
            self.project = nn.Sequential(nn.Conv2d(80, 16, 1, bias=False), nn.ReLU())
            self.classifier = nn.Conv2d(16, n_classes, 1)

        def forward(self, x: Any) -> Any:
            size = x.shape[-2:]
            f = self.backbone(x)
            f = self.project(torch.cat([m(f) for m in self.aspp], dim=1))
            return F.interpolate(self.classifier(f), size=size, mode="bilinear", align_corners=False)

    return DeepLabV3()
