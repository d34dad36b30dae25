"""Learning ABR policies: the trainer (environments arrive with the rl extra)."""
