"""The training loop: data adapters, compiled objective and metrics, epoch orchestration."""
