"""Tiny models built in the tests: real transformers classes with random (or briefly trained)
weights and a tokenizer trained here, saved with `save_pretrained`, so that the tests load them
through the same config -> `from_pretrained` path a hub model id takes. Nothing is downloaded.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from mexa_ray.prompts import (
    AGGREGATOR_SYSTEM,
    EXPERT_INSTRUCTIONS,
    REPORT_TEMPLATES,
    ROUTER_SYSTEM,
)
from mexa_ray.skills import DEFAULT_SKILLS

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<image>"]

# ChatML, with content parts (images become the model's <image> placeholder)
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{% elif part['type'] == 'text' %}{{ part['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def corpus() -> list[str]:
    """Text like the prompts the models will see, so the trained BPE covers it compactly."""
    lines = [ROUTER_SYSTEM, AGGREGATOR_SYSTEM, *EXPERT_INSTRUCTIONS.values(),
             *REPORT_TEMPLATES.values(), "Answer: (A) (B) (C) (D) A, B, C, D, E, F, G"]
    lines += [f"{s.id}: {s.name}. {s.description} {s.area}" for s in DEFAULT_SKILLS]
    lines += ["The audio is music with a steady tempo. The scene has a table and two chairs.",
              "What is the dominant sound? Is this music, speech or noise? 0 1 2 3 4 5 6 7 8 9"]
    return lines * 3


def train_tokenizer(vocab_size: int = 600) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _text_config(tokenizer, **extra):
    from transformers import Qwen2Config

    return Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                       num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                       max_position_embeddings=4096, tie_word_embeddings=True,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                       bos_token_id=None, **extra)


def varied_prompts(seed: int = 0) -> list[list[dict]]:
    """Conversations of many lengths (up to a few thousand tokens) made of prompt-like words."""
    rng = random.Random(seed)
    words = " ".join(corpus()).split()
    return [[{"role": "system", "content": rng.choice([ROUTER_SYSTEM, AGGREGATOR_SYSTEM])},
             {"role": "user", "content": " ".join(rng.choice(words) for _ in range(n))}]
            for n in (5, 20, 40, 80, 120, 200, 300, 450, 600, 900)]


def teach(model, tokenizer, prompts: list[list[dict]], reply: str, steps: int = 300) -> None:
    """Train the model briefly to answer `reply` whatever the prompt (loss on the reply only),
    so that a test can drive the real generation path to a known output."""
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    batches = []
    for conv in prompts:
        prompt = tokenizer.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        r_ids = tokenizer(reply + "<|im_end|>", add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p_ids + r_ids])
        labels = torch.tensor([[-100] * len(p_ids) + r_ids])
        batches.append((ids, labels))
    for step in range(steps):
        ids, labels = batches[step % len(batches)]
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()


def causal_lm(folder: Path, reply: str | None = None, seed: int = 0) -> Path:
    """A 2-layer Qwen2 chat model with a trained BPE tokenizer and ChatML template; random
    weights, or taught to answer `reply` to any prompt."""
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(seed)
    tokenizer = train_tokenizer()
    model = Qwen2ForCausalLM(_text_config(tokenizer))
    if reply is not None:
        teach(model, tokenizer, varied_prompts(seed), reply)
    model.generation_config.max_new_tokens = 24
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def llava(folder: Path, reply: str | None = None, seed: int = 0) -> Path:
    """A tiny LLaVA (CLIP vision tower + Qwen2 text model) with its processor; random weights,
    or taught to answer `reply`."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    torch.manual_seed(seed)
    tokenizer = train_tokenizer()
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                              num_attention_heads=2, image_size=32, patch_size=8,
                              projection_dim=32)
    config = LlavaConfig(vision_config=vision, text_config=_text_config(tokenizer),
                         image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                         vision_feature_select_strategy="default", vision_feature_layer=-1)
    model = LlavaForConditionalGeneration(config)
    if reply is not None:
        teach(model, tokenizer, varied_prompts(seed), reply)
    model.generation_config.max_new_tokens = 12
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32},
                                         crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer,
                               patch_size=8, vision_feature_select_strategy="default",
                               chat_template=CHAT_TEMPLATE, image_token="<image>",
                               num_additional_image_tokens=1)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


WHISPER_SPECIAL = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|translate|>",
                   "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>",
                   "<|notimestamps|>"]


def whisper(folder: Path, seed: int = 0) -> Path:
    """A tiny English-only Whisper with a trained byte-level BPE and the timestamp tokens, so
    the ASR pipeline's timestamp decoding runs as it does for a real checkpoint."""
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(corpus(), trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    vocab_dir = folder / "bpe"
    vocab_dir.mkdir(exist_ok=True)
    vocab_file, merges_file = bpe.model.save(str(vocab_dir))
    tokenizer = WhisperTokenizer(vocab_file, merges_file, unk_token="<|endoftext|>",
                                 bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                 pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": WHISPER_SPECIAL[1:]})
    tokenizer.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(1501)])
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in WHISPER_SPECIAL}
    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=80, d_model=16, encoder_layers=1,
        decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=32, decoder_ffn_dim=32, max_source_positions=1500,
        max_target_positions=64, pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"])
    model = WhisperForConditionalGeneration(config)
    gen = model.generation_config
    gen.decoder_start_token_id = ids["<|startoftranscript|>"]
    gen.no_timestamps_token_id = ids["<|notimestamps|>"]
    gen.is_multilingual = False
    gen.max_initial_timestamp_index = 50
    gen.begin_suppress_tokens = []
    gen.suppress_tokens = []
    gen._from_model_config = False  # as in real checkpoints: keeps the Whisper-only keys on load
    model.save_pretrained(folder)
    WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tokenizer).save_pretrained(folder)
    return folder
