"""Layers shared by the generator networks: equalized-learning-rate dense and convolution
layers, style modulation, FIR resampling (``upfirdn2d``), Kaiser low-pass filters, noise
inputs, normalisations, and the initialisation rules that let a stand-in be drawn from a seed.

The formulas follow the papers and the authors' code bases named in each network's module
(facts and parameter tables, no copied code). Tensors are ``(N, C, H, W)`` float32 unless said
otherwise.

Same seed, same bytes, whatever the batch. On CPU, oneDNN's convolutions (3x3, transposed,
depthwise) give each sample the same result whatever the batch size and the thread count, but
matrix products do not: a ``(N, in) x (in, out)`` GEMM picks its kernel by ``N``, and a 1x1
convolution (a GEMM too) changes its last bits with the number of threads. So on CPU, dense
layers run one matrix-vector product per sample and 1x1 convolutions one matrix product per
sample, with shapes that never depend on the batch; on CUDA they run batched (cuBLAS and cuDNN
promise nothing across batch sizes either way; see `sampling`). Anything that reduces over the
batch (StyleGAN3's style pre-normalisation) is done per sample. tests/test_generators_sampling.py
checks the result end to end: same seed, same bytes for batch sizes 1..N, in another process
and with one thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..base import ONES, ZEROS, Init, StyleConfig

SQRT2 = math.sqrt(2.0)


# -- initialisation rules ----------------------------------------------------------------------
class Module(nn.Module):
    """A module whose tensors carry initialisation rules instead of being drawn at
    construction, so that building never touches a global random state."""

    def __init__(self) -> None:
        super().__init__()
        self._init_rules: dict[str, Init] = {}

    def param(self, name: str, shape: Sequence[int], init: Init) -> nn.Parameter:
        p = nn.Parameter(torch.empty(tuple(shape)))
        setattr(self, name, p)
        self._init_rules[name] = init
        return p

    def random_buffer(self, name: str, shape: Sequence[int], init: Init) -> None:
        """A buffer drawn once (e.g. StyleGAN3's input frequencies), saved in checkpoints."""
        self.register_buffer(name, torch.empty(tuple(shape)))
        self._init_rules[name] = init


def _draw(init: Init, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if init.kind == "normal":
        return rng.standard_normal(shape) * init.a
    if init.kind == "uniform":
        return rng.uniform(init.a, init.b, shape)
    if init.kind == "const":
        return np.full(shape, init.a)
    if init.kind == "values":
        return np.asarray(init.values, dtype=np.float64).reshape(shape)
    if init.kind == "glorot":
        receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
        fan_out, fan_in = shape[0] * receptive, (shape[1] if len(shape) > 1 else 1) * receptive
        bound = init.a * math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape)
    if init.kind == "disc_freqs":  # StyleGAN3 input: directions uniform, radii ~ a disc
        f = rng.standard_normal(shape)
        radii = np.sqrt((f**2).sum(axis=1, keepdims=True))
        return f / (radii * np.exp(radii**2) ** 0.25) * init.a
    raise ValueError(f"unknown init kind {init.kind!r}")


def initialize(module: nn.Module, seed_of: Callable[[str], int]) -> None:
    """Draw every rule-carrying tensor of ``module`` from ``np.random.default_rng(seed_of(name))``
    where ``name`` is the tensor's state-dict name: each tensor has its own stream, so the
    values do not depend on construction order or on the other tensors."""
    for prefix, mod in module.named_modules():
        for name, init in getattr(mod, "_init_rules", {}).items():
            tensor = getattr(mod, name)
            full = f"{prefix}.{name}" if prefix else name
            values = _draw(init, tuple(tensor.shape), np.random.default_rng(seed_of(full)))
            with torch.no_grad():
                tensor.copy_(torch.from_numpy(np.asarray(values, dtype=np.float32)))


def channel_stats(x: torch.Tensor, dims: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (biased) variance of ``x`` over ``dims``, computed in float64 by numpy: a
    single-threaded, fixed-order reduction, so calibrated statistics (and so a stand-in's
    weights) do not depend on the number of threads, as torch's parallel reductions do."""
    arr = x.detach().to("cpu", torch.float64).numpy()
    mean, var = arr.mean(axis=tuple(dims)), arr.var(axis=tuple(dims))
    return (torch.as_tensor(mean, dtype=torch.float32, device=x.device),
            torch.as_tensor(var, dtype=torch.float32, device=x.device))


# -- batch-invariant products ------------------------------------------------------------------
def _per_sample(x: torch.Tensor) -> bool:
    return x.device.type == "cpu"


def dense(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight.T + bias`` for x ``(N, in)``, weight ``(out, in)``; per sample on CPU."""
    if _per_sample(x):
        y = torch.stack([torch.mv(weight, row) for row in x]) if len(x) else x.new_zeros(0, weight.shape[0])
        return y + bias if bias is not None else y
    return F.linear(x, weight, bias)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """The layout the synthesis networks run in: oneDNN's convolutions and depthwise FIR
    filters are 2-4x faster in channels-last than in NCHW at the small channel counts of
    the stand-ins; every op used keeps the layout."""
    return x.contiguous(memory_format=torch.channels_last)


def conv1x1(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """A 1x1 convolution, weight ``(out, in)`` or ``(out, in, 1, 1)``; per sample on CPU
    (keeping x's layout, NCHW or channels-last)."""
    w2 = weight.reshape(weight.shape[0], -1)
    if _per_sample(x):
        n, c, h, w = x.shape
        if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            wt = w2.t()
            y = torch.stack([s.permute(1, 2, 0).reshape(h * w, c) @ wt for s in x])
            y = y.reshape(n, h, w, -1).permute(0, 3, 1, 2)
        else:
            y = torch.stack([w2 @ s.reshape(c, h * w) for s in x]).reshape(n, -1, h, w)
    else:
        y = F.conv2d(x, w2[:, :, None, None])
    return y + bias.reshape(1, -1, 1, 1) if bias is not None else y


# -- activations and normalisations ---------------------------------------------------------------
def lrelu(x: torch.Tensor, slope: float = 0.2, gain: float = 1.0) -> torch.Tensor:
    y = F.leaky_relu(x, slope)
    return y * gain if gain != 1.0 else y


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each pixel's (or each latent's) feature vector to unit RMS over dim 1
    (ProGAN's pixelwise feature normalisation; StyleGAN's latent normalisation)."""
    ms = torch.linalg.vector_norm(x, dim=1, keepdim=True).square_().div_(x.shape[1])
    return x * ms.add_(eps).rsqrt_()


def instance_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero mean, unit RMS per sample and channel over (H, W) (StyleGAN's AdaIN)."""
    return F.instance_norm(x, eps=eps)


class BatchNorm(Module):
    """Batch normalisation with running statistics (eval behaviour only). `calibrating`
    makes a forward pass measure the batch's statistics into the running buffers (used to
    initialise stand-ins, as training would)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.param("weight", [channels], ONES)
        self.param("bias", [channels], ZEROS)
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.calibrating = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = [0] + list(range(2, x.ndim))
        if self.calibrating:
            mean, var = channel_stats(x, dims)
            self.running_mean.copy_(mean)
            self.running_var.copy_(var)
        shape = [1, -1] + [1] * (x.ndim - 2)
        scale = (self.running_var + self.eps).rsqrt() * self.weight
        shift = self.bias - self.running_mean * scale
        return torch.addcmul(shift.reshape(shape), x, scale.reshape(shape))  # one pass over x


#: The last layer's activation, by the name an architecture's entry gives (``output_activation``).
OUTPUT_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda x: x, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


def calibrate_batchnorms(module: nn.Module, run: Callable[[], object]) -> None:
    """Set every `BatchNorm` of ``module`` to the statistics of the batch ``run()`` feeds it."""
    norms = [m for m in module.modules() if isinstance(m, BatchNorm)]
    for m in norms:
        m.calibrating = True
    try:
        run()
    finally:
        for m in norms:
            m.calibrating = False


def rescale_channels_(weight: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor,
                      shift: torch.Tensor | None = None, dim: int = 0) -> None:
    """Make a layer's output ``output * scale + shift`` per output channel, in place: ``weight``
    scaled along ``dim`` (its output channels), ``bias`` scaled and shifted."""
    weight.mul_(scale.reshape([-1 if d == dim else 1 for d in range(weight.ndim)]))
    bias.mul_(scale)
    if shift is not None:
        bias.add_(shift)


# -- equalized learning rate layers ---------------------------------------------------------------
class FullyConnected(Module):
    """Dense layer with equalized learning rate: the stored weight is drawn N(0, 1/lr_mul²)
    and scaled by ``gain * lr_mul / sqrt(in)`` at run time (ProGAN, StyleGAN 1-3)."""

    def __init__(self, in_features: int, out_features: int, *, activation: str = "linear",
                 lr_mul: float = 1.0, gain: float = 1.0, bias_init: float = 0.0,
                 weight_init: float = 1.0, lrelu_gain: float = SQRT2, bias: bool = True) -> None:
        super().__init__()
        self.activation, self.lrelu_gain = activation, lrelu_gain
        self.weight_gain = gain * lr_mul / math.sqrt(in_features)
        self.bias_gain = lr_mul
        self.has_bias = bias
        self.param("weight", [out_features, in_features], Init("normal", weight_init / lr_mul))
        if bias:
            self.param("bias", [out_features], Init("const", bias_init / lr_mul))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = dense(x, self.weight * self.weight_gain, self.bias * self.bias_gain if self.has_bias else None)
        return lrelu(y, 0.2, self.lrelu_gain) if self.activation == "lrelu" else y


class Conv2d(Module):
    """Convolution with equalized learning rate (weight N(0, 1), scaled by
    ``gain / sqrt(fan_in)`` at run time), 'same' padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, gain: float = SQRT2,
                 bias: bool = True) -> None:
        super().__init__()
        self.kernel = kernel
        self.weight_gain = gain / math.sqrt(in_channels * kernel * kernel)
        self.param("weight", [out_channels, in_channels, kernel, kernel], Init("normal", 1.0))
        self.has_bias = bias
        if bias:
            self.param("bias", [out_channels], ZEROS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias if self.has_bias else None
        if self.kernel == 1:
            return conv1x1(x, w, b)
        return F.conv2d(x, w, b, padding=self.kernel // 2)


class PlainConv2d(Module):
    """Convolution with its weight used as stored (SNGAN, g-resnet5), 'same' padding;
    ``init`` draws the weight (Glorot-uniform by default)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, bias: bool = True,
                 init: Init = Init("glorot", 1.0)) -> None:
        super().__init__()
        self.kernel = kernel
        self.param("weight", [out_channels, in_channels, kernel, kernel], init)
        self.has_bias = bias
        if bias:
            self.param("bias", [out_channels], ZEROS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bias if self.has_bias else None
        if self.kernel == 1:
            return conv1x1(x, self.weight, b)
        return F.conv2d(x, self.weight, b, padding=self.kernel // 2)


class PlainLinear(Module):
    """Dense layer with its weight used as stored (SNGAN, g-resnet5)."""

    def __init__(self, in_features: int, out_features: int, *, init: Init = Init("glorot", 1.0)) -> None:
        super().__init__()
        self.param("weight", [out_features, in_features], init)
        self.param("bias", [out_features], ZEROS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dense(x, self.weight, self.bias)


def upsample_nearest(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Nearest-neighbour upsampling (each pixel becomes a ``factor`` x ``factor`` block)."""
    return F.interpolate(x, scale_factor=factor, mode="nearest")


# -- FIR filters and resampling --------------------------------------------------------------------
def fir_filter(taps: Sequence[float]) -> torch.Tensor:
    """A separable FIR filter from its 1-D taps, normalised to unit DC gain, e.g.
    ``[1, 3, 3, 1]`` (StyleGAN2's resampling filter) or ``[1, 2, 1]`` (StyleGAN's blur)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    return f / f.sum()


def lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float) -> torch.Tensor | None:
    """StyleGAN3's separable low-pass filter: a Kaiser-windowed sinc with ``numtaps`` taps,
    cutoff and transition-band ``width`` in the units of the sampling rate ``fs``
    (``scipy.signal.firwin``). None for a single tap (identity)."""
    if numtaps == 1:
        return None
    from scipy.signal import firwin

    return torch.as_tensor(firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs), dtype=torch.float32)


def _resample_axis(x: torch.Tensor, f: torch.Tensor, up: int, down: int, pad: tuple[int, int],
                   gain: float, dim: int) -> torch.Tensor:
    c, k = x.shape[1], len(f)
    shape = (c, 1, k, 1) if dim == 2 else (c, 1, 1, k)
    stride = (up, 1) if dim == 2 else (1, up)
    weight = (f * gain).to(x.dtype).reshape(shape[2:]).expand(c, 1, *shape[2:])
    n_in = x.shape[dim]
    if up > 1:
        # Transposed depthwise conv = zero insertion followed by a full convolution with f,
        # whose output (length (n-1)*up + k) is cropped to the window [start, start+length).
        start, length = k - 1 - pad[0], n_in * up + pad[0] + pad[1] - k + 1
        end_crop = (n_in - 1) * up + k - start - length
        if start == end_crop and start >= 0:  # symmetric crop: let the conv do it (no copy)
            p = (start, 0) if dim == 2 else (0, start)
            y = F.conv_transpose2d(x, weight, stride=stride, padding=p, groups=c)
        else:
            y = F.conv_transpose2d(x, weight, stride=stride, groups=c)
            lo, hi = max(0, -start), max(0, -end_crop)
            if lo or hi:
                y = F.pad(y, (0, 0, lo, hi) if dim == 2 else (lo, hi, 0, 0))
            y = y.narrow(dim, start + lo, length)
        if down > 1:
            y = y[:, :, ::down] if dim == 2 else y[:, :, :, ::down]
        return y
    if pad[0] or pad[1]:
        x = F.pad(x, (0, 0, pad[0], pad[1]) if dim == 2 else (pad[0], pad[1], 0, 0))
    if k == 1 and down == 1:
        return x * gain if gain != 1 else x
    flipped = weight.flip(dims=(2,) if dim == 2 else (3,))
    return F.conv2d(x, flipped, stride=(down, 1) if dim == 2 else (1, down), groups=c)


def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, *, up: int = 1, down: int = 1,
              padding: Sequence[int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample (insert ``up - 1`` zeros after each sample), pad (``(x_lo, x_hi, y_lo, y_hi)``,
    negative crops), convolve with the separable 1-D filter ``f`` along both axes, keep every
    ``down``-th sample. ``gain`` is the total gain (``up**2`` keeps the DC level when
    upsampling). Output side: ``(n * up + lo + hi - len(f)) // down + 1``."""
    px0, px1, py0, py1 = padding
    if f is None:
        f = torch.ones(1)
    f = f.to(x.device)
    axis_gain = math.sqrt(gain)
    x = _resample_axis(x, f, up, down, (py0, py1), axis_gain, dim=2)
    return _resample_axis(x, f, up, down, (px0, px1), axis_gain, dim=3)


def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, *, up: int = 1,
                   down: int = 1, padding: Sequence[int] = (0, 0, 0, 0), gain: float = SQRT2,
                   slope: float = 0.2, clamp: float | None = None) -> torch.Tensor:
    """StyleGAN3's alias-free non-linearity: upsample by ``up`` with the low-pass ``fu``
    (and ``padding``), leaky ReLU (``slope``) times ``gain``, clamp to ``[-clamp, clamp]``,
    low-pass with ``fd`` and downsample by ``down``. Computed as ``gain * lrelu(clamp(x,
    -c/(gain*slope), c/gain))`` with ``gain`` folded into the (linear) downsampling filter:
    the same function in two in-place passes over the upsampled tensor instead of four."""
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up**2)
    if clamp is not None:
        x = x.clamp_(-clamp / (gain * slope), clamp / gain)
    if slope != 1:
        x = F.leaky_relu_(x, slope)
    return upfirdn2d(x, fd, down=down, gain=gain)


def upsample2d(x: torch.Tensor, f: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """FIR upsampling by ``factor`` that keeps the pixel grid aligned (StyleGAN2's skip
    connections of the RGB images)."""
    p = len(f) - factor
    pad = ((p + 1) // 2 + factor - 1, p // 2)
    return upfirdn2d(x, f, up=factor, padding=(pad[0], pad[1], pad[0], pad[1]), gain=factor**2)


def blur2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Same-size FIR low-pass (StyleGAN's [1, 2, 1] blur after upsampling)."""
    p = len(f) - 1
    return upfirdn2d(x, f, padding=(p // 2, p - p // 2, p // 2, p - p // 2))


# -- style modulation ------------------------------------------------------------------------------
def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *,
                     demodulate: bool = True, padding: int = 0, up: int = 1,
                     resample_filter: torch.Tensor | None = None, input_gain: torch.Tensor | None = None,
                     prenormalize: bool = False, gain: float = 1.0) -> torch.Tensor:
    """StyleGAN2/3 modulated convolution: the weight ``(O, I, k, k)`` is scaled per sample
    by ``styles`` ``(N, I)`` and, with ``demodulate``, renormalised to unit L2 norm per output
    channel. Computed without fusing (scale the input, convolve with the shared weight, scale
    the output), which is the same function and keeps every sample's arithmetic independent
    of the batch. ``up=2``: transposed convolution then the FIR ``resample_filter``.
    ``prenormalize`` (StyleGAN3) rescales weight and styles to unit RMS first — per sample
    here, where the authors' code uses the batch's RMS; demodulation cancels the factor.
    ``input_gain`` (StyleGAN3's ``1 / sqrt(input magnitude)``) scales the input after
    demodulation is computed, so it is not cancelled. ``gain`` scales the output (folded into
    the demodulation coefficients)."""
    if prenormalize and demodulate:
        weight = weight * weight.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
        styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
    x_scale = styles if input_gain is None else styles * input_gain  # the gain is not demodulated
    x = x * x_scale.to(x.dtype)[:, :, None, None]
    k = weight.shape[-1]
    if up > 1:
        x = F.conv_transpose2d(x, weight.transpose(0, 1).to(x.dtype), stride=up)
        p = (len(resample_filter) - up) - (k - 1)
        pad = ((p + 1) // 2 + up - 1, p // 2 + 1)
        x = upfirdn2d(x, resample_filter, padding=(pad[0], pad[1], pad[0], pad[1]), gain=up**2)
    elif k == 1 and padding == 0:
        x = conv1x1(x, weight.to(x.dtype))
    else:
        x = F.conv2d(x, weight.to(x.dtype), padding=padding)
    if demodulate:
        dcoefs = (dense(styles.square(), weight.square().sum(dim=(2, 3))) + 1e-8).rsqrt() * gain
        x = x.mul_(dcoefs.to(x.dtype)[:, :, None, None])
    elif gain != 1.0:
        x = x.mul_(gain)
    return x


class MappingNetwork(Module):
    """z -> w: normalise z to unit RMS, then ``layers`` dense layers with leaky ReLU and a
    learning-rate multiplier (8 layers in StyleGAN 1-2, 2 in StyleGAN3); ``w_avg`` is the
    centre that truncation pulls towards."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_layers = z_dim, w_dim, layers
        dims = [z_dim] + [w_dim] * layers
        for i in range(layers):
            setattr(self, f"fc{i}", FullyConnected(dims[i], dims[i + 1], activation="lrelu", lr_mul=lr_mul))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, num_ws: int, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        """ws ``(N, num_ws, w_dim)``; truncation applies to the first ``truncation_cutoff``."""
        x = pixel_norm(z.float())
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        ws = x.unsqueeze(1).repeat(1, num_ws, 1)
        if truncation_psi != 1.0:
            cut = num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cut] = self.w_avg.lerp(ws[:, :cut], truncation_psi)
        return ws


class StyleBasedGenerator(Module):
    """The StyleGAN families' generator: z ``(N, z_dim)`` -> image ``(N, 3, R, R)`` in about
    [-1, 1] through a mapping network (z -> styles w, truncated towards ``w_avg``) and the
    family's synthesis network, ``Synthesis``, called with the styles and the noise maps."""

    Synthesis: type[Module]

    def __init__(self, config: StyleConfig) -> None:
        super().__init__()
        self.config = config
        self.z_dim, self.resolution = config.z_dim, config.resolution
        self.mapping = MappingNetwork(config.z_dim, config.w_dim, config.mapping_layers, config.mapping_lr_mul)
        self.synthesis = self.Synthesis(config)

    def forward(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None,
                truncation_psi: float = 1.0, raw: bool = False) -> torch.Tensor:
        ws = self.mapping(z, self.config.num_ws, truncation_psi, self.config.truncation_cutoff)
        return self.synthesis(ws, noise)

    @torch.no_grad()
    def calibrate(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None) -> None:
        """Set ``w_avg`` to the mean w of ``z`` (what training's moving average tracks)."""
        self.mapping.w_avg.copy_(channel_stats(self.mapping(z, 1)[:, 0], [0])[0])
