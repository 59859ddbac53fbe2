"""Your own LSTM classifier under tbptt_viz's analyses: wrap it in the contract, then call the public functions."""
import torch
from torch import nn

from tbptt_viz import attribute, gradient_flow


class MyClassifier(nn.Module):
    """Somebody's own model: its own names, sizes and vocabulary (here raw ids 1..999)."""

    def __init__(self, vocab_size: int = 1000, embed: int = 24, hidden: int = 40):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, embed)
        self.rnn = nn.LSTM(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, ids):                      # (B, T) -> (B,) logits at the last step
        h, _ = self.rnn(self.tok(ids))
        return self.out(h[:, -1]).squeeze(-1)


class Contract(nn.Module):
    """The three parts tbptt_viz reads, shared with (not copied from) the wrapped model."""

    def __init__(self, model: MyClassifier):
        super().__init__()
        self.embedding, self.lstm, self.head = model.tok, model.rnn, model.out


torch.manual_seed(0)
mine = MyClassifier().eval()
model = Contract(mine)
ids = torch.randint(1, 1000, (60,))              # one sequence of raw ids; id 0 is the "absent word" baseline

flow = gradient_flow(model, ids, scheme="last-k", k=20, label=1)
print(f"last-K (K=20): {int((flow.input_grad_norm == 0).sum())} of {flow.T} positions get exactly zero gradient")
print(f"cosine(last-K, full) of the LSTM's weight gradient at K=20: {flow.sweep_cosine[19]:.3f}")

occlusion = attribute(model, ids, "occlusion")   # logit(x) - logit(x with token t replaced by id 0)
ig = attribute(model, ids, "integrated_gradients")
print(f"integrated gradients converged: {ig.converged}, completeness gap {ig.completeness_gap:+.1e}")
with torch.no_grad():                            # your own forward agrees with what the analyses read
    assert abs(mine(ids[None]).item() - occlusion.logit) < 1e-5
