"""config.json of every model the packaged GPU configs name, as their hub repositories publish
them (the fields that shape the model; the rest are transformers' defaults), so that `mexa
check`'s memory plan can be tested at real sizes without the hub: the plan builds each
architecture on the meta device and counts its parameters, and the tests hold those counts to
the sizes the model cards state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

QWEN_VL_VISION = {
    "depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
    "in_chans": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
    "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31], "hidden_act": "silu",
}  # fmt: skip


def _qwen2(hidden: int, inter: int, layers: int, heads: int, kv: int, vocab: int, tied: bool,
           positions: int = 32768) -> dict[str, Any]:  # fmt: skip
    return {
        "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "hidden_size": hidden,
        "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv, "vocab_size": vocab, "tie_word_embeddings": tied,
        "max_position_embeddings": positions, "torch_dtype": "bfloat16",
    }  # fmt: skip


def _qwen_vl(hidden: int, inter: int, layers: int, heads: int, kv: int, vocab: int, tied: bool,
             vision_inter: int) -> dict[str, Any]:  # fmt: skip
    text = _qwen2(hidden, inter, layers, heads, kv, vocab, tied, 128000)
    return {
        **text, "model_type": "qwen2_5_vl",
        "architectures": ["Qwen2_5_VLForConditionalGeneration"],
        "text_config": {**text, "model_type": "qwen2_5_vl_text"},
        "vision_config": {**QWEN_VL_VISION, "intermediate_size": vision_inter,
                          "out_hidden_size": hidden},
    }  # fmt: skip


WHISPER_LARGE = {
    "model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"],
    "d_model": 1280, "encoder_layers": 32, "decoder_layers": 32, "encoder_attention_heads": 20,
    "decoder_attention_heads": 20, "encoder_ffn_dim": 5120, "decoder_ffn_dim": 5120,
    "num_mel_bins": 128, "vocab_size": 51866, "max_source_positions": 1500,
    "max_target_positions": 448, "torch_dtype": "float16",
}  # fmt: skip

#: hub id: (config.json, the parameter count its model card or safetensors metadata states)
PUBLISHED: dict[str, tuple[dict[str, Any], float]] = {
    "Qwen/Qwen2.5-1.5B-Instruct": (_qwen2(1536, 8960, 28, 12, 2, 151936, True), 1.54e9),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": (
        _qwen2(3584, 18944, 28, 28, 4, 152064, False, 131072), 7.62e9),
    "Qwen/QwQ-32B": (_qwen2(5120, 27648, 64, 40, 8, 152064, False, 40960), 32.8e9),
    "Qwen/Qwen2.5-VL-3B-Instruct": (_qwen_vl(2048, 11008, 36, 16, 2, 151936, True, 3420), 3.75e9),
    "Qwen/Qwen2.5-VL-7B-Instruct": (_qwen_vl(3584, 18944, 28, 28, 4, 152064, False, 3420), 8.29e9),
    "Qwen/Qwen2.5-VL-32B-Instruct": (
        _qwen_vl(5120, 27648, 64, 40, 8, 152064, False, 3456), 33.5e9),
    "openai/whisper-large-v3": (WHISPER_LARGE, 1.54e9),
    "Qwen/Qwen2-Audio-7B-Instruct": (
        {
            "model_type": "qwen2_audio", "architectures": ["Qwen2AudioForConditionalGeneration"],
            "audio_config": {
                "model_type": "qwen2_audio_encoder", "d_model": 1280, "encoder_layers": 32,
                "encoder_attention_heads": 20, "encoder_ffn_dim": 5120, "num_mel_bins": 128,
                "max_source_positions": 1500,
            },
            "text_config": {**_qwen2(4096, 11008, 32, 32, 32, 156032, False, 8192)},
            "torch_dtype": "bfloat16",
        },
        8.4e9,
    ),
}  # fmt: skip


def write(root: Path) -> Path:
    """Each model's config.json alone, under its hub id (a `--model-dir` layout)."""
    import json

    for model, (config, _) in PUBLISHED.items():
        folder = root / model
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(config))
    return root
