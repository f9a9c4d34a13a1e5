"""Experiments built on the one training loop: the demo, the poster's Table 1 and its sweeps."""
