"""`service logs` across nodes: a manager's broker (agent/logbroker.py) on the memory store, the
nodes' side played through its handlers as the swarm port would call them."""

from __future__ import annotations

import asyncio

import pytest

from dockyard.cluster.agent.logbroker import PREFIX, PUBLISH, SUBSCRIPTIONS, LogBroker
from dockyard.cluster.agent.logs import LogQuery, record_to_wire
from dockyard.cluster.channel import Caller, Handlers
from dockyard.cluster.store import MemoryStore
from dockyard.errors import NotFound
from dockyard.util.jsonlog import LogRecord

LINE = LogRecord("stdout", b"tick-1\n", "2026-12-06T20:00:00.000000001Z")


def test_nodes_see_the_subscriptions_naming_their_tasks_and_publish_to_the_asking_manager() -> None:
    store = MemoryStore()
    handlers = Handlers()

    async def scenario() -> None:
        broker = LogBroker(handlers, lambda: store, lambda: "10.0.0.1:2377")
        sub = await broker.subscribe({"w1": ["t1"], "w2": ["t2"]}, LogQuery(tail=1))
        seen = handlers.stream(SUBSCRIPTIONS, Caller("w1", "worker"), {})
        (record,) = next(seen)["Subscriptions"]
        seen.close()
        assert (record["ID"], record["Manager"], record["Query"]["tail"]) == (sub.id, "10.0.0.1:2377", 1)
        other = handlers.stream(SUBSCRIPTIONS, Caller("w3", "worker"), {})
        assert next(other) == {"Subscriptions": []}  # no task of w3's is asked for
        other.close()

        def publish(node: str, **body) -> dict:
            return handlers.call(PUBLISH, Caller(node, "worker"), {"SubscriptionID": sub.id, **body})

        await asyncio.to_thread(publish, "w1", TaskID="t1", Records=[record_to_wire(LINE)])
        batch = await sub.next(1)
        assert batch is not None and (batch.node_id, batch.task_id, batch.records) == ("w1", "t1", [LINE])
        await asyncio.to_thread(publish, "w1", Done=True)
        await sub.next(1)
        assert sub.pending == {"w2"}
        with pytest.raises(NotFound):
            publish("w1", TaskID="t1", Records=[])  # done already: not heard any more
        with pytest.raises(NotFound):
            publish("w3", TaskID="t3", Records=[])
        assert await sub.next(0.01) is None  # w2 is silent
        await sub.close()
        assert store.range(PREFIX) == []  # the lease went, and the record with it
        with pytest.raises(NotFound, match="log subscription"):
            publish("w2", Done=True)

    asyncio.run(scenario())
