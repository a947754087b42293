"""Drives an MCP server through the official MCP Python SDK (package `mcp`).

Usage: python sdk_client.py CALLS_JSON SERVER_COMMAND [SERVER_ARG]...

Starts the server over stdio (mcp.client.stdio.stdio_client), initializes an
mcp.ClientSession, pings, lists the tools, then makes the calls CALLS_JSON lists
(`[[tool, arguments], ...]`), one after the other. Prints one JSON object describing
what the SDK saw (results as their wire JSON), for tests/mcp_sdk.rs to check.
"""

import asyncio
import json
import sys
from importlib.metadata import version

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

def wire(model):
    """A pydantic model of the SDK as the JSON it stands for."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def main(calls_json, command, args):
    report = {"sdk": version("mcp")}
    server = StdioServerParameters(command=command, args=args)
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            report["initialize"] = wire(await session.initialize())
            await session.send_ping()
            report["ping"] = True
            report["tools"] = wire(await session.list_tools())["tools"]
            calls = []
            for name, arguments in json.loads(calls_json):
                try:
                    result = await session.call_tool(name, arguments)
                    calls.append({"tool": name, "result": wire(result)})
                except MCPError as e:
                    calls.append({"tool": name, "error": {"code": e.code, "message": str(e)}})
            report["calls"] = calls
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
