"""Progress of long work: a bar on a terminal, periodic log lines otherwise (no clock read
here: the clock is injected)."""

import io
import logging

from corrflow.io import Progress


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_without_a_terminal_a_line_at_most_every_interval_and_one_at_the_end(caplog):
    clock = FakeClock()
    log = logging.getLogger("progress-test")
    progress = Progress("fits", 5, "series", every_s=10.0, stream=io.StringIO(), clock=clock, log=log)
    with caplog.at_level(logging.INFO, logger="progress-test"):
        for step in range(5):
            clock.now += 4.0  # 4 s a step: a line after the 3rd step (12 s), none after the 4th (16 s)
            progress.advance(detail=f"s{step}")
        progress.close()
    lines = [r.getMessage() for r in caplog.records]
    # 16 s and 20 s are 4 s and 8 s after the last line: nothing until the end
    assert lines == ["fits: 3 of 5 series done (12 s); s2", "fits: 5 of 5 series done in 20.0 s"]


def test_on_a_terminal_a_bar_redrawn_in_place(caplog):
    stream = Terminal()
    progress = Progress("blocks", 4, "blocks", stream=stream, clock=FakeClock())
    progress.advance()
    progress.advance(detail="AAPL")
    progress.close()
    drawn = stream.getvalue()
    assert drawn.count("\r") == 2 and drawn.endswith("\n")
    assert "blocks [###############...............] 2/4 blocks AAPL" in drawn
