"""Runs one pipeline handler written in Python for @pipeline-invocation/handler-python.

Standard library only, Python 3.9+. The Node side starts ``python pipeline_runner.py`` with:

* the run's context as JSON in ``PIPELINE_PYTHON_CONTEXT`` (or, when large, in the file named
  by ``PIPELINE_PYTHON_CONTEXT_FILE``);
* file descriptor 3 open for writing: the message channel, one JSON object per line, each with
  ``"v": 1`` and a ``"type"`` (opened, log, progress, metric, closed). stdout and stderr stay
  the handler's own and become log lines of the run;
* stdin carrying control lines from the host: ``{"type": "cancel"}`` sets ``ctx.cancelled``.

``--check module.path:function [...]`` imports each entry point and reports whether it is
callable (used by the conformance kit), without calling anything.
"""

import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback

PROTOCOL_VERSION = 1
TRACEBACK_FRAMES = 8


class Channel:
    """The message pipe back to the host (fd 3); thread-safe, never raises."""

    def __init__(self, fd):
        self._lock = threading.Lock()
        try:
            self._file = os.fdopen(fd, "w", buffering=1, encoding="utf-8")
        except OSError:
            self._file = None

    def send(self, kind, **fields):
        message = {"v": PROTOCOL_VERSION, "type": kind}
        message.update(fields)
        line = json.dumps(message, default=_default, allow_nan=False) + "\n"
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(line)
                self._file.flush()
            except (OSError, ValueError):
                self._file = None  # the host is gone: keep running, say nothing more


def _default(value):
    import datetime  # only for results that hold dates or decimals: not on every run's start
    import decimal

    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError("%s is not JSON serializable" % type(value).__name__)


class ChannelLogHandler(logging.Handler):
    """Sends each log record to the host as a ``log`` message (it becomes a run log line)."""

    def __init__(self, channel):
        super().__init__(logging.DEBUG)
        self._channel = channel

    def emit(self, record):
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self._channel.send("log", level=record.levelname.lower(), message=message, logger=record.name)
        except Exception:  # a log line must never break the handler
            self.handleError(record)


class Context:
    """What the handler receives as ``context`` (also answers Lambda's names)."""

    def __init__(self, data, channel):
        self._channel = channel
        self._cancelled = threading.Event()
        self.run_id = data.get("run_id")
        self.service = data.get("service")
        self.run_type = data.get("run_type")
        self.request_metadata = data.get("request_metadata") or {}
        self.previous_run = data.get("previous_run")
        self._deadline_ms = data.get("deadline_ms")
        self.log = logging.getLogger("pipeline.%s" % self.service)
        self.log.setLevel(logging.DEBUG)
        self.log.propagate = False
        self.log.handlers = [ChannelLogHandler(channel)]
        # Lambda's names, so an existing lambda_handler that reads them keeps working
        self.aws_request_id = self.run_id
        self.function_name = self.service

    @property
    def cancelled(self):
        """True once the run is being cancelled or timed out: stop soon and return."""
        return self._cancelled.is_set()

    def remaining_ms(self):
        """Milliseconds left before the run's timeout, or None when it has none."""
        if self._deadline_ms is None:
            return None
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def get_remaining_time_in_millis(self):
        remaining = self.remaining_ms()
        return 2**31 - 1 if remaining is None else remaining

    def progress(self, done, total):
        """Report progress: ``done`` of ``total`` units."""
        self._channel.send("progress", done=_number(done, "done"), total=_number(total, "total"))

    def metric(self, name, value):
        """Report a numeric metric of the run."""
        if not isinstance(name, str) or not name:
            raise TypeError("metric name must be a non-empty string")
        self._channel.send("metric", name=name, value=_number(value, name))


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number, not %s" % (what, type(value).__name__))
    return value


def _watch_control(ctx):
    """Reads the host's control lines from stdin (a daemon thread)."""
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("type") == "cancel":
            ctx._cancelled.set()


def _load_context():
    path = os.environ.pop("PIPELINE_PYTHON_CONTEXT_FILE", None)
    if path:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    return json.loads(os.environ.pop("PIPELINE_PYTHON_CONTEXT", "{}"))


def _resolve(entry):
    module_name, _, function_name = entry.partition(":")
    module = importlib.import_module(module_name)
    target = module
    for part in (function_name or "lambda_handler").split("."):
        target = getattr(target, part)
    return target


def _own_frame(filename):
    """A frame of this runner or of the import machinery: not the user's code."""
    if filename.startswith("<frozen importlib"):
        return True
    path = os.path.abspath(filename)
    return path == os.path.abspath(__file__) or path == os.path.abspath(importlib.__file__)


def _exception(error, phase):
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not _own_frame(f.filename)]
    if isinstance(error, SyntaxError) and error.filename:
        # the line that does not parse is no frame of the traceback: name it as the last one
        text = (error.text or "").strip() or None
        frames.append(traceback.FrameSummary(error.filename, error.lineno, "<module>", line=text))
    frames = frames[-TRACEBACK_FRAMES:]
    return {
        "type": type(error).__qualname__,
        "module": type(error).__module__,
        "message": str(error),
        "phase": phase,
        "traceback": "".join(traceback.format_list(frames)).rstrip(),
        "frames": [{"file": f.filename, "line": f.lineno, "function": f.name} for f in frames],
    }


def _as_dict(value):
    """The handler's result as a dict: a dict, a pydantic model, a dataclass or a plain object."""
    if isinstance(value, dict):
        return value
    for method in ("model_dump", "dict"):
        dump = getattr(value, method, None)
        if callable(dump):
            try:
                dumped = dump()
            except TypeError:
                continue
            if isinstance(dumped, dict):
                return dumped
    try:
        import dataclasses

        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.asdict(value)
    except ImportError:
        pass
    if hasattr(value, "__dict__"):
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    return None


# RunExecutionMetadata's own fields: the record already holds them, they are not metadata.
RECORD_FIELDS = ("service", "timestamp", "metadata_table_name")


def _result(value):
    """The handler's return value as {status_code, body, metadata}; raises ValueError naming the field."""
    data = _as_dict(value)
    if data is None:
        raise ValueError(
            "the handler returned %s, not a dict with status_code and body" % type(value).__name__
        )
    data = dict(data)
    status = data.pop("status_code", data.pop("statusCode", None))
    if isinstance(status, bool) or not isinstance(status, int):
        raise ValueError("result field 'status_code' must be an integer, not %r" % (status,))
    body = data.pop("body", "")
    if not isinstance(body, str):
        try:
            body = json.dumps(body, default=_default, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError("result field 'body' is not JSON: %s" % error)
    metadata = data.pop("metadata", None)
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            raise ValueError("result field 'metadata' is a string that is not JSON")
    for field in RECORD_FIELDS:
        data.pop(field, None)
    extra = {}
    if isinstance(metadata, dict):
        extra.update(metadata)
    elif metadata is not None:
        data["metadata"] = metadata
    extra.update(data)
    for key, item in extra.items():
        try:
            json.dumps(item, default=_default, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError("result field %r is not JSON: %s" % (key, error))
    return {"status_code": status, "body": body, "metadata": extra}


def run():
    channel = Channel(3)
    data = _load_context()
    ctx = Context(data, channel)
    # as on Lambda, the handler's own loggers reach the run's log: logging.getLogger(__name__)
    # records go to the root logger, whose level (WARNING unless the handler sets it) applies
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(ChannelLogHandler(channel))
    threading.Thread(target=_watch_control, args=(ctx,), daemon=True, name="pipeline-control").start()
    entry = data.get("entry", "")
    channel.send("opened", pid=os.getpid(), python=sys.version.split()[0], entry=entry)
    try:
        handler = _resolve(entry)
    except BaseException as error:  # noqa: B902 - an import may raise anything, even SystemExit
        channel.send("closed", exception=_exception(error, "import"))
        return 0
    if not callable(handler):
        channel.send(
            "closed",
            exception={"type": "TypeError", "message": "%s is not callable" % entry, "phase": "import",
                       "traceback": "", "frames": []},
        )
        return 0
    try:
        value = handler(event=data.get("payload"), context=ctx)
    except BaseException as error:  # KeyboardInterrupt and SystemExit included: the host decides
        channel.send("closed", exception=_exception(error, "handler"), cancelled=ctx.cancelled)
        return 0
    try:
        result = _result(value)
    except ValueError as error:
        channel.send(
            "closed",
            exception={"type": "InvalidResult", "message": str(error), "phase": "result",
                       "traceback": "", "frames": []},
        )
        return 0
    channel.send("closed", result=result, cancelled=ctx.cancelled)
    return 0


def check(entries):
    """Import each entry point; print one JSON line per entry: importable, callable, error."""
    for entry in entries:
        report = {"entry": entry}
        try:
            report["callable"] = callable(_resolve(entry))
            report["importable"] = True
        except BaseException as error:  # noqa: B902
            report["importable"] = False
            report["error"] = "%s: %s" % (type(error).__name__, error)
        print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2:]))
    sys.exit(run())
