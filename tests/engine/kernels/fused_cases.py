"""Groups both fused kernels are tested on (tests/test_fused.py: Triton in its interpreter;
tests/test_fused_native.py: C), each against the eager engine."""

from __future__ import annotations

from torchground import Spec

CASES: dict[str, list[Spec]] = {
    # 17 models, one batch order on shared data: each point gathered once, broadcast
    "sgd-shared": [Spec(hidden=(3,), n_samples=46, batch_size=10, epochs=3, lr=0.01 * (1 + i % 5), init_seed=i) for i in range(17)],
    # an order per model, regression with a linear output, half MSE, Adam with weight decay
    "adam-orders": [Spec(dataset="reg-plane", hidden=(4,), activation="sigmoid", output_activation="identity", loss="half_mse",
                         optimizer="adam", lr=0.05, weight_decay=0.01, n_samples=40, batch_size=8, epochs=3, init_seed=i,
                         shuffle_seed=i) for i in range(3)],
    # SGD with nesterov momentum and the L2 penalty (its first epoch is eager)
    "momentum-l2": [Spec(hidden=(4, 2), activation="relu", l2=0.001, optimizer_args={"momentum": 0.9, "nesterov": True},
                         n_samples=40, batch_size=10, epochs=4, init_seed=i) for i in range(2)],
    # regression on each model's own data (seeds) with validation and test sets: per-model points everywhere
    "own-data-val-test": [Spec(dataset="reg-gauss", hidden=(3, 3), output_activation="identity", n_samples=60, noise=10,
                               train_pct=50, val_pct=30, test_pct=20, batch_size=5, epochs=3, seed=i, init_seed=i) for i in range(5)],
    # the L1 penalty with the Playground's dead-weight rule, l1 = 0 for some models, with L2, Adam
    "l1-dead-weights": [Spec(hidden=(4, 4), l1=(0.0, 0.01, 0.1)[i % 3], l2=0.001 * (i % 2), optimizer="adam", lr=0.05,
                             n_samples=40, batch_size=6, epochs=3, init_seed=i) for i in range(6)],
    # one model of three diverges (lr 50): it leaves the group, the others train on in a smaller one
    "one-diverges": [Spec(activation="relu", output_activation="identity", epochs=5, n_samples=60, lr=lr, init_seed=i)
                     for i, lr in enumerate((0.03, 50.0, 0.01))],
    # RMSprop is not in the kernels: Inductor trains these
    "not-covered": [Spec(hidden=(3,), optimizer="rmsprop", lr=0.01, n_samples=40, batch_size=10, epochs=3, init_seed=i)
                    for i in range(2)],
}
