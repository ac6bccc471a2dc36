"""The one error base class of ssmd and the process exit codes it maps to.

On the lowest floor (it imports nothing) so that every layer, from config loading up, raises errors that every
entry point turns into the same thing: one line on stderr naming what to fix, no traceback, and the exit code of
the error's class (:func:`ssmd.runtime.process.run_service`). The codes are the deployment guide's: 0 done or
stopped cleanly, 1 failed at run time (restart me; or the data has problems), 2 bad input the operator must fix
(a config file, a flag, an environment variable, a server it names that is not there).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class SsmdError(Exception):
    """An error with the exit code it ends the process with; ``str()`` is the whole message, one line."""

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(SsmdError):
    """Bad input the operator must fix (config file, flag, environment variable, an unreachable server): exit 2."""

    exit_code = EXIT_USAGE
