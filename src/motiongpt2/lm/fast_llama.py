"""A lean decoding forward pass for Llama-architecture causal LMs (LLaMA 2/3, SmolLM2, Mistral, Qwen2).

On a CPU one decoding step of SmolLM2-135M reads ~430 MB of float32 weights (~18 ms at the measured
~24 GB/s) but the Hugging Face forward spends as long again in Python: seven linear modules, a cache
object, mask building and wrappers in each of the 30 layers.  :class:`FastLlama` computes the same
function with less per step:

* fused projections: ``q, k, v`` in one matmul and ``gate, up`` in one (4 linear calls per layer instead
  of 7).  The model's own ``q/k/v/gate/up`` weights become views of the fused tensors, so float weights
  are not duplicated;
* a preallocated KV cache written in place (capacity doubles when a sequence outgrows it);
* the model's own rotary-embedding module (every RoPE scaling type of transformers), RMSNorm as
  ``torch.nn.functional.rms_norm``, and ``scaled_dot_product_attention`` with grouped KV heads;
* optional int8 (``quantize="int8"``): the fused and output projections of every layer dynamically
  quantized (CPU), the output head left in float for :func:`~.decoding.decode`'s restricted head.

It takes and returns what :func:`~.decoding.decode` uses (``input_ids``, ``attention_mask`` with left
padding, ``position_ids``, ``cache``, ``logits_to_keep`` → ``.logits``, ``.cache``).  :meth:`FastLlama.build`
checks it against the Hugging Face forward on a padded probe batch (prompt and two cached steps) and
gives ``None`` — callers keep the Hugging Face model — for any other architecture or any mismatch.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["FastLlama", "KVCache", "SUPPORTED_MODEL_TYPES"]

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2")
_PROBE_TOLERANCE = 1e-3   # max |Δlogit| / max(1, max |logit|) between the two forwards (float32: ~1e-6)


@dataclass
class KVCache:
    """Keys and values of every layer: ``(B, KV heads, capacity, head dim)`` each; ``length`` filled."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    length: int = 0

    @classmethod
    def empty(cls, n_layers: int, batch: int, n_kv: int, capacity: int, head_dim: int, like: torch.Tensor):
        shape = (batch, n_kv, capacity, head_dim)
        return cls([like.new_zeros(shape) for _ in range(n_layers)], [like.new_zeros(shape) for _ in range(n_layers)])

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    def reserve(self, total: int) -> None:
        """Grow (double) the buffers so that ``total`` positions fit."""
        if total <= self.capacity:
            return
        new = max(total, 2 * self.capacity)

        def grow(t: torch.Tensor) -> torch.Tensor:
            out = t.new_zeros((*t.shape[:2], new, t.shape[3]))
            out[:, :, :self.length] = t[:, :, :self.length]
            return out
        self.keys = [grow(t) for t in self.keys]
        self.values = [grow(t) for t in self.values]


@dataclass
class FastOutput:
    logits: torch.Tensor
    cache: KVCache


def _fuse(linears: list[nn.Linear]) -> nn.Linear:
    """One ``nn.Linear`` computing ``linears`` side by side; their weights (and biases) become views of
    the fused ones (no second copy)."""
    w = torch.cat([lin.weight.detach() for lin in linears])
    has_bias = any(lin.bias is not None for lin in linears)
    fused = nn.Linear(w.shape[1], w.shape[0], bias=has_bias, device=w.device, dtype=w.dtype)
    fused.weight = nn.Parameter(w, requires_grad=False)
    if has_bias:
        b = torch.cat([lin.bias.detach() if lin.bias is not None else w.new_zeros(lin.out_features)
                       for lin in linears])
        fused.bias = nn.Parameter(b, requires_grad=False)
    start = 0
    for lin in linears:
        stop = start + lin.out_features
        lin.weight = nn.Parameter(fused.weight[start:stop], requires_grad=False)
        if lin.bias is not None:
            lin.bias = nn.Parameter(fused.bias[start:stop], requires_grad=False)
        start = stop
    return fused


def _scaled_columns(linear: nn.Linear, scale: torch.Tensor) -> nn.Linear:
    """A new ``nn.Linear`` computing ``linear(x * scale)`` (``scale``: ``(in,)``), weights copied."""
    out = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None,
                    device=linear.weight.device, dtype=linear.weight.dtype)
    with torch.no_grad():
        out.weight.copy_(linear.weight * scale[None, :])
        if linear.bias is not None:
            out.bias.copy_(linear.bias)
    return out.requires_grad_(False)


class FastLlama(nn.Module):
    """The lean forward of a Llama-architecture ``*ForCausalLM`` (module docstring); build it with
    :meth:`build`.  Inference only: the model's weights are shared, and its ``q/k/v/gate/up`` weights
    are re-pointed to views of the fused ones."""

    def __init__(self, model: nn.Module):
        super().__init__()
        cfg = model.config
        base = model.model
        self.config = cfg
        self.embed = base.embed_tokens
        self.rotary = base.rotary_emb
        self.lm_head = model.get_output_embeddings()
        self.n_heads = int(cfg.num_attention_heads)
        self.n_kv = int(getattr(cfg, "num_key_value_heads", None) or self.n_heads)
        self.head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads)
        self.hidden = int(cfg.hidden_size)
        self.eps = float(cfg.rms_norm_eps)
        self.scaling = self.head_dim ** -0.5
        layers = list(base.layers)
        self.act = layers[0].mlp.act_fn
        self.qkv = nn.ModuleList(_fuse([lay.self_attn.q_proj, lay.self_attn.k_proj, lay.self_attn.v_proj])
                                 for lay in layers)
        self.o = nn.ModuleList(lay.self_attn.o_proj for lay in layers)
        self.gate_up = nn.ModuleList(_fuse([lay.mlp.gate_proj, lay.mlp.up_proj]) for lay in layers)
        self.down = nn.ModuleList(lay.mlp.down_proj for lay in layers)
        self.norm_in = [lay.input_layernorm.weight for lay in layers]
        self.norm_post = [lay.post_attention_layernorm.weight for lay in layers]
        self.norm_out = base.norm.weight
        self._relist()

    # ------------------------------------------------------------------ construction
    @classmethod
    def supports(cls, model: nn.Module) -> bool:
        """Whether ``model`` looks like a plain Llama-architecture causal LM this pass reproduces."""
        cfg = getattr(model, "config", None)
        if cfg is None or getattr(cfg, "model_type", None) not in SUPPORTED_MODEL_TYPES:
            return False
        if getattr(cfg, "is_encoder_decoder", False) or hasattr(model, "peft_config"):
            return False
        window = getattr(cfg, "sliding_window", None) if getattr(cfg, "use_sliding_window", True) else None
        if window is not None and int(window) < int(getattr(cfg, "max_position_embeddings", 0) or 0):
            return False   # sliding-window attention is not reproduced
        base = getattr(model, "model", None)
        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        if base is None or type(head) is not nn.Linear or not hasattr(base, "rotary_emb"):
            return False
        for lay in getattr(base, "layers", []):
            a, m = getattr(lay, "self_attn", None), getattr(lay, "mlp", None)
            names = [getattr(a, n, None) for n in ("q_proj", "k_proj", "v_proj", "o_proj")] + \
                [getattr(m, n, None) for n in ("gate_proj", "up_proj", "down_proj")]
            if any(type(lin) is not nn.Linear for lin in names):
                return False
        return True

    @classmethod
    def build(cls, model: nn.Module, quantize: str | None = None) -> "FastLlama | None":
        """The lean pass of ``model`` (merged, eval mode), checked against the model's own forward on a
        padded probe batch; ``None`` (and ``model`` left unchanged in function) when the architecture
        is not supported or the check fails.  ``quantize="int8"``: int8 projections after the check."""
        if not cls.supports(model):
            return None
        fast = cls(model).eval()
        problem = fast.check_against(model)
        if problem:
            warnings.warn(f"lean decoding pass not used ({problem}); decoding with the transformers forward",
                          RuntimeWarning, stacklevel=2)
            return None
        if quantize == "int8":
            fast.quantize_int8()
        return fast

    def quantize_int8(self) -> None:
        """Dynamic int8 quantization of every layer's projections (CPU), in place.  The RMSNorm weights
        in front of ``qkv`` and ``gate_up`` are folded into their columns first (``W·diag(w)``, on copies:
        the model's own float weights stay as they are), which saves one multiply per norm and step."""
        from .inference import quantize_int8

        for i in range(len(self.qkv)):
            self.qkv[i] = _scaled_columns(self.qkv[i], self.norm_in[i])
            self.gate_up[i] = _scaled_columns(self.gate_up[i], self.norm_post[i])
            self.norm_in[i] = self.norm_post[i] = None
        quantize_int8(self, skip=self.lm_head)
        self._relist()

    @torch.no_grad()
    def check_against(self, model: nn.Module) -> str | None:
        """Compare with ``model``'s forward on a left-padded probe batch: the prompt and two cached steps.
        Returns what differs, or ``None``."""
        dev = self.embed.weight.device
        vocab = self.lm_head.weight.shape[0]
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, vocab, (2, 9), generator=g).to(dev)
        mask = torch.ones_like(ids)
        mask[1, :3] = 0
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        ref_ids = ids
        out = self(input_ids=ids, attention_mask=mask, position_ids=pos)
        cache, got = out.cache, [out.logits[:, -1]]
        ref = [model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1]]
        for step in range(2):
            tok = got[-1].argmax(-1, keepdim=True)
            mask = torch.cat([mask, torch.ones_like(tok)], -1)
            pos = pos[:, -1:] + 1
            out = self(input_ids=tok, attention_mask=mask, position_ids=pos, cache=cache)
            cache = out.cache
            got.append(out.logits[:, -1])
            ref_ids = torch.cat([ref_ids, tok], -1)
            full_pos = (mask.cumsum(-1) - 1).clamp(min=0)
            ref.append(model(input_ids=ref_ids, attention_mask=mask, position_ids=full_pos).logits[:, -1])
        for a, b in zip(got, ref):
            if not torch.isfinite(a).all():
                return "non-finite logits"
            scale = max(1.0, float(b.abs().max()))
            err = float((a.float() - b.float()).abs().max()) / scale
            if err > _PROBE_TOLERANCE:
                return f"logits differ by {err:.1e} (relative) from the transformers forward"
        return None

    # ------------------------------------------------------------------ decoding interface
    def _relist(self) -> None:
        """Per layer ``(qkv, o, gate_up, down, input norm weight, post-attention norm weight)`` as a plain
        list (no ModuleList indexing per step); rebuilt whenever modules are swapped."""
        self._layers = list(zip(self.qkv, self.o, self.gate_up, self.down, self.norm_in, self.norm_post))

    @property
    def device(self) -> torch.device:
        return self.embed.weight.device

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def get_input_embeddings(self) -> nn.Module:
        return self.embed

    def _norm(self, x: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
        """RMSNorm over the hidden size (``weight=None``: folded into the next projection)."""
        y = F.rms_norm(x.float(), (self.hidden,), None, self.eps).to(x.dtype)
        return y if weight is None else y * weight

    def _rope(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin

    @staticmethod
    def _mask(attention_mask: torch.Tensor, start: int, T: int, dtype: torch.dtype) -> torch.Tensor:
        """``(B, 1, T, start+T)`` additive mask (0 or -inf; faster than a bool mask in SDPA on a CPU):
        causal and not padding; a padded query sees itself (no empty rows, so no NaN reaches the cache)."""
        S = start + T
        keys = attention_mask[:, :S].bool()
        if T == 1:
            allowed = keys[:, None, None, :]
        else:
            q = torch.arange(start, S, device=keys.device)[:, None]
            k = torch.arange(S, device=keys.device)[None, :]
            allowed = ((k <= q)[None] & keys[:, None, :]) | (k == q)[None]
            allowed = allowed[:, None]
        return torch.zeros(allowed.shape, dtype=dtype, device=keys.device).masked_fill_(~allowed, float("-inf"))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, cache: KVCache | None = None, use_cache: bool = True,
                return_dict: bool = True, logits_to_keep: int = 0, **_) -> FastOutput:
        """``input_ids`` ``(B, T)`` after ``cache.length`` cached positions; ``attention_mask``
        ``(B, cache.length + T)`` (0 = left padding); ``position_ids`` ``(B, T)``.  Logits ``(B, T', V)``
        (``T' = logits_to_keep`` last positions, all when 0) and the updated cache."""
        B, T = input_ids.shape
        x = self.embed(input_ids)
        if cache is None:
            cache = KVCache.empty(len(self.qkv), B, self.n_kv, T + 64, self.head_dim, x)
        start = cache.length
        S = start + T
        cache.reserve(S)
        if attention_mask is None:
            attention_mask = torch.ones((B, S), dtype=torch.long, device=x.device)
        if position_ids is None:
            position_ids = torch.arange(start, S, device=x.device)[None].expand(B, T)
        cos, sin = self.rotary(x, position_ids)
        cos, sin = cos[:, None].to(x.dtype), sin[:, None].to(x.dtype)
        mask = self._mask(attention_mask, start, T, x.dtype)
        gqa = self.n_kv != self.n_heads
        H, KV, Dh = self.n_heads, self.n_kv, self.head_dim
        for i, (qkv, o, gate_up, down, norm_in, norm_post) in enumerate(self._layers):
            q_k, v = qkv(self._norm(x, norm_in)).split([(H + KV) * Dh, KV * Dh], dim=-1)
            q_k = self._rope(q_k.view(B, T, H + KV, Dh).transpose(1, 2), cos, sin)   # one rotation for q and k
            cache.keys[i][:, :, start:S] = q_k[:, H:]
            cache.values[i][:, :, start:S] = v.view(B, T, KV, Dh).transpose(1, 2)
            att = F.scaled_dot_product_attention(q_k[:, :H], cache.keys[i][:, :, :S], cache.values[i][:, :, :S],
                                                 attn_mask=mask, scale=self.scaling, enable_gqa=gqa)
            x = x + o(att.transpose(1, 2).reshape(B, T, -1))
            g, u = gate_up(self._norm(x, norm_post)).chunk(2, dim=-1)
            x = x + down(self.act(g) * u)
        cache.length = S
        x = self._norm(x, self.norm_out)
        if logits_to_keep:
            x = x[:, -logits_to_keep:]
        return FastOutput(self.lm_head(x), cache)
