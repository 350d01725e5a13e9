"""Tiny models built in the tests: real transformers classes with random (or briefly trained)
weights and a tokenizer trained here, saved with `save_pretrained`, so that the tests load them
through the same config -> `from_pretrained` path a hub model id takes. Nothing is downloaded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import teaching
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from mexa_ray.reasoning.prompts import (
    AGGREGATOR_SYSTEM,
    EXPERT_INSTRUCTIONS,
    REPORT_TEMPLATES,
    ROUTER_SYSTEM,
)
from mexa_ray.reasoning.skills import DEFAULT_SKILLS

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<image>"]
#: the placeholders of the Qwen2.5-VL and Qwen2-Audio processors, and DeepSeek-R1's turn markers
QWEN_VL_SPECIAL = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
QWEN_AUDIO_SPECIAL = ["<|audio_bos|>", "<|audio_eos|>", "<|AUDIO|>"]
R1_SPECIAL = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"]

# ChatML, with content parts (images become the model's <image> placeholder)
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{% elif part['type'] == 'text' %}{{ part['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def corpus() -> list[str]:
    """Text like the prompts the models will see, so the trained BPE covers it compactly."""
    lines = [
        ROUTER_SYSTEM,
        AGGREGATOR_SYSTEM,
        *EXPERT_INSTRUCTIONS.values(),
        *REPORT_TEMPLATES.values(),
        "Answer: (A) (B) (C) (D) A, B, C, D, E, F, G",
    ]
    lines += [f"{s.id}: {s.name}. {s.description} {s.area}" for s in DEFAULT_SKILLS]
    lines += [
        "The audio is music with a steady tempo. The scene has a table and two chairs.",
        "What is the dominant sound? Is this music, speech or noise? 0 1 2 3 4 5 6 7 8 9",
    ]
    return lines * 3


def train_tokenizer(
    vocab_size: int = 600,
    extra_special: tuple[str, ...] = (),
    eos: str = "<|im_end|>",
    template: str = CHAT_TEMPLATE,
    bos: str | None = None,
) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL + list(extra_special),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=eos,
        bos_token=bos,
        pad_token="<|endoftext|>",
        unk_token=None,
    )
    fast.chat_template = template
    return fast


def _text_config(tokenizer, config_class=None, **extra):
    from transformers import Qwen2Config

    return (config_class or Qwen2Config)(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        **extra,
    )


def finish(
    model,
    folder: Path,
    save_processor: Callable[[Path], None],
    kind: str,
    reply: str | None,
    seed: int,
    max_new_tokens: int,
    roles: tuple[str, ...] = (),
) -> None:
    """The tail every builder shares: cap generation, save the weights and (through
    `save_processor`) the tokenizer or processor into `folder`, then, when a `reply` is given,
    teach it on prompts of its `roles` and prove it (`teaching.teach`, which raises if it does not fit)."""
    model.generation_config.max_new_tokens = max_new_tokens
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    save_processor(folder)
    if reply is not None:
        families = {"varied": teaching.varied_prompts} | {r: teaching.ROLES[r] for r in roles}
        teaching.teach(folder, kind, reply, families, seed)


def causal_lm(
    folder: Path,
    reply: str | None = None,
    seed: int = 0,
    template: str = CHAT_TEMPLATE,
    eos: str = "<|im_end|>",
    bos: str | None = None,
    extra_special: tuple[str, ...] = (),
    sampling: dict | None = None,
    roles: tuple[str, ...] = (),
) -> Path:
    """A 2-layer Qwen2 chat model with a trained BPE tokenizer and a chat template (ChatML unless
    given); random weights, or taught to answer `reply` to any prompt. `sampling` goes into its
    generation_config, as a checkpoint's own decoding defaults do; `roles` (`teaching.ROLES`):
    the prompts it is taught and proven on besides `teaching.varied_prompts`."""
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(seed)
    tokenizer = train_tokenizer(extra_special=extra_special, eos=eos, template=template, bos=bos)
    model = Qwen2ForCausalLM(_text_config(tokenizer))
    for key, value in (sampling or {}).items():
        setattr(model.generation_config, key, value)
    finish(model, folder, tokenizer.save_pretrained, "text", reply, seed, 24, roles)
    return folder


def llava(
    folder: Path, reply: str | None = None, seed: int = 0, roles: tuple[str, ...] = ("image",)
) -> Path:
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
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        projection_dim=32,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=_text_config(tokenizer),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    model = LlavaForConditionalGeneration(config)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE,
        image_token="<image>",
        num_additional_image_tokens=1,
    )
    finish(model, folder, processor.save_pretrained, "vision", reply, seed, 12, roles)
    return folder


WHISPER_SPECIAL = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nocaptions|>",
    "<|notimestamps|>",
]


#: a few of Whisper's language tokens (multilingual checkpoints carry 99-100)
WHISPER_LANGUAGES = ["en", "de", "fr", "es", "zh", "yue"]


def whisper(folder: Path, seed: int = 0, multilingual: bool = False) -> Path:
    """A tiny Whisper with a trained byte-level BPE and the timestamp tokens, so the ASR
    pipeline's timestamp decoding runs as it does for a real checkpoint: English-only with 80
    mel bins (tiny.en's shape), or `multilingual` in Whisper-large-v3's shape: 128 mel bins,
    language and task tokens with the generation config's language detection, 448 positions."""
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
    bpe.train_from_iterator(
        corpus(),
        trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    vocab_dir = folder / "bpe"
    vocab_dir.mkdir(exist_ok=True)
    vocab_file, merges_file = bpe.model.save(str(vocab_dir))
    tokenizer = WhisperTokenizer(
        vocab_file,
        merges_file,
        unk_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    languages = [f"<|{code}|>" for code in WHISPER_LANGUAGES] if multilingual else []
    special = [WHISPER_SPECIAL[1]] + [t for t in languages if t != "<|en|>"] + WHISPER_SPECIAL[2:]
    tokenizer.add_special_tokens({"additional_special_tokens": special})
    tokenizer.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(1501)])
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in WHISPER_SPECIAL + languages}
    mels = 128 if multilingual else 80
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=mels,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=1500,
        max_target_positions=448 if multilingual else 64,
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"],
    )
    model = WhisperForConditionalGeneration(config)
    gen = model.generation_config
    gen.decoder_start_token_id = ids["<|startoftranscript|>"]
    gen.no_timestamps_token_id = ids["<|notimestamps|>"]
    gen.is_multilingual = multilingual
    if multilingual:
        gen.lang_to_id = {t: ids[t] for t in languages}
        gen.task_to_id = {"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]}
    gen.max_initial_timestamp_index = 50
    gen.begin_suppress_tokens = []
    gen.suppress_tokens = []
    gen._from_model_config = False  # as in real checkpoints: keeps the Whisper-only keys on load
    model.save_pretrained(folder)
    WhisperProcessor(WhisperFeatureExtractor(feature_size=mels), tokenizer).save_pretrained(folder)
    return folder


# --- the architectures and chat templates the packaged GPU configs name ---------------------

#: Qwen2.5-Instruct's template without its tool-calling branch (the router sends no tools)
QWEN25_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) or "
    "(message.role == 'assistant') %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

#: DeepSeek-R1-Distill's template (tool branches left out): it opens <think> itself, so the
#: model's output starts inside its thinking and carries only the closing tag
R1_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}"
    "{% endif %}{% set ns = namespace(system_prompt='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}"
    "{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}"
    "{{bos_token}}{{ns.system_prompt}}"
    "{%- for message in messages %}{%- if message['role'] == 'user' %}"
    "{{'<｜User｜>' + message['content']}}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}"
    "{% set content = message['content'] %}{% if '</think>' in content %}"
    "{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor -%}"
    "{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
)

#: QwQ-32B's generation prompt: ChatML that opens <think> for the model
QWQ_TEMPLATE = CHAT_TEMPLATE.replace(
    "<|im_start|>assistant\n{% endif %}", "<|im_start|>assistant\n<think>\n{% endif %}"
)

#: Qwen2.5-VL's template: an image part becomes <|vision_start|><|image_pad|><|vision_end|>
QWEN_VL_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def qwen25_instruct(folder: Path, reply: str | None = None, seed: int = 0) -> Path:
    """Qwen2.5-Instruct's shape: Qwen2 with the Qwen2.5 template and its sampling defaults; a
    router in the GPU configs, so taught on the router's prompts."""
    return causal_lm(
        folder,
        reply,
        seed,
        template=QWEN25_TEMPLATE,
        sampling={"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20},
        roles=("router",),
    )


#: the sampling DeepSeek-R1's card advises, shipped in R1-Distill's and QwQ's generation_config
REASONING_SAMPLING = {"do_sample": True, "temperature": 0.6, "top_p": 0.95}


def r1_distill(folder: Path, reply: str | None = None, seed: int = 0, sampled: bool = True) -> Path:
    """DeepSeek-R1-Distill-Qwen's shape: Qwen2 with R1's template (which opens <think>) and its
    begin/end-of-sentence tokens; `sampled`: with the card's sampling defaults in its
    generation_config (a tiny taught model sampled garbles long prompts, so tests that check
    its exact words build it greedy)."""
    return causal_lm(
        folder,
        reply,
        seed,
        template=R1_TEMPLATE,
        eos="<｜end▁of▁sentence｜>",
        bos="<｜begin▁of▁sentence｜>",
        extra_special=tuple(R1_SPECIAL),
        sampling=REASONING_SAMPLING if sampled else None,
        roles=("aggregator",),
    )


def qwq(folder: Path, reply: str | None = None, seed: int = 0, sampled: bool = True) -> Path:
    """QwQ-32B's shape: Qwen2, ChatML opening <think>; sampling defaults as for r1_distill."""
    return causal_lm(
        folder,
        reply,
        seed,
        template=QWQ_TEMPLATE,
        sampling=REASONING_SAMPLING if sampled else None,
        roles=("aggregator",),
    )


def qwen25_vl(
    folder: Path, reply: str | None = None, seed: int = 0, roles: tuple[str, ...] = ("image",)
) -> Path:
    """A tiny Qwen2.5-VL (window-attention ViT with 2x2 patch merging, M-RoPE text model) saved
    with its processor as the hub checkpoints are: image processor, video processor, tokenizer
    and template; random weights, or taught to answer `reply` (to a vision expert's prompts, and
    to a vision router's with `roles` ("image", "vision-router"))."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLTextConfig

    torch.manual_seed(seed)
    tokenizer = train_tokenizer(extra_special=tuple(QWEN_VL_SPECIAL), template=QWEN_VL_TEMPLATE)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_VL_SPECIAL}
    # rope_scaling, as the hub's config.json files spell it (transformers 5 reads it as
    # rope_parameters; 4.x knows only this)
    text = _text_config(
        tokenizer, Qwen2_5_VLTextConfig, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}
    )
    vision = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": 32,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 56,
        "fullatt_block_indexes": [1],
    }
    config = Qwen2_5_VLConfig(
        text_config=text.to_dict(),
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    model = Qwen2_5_VLForConditionalGeneration(config)
    save = functools.partial(_save_qwen_vl_processor, tokenizer=tokenizer)
    finish(model, folder, save, "vision", reply, seed, 12, roles)
    return folder


def _save_qwen_vl_processor(folder: Path, tokenizer) -> None:
    """The files Qwen2.5-VL's hub repos carry for AutoProcessor, written without torchvision
    (which the video processor class needs to be built, but not to be named in a file)."""
    import json

    pixels = {"min_pixels": 56 * 56, "max_pixels": 112 * 112}
    common = {
        "patch_size": 14,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "do_resize": True,
        "do_convert_rgb": True,
        "size": {"shortest_edge": pixels["min_pixels"], "longest_edge": pixels["max_pixels"]},
        **pixels,
    }
    (folder / "preprocessor_config.json").write_text(
        json.dumps(
            {
                **common,
                "image_processor_type": "Qwen2VLImageProcessor",
                "processor_class": "Qwen2_5_VLProcessor",
            },
            indent=2,
        )
    )
    (folder / "video_preprocessor_config.json").write_text(
        json.dumps(
            {
                **common,
                "video_processor_type": "Qwen2VLVideoProcessor",
                "processor_class": "Qwen2_5_VLProcessor",
            },
            indent=2,
        )
    )
    tokenizer.save_pretrained(folder)
    (folder / "chat_template.json").write_text(json.dumps({"chat_template": QWEN_VL_TEMPLATE}))


def qwen2_audio(folder: Path, reply: str | None = None, seed: int = 0) -> Path:
    """A tiny Qwen2-Audio (Whisper-style audio encoder, projector, Qwen2 text model) with its
    processor (Whisper feature extractor, <|AUDIO|> placeholders, its own template)."""
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioEncoderConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    torch.manual_seed(seed)
    tokenizer = train_tokenizer(extra_special=tuple(QWEN_AUDIO_SPECIAL))
    tokenizer.chat_template = Qwen2AudioProcessor.default_chat_template.fget(None)
    audio = Qwen2AudioEncoderConfig(
        num_mel_bins=128,
        encoder_layers=1,
        encoder_attention_heads=2,
        encoder_ffn_dim=32,
        d_model=16,
        max_source_positions=1500,
    )
    config = Qwen2AudioConfig(
        audio_config=audio,
        text_config=_text_config(tokenizer),
        audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
    )
    model = Qwen2AudioForConditionalGeneration(config)
    processor = Qwen2AudioProcessor(
        WhisperFeatureExtractor(feature_size=128), tokenizer, chat_template=tokenizer.chat_template
    )
    finish(model, folder, processor.save_pretrained, "audio", reply, seed, 12, ("audio",))
    return folder
