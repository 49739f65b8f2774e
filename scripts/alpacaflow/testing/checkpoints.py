"""How a test model folder is built and saved: the tiny architectures, random weights, ``save_pretrained``.

Shared by the random-weight models (`tiny`) and the scripted ones (`scripted`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Architecture of the tiny models. head_dim = 256 / 4 = 64, which vLLM's CPU
#: attention accepts (it rejects 16).
TINY_ARCH = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
}


#: Architecture of the real-tokenizer models: as TINY_ARCH, with Llama-3.2's RoPE and tied embeddings.
LLAMA3_ARCH = {
    **TINY_ARCH,
    "max_position_embeddings": 131072,
    "tie_word_embeddings": True,
    "rope_theta": 500000.0,
    "rope_scaling": {
        "rope_type": "llama3",
        "factor": 32.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    },
}


#: Llama-3.2-1B's shape (1.24 B parameters: 16 layers, hidden 2048, 32 query and 8 key-value heads of 64,
#: MLP 8192, tied embeddings) on the real tokenizer: what the GPU benchmark times, with random weights.
LLAMA32_1B_ARCH = {
    **LLAMA3_ARCH,
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
}


def _is_built(out_dir: Path) -> bool:
    return (out_dir / "config.json").exists() and (out_dir / "tokenizer.json").exists()


def _save(out_dir: Path, model: Any, tokenizer: Any, eos_ids: list[int]) -> Path:
    """Save `model` and `tokenizer` with a generation config (renamed into place when complete)."""
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_ids if len(eos_ids) > 1 else eos_ids[0],
        pad_token_id=tokenizer.pad_token_id,
    )
    tmp = out_dir.with_name(out_dir.name + ".partial")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(out_dir)
    return out_dir


def _save_random_llama(
    out_dir: Path,
    tokenizer: Any,
    eos_ids: list[int],
    arch: dict[str, Any],
    *,
    num_layers: int,
    seed: int,
    dtype: str = "float32",
) -> Path:
    """A random-weight `LlamaForCausalLM` for `tokenizer`, saved with it in `dtype` to `out_dir` (renamed in)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        num_hidden_layers=num_layers,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        # Wide initialisation: peaked next-token distributions, so greedy
        # decoding has no near-ties and the backends can be compared exactly.
        initializer_range=0.2,
        torch_dtype=dtype,
        **arch,
    )
    torch.manual_seed(seed)
    return _save(out_dir, LlamaForCausalLM(config).to(getattr(torch, dtype)), tokenizer, eos_ids)
