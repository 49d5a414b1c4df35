"""The websocket hub: pushes bus messages, screen-pops and statistics to desktops and wallboards.

    wire.py      frames on the wire (client -> server models, server -> client records)
    protocol.py  one connection's state machine (sans-I/O: text in, actions out)
    replay.py    per-stream sequence numbers and the bounded replay buffer
    streams.py   stream names, who may open which, which stream gets which message
    screenpop.py the screen-pop built from the CRM's customer view at offer time
    stats.py     queue statistics and agent rows for supervisors and wallboards
    hub.py       the asyncio hub: bus subscriber, streams, clients and their send queues
    ws.py        the aiohttp adapter (/ws) and the hub's REST routes
The wire protocol is docs/websocket.md.
"""
