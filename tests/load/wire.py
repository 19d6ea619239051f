"""A Streamlit visitor without a browser: speaks the app server's WebSocket protocol directly.

The load test's light client. A browser session costs its machine about 0.5 GB and a second of
CPU to load and run 8 MB of JavaScript, so twenty of them on the server's own two cores measure
the clients, not the server. A WireSession sends the same messages the Streamlit frontend sends
(BackMsg.rerun_script with the page, query string and widget states; fragment auto-reruns on
the interval the server asks for) and reads the same replies (ForwardMsg deltas), so the server
does exactly the work it does for a real visitor, while the client costs next to nothing.

It knows only what the load test needs: widgets by label, the value of a number input, a button
press, the latest Plotly spec under each chart key, the progress text, the URL's query string.
Behind a balancer it keeps cookies as a browser does (the affinity cookie among them: `fetch` a
page first, as the browser loads index.html before it opens the WebSocket) and notes which
process answered (the X-Served-By header deploy/haproxy.py adds). A dropped connection makes
`wait` raise ConnectionLost instead of waiting out its timeout.
"""

import asyncio
import contextlib
import hashlib
import json
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY  # a full run, to its end


class ConnectionLost(ConnectionError):
    """The server (or the balancer in front of it) closed the session's WebSocket."""


def curve_digest(spec: str) -> str:
    """A digest of a Plotly figure's traces (its data, not its layout)."""
    data = json.dumps(json.loads(spec)["data"], sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def chart_key(element_id: str) -> str:
    """The `key=` a chart was given: Streamlit ends a keyed element's id with "-<key>"."""
    return element_id.rsplit("-", 1)[-1]


@dataclass
class WireSession:
    """One visitor's WebSocket session. Use as `async with WireSession(base) as s:`."""

    base: str  # http://host:port
    widgets: dict[str, str] = field(default_factory=dict)  # label -> widget id
    url_keys: dict[str, str] = field(default_factory=dict)  # label -> its URL key (bind=)
    states: dict[str, WidgetState] = field(default_factory=dict)  # values this visitor set
    charts: dict[str, str] = field(default_factory=dict)  # chart key -> latest Plotly JSON
    first_chart_at: float | None = None  # perf_counter when a chart first arrived
    progress: str = ""  # text of the latest st.progress
    settled_progress: str = ""  # its text when the latest full run finished
    query: str = ""  # the URL's query string as the server last set it
    errors: list[str] = field(default_factory=list)  # exception boxes and st.error texts
    page_hash: str = ""
    cookies: dict[str, str] = field(default_factory=dict)  # name -> value, as a browser keeps
    served_by: str = ""  # X-Served-By of the WebSocket's handshake ("" without a balancer)
    sent_at: float = 0.0  # perf_counter when the latest `fetch` went out
    answered_at: float = 0.0  # and when its answer had come
    _runs: int = 0  # full script runs finished
    _asked: int = 0  # _runs when the latest full run was asked for
    _ws: object = None
    _reader: asyncio.Task | None = None
    _timers: dict = field(default_factory=dict)  # fragment id -> (interval, task)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> "WireSession":
        url = self.base.replace("http", "ws", 1) + "/_stcore/stream"
        headers = {"Cookie": self._cookie_header()} if self.cookies else None
        self._ws = await websockets.connect(
            url, subprotocols=["streamlit"], max_size=None, additional_headers=headers
        )
        self._take_headers(self._ws.response.headers)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc) -> None:
        self._stop_timers()
        self._reader.cancel()
        if self._reader.done() and not self._reader.cancelled():
            self._reader.exception()  # a dropped connection: noted in errors already
        await self._ws.close()

    @property
    def lost(self) -> bool:
        """True once the WebSocket has closed under the session."""
        return self._reader is not None and self._reader.done()

    # --- cookies, as a browser keeps them --------------------------------------------------
    async def fetch(self, path: str) -> str:
        """GET base + path with this session's cookies, keep the ones set; the X-Served-By."""
        request = urllib.request.Request(self.base + path)
        if self.cookies:
            request.add_header("Cookie", self._cookie_header())

        def get():
            self.sent_at = time.perf_counter()  # in the thread: the queue for one is not counted
            with urllib.request.urlopen(request, timeout=30) as r:
                r.read()
            self.answered_at = time.perf_counter()
            return r.headers

        headers = await asyncio.to_thread(get)
        return self._take_headers(headers)

    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _take_headers(self, headers) -> str:
        for line in headers.get_all("Set-Cookie") or []:
            name, _, value = line.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        self.served_by = headers.get("X-Served-By", "")
        return self.served_by

    # --- what the visitor does -------------------------------------------------------------
    async def open(self, page: str, query: str = "") -> None:
        """Load `page` (its URL path) with `query`, as typing the address does."""
        self.query = query
        await self._rerun(page_name=page)

    async def set_number(self, label: str, value: int) -> None:
        """Type `value` into the number input labelled `label` (a rerun follows)."""
        wid = self.widgets[label]
        self.states[wid] = WidgetState(id=wid, int_value=value)
        if label in self.url_keys:  # the frontend writes a bound widget's value into the URL
            self._set_query(self.url_keys[label], str(value))
        await self._rerun()

    async def click(self, label: str) -> None:
        """Press the button labelled `label`."""
        wid = self.widgets[label]
        await self._rerun(extra=[WidgetState(id=wid, trigger_value=True)])

    async def wait(self, predicate, timeout: float) -> None:
        """Until predicate(self) is true, checked after every message (TimeoutError after)."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if self.lost:
                raise ConnectionLost(f"the connection closed; progress {self.progress!r}")
            self._changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"waited {timeout:.0f} s; progress {self.progress!r}")
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass

    async def run_done(self, timeout: float) -> None:
        """Until a full script run has finished since the latest one was asked for (a run cut
        short by a rerun does not count; fragment runs do not count)."""
        await self.wait(lambda s: s._runs > s._asked, timeout)

    def _set_query(self, key: str, value: str) -> None:
        pairs = [(k, v) for k, v in urllib.parse.parse_qsl(self.query) if k != key]
        self.query = urllib.parse.urlencode([*pairs, (key, value)])

    # --- the protocol ----------------------------------------------------------------------
    async def _rerun(self, page_name="", fragment_id="", extra=(), auto=False) -> None:
        msg = BackMsg()
        client = msg.rerun_script
        client.query_string = self.query
        client.page_script_hash = self.page_hash
        client.page_name = page_name
        client.fragment_id = fragment_id
        client.is_auto_rerun = auto
        client.widget_states.widgets.extend([*self.states.values(), *extra])
        if not fragment_id:
            self._asked = self._runs
        try:
            await self._ws.send(msg.SerializeToString())
        except websockets.ConnectionClosed as err:
            raise ConnectionLost(str(err)) from err

    # The frontend's rules (Streamlit 1.67 App.tsx): an auto_rerun message starts a timer for
    # its fragment unless one with that interval runs; it fires whether or not a run is going
    # on; stop_auto_rerun ends the named timers; a full run's new_session ends them all.
    async def _auto_rerun(self, interval: float, fragment_id: str) -> None:
        while not self.lost:
            await asyncio.sleep(interval)
            with contextlib.suppress(ConnectionLost):  # the reader has noted it
                await self._rerun(fragment_id=fragment_id, auto=True)

    def _start_timer(self, interval: float, fragment_id: str) -> None:
        if fragment_id in self._timers and self._timers[fragment_id][0] == interval:
            return
        self._stop_timers([fragment_id])
        task = asyncio.create_task(self._auto_rerun(interval, fragment_id))
        self._timers[fragment_id] = (interval, task)

    def _stop_timers(self, fragment_ids=None) -> None:
        for fid in list(self._timers if fragment_ids is None else fragment_ids):
            if fid in self._timers:
                self._timers.pop(fid)[1].cancel()

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                self._take(msg)
                self._changed.set()
        except Exception as err:  # a dead reader would look like a stalled server
            self.errors.append(f"client: {type(err).__name__}: {err}")
            raise
        finally:  # wake `wait`, which then sees the connection lost
            self._changed.set()

    def _take(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session" and not msg.metadata.run.fragment_ids:
            self._stop_timers()
        elif kind == "navigation":  # st.navigation names the page that ran
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "script_finished" and msg.script_finished == FINISHED:
            self._runs += 1
            self.settled_progress = self.progress
        elif kind == "auto_rerun":
            self._start_timer(msg.auto_rerun.interval, msg.auto_rerun.fragment_id)
        elif kind == "stop_auto_rerun":
            self._stop_timers(msg.stop_auto_rerun.fragment_ids)
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element)

    def _element(self, element) -> None:
        kind = element.WhichOneof("type")
        body = getattr(element, kind)
        if kind == "plotly_chart":
            self.charts[chart_key(body.id)] = body.spec
            self.first_chart_at = self.first_chart_at or time.perf_counter()
        elif kind == "progress":
            self.progress = body.text
        elif kind == "exception":
            self.errors.append(f"exception: {body.type}: {body.message}")
        elif kind == "alert" and body.format == body.ERROR:
            self.errors.append(f"error: {body.body}")
        elif getattr(body, "label", "") and getattr(body, "id", ""):
            self.widgets[body.label] = body.id
            if getattr(body, "query_param_key", ""):
                self.url_keys[body.label] = body.query_param_key
