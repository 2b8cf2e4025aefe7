"""Plain-PyTorch reference implementations of the architectures of keras_genmodels' models.

For benchmarks that train one of our Keras models and its PyTorch twin in the same process and
compare training images/s. Each reference is our own code written from the paper, as a
straightforward PyTorch user would write it (masks multiplied into ``nn.Linear`` /
``nn.Conv2d`` weights on every forward, Python loops over rows / diagonals for the LSTMs,
``torch.optim.Adam``), and matches our Keras model exactly: layer sizes, nonlinearities, masks,
output distribution and trainable parameter count (``--compare-params``). The density models
output Bernoulli logits; their loss is the binary cross-entropy with logits summed per image and
averaged over the batch (NLL in nats per image). The names of ``REFERENCES`` and the Keras
models they mirror are listed in :func:`keras_params`.

References:
    Larochelle & Murray, "The Neural Autoregressive Distribution Estimator", AISTATS 2011.
    Germain, Gregor, Murray & Larochelle, "MADE: Masked Autoencoder for Distribution
    Estimation", ICML 2015.
    van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016
    (PixelCNN, Row LSTM, Diagonal BiLSTM).
    van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu, "Conditional Image
    Generation with PixelCNN Decoders", NeurIPS 2016 (Gated PixelCNN).
    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
    GANs", ICLR 2016; Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.

Usage (torch is needed by this benchmark only, not by the package)::

    python bench/torch_reference.py [--models nade,made] [--threads 1] [--steps 5]  # images/s
    python bench/torch_reference.py --check            # causality of the autoregressive ones
    python bench/torch_reference.py --compare-params   # torch vs Keras trainable parameters

    from torch_reference import REFERENCES, images_per_second
    ref = REFERENCES["pixelcnn"]()   # .step(x), .num_params(), .module, .loss_fn(module, x)
    ips = images_per_second("pixelcnn", x_train, batch_size=100, steps=20)
"""

import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# ------------------------------------------------------------------------- masked layers
class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 mask ``(out, in)`` each forward."""

    def __init__(self, mask, bias=True):
        super().__init__(mask.shape[1], mask.shape[0], bias=bias)
        self.register_buffer("mask", torch.as_tensor(mask, dtype=torch.float32))

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MaskedConv2d(nn.Conv2d):
    """'Same' ``nn.Conv2d`` with the PixelCNN mask: rows above, the left of the centre row, and
    the centre itself for mask B only (one colour group)."""

    def __init__(self, cin, cout, kernel_size, mask_type, bias=True):
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        super().__init__(cin, cout, (kh, kw), padding=(kh // 2, kw // 2), bias=bias)
        mask = torch.zeros(1, 1, kh, kw)
        mask[..., :kh // 2, :] = 1.0
        mask[..., kh // 2, :kw // 2] = 1.0
        mask[..., kh // 2, kw // 2] = float(mask_type == "B")
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def lstm_cell(z, c):
    """LSTM update from pre-activations ``z`` = [i, f, g, o] along axis 1 and the previous cell."""
    i, f, g, o = z.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gate(x):
    """Gated activation ``tanh(a) * sigmoid(b)`` of the two channel halves."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


# ------------------------------------------------------------------------------- NADE
class NADE(nn.Module):
    """h_d = sigmoid(c + sum_{j<d} x_j W_j), logit_d = b_d + h_d . V_d; O(DH) by one cumsum."""

    def __init__(self, num_dims=784, hidden_units=500):
        super().__init__()
        self.W = nn.Parameter(nn.init.xavier_uniform_(torch.empty(num_dims, hidden_units)))
        self.c = nn.Parameter(torch.zeros(hidden_units))
        self.V = nn.Parameter(nn.init.xavier_uniform_(torch.empty(num_dims, hidden_units)))
        self.b = nn.Parameter(torch.zeros(num_dims))

    def forward(self, x):
        flat = x.flatten(1)                                         # raster order
        inclusive = torch.cumsum(flat[:, :, None] * self.W, dim=1)  # (n, D, H)
        a = self.c + F.pad(inclusive[:, :-1], (0, 0, 1, 0))         # exclusive: j < d
        logits = torch.einsum("ndh,dh->nd", torch.sigmoid(a), self.V) + self.b
        return logits.view_as(x)


class NADELoop(NADE):
    """The same NADE computed as in the paper's Algorithm 1: a loop over the D positions.

    ``a <- c``; for each d: ``h_d = sigmoid(a)``, ``logit_d = b_d + V_d . h_d``,
    ``a <- a + x_d W_d``: only (n, H) values per step (public PyTorch NADEs are
    written this way), autograd keeping each step's h_d for the backward pass.
    """

    def forward(self, x):
        flat = x.flatten(1)
        a = self.c.expand(flat.shape[0], -1)
        logits = []
        for d in range(flat.shape[1]):
            h = torch.sigmoid(a)
            logits.append(h @ self.V[d] + self.b[d])
            a = a + flat[:, d:d + 1] * self.W[d]
        return torch.stack(logits, dim=1).view_as(x)


# ------------------------------------------------------------------------------- MADE
class MADE(nn.Module):
    """Masked MLP, natural order, random hidden degrees in [1, D-1], ReLU, no direct links.

    The degrees are drawn as ``keras_genmodels.layers.made_degrees`` draws them from
    ``np.random.default_rng(mask_seed)``, so the masks equal ``models.MADE(mask_seed=...)``'s.
    """

    def __init__(self, num_dims=784, hidden_units=(500,), mask_seed=0):
        super().__init__()
        rng = np.random.default_rng(mask_seed)
        high = max(num_dims - 1, 1)
        degrees = [np.arange(1, num_dims + 1)]
        for units in hidden_units:
            degrees.append(rng.integers(min(degrees[-1].min(), high), high + 1, size=units))
        layers = []
        for d_in, d_out in zip(degrees[:-1], degrees[1:]):
            layers += [MaskedLinear(d_out[:, None] >= d_in[None, :]), nn.ReLU()]
        layers.append(MaskedLinear(degrees[0][:, None] > degrees[-1][None, :]))  # strict
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x.flatten(1)).view_as(x)


# --------------------------------------------------------------------------- PixelCNN
class ResidualBlock(nn.Module):
    """ReLU, 1x1 (2h -> h), ReLU, kxk mask B (h -> h), ReLU, 1x1 (h -> 2h), plus the input."""

    def __init__(self, filters, kernel_size=3):
        super().__init__()
        half = filters // 2
        self.net = nn.Sequential(
            nn.ReLU(), MaskedConv2d(filters, half, 1, "B"),
            nn.ReLU(), MaskedConv2d(half, half, kernel_size, "B"),
            nn.ReLU(), MaskedConv2d(half, filters, 1, "B"))

    def forward(self, x):
        return x + self.net(x)


def _output_head(cin, units, cout=1):
    return nn.Sequential(nn.ReLU(), MaskedConv2d(cin, units, 1, "B"),
                         nn.ReLU(), MaskedConv2d(units, cout, 1, "B"))


class PixelCNN(nn.Module):
    """7x7 mask-A conv, residual blocks, ReLU-1x1-ReLU-1x1 head; input 2x - 1."""

    def __init__(self, filters=32, num_layers=15, kernel_size=7, hidden_kernel_size=3):
        super().__init__()
        self.input_conv = MaskedConv2d(1, filters, kernel_size, "A")
        self.blocks = nn.Sequential(*[ResidualBlock(filters, hidden_kernel_size)
                                      for _ in range(num_layers)])
        self.head = _output_head(filters, filters)

    def forward(self, x):
        return self.head(self.blocks(self.input_conv(2.0 * x - 1.0)))


class GatedBlock(nn.Module):
    """Vertical stack ((k//2) x k shifted down a row for mask A, (k//2 + 1) x k for B), 1 x k
    masked horizontal stack, vertical->horizontal 1x1 on the vertical pre-activations,
    tanh * sigmoid gates, 1x1 horizontal output, residual for mask B."""

    def __init__(self, cin, filters, kernel_size, mask_type):
        super().__init__()
        self.k, self.mask_type = kernel_size, mask_type
        self.rows = kernel_size // 2 + (mask_type == "B")
        self.vertical = nn.Conv2d(cin, 2 * filters, (self.rows, kernel_size))  # 'valid'
        self.vertical_to_horizontal = nn.Conv2d(2 * filters, 2 * filters, 1)
        self.horizontal = MaskedConv2d(cin, 2 * filters, (1, kernel_size), mask_type)
        self.horizontal_output = MaskedConv2d(filters, filters, 1, "B")

    def forward(self, v, h):
        p = self.k // 2
        v_pre = self.vertical(F.pad(v, (p, p, self.rows - 1, 0)))
        if self.mask_type == "A":
            v_pre = F.pad(v_pre[:, :, :-1], (0, 0, 1, 0))                # down by one row
        h_pre = self.horizontal(h) + self.vertical_to_horizontal(v_pre)
        h_out = self.horizontal_output(gate(h_pre))
        return gate(v_pre), (h_out if self.mask_type == "A" else h + h_out)


class GatedPixelCNN(nn.Module):
    """A 7x7 mask-A gated block, ``num_layers`` 3x3 mask-B blocks, the PixelCNN head."""

    def __init__(self, filters=32, num_layers=10, kernel_size=7, hidden_kernel_size=3):
        super().__init__()
        self.blocks = nn.ModuleList(
            [GatedBlock(1, filters, kernel_size, "A")]
            + [GatedBlock(filters, filters, hidden_kernel_size, "B") for _ in range(num_layers)])
        self.head = _output_head(filters, filters)

    def forward(self, x):
        v = h = 2.0 * x - 1.0
        for block in self.blocks:
            v, h = block(v, h)
        return self.head(h)


# --------------------------------------------------------------------------- PixelRNN
def _forget_bias_(bias, units, directions=1):
    """Zeros, ones at the forget gate (gates [i, f, g, o] per direction)."""
    with torch.no_grad():
        bias.zero_()
        bias.view(directions, 4, units)[:, 1] = 1.0


class RowLSTM(nn.Module):
    """Input-to-state: 1 x k mask-B conv (all rows at once); state-to-state: a width-k 1D conv
    of the previous row's h; a Python loop over the rows."""

    def __init__(self, cin, units, kernel_size=3):
        super().__init__()
        self.units = units
        self.input_to_state = MaskedConv2d(cin, 4 * units, (1, kernel_size), "B")  # + LSTM bias
        self.state_to_state = nn.Conv1d(units, 4 * units, kernel_size,
                                        padding=kernel_size // 2, bias=False)
        _forget_bias_(self.input_to_state.bias, units)

    def forward(self, x):
        z = self.input_to_state(x)                                   # (n, 4u, H, W)
        h = c = z.new_zeros(z.shape[0], self.units, z.shape[3])
        rows = []   # unbind, not z[:, :, r]: indexing adds a full-size zero grad per row
        for z_row in z.unbind(dim=2):
            h, c = lstm_cell(z_row + self.state_to_state(h), c)
            rows.append(h)
        return torch.stack(rows, dim=2)


def skew(x):
    """Row i shifted right by i: (n, C, H, W) -> (n, C, H, W + H - 1); diagonals become columns."""
    height = x.shape[2]
    return torch.stack([F.pad(row, (i, height - 1 - i)) for i, row in enumerate(x.unbind(2))], 2)


def unskew(x, width):
    """Inverse of :func:`skew`: (n, C, H, W + H - 1) -> (n, C, H, W)."""
    return torch.stack([row[..., i:i + width] for i, row in enumerate(x.unbind(2))], dim=2)


class DiagonalBiLSTM(nn.Module):
    """Input-to-state: 1x1 mask-B conv for both directions; state-to-state: a 2 x 1 conv along
    the previous skewed column (the pixel above and the one to the left); a Python loop over the
    W + H - 1 columns per direction; the right-to-left stream is shifted down one row."""

    def __init__(self, cin, units):
        super().__init__()
        self.units = units
        self.input_to_state = MaskedConv2d(cin, 8 * units, 1, "B")  # + both LSTM biases
        self.state_to_state = nn.ModuleList(
            [nn.Conv1d(units, 4 * units, 2, bias=False) for _ in range(2)])
        _forget_bias_(self.input_to_state.bias, units, directions=2)

    def _sweep(self, z, conv):
        width = z.shape[3]
        zs = skew(z)                                                 # (n, 4u, H, W + H - 1)
        h = c = z.new_zeros(z.shape[0], self.units, z.shape[2])
        cols = []
        for z_col in zs.unbind(dim=3):
            h, c = lstm_cell(z_col + conv(F.pad(h, (1, 0))), c)         # [above; left]
            cols.append(h)
        return unskew(torch.stack(cols, dim=3), width)

    def forward(self, x):
        left, right = self.input_to_state(x).chunk(2, dim=1)
        out_left = self._sweep(left, self.state_to_state[0])
        out_right = self._sweep(right.flip(3), self.state_to_state[1]).flip(3)
        return out_left + F.pad(out_right[:, :, :-1], (0, 0, 1, 0))   # right stream: rows < i


class PixelRNN(nn.Module):
    """7x7 mask-A conv to 2h, residual LSTM layers (h -> 1x1 mask B -> 2h), ReLU, two ReLU 1x1
    convs of ``output_units``, a 1x1 conv to the logits (all masked B); input x itself."""

    def __init__(self, kind="row_lstm", hidden_units=16, num_layers=2, output_units=None,
                 kernel_size=3, input_kernel_size=7):
        super().__init__()
        feats, out = 2 * hidden_units, output_units or 2 * hidden_units
        self.input_conv = MaskedConv2d(1, feats, input_kernel_size, "A")
        self.lstms = nn.ModuleList([
            RowLSTM(feats, hidden_units, kernel_size) if kind == "row_lstm"
            else DiagonalBiLSTM(feats, hidden_units) for _ in range(num_layers)])
        self.residuals = nn.ModuleList([MaskedConv2d(hidden_units, feats, 1, "B")
                                        for _ in range(num_layers)])
        self.head = nn.Sequential(nn.ReLU(), MaskedConv2d(feats, out, 1, "B"),
                                  *_output_head(out, out))

    def forward(self, x):
        h = self.input_conv(x)
        for lstm, residual in zip(self.lstms, self.residuals):
            h = h + residual(lstm(h))
        return self.head(h)


# -------------------------------------------------------------------------------- VAE
class VAE(nn.Module):
    """MLP encoder (softplus) to a diagonal Gaussian, mirrored MLP decoder to Bernoulli logits."""

    def __init__(self, num_dims=784, latent_dim=50, hidden_units=(500, 500)):
        super().__init__()

        def mlp(sizes):
            return nn.Sequential(*[m for a, b in zip(sizes[:-1], sizes[1:])
                                   for m in (nn.Linear(a, b), nn.Softplus())])

        self.encoder = mlp((num_dims,) + tuple(hidden_units))
        self.z_mean = nn.Linear(hidden_units[-1], latent_dim)
        self.z_log_var = nn.Linear(hidden_units[-1], latent_dim)
        self.decoder = nn.Sequential(mlp((latent_dim,) + tuple(reversed(hidden_units))),
                                     nn.Linear(hidden_units[0], num_dims))

    def forward(self, x):
        hidden = self.encoder(x.flatten(1))
        mean, log_var = self.z_mean(hidden), self.z_log_var(hidden)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)   # reparameterised
        return self.decoder(z).view_as(x), mean, log_var


def _nchw(x):
    """A float32 (n, H, W, C) batch (NumPy or torch) as an (n, C, H, W) tensor."""
    return torch.as_tensor(x, dtype=torch.float32).permute(0, 3, 1, 2)


def bernoulli_nll(module, x):
    """Summed BCE with logits per image, mean over the batch (nats per image); x is NHWC."""
    x = _nchw(x)
    return F.binary_cross_entropy_with_logits(module(x), x, reduction="sum") / x.shape[0]


def vae_loss(module, x):
    """-ELBO: Bernoulli reconstruction NLL plus the closed-form KL to N(0, I), per image."""
    x = _nchw(x)
    logits, mean, log_var = module(x)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1.0 + log_var - mean.square() - log_var.exp())
    return (recon + kl) / x.shape[0]


# ------------------------------------------------------------------------------ DCGAN
def generator(latent_dim=64, base_filters=64, size=28):
    """z -> Dense(7*7*2f, no bias) -> BN -> ReLU -> ConvT(f, 4, s2) -> BN -> ReLU -> ConvT(1) tanh.
    BatchNorm with Keras' defaults (eps 1e-3, momentum 0.99 = torch momentum 0.01)."""
    f, s = base_filters, size // 4
    return nn.Sequential(
        nn.Linear(latent_dim, 2 * f * s * s, bias=False),
        nn.BatchNorm1d(2 * f * s * s, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.Unflatten(1, (2 * f, s, s)),
        nn.ConvTranspose2d(2 * f, f, 4, 2, padding=1, bias=False),
        nn.BatchNorm2d(f, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.ConvTranspose2d(f, 1, 4, 2, padding=1), nn.Tanh())


def discriminator(base_filters=64, size=28):
    """2 x [Conv(4, s2, 'same') -> LeakyReLU(0.2) -> Dropout(0.3)] -> Dense(1) logit."""
    f = base_filters
    return nn.Sequential(
        nn.Conv2d(1, f, 4, 2, padding=1), nn.LeakyReLU(0.2), nn.Dropout(0.3),
        nn.Conv2d(f, 2 * f, 4, 2, padding=1), nn.LeakyReLU(0.2), nn.Dropout(0.3),
        nn.Flatten(), nn.Linear(2 * f * (size // 4) ** 2, 1))


# ---------------------------------------------------------------------------- training
class Trainer:
    """One model, its loss ``loss_fn(module, x_nhwc)`` and ``torch.optim.Adam(lr=1e-3)`` (torch's
    eps 1e-8; Keras' Adam uses 1e-7). ``module, loss_fn = trainer`` also works."""

    def __init__(self, module, loss_fn, lr=1e-3):
        self.module, self.loss_fn = module, loss_fn
        self.opt = torch.optim.Adam(module.parameters(), lr=lr)

    def __iter__(self):
        return iter((self.module, self.loss_fn))

    def num_params(self):
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)

    def step(self, x):
        loss = self.loss_fn(self.module, x)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.detach()


class GANTrainer(Trainer):
    """Per batch: one D step on G(z) (no gradient into G), then one G step on fresh z with the
    non-saturating loss -log D(G(z)) (D's weights frozen during it, so only G gets gradients,
    as in our GAN). Adam(2e-4, betas (0.5, 0.999)) for both; data enters as 2x - 1."""

    def __init__(self, latent_dim=64):
        self.latent_dim = latent_dim
        self.module = nn.ModuleDict({"generator": generator(latent_dim),
                                     "discriminator": discriminator()})
        self.loss_fn = None   # .step(x) does the two updates
        self.opt_d, self.opt_g = (torch.optim.Adam(self.module[k].parameters(), lr=2e-4,
                                                   betas=(0.5, 0.999))
                                  for k in ("discriminator", "generator"))

    def step(self, x):
        g, d = self.module["generator"], self.module["discriminator"]
        real, n = 2.0 * _nchw(x) - 1.0, x.shape[0]
        with torch.no_grad():
            fake = g(torch.randn(n, self.latent_dim))
        d_loss = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()
        d.requires_grad_(False)
        g_loss = F.softplus(-d(g(torch.randn(n, self.latent_dim)))).mean()
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()
        d.requires_grad_(True)
        return (d_loss + g_loss).detach()


REFERENCES = {
    "nade": lambda: Trainer(NADE(784, 500), bernoulli_nll),
    "nade_loop": lambda: Trainer(NADELoop(784, 500), bernoulli_nll),
    "made": lambda: Trainer(MADE(784, (500,)), bernoulli_nll),
    "pixelcnn": lambda: Trainer(PixelCNN(filters=32, num_layers=15), bernoulli_nll),
    "gated_pixelcnn": lambda: Trainer(GatedPixelCNN(filters=32, num_layers=10), bernoulli_nll),
    "gated_pixelcnn_128": lambda: Trainer(GatedPixelCNN(filters=128, num_layers=10),
                                          bernoulli_nll),
    "row_lstm": lambda: Trainer(PixelRNN("row_lstm"), bernoulli_nll),
    "diagonal_bilstm": lambda: Trainer(PixelRNN("diagonal_bilstm"), bernoulli_nll),
    "vae": lambda: Trainer(VAE(784, 50), vae_loss),
    "dcgan": lambda: GANTrainer(64),
}


def images_per_second(name, x, batch_size, steps, warmup=3):
    """Training images/s of reference ``name``: ``warmup`` untimed steps, then ``steps`` timed
    ones, on consecutive batches of ``batch_size`` cut (cyclically) from ``x`` (N, 28, 28, 1)."""
    ref = REFERENCES[name]()
    data = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    num_batches = max(1, len(data) // batch_size)
    batches = [data[k * batch_size:(k + 1) * batch_size] for k in range(num_batches)]
    for k in range(warmup):
        ref.step(batches[k % num_batches])
    images, start = 0, time.perf_counter()
    for k in range(warmup, warmup + steps):
        ref.step(batches[k % num_batches])
        images += len(batches[k % num_batches])
    return images / (time.perf_counter() - start)


# ------------------------------------------------------------------------------ checks
def check_causality(height=5, width=5):
    """d logit_i / d x_j must be exactly 0 for j >= i (raster order), on tiny models.

    Returns ``{name: (ok, seen, past)}``: ``seen`` of the ``past`` earlier positions have a
    nonzero gradient (the receptive field; PixelCNN has a blind spot, the Diagonal BiLSTM
    misses only (i-1, W-1) for pixels left of W-1-k//2)."""
    torch.manual_seed(0)
    d = height * width
    tiny = {
        "nade": NADE(d, 8), "made": MADE(d, (32,)),
        "pixelcnn": PixelCNN(filters=8, num_layers=2),
        "gated_pixelcnn": GatedPixelCNN(filters=8, num_layers=2),
        "row_lstm": PixelRNN("row_lstm", hidden_units=4),
        "diagonal_bilstm": PixelRNN("diagonal_bilstm", hidden_units=4),
    }
    x = (torch.rand(1, 1, height, width) < 0.5).to(torch.float64)
    results = {}
    for name, module in tiny.items():
        module = module.double()
        jac = torch.autograd.functional.jacobian(lambda v: module(v.view_as(x)).flatten(),
                                                 x.flatten()).numpy()   # (D out, D in)
        ok = not np.any(np.triu(jac) != 0.0)
        results[name] = (ok, int(np.count_nonzero(np.tril(jac, -1))), d * (d - 1) // 2)
    return results


def keras_params():
    """``{name: (trainable parameters, count_params())}`` of our Keras models (TensorFlow)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from keras_genmodels import models

    image, bern = (28, 28, 1), {"likelihood": "bernoulli"}
    builders = {
        "nade": lambda: models.NADE(784, hidden_units=500),
        "made": lambda: models.MADE(784, hidden_units=(500,), num_masks=1, seed=0),
        "pixelcnn": lambda: models.PixelCNN(image, filters=32, num_layers=15, **bern),
        "gated_pixelcnn": lambda: models.GatedPixelCNN(image, filters=32, num_layers=10, **bern),
        "gated_pixelcnn_128": lambda: models.GatedPixelCNN(image, filters=128, num_layers=10,
                                                           **bern),
        "row_lstm": lambda: models.PixelRNN(image, kind="row_lstm"),
        "diagonal_bilstm": lambda: models.PixelRNN(image, kind="diagonal_bilstm"),
        "vae": lambda: models.VAE(*models.mlp_vae_networks(image, latent_dim=50)),
        "dcgan": lambda: models.GAN(models.dcgan_generator(image, 64),
                                    models.dcgan_discriminator(image), 64,
                                    loss="non_saturating"),
    }
    batches = {"nade": (2, 784), "made": (2, 784), "dcgan": (2, 64)}
    out = {}
    for name, build in builders.items():
        model = build()
        model(np.zeros(batches.get(name, (2,) + image), "float32"))   # build on a batch
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        out[name] = (trainable, model.count_params())
        keras.backend.clear_session()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(REFERENCES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=100, help="(dcgan: 64)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="causality checks only")
    parser.add_argument("--compare-params", action="store_true", help="vs Keras, only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if args.check:
        print("| model | causal | nonzero d logit_i / d x_j, j < i |\n|---|---|---|")
        results = check_causality()
        for name, (ok, seen, past) in results.items():
            print(f"| {name} | {'yes' if ok else 'NO'} | {seen}/{past} |")
        raise SystemExit(0 if all(ok for ok, _, _ in results.values()) else 1)
    if args.compare_params:
        theirs = keras_params()
        rows = {n: (REFERENCES[n]().num_params(),) + theirs[n] for n in names}
        print("| model | torch | keras trainable | keras count_params |\n|---|---|---|---|")
        for name, (ours, trainable, total) in rows.items():
            print(f"| {name} | {ours} | {trainable}{'' if ours == trainable else ' MISMATCH'} "
                  f"| {total} |")
    else:
        rng = np.random.default_rng(0)
        torch.manual_seed(0)
        rows = {}
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)\n\n"
              "| model | params | batch | images/s |\n|---|---|---|---|")
        for name in names:
            batch = 64 if name == "dcgan" else args.batch_size
            x = (rng.uniform(size=(4 * batch, 28, 28, 1)) < 0.5).astype("float32")
            ips = images_per_second(name, x, batch, args.steps, args.warmup)
            rows[name] = (REFERENCES[name]().num_params(), batch, round(ips, 1))
            print(f"| {name} | {rows[name][0]} | {batch} | {ips:.1f} |")
    print(json.dumps({"torch_reference": rows, "threads": args.threads}))


if __name__ == "__main__":
    main()
