"""The adapter for users' own generator code: ``--entry-point MODULE:FUNCTION``."""

import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from attribution88.builders.generators import draw_latents, load_generator, sample
from attribution88.errors import CheckpointError, UsageError

USER_CODE = textwrap.dedent('''
    """A user's generator package, as the authors' code would provide (NVlabs-like call)."""
    import numpy as np
    import torch

    LOADED = []


    class TinyGenerator(torch.nn.Module):
        z_dim, c_dim, img_resolution = 16, 0, 128

        def __init__(self):
            super().__init__()
            self.register_buffer("mix", torch.linspace(-1, 1, 3 * 16).reshape(3, 16) / 4)

        def forward(self, z, c, truncation_psi=1, noise_mode="random"):
            assert c.shape == (z.shape[0], 0)
            self.last_call = (truncation_psi, noise_mode)
            colour = (z @ self.mix.t()) * truncation_psi
            noise = torch.randn(z.shape[0], 1, 128, 128, device=z.device)  # its own noise draws
            return (colour[:, :, None, None] + 0.2 * noise).clamp(-1, 1)


    def load(checkpoint, device):
        LOADED.append(checkpoint)
        return TinyGenerator().to(device)


    def load_seeds(checkpoint, device):
        return lambda seeds: np.stack([np.full((256, 256, 3), s % 251, np.uint8) for s in seeds])


    def broken(checkpoint, device):
        raise RuntimeError("no weights\\nhere")


    def junk(checkpoint, device):
        return 42
''')


@pytest.fixture()
def user_module(tmp_path, monkeypatch):
    (tmp_path / "a88_usergen.py").write_text(USER_CODE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("a88_usergen", None)
    yield tmp_path
    sys.modules.pop("a88_usergen", None)


def _expected(seed):
    """The contract: z from the seed's generator; the module's noise from torch seeded with the seed."""
    import a88_usergen

    z, _ = draw_latents(seed, 16, [], "normal")
    torch.manual_seed(seed)
    # the cell's truncation and noise mode (stylegan2: psi 0.5, stored noise) are passed along
    out = a88_usergen.TinyGenerator()(torch.from_numpy(z[None]), torch.zeros(1, 0), truncation_psi=0.5,
                                      noise_mode="const")
    return (out * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()


def test_a_module_entry_point_follows_the_seed_contract(user_module):
    g = load_generator("stylegan2", "cat", entry_point="a88_usergen:load")
    assert g.kind == "entry-point" and g.z_dim == 16 and g.origin == "entry-point:a88_usergen:load;psi=0.5;noise=const"
    images = sample(g, [5, 6, 7])
    state = torch.random.get_rng_state()
    for seed, image in zip([5, 6, 7], images):
        assert np.array_equal(image, _expected(seed))
    assert g.entry.obj.last_call == (0.5, "const")
    torch.random.set_rng_state(state)


def test_a_module_entry_point_is_deterministic_across_batch_sizes_and_processes(user_module):
    g = load_generator("stylegan2", "cat", entry_point="a88_usergen:load")
    a = sample(g, [11, 12, 13, 14], batch_size=4)
    assert np.array_equal(a, sample(g, [11, 12, 13, 14], batch_size=1))
    code = ("import hashlib, sys; sys.path.insert(0, sys.argv[1])\n"
            "from attribution88.builders.generators import load_generator, sample\n"
            "g = load_generator('stylegan2', 'cat', entry_point='a88_usergen:load')\n"
            "print(hashlib.sha256(sample(g, [11, 12, 13, 14], batch_size=3).tobytes()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code, str(user_module)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == hashlib.sha256(a.tobytes()).hexdigest()


def test_sampling_leaves_torch_random_state_as_it_was(user_module):
    g = load_generator("stylegan2", "cat", entry_point="a88_usergen:load")
    state = torch.random.get_rng_state()
    sample(g, [1, 2])
    assert torch.equal(torch.random.get_rng_state(), state)


def test_the_checkpoint_is_handed_to_the_users_code_and_recorded(user_module):
    import a88_usergen

    ckpt = user_module / "snapshot.pkl"
    ckpt.write_bytes(b"not read by attribution88")
    g = load_generator("stylegan2", "cat", entry_point="a88_usergen:load", checkpoint=ckpt)
    assert a88_usergen.LOADED[-1] == str(ckpt)
    assert g.origin == f"entry-point:a88_usergen:load+checkpoint:snapshot.pkl#sha256:" \
                       f"{hashlib.sha256(ckpt.read_bytes()).hexdigest()[:12]};psi=0.5;noise=const"


def test_a_seeds_callable_entry_point(user_module):
    g = load_generator("sngan", "dog", entry_point="a88_usergen:load_seeds")
    images = sample(g, [3, 300])
    assert images.shape == (2, 128, 128, 3)  # 256 px downscaled
    assert (images[0] == 3).all() and (images[1] == 300 % 251).all()


@pytest.mark.parametrize("spec,error,text", [
    ("no_colon", UsageError, "MODULE:FUNCTION"),
    ("a88_missing_module:load", CheckpointError, "cannot import a88_missing_module"),
    ("a88_usergen:nothing", CheckpointError, "no attribute 'nothing'"),
    ("a88_usergen:broken", CheckpointError, "RuntimeError: no weights here"),
    ("a88_usergen:junk", CheckpointError, "returned int"),
])
def test_entry_point_errors_are_one_line(user_module, spec, error, text):
    with pytest.raises(error) as info:
        load_generator("stylegan2", "cat", entry_point=spec)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_an_entry_point_checkpoint_must_exist_unless_it_is_a_url(user_module):
    import a88_usergen

    with pytest.raises(CheckpointError, match="no such file"):
        load_generator("stylegan2", "cat", entry_point="a88_usergen:load", checkpoint=user_module / "nope.pkl")
    url = "https://example.org/network-snapshot.pkl"
    g = load_generator("stylegan2", "cat", entry_point="a88_usergen:load", checkpoint=url)
    assert a88_usergen.LOADED[-1] == url and g.origin.endswith(f"+checkpoint:{url};psi=0.5;noise=const")
