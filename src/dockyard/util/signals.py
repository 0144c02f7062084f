"""Signal names as Docker accepts them: KILL, SIGKILL, 9, and real-time signals RTMIN+n."""

import signal

from dockyard.errors import InvalidParameter


def parse_signal(text: str | int) -> int:
    if isinstance(text, int):
        number = text
    else:
        value = text.strip().upper()
        if value.isdigit():
            number = int(value)
        else:
            name = value.removeprefix("SIG")
            if name.startswith("RTMIN+") or name.startswith("RTMAX-"):
                base, _, offset = name.partition("+" if "+" in name else "-")
                if not offset.isdigit():
                    raise InvalidParameter(f"Invalid signal: {text}")
                number = (signal.SIGRTMIN + int(offset)) if base == "RTMIN" else (signal.SIGRTMAX - int(offset))
            else:
                member = getattr(signal.Signals, "SIG" + name, None)
                if member is None:
                    raise InvalidParameter(f"Invalid signal: {text}")
                number = int(member)
    if not 0 < number <= signal.SIGRTMAX:
        raise InvalidParameter(f"Invalid signal: {text}")
    return number
