"""`jiseki agent selftest`: what an IT department runs on a desk PC before roll-out."""
