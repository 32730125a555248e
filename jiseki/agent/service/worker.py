"""`jiseki agent worker`: one remote session, run by the service inside the console session.

The service starts it (as LocalSystem, in the session on the physical console) and writes the offer
to its stdin; the worker dials the gateway itself with the PC's certificate and serves the session
as the agent does in a single process (`Agent.serve_offer`), with two differences: its capture and
input follow the input desktop (Default ↔ Winlogon: lock screen and UAC prompt, `desktop.py`), and
what only the service may do goes back up its stdout (Ctrl+Alt+Del by SendSAS; the lock when
LockWorkStation fails). `link.py` has the lines. Exit 0: the session is over; 1: it failed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import IO, Any

from jiseki.config import AgentConfig
from jiseki.protocol import ProtocolError

from ..capture.base import Capture
from ..clipboard.base import HostClipboard
from ..host.base import HostControl, HostState
from ..input.base import InputSink
from ..runner import Agent
from . import link
from .desktop import DesktopApi, DesktopFollower, FollowingCapture, FollowingInput

log = logging.getLogger(__name__)


class LinkOut:
    """The worker's stdout to the service: one line at a time from any thread."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: link.FromWorker) -> None:
        data = link.encode(message)
        with self._lock:
            try:
                self._stream.write(data)
                self._stream.flush()
            except OSError:
                pass  # the service is gone: the session ends when stdin closes


class SasByService:
    """The Win32 input binding, except that Ctrl+Alt+Del is asked of the service (only a service
    may call SendSAS)."""

    def __init__(self, inner: Any, out: LinkOut) -> None:
        self._inner = inner
        self._out = out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def send_sas(self) -> bool:
        self._out.send(link.SecureAttention())
        return True


class LockByService:
    """Host control whose lock falls back to the service (which disconnects the console session:
    the sign-in screen then asks for the password as a lock would)."""

    def __init__(self, inner: HostControl, out: LinkOut) -> None:
        self._inner = inner
        self._out = out

    def state(self) -> HostState:
        return self._inner.state()

    def lock(self) -> bool:
        if self._inner.lock():
            return True
        log.warning("LockWorkStation failed in the console session: the service locks the desk")
        self._out.send(link.LockRequest())
        return True

    def set_curtain(self, on: bool) -> list[str]:
        return self._inner.set_curtain(on)


def read_offer(stdin: IO[bytes]) -> link.StartOffer:
    first = link.parse_to_worker(stdin.readline(link.MAX_LINE + 1))
    if not isinstance(first, link.StartOffer):
        raise ProtocolError("the worker's first line must be the offer")
    return first


async def serve(agent: Agent, offer: link.StartOffer, stdin: IO[bytes]) -> int:
    """Serve the offer until it is over or the service says stop (stdin's end counts as "ended")."""
    task = agent.serve(offer.offer)
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def on_stop(why: str) -> None:
        log.info("the service ends the session (%s)", why)
        if why == "replaced":
            agent.give_way()  # a newer session uses the PC: no lock at this one's end

        async def stop() -> None:
            try:
                await asyncio.wait_for(agent.close_session(), 5)
            except (TimeoutError, OSError):
                pass
            task.cancel()

        if not task.done():
            stopping.append(loop.create_task(stop()))

    def read_stdin() -> None:
        while True:
            line = stdin.readline(link.MAX_LINE + 1)
            if not line:
                loop.call_soon_threadsafe(on_stop, "ended")
                return
            try:
                message = link.parse_to_worker(line)
            except ProtocolError as exc:
                log.warning("ignored a line from the service: %s", exc)
                continue
            if isinstance(message, link.StopSession):
                loop.call_soon_threadsafe(on_stop, message.why)
                return

    threading.Thread(target=read_stdin, name="service-link", daemon=True).start()
    try:
        await task
    except asyncio.CancelledError:
        return 0  # stopped by the service: a clean end
    except Exception:
        log.exception("the session failed")
        return 1
    return 0


def worker_agent(
    config: AgentConfig,
    out: LinkOut,
    desktops: DesktopApi,
    make_capture: Callable[[], Capture],
    make_input: Callable[[Callable[[Any], Any]], InputSink],
    host: HostControl,
    make_clipboard: Callable[[], HostClipboard],
) -> Agent:
    """The single-session agent of a worker: capture and input on the input desktop, Ctrl+Alt+Del
    and a failed lock handed to the service, the capture method reported to it."""
    follower = DesktopFollower(desktops, on_switch=lambda name: out.send(link.DesktopSwitched(name)))
    return Agent(
        config,
        lambda: FollowingCapture(make_capture, follower),
        lambda: FollowingInput(make_input(lambda api: SasByService(api, out)), follower),
        host=LockByService(host, out),
        make_clipboard=make_clipboard,
        on_capture=lambda info: out.send(link.CaptureInfo(info[0] or "none", info[1] or "")),
    )
