"""Industry models: LoRA adapters trained on the project's datasets (`maas models build`),
scored against their base (`maas models eval`), and found by the registry and workers."""
