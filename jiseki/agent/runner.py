"""The agent's main loop: keep the control channel to the gateway open and serve session offers.

The agent only ever dials out (no listening port on the office PC). It reconnects with
exponential backoff and jitter, so thousands of agents do not return in the same second.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import random
import socket
import ssl
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import aiohttp

from jiseki import __version__
from jiseki.config import AgentConfig
from jiseki.protocol import MAX_CONTROL_MESSAGE, MAX_VIEWER_MESSAGE, ProtocolError
from jiseki.protocol.close_codes import CloseCode
from jiseki.protocol.control import (
    AgentHello,
    AgentState,
    NetInterface,
    Offer,
    Ping,
    Sender,
    Wake,
    WakeDone,
    parse,
    serialise,
)
from jiseki.trust.tls import client_ssl_context
from jiseki.wol import relay_allowed, send_magic

from .capture.base import Capture
from .clipboard.base import HostClipboard
from .encode.codecs import warm_up
from .host.base import HostControl, HostState, NoHostControl
from .input.base import InputSink
from .netif import network_interfaces_for
from .policy import AgentPolicy, parse_agent_policy
from .session import DisplaySession

log = logging.getLogger(__name__)

PING_INTERVAL = 15.0
STATE_INTERVAL = 5.0  # how often the signed-in user and the lock state are looked at
RESUME_GRACE = 60.0  # how long the agent dials again after its data channel broke
RESUME_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
# Close codes the gateway uses when it ends the session (or moves it): no point dialling again.
_ENDED_BY_GATEWAY = frozenset(
    {
        CloseCode.NORMAL,
        CloseCode.GOING_AWAY,
        CloseCode.SERVICE_RESTART,
        CloseCode.RESUMED_ELSEWHERE,
        CloseCode.COULD_NOT_RESUME,
        CloseCode.ENDED,
    }
)
BACKOFF_FIRST = 10.0  # the first retry lands anywhere in 10 s: 4,300 agents come back ~430 per second
BACKOFF_MAX = 120.0


def backoff_delays(first: float = BACKOFF_FIRST, cap: float = BACKOFF_MAX) -> Any:
    """Full-jitter exponential backoff: uniform(0.5, min(cap, first * 2**n)) seconds."""
    n = 0
    while True:
        yield random.uniform(0.5, min(cap, first * 2**n))
        n += 1


CaptureInfo = tuple[str | None, str | None]  # the method ("dxgi", "gdi", "x11") and why not a better one


def describe_capture(capture: Capture) -> CaptureInfo:
    return capture.method, getattr(capture, "fallback_reason", None)


def probe_capture(make_capture: Callable[[], Capture]) -> CaptureInfo:
    """Open the capture once to learn its method (for the hello); a failure is reported, not raised:
    the agent still connects, and the console shows why this PC cannot be seen."""
    try:
        capture = make_capture()
    except Exception as exc:  # any backend failure: the PC stays reachable for the console
        log.warning("screen capture unavailable: %s", exc)
        return "none", f"{type(exc).__name__}: {exc}"
    try:
        return describe_capture(capture)
    finally:
        capture.close()


# Serves one offer (the previous session's task, if any, must end first): in this process by default,
# in a worker process in the console session when the Windows service runs the agent.
OfferRunner = Callable[[Offer, "asyncio.Task[None] | None"], Coroutine[Any, Any, None]]


Interfaces = Callable[[], Sequence[NetInterface]]


def read_interfaces(interfaces: Interfaces) -> tuple[NetInterface, ...] | None:
    """The PC's interfaces for the hello; None (left out) when the platform cannot tell."""
    try:
        return tuple(interfaces())[:16]
    except Exception as exc:  # psutil missing or failing: the agent still connects
        log.warning("network interfaces unavailable: %s", exc)
        return None


def answer_wake(message: Wake, own: Sequence[NetInterface]) -> WakeDone:
    """Relay a magic packet, but only to the broadcast address of one of this PC's own subnets."""
    if not relay_allowed(message.broadcast, own):
        log.warning("refused to wake %s through %s: not a subnet of this PC", message.macs, message.broadcast)
        return WakeDone(message.id, 0, "refused")
    try:
        sent = send_magic(message.macs, message.broadcast)
    except OSError as exc:
        log.warning("wake through %s failed: %s", message.broadcast, exc)
        return WakeDone(message.id, 0, "failed")
    log.info("woke %s through %s", ", ".join(message.macs), message.broadcast)
    return WakeDone(message.id, sent)


def hello_message(
    state: HostState,
    capture: CaptureInfo = (None, None),
    service: str = "process",
    network: tuple[NetInterface, ...] | None = None,
) -> AgentHello:
    """The first control message: this PC, the agent's version, how it runs, its network interfaces
    and the desk's state (what the platform cannot tell is left out)."""
    return AgentHello(
        hostname=socket.gethostname(),
        os=f"{platform.system()} {platform.release()}",
        version=__version__,
        user=state.user,
        locked=state.locked,
        capture=capture[0],
        capture_note=capture[1],
        service=service,
        network=network,
    )


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        make_capture: Callable[[], Capture],
        make_input: Callable[[], InputSink],
        host: HostControl | None = None,
        make_clipboard: Callable[[], HostClipboard | None] = lambda: None,
        *,
        run_offer: OfferRunner | None = None,
        service: str = "process",
        on_capture: Callable[[CaptureInfo], None] | None = None,
        interfaces: Interfaces | None = None,
    ) -> None:
        """`run_offer` replaces the in-process `serve_offer` (the Windows service hands offers to a
        worker); `service` is reported in the hello; `on_capture` hears of each session's capture
        method (a worker passes it on to its service)."""
        self.config = config
        self._run_offer: OfferRunner = run_offer or self.serve_offer
        self._in_process = run_offer is None  # else the screen is a worker's: its capture comes per session
        self.service = service
        self._on_capture = on_capture
        if interfaces is None:  # the platform's own way (the Windows service passes none)
            interfaces = network_interfaces_for()
        self.interfaces = interfaces
        self._network: tuple[NetInterface, ...] = ()  # as reported in the last hello
        self._control_ws: aiohttp.ClientWebSocketResponse | None = None
        self._wakes: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._stopping = False  # close_session() was called: the agent (or its worker) is ending
        self.make_capture = make_capture
        self.make_input = make_input
        self.host: HostControl = host or NoHostControl()
        self._state_check = asyncio.Event()
        self.make_clipboard = make_clipboard
        self.ssl: ssl.SSLContext = client_ssl_context(
            config.cert_dir / "ca.crt", config.cert_dir / "agent.crt", config.cert_dir / "agent.key"
        )
        self._session_task: asyncio.Task[None] | None = None
        self._capture: CaptureInfo | None = None  # learnt at start, updated by each session's capture
        self._data_ws: aiohttp.ClientWebSocketResponse | None = None

    async def close_session(self) -> None:
        """Stopping: close the data channel with "going away" first, so the gateway ends the session
        at once instead of holding it for a resume that will not come."""
        self._stopping = True  # the data channel must not be dialled again after this close
        ws = self._data_ws
        if ws is not None and not ws.closed:
            await ws.close(code=1001, message=b"agent stopping")

    def serve(self, offer: Offer) -> asyncio.Task[None]:
        """Serve one offer in this process as the current session (a worker's whole job)."""
        self._session_task = asyncio.create_task(self.serve_offer(offer))
        return self._session_task

    def give_way(self) -> None:
        """A newer session uses the PC now: the current one ends without locking it."""
        self._session_task = None

    def report_capture(self, capture: CaptureInfo) -> None:
        """A session's capture method: reported to the gateway if it differs from the last one."""
        if capture != self._capture:
            self._capture = capture
            self._state_check.set()
        if self._on_capture is not None:
            self._on_capture(capture)

    def check_state(self) -> None:
        """Look at the desk's user and lock state now (not at the next interval)."""
        self._state_check.set()

    async def run_forever(self) -> None:
        delays = backoff_delays()
        if self._in_process:
            await asyncio.to_thread(warm_up)
            self._capture = await asyncio.to_thread(probe_capture, self.make_capture)
            log.info("screen capture: %s%s", self._capture[0], f" ({self._capture[1]})" if self._capture[1] else "")
        async with aiohttp.ClientSession() as http:
            self._http = http
            try:
                while True:
                    try:
                        await self._control(http)
                        delays = backoff_delays()  # a clean session resets the backoff
                    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                        log.warning("gateway unreachable: %s", exc)
                    delay = next(delays)
                    log.info("reconnecting in %.1f s", delay)
                    await asyncio.sleep(delay)
            finally:
                # Stopping (SIGTERM): end the session cleanly, so the gateway ends it at once instead
                # of waiting for a resume that will not come; curtain off, lock as the policy says.
                task = self._session_task
                if task is not None and not task.done():
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)

    async def _control(self, http: aiohttp.ClientSession) -> None:
        url = f"{self.config.gateway_url}/agent/control"
        async with http.ws_connect(
            url,
            ssl=self.ssl,
            heartbeat=30.0,
            compress=0,
            max_msg_size=MAX_CONTROL_MESSAGE,
            proxy=self.config.proxy_url or None,
        ) as ws:
            log.info("connected to %s", self.config.gateway_url)
            state = await asyncio.to_thread(self.host.state)
            capture = self._capture or (None, None)
            network = await asyncio.to_thread(read_interfaces, self.interfaces)
            self._network = network or ()
            await ws.send_str(serialise(hello_message(state, capture, self.service, network)))
            keepalive = asyncio.create_task(self._keepalive(ws, state, capture))
            self._control_ws = ws
            try:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    self._on_control(msg.data)
            finally:
                self._control_ws = None
                keepalive.cancel()

    async def _keepalive(
        self, ws: aiohttp.ClientWebSocketResponse, reported: HostState, capture_reported: CaptureInfo
    ) -> None:
        """Ping now and then; report the desk's user and lock state when they change (at once after
        the session's own lock), and the capture method when a session's differs."""
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + PING_INTERVAL
        while True:
            try:
                await asyncio.wait_for(self._state_check.wait(), STATE_INTERVAL)
            except TimeoutError:
                pass
            self._state_check.clear()
            state = await asyncio.to_thread(self.host.state)
            if state != reported:
                await ws.send_str(serialise(AgentState(user=state.user, locked=state.locked)))
                reported = state
            capture = self._capture or (None, None)
            if capture != capture_reported and capture[0] is not None:
                await ws.send_str(serialise(AgentState(capture=capture[0], capture_note=capture[1] or "")))
                capture_reported = capture
            if loop.time() >= next_ping:
                await ws.send_str(serialise(Ping()))
                next_ping = loop.time() + PING_INTERVAL

    def _on_control(self, text: str) -> None:
        try:
            message = parse(text, Sender.GATEWAY)
        except ProtocolError as exc:
            log.warning("ignored a control message: %s", exc)
            return
        if isinstance(message, Wake):
            task = asyncio.create_task(self._wake(message))
            self._wakes.add(task)
            task.add_done_callback(self._wakes.discard)
            return
        if not isinstance(message, Offer):
            return  # a pong, or a message this version does not know
        previous = self._session_task
        if previous is not None and not previous.done():
            previous.cancel()  # one session at a time: the newest one wins
        else:
            previous = None
        self._session_task = asyncio.create_task(self._run_offer(message, previous))

    async def _wake(self, message: Wake) -> None:
        own = await asyncio.to_thread(read_interfaces, self.interfaces) or self._network
        done = await asyncio.to_thread(answer_wake, message, own)
        ws = self._control_ws
        if ws is not None and not ws.closed:
            await ws.send_str(serialise(done))

    async def serve_offer(self, offer: Offer, previous: asyncio.Task[None] | None = None) -> None:
        """Run the offered session in this process: capture, input, curtain, lock at the end."""
        if self._http is None:
            async with aiohttp.ClientSession() as http:
                self._http = http
                try:
                    return await self.serve_offer(offer, previous)
                finally:
                    self._http = None
        http = self._http
        sid, ticket = offer.session, offer.ticket
        policy = parse_agent_policy(offer.policy)
        node_url = offer.url.rstrip("/") or None
        if previous is not None:
            # The session this one replaces ends first (its keys released, its curtain down), so that
            # its end does not take down this one's curtain or lock the PC under it.
            await asyncio.gather(previous, return_exceptions=True)
        # The offer names the gateway node that holds the viewer; the data channel goes straight there
        # (the TLS check against the pinned CA still decides whether it is a real node).
        url = f"{node_url or self.config.gateway_url}/sessions/{sid}/agent"
        capture = self.make_capture()
        self.report_capture(describe_capture(capture))  # e.g. DXGI came back after a fallback
        sink = self.make_input()
        clipboard = self._clipboard(policy)  # one per session: resumes keep it
        if policy.curtain:
            log.info(
                "curtain on: %s", ", ".join(await asyncio.to_thread(self.host.set_curtain, True)) or "nothing possible"
            )
        try:
            await self._run_data_channel(http, url, sid, ticket, policy, capture, sink, clipboard)
        finally:
            sink.close()
            capture.close()
            if clipboard is not None:
                clipboard.close()
            if policy.curtain:
                await asyncio.to_thread(self.host.set_curtain, False)
            replaced = self._session_task is not asyncio.current_task()  # a newer session uses the PC now
            if policy.lock_on_end and not replaced:
                await asyncio.to_thread(self.host.lock)
                self._state_check.set()
            log.info("session %s ended%s", sid, " (replaced by a newer one)" if replaced else "")

    async def _run_data_channel(
        self,
        http: aiohttp.ClientSession,
        url: str,
        sid: str,
        ticket: str,
        policy: AgentPolicy,
        capture: Capture,
        sink: InputSink,
        clipboard: HostClipboard | None,
    ) -> None:
        """Serve the session; if the link breaks (not closed by the gateway), dial again with the same
        ticket while the gateway keeps the session open, so the staff member's work goes on."""
        delays = iter(RESUME_DELAYS)
        lost_at: float | None = None
        while True:
            session = DisplaySession(
                capture,
                sink,
                max_fps=self.config.max_fps,
                max_unacked=self.config.max_unacked,
                jpeg_quality=self.config.jpeg_quality,
                policy=policy,
                clipboard=clipboard,
            )
            session.prime()  # the first picture is encoded while the channel is dialled
            opened = False
            try:
                async with http.ws_connect(
                    url,
                    params={"ticket": ticket},
                    ssl=self.ssl,
                    compress=0,
                    heartbeat=30.0,
                    max_msg_size=MAX_VIEWER_MESSAGE,
                    proxy=self.config.proxy_url or None,
                ) as ws:
                    self._data_ws = ws
                    opened = True
                    log.info("session %s %s", sid, "resumed" if lost_at else "started")
                    lost_at = None
                    delays = iter(RESUME_DELAYS)
                    await session.run(ws)
                    if ws.close_code in _ENDED_BY_GATEWAY or self._stopping:
                        return
            except aiohttp.WSServerHandshakeError as exc:
                log.info("session %s is over (%s)", sid, exc.status)
                return
            except (aiohttp.ClientError, OSError) as exc:
                log.warning("session %s link failed: %s", sid, exc)
            finally:
                if not opened:
                    session.discard()
            if self._stopping:
                return
            lost_at = lost_at or time.monotonic()
            if time.monotonic() - lost_at > RESUME_GRACE:
                return
            await asyncio.sleep(next(delays, RESUME_DELAYS[-1]))

    def _clipboard(self, policy: AgentPolicy) -> HostClipboard | None:
        if not (policy.clipboard_to_host or policy.clipboard_to_terminal):
            return None
        try:
            return self.make_clipboard()
        except RuntimeError as exc:
            log.warning("clipboard unavailable: %s", exc)
            return None
