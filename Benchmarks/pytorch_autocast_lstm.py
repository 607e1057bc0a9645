"""What torch.autocast("cpu", dtype=torch.bfloat16) runs for nn.LSTM training on this CPU, and how fast.

nn.LSTM + nn.Linear + Adam on random data of shape (I, H, O, B, T), float32 and autocast alternating
(2 rounds each, 5 timed steps after 2 untimed), then the autograd profiler's LSTM ops under autocast.
docs/results/kernels.md ("bf16 mixed precision") quotes it. Usage:
    python3 Benchmarks/pytorch_autocast_lstm.py 128 512 128 64 100
"""
import time, torch, sys
torch.set_num_threads(2)
I,H,O,B,T = [int(x) for x in sys.argv[1:6]]
lstm = torch.nn.LSTM(I,H,batch_first=False); lin = torch.nn.Linear(H,O)
opt = torch.optim.Adam(list(lstm.parameters())+list(lin.parameters()), lr=1e-3)
x = torch.randn(T,B,I); y = torch.randint(0,O,(T*B,))
def step(ac):
    opt.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=ac):
        h,_ = lstm(x); z = lin(h.reshape(T*B,H))
        loss = torch.nn.functional.cross_entropy(z.float(), y)
    loss.backward(); opt.step(); return h.dtype
for ac in [False, True, False, True]:
    dt = step(ac); step(ac)
    ts=[]
    for i in range(5):
        t0=time.perf_counter(); step(ac); ts.append(time.perf_counter()-t0)
    ts.sort(); print(f"autocast={ac} lstm output dtype={dt} median {B*T/ts[2]:.0f} tok/s (min-max {B*T/ts[-1]:.0f}-{B*T/ts[0]:.0f})", flush=True)
with torch.autograd.profiler.profile() as prof:
    step(True)
names = sorted({e.name for e in prof.function_events if 'rnn' in e.name.lower() or 'lstm' in e.name.lower()})
print("ops under autocast:", names)
