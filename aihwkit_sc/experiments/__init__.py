"""Experiments built on the one training loop: the demo, (later) the poster's Table 1 and sweeps."""
