"""Learned ABR controllers: Pensieve's pretrained agent (read from TensorFlow's checkpoint
format without TensorFlow) and policy files (docs/learned.md)."""
