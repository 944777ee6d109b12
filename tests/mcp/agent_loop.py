"""A real MCP client (the official Python SDK) drives `git wal mcp` over stdio through one agent's
loop: prime -> claim_next -> sandbox_create -> sandbox_exec -> sandbox_commit with Fixes: ->
sandbox_land. Prints one JSON object with what it saw; the Rust test checks the repository."""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client


async def main(repo: str, actor: str) -> None:
    env = dict(os.environ)
    env.pop("GRIT_ACTOR", None)
    server = StdioServerParameters(command="git", args=["wal", "mcp"], cwd=repo, env=env)
    seen: dict = {"progress": []}
    async with stdio_client(server) as (read, write):
        info = types.Implementation(name=actor, version="1.0")
        async with ClientSession(read, write, client_info=info) as session:
            init = await session.initialize()
            seen["server"] = init.server_info.name
            tools = await session.list_tools()
            seen["tools"] = sorted(t.name for t in tools.tools)

            prime = await session.get_prompt("prime")
            seen["prime"] = prime.messages[0].content.text

            claimed = await session.call_tool("claim_next", {})
            assert not claimed.is_error, claimed.content
            issue = claimed.structured_content["id"]
            seen["issue"] = issue

            made = await session.call_tool(
                "sandbox_create", {"name": "fix-1", "issue": issue, "locks": ["path:fix.txt"]}
            )
            assert not made.is_error, made.content

            async def progress(done: float, total: float | None, message: str | None) -> None:
                seen["progress"].append(message)

            ran = await session.call_tool(
                "sandbox_exec",
                {"name": "fix-1", "command": ["sh", "-c", "echo fixed > fix.txt && echo wrote it"]},
                progress_callback=progress,
            )
            assert not ran.is_error, ran.content
            seen["exit_code"] = ran.structured_content["exit_code"]
            seen["stdout"] = ran.structured_content["stdout"]

            diff = await session.call_tool("sandbox_diff", {"name": "fix-1"})
            seen["diff_files"] = [f["path"] for f in diff.structured_content["files"]]

            committed = await session.call_tool(
                "sandbox_commit", {"name": "fix-1", "message": f"Fix it\n\nFixes: {issue}"}
            )
            assert not committed.is_error, committed.content

            landed = await session.call_tool("sandbox_land", {"name": "fix-1", "remove": True})
            assert not landed.is_error, landed.content
            seen["closed"] = landed.structured_content["closed"]

            shown = await session.call_tool("show", {"id": issue})
            seen["state"] = shown.structured_content["state"]

            bad = await session.call_tool("sandbox_create", {"name": "../escape"})
            seen["bad_name_is_error"] = bad.is_error
            seen["bad_name_text"] = bad.content[0].text
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
