"""The exported files load with ``datasets``, pass TRL's own format checks, and train as is.

Uses the real TRL (``trl.data_utils`` and the trainers) on a tiny randomly initialised GPT-2 with a
word-level tokenizer built in memory, so nothing is downloaded. TRL needs torch: install the CPU
wheel first (see the Makefile), then ``trl`` without pulling CUDA.
"""

from __future__ import annotations

import copy
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import datasets
import pytest
from trl.data_utils import (
    is_conversational,
    maybe_apply_chat_template,
    maybe_extract_prompt,
)

from brun_label.exporters.dpo import ExportOptions, export_dpo
from brun_label.rubrics import load_rubric
from tests.exporters.helpers import item_rows, sample, table, unambiguous_dataset

RUBRIC = load_rubric("de-escalation")
CHAT = [{"role": "system", "content": "You answer for Ledgerly support."},
        {"role": "user", "content": "You charged me three times!"}]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The same annotations exported as trl, trl-chat (with inline provenance) and kto."""
    d = tmp_path_factory.mktemp("trl")
    samples, t, _ = unambiguous_dataset(n_items=44, seed=3)
    samples = [*samples, sample("chat-1", ["x", "y"], prompt=CHAT)]
    t = table(t.to_dict(orient="records"), item_rows("chat-1", {"x": [0, 0, 0], "y": [2, 2, 2]}))
    paths = {}
    for fmt, prov in (("trl", "sidecar"), ("trl-chat", "inline"), ("kto", "sidecar")):
        paths[fmt] = d / fmt / "data.jsonl"
        export_dpo(t, samples, RUBRIC, paths[fmt], ExportOptions(fmt=fmt, provenance=prov, min_alpha=None))
    return paths


def tiny_tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for text in texts for w in text.split()} | {"system:", "user:", "assistant:"})
    vocab = {w: i for i, w in enumerate(["[UNK]", "[PAD]", "[EOS]", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]")
    hf.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }} [EOS] {% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    return hf


def tiny_models(vocab_size: int):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=vocab_size, n_positions=256, n_embd=16, n_layer=1, n_head=2,
                     bos_token_id=2, eos_token_id=2, pad_token_id=1)
    model = GPT2LMHeadModel(cfg)
    return model, copy.deepcopy(model)


def texts_of(ds: datasets.Dataset) -> list[str]:
    out: list[str] = []
    for ex in ds:
        for key in ("prompt", "chosen", "rejected", "completion"):
            v = ex.get(key)
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, list):
                out += [m["content"] for m in v]
    return out


def test_trl_standard_file_loads_and_passes_trl_format_checks(exported):
    ds = datasets.load_dataset("json", data_files=str(exported["trl"]), split="train")
    assert ds.column_names == ["prompt", "chosen", "rejected"]
    assert len(ds) >= 8
    tok = tiny_tokenizer(texts_of(ds))
    for ex in ds:
        assert not is_conversational(ex)
        assert maybe_extract_prompt(ex) == ex  # the prompt is explicit, nothing to extract
        assert maybe_apply_chat_template(ex, tok) == {k: ex[k] for k in ("prompt", "chosen", "rejected")}


def test_trl_chat_file_loads_and_passes_trl_format_checks(exported):
    ds = datasets.load_dataset("json", data_files=str(exported["trl-chat"]), split="train")
    assert {"prompt", "chosen", "rejected", "sample_id", "agreement"} <= set(ds.column_names)
    tok = tiny_tokenizer(texts_of(ds))
    seen_system = False
    for ex in ds:
        assert is_conversational(ex)
        assert maybe_extract_prompt(ex) == ex
        applied = maybe_apply_chat_template(ex, tok)
        assert applied["prompt"].endswith("assistant: ")
        assert applied["chosen"].startswith(ex["chosen"][0]["content"])
        seen_system |= ex["prompt"][0]["role"] == "system"
    assert seen_system


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["trl", "trl-chat"])
def test_dpo_trainer_trains_on_the_exported_file_as_is(exported, tmp_path, fmt):
    from trl import DPOConfig, DPOTrainer

    ds = datasets.load_dataset("json", data_files=str(exported[fmt]), split="train")
    tok = tiny_tokenizer(texts_of(ds))
    model, ref = tiny_models(len(tok))
    args = DPOConfig(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4,
                     report_to=[], save_strategy="no", use_cpu=True, logging_steps=1, dataset_num_proc=None)
    trainer = DPOTrainer(model=model, ref_model=ref, args=args, train_dataset=ds, processing_class=tok)
    result = trainer.train()
    assert result.global_step == 2
    assert result.training_loss == pytest.approx(0.693, abs=0.01)  # log(2): an untrained pair


@pytest.mark.slow
def test_kto_trainer_trains_on_the_kto_file_as_is(exported, tmp_path):
    from trl import KTOConfig, KTOTrainer

    ds = datasets.load_dataset("json", data_files=str(exported["kto"]), split="train")
    assert ds.column_names == ["prompt", "completion", "label"]
    assert set(ds["label"]) == {True, False}
    tok = tiny_tokenizer(texts_of(ds))
    model, ref = tiny_models(len(tok))
    args = KTOConfig(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4,
                     report_to=[], save_strategy="no", use_cpu=True, logging_steps=1)
    result = KTOTrainer(model=model, ref_model=ref, args=args, train_dataset=ds, processing_class=tok).train()
    assert result.global_step == 2
