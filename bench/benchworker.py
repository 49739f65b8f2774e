"""A benchmark worker: holds one engine and times what the driver asks for, one JSON line at a time.

Started by `benchharness.Worker` as ``python bench/benchworker.py SPEC`` (SPEC is JSON:
``kind`` and its settings). It loads its engine, answers ``{"load_s": ...}``,
then for every request line ``{"op": "time", ...}`` runs one timed call and
answers its wall time; ``{"op": "wake"}`` runs one untimed prompt (after
another worker had the CPU); ``{"op": "stop"}`` shuts the engine down. Answers go
to the original stdout; everything else the libraries print goes to stderr
(the worker's log).

Kinds and the variants they time, each on the same token ids and sampling
settings (temperature 0.7, top_p 0.9, top-k off, EOS ignored so that every
variant writes exactly the requested tokens; per-request seeds):

* ``torch``: ``seed_loop`` (the seed plan's one-prompt-at-a-time
  `model.generate`), ``transformers`` (alpacaflow's batched backend) and
  ``transformers_raw`` (batched `model.generate` on left-padded batches in
  the given order, nothing of ours around it), all on one loaded model;
  ``transformers[SIZE]`` and ``transformers_raw[SIZE]`` run at batch size
  SIZE (``auto``: alpacaflow's choice, `engines.batching`). This kind needs
  torch, transformers and alpacaflow's light modules only: no vLLM, pandas
  or jsonschema (a GPU machine without a package index has those three
  alone);
* ``vllm``: ``vllm`` (alpacaflow's backend: `LLM.enqueue` and the step loop,
  checkpoint groups, the prompt check) and ``vllm_raw`` (`LLM.generate`),
  on one engine;
* ``judge``: ``ours`` (alpacaflow's annotate path, `judge.judge_pairs`:
  alpaca_eval's annotator with a fresh cache, parsing, context fitting; no
  parse retries, which would judge again) and ``raw`` (the same engine's
  `LLM.generate` on the prompts the annotator sent in its last run).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TEMPERATURE, TOP_P = 0.7, 0.9


def peak_rss_mb() -> float:
    """Peak resident memory of this process (an in-process vLLM engine included)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return "CPU"


def prompt_rows(source: str) -> list[dict[str, Any]]:
    """The demo prompts (``demo``) or the 805 synthetic AlpacaEval-shaped ones, with their reference outputs."""
    if source == "demo":
        return json.loads((REPO / "test" / "demo" / "prompts.json").read_text(encoding="utf-8"))
    from alpacaflow.testing.synthetic import synthetic_prompts

    return synthetic_prompts(805)


def instructions(source: str, n: int) -> list[str]:
    """`n` instructions of `source`, cycled."""
    rows = prompt_rows(source)
    return [rows[i % len(rows)]["instruction"] for i in range(n)]


def generation_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """The generation settings of a worker: for ``torch`` what the transformers backend reads, for ``vllm`` all."""
    if spec["kind"] == "torch":  # no schema defaults: validating a config needs jsonschema
        return {"backend": "transformers", "device": spec["device"], "dtype": "auto", "trust_remote_code": False,
                "temperature": TEMPERATURE, "top_p": TOP_P, "batch_size": spec["batch_size"]}  # fmt: skip
    from alpacaflow.config import defaults

    cuda = spec["device"] == "cuda"
    return {
        **defaults("generation"),
        "temperature": TEMPERATURE,
        "top_p": TOP_P,
        "device": spec["device"],
        "dtype": "auto",
        "max_model_len": spec["max_model_len"],
        "gpu_memory_utilization": spec["gpu_memory_utilization"],
        "enforce_eager": not cuda,
        "batch_size": spec["batch_size"],
        "max_num_seqs": spec["max_num_seqs"],
        "checkpoint_every": 64,
    }


class Generation:
    """A loaded model (transformers or vLLM) and the chat-formatted prompts of each case."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from alpacaflow.stopping import StopRules
        from transformers import AutoTokenizer

        self.spec = spec
        self.generation = generation_settings(spec)
        self.tokenizer = AutoTokenizer.from_pretrained(spec["model"])
        no_stop = StopRules([], [], [])  # EOS ignored: every request writes its token budget
        if spec["kind"] == "vllm":
            from alpacaflow.engines.vllm_generate import VLLMBackend

            self.backend: Any = VLLMBackend(spec["model"], None, self.generation, no_stop, ignore_eos=True)
        else:
            from alpacaflow.engines.transformers_generate import TransformersBackend

            self.backend = TransformersBackend(
                spec["model"], None, self.generation, no_stop, tokenizer=self.tokenizer, ignore_eos=True
            )
        self.prompts: dict[int, list[list[int]]] = {}

    def _token_ids(self, n: int) -> list[list[int]]:
        from alpacaflow.formatting import format_prompt

        if n not in self.prompts:
            texts = instructions(self.spec["prompts"], n)
            self.prompts[n] = [format_prompt(self.tokenizer, t, "chat").token_ids for t in texts]
        return self.prompts[n]

    def time(self, variant: str, tokens: int, prompts: int, limit: int | None = None) -> dict[str, Any]:
        """One timed call of `variant` on the case's first `limit` (default: all) prompts."""
        from alpacaflow.engines.base import Request

        ids = self._token_ids(prompts)[:limit]
        requests = [Request(p, tokens, 42 + i) for i, p in enumerate(ids)]
        name, _, size = variant.rstrip("]").partition("[")
        self.size = None if size in ("", "auto") else int(size)  # None: the worker's batch_size setting
        run = {
            "seed_loop": self._seed_loop,
            "transformers": self._ours,
            "transformers_raw": self._transformers_raw,
            "vllm": self._ours,
            "vllm_raw": self._vllm_raw,
        }[name]
        start = time.perf_counter()
        output_tokens = run(requests)
        wall = time.perf_counter() - start
        answer = {"wall_s": wall, "output_tokens": output_tokens, "timed_prompts": len(requests)}
        if name == "transformers":  # the size the backend ended at (auto: its choice) and its retries
            answer.update(batch_size_used=self.backend.batch_size,
                          out_of_memory_retries=self.backend.out_of_memory_retries)  # fmt: skip
        return answer

    def _ours(self, requests: list[Any]) -> int:
        if self.spec["kind"] == "vllm":
            return sum(c.generated_tokens for c in self.backend.generate(requests))
        return sum(c.generated_tokens for c in self.backend.generate(requests, batch_size=self.size))

    def _sample_config(self, tokens: int) -> Any:
        from transformers import GenerationConfig

        pad = self.tokenizer.pad_token_id
        return GenerationConfig(
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=True,
            temperature=TEMPERATURE,
            top_p=TOP_P,
            top_k=0,
            pad_token_id=pad if pad is not None else self.backend.pad_id,
        )

    def _seed_loop(self, requests: list[Any]) -> int:
        """The seed plan: one prompt at a time through `model.generate`, sampling."""
        import torch

        model, total = self.backend.model, 0
        config = self._sample_config(requests[0].max_new_tokens)
        for r in requests:
            torch.manual_seed(r.seed)
            with torch.inference_mode():
                out = model.generate(
                    input_ids=torch.tensor([r.token_ids], device=model.device), generation_config=config
                )
            total += out.shape[1] - len(r.token_ids)
        return total

    def _transformers_raw(self, requests: list[Any]) -> int:
        """Batched `model.generate`, left padding, batches in the given order: transformers alone."""
        import torch

        model, total, size = self.backend.model, 0, self.size or self.generation["batch_size"]
        if not isinstance(size, int):
            raise ValueError("the raw engine needs a batch size: transformers_raw[SIZE]")
        config = self._sample_config(requests[0].max_new_tokens)
        pad = config.pad_token_id
        for b in range(0, len(requests), size):
            batch = requests[b : b + size]
            width = max(len(r.token_ids) for r in batch)
            ids = [[pad] * (width - len(r.token_ids)) + r.token_ids for r in batch]
            mask = [[0] * (width - len(r.token_ids)) + [1] * len(r.token_ids) for r in batch]
            torch.manual_seed(batch[0].seed)
            with torch.inference_mode():
                out = model.generate(
                    input_ids=torch.tensor(ids, device=model.device),
                    attention_mask=torch.tensor(mask, device=model.device),
                    generation_config=config,
                )
            total += (out.shape[1] - width) * len(batch)
        return total

    def _vllm_raw(self, requests: list[Any]) -> int:
        """`LLM.generate` on the same engine, token ids and sampling settings: vLLM alone."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = [
            SamplingParams(
                temperature=TEMPERATURE,
                top_p=TOP_P,
                top_k=0,
                max_tokens=r.max_new_tokens,
                seed=r.seed,
                ignore_eos=True,
                detokenize=False,
            )
            for r in requests
        ]
        outputs = self.backend.llm.generate(
            [TokensPrompt(prompt_token_ids=r.token_ids) for r in requests], params, use_tqdm=False
        )
        return sum(len(o.outputs[0].token_ids) for o in outputs)

    def wake(self) -> dict[str, Any]:
        """One prompt, one token through the engine, untimed."""
        return self.time("vllm_raw" if self.spec["kind"] == "vllm" else "transformers_raw[1]", 1, 1)

    def close(self) -> None:
        if self.spec["kind"] == "vllm":
            self.backend.close()


class Capture:
    """Wraps a judge decoder; keeps the prompts it was sent since `reset`."""

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.prompts: list[str] = []

    def reset(self) -> None:
        self.prompts = []

    def __call__(self, prompts: list[str], **kwargs: Any) -> Any:
        self.prompts += list(prompts)
        return self.decoder(prompts=prompts, **kwargs)


def judge_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """The judge section as the workflow resolves it (schema defaults), for the benchmark's judge."""
    from alpacaflow.config import validate_config

    judge = {
        "backend": "vllm",
        "method": spec["method"],
        "name": f"bench_{spec['method']}",
        "model": spec["model"],
        "device": spec["device"],
        "tensor_parallel_size": 1,
        "max_model_len": spec["max_model_len"],
        "max_new_tokens": spec["judge_tokens"],
        "batch_size": spec["batch_size"],
        "gpu_memory_utilization": spec["gpu_memory_utilization"],
        "enforce_eager": spec["device"] != "cuda",
        "parse_retries": 0,  # a retry judges again: more work, not overhead
        "checkpoint_every": spec["pairs"],
    }
    config = validate_config({"models": {"bench": {"path": spec["model"]}}, "judge": judge})
    return config["judge"]


def judge_pair_table(source: str, n: int) -> Any:
    """`n` pairs (instruction, reference, another prompt's reference as the model output), unique instructions."""
    import pandas as pd

    rows = prompt_rows(source)
    picked = [rows[i % len(rows)] for i in range(n)]
    return pd.DataFrame(
        {
            "prompt_index": range(n),
            "dataset": "bench",
            "instruction": [f"{r['instruction']} (#{i})" for i, r in enumerate(picked)],
            "output_1": [r["output"] for r in picked],
            "generator_1": "reference",
            "output_2": [rows[(i + 7) % len(rows)]["output"] for i in range(n)],
            "generator_2": "bench",
        }
    )


class Judge:
    """One judge method on one engine: alpacaflow's annotate path and vLLM alone on its prompts."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from alpacaflow.judge import annotator_config, judge_decoder

        self.judge = judge_settings(spec)
        self.pairs = judge_pair_table(spec["prompts"], spec["pairs"])
        self.capture = Capture(judge_decoder(self.judge))
        self.decoder_kwargs = annotator_config(self.judge)[0].get("completions_kwargs", {})
        self.wake()  # starts the engine

    def wake(self) -> dict[str, Any]:
        """One prompt through the engine, untimed (not recorded as a prompt the annotator sent)."""
        self.capture.decoder(prompts=["Say m or M."], **self.decoder_kwargs)
        return {}

    def time(self, variant: str) -> dict[str, Any]:
        start = time.perf_counter()
        if variant == "ours":
            parsed = self._ours()
        else:
            parsed = self._raw()
        return {"wall_s": time.perf_counter() - start, "pairs": len(self.pairs), "parsed": parsed}

    def _ours(self) -> int:
        from alpacaflow.judge import judge_pairs

        self.capture.reset()
        with tempfile.TemporaryDirectory() as tmp:
            _, counts = judge_pairs(self.pairs, self.judge, Path(tmp) / "cache.json", decoder=self.capture)
        return counts["n"] - counts["unparsed"]

    def _raw(self) -> int | None:
        from vllm import SamplingParams

        prompts = self.capture.prompts
        if not prompts:
            raise RuntimeError("time 'ours' first: the raw run judges the prompts the annotator sent")
        if self.judge["method"] == "weighted":
            decoder = self.capture.decoder
            params = SamplingParams(
                temperature=0.0,
                max_tokens=1,
                logprobs=len(decoder.choice_ids),
                logprob_token_ids=list(decoder.choice_ids.values()),
            )
            decoder.llm.generate(prompts, params, use_tqdm=False)  # vLLM tokenizes the texts itself
        else:
            llm = sys.modules["alpaca_eval.decoders.vllm_local"].llm
            params = SamplingParams(max_tokens=self.judge["max_new_tokens"], temperature=0.0, top_p=1.0)
            llm.generate(prompts, params, use_tqdm=False)
        return None  # nothing parsed: the raw engine's text is not read

    def close(self) -> None:
        from alpacaflow.judge import close_decoder

        close_decoder(self.capture.decoder)


def main() -> None:
    spec = json.loads(sys.argv[1])
    reply = os.fdopen(os.dup(1), "w", buffering=1)  # answers only; library output goes to the log
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        start = time.perf_counter()
        engine: Any = Judge(spec) if spec["kind"] == "judge" else Generation(spec)
        ready = {"load_s": time.perf_counter() - start, "device_name": device_name(spec["device"])}
    except Exception:
        reply.write(json.dumps({"error": traceback.format_exc(limit=3).strip().splitlines()[-1]}) + "\n")
        traceback.print_exc()
        raise SystemExit(1) from None
    reply.write(json.dumps(ready) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        if op == "stop":
            break
        try:
            answer = {**(engine.wake() if op == "wake" else engine.time(**request)), "peak_rss_mb": peak_rss_mb()}
        except Exception:
            traceback.print_exc()
            answer = {"error": traceback.format_exc().strip().splitlines()[-1]}
        reply.write(json.dumps(answer) + "\n")
    engine.close()
    reply.write(json.dumps({"peak_rss_mb": peak_rss_mb()}) + "\n")
    reply.flush()
    sys.stderr.flush()
    os._exit(0)  # the engine is shut down; the interpreter's teardown after vLLM takes 5 to 25 s


if __name__ == "__main__":
    main()
