"""Training, fine-tuning and evaluation around the `ssd` model."""
