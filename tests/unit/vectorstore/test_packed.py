"""Packed linear layers compute what the layers they replace computed."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers.activations import GELUActivation, NewGELUActivation

from vectorstore.packed import PackedLinear, pack, supported

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN")


class FeedForward(nn.Module):
    """The shape of BERT's intermediate block: `dense`, then `intermediate_act_fn`."""

    def __init__(self, act: nn.Module) -> None:
        super().__init__()
        self.dense = nn.Linear(16, 64)
        self.intermediate_act_fn = act
        self.out = nn.Linear(64, 8, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.intermediate_act_fn(self.dense(x)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("act", [GELUActivation, NewGELUActivation], ids=["erf-gelu", "tanh-gelu"])
def test_a_packed_block_computes_what_it_did(dtype: torch.dtype, act: type[nn.Module]) -> None:
    torch.manual_seed(0)
    block = FeedForward(act()).to(dtype).eval()
    if not supported(dtype):
        # This CPU's oneDNN cannot pack the format (bf16 without AVX-512 or AVX-NE-CONVERT):
        # packing refuses, and the embedder, asking the same probe, never tries.
        with pytest.raises(RuntimeError):
            pack(block)
        return
    x = torch.randn(3, 5, 16, dtype=dtype)  # batch x tokens x features: 3-D, as in a transformer
    with torch.inference_mode():
        before = block(x).float()
        assert pack(block) == 2
        after = block(x).float()
    assert isinstance(block.dense, PackedLinear) and isinstance(block.out, PackedLinear)
    assert after.shape == before.shape
    tolerance = 1e-4 if dtype == torch.float32 else 3e-2
    assert torch.allclose(after, before, atol=tolerance, rtol=tolerance)


def test_only_exact_gelu_moves_into_the_product() -> None:
    exact, approximate = FeedForward(GELUActivation()), FeedForward(NewGELUActivation())
    pack(exact)
    pack(approximate)
    # oneDNN's post-op is erf GELU: the tanh approximation must stay a step of its own.
    assert isinstance(exact.intermediate_act_fn, nn.Identity) and exact.dense.post_op == "gelu"
    assert isinstance(approximate.intermediate_act_fn, NewGELUActivation) and approximate.dense.post_op == "none"
    assert exact.out.post_op == "none"


def test_the_probe_agrees_with_what_packing_does() -> None:
    for dtype in (torch.float32, torch.bfloat16):
        try:
            PackedLinear(nn.Linear(16, 16).to(dtype))
            packs = True
        except RuntimeError:
            packs = False
        assert supported(dtype) == packs, dtype
