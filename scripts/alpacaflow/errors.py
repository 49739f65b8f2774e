"""Exceptions shown to users as one line: bad input, and a job stopped by a signal."""

#: Exit status of a step stopped by SIGTERM (128 + 15, the shell's convention).
SIGTERM_EXIT = 143


class AlpacaflowError(Exception):
    """A problem with the user's input or configuration.

    The command-line entry point prints it as a single ``error: ...`` line and
    exits with status 1, without a traceback.
    """

    exit_status = 1


class Terminated(BaseException):  # noqa: N818  (named after the signal's effect)
    """Raised in the main thread when the process receives SIGTERM (preemption, time limit).

    A BaseException, as KeyboardInterrupt is: a library's ``except Exception`` (alpaca_eval's completion
    parser logs and swallows any) must not eat the signal and let the job run on as if it had not come.
    """


class Stopped(AlpacaflowError):
    """A step stopped early (SIGTERM, exhausted API quota) after saving its finished work."""

    def __init__(self, message: str, exit_status: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def saved_work(saved: int, total: int, what: str, where: object) -> str:
    """The end of a `Stopped` line: how much finished work is saved where."""
    return f"{saved}/{total} {what} saved in {where}; rerun to resume"


def stopped_by_signal(exc: Terminated, saved: int, total: int, what: str, where: object) -> Stopped:
    """`Stopped` for SIGTERM: the saved-work line and exit status 143."""
    return Stopped(f"stopped by {exc} with {saved_work(saved, total, what, where)}", SIGTERM_EXIT)
