#!/usr/bin/env python3
"""Golden vectors for SGD and learning-rate schedules.

(a) torch.optim.SGD trajectories: 5 steps on a 13-element float32 vector with fixed (seeded)
    gradients, for plain SGD, momentum, momentum with dampening and weight decay, and Nesterov
    momentum; plus one momentum run whose learning rate follows a warm-up + cosine schedule via
    torch.optim.lr_scheduler.LambdaLR (set before each step, as a Tessera caller does).

(b) Learning-rate schedules. The golden values are the CLOSED FORM evaluated in Python `math`
    (double precision), from hyper-parameters first rounded to float32 so that Swift's `Float`
    inputs are exactly the same numbers:

        warm-up + cosine, step s counted from 0, warm-up W, decay D, peak P, minimum M:
            s < W:          P · (s + 1) / W
            W ≤ s < W + D:  M + (P − M) · (1 + cos(π · (s − W) / D)) / 2
            s ≥ W + D:      M
        linear warm-up:
            s < W:          P · (s + 1) / W
            s ≥ W:          P

    Where torch's own schedulers express the same schedule, the script cross-checks the closed
    form against them and fails if they disagree by more than 1e-12 relative:
    warm-up + cosine = SequentialLR([LinearLR(1/W, 1, W − 1), CosineAnnealingLR(D, M)], [W])
    over steps 0 … W + D (CosineAnnealingLR is periodic past T_max, so it is not compared after),
    and linear warm-up = LinearLR(1/W, 1, W − 1). Settings torch cannot express this way
    (W < 2, or no warm-up) are recorded with "torch_checked": false.

Run with the reference venv: /tmp/tessera-ref/bin/python make_sgd_schedule_golden.py > sgd_schedules.json
"""
import json
import math
import struct
import warnings

import torch


def f32(x):
    """Rounds a Python float to the nearest float32 value (as a Python float)."""
    return struct.unpack("f", struct.pack("f", x))[0]


# ---------------------------------------------------------------------------------------------
# (a) SGD trajectories.
torch.manual_seed(5)
initial = torch.randn(13, dtype=torch.float32)
gradients = [torch.randn(13, dtype=torch.float32) for _ in range(5)]


def warmup_cosine(step, peak, warmup, decay, minimum):
    if step < warmup:
        return peak * (step + 1) / warmup
    if step - warmup < decay:
        return minimum + (peak - minimum) * (1 + math.cos(math.pi * (step - warmup) / decay)) / 2
    return minimum


def linear_warmup(step, peak, warmup):
    return peak * (step + 1) / warmup if step < warmup else peak


def run_sgd(name, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, schedule=None):
    param = initial.clone().requires_grad_(True)
    opt = torch.optim.SGD([param], lr=lr, momentum=momentum, dampening=dampening,
                          weight_decay=weight_decay, nesterov=nesterov)
    scheduler = None
    if schedule is not None:
        # LambdaLR multiplies the base rate by the factor; the base rate is the schedule's peak.
        factor = lambda s: warmup_cosine(s, 1.0, schedule["warmup_steps"], schedule["decay_steps"],
                                         schedule["minimum"] / schedule["peak"])
        scheduler = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    trajectory, rates = [], []
    for g in gradients:
        rates.append(opt.param_groups[0]["lr"])
        param.grad = g.clone()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        trajectory.append(param.detach().tolist())
    entry = {"name": name, "lr": lr, "momentum": momentum, "dampening": dampening,
             "weight_decay": weight_decay, "nesterov": nesterov, "trajectory": trajectory}
    if schedule is not None:
        entry["schedule"] = schedule
        entry["learning_rates"] = rates
    return entry


scheduled = {"peak": f32(0.1), "warmup_steps": 2, "decay_steps": 2, "minimum": f32(0.01)}
sgd = [
    run_sgd("plain", lr=f32(0.1)),
    run_sgd("momentum", lr=f32(0.1), momentum=f32(0.9)),
    run_sgd("dampened momentum with weight decay", lr=f32(0.1), momentum=f32(0.9),
            dampening=f32(0.1), weight_decay=f32(0.01)),
    run_sgd("nesterov", lr=f32(0.1), momentum=f32(0.9), nesterov=True),
    run_sgd("momentum with warm-up cosine schedule", lr=scheduled["peak"], momentum=f32(0.9),
            schedule=scheduled),
]

# ---------------------------------------------------------------------------------------------
# (b) Schedules.


def torch_rates(make_scheduler, base, count):
    """Learning rates torch reports for steps 0 ..< count."""
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=base)
    scheduler = make_scheduler(opt)
    rates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(count):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            scheduler.step()
    return rates


def cross_check(name, expected, actual):
    for step, (e, a) in enumerate(zip(expected, actual)):
        if abs(e - a) > 1e-12 * max(abs(e), 1e-30):
            raise SystemExit(f"{name}: step {step}: closed form {e!r} but torch {a!r}")


def warmup_cosine_setting(peak, warmup, decay, minimum, extra=5):
    peak, minimum = f32(peak), f32(minimum)
    steps = list(range(warmup + decay + extra))
    rates = [warmup_cosine(s, peak, warmup, decay, minimum) for s in steps]
    checked = warmup >= 2 and decay >= 1
    if checked:
        def make(opt):
            first = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / warmup, end_factor=1.0,
                                                      total_iters=warmup - 1)
            second = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=decay, eta_min=minimum)
            return torch.optim.lr_scheduler.SequentialLR(opt, [first, second], milestones=[warmup])
        count = warmup + decay + 1
        cross_check(f"warm-up cosine {peak} {warmup} {decay} {minimum}", rates[:count],
                    torch_rates(make, peak, count))
    return {"kind": "warmup_cosine", "peak": peak, "warmup_steps": warmup, "decay_steps": decay,
            "minimum": minimum, "steps": steps, "learning_rates": rates, "torch_checked": checked}


def linear_warmup_setting(peak, warmup, extra=5):
    peak = f32(peak)
    steps = list(range(warmup + extra))
    rates = [linear_warmup(s, peak, warmup) for s in steps]
    checked = warmup >= 2
    if checked:
        def make(opt):
            return torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / warmup, end_factor=1.0,
                                                     total_iters=warmup - 1)
        cross_check(f"linear warm-up {peak} {warmup}", rates, torch_rates(make, peak, len(steps)))
    return {"kind": "linear_warmup", "peak": peak, "warmup_steps": warmup, "steps": steps,
            "learning_rates": rates, "torch_checked": checked}


schedules = [
    warmup_cosine_setting(3e-4, 10, 40, 3e-5),
    warmup_cosine_setting(1.0, 3, 7, 0.0),
    warmup_cosine_setting(0.01, 0, 8, 0.001),
    warmup_cosine_setting(0.05, 1, 5, 0.005),
    warmup_cosine_setting(0.05, 4, 0, 0.005),
    warmup_cosine_setting(6e-4, 100, 900, 6e-5, extra=20),
    linear_warmup_setting(3e-4, 10),
    linear_warmup_setting(0.5, 1),
    linear_warmup_setting(0.5, 0),
]

print(json.dumps({
    "torch_version": torch.__version__,
    "initial": initial.tolist(),
    "gradients": [g.tolist() for g in gradients],
    "sgd": sgd,
    "schedules": schedules,
}, indent=1))
