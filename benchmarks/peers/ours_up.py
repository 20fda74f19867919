"""Ours with `aifactory up` running: see benchmarks/peers/ours.py."""

from benchmarks.peers.ours import main

if __name__ == "__main__":
    main(up=True)
