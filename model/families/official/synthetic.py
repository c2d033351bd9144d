"""Tiny random-weight checkpoints in the official formats, for the tokenizers and FM modalities
the conformance fixtures lack (edge, normal, CLIP, ImageBind-global; structured inputs).

They are laid out like the released Hugging Face repos (``<root>/<repo name>/config.json`` +
``model.safetensors``), so tests and demos can point ``ANYSEEK_MODEL__TOKENIZERS`` at them. Their
weights are random: they check plumbing and formats, never retrieval quality.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .sources import tokenizer_repo

_TINY_VIT = {"enc_type": "vit_tiny_d32_l1_h1_enc", "latent_dim": 32, "image_size": 224}
_DIVAE = {
    **_TINY_VIT,
    "dec_type": "unet_patched_tiny",
    "patch_proj": True,
    "post_mlp": True,
    "patch_size": 16,
    "quant_type": "lucid",
    "codebook_size": 8192,
}
#: Tokenizer configs by FM modality (official keys; the values of tiny models).
TINY_TOKENIZERS: dict[str, dict[str, Any]] = {
    "tok_canny_edge@224": {**_DIVAE, "n_channels": 1},
    "tok_normal@224": {**_DIVAE, "n_channels": 3},
    "tok_clip@224": {
        **_TINY_VIT,
        "dec_type": "vit_tiny_d32_l1_h1_dec",
        "patch_proj": False,
        "patch_size": 16,
        "n_channels": 512,
        "quant_type": "lucid",
        "codebook_size": 8192,
    },
    "tok_imagebind_global": {
        "enc_type": "BottleneckMLP/B_2-Wi_32",
        "dec_type": "BottleneckMLP/B_2-Wi_32",
        "n_channels": 1024,
        "latent_dim": 64,
        "num_codebooks": 16,
        "patch_proj": False,
        "patch_size": 14,
        "quant_type": "memcodes",
        "codebook_size": 8192,
        "image_size": 224,
    },
}


def write_tokenizer(modality: str, root: str | Path, seed: int = 0) -> Path:
    """A random tiny tokenizer for ``modality`` in ``<root>/<repo name>`` (hub layout)."""
    from safetensors.torch import save_file

    from anyseek.model.fourm.tokenizers.vqvae import TokenizerConfig, VQTokenizer

    config = TINY_TOKENIZERS[modality]
    torch.manual_seed(seed)
    tokenizer = VQTokenizer(TokenizerConfig.from_dict(config))
    folder = Path(root) / tokenizer_repo(modality).split("/", 1)[1]
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().clone().contiguous() for k, v in tokenizer.state_dict().items()}
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    return folder


def write_fm(
    path: str | Path, domains_in: list[str], domains_out: list[str], seed: int = 0
) -> Path:
    """A random tiny FM (dim 12, 1+1 blocks) with these modalities, as one official .safetensors."""
    from anyseek.model.fourm.config import FourMConfig
    from anyseek.model.fourm.loading import save_fourm
    from anyseek.model.fourm.network import FourM

    config = FourMConfig.from_dict(
        {
            "domains_in": domains_in,
            "domains_out": domains_out,
            "encoder_depth": 1,
            "decoder_depth": 1,
            "dim": 12,
            "num_heads": 3,
            "mlp_ratio": 4,
            "qkv_bias": False,
            "proj_bias": False,
            "mlp_bias": False,
            "norm_bias": False,
            "act_layer": "SiLU",
            "gated_mlp": True,
            "qk_norm": False,
            "image_size": 224,
            "patch_size": 16,
        }
    )
    torch.manual_seed(seed)
    return save_fourm(FourM(config), path)
