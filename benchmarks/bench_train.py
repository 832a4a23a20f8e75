"""RepMix training throughput, per core: one training step and the input pipeline, each against
the official code's structure rebuilt here from its facts (the same layers, the same batch).

    python benchmarks/bench_train.py [--size 224] [--width 64] [--batch 32] [--images 256] [--workers 1]

1. Training step (forward + backward + Adam step) of a batch of 32 samples (64 images: each
   sample is a pair, as the official data set returns it) at 224 px, ResNet-50, one thread:
   attribution88.models.repmix.RepMix against the official structure (models/RepMix.py and
   models/torch_layers.py of github.com/TuBui/image_attribution): torchvision's ResNet-50 with
   its children regrouped into a ModuleList, a mixing layer that reshapes into (B, 2, ...),
   the gate by slicing and unsqueezing, the loss as a Python sum of per-image cross-entropies
   with ``nn.CrossEntropyLoss(weight, reduction='none')``. Both start from the same weights
   and inputs; the benchmark checks that they compute the same loss before timing them.
2. Input pipeline with augmentation (PNG decode, resize 256, flip, crop 224, a seen ImageNet-C
   perturbation with p = 0.95, normalise; pairs of images): attribution88's loader with the
   epoch plan, against the official pipeline: PIL files, torchvision's Resize /
   RandomHorizontalFlip / RandomCrop / ToTensor / Normalize, the perturbation wrapper (RGB ->
   224 -> BGR -> corrupt -> RGB) around imagecorruptions' ``corrupt`` (the packaging of ImageNet-C
   installed here, run through attribution88.perturb.reference's shims; the official code calls
   the original ``imagenet_c``, whose seen corruptions are the same algorithms), a random
   partner per sample, a Dirichlet ratio per sample, samples concatenated by the collate
   function. Same number of worker processes on both sides.

No GPU was available when this was written. On one, ``--device cuda`` times the step there;
the one-epoch figure of the full configuration is the ``train_images_per_s`` of the first
line of a run's metrics.jsonl (``attribution88 train --model repmix --device cuda ...``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402


# -- 1. the official model structure, rebuilt ------------------------------------------------------
def official_model(embed_dim: int = 256, width: int = 64):
    import torch
    from torch import nn

    from attribution88.models.backbones import BACKBONES

    class MixupLayer(nn.Module):  # models/torch_layers.py: reshape into (B / n, n, ...), weight, sum
        def __init__(self, n: int, beta: float):
            super().__init__()
            self.n = n
            self.dirichlet = torch.distributions.Dirichlet(torch.tensor([beta] * n))

        def forward(self, x, ratio=None):
            cs = x.shape[0] // self.n
            x = x.reshape(cs, self.n, *x.shape[1:])
            d = self.dirichlet.sample((cs,)) if ratio is None else ratio.clone()
            for _ in range(x.dim() - 2):
                d = d.unsqueeze(-1)
            return (x * d).sum(dim=1)

    class Official(nn.Module):
        def __init__(self):
            super().__init__()
            net = BACKBONES.get("resnet50").make(width)  # torchvision's ResNet-50 at width 64
            net.fc = nn.Linear(net.fc.in_features, embed_dim)
            layers = list(net.children())
            head = nn.Sequential(layers[-2], nn.Flatten(1), layers[-1])
            layers = [nn.Sequential(*layers[:4])] + layers[4:-2] + [head]
            layers.insert(5, MixupLayer(2, 0.4))
            self.model = nn.ModuleList(layers)
            self.attribution = nn.Linear(embed_dim, 8)
            self.detection = nn.Linear(embed_dim, 2)
            self.act = nn.Softmax(dim=1)
            self.attr_ce = nn.CrossEntropyLoss(reduction="none")
            self.det_ce = nn.CrossEntropyLoss(torch.tensor([1, 1.0 / 7]), reduction="none")

        def forward(self, x, beta):
            for i, layer in enumerate(self.model):
                x = layer(x, beta) if i == 5 else layer(x)
            attribution = self.attribution(x)
            detection_logits = self.detection(x)
            detection = self.act(detection_logits)
            a0 = attribution[:, 0] * detection[:, 0]
            a1 = attribution[:, 1:] * detection[:, 1].unsqueeze(1)
            return {"attribution": torch.cat([a0.unsqueeze(1), a1], 1), "detection": detection_logits}

        def compute_loss(self, pred, y_gan, beta):
            y_det = (y_gan > 0).long()
            attr = torch.mean(sum([self.attr_ce(pred["attribution"], y_gan[:, i]) * beta[:, i] for i in range(2)]))
            det = torch.mean(sum([self.det_ce(pred["detection"], y_det[:, i]) * beta[:, i] for i in range(2)]))
            return attr + det

    return Official()


def copy_weights(ours, official) -> None:
    """The official model's parameters take ours, in module order (the same layers)."""
    import torch

    a = list(ours.state_dict().values())
    b = [(k, v) for k, v in official.state_dict().items() if not k.endswith("_ce.weight")]
    assert len(a) == len(b), (len(a), len(b))
    with torch.no_grad():
        official.load_state_dict({k: v.clone() for (k, _), v in zip(b, a)}, strict=False)


def bench_step(size: int, width: int, batch: int, rounds: int, device: str) -> None:
    import torch

    from attribution88.models.repmix import RepMix

    torch.manual_seed(0)
    ours = RepMix(RepMix.config_from_preset("paper", pretrained=False, width=None if width == 64 else width)).to(device)
    official = official_model(width=width).to(device)
    copy_weights(ours, official)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2 * batch, 3, size, size, generator=g).to(device)
    y = torch.randint(0, 8, (batch, 2), generator=g).to(device)
    r = torch.distributions.Dirichlet(torch.tensor([0.4, 0.4])).sample((batch,)).to(device)
    ours.train(), official.train()
    with torch.no_grad():
        lo = float(ours.loss(ours(x, r), y, r)["total"])
        lr = float(official.compute_loss(official(x, r), y, r))
    print(f"same loss on the same weights and batch: ours {lo:.6f}, official structure {lr:.6f}")
    assert abs(lo - lr) < 1e-4 * max(1.0, abs(lr)), "the two structures disagree"

    def step_ours(opt):
        loss = ours.loss(ours(x, r), y, r)["total"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def step_official(opt):
        loss = official.compute_loss(official(x, r), y, r)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    opts = {"ours": torch.optim.Adam(ours.parameters(), 1e-4, weight_decay=5e-4),
            "official": torch.optim.Adam(official.parameters(), 1e-4, weight_decay=5e-4)}
    steps = {"ours": step_ours, "official": step_official}
    best = dict.fromkeys(steps, float("inf"))
    for name in steps:  # warm-up
        steps[name](opts[name])
    for _ in range(rounds):
        for name in steps:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t = time.perf_counter()
            steps[name](opts[name])
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            best[name] = min(best[name], time.perf_counter() - t)
    threads = torch.get_num_threads()
    for name in steps:
        print(f"training step, {name:8}  batch {batch} pairs ({2 * batch} images) at {size} px: {best[name]:7.2f} s "
              f"= {2 * batch / best[name]:6.1f} img/s on {threads} thread(s)")
    print(f"-> ours runs at {best['official'] / best['ours']:.2f}x the official structure's speed")


# -- 2. input pipelines ---------------------------------------------------------------------------------
class OfficialPairs:
    """The official MixupFolder3 shape: item i = image i and a random partner, each through
    prep -> perturbation -> to-tensor/normalise, plus a Dirichlet(0.4, 0.4) ratio."""

    def __init__(self, files: list[str]):
        import torch
        from torchvision import transforms

        self.files = files
        self.prep = transforms.Compose([transforms.Resize(256), transforms.RandomHorizontalFlip(),
                                        transforms.RandomCrop(224)])
        self.norm = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.5] * 3)])
        self.dirichlet = torch.distributions.Dirichlet(torch.tensor([0.4, 0.4]))
        self.seen = np.array([0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18])

    def perturb(self, im):
        from PIL import Image

        from attribution88.perturb.reference import corrupt
        from attribution88.spec import SPEC

        corrupt_id = np.random.choice(self.seen)
        severity = np.random.choice(np.arange(1, 6))
        if np.random.rand() < 0.95:
            size = im.size
            x = np.asarray(im.convert("RGB").resize((224, 224), Image.BILINEAR))[:, :, ::-1]
            x = corrupt(np.ascontiguousarray(x), SPEC.perturbation(int(corrupt_id)).name, int(severity),
                        int(np.random.randint(2**31)))
            im = Image.fromarray(np.uint8(x)[:, :, ::-1])
            if im.size != size:
                im = im.resize(size, Image.BILINEAR)
        return im

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index):
        import torch
        from PIL import Image

        xs = []
        for i in [index, int(np.random.choice(len(self.files)))]:
            with open(self.files[i], "rb") as f:
                im = Image.open(f).convert("RGB")
            xs.append(self.norm(self.perturb(self.prep(im))))
        return torch.stack(xs), self.dirichlet.sample(), torch.tensor([0, 0])

    @staticmethod
    def collate(batch):
        import torch

        return (torch.cat([b[0] for b in batch]), torch.stack([b[1] for b in batch]),
                torch.stack([b[2] for b in batch]))


def _worker_init(worker_id: int) -> None:
    import torch

    torch.set_num_threads(1)
    np.random.seed(1234 + worker_id)


def rate(loader, images_per_batch: int) -> float:
    it = iter(loader)
    next(it)  # workers started, first batch in
    n, t = 0, time.perf_counter()
    for _ in it:
        n += images_per_batch
    return n / (time.perf_counter() - t)


def bench_pipeline(n_images: int, batch: int, workers: int, rounds: int) -> None:
    import torch
    from PIL import Image

    from attribution88.loader import Attribution88Dataset, RepMixTrain
    from attribution88.models.repmix import RepMix
    from attribution88.models.training import epoch_plan
    from bench_loader import make_images, write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        images = make_images(n_images)
        root = os.path.join(tmp, "attribution88")
        write_dataset(root, images)
        files = []
        for i, im in enumerate(images):  # the official data set reads image files
            files.append(os.path.join(tmp, f"{i:06d}.png"))
            Image.fromarray(im).save(files[-1])
        model = RepMix(RepMix.config_from_preset("cpu"))  # pairs and Dirichlet ratios, as the paper's
        ours_ds = Attribution88Dataset(root, "train", returns=("source",),
                                       transform=RepMixTrain(resize=256, crop=224, p=0.95))
        plan = epoch_plan(model, len(ours_ds), batch, seed=0, epoch=0, shuffle=True)
        best = {"ours": 0.0, "official": 0.0}
        for _ in range(rounds):
            ours = torch.utils.data.DataLoader(ours_ds, batch_sampler=plan.batches, num_workers=workers,
                                               worker_init_fn=_worker_init)
            best["ours"] = max(best["ours"], rate(ours, 2 * batch))
            official = torch.utils.data.DataLoader(OfficialPairs(files), batch_size=batch, shuffle=True,
                                                   num_workers=workers, worker_init_fn=_worker_init,
                                                   collate_fn=OfficialPairs.collate)
            best["official"] = max(best["official"], rate(official, 2 * batch))
        for name, value in best.items():
            print(f"input pipeline, {name:8}  {workers} worker(s): {value:7.1f} img/s = "
                  f"{value / workers:6.1f} per core")
        print(f"-> ours delivers {best['ours'] / best['official']:.2f}x the official pipeline's images per core")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=224, help="input size of the training step [224]")
    ap.add_argument("--width", type=int, default=64, help="ResNet-50 base width (64 = the real one) [64]")
    ap.add_argument("--batch", type=int, default=32, help="samples (pairs) per batch [32]")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each side counts")
    ap.add_argument("--images", type=int, default=256, help="images through the input pipelines [256]")
    ap.add_argument("--workers", type=int, default=1, help="loader worker processes on both sides [1]")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-step", action="store_true")
    ap.add_argument("--skip-pipeline", action="store_true")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    if not args.skip_step:
        bench_step(args.size, args.width, args.batch, args.rounds, args.device)
    if not args.skip_pipeline:
        bench_pipeline(args.images, args.batch, args.workers, args.rounds)


if __name__ == "__main__":
    main()
