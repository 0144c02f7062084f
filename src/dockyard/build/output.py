"""The classic builder's stream: JSON messages ({"stream": text}, {"aux": {...}}) in Dockerfile order.

Independent stages build at the same time; the stage at the head of the order writes through,
the others keep their messages until every stage before them is done, so the text reads as if
the stages had run one after another.
"""

from __future__ import annotations

from collections.abc import Callable

Emit = Callable[[dict], None]


class StageOutput:
    def __init__(self, sequencer: Sequencer, index: int) -> None:
        self._sequencer = sequencer
        self.index = index
        self.pending: list[dict] = []
        self.finished = False

    def message(self, value: dict) -> None:
        if self._sequencer.head == self.index:
            self._sequencer.emit(value)
        else:
            self.pending.append(value)

    def stream(self, text: str) -> None:
        self.message({"stream": text})


class Sequencer:
    def __init__(self, emit: Emit, order: list[int], quiet: bool = False) -> None:
        self._emit = emit
        self.quiet = quiet
        self.order = order
        self.position = 0
        self.outputs = {i: StageOutput(self, i) for i in order}
        self.held: list[dict] = []  # -q: the text is kept, and shown only if the build fails

    @property
    def head(self) -> int | None:
        return self.order[self.position] if self.position < len(self.order) else None

    def emit(self, value: dict) -> None:
        if self.quiet and "stream" in value:
            self.held.append(value)
            return
        self._emit(value)

    def failed(self) -> None:
        """Everything kept back (other stages' text, -q's text) goes out before the error."""
        for index in self.order[self.position:]:
            for value in self.outputs[index].pending:
                self.emit(value)
            self.outputs[index].pending.clear()
        for value in self.held:
            self._emit(value)
        self.held.clear()

    def done(self, index: int) -> None:
        """Stage ``index`` finished; stages that finished while waiting for it flush in order."""
        self.outputs[index].finished = True
        while self.head is not None and self.outputs[self.head].finished:
            self.position += 1
            if self.head is not None:
                nxt = self.outputs[self.head]
                for value in nxt.pending:
                    self.emit(value)
                nxt.pending.clear()

    def final(self, value: dict) -> None:
        self.emit(value)
