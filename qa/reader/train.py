"""Train the reader on CPU and ship it as an int8 ONNX model.

    python -m qa.reader.train --out qa/reader/model

starts from the bundled all-MiniLM-L6-v2 weights, trains start/end heads (SQuAD 2.0 style:
[CLS] means "no answer here"; span scores also normalised over all passages of a question,
`TrainConfig.shared_norm`) on `../shared/train/squad_train.jsonl`, exports to ONNX,
quantises the weights to int8 and writes `reader.onnx`, `tokenizer.json` and `reader.json`
into `--out`. Nothing else is kept: no checkpoints. Needs torch (`pip install
torch==2.13.0`); answering with the result does not.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import click

from qa.core.errors import QAError
from qa.core.files import replace_file, replace_text

__all__ = ["TrainConfig", "TrainReport", "train"]

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared/train/squad_train.jsonl"
DEFAULT_OUT = Path(__file__).resolve().parent / "model"
#: training pairs kept out of training, to check the int8 model against the float one.
HELD_BACK = 64


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained model."""

    data: Path = DEFAULT_DATA
    out: Path = DEFAULT_OUT
    epochs: float = 2.0
    learning_rate: float = 8e-5
    batch_size: int = 16
    max_length: int = 192
    #: transformer layers: fewer than MiniLM-L6's 6 keeps the lowest ones; more repeats them
    #: in order, each copy then trained on its own (8: 0 1 1 2 3 4 4 5).
    layers: int = 6
    seed: int = 0
    #: share of the questions asked shorter, with fewer of the answer's words, as NewsQA's are
    #: (`qa.reader.data.shorten_question`).
    short_questions: float = 0.0
    #: no-answer passages per question from other paragraphs, best BM25 match first.
    neighbours: int = 1
    #: weight of a second loss that normalises the start and end scores over all passages of
    #: a question together (its answer passage and its no-answer ones), so that a span's
    #: score means the same in every passage (Clark & Gardner 2018); 0 = per passage only.
    #: NewsQA dev, first 1,000 answerable: short F1 +2.5 (gold article), citation +2.7 (open).
    shared_norm: float = 1.0
    #: layer-wise learning-rate decay: each layer below the heads learns at this times the
    #: rate of the one above it (the embeddings once more), keeping more of the pretrained
    #: weights where they are most general; 1 = one rate for all.
    layer_decay: float = 1.0
    threads: int = 2
    #: pad every batch to a multiple of this many tokens: a few batch shapes instead of one
    #: per length, so the CPU kernels are not prepared afresh for each new shape. 500 steps,
    #: idle machine: 0.97 s/step throughout, peak RSS 2.7 GB; unpadded 1.04 s/step at first,
    #: 1.25 by steps 300-500, 6.3 GB; the same loss.
    pad_to: int = 32
    #: run the forward pass in bfloat16 (autocast; the weights stay float32) when the CPU
    #: has bf16 instructions (AMX, AVX512-BF16): 1.4x faster steps on this machine.
    bf16: bool = True
    #: use only the first N paragraphs, and stop after N steps (tests, quick trials).
    limit_paragraphs: int | None = None
    max_steps: int | None = None
    #: also write the float32 ONNX model here (to measure what int8 costs); not shipped.
    keep_float: Path | None = None


@dataclass
class TrainReport:
    """What a training run did: its config, size, losses and time."""

    config: dict
    examples: int
    steps: int
    seconds: float
    #: mean loss over the first and the last 10% of steps.
    first_loss: float
    last_loss: float
    losses: list[float] = field(default_factory=list)
    #: agreement of the int8 model with the float model on held-back training pairs.
    int8_span_agreement: float = 0.0
    int8_logit_cosine: float = 0.0


def _labels(batch, examples) -> tuple[list[int], list[int]]:
    """Start and end token of each example's answer, (0, 0) when it has none or the
    passage was cut before it."""
    starts, ends = [], []
    for row, example in enumerate(examples):
        s = e = 0
        if example.start is not None:
            tokens = batch.passage_mask[row].nonzero()[0]
            offsets = batch.offsets[row]
            inside = [t for t in tokens if offsets[t][1] > example.start
                      and offsets[t][0] < example.end]
            if inside:
                s, e = int(inside[0]), int(inside[-1])
        starts.append(s)
        ends.append(e)
    return starts, ends


def _batches(examples: list, batch_size: int, rng: random.Random,
             whole_questions: bool = False) -> list[list]:
    """Batches of similar passage length (less padding), in random order; with
    `whole_questions`, all pairs of a question go into the same batch."""
    groups: dict[int, list] = {}
    for i, example in enumerate(examples):
        groups.setdefault(example.question_id if whole_questions else i, []).append(example)
    batches, batch = [], []
    for group in sorted(groups.values(), key=lambda g: max(len(e.passage) for e in g)):
        if batch and len(batch) + len(group) > batch_size:
            batches.append(batch)
            batch = []
        batch.extend(group)
    batches.append(batch)
    rng.shuffle(batches)
    return batches


def _shared_loss(start, end, passage_mask, examples, starts: list[int], ends: list[int]):
    """Cross-entropy of the answer's start and end over the passage tokens of all pairs of
    its question at once, averaged over the questions whose answer is in the batch."""
    import torch

    losses = []
    mask = torch.from_numpy(passage_mask)
    for question in {e.question_id for e in examples}:
        rows = [r for r, e in enumerate(examples) if e.question_id == question]
        answer = next((r for r in rows if starts[r] > 0), None)
        if answer is None:
            continue
        before = int(mask[rows[:rows.index(answer)]].sum())
        for logits, label in ((start, starts[answer]), (end, ends[answer])):
            scores = logits[rows][mask[rows]].float()
            target = before + int(mask[answer, :label].sum())
            losses.append(torch.logsumexp(scores, 0) - scores[target])
    return torch.stack(losses).mean() if losses else start.new_zeros(())


def train(config: TrainConfig, log=print) -> TrainReport:
    """Train, export and quantise the reader into `config.out`."""
    import numpy as np
    import torch
    from transformers import BertForQuestionAnswering

    from qa.index.embed import resolve_model
    from qa.reader.data import load_paragraphs, make_examples
    from qa.reader.features import encode_pairs, load_tokenizer

    _check_config(config)  # before an hour of training, not after
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = random.Random(config.seed)
    _, model_path = resolve_model(None)
    tokenizer = load_tokenizer(str(Path(model_path) / "tokenizer.json"))
    paragraphs = load_paragraphs(config.data)[:config.limit_paragraphs]
    examples = list(make_examples(paragraphs, seed=config.seed,
                                   short_questions=config.short_questions,
                                   neighbours=config.neighbours))
    held_back, examples = examples[:HELD_BACK], examples[HELD_BACK:]
    if not examples:
        raise click.UsageError(f"{len(paragraphs)} paragraphs give no training pairs beside "
                               f"the {HELD_BACK} held back to check the int8 model: use more "
                               "(--limit-paragraphs)")
    log(f"{len(paragraphs)} paragraphs, {len(examples)} training pairs "
        f"({sum(e.start is None for e in examples)} without an answer)")

    model = BertForQuestionAnswering.from_pretrained(model_path,
                                                     num_hidden_layers=min(config.layers, 6))
    _deepen(model, config.layers)
    model.train()
    bf16 = config.bf16 and torch.cpu._is_avx512_bf16_supported()
    log(f"bfloat16 autocast: {'on' if bf16 else 'off'}")
    batches = _batches(examples, config.batch_size, rng, config.shared_norm > 0)
    total = config.max_steps if config.max_steps is not None \
        else max(1, math.ceil(len(batches) * config.epochs))
    optimizer = torch.optim.AdamW(_parameter_groups(model, config), weight_decay=0.01)
    warmup = max(1, total // 16)

    def rate(step: int) -> float:  # linear warm-up, then linear decay to 0
        return min((step + 1) / warmup, max(0.0, (total - step) / (total - warmup + 1)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(total):
        if step and step % len(batches) == 0:
            rng.shuffle(batches)
        chunk = batches[step % len(batches)]
        batch = encode_pairs(tokenizer, [e.question for e in chunk],
                             [e.passage for e in chunk], config.max_length, config.pad_to)
        starts, ends = _labels(batch, chunk)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            output = model(**{k: torch.from_numpy(v) for k, v in batch.inputs().items()},
                           start_positions=torch.tensor(starts),
                           end_positions=torch.tensor(ends))
        loss = output.loss
        if config.shared_norm > 0:
            loss = loss + config.shared_norm * _shared_loss(
                output.start_logits, output.end_logits, batch.passage_mask, chunk, starts, ends)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
        if (step + 1) % 25 == 0 or step + 1 == total:
            per_step = (time.perf_counter() - started) / (step + 1)
            log(f"step {step + 1}/{total} loss {np.mean(losses[-25:]):.3f} {per_step:.2f} s/step, "
                f"{per_step * (total - step - 1) / 60:.0f} min left")
    seconds = time.perf_counter() - started
    model.eval()
    tenth = max(1, total // 10)
    recorded = {k: str(v) for k, v in asdict(config).items() if k not in ("out", "keep_float")}
    recorded["data"] = config.data.name  # no machine paths in the shipped model's metadata
    report = TrainReport(config=recorded,
                         examples=len(examples), steps=total, seconds=round(seconds, 1),
                         first_loss=float(np.mean(losses[:tenth])),
                         last_loss=float(np.mean(losses[-tenth:])),
                         losses=[round(x, 4) for x in losses])
    if not math.isfinite(report.last_loss):
        raise click.ClickException(f"training diverged (loss {report.last_loss}); nothing was "
                                   f"written to {config.out}: try a lower --lr")
    _ship(model, tokenizer, Path(model_path), held_back, config, report)
    log(f"trained {total} steps in {seconds / 60:.1f} min; loss {report.first_loss:.3f} -> "
        f"{report.last_loss:.3f}; int8 agreement {report.int8_span_agreement:.3f}")
    return report


def _parameter_groups(model, config: TrainConfig) -> list[dict]:
    """AdamW's parameter groups: the learning rate per layer (`TrainConfig.layer_decay`)."""
    layers = model.bert.encoder.layer
    depth = {id(p): len(layers) - i for i, layer in enumerate(layers)
             for p in layer.parameters()}
    depth.update({id(p): len(layers) + 1 for p in model.bert.embeddings.parameters()})
    groups: dict[int, list] = {}
    for parameter in model.parameters():
        groups.setdefault(depth.get(id(parameter), 0), []).append(parameter)
    return [{"params": params, "lr": config.learning_rate * config.layer_decay ** level}
            for level, params in sorted(groups.items())]


def _deepen(model, layers: int) -> None:
    """Grow the encoder to `layers` layers by repeating its own, spread evenly and in order."""
    import copy

    import torch

    have = model.bert.encoder.layer
    if layers <= len(have):
        return
    order = [round(i * (len(have) - 1) / (layers - 1)) for i in range(layers)]
    model.bert.encoder.layer = torch.nn.ModuleList(copy.deepcopy(have[i]) for i in order)
    model.config.num_hidden_layers = layers


def _ship(model, tokenizer, model_path: Path, held_back: list, config: TrainConfig,
          report: TrainReport) -> None:
    """Export to ONNX, quantise to int8, check it against the float model, write `out`."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from qa.reader.features import encode_pairs
    from qa.reader.model import FORMAT

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    # Exported from eager attention, the graph has no NaN guard over every attention score
    # (PyTorch's fused attention adds one, and its mask once per layer): answers 1.3x faster
    # in onnxruntime, int8, one thread (see the model card).
    model.set_attn_implementation("eager")
    out = config.out
    batch = encode_pairs(tokenizer, [e.question for e in held_back],
                         [e.passage for e in held_back], config.max_length)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "reader-fp32.onnx"
        sample = {k: torch.from_numpy(v[:2]) for k, v in batch.inputs().items()}
        axes = {name: {0: "batch", 1: "tokens"} for name in sample}
        with torch.no_grad():
            torch.onnx.export(Logits(), tuple(sample.values()), str(fp32),
                              input_names=list(sample), output_names=["start", "end"],
                              dynamic_axes={**axes, "start": {0: "batch", 1: "tokens"},
                                            "end": {0: "batch", 1: "tokens"}},
                              opset_version=17, dynamo=False)
            reference = Logits()(**{k: torch.from_numpy(v) for k, v in batch.inputs().items()})
        if config.keep_float:
            shutil.copy(fp32, config.keep_float)
        staged = Path(tmp) / "reader.onnx"
        quantize_dynamic(str(fp32), str(staged), weight_type=QuantType.QInt8, per_channel=True)
        session = ort.InferenceSession(str(staged), providers=["CPUExecutionProvider"])
        start, end = session.run(None, batch.inputs())
        ref_start, ref_end = (t.numpy() for t in reference)
        mask = batch.attention_mask.astype(bool)
        same = (start.argmax(1) == ref_start.argmax(1)) & (end.argmax(1) == ref_end.argmax(1))
        a, b = start[mask], ref_start[mask]
        report.int8_span_agreement = float(same.mean())
        report.int8_logit_cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        # no reader.json while the files change: stopped half-way, the model is refused as
        # incomplete instead of loading new weights with an old model's calibration
        (out / "reader.json").unlink(missing_ok=True)
        replace_file(out / "reader.onnx", staged)
    replace_file(out / "tokenizer.json", model_path / "tokenizer.json")
    meta = {"format": FORMAT, "max_length": config.max_length, "base_model": "all-MiniLM-L6-v2",
            "layers": config.layers, "trained": date.today().isoformat(),
            "training": {k: v for k, v in asdict(report).items() if k != "losses"}}
    replace_text(out / "reader.json", json.dumps(meta, indent=2) + "\n")


def _check_config(config: TrainConfig) -> None:
    """Refuse settings that could not train a model and outputs that could not be written,
    before training."""
    for name, value in (("epochs", config.epochs), ("learning_rate", config.learning_rate),
                        ("batch_size", config.batch_size), ("max_steps", config.max_steps),
                        ("limit_paragraphs", config.limit_paragraphs)):
        if value is not None and not value > 0:
            raise click.UsageError(f"{name.replace('_', '-')} must be above 0, not {value}")
    try:
        config.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(f"--out {config.out}: cannot be made a folder ({exc.strerror})"
                               ) from None
    targets = [config.out, *([config.keep_float.parent] if config.keep_float else [])]
    for folder in targets:
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise click.UsageError(f"{folder} is not a folder this process can write to")
    if config.keep_float and config.keep_float.is_dir():
        raise click.UsageError(f"--keep-float {config.keep_float} is a folder; give a file")


@click.command()
@click.option("--data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=DEFAULT_DATA, show_default=True, help="SQuAD-style training file.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Where reader.onnx, tokenizer.json, reader.json go (the shipped model: "
                   "qa/reader/model; named each time, so a trial run never replaces it).")
@click.option("--epochs", type=click.FloatRange(0, min_open=True), default=TrainConfig.epochs,
              show_default=True)
@click.option("--lr", "learning_rate", type=click.FloatRange(0, min_open=True),
              default=TrainConfig.learning_rate, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=TrainConfig.batch_size,
              show_default=True)
@click.option("--max-length", type=click.IntRange(64, 512), default=TrainConfig.max_length,
              show_default=True)
@click.option("--layers", type=click.IntRange(1, 12), default=TrainConfig.layers,
              show_default=True)
@click.option("--seed", type=int, default=TrainConfig.seed, show_default=True)
@click.option("--short-questions", type=click.FloatRange(0, 1),
              default=TrainConfig.short_questions, show_default=True,
              help="Share of questions shortened to fewer of the answer's words, as NewsQA's.")
@click.option("--neighbours", type=click.IntRange(0), default=TrainConfig.neighbours,
              show_default=True,
              help="No-answer passages per question from the best-matching other paragraphs.")
@click.option("--shared-norm", type=click.FloatRange(0), default=TrainConfig.shared_norm,
              show_default=True,
              help="Weight of a loss normalising span scores over all passages of a question.")
@click.option("--layer-decay", type=click.FloatRange(0, 1, min_open=True),
              default=TrainConfig.layer_decay, show_default=True,
              help="Learning-rate factor per layer down from the heads (1: off).")
@click.option("--pad-to", type=click.IntRange(1), default=TrainConfig.pad_to,
              show_default=True, help="Pad batches to a multiple of this many tokens.")
@click.option("--bf16/--no-bf16", default=TrainConfig.bf16, show_default=True,
              help="bfloat16 autocast when the CPU supports it.")
@click.option("--limit-paragraphs", type=click.IntRange(1), default=None,
              help="Train on the first N only.")
@click.option("--max-steps", type=click.IntRange(1), default=None, help="Stop after N steps.")
@click.option("--keep-float", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the float32 ONNX model to this file (not shipped).")
def main(**options) -> None:
    """Train the extractive reader and write it, as int8 ONNX, to --out."""
    try:
        report = train(TrainConfig(**options))
    except QAError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({k: v for k, v in asdict(report).items() if k != "losses"}, indent=2))


if __name__ == "__main__":
    main()
