"""The shim's exit line reaches the daemon even when the shim's close resets the control socket."""

import asyncio
import json
import socket

from dockyard.runtime.process import ControlSender, read_exit


def test_exit_line_survives_a_reset_that_arrives_with_it() -> None:
    async def scenario() -> dict:
        daemon_end, shim_end = socket.socketpair()
        reader, writer = await asyncio.open_unix_connection(sock=daemon_end)
        writer.write(b'{"close_stdin": true}\n')  # the daemon's last message, never read by the shim
        await writer.drain()
        shim_end.sendall(json.dumps({"exit": 3, "finished": 1}).encode() + b"\n")
        shim_end.close()  # unread input: the kernel resets the daemon's end instead of ending it
        for _ in range(5):  # let the loop take in the line and the reset before anyone reads
            await asyncio.sleep(0)
        try:
            return await read_exit(reader)
        finally:
            writer.close()

    assert asyncio.run(scenario()).get("exit") == 3


def test_no_exit_line_is_an_empty_answer() -> None:
    async def scenario() -> dict:
        daemon_end, shim_end = socket.socketpair()
        reader, writer = await asyncio.open_unix_connection(sock=daemon_end)
        shim_end.sendall(b'{"pid": 7}\n')
        shim_end.close()
        try:
            return await read_exit(reader)
        finally:
            writer.close()

    assert asyncio.run(scenario()) == {}


def test_a_control_message_to_an_exited_shim_keeps_its_exit_line() -> None:
    async def scenario() -> dict:
        daemon_end, shim_end = socket.socketpair()
        control = ControlSender(daemon_end)
        reader, writer = await asyncio.open_unix_connection(sock=daemon_end)
        shim_end.sendall(json.dumps({"exit": 0, "finished": 1}).encode() + b"\n")
        shim_end.close()  # the shim has exited; its exit line waits in our queue
        control.send({"close_stdin": True})  # EPIPE: must not close our reading side
        for _ in range(5):
            await asyncio.sleep(0)
        try:
            return await read_exit(reader)
        finally:
            writer.close()
            control.close()

    assert asyncio.run(scenario()).get("exit") == 0
