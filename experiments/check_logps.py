"""Does GRPO train on the log-probabilities the model really assigns? A check of the training forward.

Runs one GRPO step at a negligible learning rate from a base, captures the per-token
log-probabilities TRL computes for the rollouts (its left-padded, batched forward with image
features and `mm_token_type_ids`), and recomputes each rollout alone, unpadded, with a plain
forward. A mismatch would mean the policy gradient is taken at the wrong tokens or the wrong
image positions (M-RoPE), which would damage image reading whatever the reward says.

    python experiments/check_logps.py --base toy --capability perception

It wraps a private TRL method (`GRPOTrainer._get_per_token_logps_and_entropies`, TRL 1.16),
so it may need updating with TRL. On the toy base it found no mismatch (docs/toy-world.md).
"""

from __future__ import annotations

import argparse
import inspect
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="toy", help="model directory, or 'toy'")
    ap.add_argument("--capability", choices=("perception", "text", "visual"), default="perception")
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--group", type=int, default=2)
    args = ap.parse_args()
    _compare(_capture(args))


def _capture(args: argparse.Namespace) -> dict:
    """Run one GRPO step; return the arguments and result of TRL's first log-prob forward."""
    import torch
    from trl.trainer.grpo_trainer import GRPOTrainer

    from seethink.config import StageSpec, load_recipe, stage_trainer
    from seethink.data.tasks import get_task
    from seethink.models.resolve import resolve_model
    from seethink.recipes import preset_path
    from seethink.training.stage import run_stage
    from seethink.utils import pin_threads

    pin_threads()
    seen: dict = {}
    original = GRPOTrainer._get_per_token_logps_and_entropies
    signature = inspect.signature(original)

    def capture(self, *a, **k):  # type: ignore[no-untyped-def]
        out = original(self, *a, **k)
        if not seen:  # the first call: the rollouts of step 1
            bound = signature.bind(self, *a, **k)
            bound.apply_defaults()
            seen.update({n: v.detach().clone() if torch.is_tensor(v) else v for n, v in bound.arguments.items()})
            seen["logps"] = out[0].detach().clone()  # (B, logits_to_keep)
        return out

    GRPOTrainer._get_per_token_logps_and_entropies = capture  # type: ignore[method-assign]
    recipe = load_recipe(preset_path("fast"), ["trainer.max_steps=1", "trainer.learning_rate=1e-12",
                                                f"trainer.batch_size={args.prompts}", f"trainer.group_size={args.group}"])
    base = resolve_model(args.base, recipe)
    task = get_task(f"toy_{args.capability}")
    items = task.generate(args.prompts * 2, "train", 7, recipe.toy)
    with tempfile.TemporaryDirectory() as tmp:
        run_stage(base, items, stage_trainer(recipe, StageSpec(name="check", tasks=[task.name])), recipe.reward,
                  Path(tmp) / "stage", stage="check", variant="check", metrics_path=Path(tmp) / "m.jsonl", seed=0,
                  dtype=recipe.model.dtype)
    return seen


def _compare(seen: dict) -> None:
    """Recompute each captured rollout alone, unpadded, and print the largest log-prob difference."""
    import torch

    model = seen["model"].eval()
    ids, mask, keep = seen["input_ids"], seen["attention_mask"], seen["logits_to_keep"]  # (B, P+C), (B, P+C), C
    pixels, grid = seen["pixel_values"], seen["image_grid_thw"]  # (sum of patches, D), (n_images, 3)
    n_images = seen["num_images"] or [0] * ids.size(0)
    first_patch = [0]
    if grid is not None:
        for n, rows in zip(n_images, torch.split(grid.prod(-1), n_images), strict=True):
            first_patch.append(first_patch[-1] + int(rows.sum()) if n else first_patch[-1])
    img_at = [0, *torch.tensor(n_images).cumsum(0).tolist()]
    worst = 0.0
    with torch.no_grad():
        for i in range(ids.size(0)):
            row = ids[i][mask[i].bool()]  # the rollout without padding
            n_new = int(mask[i, -keep:].sum())
            kwargs = {}
            if n_images[i]:
                kwargs = {"pixel_values": pixels[first_patch[i]:first_patch[i + 1]],
                          "image_grid_thw": grid[img_at[i]:img_at[i + 1]],
                          "mm_token_type_ids": (row == model.config.image_token_id).long()[None]}
            logits = model(input_ids=row[None], attention_mask=torch.ones_like(row)[None], **kwargs).logits[0]
            alone = torch.log_softmax(logits[:-1].float(), -1).gather(-1, row[1:, None])[-n_new:, 0]
            diff = (alone - seen["logps"][i, :n_new]).abs().max().item()
            worst = max(worst, diff)
            print(f"rollout {i}: {n_new} tokens, max |log-prob difference| {diff:.2e}")
    print(f"worst difference {worst:.2e}: " + ("the training forward matches" if worst < 1e-3 else "MISMATCH"))


if __name__ == "__main__":
    main()
