#!/usr/bin/env python3
"""Golden vectors for AdamW and gradient-norm clipping: torch.optim.AdamW over 5 steps on a
small parameter vector with fixed gradients, and torch.nn.utils.clip_grad_norm_."""
import json
import torch

torch.manual_seed(3)
p = torch.randn(13, dtype=torch.float32)
grads = [torch.randn(13, dtype=torch.float32) * (i + 1) for i in range(5)]
param = p.clone().requires_grad_(True)
opt = torch.optim.AdamW([param], lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
trajectory = []
for g in grads:
    param.grad = g.clone()
    opt.step()
    trajectory.append(param.detach().tolist())
clip_in = torch.randn(2, 7) * 3
clip_param = clip_in.clone().requires_grad_(True)
clip_param.grad = clip_in.clone()
norm = torch.nn.utils.clip_grad_norm_([clip_param], max_norm=1.0)
print(json.dumps({
    "initial": p.tolist(), "gradients": [g.tolist() for g in grads], "lr": 0.01, "betas": [0.9, 0.95],
    "eps": 1e-8, "weight_decay": 0.1, "trajectory": trajectory,
    "clip_input": clip_in.flatten().tolist(), "clip_max_norm": 1.0, "clip_norm": norm.item(),
    "clip_output": clip_param.grad.flatten().tolist(),
}, indent=1))
