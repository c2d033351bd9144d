"""Train the built-in FourM model with the 4M multimodal masking objective; resumable.

Every step draws a batch of scenes, converts their modalities to model inputs, samples per-sample
input and target token budgets (:mod:`model.train.masking`) and minimises the cross-entropy of the
masked global-embedding tokens, averaged per target modality (as 4M does).

The batch of step ``k`` is a pure function of (seed, k) (:class:`StepBatches`), so batches can be
built ahead in DataLoader worker processes while the accelerator trains, and an interrupted run
resumes from its last saved state (weights, optimiser, step, written every ``checkpoint_every``
steps) with exactly the batches it would have seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from model.bundle.definition import BUILTIN, BuiltinDefinition
from model.data.tensors import SceneTensors, pixel_inputs
from model.fourm.batch import ModalityTokens
from model.fourm.config import FourMConfig
from model.fourm.modalities import get_modality
from model.fourm.network import FourM
from model.train.alignment import Alignment, AlignmentConfig, ExpectedDecoder, combined_loss
from model.train.flops import StepShape, device_peak, step_flops
from model.train.losses import target_losses
from model.train.masking import MaskingConfig, sample_masks
from model.train.objective import target_segments
from model.train.packed import PackedBatch, pack_batch, packed_loss, pad_sequence
from model.train.schedule import autocast, cosine_lr
from model.train.step import StepMeter, StepOptions, compiled, make_optimizer, matmul_precision

CAPTION = BUILTIN.caption.base
CAPTION_VOCABS = ("registry", "tokenizer")

Progress = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class FMTrainConfig:
    """Architecture and schedule of the built-in model."""

    resolution: int = 64
    dim: int = 192
    encoder_depth: int = 6
    decoder_depth: int = 3
    num_heads: int = 6
    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    max_caption_tokens: int = 48
    checkpoint_every: int = 250
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    target_temperature: float | None = None
    """None: one-hot targets (the official 4M loss). A value T: each target token's label is the
    tokenizer's own code distribution softmax(scores / T), so a near miss costs less than a far
    one; the FM then learns calibrated distributions for expected decoding."""
    caption_vocab: str = "registry"
    """Rows of the caption table: ``registry`` keeps the 4M registry's 30,000 (the official
    vocabulary); ``tokenizer`` sizes it to the trained WordPiece, so the bytes go to the network
    instead."""
    align: AlignmentConfig = field(default_factory=AlignmentConfig)
    """Retrieval alignment term (``model.train.alignment``); weight 0 leaves it out."""

    def __post_init__(self) -> None:
        """Refuse an unknown caption table choice, naming the choices."""
        if self.caption_vocab not in CAPTION_VOCABS:
            raise ValueError(
                f"caption_vocab must be one of {', '.join(CAPTION_VOCABS)}, "
                f"got {self.caption_vocab!r}"
            )

    def pixel_modalities(self, definition: BuiltinDefinition = BUILTIN) -> list[str]:
        """Pixel-patch inputs at the training resolution, e.g. ``sketch@64``."""
        return definition.pixel_modalities(self.resolution)

    def vocab_sizes(self, text_vocab: int | None) -> dict[str, int]:
        """The FM's own vocabulary sizes: the caption table at ``text_vocab`` rows if asked."""
        if self.caption_vocab == "registry":
            return {}
        if text_vocab is None:
            raise ValueError("caption_vocab 'tokenizer' needs the text tokenizer's vocab size")
        return {CAPTION: text_vocab}

    def fourm_config(
        self,
        spaces: tuple[str, ...] | None = None,
        text_vocab: int | None = None,
        definition: BuiltinDefinition = BUILTIN,
    ) -> FourMConfig:
        """The FourM config (official keys) of the model this run trains.

        Inputs and outputs (default: every space) come from ``definition``. ``image_size`` stays
        224 so that the global spaces get their 16 tokens (4x4 cells of 56); the pixel inputs
        carry their own resolution in their names. ``text_vocab`` is the trained WordPiece's size
        (used when ``caption_vocab`` is ``tokenizer``).
        """
        return FourMConfig(
            domains_in=definition.domains_in(self.resolution),
            domains_out=definition.outputs if spaces is None else tuple(spaces),
            dim=self.dim,
            encoder_depth=self.encoder_depth,
            decoder_depth=self.decoder_depth,
            num_heads=self.num_heads,
            mlp_ratio=4.0,
            qkv_bias=False,
            proj_bias=False,
            mlp_bias=False,
            norm_bias=False,
            act_layer="SiLU",
            gated_mlp=True,
            qk_norm=False,
            image_size=224,
            patch_size=16,
            vocab_sizes=self.vocab_sizes(text_vocab),
        )

    def to_dict(self) -> dict:
        """Plain data for logs and the model card."""
        return asdict(self)


@dataclass
class TrainingSet:
    """Everything one FM training step needs, in memory."""

    scenes: SceneTensors
    caption_ids: torch.Tensor  # [N, K, L] int64: ids, [EOS], [PAD]... per phrasing
    targets: dict[str, torch.Tensor]  # space -> [N, 16] int64 tokens of the teacher embedding
    scores: dict[str, torch.Tensor] | None = None  # space -> [N, 16, live] tokenizer code scores
    text_vocab: int | None = None  # the WordPiece's vocab size (caption_vocab "tokenizer")
    anchors: dict[str, torch.Tensor] | None = None  # space -> [N, C] unit teacher embeddings

    def soft_labels(self, index: torch.Tensor, temperature: float) -> dict[str, torch.Tensor]:
        """space -> [B, 16, live] code distributions of the batch's teacher embeddings."""
        if self.scores is None:
            raise ValueError("soft targets need the tokenizers' code scores")
        return {s: (v[index].float() / temperature).softmax(-1) for s, v in self.scores.items()}


def make_batch(
    data: TrainingSet,
    index: torch.Tensor,
    config: FMTrainConfig,
    generator: torch.Generator,
) -> dict[str, ModalityTokens]:
    """One masked training batch: inputs and targets with 4M budgets drawn per sample."""
    tensors: dict[str, torch.Tensor] = pixel_inputs(data.scenes, index, config.pixel_modalities())
    pick = torch.randint(data.caption_ids.shape[1], (len(index),), generator=generator)
    caption = data.caption_ids[index, pick, : config.max_caption_tokens]
    caption = caption[:, : max(1, int((caption != 0).sum(1).max()))]
    tensors[CAPTION] = caption
    for space, tokens in data.targets.items():
        tensors[space] = tokens[index]
    valid = {}
    for name, tensor in tensors.items():
        n = tensor.shape[1] if name == CAPTION or name in data.targets else None
        if n is None:
            n = get_modality(name).num_tokens(224)
        valid[name] = (
            caption != 0 if name == CAPTION else torch.ones(len(index), n, dtype=torch.bool)
        )
    inputs = [*config.pixel_modalities(), CAPTION]
    masks = sample_masks(
        valid, inputs, list(data.targets), config.masking, generator, ordered=(CAPTION,)
    )
    return {
        name: ModalityTokens(tensors[name], masks[name].input_mask, masks[name].target_mask)
        for name in tensors
    }


def step_seed(seed: int, step: int) -> int:
    """Seed of the masking draws of one training step (independent streams per step)."""
    return (seed * 1_000_003 + step) % (2**63)


class StepBatches(torch.utils.data.Dataset):
    """step -> (inputs and masks per modality, soft labels or None) of that training step.

    Scene order is a fresh permutation per epoch (seeded by ``seed`` and the epoch); masking draws
    are seeded by ``seed`` and the step. Returns plain tensors so DataLoader workers can pass
    and pin them.
    """

    def __init__(self, data: TrainingSet, config: FMTrainConfig, seed: int) -> None:
        self.data, self.config, self.seed = data, config, seed
        self.batch_size = min(config.batch_size, len(data.scenes))
        self.per_epoch = len(data.scenes) // self.batch_size
        self._epoch: tuple[int, torch.Tensor] | None = None

    def __len__(self) -> int:
        return self.config.steps

    def indices(self, step: int) -> torch.Tensor:
        """The scenes of a step's batch."""
        epoch, k = divmod(step, self.per_epoch)
        if self._epoch is None or self._epoch[0] != epoch:
            generator = torch.Generator().manual_seed(step_seed(self.seed + 1, epoch))
            self._epoch = (epoch, torch.randperm(len(self.data.scenes), generator=generator))
        return self._epoch[1][k * self.batch_size : (k + 1) * self.batch_size]

    def __getitem__(self, step: int) -> tuple[dict, dict | None, dict | None]:
        index = self.indices(step)
        generator = torch.Generator().manual_seed(step_seed(self.seed, step))
        batch = make_batch(self.data, index, self.config, generator)
        tensors = {k: (v.tensor, v.input_mask, v.target_mask) for k, v in batch.items()}
        soft = None
        if self.config.target_temperature is not None:
            soft = self.data.soft_labels(index, self.config.target_temperature)
        return tensors, soft, self.anchors(index)

    def anchors(self, index: torch.Tensor) -> dict[str, torch.Tensor] | None:
        """space -> [B, C] teacher embeddings of the batch's scenes (alignment term on)."""
        if self.config.align.weight <= 0:
            return None
        if self.data.anchors is None:
            raise ValueError("the alignment term needs the teacher embeddings (anchors)")
        return {space: v[index] for space, v in self.data.anchors.items()}


class PackedStepBatches(StepBatches):
    """:class:`StepBatches` packed on the host (:mod:`model.train.packed`) for a sync-free step.

    ``static`` pads captions to ``max_caption_tokens`` and the encoder slots to the most a sample
    can have, so every step has the same shapes (what a compiled step needs).
    """

    def __init__(
        self, data: TrainingSet, config: FMTrainConfig, seed: int, static: bool = False
    ) -> None:
        super().__init__(data, config, seed)
        self.fourm = config.fourm_config(tuple(data.targets), data.text_vocab)
        self.static = static

    def __getitem__(self, step: int) -> tuple[PackedBatch, dict | None, dict | None]:
        tensors, soft, anchors = super().__getitem__(step)
        batch = {name: ModalityTokens(*parts) for name, parts in tensors.items()}
        length = None
        if self.static:
            captions = self.config.max_caption_tokens
            batch[CAPTION] = pad_sequence(batch[CAPTION], captions)
            single = max(get_modality(m).num_tokens(224) for m in self.config.pixel_modalities())
            length = max(self.config.masking.input_budget, captions, single)
        return pack_batch(self.fourm, batch, length), soft, anchors


def _worker_init(_: int) -> None:
    """One thread per batch-building worker: the workers are the parallelism."""
    torch.set_num_threads(1)


def step_loader(
    batches: StepBatches, start: int, workers: int, pin: bool
) -> torch.utils.data.DataLoader:
    """Batches of steps ``start..steps-1`` in order, built ahead by ``workers`` processes."""
    import multiprocessing as mp

    return torch.utils.data.DataLoader(
        batches,
        batch_size=None,
        sampler=range(start, batches.config.steps),
        num_workers=workers,
        pin_memory=pin,
        worker_init_fn=_worker_init if workers else None,
        multiprocessing_context=mp.get_context("fork") if workers else None,
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )


def masked_loss(
    model: FourM,
    batch: dict[str, ModalityTokens],
    live: int | None = None,
    soft: dict[str, torch.Tensor] | None = None,
    align: Alignment | None = None,
) -> tuple[torch.Tensor, dict]:
    """Mean over target modalities of the mean cross-entropy of their masked tokens.

    This is ``training_logits`` followed by cross-entropy, except that with ``live`` only the first
    ``live`` rows of each output head are scored: the global tokenizers never emit other codes
    (see ``train_global_tokenizer``), so the other rows would only cost time. ``soft`` (space ->
    [B, N, live] label distributions) replaces the one-hot labels of those spaces. The reference
    for ``packed.packed_loss``, which the training loop runs (same loss, no host syncs).
    """
    ctx, found = target_segments(model, batch)
    segments = [t.segment for t in found]
    labels = [t.labels.masked_fill(t.segment.padding, -100) for t in found]
    hidden = model.decode_segments(segments, ctx)
    names = [s.name for s in segments]
    losses = target_losses(model, names, hidden, labels, [t.positions for t in found], live, soft)
    total = combined_loss(model, ctx, losses, align, live)
    return total, {k: v.item() for k, v in losses.items()}


@torch.no_grad()
def tie_dead_rows(model: FourM, live: int) -> None:
    """Make head rows >= ``live`` exact copies of live rows (they then lose every argmax tie)."""
    for name in model.output_modalities:
        weight = model.decoder_embedding(name).to_logits.weight
        weight.copy_(weight[torch.arange(weight.shape[0]) % live])


def _save_state(path: Path, model: FourM, optimizer: torch.optim.Optimizer, step: int) -> None:
    """Write the resumable training state atomically (batches are a function of the step)."""
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, tmp
    )
    tmp.replace(path)


def train_fm(
    data: TrainingSet,
    config: FMTrainConfig,
    state_path: Path,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    device: str = "cpu",
    live: int | None = None,
    workers: int = 0,
    options: StepOptions | None = None,
    decoders: dict[str, ExpectedDecoder] | None = None,
) -> FourM:
    """Train (or resume training of) the FM; returns it in eval mode on the CPU.

    ``workers`` processes build and pack batches ahead (0: in this process); on CUDA the forward
    pass runs under bfloat16 autocast. The step never reads a value back from the device:
    ``progress`` gets window means of the losses and the window's speed (step time, samples/s,
    MFU) every ``options.log_every`` steps and at the last step. ``decoders`` (space -> frozen
    tokenizer) are needed when the config's alignment term is on.
    """
    if config.align.weight > 0 and not decoders:
        raise ValueError("the alignment term needs each space's tokenizer (decoders)")
    options = options or StepOptions()
    torch.manual_seed(seed)
    model = FourM(config.fourm_config(tuple(data.targets), data.text_vocab)).to(device)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "emb" in n]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    optimizer = make_optimizer(groups, config.lr, device, options)
    start = 0
    if state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = int(state["step"])
    model.train()
    batches = PackedStepBatches(data, config, seed, static=options.compile)
    loader = step_loader(batches, start, workers, pin=str(device).startswith("cuda"))
    meter = step_meter(model.config, config, batches.batch_size, live, device, options)
    with matmul_precision(device, options):
        _run_steps(
            model, optimizer, loader, start, config, state_path, meter, progress, live, decoders
        )
    if live is not None:
        tie_dead_rows(model, live)
    return model.float().cpu().eval()


def _run_steps(
    model: FourM,
    optimizer: torch.optim.Optimizer,
    loader: torch.utils.data.DataLoader,
    start: int,
    config: FMTrainConfig,
    state_path: Path,
    meter: StepMeter,
    progress: Progress | None,
    live: int | None,
    decoders: dict[str, ExpectedDecoder] | None = None,
) -> None:
    """The training steps: nothing in them reads a value back from the device but the meter."""
    device = str(model.device)
    loss_fn = compiled(packed_loss, meter.options)
    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    for step, (packed, soft, anchors) in enumerate(loader, start=start):
        lr = cosine_lr(optimizer, step, config.steps, config.lr)
        packed = packed.to(device, non_blocking=True)
        if soft is not None:
            soft = {k: v.to(device, non_blocking=True) for k, v in soft.items()}
        with autocast(device):
            align = None
            if anchors is not None and decoders:
                anchors = {k: v.to(device, non_blocking=True) for k, v in anchors.items()}
                align = Alignment(anchors, decoders, config.align)
            loss, parts = loss_fn(model, packed, live, soft, align)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        meter.add(loss, parts)
        if meter.due(step, config.steps - 1):
            info = meter.read(sync)
            if progress is not None:
                progress(step, {"lr": lr, **info})
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            _save_state(state_path, model, optimizer, step + 1)


def step_meter(
    fourm: FourMConfig,
    config: FMTrainConfig,
    batch: int,
    live: int | None,
    device: str,
    options: StepOptions,
) -> StepMeter:
    """The meter of a run: model FLOPs of its step against the device's peak."""
    head = live or max(get_modality(m).vocab_size for m in fourm.domains_out)
    shape = StepShape(batch, config.masking.input_budget, config.masking.target_budget, head)
    dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    peak, _ = device_peak(device, dtype)
    return StepMeter(batch, step_flops(fourm, shape).step, peak, options)
