"""The one exception type the CLI shows to users as a plain message, without a traceback."""


class ProbesError(Exception):
    """A user-facing error: bad input, missing file, unreachable model. Say where and what to do."""


class InputError(ProbesError):
    """Malformed input data; the message names the file, the line and the sentence."""

    def __init__(self, message: str, path: str = "", line: int = 0, sent_id: str = ""):
        where = path
        if line:
            where = f"{where}:{line}" if where else f"line {line}"
        if sent_id:
            where = f"{where} (sentence {sent_id})" if where else f"sentence {sent_id}"
        super().__init__(f"{where}: {message}" if where else message)
        self.path, self.line, self.sent_id, self.reason = path, line, sent_id, message
