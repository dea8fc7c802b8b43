"""Benchmarks of the pack's own overhead against the simulator on loopback: `python -m bench`.

One module per figure; `env` holds what they share. See bench/__main__.py for the table.
"""
