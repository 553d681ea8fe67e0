"""The store away in the middle of a start-up step: the step runs again, the service starts.

A restart of the document store while a service starts (compose starts everything at
once; the chaos run restarts the store at random) used to end the process: the start-up
steps (companies' directory, matching's read model, media's first site build) called the
store once, and a lost connection failed the start. Here the test service reaches the
store through a plug that the test pulls while the step runs.
"""

from __future__ import annotations

from pathlib import Path

from pymongo.asynchronous.database import AsyncDatabase

from harness.plug import Plug
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from harness.waiting import eventually
from testsvc.app import START_UP_STEP

#: Where the test service's package lives.
HERE = Path(__file__).resolve().parent


async def test_a_start_up_step_cut_off_from_the_store_runs_again_and_the_service_starts(
    stack: SessionStack, testsvc_db: AsyncDatabase
) -> None:
    runs = testsvc_db["start_up"]
    await runs.delete_many({})
    with Plug.to(stack.mongo_url) as plug:
        env = stack.service_env("testsvc", DIKO_MONGO_URL=plug.url(stack.mongo_url))
        process = ServiceProcess(
            "testsvc-start-up", "testsvc", None, {**env, START_UP_STEP: "1"}, pythonpath=(HERE,)
        )
        process.launch()
        try:

            async def step_running() -> bool:
                return (await runs.find_one({"_id": "runs"}) or {}).get("writes", 0) > 0

            await eventually(step_running, timeout=90, interval=0.1, what="the step running")
            plug.pull()

            async def store_away_reported() -> bool:
                stage = process.get("/readyz").json().get("stage", "")
                return stage.startswith("running the start-up callbacks: ")

            await eventually(store_away_reported, timeout=60, interval=0.1, what="the error")
            assert process.process is not None
            assert process.process.poll() is None  # still starting, not ended
            plug.put_in()
            await runs.insert_one({"_id": "go"})
            process.wait_ready(timeout=90)

            counted = await runs.find_one({"_id": "runs"})
            assert counted is not None
            assert counted["began"] >= 2
            assert counted["ended"] == 1
            assert "waiting for the database" in process.log_of_last_start()
        finally:
            process.stop()
