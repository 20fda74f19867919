"""The peers benchmark kills a build past half of its progress, read from the child's stderr."""

from __future__ import annotations

from benchmarks.peers.run import progress


def test_progress_reads_build_bars_and_peer_lines_but_not_model_loading() -> None:
    stderr = (b"Loading weights:   0%|          | 0/103 [00:00<?, ?it/s]\r"
              b"Loading weights: 100%|##########| 103/103 [00:00<00:00, 9860.62it/s]\n"
              b"progress 25/752 [\n"
              b"embed eu-central:  50%|#####     | 784/1560 [00:06<00:09, 79.56chunk/s]")
    assert progress(stderr) == [(b"25", b"752"), (b"784", b"1560")]
    assert progress(stderr.split(b"\n")[0]) == []  # a model loaded, no build yet: no kill
